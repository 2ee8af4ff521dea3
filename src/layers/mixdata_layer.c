/* [mixdata] layer and its batch loader: see mixdata_layer.h for the batch layout.
 *
 * The sampler and the batch loader are in src/data (class_sampler, pair_loader).
 *
 * Glossary: B rows, P pairs, X = inputs per row (h*w*c), C classes, N training images.
 */
#include "mixdata_layer.h"

#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "cfg_keys.h"
#include "data.h"
#include "pair_loader.h"
#include "ricasso_kernels.h"
#include "rng_util.h"
#ifdef GPU
#include "cuda.h"
#endif

typedef struct {
    mix_pairing pairing;
    class_sampler sampler;
    pair_layout layout;     /* what the batch loader reads; points at sampler */
    float alpha, cutmix_alpha;
    int mixup, cutmix, reversed;
} mixdata_state;

static int row_blocks(int mixup, int cutmix) { return 2 + mixup + cutmix; }

layer make_mixdata_layer(int batch, int w, int h, int c, float alpha, float cutmix_alpha,
                         int mixup, int cutmix, int reversed)
{
    layer l = {0};
    mixdata_state *st = calloc(1, sizeof(mixdata_state));
    const int P = batch / row_blocks(mixup, cutmix);
    l.batch = batch;
    l.w = l.out_w = w;
    l.h = l.out_h = h;
    l.c = l.out_c = c;
    l.inputs = l.outputs = w * h * c;
    l.output = calloc(batch * l.outputs, sizeof(float)); /* [B, X] */
    l.delta = calloc(batch * l.outputs, sizeof(float));  /* [B, X] */
    st->alpha = alpha;
    st->cutmix_alpha = cutmix_alpha;
    st->mixup = mixup;
    st->cutmix = cutmix;
    st->reversed = reversed;
    st->pairing.rows = batch;
    st->pairing.pairs = P;
    st->pairing.mixup_row0 = mixup ? 2 * P : -1;
    st->pairing.cutmix_row0 = cutmix ? (2 + mixup) * P : -1;
    st->pairing.mixup_lambda = calloc(P > 0 ? P : 1, sizeof(float));
    st->pairing.cutmix_lambda = calloc(P > 0 ? P : 1, sizeof(float));
    st->pairing.cutmix_box = calloc(P > 0 ? 4 * P : 4, sizeof(int));
    l.plugin_state = st;
    l.forward = forward_mixdata_layer;
    l.backward = backward_mixdata_layer;
#ifdef GPU
    if (gpu_index >= 0) {
        l.forward_gpu = forward_mixdata_layer_gpu;
        l.backward_gpu = backward_mixdata_layer_gpu;
        l.output_gpu = cuda_make_array(l.output, batch * l.outputs);
        l.delta_gpu = cuda_make_array(l.delta, batch * l.outputs);
    }
#endif
    fprintf(stderr, "mixdata           %4d x%4d x%4d   %d pairs: %s%s%s\n", w, h, c, P,
            reversed ? "instance+reversed" : "instance+instance", mixup ? " +mixup" : "",
            cutmix ? " +cutmix" : "");
    return l;
}

layer parse_mixdata_layer(list *options, plugin_params p)
{
    float alpha = cfg_float(options, &p, "alpha", 1, 0, 1, 100, 0);
    float cutmix_alpha = cfg_float(options, &p, "cutmix_alpha", 1, 0, 1, 100, 0);
    int mixup = cfg_int(options, &p, "mixup", 1, 0, 1);
    int cutmix = cfg_int(options, &p, "cutmix", 1, 0, 1);
    int reversed = cfg_int(options, &p, "reversed", 1, 0, 1);
    int blocks = row_blocks(mixup, cutmix);
    if (!mixup && !cutmix) cfg_fail(&p, "mixup", "mixup=0 and cutmix=0 leave nothing to mix");
    /* pairs=P states the authors' step (P instance rows, P second-sampler rows, P per mix)
       in the cfg, so that a batch edited alone cannot silently change P. 0: not given. */
    int pairs = cfg_int(options, &p, "pairs", 0, 1, 1 << 20);
    if (pairs && p.batch > 1 && p.batch != blocks * pairs)
        cfg_fail(&p, "pairs", "pairs=%d needs a network batch (batch/subdivisions) of "
                 "(2 + mixup + cutmix) x %d = %d, but it is %d", pairs, pairs, blocks * pairs, p.batch);
    if (p.batch > 1 && p.batch % blocks != 0)
        cfg_fail(&p, mixup ? "mixup" : "cutmix",
                 "the network batch (batch/subdivisions = %d) must be a multiple of %d "
                 "(instance, reversed%s%s rows)", p.batch, blocks, mixup ? ", Mixup" : "",
                 cutmix ? ", CutMix" : "");
    if (cutmix && !(p.h > 0 && p.w > 0 && p.c > 0 && p.h * p.w * p.c == p.inputs))
        cfg_fail(&p, "cutmix", "CutMix needs an image input (width, height, channels)");
    if (p.h > 0 && p.w > 0 && p.c > 0)
        return make_mixdata_layer(p.batch, p.w, p.h, p.c, alpha, cutmix_alpha, mixup, cutmix, reversed);
    return make_mixdata_layer(p.batch, p.inputs, 1, 1, alpha, cutmix_alpha, mixup, cutmix, reversed);
}

void free_mixdata_layer(layer *l)
{
    mixdata_state *st = l->plugin_state;
    if (!st) return;
    free(st->pairing.mixup_lambda);
    free(st->pairing.cutmix_lambda);
    free(st->pairing.cutmix_box);
    class_sampler_free(&st->sampler);
    free(st);
}

/* output = input, then the mixed rows and their two-hot labels (net.truth, [B, C]). */
void forward_mixdata_layer(layer l, network net)
{
    mixdata_state *st = l.plugin_state;
    mix_pairing *pr = &st->pairing;
    const int X = l.inputs, C = net.truths, P = pr->pairs;
    int p;
    memcpy(l.output, net.input, sizeof(float) * l.batch * X);
    pr->active = 0;
    if (!net.train || l.batch == 1 || !net.truth) return;
    if (l.batch != pr->rows) {
        fprintf(stderr, "darknet: error: [mixdata] trained with batch %d, laid out for %d\n", l.batch, pr->rows);
        exit(1);
    }
    for (p = 0; p < P; ++p) {
        const float *xi = net.input + p * X, *xj = net.input + (P + p) * X;  /* [X] */
        const float *ti = net.truth + p * C, *tj = net.truth + (P + p) * C;  /* [C] */
        if (st->mixup) {
            const int r = pr->mixup_row0 + p;
            const float lam = (float)rng_beta(st->alpha, st->alpha);
            pr->mixup_lambda[p] = lam;
            mixup_forward(l.output + r * X, xi, xj, lam, X);
            mixup_forward(net.truth + r * C, ti, tj, lam, C);
        }
        if (st->cutmix) {
            const int r = pr->cutmix_row0 + p;
            int *box = pr->cutmix_box + 4 * p;
            /* Drawn in this order: the seeded runs of the tests depend on it. */
            const float area = (float)rng_beta(st->cutmix_alpha, st->cutmix_alpha);
            const int cx = rng_int(l.w), cy = rng_int(l.h);
            const float lam = cutmix_box_clip(box, l.w, l.h, area, cx, cy);
            pr->cutmix_lambda[p] = lam;
            cutmix_forward(l.output + r * X, xi, xj, box, l.w, l.h, l.c);
            mixup_forward(net.truth + r * C, ti, tj, lam, C);
        }
    }
    pr->active = 1;
}

/* -dL/dx: source rows get their own delta plus their share of every mixed row built from
 * them; the empty input rows of the mixed slots get nothing (the output does not read them). */
void backward_mixdata_layer(layer l, network net)
{
    mixdata_state *st = l.plugin_state;
    const mix_pairing *pr = &st->pairing;
    const int X = l.inputs, P = pr->pairs;
    int p;
    if (!net.delta) return;
    if (!pr->active) {
        axpy_cpu(l.batch * X, 1, l.delta, 1, net.delta, 1);
        return;
    }
    axpy_cpu(2 * P * X, 1, l.delta, 1, net.delta, 1);
    for (p = 0; p < P; ++p) {
        float *di = net.delta + p * X, *dj = net.delta + (P + p) * X;  /* [X] */
        if (st->mixup)
            mixup_backward(di, dj, l.delta + (pr->mixup_row0 + p) * X, pr->mixup_lambda[p], X);
        if (st->cutmix)
            cutmix_backward(di, dj, l.delta + (pr->cutmix_row0 + p) * X, pr->cutmix_box + 4 * p,
                            l.w, l.h, l.c);
    }
}

const mix_pairing *mixdata_find_pairing(const network *net)
{
    int i;
    for (i = 0; i < net->n; ++i) {
        const layer *l = &net->layers[i];
        if (plugin_layer_is(l, PLUGIN_TYPE_MIXDATA))
            return &((mixdata_state *)l->plugin_state)->pairing;
    }
    return 0;
}

/* ---- the training batch: class_sampler and pair_loader of src/data ---- */

void mixdata_set_train_stats(layer l, network *net, const int *path_class, int n,
                             const int *counts, int classes)
{
    mixdata_state *st = l.plugin_state;
    int c, nonempty = 0;
    class_sampler_init(&st->sampler, path_class, n, counts, classes);
    for (c = 0; c < classes; ++c) nonempty += counts[c] > 0;
    printf("[mixdata] %d pairs per batch of %d; %s sampling over %d images, %d classes",
           st->pairing.pairs, st->pairing.rows, st->reversed ? "class-reversed" : "instance", n, nonempty);
    if (st->reversed) {
        printf("; P(class) for reversed rows:");
        for (c = 0; c < classes; ++c) printf(" %.3f", class_sampler_reversed_p(&st->sampler, c));
    }
    printf("\n");
}

int mixdata_draw(layer l, int reversed)
{
    const class_sampler *s = &((mixdata_state *)l.plugin_state)->sampler;
    if (!s->ready) {
        fprintf(stderr, "darknet: error: [mixdata] sampler used before the training statistics were set\n");
        exit(1);
    }
    return class_sampler_draw(s, reversed);
}

data mixdata_load_batch(load_args a)
{
    const layer *lp = a.loader_state;
    return pair_batch_load(a, &((mixdata_state *)lp->plugin_state)->layout);
}

int mixdata_setup_loader(layer l, network *net, load_args *args)
{
    mixdata_state *st = l.plugin_state;
    const int B = st->pairing.rows;
    int i;
    if (!st->sampler.ready) {
        fprintf(stderr, "darknet: error: [mixdata] needs the training statistics (class of every image) before loading\n");
        exit(1);
    }
    if (args->n % B != 0) {
        fprintf(stderr, "darknet: error: [mixdata] loads %d images per step, not a multiple of its batch %d\n", args->n, B);
        exit(1);
    }
    st->layout.rows = B;
    st->layout.pairs = st->pairing.pairs;
    st->layout.reversed = st->reversed;
    st->layout.sampler = &st->sampler;
    args->threads = pair_loader_threads(args->n, B, args->threads);
    args->type = PLUGIN_DATA;
    args->loader = mixdata_load_batch;
    /* The layer lives in net->layers for the whole run: its address is stable. */
    for (i = 0; i < net->n; ++i)
        if (net->layers[i].plugin_state == l.plugin_state) args->loader_state = &net->layers[i];
    return 1;
}

#ifdef GPU
/* In inference (and at batch 1) the layer is the identity: a copy on the device, as its CPU
 * forward. In training the mixing runs on the host; the two-hot labels it writes must reach
 * the device too. */
void forward_mixdata_layer_gpu(layer l, network net)
{
    mixdata_state *st = l.plugin_state;
    if (!net.train || l.batch == 1 || !net.truth) {
        copy_gpu(l.outputs * l.batch, net.input_gpu, 1, l.output_gpu, 1);
        st->pairing.active = 0;
        return;
    }
    cuda_pull_array(net.input_gpu, net.input, l.inputs * l.batch);
    forward_mixdata_layer(l, net);
    cuda_push_array(l.output_gpu, l.output, l.outputs * l.batch);
    if (net.truth_gpu) cuda_push_array(net.truth_gpu, net.truth, net.truths * l.batch);
}

/* An identity pass hands its delta on, on the device (ODIN's input gradient, issue #15:
 * it must not need a host delta). After mixing, the routing of the mixed rows' deltas runs
 * on the host; as layer 0 of a training network it has no delta to give (Darknet passes
 * none), and when one is asked for, net.delta is the host twin of net.delta_gpu. */
void backward_mixdata_layer_gpu(layer l, network net)
{
    const mixdata_state *st = l.plugin_state;
    if (!net.delta_gpu) return;
    if (!st->pairing.active) {
        axpy_gpu(l.batch * l.inputs, 1, l.delta_gpu, 1, net.delta_gpu, 1);
        return;
    }
    if (!net.delta) {
        fprintf(stderr, "darknet: error: [mixdata] on the GPU: an input gradient of a mixed training batch "
                        "needs the host twin of the network's delta\n");
        exit(1);
    }
    cuda_pull_array(l.delta_gpu, l.delta, l.outputs * l.batch);
    cuda_pull_array(net.delta_gpu, net.delta, l.inputs * l.batch);
    backward_mixdata_layer(l, net);
    cuda_push_array(net.delta_gpu, net.delta, l.inputs * l.batch);
}
#endif
