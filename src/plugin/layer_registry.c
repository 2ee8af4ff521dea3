/* The one table of plugin layer types, and the glue Darknet calls (see layer_registry.h). */
#include "layer_registry.h"

#include <stdlib.h>
#include <string.h>

#include "cbcl_layer.h"
#include "cosine_layer.h"
#include "expert_softmax_layer.h"
#include "export_command.h"
#include "grouped_command.h"
#include "mixdata_layer.h"
#include "ood_commands.h"
#include "rcl_layer.h"
#ifdef GPU
#include "cuda.h"
#endif

/* One row per layer type, at the index of its id (plugin_type_id in layer_registry.h). The
 * check below fails the build when the rows and the ids disagree in number, so a
 * half-added type cannot slip in (tests/plugin/test_registry.c checks that no row is empty).
 * Registration is explicit on purpose: self-registering static initialisers vanish from
 * static libraries. */
static const plugin_type plugin_types[] = {
    [PLUGIN_TYPE_COSINE] = {.name = "cosine", .parse = parse_cosine_layer, .free = free_cosine_layer,
     .save_weights = save_cosine_weights, .load_weights = load_cosine_weights},
    [PLUGIN_TYPE_MIXDATA] = {.name = "mixdata", .parse = parse_mixdata_layer, .free = free_mixdata_layer,
     .set_train_stats = mixdata_set_train_stats, .setup_loader = mixdata_setup_loader},
    [PLUGIN_TYPE_EXPERT_SOFTMAX] = {.name = "expert_softmax", .parse = parse_expert_softmax_layer,
     .free = free_expert_softmax_layer, .loss_name = "NOD",
     .set_train_stats = expert_softmax_set_train_stats},
    [PLUGIN_TYPE_CBCL] = {.name = "cbcl", .parse = parse_cbcl_layer, .free = free_cbcl_layer,
     .save_weights = save_cbcl_weights, .load_weights = load_cbcl_weights,
     .loss_name = "CBCL", .loss_only = 1},
    [PLUGIN_TYPE_RCL] = {.name = "rcl", .parse = parse_rcl_layer, .free = free_rcl_layer,
     .loss_name = "RCL", .loss_only = 1},
};
_Static_assert(sizeof(plugin_types) / sizeof(plugin_types[0]) == PLUGIN_TYPE_COUNT,
               "plugin_types needs one row per plugin_type_id");

/* Classifier subcommands of this project (darknet classifier NAME ...). Keep
 * PLUGIN_COMMAND_COUNT equal to the number of rows: the check below fails the build
 * otherwise (no sentinel row: the lookup is bounded by the count). */
#define PLUGIN_COMMAND_COUNT 5
static const plugin_command plugin_commands[] = {
    {"ood", OOD_USAGE_OOD, ood_command_ood},
    {"predict", OOD_USAGE_PREDICT, ood_command_predict},
    {"demo", OOD_USAGE_DEMO, ood_command_demo},
    {"export", EXPORT_USAGE, export_command},
    {"regroup", GROUPED_USAGE, grouped_command},
};
_Static_assert(sizeof(plugin_commands) / sizeof(plugin_commands[0]) == PLUGIN_COMMAND_COUNT,
               "PLUGIN_COMMAND_COUNT does not match the rows of plugin_commands");

int plugin_type_count(void) { return PLUGIN_TYPE_COUNT; }

const plugin_type *plugin_type_at(int i)
{
    return (i >= 0 && i < PLUGIN_TYPE_COUNT) ? &plugin_types[i] : 0;
}

int plugin_layer_is(const layer *l, plugin_type_id id)
{
    const int i = (int)id;
    return l->type == PLUGIN && i >= 0 && i < PLUGIN_TYPE_COUNT && l->plugin == &plugin_types[i];
}

int plugin_command_count(void) { return PLUGIN_COMMAND_COUNT; }

const plugin_command *plugin_command_at(int i)
{
    return (i >= 0 && i < PLUGIN_COMMAND_COUNT) ? &plugin_commands[i] : 0;
}

const plugin_type *plugin_find(const char *name)
{
    int i;
    for (i = 0; i < PLUGIN_TYPE_COUNT; ++i)
        if (strcmp(plugin_types[i].name, name) == 0) return &plugin_types[i];
    return 0;
}

void plugin_print_types(FILE *out)
{
    int i;
    for (i = 0; i < PLUGIN_TYPE_COUNT; ++i) fprintf(out, " [%s]", plugin_types[i].name);
}

#ifdef GPU
/* CPU fallback for plugin types without GPU twins: the previous layer's output is copied to
 * the host, the CPU code runs on host buffers, and the results go back to the device. The
 * layer's parameters then live on the host only, which is where save/load read them. */
static void fallback_forward_gpu(layer l, network net)
{
    cuda_pull_array(net.input_gpu, net.input, l.inputs * l.batch);
    l.forward(l, net);
    cuda_push_array(l.output_gpu, l.output, l.outputs * l.batch);
}

static void fallback_backward_gpu(layer l, network net)
{
    cuda_pull_array(l.delta_gpu, l.delta, l.outputs * l.batch);
    if (net.delta_gpu) cuda_pull_array(net.delta_gpu, net.delta, l.inputs * l.batch);
    l.backward(l, net);
    if (net.delta_gpu) cuda_push_array(net.delta_gpu, net.delta, l.inputs * l.batch);
}

static void fallback_update_gpu(layer l, update_args a)
{
    l.update(l, a);
}
#endif

int plugin_parse_section(const char *section, list *options, plugin_params params, layer *out)
{
    char name[128];
    size_t n = strlen(section);
    const plugin_type *t;
    if (n < 3 || n - 2 >= sizeof(name) || section[0] != '[' || section[n - 1] != ']') return 0;
    memcpy(name, section + 1, n - 2);
    name[n - 2] = 0;
    t = plugin_find(name);
    if (!t) return 0;

    *out = t->parse(options, params);
    out->type = PLUGIN;
    out->plugin = t;
#ifdef GPU
    if (gpu_index >= 0 && !out->forward_gpu) {
        if (!out->output_gpu && out->output)
            out->output_gpu = cuda_make_array(out->output, out->outputs * out->batch);
        if (!out->delta_gpu && out->delta)
            out->delta_gpu = cuda_make_array(out->delta, out->outputs * out->batch);
        out->forward_gpu = fallback_forward_gpu;
        out->backward_gpu = fallback_backward_gpu;
        if (out->update) out->update_gpu = fallback_update_gpu;
    }
#endif
    return 1;
}

void plugin_free_layer(layer *l)
{
    if (l->plugin && l->plugin->free) l->plugin->free(l);
    l->plugin_state = 0;
}

void plugin_resize_layer(layer *l, network *net, int w, int h)
{
    if (!l->plugin->resize) {
        fprintf(stderr, "darknet: error: layer type [%s] cannot be resized\n", l->plugin->name);
        exit(1);
    }
    l->plugin->resize(l, net, w, h);
}

void plugin_save_weights(layer l, FILE *fp)
{
    if (l.plugin->save_weights) l.plugin->save_weights(l, fp);
}

void plugin_load_weights(layer l, FILE *fp)
{
    if (l.plugin->load_weights) l.plugin->load_weights(l, fp);
}

int plugin_is_loss_only(layer l)
{
    return l.plugin && l.plugin->loss_only;
}

int plugin_network_wants_train_stats(network *net)
{
    int i;
    for (i = 0; i < net->n; ++i) {
        const layer *l = &net->layers[i];
        if (l->type == PLUGIN && (l->plugin->set_train_stats || l->plugin->setup_loader)) return 1;
    }
    return 0;
}

void plugin_network_set_train_stats(network *net, const int *path_class, int n,
                                    const int *counts, int classes)
{
    int i;
    for (i = 0; i < net->n; ++i) {
        layer l = net->layers[i];
        if (l.type == PLUGIN && l.plugin->set_train_stats)
            l.plugin->set_train_stats(l, net, path_class, n, counts, classes);
    }
}

void plugin_network_setup_loader(network *net, load_args *args)
{
    int i, owner = -1;
    for (i = 0; i < net->n; ++i) {
        layer l = net->layers[i];
        if (l.type != PLUGIN || !l.plugin->setup_loader) continue;
        if (owner >= 0) {
            fprintf(stderr, "darknet: error: layers %d and %d both bring a batch loader; a network may have one\n", owner, i);
            exit(1);
        }
        if (l.plugin->setup_loader(l, net, args)) owner = i;
    }
}

void plugin_network_print_losses(network *net, FILE *out)
{
    int i, any = 0;
    double total = 0;
    for (i = 0; i < net->n; ++i) {
        layer l = net->layers[i];
        if (l.type != PLUGIN || !l.plugin->loss_name || !l.cost) continue;
        /* l.cost is summed over the rows of the last sub-batch; print the mean per row. */
        double v = l.cost[0] / l.batch;
        fprintf(out, "%s %s %.5f", any ? "" : "   losses:", l.plugin->loss_name, v);
        total += v;
        any = 1;
    }
    if (any) fprintf(out, "  total %.5f\n", total);
}

int plugin_run_classifier_command(int argc, char **argv)
{
    int i;
    for (i = 0; i < PLUGIN_COMMAND_COUNT; ++i) {
        if (strcmp(argv[2], plugin_commands[i].name) == 0) exit(plugin_commands[i].run(argc, argv));
    }
    return 0;
}
