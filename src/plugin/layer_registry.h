/* The plugin mechanism: layer types that live outside Darknet's source.
 *
 * Darknet's cfg parser (patched by darknet-patches/0004) looks every section name it does
 * not know up in the one table of layer_registry.c. A registered type supplies:
 *
 *   parse         build the layer from its cfg options (make_X_layer); it sets forward,
 *                 backward and update (and their GPU twins when it has them) on the layer
 *   free          release what the layer owns beyond Darknet's standard buffers, which
 *                 free_layer frees as for any layer (may be 0)
 *   resize        adapt to a new input size (may be 0: resizing is then an error)
 *   save_weights  write its parameters after the stock layers' in the weights file (may be 0)
 *   load_weights  read them back, in the same order (may be 0)
 *
 * A GPU build runs every cfg: a type without GPU twins gets a fallback that copies its input
 * from the device, runs the CPU code, and copies its output (and deltas) back.
 *
 * A layer's type is asked one way only: plugin_layer_is(l, PLUGIN_TYPE_X), with the ids of
 * plugin_type_id below (never by comparing parse pointers, names, or reused Darknet fields).
 *
 * Adding a layer type: write src/layers/X_layer.c and .h (its maths as kernels in
 * ricasso_kernels.c, see src/README.md), add its id before PLUGIN_TYPE_COUNT below and its
 * row to the table in layer_registry.c (the build fails when they differ in number), and a
 * gradient check in tests/layers/test_X.c (tests/plugin/test_registry.c fails without one).
 * Nothing in darknet-patches changes.
 */
#ifndef LAYER_REGISTRY_H
#define LAYER_REGISTRY_H

#include <stdio.h>
#include "darknet.h"

/* What the parser knows when it reaches a section. */
typedef struct plugin_params {
    const char *file;   /* cfg path, for messages */
    const char *type;   /* section name as written, with brackets: "[cosine]" */
    int index;          /* this layer's index in net->layers */
    int batch;          /* rows per network batch (batch / subdivisions) */
    int inputs;         /* outputs of the previous layer, per row */
    int h, w, c;        /* shape of the previous layer's output (0 when not an image) */
    int time_steps;
    network *net;       /* layers 0..index-1 are already built */
} plugin_params;

/* The registered types; each id is its row of the table in layer_registry.c. */
typedef enum plugin_type_id {
    PLUGIN_TYPE_COSINE,
    PLUGIN_TYPE_MIXDATA,
    PLUGIN_TYPE_EXPERT_SOFTMAX,
    PLUGIN_TYPE_CBCL,
    PLUGIN_TYPE_RCL,
    PLUGIN_TYPE_COUNT
} plugin_type_id;

typedef struct plugin_type {
    const char *name;   /* section name without brackets */
    layer (*parse)(list *options, plugin_params params);
    void (*free)(layer *l);
    void (*resize)(layer *l, network *net, int w, int h);
    void (*save_weights)(layer l, FILE *fp);
    void (*load_weights)(layer l, FILE *fp);

    /* Optional training hooks (0 when unused). */
    const char *loss_name;  /* set for layers whose l.cost is a training loss: printed each
                               iteration under this name */
    int loss_only;          /* an extra objective, never the network's output layer */
    /* Called once before training with the class of each of the n training images
       (path_class [n]) and the per-class counts (counts [classes]). */
    void (*set_train_stats)(layer l, network *net, const int *path_class, int n,
                            const int *counts, int classes);
    /* May install its own batch loader into args (type PLUGIN_DATA); returns 1 if it did. */
    int (*setup_loader)(layer l, network *net, load_args *args);
} plugin_type;

/* A classifier subcommand provided by this project: darknet classifier NAME ... */
typedef struct plugin_command {
    const char *name;
    const char *usage;
    int (*run)(int argc, char **argv);   /* returns the process exit status */
} plugin_command;

/* Called by the patched parser, weights I/O, free_layer and resize_network. */
int  plugin_parse_section(const char *section, list *options, plugin_params params, layer *out);
void plugin_print_types(FILE *out);
void plugin_free_layer(layer *l);
void plugin_resize_layer(layer *l, network *net, int w, int h);
void plugin_save_weights(layer l, FILE *fp);
void plugin_load_weights(layer l, FILE *fp);

/* Called by the patched classifier training. */
int  plugin_is_loss_only(layer l);
int  plugin_network_wants_train_stats(network *net);
void plugin_network_set_train_stats(network *net, const int *path_class, int n,
                                    const int *counts, int classes);
void plugin_network_setup_loader(network *net, load_args *args);
void plugin_network_print_losses(network *net, FILE *out);
/* darknet classifier NAME ...: runs NAME if it is one of ours (then exits with its
   status) and returns 0 otherwise. */
int  plugin_run_classifier_command(int argc, char **argv);

/* 1 when l is a plugin layer of type id, else 0 (stock layers, other plugin types). */
int plugin_layer_is(const layer *l, plugin_type_id id);

/* The registry's tables, for tests and tools. */
int plugin_type_count(void);
const plugin_type *plugin_type_at(int i);
const plugin_type *plugin_find(const char *name);
int plugin_command_count(void);
const plugin_command *plugin_command_at(int i);

#endif
