/* A small builder of ONNX models over the C structs that protoc-c generates at build time from
 * the onnx.proto schema of Debian's libonnx-dev (mk/build.mk: build/gen/onnx.pb-c.{c,h}).
 * The encoding is protobuf-c's; this file only fills the messages and writes the file.
 *
 * Every string, array and message the builder makes is owned by the graph and released by
 * og_free. Tensor names are copied. Float tensors are stored in TensorProto.float_data
 * (protobuf-c packs them little-endian whatever the host's order).
 *
 * The batch dimension of the graph's inputs and outputs is symbolic ("N"): a dims entry of
 * OG_BATCH stands for it.
 */
#ifndef ONNX_GRAPH_H
#define ONNX_GRAPH_H

#include <stdint.h>

#define OG_BATCH (-1)

typedef struct onnx_graph onnx_graph;
typedef struct Onnx__NodeProto onnx_node;

onnx_graph *og_new(const char *graph_name);
void og_free(onnx_graph *g);

/* A name made from a printf format, owned by g. */
const char *og_name(onnx_graph *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Constant tensors (initializers); the data is copied. Return the tensor's name. */
const char *og_init_float(onnx_graph *g, const char *name, const float *data, const int64_t *dims,
                          int ndims);
const char *og_init_int64(onnx_graph *g, const char *name, const int64_t *data, const int64_t *dims,
                          int ndims);
/* A float scalar of shape [1] (broadcasts against any tensor). */
const char *og_init_scalar(onnx_graph *g, const char *name, float v);

/* A node op(inputs) -> output; inputs[k] may be "" for an omitted optional input. */
onnx_node *og_node(onnx_graph *g, const char *op, const char *node_name, const char *output,
                   int ninputs, const char *const *inputs);
void og_attr_int(onnx_graph *g, onnx_node *n, const char *name, int64_t v);
void og_attr_float(onnx_graph *g, onnx_node *n, const char *name, float v);
void og_attr_ints(onnx_graph *g, onnx_node *n, const char *name, const int64_t *v, int count);

/* Graph inputs and outputs: float tensors of the given dims (OG_BATCH: the symbolic batch). */
void og_input(onnx_graph *g, const char *name, const int64_t *dims, int ndims);
void og_output(onnx_graph *g, const char *name, const int64_t *dims, int ndims);

/* ModelProto.metadata_props (key, value), in the order given. */
void og_meta(onnx_graph *g, const char *key, const char *value);
void og_doc(onnx_graph *g, const char *doc_string);

/* Serialises the model (IR version ir, default-domain opset) and writes it to path
 * atomically (a temporary file in the same folder, then rename). 1, or 0 with err. */
int og_write(onnx_graph *g, const char *path, int ir, int opset, const char *producer,
             const char *producer_version, char *err, int errlen);

#endif
