/* The oneDNN convolution path (src/accel/conv_accel_dnnl.c) against Darknet's own
 * im2col/gemm path. Built only against the DNNL test library (build/test-dnnl, made when
 * libdnnl-dev is installed; see tests/tests.mk).
 *
 * The two paths live in one binary: a layer whose accel pointer is null runs the stock loops
 * (conv_accel_* return 0 without state), so each check runs the same layer, with the same
 * numbers, once with its oneDNN state and once without. 3x3 convolutions with stride 1 and
 * padding 1, grouped or not, are checked through conv_winograd.c (on CPUs with AVX2 and FMA:
 * DARKNET_WINOGRAD=7, all three passes), through oneDNN's own primitives
 * (DARKNET_WINOGRAD=0), and for some shapes with the passes split between the two (3: the
 * weight gradient by oneDNN, 5: the input gradient by oneDNN). Widths that are a multiple of
 * 8 take F(4x4, 3x3) tiles in the forward and input-gradient passes, and with the AVX-512
 * products in the weight gradient too: those shapes run once more with
 * DARKNET_WINOGRAD_TILE=2 (F(2x2, 3x3)), and each run checks which tiles it took.
 * On CPUs with AVX-512F the Winograd checks run twice, with the AVX-512 matrix products and
 * with the AVX2 ones (DARKNET_WINOGRAD_ISA=avx2); elsewhere the AVX-512 run is reported as
 * skipped. The default split of the passes (all three on AVX2; on AVX-512 all three on maps
 * whose width is a multiple of 8, else the weight gradient by oneDNN) is checked too.
 *
 * Per shape (stride 1 and 2, 1x1, 3x3, 5x5, 7x7, padding that drops a row, non-square
 * inputs, 3 input channels, groups 2 and 3 and depthwise, batch 1):
 *   - conv_accel_forward and conv_accel_backward say they did the work (return 1), so the
 *     comparison is not the stock code against itself;
 *   - output, weight_updates and net.delta agree with the stock path; weight_updates and
 *     net.delta start from non-zero values, so that "adds to" is checked, not "overwrites";
 *   - with net.delta null only weight_updates is touched;
 *   - the whole layer (forward_/backward_convolutional_layer with batch norm and leaky
 *     activation) agrees too;
 *   - in inference, where the accelerated path also applies the batch norm (rolling
 *     statistics) or bias and a linear, ReLU or leaky activation (conv_accel_forward
 *     returns 2), the layer's output agrees, with and without batch norm, for each of
 *     those activations and for one it leaves to Darknet (logistic).
 * Batch statistics from the Winograd forward pass (conv_accel_forward returning 3; see
 * test_bn_stats) against a double reference, on AVX-512 CPUs (skipped elsewhere).
 * Tolerance: max |dnnl - stock| <= 1e-4 * max(1, max |stock|) over each tensor: both sum the
 * same products in float, in different orders (oneDNN blocks the sums differently), and the
 * longest sums here have a few thousand terms.
 *
 * Whole network: ResNet-32 (cfg/ce-resnet32-cifar10.cfg) at batch 8, inference outputs
 * within 1e-4 (absolute; softmax probabilities), and one training step
 * (forward + backward) with every convolution through oneDNN, then again through the stock
 * loops from the same weights and batch. The softmax outputs agree within 1e-4 (absolute),
 * the loss within 1e-5 relative; for every layer the weight, bias and scale updates, and
 * the gradient with respect to the network input, are compared in the relative L2 norm
 * ||dnnl - stock|| / ||stock||:
 *   - within 1e-4 with the ReLUs replaced by ELU (the same network otherwise; the ELU's
 *     derivative is continuous, so rounding differences stay rounding differences);
 *   - within 1e-2 with the cfg's ReLUs: an output within a rounding error of 0 can fall on
 *     the other side of the kink in the two runs, which switches its gradient on or off
 *     (one such element in a layer of 65536 gives errors near 1e-3 upstream of it). A
 *     wrong layout, an overwrite instead of an add or a missing term all give errors of
 *     order 1.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "convolutional_layer.h"
#include "network.h"
#include "parser.h"

#include "conv_accel.h"
#include "conv_winograd.h"
#include "gradcheck.h"
#include "harness.h"

#define TOL_LAYER 1e-4
#define TOL_NET_OUT 1e-4
#define TOL_NET_COST 1e-5
#define TOL_NET_GRAD_SMOOTH 1e-4
#define TOL_NET_GRAD_RELU 1e-2

typedef struct {
    const char *name;
    int batch, c, h, w, n, groups, size, stride, pad;
} shape;

static const shape shapes[] = {
    {"3x3/1 16->16 32x32 (ResNet stage 1)", 4, 16, 32, 32, 16, 1, 3, 1, 1},
    {"3x3/2 16->32 32x32 (stage 2 entry)", 4, 16, 32, 32, 32, 1, 3, 2, 1},
    {"3x3/1 64->64 8x8 (stage 3)", 4, 64, 8, 8, 64, 1, 3, 1, 1},
    {"3x3/1 3->16 32x32 (stem)", 4, 3, 32, 32, 16, 1, 3, 1, 1},
    {"1x1/1 32->64 16x16", 4, 32, 16, 16, 64, 1, 1, 1, 0},
    {"1x1/2 16->32 32x32", 4, 16, 32, 32, 32, 1, 1, 2, 0},
    {"1x1/1 pad 1 8->8 6x6", 2, 8, 6, 6, 8, 1, 1, 1, 1},
    {"5x5/2 pad 2 12->20 17x13", 3, 12, 17, 13, 20, 1, 5, 2, 2},
    {"3x3/2 pad 0 10x10 (drops a row)", 2, 8, 10, 10, 12, 1, 3, 2, 0},
    {"7x7/2 pad 3 3->8 23x23", 2, 3, 23, 23, 8, 1, 7, 2, 3},
    {"3x3/1 groups 2 16->32 12x12", 3, 16, 12, 12, 32, 2, 3, 1, 1},
    {"3x3/2 depthwise 16 16x16", 3, 16, 16, 16, 16, 16, 3, 2, 1},
    {"3x3/1 16->16 batch 1", 1, 16, 9, 9, 16, 1, 3, 1, 1},
    {"3x3/1 5->7 7x11 (odd sizes)", 3, 5, 7, 11, 7, 1, 3, 1, 1},
    {"3x3/1 40->24 13x6", 2, 40, 13, 6, 24, 1, 3, 1, 1},
    {"3x3/1 16->20 34x34 (rows of 17 tiles)", 2, 16, 34, 34, 20, 1, 3, 1, 1},
    {"3x3/1 8->8 1x1 image", 3, 8, 1, 1, 8, 1, 3, 1, 1},
    {"3x3/1 groups 3 48->96 16x16 (grouped experts)", 2, 48, 16, 16, 96, 3, 3, 1, 1},
    {"3x3/1 groups 3 24->48 8x8 (rows of 4 tiles)", 3, 24, 8, 8, 48, 3, 3, 1, 1},
    {"3x3/1 depthwise 8 10x10", 2, 8, 10, 10, 8, 8, 3, 1, 1},
    /* F(4x4, 3x3) (width a multiple of 8): groups of four pairs of tiles that span rows of
       tiles (3 pairs a row), a height that leaves part of the last row of tiles outside the
       image, a group with pairs past the last image, and the widest rows of the set */
    {"3x3/1 12->10 8x24 (rows of 3 pairs of tiles)", 3, 12, 8, 24, 10, 1, 3, 1, 1},
    {"3x3/1 8->12 10x16 (last tile row half outside)", 2, 8, 10, 16, 12, 1, 3, 1, 1},
    {"3x3/1 16->8 6x8 batch 1 (group past the image)", 1, 16, 6, 8, 8, 1, 3, 1, 1},
    {"3x3/1 4->6 5x40 (5 pairs a row)", 2, 4, 5, 40, 6, 1, 3, 1, 1},
};

static double max_abs(const float *x, size_t n)
{
    double m = 0;
    size_t i;
    for (i = 0; i < n; ++i) if (fabs(x[i]) > m || x[i] != x[i]) m = x[i] != x[i] ? INFINITY : fabs(x[i]);
    return m;
}

/* max |a - b| / max(1, max |b|); NaN anywhere gives infinity. */
static double max_err(const float *a, const float *b, size_t n)
{
    double m = 0, scale = max_abs(b, n);
    size_t i;
    for (i = 0; i < n; ++i) m = err_max(m, fabs((double)a[i] - b[i]));
    return m / (scale > 1 ? scale : 1);
}

/* ||a - b|| / ||b|| (0 when both are zero). */
static double rel_l2(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    size_t i;
    for (i = 0; i < n; ++i) {
        double d = (double)a[i] - b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    if (num != num) return INFINITY;
    if (den == 0) return num == 0 ? 0 : INFINITY;
    return sqrt(num / den);
}

static float *copy_of(const float *x, size_t n)
{
    float *y = malloc(n * sizeof(float));
    memcpy(y, x, n * sizeof(float));
    return y;
}

/* Runs the shape with DARKNET_WINOGRAD=mode and DARKNET_WINOGRAD_TILE=tile (0: unset, the
   default tile for the width); checks are named "shape [path]". */
static void test_shape(const shape *s, int mode, int tile)
{
    char name[200], env[8];
    int want_tile = tile == 2 || s->w % 8 ? 2 : 4;
    int want_wtile = want_tile == 4 && wino_wide() ? 4 : 2;
    snprintf(name, sizeof(name), "%s [%s%s%s%s]", s->name,
             mode == 0 ? "oneDNN" : mode == 7 ? "Winograd" : mode == 3 ? "Winograd, oneDNN weight gradient"
             : mode == 5 ? "Winograd, oneDNN input gradient" : "?",
             mode == 0 ? "" : want_tile == 4 ? ", F(4x4, 3x3)" : ", F(2x2, 3x3)",
             mode & 4 ? (want_wtile == 4 ? " weight gradient F(4x4, 3x3)" : " weight gradient F(2x2, 3x3)") : "",
             mode == 0 ? "" : wino_wide() ? ", AVX-512 products" : ", AVX2 products");
    snprintf(env, sizeof(env), "%d", mode);
    setenv("DARKNET_WINOGRAD", env, 1);
    if (tile) {
        snprintf(env, sizeof(env), "%d", tile);
        setenv("DARKNET_WINOGRAD_TILE", env, 1);
    } else {
        unsetenv("DARKNET_WINOGRAD_TILE");
    }
    if (mode) CHECK(wino_tile(s->w) == want_tile, "%s: the forward and input-gradient passes take tiles of %d (got %d)",
                    name, want_tile, wino_tile(s->w));
    if (mode & 4) CHECK(wino_wgrad_tile(s->w) == want_wtile, "%s: the weight gradient takes tiles of %d (got %d)",
                        name, want_wtile, wino_wgrad_tile(s->w));
    layer l = make_convolutional_layer(s->batch, s->h, s->w, s->c, s->n, s->groups, s->size,
                                       s->stride, s->pad, LINEAR, 0, 0, 0, 0);
    size_t in_n = (size_t)l.batch * l.inputs, out_n = (size_t)l.batch * l.outputs;
    network net = {0};
    void *accel = l.accel;
    float *input = malloc(in_n * sizeof(float));
    float *delta0 = malloc(in_n * sizeof(float)), *wu0 = malloc(l.nweights * sizeof(float));
    float *ldelta = malloc(out_n * sizeof(float));
    float *out_d, *wu_d, *nd_d, *wu_nd;

    CHECK(accel != 0, "%s: the layer has oneDNN state", name);
    {
        network probe = {0};
        probe.train = 1;
        int passes = conv_accel_winograd_passes(&l, &probe);
        CHECK(passes == (mode == 0 ? 0 : mode), "%s: the Winograd kernels take passes %d (mode %d)", name, passes, mode);
    }
    srand(11);
    gc_fill_uniform(l.weights, l.nweights, -0.5f, 0.5f);
    gc_fill_uniform(input, in_n, -1, 1);
    gc_fill_uniform(ldelta, out_n, -1, 1);
    gc_fill_uniform(delta0, in_n, -2, 2);
    gc_fill_uniform(wu0, l.nweights, -3, 3);
    net.input = input;
    net.train = 1;
    net.batch = l.batch;
    net.workspace = calloc(l.workspace_size / sizeof(float) + 1, sizeof(float));

    /* oneDNN: the linear part through the hooks themselves. */
    memset(l.output, 0, out_n * sizeof(float));
    int fwd = conv_accel_forward(l, net);
    out_d = copy_of(l.output, out_n);
    memcpy(l.delta, ldelta, out_n * sizeof(float));
    memcpy(l.weight_updates, wu0, l.nweights * sizeof(float));
    net.delta = copy_of(delta0, in_n);
    int bwd = conv_accel_backward(l, net);
    wu_d = copy_of(l.weight_updates, l.nweights);
    nd_d = copy_of(net.delta, in_n);
    CHECK(fwd == 1 && bwd == 1, "%s: oneDNN takes the shape (forward %d, backward %d)", name, fwd, bwd);

    /* No input gradient wanted: only weight_updates changes. */
    memcpy(l.weight_updates, wu0, l.nweights * sizeof(float));
    float *saved_delta = net.delta;
    net.delta = 0;
    bwd = conv_accel_backward(l, net);
    wu_nd = copy_of(l.weight_updates, l.nweights);
    net.delta = saved_delta;

    /* Stock loops: the same layer without its state. */
    l.accel = 0;
    forward_convolutional_layer(l, net);
    CHECK(max_err(out_d, l.output, out_n) <= TOL_LAYER, "%s: forward output (max err %.2g)",
          name, max_err(out_d, l.output, out_n));
    memcpy(l.delta, ldelta, out_n * sizeof(float));
    memcpy(l.weight_updates, wu0, l.nweights * sizeof(float));
    memcpy(net.delta, delta0, in_n * sizeof(float));
    backward_convolutional_layer(l, net);
    CHECK(max_err(wu_d, l.weight_updates, l.nweights) <= TOL_LAYER,
          "%s: weight_updates added to (max err %.2g)", name, max_err(wu_d, l.weight_updates, l.nweights));
    CHECK(max_err(nd_d, net.delta, in_n) <= TOL_LAYER,
          "%s: input delta added to (max err %.2g)", name, max_err(nd_d, net.delta, in_n));
    CHECK(bwd == 1 && max_err(wu_nd, l.weight_updates, l.nweights) <= TOL_LAYER,
          "%s: without net.delta, weight_updates still right (max err %.2g)", name,
          max_err(wu_nd, l.weight_updates, l.nweights));
    l.accel = accel;
    unsetenv("DARKNET_WINOGRAD_TILE");

    free(out_d); free(wu_d); free(nd_d); free(wu_nd);
    free(input); free(delta0); free(wu0); free(ldelta); free(net.delta); free(net.workspace);
    free_layer(l);
}

/* The whole layer as the network runs it: batch norm and a leaky activation around the
   convolution, forward and backward through Darknet's own functions. */
static void test_full_layer(void)
{
    layer l = make_convolutional_layer(4, 16, 16, 8, 16, 1, 3, 2, 1, LEAKY, 1, 0, 0, 0);
    size_t in_n = (size_t)l.batch * l.inputs, out_n = (size_t)l.batch * l.outputs;
    network net = {0};
    void *accel = l.accel;
    float *input = malloc(in_n * sizeof(float)), *ldelta = malloc(out_n * sizeof(float));
    float *res[2][5];
    int pass;

    srand(5);
    gc_fill_uniform(l.weights, l.nweights, -0.5f, 0.5f);
    gc_fill_uniform(l.scales, l.n, 0.5f, 1.5f);
    gc_fill_uniform(l.biases, l.n, -0.2f, 0.2f);
    gc_fill_uniform(input, in_n, -1, 1);
    gc_fill_uniform(ldelta, out_n, -1, 1);
    net.input = input;
    net.train = 1;
    net.batch = l.batch;
    net.workspace = calloc(l.workspace_size / sizeof(float) + 1, sizeof(float));
    net.delta = calloc(in_n, sizeof(float));

    for (pass = 0; pass < 2; ++pass) {
        l.accel = pass == 0 ? accel : 0;
        memset(l.weight_updates, 0, l.nweights * sizeof(float));
        memset(l.bias_updates, 0, l.n * sizeof(float));
        memset(l.scale_updates, 0, l.n * sizeof(float));
        memset(net.delta, 0, in_n * sizeof(float));
        forward_convolutional_layer(l, net);
        res[pass][0] = copy_of(l.output, out_n);
        memcpy(l.delta, ldelta, out_n * sizeof(float));
        backward_convolutional_layer(l, net);
        res[pass][1] = copy_of(l.weight_updates, l.nweights);
        res[pass][2] = copy_of(l.bias_updates, l.n);
        res[pass][3] = copy_of(l.scale_updates, l.n);
        res[pass][4] = copy_of(net.delta, in_n);
    }
    l.accel = accel;
    const char *what[5] = {"output", "weight_updates", "bias_updates", "scale_updates", "input delta"};
    size_t n[5] = {out_n, (size_t)l.nweights, (size_t)l.n, (size_t)l.n, in_n};
    int i;
    for (i = 0; i < 5; ++i) {
        double e = max_err(res[0][i], res[1][i], n[i]);
        CHECK(e <= TOL_LAYER, "conv+BN+leaky layer, 3x3/2: %s (max err %.2g)", what[i], e);
        free(res[0][i]);
        free(res[1][i]);
    }
    free(input); free(ldelta); free(net.delta); free(net.workspace);
    free_layer(l);
}

/* Inference: the fused epilogue against Darknet's batch norm / bias and activation. */
static void test_inference_layer(int size, int stride, int bn, ACTIVATION act, const char *act_name)
{
    layer l = make_convolutional_layer(3, 12, 12, 16, 24, 1, size, stride, size / 2, act, bn, 0, 0, 0);
    size_t in_n = (size_t)l.batch * l.inputs, out_n = (size_t)l.batch * l.outputs;
    network net = {0};
    void *accel = l.accel;
    float *input = malloc(in_n * sizeof(float));
    char name[160];
    int fuses = act == LINEAR || act == RELU || act == LEAKY, ret;

    snprintf(name, sizeof(name), "inference %dx%d/%d %s, %s", size, size, stride,
             bn ? "batch norm" : "bias", act_name);
    srand(9);
    gc_fill_uniform(l.weights, l.nweights, -0.5f, 0.5f);
    gc_fill_uniform(l.biases, l.n, -0.5f, 0.5f);
    if (bn) {
        gc_fill_uniform(l.scales, l.n, 0.5f, 1.5f);
        gc_fill_uniform(l.rolling_mean, l.n, -0.5f, 0.5f);
        gc_fill_uniform(l.rolling_variance, l.n, 0.2f, 2);
    }
    gc_fill_uniform(input, in_n, -1, 1);
    net.input = input;
    net.train = 0;
    net.batch = l.batch;
    net.workspace = calloc(l.workspace_size / sizeof(float) + 1, sizeof(float));

    ret = conv_accel_forward(l, net);
    CHECK(ret == (fuses ? 2 : 1), "%s: conv_accel_forward returns %d (%d)", name, fuses ? 2 : 1, ret);
    forward_convolutional_layer(l, net);
    float *out_d = copy_of(l.output, out_n);
    l.accel = 0;
    forward_convolutional_layer(l, net);
    l.accel = accel;
    double e = max_err(out_d, l.output, out_n);
    CHECK(e <= TOL_LAYER, "%s: output (max err %.2g)", name, e);
    free(out_d); free(input); free(net.workspace);
    free_layer(l);
}

/* ---- ResNet-32 ---- */

typedef struct {
    float *output, *input_delta;
    float **wu, **bu, **su;
    float cost;
} net_result;

static void net_step(network *net, int use_accel, void **accel, float *input_delta, net_result *r)
{
    int i;
    for (i = 0; i < net->n; ++i) {
        layer *l = &net->layers[i];
        if (l->type == CONVOLUTIONAL) l->accel = use_accel ? accel[i] : 0;
        if (l->weight_updates) memset(l->weight_updates, 0, l->nweights * sizeof(float));
        if (l->bias_updates) memset(l->bias_updates, 0, l->n * sizeof(float));
        if (l->scale_updates) memset(l->scale_updates, 0, l->n * sizeof(float));
    }
    memset(input_delta, 0, (size_t)net->inputs * net->batch * sizeof(float));
    net->delta = input_delta;
    net->train = 1;
    forward_network(net);
    backward_network(net);
    r->cost = *net->cost;
    r->output = copy_of(net->output, (size_t)net->outputs * net->batch);
    r->input_delta = copy_of(input_delta, (size_t)net->inputs * net->batch);
    size_t nl = net->n > 0 ? (size_t)net->n : 1;
    r->wu = calloc(nl, sizeof(float *));
    r->bu = calloc(nl, sizeof(float *));
    r->su = calloc(nl, sizeof(float *));
    for (i = 0; i < net->n; ++i) {
        layer *l = &net->layers[i];
        if (l->weight_updates) r->wu[i] = copy_of(l->weight_updates, l->nweights);
        if (l->bias_updates) r->bu[i] = copy_of(l->bias_updates, l->n);
        if (l->scale_updates) r->su[i] = copy_of(l->scale_updates, l->n);
        l->accel = accel[i];
    }
}

static void test_resnet32(const char *label, int smooth, double tol, int winograd)
{
    setenv("DARKNET_WINOGRAD", winograd ? "7" : "0", 1);
    const char *cfg = repo_path("cfg/ce-resnet32-cifar10.cfg");
    const int batch = 8;
    network *net;
    net_result r[2];
    int i, b, convs = 0, taken = 0;

    gc_srand(3);    /* the same network whatever the tests before drew */
    net = parse_network_cfg((char *)cfg);
    if (!CHECK(net->n > 0, "%s: %s parses", label, cfg)) return;
    set_batch_network(net, batch);
    if (smooth) {
        for (i = 0; i < net->n; ++i) if (net->layers[i].activation == RELU) net->layers[i].activation = ELU;
    }
    void **accel = calloc(net->n > 0 ? (size_t)net->n : 1, sizeof(void *));
    float *input_delta = calloc((size_t)net->inputs * batch, sizeof(float));
    for (i = 0; i < net->n; ++i) accel[i] = net->layers[i].accel;
    gc_fill_uniform(net->input, net->inputs * batch, 0, 1);
    memset(net->truth, 0, (size_t)net->truths * batch * sizeof(float));
    for (b = 0; b < batch; ++b) net->truth[b * net->truths + rand() % net->truths] = 1;

    /* Every convolution of the network is one oneDNN takes. */
    {
        network n1 = *net;
        float *scratch_out = 0;
        net->train = 1;
        forward_network(net);
        /* Rolling statistics of this batch, so that inference below sees sane ones. */
        for (i = 0; i < net->n; ++i) {
            layer *l = &net->layers[i];
            if (l->type != CONVOLUTIONAL || !l->batch_normalize) continue;
            memcpy(l->rolling_mean, l->mean, l->n * sizeof(float));
            memcpy(l->rolling_variance, l->variance, l->n * sizeof(float));
        }
        for (i = 0; i < net->n; ++i) {
            layer l = net->layers[i];
            if (l.type != CONVOLUTIONAL) continue;
            ++convs;
            n1.input = i ? net->layers[i - 1].output : net->input;
            n1.train = 1;
            scratch_out = realloc(scratch_out, (size_t)l.outputs * l.batch * sizeof(float));
            memcpy(scratch_out, l.output, (size_t)l.outputs * l.batch * sizeof(float));
            memset(l.output, 0, (size_t)l.outputs * l.batch * sizeof(float));
            taken += conv_accel_forward(l, n1) == 1;
            memcpy(l.output, scratch_out, (size_t)l.outputs * l.batch * sizeof(float));
        }
        free(scratch_out);
    }
    /* 31: the stem and 30 in the blocks (option-A shortcuts have no convolution) */
    CHECK(convs == 31 && taken == convs, "%s: oneDNN takes all %d convolutions (%d)", label, convs, taken);

    /* Inference (rolling statistics; the accelerated path fuses batch norm and ReLU). */
    {
        size_t on = (size_t)net->outputs * batch;
        float *out_d;
        double e = 0;
        net->train = 0;
        forward_network(net);
        out_d = copy_of(net->output, on);
        for (i = 0; i < net->n; ++i) net->layers[i].accel = 0;
        forward_network(net);
        for (i = 0; i < net->n; ++i) net->layers[i].accel = accel[i];
        for (b = 0; b < (int)on; ++b) e = err_max(e, fabs((double)out_d[b] - net->output[b]));
        CHECK(e <= TOL_NET_OUT, "%s batch %d: inference outputs (max abs err %.2g)", label, batch, e);
        free(out_d);
    }

    /* The rolling statistics move with every training step; restore them so both steps see
       the same network (they do not enter training-mode outputs anyway). */
    size_t nl = net->n > 0 ? (size_t)net->n : 1;
    float **rm = calloc(nl, sizeof(float *)), **rv = calloc(nl, sizeof(float *));
    for (i = 0; i < net->n; ++i) {
        layer *l = &net->layers[i];
        if (l->rolling_mean) { rm[i] = copy_of(l->rolling_mean, l->n); rv[i] = copy_of(l->rolling_variance, l->n); }
    }
    net_step(net, 1, accel, input_delta, &r[0]);
    for (i = 0; i < net->n; ++i) {
        layer *l = &net->layers[i];
        if (rm[i]) { memcpy(l->rolling_mean, rm[i], l->n * sizeof(float)); memcpy(l->rolling_variance, rv[i], l->n * sizeof(float)); }
    }
    net_step(net, 0, accel, input_delta, &r[1]);

    size_t on = (size_t)net->outputs * batch;
    double e_out = 0;
    for (i = 0; i < (int)on; ++i) e_out = err_max(e_out, fabs((double)r[0].output[i] - r[1].output[i]));
    CHECK(e_out <= TOL_NET_OUT, "%s batch %d: softmax outputs (max abs err %.2g)", label, batch, e_out);
    CHECK_REL(r[0].cost, r[1].cost, TOL_NET_COST, 1e-6, "%s batch %d: loss %.6f vs %.6f",
              label, batch, r[0].cost, r[1].cost);

    double worst[3] = {0, 0, 0};
    int worst_at[3] = {-1, -1, -1};
    for (i = 0; i < net->n; ++i) {
        layer *l = &net->layers[i];
        float *a[3] = {r[0].wu[i], r[0].bu[i], r[0].su[i]}, *c[3] = {r[1].wu[i], r[1].bu[i], r[1].su[i]};
        int len[3] = {l->nweights, l->n, l->n}, k;
        for (k = 0; k < 3; ++k) {
            if (!a[k]) continue;
            double e = rel_l2(a[k], c[k], len[k]);
            if (e > worst[k] || e != e) { worst[k] = e != e ? INFINITY : e; worst_at[k] = i; }
        }
    }
    CHECK(worst[0] <= tol, "%s: weight updates of every layer (worst rel L2 err %.2g <= %g, layer %d)", label, worst[0], tol, worst_at[0]);
    CHECK(worst[1] <= tol, "%s: bias updates of every layer (worst rel L2 err %.2g <= %g, layer %d)", label, worst[1], tol, worst_at[1]);
    CHECK(worst[2] <= tol, "%s: BN scale updates of every layer (worst rel L2 err %.2g <= %g, layer %d)", label, worst[2], tol, worst_at[2]);
    double e_in = rel_l2(r[0].input_delta, r[1].input_delta, (size_t)net->inputs * batch);
    CHECK(e_in <= tol && max_abs(r[1].input_delta, (size_t)net->inputs * batch) > 0,
          "%s: gradient with respect to the input (rel L2 err %.2g <= %g)", label, e_in, tol);

    for (b = 0; b < 2; ++b) {
        for (i = 0; i < net->n; ++i) { free(r[b].wu[i]); free(r[b].bu[i]); free(r[b].su[i]); }
        free(r[b].wu); free(r[b].bu); free(r[b].su); free(r[b].output); free(r[b].input_delta);
    }
    for (i = 0; i < net->n; ++i) { free(rm[i]); free(rv[i]); }
    free(rm); free(rv); free(accel); free(input_delta);
    free_network(net);
}

/* Batch statistics from the Winograd pass (darknet-patches 0079, wino_forward_stats): in
   training, with l.output pointing at l.x, conv_accel_forward returns 3 on F(4x4, 3x3)
   shapes with the AVX-512 products, l.x holds the convolution (as the stock loops compute
   it) and l.mean / l.variance the batch mean and biased variance of each filter's output
   over batch and map, from a double reference. Twice: with the shift (l.mean before the
   call) at 0, and at the first call's means plus one, as the next training step would have
   it. Filter 0 sees only positive weights on a positive input, so its mean is several times
   its spread (the case where E[y^2] - E[y]^2 loses digits without a shift near the mean).
   Shapes: the ResNet stage, a half-outside last tile row, a group past the last image,
   grouped experts. */
static void test_bn_stats(void)
{
    static const shape sh[] = {
        {"3x3/1 16->16 32x32", 4, 16, 32, 32, 16, 1, 3, 1, 1},
        {"3x3/1 8->12 10x16 (last tile row half outside)", 2, 8, 10, 16, 12, 1, 3, 1, 1},
        {"3x3/1 16->8 6x8 batch 1 (group past the image)", 1, 16, 6, 8, 8, 1, 3, 1, 1},
        {"3x3/1 groups 3 48->96 16x16 (grouped experts)", 2, 48, 16, 16, 96, 3, 3, 1, 1},
    };
    size_t si;
    if (!wino_usable() || !wino_wide()) {
        harness_skip("Winograd batch statistics", "this CPU lacks AVX-512F (only its products collect them)");
        return;
    }
    unsetenv("DARKNET_WINOGRAD");
    unsetenv("DARKNET_WINOGRAD_TILE");
    for (si = 0; si < sizeof(sh) / sizeof(sh[0]); ++si) {
        const shape *s = &sh[si];
        layer l = make_convolutional_layer(s->batch, s->h, s->w, s->c, s->n, s->groups, 3, 1, 1, RELU, 1, 0, 0, 0);
        size_t in_n = (size_t)l.batch * l.inputs, out_n = (size_t)l.batch * l.outputs, hw = (size_t)l.out_h * l.out_w;
        float *input = malloc(in_n * sizeof(float)), *want = 0;
        network net = {0};
        void *accel = l.accel;
        int call, f, i;
        srand(17);
        gc_fill_uniform(l.weights, l.nweights, -0.5f, 0.5f);
        for (i = 0; i < l.nweights / l.n; ++i) l.weights[i] = fabsf(l.weights[i]);   /* filter 0 */
        gc_fill_uniform(input, in_n, 0, 1);
        net.input = input;
        net.train = 1;
        net.batch = l.batch;
        net.workspace = calloc(l.workspace_size / sizeof(float) + 1, sizeof(float));
        /* the stock loops' convolution, into l.output */
        l.accel = 0;
        memset(l.output, 0, out_n * sizeof(float));
        CHECK(conv_accel_forward(l, net) == 0, "%s: without oneDNN state the stock loops run", s->name);
        forward_convolutional_layer(l, net);   /* stock: l.x gets the convolution (BN copies it) */
        want = copy_of(l.x, out_n);
        l.accel = accel;
        for (call = 0; call < 2; ++call) {
            double e_x, e_m = 0, e_v = 0, ratio = 0;
            layer lc = l;
            lc.output = l.x;
            for (f = 0; f < l.n; ++f) l.mean[f] = call ? l.mean[f] + 1 : 0;
            memset(l.x, 0, out_n * sizeof(float));
            int ret = conv_accel_forward(lc, net);
            CHECK(ret == 3, "%s (shift %s): the Winograd pass into l.x returns 3, the statistics with it (got %d)",
                  s->name, call ? "the last means + 1" : "0", ret);
            e_x = max_err(l.x, want, out_n);
            for (f = 0; f < l.n; ++f) {
                double m = 0, v = 0;
                int b;
                size_t j;
                for (b = 0; b < l.batch; ++b)
                    for (j = 0; j < hw; ++j) m += want[((size_t)b * l.n + f) * hw + j];
                m /= (double)l.batch * hw;
                for (b = 0; b < l.batch; ++b)
                    for (j = 0; j < hw; ++j) {
                        double d = want[((size_t)b * l.n + f) * hw + j] - m;
                        v += d * d;
                    }
                v /= (double)l.batch * hw;
                e_m = err_max(e_m, fabs(l.mean[f] - m) / sqrt(v));
                e_v = err_max(e_v, fabs(l.variance[f] - v) / v);
                if (f == 0) ratio = fabs(m) / sqrt(v);
            }
            CHECK(e_x <= TOL_LAYER && e_m <= 1e-4 && e_v <= 1e-4 && ratio > 3,
                  "%s (shift %s): l.x is the convolution (max err %.2g), l.mean and l.variance its batch mean and "
                  "biased variance (errors %.2g of the spread, %.2g relative; filter 0's mean %.1f spreads)",
                  s->name, call ? "the last means + 1" : "0", e_x, e_m, e_v, ratio);
        }
        free(want);
        free(input);
        free(net.workspace);
        free_layer(l);
    }
}

int main(void)
{
    size_t i;
    int wino = wino_usable(), wide, isa, isas;
    unsetenv("DARKNET_WINOGRAD_ISA");
    wide = wino && wino_wide();
    isas = wide ? 2 : 1;    /* with AVX-512, the Winograd checks run on both kernel sets */
    if (!wino) harness_skip("Winograd convolutions", "this CPU lacks AVX2 or FMA");
    if (wino && !wide)
        harness_skip("Winograd convolutions with the AVX-512 matrix products", "this CPU lacks AVX-512F");
    if (wino) {
        /* width 8 (F(4x4, 3x3) tiles) and width 6 (F(2x2, 3x3)) */
        layer l = make_convolutional_layer(2, 8, 8, 4, 4, 1, 3, 1, 1, LINEAR, 0, 0, 0, 0);
        layer l6 = make_convolutional_layer(2, 6, 6, 4, 4, 1, 3, 1, 1, LINEAR, 0, 0, 0, 0);
        network probe = {0};
        int passes, passes6;
        probe.train = 1;
        unsetenv("DARKNET_WINOGRAD");
        unsetenv("DARKNET_WINOGRAD_TILE");
        passes = conv_accel_winograd_passes(&l, &probe);
        passes6 = conv_accel_winograd_passes(&l6, &probe);
        CHECK(passes == 7, "the default Winograd passes of a map 8 wide are all three on this CPU (got %d)", passes);
        CHECK(passes6 == (wide ? 3 : 7), "the default Winograd passes of a map 6 wide are %d on this CPU (%s; got %d)",
              wide ? 3 : 7, wide ? "AVX-512: the weight gradient by oneDNN" : "AVX2: all three", passes6);
        CHECK(wino_wgrad_tile(8) == (wide ? 4 : 2) && wino_wgrad_tile(6) == 2,
              "the weight gradient takes F(4x4, 3x3) tiles on maps 8 wide only with the AVX-512 products "
              "(got %d for 8, %d for 6)", wino_wgrad_tile(8), wino_wgrad_tile(6));
        setenv("DARKNET_WINOGRAD_TILE", "2", 1);
        CHECK(wino_wgrad_tile(8) == 2, "DARKNET_WINOGRAD_TILE=2 gives the weight gradient F(2x2, 3x3) tiles too");
        unsetenv("DARKNET_WINOGRAD_TILE");
        setenv("DARKNET_WINOGRAD_ISA", "avx2", 1);
        CHECK(!wino_wide() && conv_accel_winograd_passes(&l, &probe) == 7 && conv_accel_winograd_passes(&l6, &probe) == 7
              && wino_wgrad_tile(8) == 2,
              "DARKNET_WINOGRAD_ISA=avx2 takes the AVX2 products, all three passes and F(2x2, 3x3) weight gradients");
        unsetenv("DARKNET_WINOGRAD_ISA");
        free_layer(l);
        free_layer(l6);
    }
    for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); ++i) {
        const shape *s = &shapes[i];
        /* one case per shape: its paths' forward and both gradients */
        case_begin("%s: the oneDNN%s convolution matches Darknet's", s->name, wino ? " and Winograd" : "");
        test_shape(s, 0, 0);
        for (isa = 0; isa < isas && wino && s->size == 3 && s->stride == 1 && s->pad == 1; ++isa) {
            if (isa) setenv("DARKNET_WINOGRAD_ISA", "avx2", 1);
            test_shape(s, 7, 0);
            /* widths that take F(4x4, 3x3) by default: F(2x2, 3x3) on them too */
            if (s->w % 8 == 0) test_shape(s, 7, 2);
            if (i < 3) {
                test_shape(s, 3, 0);
                test_shape(s, 5, 0);
            }
        }
        unsetenv("DARKNET_WINOGRAD_ISA");
        case_end();
    }
    test_full_layer();
    test_bn_stats();
    {
        static const struct { ACTIVATION a; const char *name; } acts[] = {
            {LINEAR, "linear"}, {RELU, "relu"}, {LEAKY, "leaky"}, {LOGISTIC, "logistic"}};
        int bn, k, path;
        for (path = 0; path < 2; ++path) {
            setenv("DARKNET_WINOGRAD", path ? "7" : "0", 1);
            for (bn = 0; bn < 2; ++bn)
                for (k = 0; k < 4; ++k) test_inference_layer(3, 1 + !path, bn, acts[k].a, acts[k].name);
        }
    }
    test_resnet32("ResNet-32 with ELU, oneDNN", 1, TOL_NET_GRAD_SMOOTH, 0);
    if (wino) test_resnet32(wide ? "ResNet-32 with ELU, Winograd, AVX-512 products" : "ResNet-32 with ELU, Winograd",
                            1, TOL_NET_GRAD_SMOOTH, 1);
    if (wide) {
        setenv("DARKNET_WINOGRAD_ISA", "avx2", 1);
        test_resnet32("ResNet-32 with ELU, Winograd, AVX2 products", 1, TOL_NET_GRAD_SMOOTH, 1);
        unsetenv("DARKNET_WINOGRAD_ISA");
    }
    test_resnet32("ResNet-32", 0, TOL_NET_GRAD_RELU, wino);
    return harness_finish();
}
