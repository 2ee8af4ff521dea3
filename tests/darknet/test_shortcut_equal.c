/* Darknet's [shortcut] between equal shapes (a residual block's identity), the path that
 * darknet-patches 0023 and 0078 fuse: forward in one pass, and backward with the
 * activation's gradient in the same pass as both input deltas (for linear, ReLU and leaky;
 * other activations keep gradient_array's pass first). Checked against a naive reference:
 *
 *   forward   out = act(alpha main + beta from)
 *   backward  g = delta_out act'(out); main's delta += alpha g, from's delta += beta g
 *             (both add to what is there: they start non-zero)
 *
 * for linear, ReLU, leaky and logistic (the unfused one), alpha and beta not 1, at two
 * sizes: one below the 32768 values from which the loops run over OpenMP threads, one above.
 * Glossary: B batch, C channels, H x W positions; every tensor [B, C, H, W].
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "shortcut_layer.h"

#include "act_ref.h"
#include "harness.h"

static float frand(void) { return (float)rand() / RAND_MAX * 2.f - 1.f; }

static void run(ACTIVATION act, const char *aname, int B, int C, int H, int W)
{
    const int n = B * C * H * W;
    float *from = malloc(n * sizeof(float)), *from_delta = malloc(n * sizeof(float));
    float *main_out = malloc(n * sizeof(float)), *main_delta = malloc(n * sizeof(float));
    float *d_out = malloc(n * sizeof(float));
    double *want_from = malloc(n * sizeof(double)), *want_main = malloc(n * sizeof(double));
    const float alpha = 0.75f, beta = 1.25f;
    layer layers[1];
    network net;
    layer l;
    int i, active = 0;
    double err_out = 0, err_main = 0, err_from = 0, gmax = 0;

    for (i = 0; i < n; ++i) {
        from[i] = frand(); from_delta[i] = frand();
        main_out[i] = frand(); main_delta[i] = frand(); d_out[i] = frand();
    }
    memset(layers, 0, sizeof(layers));
    layers[0].output = from;
    layers[0].delta = from_delta;
    l = make_shortcut_layer(B, 0, W, H, C, W, H, C);
    l.activation = act;
    l.alpha = alpha;
    l.beta = beta;
    memset(&net, 0, sizeof(net));
    net.layers = layers;
    net.input = main_out;
    net.delta = main_delta;
    net.train = 1;
    forward_shortcut_layer(l, net);
    for (i = 0; i < n; ++i) {
        double y = act_ref((double)alpha * main_out[i] + (double)beta * from[i], act);
        err_out = err_max(err_out, fabs(l.output[i] - y));
    }
    CHECK(err_out <= 1e-6, "shortcut, equal shapes (%s, %d values): forward = act(alpha main + beta from) "
          "(max error %.2g)", aname, n, err_out);

    memcpy(l.delta, d_out, n * sizeof(float));
    for (i = 0; i < n; ++i) {
        /* the gradient at the layer's own output, as the backward pass sees it */
        double g = d_out[i] * act_grad_ref(l.output[i], act);
        want_main[i] = main_delta[i] + alpha * g;
        want_from[i] = from_delta[i] + beta * g;
        gmax = fmax(gmax, fabs(g));
        active += g != d_out[i];
    }
    backward_shortcut_layer(l, net);
    for (i = 0; i < n; ++i) {
        err_main = err_max(err_main, fabs(main_delta[i] - want_main[i]));
        err_from = err_max(err_from, fabs(from_delta[i] - want_from[i]));
    }
    /* the activation changes some gradients (none for linear), and they are not all zero */
    CHECK(gmax > 0.1 && (act == LINEAR) == (active == 0),
          "shortcut, equal shapes (%s, %d values): the reference gradient is non-trivial (%d of %d changed by "
          "the activation)", aname, n, active, n);
    CHECK(err_main <= 1e-6 && err_from <= 1e-6, "shortcut, equal shapes (%s, %d values): backward adds alpha g to "
          "the main path's delta and beta g to the from layer's, g = delta_out act'(out) (max errors %.2g, %.2g)",
          aname, n, err_main, err_from);
    free(from); free(from_delta); free(main_out); free(main_delta); free(d_out);
    free(want_from); free(want_main);
    free(l.output);
    free(l.delta);
}

int main(void)
{
    static const struct { ACTIVATION a; const char *name; } acts[] = {
        {LINEAR, "linear"}, {RELU, "relu"}, {LEAKY, "leaky"}, {LOGISTIC, "logistic"}};
    size_t k;
    srand(3);
    for (k = 0; k < sizeof(acts) / sizeof(acts[0]); ++k) {
        run(acts[k].a, acts[k].name, 2, 3, 4, 5);        /* 120 values: one thread */
        run(acts[k].a, acts[k].name, 2, 16, 32, 33);     /* 33792: over threads */
    }
    return harness_finish();
}
