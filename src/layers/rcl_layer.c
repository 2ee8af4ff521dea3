/* [rcl] layer: forward and backward side by side. See rcl_layer.h.
 *
 * Glossary: B rows, H head width, P pairs.
 */
#include "rcl_layer.h"

#include <math.h>
#include <stdlib.h>

#include "cfg_keys.h"
#include "layer_util.h"
#include "mixdata_layer.h"
#ifdef GPU
#include "cuda.h"
#endif

/* |a| floored, so a zero vector has a finite (zero) gradient. */
#define NORM_FLOOR 1e-12

static double norm(const float *a, int n)
{
    double s = 0;
    int i;
    for (i = 0; i < n; ++i) s += (double)a[i] * a[i];
    s = sqrt(s);
    return s > NORM_FLOOR ? s : NORM_FLOOR;
}

static double cosine(const float *a, const float *b, int n)
{
    double s = 0;
    int i;
    for (i = 0; i < n; ++i) s += (double)a[i] * b[i];
    return s / (norm(a, n) * norm(b, n));
}

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

    /* A loss-only layer: one dummy output per row. */
    l.batch = p.batch;
    l.inputs = p.inputs;
    l.outputs = 1;
    l.out_w = l.out_h = l.out_c = 1;
    l.output = calloc(p.batch, sizeof(float));
    l.delta = calloc(p.batch, sizeof(float));
    l.cost = calloc(1, sizeof(float));
    l.plugin_state = st;
    l.forward = forward_rcl_layer;
    l.backward = backward_rcl_layer;
#ifdef GPU
    if (gpu_index >= 0) {
        l.forward_gpu = forward_rcl_layer_gpu;
        l.backward_gpu = backward_rcl_layer_gpu;
        l.output_gpu = cuda_make_array(l.output, p.batch);
        l.delta_gpu = cuda_make_array(l.delta, p.batch);
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
    const float *h = net.layers[st->projection].output; /* [B, H] */
    const float *u = net.layers[st->prediction].output; /* [B, H] */
    const int H = st->H;
    double L = 0;
    int p;
    l.cost[0] = 0;
    st->loss = 0;
    if (!net.train || !pr || !pr->active) return;
    for (p = 0; p < pr->pairs; ++p) {
        const int m = pr->mixup_row0 + p, c = pr->cutmix_row0 + p;
        L -= cosine(u + m * H, h + c * H, H) + cosine(u + c * H, h + m * H, H);
    }
    st->loss = (float)(L / pr->pairs);
    l.cost[0] = l.batch * st->lambda * st->loss;
}

/* d(-cos(u, h))/du = -(h/|h| - cos(u, h) u/|u|) / |u|; nothing is written for h. */
static void add_delta(float *du, const float *u, const float *h, int H, float s)
{
    const double nu = norm(u, H), nh = norm(h, H), cs = cosine(u, h, H);
    int i;
    for (i = 0; i < H; ++i) du[i] += (float)(s * (h[i] / nh - cs * u[i] / nu) / nu);
}

void backward_rcl_layer(layer l, network net)
{
    rcl_state *st = l.plugin_state;
    const mix_pairing *pr = mixdata_find_pairing(&net);
    const float *h = net.layers[st->projection].output;
    const float *u = net.layers[st->prediction].output;
    float *du = net.layers[st->prediction].delta;
    const int H = st->H;
    int p;
    float s;
    if (!net.train || !pr || !pr->active) return;
    /* delta = -B lambda dL/du, and dL/du = -(...)/P: the signs cancel. */
    s = l.batch * st->lambda / pr->pairs;
    for (p = 0; p < pr->pairs; ++p) {
        const int m = pr->mixup_row0 + p, c = pr->cutmix_row0 + p;
        add_delta(du + m * H, u + m * H, h + c * H, H, s);
        add_delta(du + c * H, u + c * H, h + m * H, H, s);
    }
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
