/* A convolutional layer's batch norm and activation in one pass (darknet-patches/0071):
 * forward_batchnorm_activate applies the activation in the batch norm's last pass over each
 * channel, backward_batchnorm_activate takes the activation's gradient in its first; the
 * layer calls them for linear, ReLU and leaky and keeps the separate passes for the others.
 * In training the layer's convolution writes straight into l.x and the batch norm reads it
 * from there (forward_batchnorm_activate_x, 0076); each OpenMP thread takes a run of
 * channels.
 *
 * Glossary: B batch, C channels, S = H x W positions, n = B x S values per channel.
 *
 * 1. The two functions against a naive double reference, for each fused activation, in
 *    training (batch statistics) and inference (rolling statistics):
 *      forward   y = act((x - mean_c) / sqrt(var_c + 1e-5) * scale_c + bias_c), x kept in
 *                l.x, the batch mean and biased variance in l.mean / l.variance, the
 *                rolling ones moved by 1% (the variance unbiased: n / (n - 1))
 *      backward  g = dy act'(y); bias_updates += sum g, scale_updates += sum g xhat,
 *                dx = scale / sqrt(var + 1e-5) (g - sum g / n - xhat sum g xhat / n)
 *                (inference: dx = g scale / sqrt(rolling_var + 1e-5), no updates)
 *    The updates start non-zero, so "adds to" is checked. The channels get offsets of a
 *    few units, so a mean folded wrongly into the shift shows.
 * 2. The whole layer (forward_/backward_convolutional_layer, Darknet's own gemm in the
 *    test build): central finite differences of input, weights, batch-norm scales and
 *    shifts (biases), with each fused activation and with logistic (the unfused path);
 *    elements whose +-h step crosses the ReLU/leaky kink are skipped.
 * 3. DARKNET_BN_FUSE=0 (the separate passes, for scripts/bench-cpu) gives the same layer
 *    results as the fused path, for ReLU and leaky (relative 1e-5).
 * Shapes: x, y, dy [B, C, H, W] = [3, 4, 5, 6]; the layer: input [3, 2, 5, 6], 4 filters
 * 3x3, stride 1, padding 1.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "batchnorm_layer.h"
#include "convolutional_layer.h"

#include "act_ref.h"
#include "gradcheck.h"
#include "harness.h"

enum { B = 3, CIN = 2, C = 4, H = 5, W = 6, S = H * W, N = B * C * S };
#define EPS 1e-5

static const struct { ACTIVATION a; const char *name; } acts[] = {
    {LINEAR, "linear"}, {RELU, "relu"}, {LEAKY, "leaky"}, {LOGISTIC, "logistic"}};

static layer bn_conv(ACTIVATION a)
{
    return make_convolutional_layer(B, H, W, CIN, C, 1, 3, 1, 1, a, 1, 0, 0, 0);
}

/* Part 1: forward_batchnorm_activate and backward_batchnorm_activate alone. */
static void check_functions(ACTIVATION a, const char *aname, int train)
{
    layer l = bn_conv(a);
    network net = {0};
    float x[N], dy[N], rm0[C], rv0[C], bu0[C], su0[C];
    double want_y[N], want_dx[N], want_bu[C], want_su[C], want_rm[C], want_rv[C];
    double mean[C], var[C];
    int b, f, i;
    const char *mode = train ? "training" : "inference";

    net.train = train;
    net.batch = B;
    for (f = 0; f < C; ++f) {
        l.scales[f] = 0.5f + 0.3f * f;
        l.biases[f] = -0.4f + 0.25f * f;
        rm0[f] = l.rolling_mean[f] = 2.f * f - 3.f + 0.1f;
        rv0[f] = l.rolling_variance[f] = 0.5f + 0.4f * f;
        bu0[f] = l.bias_updates[f] = 0.3f * f - 0.2f;
        su0[f] = l.scale_updates[f] = 0.1f - 0.2f * f;
    }
    for (b = 0; b < B; ++b)
        for (f = 0; f < C; ++f)
            for (i = 0; i < S; ++i) {
                int k = (b * C + f) * S + i;
                x[k] = (float)rand() / RAND_MAX * 2 - 1 + (2.f * f - 3.f);   /* offset per channel */
                dy[k] = (float)rand() / RAND_MAX * 2 - 1;
            }

    /* the reference statistics, in double */
    for (f = 0; f < C; ++f) {
        double s = 0, q = 0;
        for (b = 0; b < B; ++b) for (i = 0; i < S; ++i) s += x[(b * C + f) * S + i];
        mean[f] = train ? s / (B * S) : rm0[f];
        for (b = 0; b < B; ++b) for (i = 0; i < S; ++i) {
            double d = x[(b * C + f) * S + i] - s / (B * S);
            q += d * d;
        }
        var[f] = train ? q / (B * S) : rv0[f];
        want_rm[f] = train ? .99 * rm0[f] + .01 * mean[f] : rm0[f];
        want_rv[f] = train ? .99 * rv0[f] + .01 * var[f] * (B * S) / (B * S - 1.) : rv0[f];
    }
    for (f = 0; f < C; ++f) {
        double inv = 1 / sqrt(var[f] + EPS), sg = 0, sgx = 0;
        for (b = 0; b < B; ++b) for (i = 0; i < S; ++i) {
            int k = (b * C + f) * S + i;
            double xhat = (x[k] - mean[f]) * inv;
            want_y[k] = act_ref(xhat * l.scales[f] + l.biases[f], a);
            double g = dy[k] * act_grad_ref(want_y[k], a);
            sg += g;
            sgx += g * xhat;
        }
        want_bu[f] = bu0[f] + (train ? sg : 0);
        want_su[f] = su0[f] + (train ? sgx : 0);
        for (b = 0; b < B; ++b) for (i = 0; i < S; ++i) {
            int k = (b * C + f) * S + i;
            double xhat = (x[k] - mean[f]) * inv;
            double g = dy[k] * act_grad_ref(want_y[k], a);
            want_dx[k] = train ? l.scales[f] * inv * (g - sg / (B * S) - xhat * sgx / (B * S))
                               : g * l.scales[f] * inv;
        }
    }

    memcpy(l.output, x, sizeof(x));
    forward_batchnorm_activate(l, net, a);
    double e_y = 0, e_x = 0, e_st = 0, m_dx = 0;
    for (i = 0; i < N; ++i) e_y = err_max(e_y, fabs(l.output[i] - want_y[i]));
    CHECK(e_y <= 2e-6, "bn+%s (%s): forward = act(normalised x * scale + shift) (max err %.2g)", aname, mode, e_y);
    if (train) {
        for (i = 0; i < N; ++i) e_x = err_max(e_x, fabs(l.x[i] - x[i]));
        for (f = 0; f < C; ++f) {
            e_st = err_max(e_st, fabs(l.mean[f] - mean[f]));
            e_st = err_max(e_st, fabs(l.variance[f] - var[f]));
        }
        CHECK(e_x == 0 && e_st <= 1e-6, "bn+%s (training): l.x holds the input, l.mean and l.variance the batch "
              "statistics (max err %.2g, %.2g)", aname, e_x, e_st);
    }
    e_st = 0;
    for (f = 0; f < C; ++f) {
        e_st = err_max(e_st, fabs(l.rolling_mean[f] - want_rm[f]));
        e_st = err_max(e_st, fabs(l.rolling_variance[f] - want_rv[f]));
    }
    CHECK(e_st <= 1e-6, "bn+%s (%s): rolling statistics %s (max err %.2g)", aname, mode,
          train ? "moved 1% toward the batch's (variance unbiased)" : "unchanged", e_st);

    memcpy(l.delta, dy, sizeof(dy));
    backward_batchnorm_activate(l, net, a);
    double e_dx = 0, e_u = 0;
    for (i = 0; i < N; ++i) {
        e_dx = err_max(e_dx, fabs(l.delta[i] - want_dx[i]));
        m_dx = fmax(m_dx, fabs(want_dx[i]));
    }
    for (f = 0; f < C; ++f) {
        e_u = err_max(e_u, fabs(l.bias_updates[f] - want_bu[f]) / fmax(1, fabs(want_bu[f])));
        e_u = err_max(e_u, fabs(l.scale_updates[f] - want_su[f]) / fmax(1, fabs(want_su[f])));
    }
    CHECK(e_dx <= 1e-5 * fmax(1, m_dx) && m_dx > 0.1, "bn+%s (%s): backward delta = the chain through the activation "
          "and the batch norm (max err %.2g, max |dx| %.2g)", aname, mode, e_dx, m_dx);
    CHECK(e_u <= 1e-5, "bn+%s (%s): bias and scale updates %s (max rel err %.2g)", aname, mode,
          train ? "add sum g and sum g xhat" : "unchanged", e_u);
    free_layer(l);
}

/* Part 2: the layer, finite differences. */
static void check_layer_fd(ACTIVATION a, const char *aname)
{
    layer l = bn_conv(a);
    gc_layer_net t;
    gc_opts o = gc_default_opts();
    gc_result r;
    gc_var vars[4];
    int f;

    srand(11);
    gc_fill_uniform(l.weights, l.nweights, -0.5f, 0.5f);
    for (f = 0; f < C; ++f) { l.scales[f] = 0.6f + 0.2f * f; l.biases[f] = 0.2f - 0.15f * f; }
    gc_layer_net_init(&t, &l, 23, 0);
    /* h = 3e-3, not the default 1e-3: after the batch norm the input gradients are
       differences of nearly equal terms, and at h = 1e-3 the float rounding of the loss
       difference alone reached the 1e-2 tolerance in the sanitizer build. A larger h
       skips more elements at the ReLU kink (at 1e-2, 31 of the 72 weights) */
    o.step = 3e-3;
    if (a == RELU || a == LEAKY) o.kink = gc_layer_kink_sign;
    vars[0] = (gc_var){"input", t.input, B * l.inputs, t.input_delta};
    vars[1] = (gc_var){"weights", l.weights, l.nweights, l.weight_updates};
    vars[2] = (gc_var){"scales", l.scales, C, l.scale_updates};
    vars[3] = (gc_var){"biases", l.biases, C, l.bias_updates};
    int ok = gradcheck(aname, vars, 4, gc_layer_loss, gc_layer_grad, &t, &o, &r);
    CHECK(ok && r.checked >= (B * l.inputs + l.nweights + 2 * C) * 3 / 4 && r.max_abs_grad > 1e-2,
          "conv+bn+%s layer (%s path): FD gradients of input, weights, scales and shifts (%d checked, %d skipped "
          "at the kink, max rel err %.2g)", aname, batchnorm_fuses(a) ? "fused" : "separate", r.checked,
          r.skipped, r.max_rel_err);
    gc_layer_net_free(&t);
    free_layer(l);
}

/* Part 3: DARKNET_BN_FUSE=0 (the separate passes, for benchmarks) computes the same layer. */
static void check_env_switch(ACTIVATION a, const char *aname)
{
    layer l = bn_conv(a);
    network net = {0};
    float in[B * CIN * S], dy[N], *res[2][6];
    int pass, i, f;

    for (i = 0; i < B * CIN * S; ++i) in[i] = (float)rand() / RAND_MAX * 2 - 1;
    for (i = 0; i < N; ++i) dy[i] = (float)rand() / RAND_MAX * 2 - 1;
    gc_fill_uniform(l.weights, l.nweights, -0.5f, 0.5f);
    for (f = 0; f < C; ++f) { l.scales[f] = 0.7f + 0.1f * f; l.biases[f] = 0.1f * f - 0.1f; }
    net.input = in;
    net.train = 1;
    net.batch = B;
    net.workspace = calloc(l.workspace_size / sizeof(float) + 1, sizeof(float));
    net.delta = calloc(B * CIN * S, sizeof(float));
    /* output, weight_updates, bias_updates, scale_updates, input delta, and l.x: the fused
       path's convolution writes its output there directly (0076), the separate one copies it */
    const int len[6] = {N, l.nweights, C, C, B * CIN * S, N};
    for (pass = 0; pass < 2; ++pass) {
        if (pass) setenv("DARKNET_BN_FUSE", "0", 1);
        memset(l.weight_updates, 0, l.nweights * sizeof(float));
        memset(l.bias_updates, 0, C * sizeof(float));
        memset(l.scale_updates, 0, C * sizeof(float));
        memset(net.delta, 0, B * CIN * S * sizeof(float));
        forward_convolutional_layer(l, net);
        memcpy(l.delta, dy, sizeof(dy));
        backward_convolutional_layer(l, net);
        float *src[6] = {l.output, l.weight_updates, l.bias_updates, l.scale_updates, net.delta, l.x};
        for (i = 0; i < 6; ++i) {
            res[pass][i] = malloc(len[i] * sizeof(float));
            memcpy(res[pass][i], src[i], len[i] * sizeof(float));
        }
    }
    int fused_off = !batchnorm_fuses(a);
    unsetenv("DARKNET_BN_FUSE");
    double e = 0, m = 0;
    for (i = 0; i < 6; ++i) {
        int j;
        for (j = 0; j < len[i]; ++j) {
            e = err_max(e, fabs(res[0][i][j] - res[1][i][j]) / fmax(1, fabs(res[1][i][j])));
            m = fmax(m, fabs(res[1][i][j]));
        }
        free(res[0][i]);
        free(res[1][i]);
    }
    CHECK(fused_off && e <= 1e-5 && m > 0.1, "conv+bn+%s layer: DARKNET_BN_FUSE=0 turns the fusion off and "
          "computes the same output, updates, input delta and pre-normalisation values in l.x (max rel err %.2g)",
          aname, e);
    free(net.workspace);
    free(net.delta);
    free_layer(l);
}

int main(void)
{
    size_t k;
    srand(7);
    unsetenv("DARKNET_BN_FUSE");   /* the default, whatever the caller's environment says */
    CHECK(batchnorm_fuses(LINEAR) && batchnorm_fuses(RELU) && batchnorm_fuses(LEAKY) && !batchnorm_fuses(LOGISTIC)
          && !batchnorm_fuses(ELU), "batchnorm_fuses: linear, relu and leaky; not logistic or elu");
    for (k = 0; k < 3; ++k) {
        check_functions(acts[k].a, acts[k].name, 1);
        check_functions(acts[k].a, acts[k].name, 0);
    }
    for (k = 0; k < sizeof(acts) / sizeof(acts[0]); ++k) check_layer_fd(acts[k].a, acts[k].name);
    check_env_switch(RELU, "relu");
    check_env_switch(LEAKY, "leaky");
    return harness_finish();
}
