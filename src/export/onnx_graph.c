/* ONNX model builder over protobuf-c's generated messages. See onnx_graph.h. */
#include "onnx_graph.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnx.pb-c.h"

/* No op this project emits has more attributes than this. */
#define OG_MAX_ATTRS 8

/* A growable array of message pointers; the GraphProto/ModelProto fields point into it. */
typedef struct {
    void **v;
    size_t n, cap;
} ptr_vec;

struct onnx_graph {
    Onnx__GraphProto graph;
    Onnx__ModelProto model;
    ptr_vec nodes, inits, inputs, outputs, meta;
    ptr_vec arena;          /* every other allocation, freed by og_free */
};

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        fprintf(stderr, "darknet: error: export: out of memory\n");
        exit(1);
    }
    return p;
}

static void vec_push(ptr_vec *v, void *p)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 16;
        v->v = realloc(v->v, v->cap * sizeof(void *));
        if (!v->v) {
            fprintf(stderr, "darknet: error: export: out of memory\n");
            exit(1);
        }
    }
    v->v[v->n++] = p;
}

static void *arena(onnx_graph *g, size_t n, size_t size)
{
    void *p = xcalloc(n, size);
    vec_push(&g->arena, p);
    return p;
}

static char *arena_str(onnx_graph *g, const char *s)
{
    char *d = arena(g, strlen(s) + 1, 1);
    memcpy(d, s, strlen(s) + 1);
    return d;
}

onnx_graph *og_new(const char *graph_name)
{
    onnx_graph *g = xcalloc(1, sizeof(onnx_graph));
    Onnx__GraphProto gi = ONNX__GRAPH_PROTO__INIT;
    Onnx__ModelProto mi = ONNX__MODEL_PROTO__INIT;
    g->graph = gi;
    g->model = mi;
    g->graph.name = arena_str(g, graph_name);
    return g;
}

void og_free(onnx_graph *g)
{
    size_t i;
    if (!g) return;
    for (i = 0; i < g->arena.n; ++i) free(g->arena.v[i]);
    free(g->arena.v);
    free(g->nodes.v);
    free(g->inits.v);
    free(g->inputs.v);
    free(g->outputs.v);
    free(g->meta.v);
    free(g);
}

const char *og_name(onnx_graph *g, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return arena_str(g, buf);
}

static Onnx__TensorProto *new_tensor(onnx_graph *g, const char *name, int type,
                                     const int64_t *dims, int ndims)
{
    Onnx__TensorProto ti = ONNX__TENSOR_PROTO__INIT;
    Onnx__TensorProto *t = arena(g, 1, sizeof(*t));
    *t = ti;
    t->name = arena_str(g, name);
    t->has_data_type = 1;
    t->data_type = type;
    t->n_dims = ndims;
    t->dims = arena(g, ndims, sizeof(int64_t));
    if (ndims) memcpy(t->dims, dims, ndims * sizeof(int64_t));
    vec_push(&g->inits, t);
    return t;
}

/* n values of size bytes from data, copied into the graph's arena. */
static void *arena_copy(onnx_graph *g, const void *data, size_t n, size_t size)
{
    void *p = arena(g, n, size);
    memcpy(p, data, n * size);
    return p;
}

static size_t elements(const int64_t *dims, int ndims)
{
    size_t n = 1;
    int k;
    for (k = 0; k < ndims; ++k) n *= (size_t)dims[k];
    return n;
}

const char *og_init_float(onnx_graph *g, const char *name, const float *data, const int64_t *dims,
                          int ndims)
{
    Onnx__TensorProto *t = new_tensor(g, name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, dims, ndims);
    t->n_float_data = elements(dims, ndims);
    t->float_data = arena_copy(g, data, t->n_float_data, sizeof(float));
    return t->name;
}

const char *og_init_int64(onnx_graph *g, const char *name, const int64_t *data, const int64_t *dims,
                          int ndims)
{
    Onnx__TensorProto *t = new_tensor(g, name, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, dims, ndims);
    t->n_int64_data = elements(dims, ndims);
    t->int64_data = arena_copy(g, data, t->n_int64_data, sizeof(int64_t));
    return t->name;
}

const char *og_init_scalar(onnx_graph *g, const char *name, float v)
{
    const int64_t one = 1;
    return og_init_float(g, name, &v, &one, 1);
}

onnx_node *og_node(onnx_graph *g, const char *op, const char *node_name, const char *output,
                   int ninputs, const char *const *inputs)
{
    Onnx__NodeProto ni = ONNX__NODE_PROTO__INIT;
    Onnx__NodeProto *n = arena(g, 1, sizeof(*n));
    int k;
    *n = ni;
    n->op_type = arena_str(g, op);
    n->name = arena_str(g, node_name);
    n->n_input = ninputs;
    n->input = arena(g, ninputs, sizeof(char *));
    for (k = 0; k < ninputs; ++k) n->input[k] = arena_str(g, inputs[k]);
    n->n_output = 1;
    n->output = arena(g, 1, sizeof(char *));
    n->output[0] = arena_str(g, output);
    n->attribute = arena(g, OG_MAX_ATTRS, sizeof(Onnx__AttributeProto *));
    vec_push(&g->nodes, n);
    return n;
}

static Onnx__AttributeProto *new_attr(onnx_graph *g, onnx_node *n, const char *name, int type)
{
    Onnx__AttributeProto ai = ONNX__ATTRIBUTE_PROTO__INIT;
    Onnx__AttributeProto *a = arena(g, 1, sizeof(*a));
    if (n->n_attribute == OG_MAX_ATTRS) {
        fprintf(stderr, "darknet: error: export: node %s has more than %d attributes\n", n->name, OG_MAX_ATTRS);
        exit(1);
    }
    *a = ai;
    a->name = arena_str(g, name);
    a->has_type = 1;
    a->type = type;
    n->attribute[n->n_attribute++] = a;
    return a;
}

void og_attr_int(onnx_graph *g, onnx_node *n, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = new_attr(g, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = v;
}

void og_attr_float(onnx_graph *g, onnx_node *n, const char *name, float v)
{
    Onnx__AttributeProto *a = new_attr(g, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    a->has_f = 1;
    a->f = v;
}

void og_attr_ints(onnx_graph *g, onnx_node *n, const char *name, const int64_t *v, int count)
{
    Onnx__AttributeProto *a = new_attr(g, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    a->n_ints = count;
    a->ints = arena(g, count, sizeof(int64_t));
    memcpy(a->ints, v, count * sizeof(int64_t));
}

static Onnx__ValueInfoProto *value_info(onnx_graph *g, const char *name, const int64_t *dims, int ndims)
{
    Onnx__ValueInfoProto vi = ONNX__VALUE_INFO_PROTO__INIT;
    Onnx__TypeProto tpi = ONNX__TYPE_PROTO__INIT;
    Onnx__TypeProto__Tensor tti = ONNX__TYPE_PROTO__TENSOR__INIT;
    Onnx__TensorShapeProto si = ONNX__TENSOR_SHAPE_PROTO__INIT;
    Onnx__ValueInfoProto *v = arena(g, 1, sizeof(*v));
    Onnx__TypeProto *tp = arena(g, 1, sizeof(*tp));
    Onnx__TypeProto__Tensor *tt = arena(g, 1, sizeof(*tt));
    Onnx__TensorShapeProto *s = arena(g, 1, sizeof(*s));
    int k;
    *v = vi; *tp = tpi; *tt = tti; *s = si;
    v->name = arena_str(g, name);
    v->type = tp;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = s;
    s->n_dim = ndims;
    s->dim = arena(g, ndims, sizeof(Onnx__TensorShapeProto__Dimension *));
    for (k = 0; k < ndims; ++k) {
        Onnx__TensorShapeProto__Dimension di = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT;
        Onnx__TensorShapeProto__Dimension *d = arena(g, 1, sizeof(*d));
        *d = di;
        if (dims[k] == OG_BATCH) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = arena_str(g, "N");
        } else {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = dims[k];
        }
        s->dim[k] = d;
    }
    return v;
}

void og_input(onnx_graph *g, const char *name, const int64_t *dims, int ndims)
{
    vec_push(&g->inputs, value_info(g, name, dims, ndims));
}

void og_output(onnx_graph *g, const char *name, const int64_t *dims, int ndims)
{
    vec_push(&g->outputs, value_info(g, name, dims, ndims));
}

void og_meta(onnx_graph *g, const char *key, const char *value)
{
    Onnx__StringStringEntryProto ei = ONNX__STRING_STRING_ENTRY_PROTO__INIT;
    Onnx__StringStringEntryProto *e = arena(g, 1, sizeof(*e));
    *e = ei;
    e->key = arena_str(g, key);
    e->value = arena_str(g, value);
    vec_push(&g->meta, e);
}

void og_doc(onnx_graph *g, const char *doc_string)
{
    g->model.doc_string = arena_str(g, doc_string);
}

int og_write(onnx_graph *g, const char *path, int ir, int opset, const char *producer,
             const char *producer_version, char *err, int errlen)
{
    Onnx__OperatorSetIdProto oi = ONNX__OPERATOR_SET_ID_PROTO__INIT;
    Onnx__OperatorSetIdProto *os = arena(g, 1, sizeof(*os));
    Onnx__OperatorSetIdProto **osv = arena(g, 1, sizeof(*osv));
    size_t size, written;
    uint8_t *buf;
    char *tmp;
    FILE *fp;
    int fd, ok;
    mode_t mask;

    *os = oi;
    os->domain = arena_str(g, "");
    os->has_version = 1;
    os->version = opset;
    osv[0] = os;
    g->graph.n_node = g->nodes.n;
    g->graph.node = (Onnx__NodeProto **)g->nodes.v;
    g->graph.n_initializer = g->inits.n;
    g->graph.initializer = (Onnx__TensorProto **)g->inits.v;
    g->graph.n_input = g->inputs.n;
    g->graph.input = (Onnx__ValueInfoProto **)g->inputs.v;
    g->graph.n_output = g->outputs.n;
    g->graph.output = (Onnx__ValueInfoProto **)g->outputs.v;
    g->model.has_ir_version = 1;
    g->model.ir_version = ir;
    g->model.n_opset_import = 1;
    g->model.opset_import = osv;
    g->model.producer_name = arena_str(g, producer);
    g->model.producer_version = arena_str(g, producer_version);
    g->model.graph = &g->graph;
    g->model.n_metadata_props = g->meta.n;
    g->model.metadata_props = (Onnx__StringStringEntryProto **)g->meta.v;

    size = onnx__model_proto__get_packed_size(&g->model);
    buf = malloc(size ? size : 1);
    if (!buf) {
        snprintf(err, errlen, "out of memory for a %zu-byte model", size);
        return 0;
    }
    onnx__model_proto__pack(&g->model, buf);

    tmp = malloc(strlen(path) + 16);
    sprintf(tmp, "%s.tmpXXXXXX", path);
    fd = mkstemp(tmp);
    if (fd < 0 || !(fp = fdopen(fd, "wb"))) {
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        if (fd >= 0) close(fd);
        free(tmp);
        free(buf);
        return 0;
    }
    /* mkstemp makes the file 0600; the model gets the mode of any new file. */
    mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    written = fwrite(buf, 1, size, fp);
    ok = written == size && fflush(fp) == 0 && fsync(fileno(fp)) == 0;
    ok = (fclose(fp) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        free(buf);
        return 0;
    }
    free(tmp);
    free(buf);
    return 1;
}
