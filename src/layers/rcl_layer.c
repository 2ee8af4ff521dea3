/* [rcl] layer: forward and backward side by side. See rcl_layer.h.
 *
 * Glossary: B rows, H head width, P pairs.
 */
#include "rcl_layer.h"

#include <stdlib.h>

#include "cfg_keys.h"
#include "layer_util.h"
#include "mixdata_layer.h"
#include "ricasso_kernels.h"
#ifdef GPU
#include "cuda.h"
#endif

layer parse_rcl_layer(list *options, plugin_params p)
{
    layer l = {0};
    rcl_state *st = calloc(1, sizeof(rcl_state));
    const mix_pairing *pr = mixdata_find_pairing(p.net);
    int proj, pred;
    cfg_layer_list(options, &p, "projection", &proj, 1);
    cfg_layer_list(options, &p, "prediction", &pred, 1);
    {
        const char *why;
        if ((why = cfg_not_features(p.net, proj)))
            cfg_fail(&p, "projection", "layer %d [%s] cannot be the projection head: %s", proj,
                     cfg_layer_type_name(p.net, proj), why);
        if ((why = cfg_not_features(p.net, pred)))
            cfg_fail(&p, "prediction", "layer %d [%s] cannot be the prediction head: %s", pred,
                     cfg_layer_type_name(p.net, pred), why);
    }
    if (pred == proj)
        cfg_fail(&p, "prediction", "layer %d [%s] is the projection layer too: the prediction head "
                 "is a different layer, after the projection", pred, cfg_layer_type_name(p.net, pred));
    if (pred < proj)
        cfg_fail(&p, "prediction", "layer %d [%s] comes before the projection layer %d [%s]: the "
                 "prediction head is computed from the projection (projection and prediction swapped?)",
                 pred, cfg_layer_type_name(p.net, pred), proj, cfg_layer_type_name(p.net, proj));
    if (p.net->layers[proj].outputs != p.net->layers[pred].outputs)
        cfg_fail(&p, "prediction", "layer %d has %d outputs, the projection layer %d has %d", pred,
                 p.net->layers[pred].outputs, proj, p.net->layers[proj].outputs);
    if (!pr) cfg_fail(&p, "projection", "[rcl] needs a [mixdata] layer before it");
    if (pr->mixup_row0 < 0 || pr->cutmix_row0 < 0)
        cfg_fail(&p, "projection", "[rcl] pairs Mixup and CutMix rows: its [mixdata] needs mixup=1 and cutmix=1");
    st->projection = proj;
    st->prediction = pred;
    st->H = p.net->layers[proj].outputs;
    st->lambda = cfg_float(options, &p, "lambda", 1, 0, 0, 100, 0);

    l = make_loss_layer(p.batch, p.inputs, 1);
    l.plugin_state = st;
    l.forward = forward_rcl_layer;
    l.backward = backward_rcl_layer;
#ifdef GPU
    if (gpu_index >= 0) {
        l.forward_gpu = forward_rcl_layer_gpu;
        l.backward_gpu = backward_rcl_layer_gpu;
    }
#endif
    fprintf(stderr, "rcl               h = layer %d, u = layer %d, %d-d, lambda %g\n", proj, pred, st->H, st->lambda);
    return l;
}

void free_rcl_layer(layer *l)
{
    free(l->plugin_state);
}

void forward_rcl_layer(layer l, network net)
{
    rcl_state *st = l.plugin_state;
    const mix_pairing *pr = mixdata_find_pairing(&net);
    l.cost[0] = 0;
    st->loss = 0;
    if (!net.train || !pr || !pr->active) return;
    st->loss = (float)rcl_forward(net.layers[st->prediction].output, net.layers[st->projection].output,
                                  pr->mixup_row0, pr->cutmix_row0, pr->pairs, st->H);
    l.cost[0] = l.batch * st->lambda * st->loss;
}

/* delta = -B lambda dL_RCL/du into the prediction layer; nothing into the projection. */
void backward_rcl_layer(layer l, network net)
{
    rcl_state *st = l.plugin_state;
    const mix_pairing *pr = mixdata_find_pairing(&net);
    if (!net.train || !pr || !pr->active) return;
    rcl_backward(net.layers[st->prediction].delta, net.layers[st->prediction].output,
                 net.layers[st->projection].output, l.batch * st->lambda, pr->mixup_row0,
                 pr->cutmix_row0, pr->pairs, st->H);
}

#ifdef GPU
void forward_rcl_layer_gpu(layer l, network net)
{
    rcl_state *st = l.plugin_state;
    pull_layer_output(&net, st->projection);
    pull_layer_output(&net, st->prediction);
    forward_rcl_layer(l, net);
}

void backward_rcl_layer_gpu(layer l, network net)
{
    rcl_state *st = l.plugin_state;
    pull_layer_delta(&net, st->prediction);
    backward_rcl_layer(l, net);
    push_layer_delta(&net, st->prediction);
}
#endif
