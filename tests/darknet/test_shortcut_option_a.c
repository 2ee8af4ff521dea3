/* Darknet's [shortcut] between different shapes is ResNet's parameter-free "option A"
 * shortcut, which scripts/make-cfgs uses where a ResNet-32 stage starts (LGLA's
 * LambdaLayer: x[:, :, ::2, ::2] with zero channels padded). Checked on the stock layer
 * (build/darknet/src/shortcut_layer.c and blas.c shortcut_cpu; patch 0023 fuses only the
 * equal-shape case, so this is the unfused path) against a hand-written reference:
 *
 *   forward   out[b, k, y, x] = main[b, k, y, x] + (k < C1 ? in[b, k, 2y, 2x] : 0),
 *             then the activation (linear and ReLU)
 *   backward  the main path's delta gets delta_out (times the activation's derivative)
 *             in every channel; the block input's delta gets it at the even positions of
 *             the first C1 channels and nothing elsewhere; both add to what is there
 *
 * LGLA pads the zero channels on both sides (C1/2 before, C1/2 after); Darknet puts the
 * input's channels first. The two differ by a fixed channel permutation of the stage, which
 * the following layers' weights absorb: the same function class and, with i.i.d. initial
 * weights, the same initial distribution.
 * Shapes: in [B, C1, H, W] = [2, 2, 4, 6], main and out [B, C2, H/2, W/2] = [2, 4, 2, 3].
 *
 * groups=2 (darknet-patches/0060, the grouped expert cfgs): the same per block of channels,
 * block g of the input (C1/2 channels) into the first channels of block g of the output
 * (C2/2 channels): out[b, g C2/2 + k] gets in[b, g C1/2 + k] for k < C1/2.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "shortcut_layer.h"

#include "harness.h"

enum { B = 2, C1 = 2, H = 4, W = 6, C2 = 4, H2 = 2, W2 = 3 };
#define NIN (B * C1 * H * W)
#define NOUT (B * C2 * H2 * W2)

static float frand(void) { return (float)rand() / RAND_MAX * 2.f - 1.f; }

static void run(ACTIVATION act, const char *aname, int G)
{
    const int c1g = C1 / G, c2g = C2 / G;
    float in[NIN], main_out[NOUT], in_delta[NIN], main_delta[NOUT], d_out[NOUT];
    float want_out[NOUT], want_in_delta[NIN], want_main_delta[NOUT];
    layer layers[2];
    network net;
    layer l;
    int b, k, y, x, i;
    double err_out = 0, err_in = 0, err_main = 0;

    for (i = 0; i < NIN; ++i) { in[i] = frand(); in_delta[i] = frand(); }
    for (i = 0; i < NOUT; ++i) { main_out[i] = frand(); main_delta[i] = frand(); d_out[i] = frand(); }

    /* layer 0: the block input (only its output and delta are read) */
    memset(layers, 0, sizeof(layers));
    layers[0].output = in;
    layers[0].delta = in_delta;
    l = make_shortcut_layer(B, 0, W2, H2, C2, W, H, C1);
    l.activation = act;
    l.alpha = l.beta = 1;     /* parse_shortcut's defaults */
    l.groups = G;
    memset(&net, 0, sizeof(net));
    net.layers = layers;
    net.input = main_out;      /* the previous layer: the main path */
    net.delta = main_delta;
    net.train = 1;
    forward_shortcut_layer(l, net);

    for (b = 0; b < B; ++b)
        for (k = 0; k < C2; ++k)
            for (y = 0; y < H2; ++y)
                for (x = 0; x < W2; ++x) {
                    const int o = ((b * C2 + k) * H2 + y) * W2 + x;
                    const int g = k / c2g, kk = k % c2g;
                    double v = main_out[o];
                    if (kk < c1g) v += in[((b * C1 + g * c1g + kk) * H + 2 * y) * W + 2 * x];
                    if (act == RELU && v < 0) v = 0;
                    want_out[o] = (float)v;
                    err_out = err_max(err_out, fabs(l.output[o] - v));
                }
    CHECK(err_out <= 1e-6, "shortcut option A (%s, groups=%d): forward = main path + input sampled at stride 2 "
          "into the first %d of %d channels of each block (max error %.2g)", aname, G, c1g, c2g, err_out);

    memcpy(want_in_delta, in_delta, sizeof(in_delta));
    memcpy(want_main_delta, main_delta, sizeof(main_delta));
    memcpy(l.delta, d_out, sizeof(d_out));
    for (b = 0; b < B; ++b)
        for (k = 0; k < C2; ++k)
            for (y = 0; y < H2; ++y)
                for (x = 0; x < W2; ++x) {
                    const int o = ((b * C2 + k) * H2 + y) * W2 + x;
                    const float g = (act == RELU && want_out[o] <= 0) ? 0 : d_out[o];
                    const int blk = k / c2g, kk = k % c2g;
                    want_main_delta[o] += g;
                    if (kk < c1g) want_in_delta[((b * C1 + blk * c1g + kk) * H + 2 * y) * W + 2 * x] += g;
                }
    backward_shortcut_layer(l, net);
    for (i = 0; i < NOUT; ++i) err_main = err_max(err_main, fabs(main_delta[i] - want_main_delta[i]));
    for (i = 0; i < NIN; ++i) err_in = err_max(err_in, fabs(in_delta[i] - want_in_delta[i]));
    CHECK(err_main <= 1e-6, "shortcut option A (%s, groups=%d): backward adds delta_out to the main path's delta "
          "in all %d channels (max error %.2g)", aname, G, C2, err_main);
    CHECK(err_in <= 1e-6, "shortcut option A (%s, groups=%d): backward adds delta_out to the input's delta at the "
          "even positions of its %d channels only, the odd positions unchanged (max error %.2g)",
          aname, G, C1, err_in);
    free(l.output);
    free(l.delta);
}

int main(void)
{
    srand(5);
    run(LINEAR, "linear", 1);
    run(RELU, "relu", 1);
    run(LINEAR, "linear", 2);
    run(RELU, "relu", 2);
    return harness_finish();
}
