/* Self-test of the finite-difference gradient checker (gradcheck.c):
 *   - on closed-form functions, where the exact gradient is known;
 *   - on stock Darknet layers, whose backward passes are the reference the plugin layers are
 *     held to: [connected], [convolutional] with and without batch_normalize, and softmax
 *     with its cross-entropy loss (one-hot and soft two-hot truths);
 *   - negative tests: a gradient off by 10% in one element, a flipped sign, and a loss that
 *     is not reseeded must each be REPORTED by the checker.
 * The stock-layer checks also pin Darknet's sign convention: delta and *_updates hold
 * -dL/dx, and the checker compares the central difference with minus the stored value.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "connected_layer.h"
#include "convolutional_layer.h"
#include "softmax_layer.h"

#include "gradcheck.h"
#include "harness.h"

/* ---- closed-form functions: L = sum_i c_i x_i^3 + sin(x_i), dL/dx_i = 3 c_i x_i^2 + cos(x_i) ---- */

typedef struct {
    float x[8], c[8], grad[8];
    float wrong_scale;   /* multiplies grad[wrong_index] when != 1 */
    int wrong_index;
    int noisy;           /* loss adds rand() noise without reseeding */
} toy;

static double toy_loss(void *ctx)
{
    toy *t = ctx;
    double s = 0;
    int i;
    for (i = 0; i < 8; ++i) s += t->c[i] * pow(t->x[i], 3) + sin(t->x[i]);
    if (t->noisy) s += 1e-3 * rand() / RAND_MAX;
    return s;
}

static void toy_grad(void *ctx)
{
    toy *t = ctx;
    int i;
    for (i = 0; i < 8; ++i) t->grad[i] -= (float)(3 * t->c[i] * t->x[i] * t->x[i] + cos(t->x[i]));
    if (t->wrong_scale != 1) t->grad[t->wrong_index] *= t->wrong_scale;
}

static void toy_init(toy *t)
{
    int i;
    memset(t, 0, sizeof(*t));
    for (i = 0; i < 8; ++i) {
        t->x[i] = -1.5f + 0.4f * i;
        t->c[i] = 0.5f + 0.25f * (i % 3);
    }
    t->wrong_scale = 1;
}

static void test_toy(void)
{
    toy t;
    gc_result r;
    gc_opts o = gc_default_opts();
    gc_var v = {"x", 0, 8, 0};
    int ok;

    toy_init(&t);
    v.x = t.x;
    v.grad = t.grad;
    ok = gradcheck("toy", &v, 1, toy_loss, toy_grad, &t, &o, &r);
    CHECK(ok && r.checked == 8 && r.failed == 0, "gradcheck: exact gradient of a cubic passes (%d checked)", r.checked);
    CHECK(r.max_rel_err < 1e-4, "gradcheck: cubic central-difference error tiny (max rel %.3g)", r.max_rel_err);

    /* One element 10% off must be caught, and only that one. */
    t.wrong_scale = 1.1f;
    t.wrong_index = 5;
    o.quiet = 1;
    ok = gradcheck("toy-wrong", &v, 1, toy_loss, toy_grad, &t, &o, &r);
    CHECK(!ok && r.failed == 1, "gradcheck: reports one element scaled by 1.1 (failed=%d)", r.failed);

    /* One element stored with the wrong sign (+dL/dx) must be caught. */
    t.wrong_scale = -1;
    t.wrong_index = 2;
    ok = gradcheck("toy-sign", &v, 1, toy_loss, toy_grad, &t, &o, &r);
    CHECK(!ok && r.failed == 1, "gradcheck: reports one element with a flipped sign (failed=%d)", r.failed);

    /* A loss that is not reseeded before each evaluation must be refused. */
    t.wrong_scale = 1;
    t.noisy = 1;
    ok = gradcheck("toy-noisy", &v, 1, toy_loss, toy_grad, &t, &o, &r);
    CHECK(!ok && r.nondeterministic, "gradcheck: refuses a loss that is not repeatable");
}

/* ---- a small element: L = sum_i w_i x_i^2 / 2 with w = 1000 for x_0, 1 for the others ----
 * dL/dx_i = w_i x_i: element 1 is 1e-3 of the largest gradient. A 2x error there must be
 * caught: the floor of 0.1 x the largest gradient that the checker once had let it pass
 * (tolerance 1e-2 x 0.1 x 1000 = 1, error 1). */

typedef struct {
    float x[4], grad[4];
    float wrong_scale;   /* multiplies grad[1] */
} quad;

static double quad_loss(void *ctx)
{
    quad *q = ctx;
    double s = 0;
    int i;
    for (i = 0; i < 4; ++i) s += (i == 0 ? 1000.0 : 1.0) * q->x[i] * q->x[i] / 2;
    return s;
}

static void quad_grad(void *ctx)
{
    quad *q = ctx;
    int i;
    for (i = 0; i < 4; ++i) q->grad[i] -= (float)((i == 0 ? 1000.0 : 1.0) * q->x[i]);
    q->grad[1] *= q->wrong_scale;
}

static void test_small_element(void)
{
    quad q = {{1, 1, 0.5f, -0.75f}, {0}, 1};
    gc_var v = {"x", q.x, 4, q.grad};
    gc_opts o = gc_default_opts();
    gc_result r;
    int ok = gradcheck("quad", &v, 1, quad_loss, quad_grad, &q, &o, &r);
    CHECK(ok && r.checked == 4, "gradcheck: gradients 1000x apart all pass when right (max rel %.2g)", r.max_rel_err);
    q.wrong_scale = 2;
    o.quiet = 1;
    ok = gradcheck("quad-small-wrong", &v, 1, quad_loss, quad_grad, &q, &o, &r);
    CHECK(!ok && r.failed == 1, "gradcheck: reports a 2x error in an element 1e-3 of the largest (failed=%d)", r.failed);
}

/* ---- skipped elements: a kink callback that skips too many must fail the check ---- */

static int skip_half(void *ctx, const gc_var *var, int i, double step) { return i % 2 == 0; }

static void test_skip_bound(void)
{
    toy t;
    gc_var v = {"x", 0, 8, 0};
    gc_opts o = gc_default_opts();
    gc_result r;
    int ok;
    toy_init(&t);
    v.x = t.x;
    v.grad = t.grad;
    o.kink = skip_half;
    ok = gradcheck("toy-skip-half", &v, 1, toy_loss, toy_grad, &t, &o, &r);
    CHECK(!ok && r.failed == 0 && r.skipped == 4,
          "gradcheck: half the elements skipped at kinks fails the check (max_skip %.2f)", o.max_skip);
}

/* ---- kinks: a ReLU whose pre-activation sits within one step of 0 ---- */

static void test_kink(void)
{
    const int B = 2, IN = 4, OUT = 3;
    layer l;
    gc_layer_net t;
    gc_result r;
    gc_opts o = gc_default_opts();
    gc_var vars[2];
    int k, ok;

    srand(404);
    l = make_connected_layer(B, IN, OUT, RELU, 0, 0);
    gc_layer_net_init(&t, &l, 9, 0);
    /* Put output 1 of row 0 at pre-activation +2e-4: a 1e-3 step on a weight of that output
     * crosses the kink, and the central difference there is not the derivative. */
    gc_layer_loss(&t);
    {
        double z = 0;
        for (k = 0; k < IN; ++k) z += (double)l.weights[1 * IN + k] * t.input[k];
        l.biases[1] = (float)(2e-4 - z);
    }
    vars[0] = (gc_var){"weights", l.weights, IN * OUT, l.weight_updates};
    vars[1] = (gc_var){"biases", l.biases, OUT, l.bias_updates};

    o.quiet = 1;
    ok = gradcheck("relu-kink-unguarded", vars, 2, gc_layer_loss, gc_layer_grad, &t, &o, &r);
    CHECK(!ok && r.failed > 0, "kink: without the kink callback the crossing is reported (%d elements)", r.failed);

    o.kink = gc_layer_kink_sign;
    o.max_skip = 1;   /* a third of this tiny layer sits at the kink on purpose */
    ok = gradcheck("relu-kink-guarded", vars, 2, gc_layer_loss, gc_layer_grad, &t, &o, &r);
    CHECK(ok && r.skipped > 0 && r.skipped <= IN + 1 && r.checked + r.skipped == IN * OUT + OUT,
          "kink: gc_layer_kink_sign skips only the crossing elements (%d skipped, %d checked)",
          r.skipped, r.checked);

    gc_layer_net_free(&t);
    free_layer(l);
}

/* ---- [connected] ---- */

typedef struct {
    gc_layer_net t;
    float *corrupt;      /* element to corrupt after the real backward pass */
    float factor;
} corrupting;

static double corrupt_loss(void *ctx) { return gc_layer_loss(&((corrupting *)ctx)->t); }
static void corrupt_grad(void *ctx)
{
    corrupting *c = ctx;
    gc_layer_grad(&c->t);
    if (c->corrupt) *c->corrupt *= c->factor;
}

static int argmax_abs(const float *x, int n)
{
    int i, best = 0;
    for (i = 1; i < n; ++i) if (fabsf(x[i]) > fabsf(x[best])) best = i;
    return best;
}

static void test_connected(void)
{
    const int B = 3, IN = 7, OUT = 5;
    layer l;
    corrupting c;
    gc_result r;
    gc_opts o = gc_default_opts();
    gc_var vars[3];
    int ok, i, k;

    srand(101);
    l = make_connected_layer(B, IN, OUT, LOGISTIC, 0, 0);
    gc_fill_uniform(l.biases, OUT, -0.5f, 0.5f);
    memset(&c, 0, sizeof(c));
    gc_layer_net_init(&c.t, &l, 7, 0);
    vars[0] = (gc_var){"input", c.t.input, B * IN, c.t.input_delta};
    vars[1] = (gc_var){"weights", l.weights, IN * OUT, l.weight_updates};
    vars[2] = (gc_var){"biases", l.biases, OUT, l.bias_updates};

    /* The forward pass itself: out = logistic(W x + b), against a double reference. */
    gc_layer_loss(&c.t);
    {
        double maxerr = 0;
        for (i = 0; i < B * OUT; ++i) {
            int b = i / OUT, j = i % OUT;
            double z = l.biases[j];
            for (k = 0; k < IN; ++k) z += (double)l.weights[j * IN + k] * c.t.input[b * IN + k];
            maxerr = err_max(maxerr, fabs(1 / (1 + exp(-z)) - l.output[i]));
        }
        CHECK_CLOSE(maxerr, 0, 1e-6, "connected: forward matches logistic(Wx+b) in double");
    }

    ok = gradcheck("connected", vars, 3, gc_layer_loss, gc_layer_grad, &c.t, &o, &r);
    CHECK(ok && r.checked == B * IN + IN * OUT + OUT,
          "connected: FD gradients of input, weights, biases match -delta/-updates (%d checked, max rel %.2g)",
          r.checked, r.max_rel_err);
    CHECK(r.max_abs_grad > 0.05, "connected: gradients are not trivially small (max |g| %.3g)", r.max_abs_grad);

    /* Negative: the largest weight gradient scaled by 1.1 must be reported. */
    o.quiet = 1;
    memset(l.weight_updates, 0, sizeof(float) * IN * OUT);
    memset(l.bias_updates, 0, sizeof(float) * OUT);
    gc_layer_grad(&c.t);   /* fresh gradients to pick the largest elements from */
    c.corrupt = &l.weight_updates[argmax_abs(l.weight_updates, IN * OUT)];
    c.factor = 1.1f;
    ok = gradcheck("connected-wrong", vars, 3, corrupt_loss, corrupt_grad, &c, &o, &r);
    CHECK(!ok && r.failed == 1, "connected: checker reports a weight gradient scaled by 1.1 (failed=%d)", r.failed);

    /* Negative: the sign flipped on the largest input gradient must be reported. */
    c.corrupt = &c.t.input_delta[argmax_abs(c.t.input_delta, B * IN)];
    c.factor = -1;
    ok = gradcheck("connected-sign", vars, 3, corrupt_loss, corrupt_grad, &c, &o, &r);
    CHECK(!ok && r.failed == 1, "connected: checker reports an input gradient with flipped sign (failed=%d)", r.failed);

    gc_layer_net_free(&c.t);
    free_layer(l);
}

/* ---- [convolutional] ---- */

/* Without batch_normalize: leaky activation, which exercises the kink callback.
 * With batch_normalize: the batch statistics are accumulated in float, so a perturbation
 * moves the mean and variance by about h/N, close to their rounding noise; a step of 1e-2
 * and a smooth activation keep the central differences clean. N = batch * spatial = 512 is
 * large on purpose: Darknet's BN backward differentiates the variance with 1/N while its
 * forward divides by N - 1 (blas.c variance_cpu), an O(1/N) mismatch that a small batch
 * turns into errors of 10% and more on the weights (reported, not patched). */
static void test_convolutional(int batch_normalize)
{
    const int B = batch_normalize ? 8 : 2, H = batch_normalize ? 8 : 5, W = H, C = 3, N = 4, SIZE = 3;
    const char *tag = batch_normalize ? "convolutional+bn" : "convolutional";
    layer l;
    gc_layer_net t;
    gc_result r;
    gc_opts o = gc_default_opts();
    gc_var vars[4];
    int nv = 0, ok, expect;

    srand(202 + batch_normalize);
    /* pad 1 keeps the output H x W */
    l = make_convolutional_layer(B, H, W, C, N, 1, SIZE, 1, 1, batch_normalize ? LOGISTIC : LEAKY,
                                 batch_normalize, 0, 0, 0);
    gc_fill_uniform(l.biases, N, -0.3f, 0.3f);
    if (batch_normalize) gc_fill_uniform(l.scales, N, 0.5f, 1.5f);
    gc_layer_net_init(&t, &l, 11, 0);
    vars[nv++] = (gc_var){"input", t.input, B * H * W * C, t.input_delta};
    vars[nv++] = (gc_var){"weights", l.weights, l.nweights, l.weight_updates};
    vars[nv++] = (gc_var){"biases", l.biases, N, l.bias_updates};
    if (batch_normalize) vars[nv++] = (gc_var){"scales", l.scales, N, l.scale_updates};
    expect = B * H * W * C + l.nweights + N + (batch_normalize ? N : 0);

    if (batch_normalize) o.step = 1e-2;
    else o.kink = gc_layer_kink_sign;
    ok = gradcheck(tag, vars, nv, gc_layer_loss, gc_layer_grad, &t, &o, &r);
    CHECK(ok && r.checked + r.skipped == expect,
          "%s: FD gradients of input, weights, biases%s match (%d checked, max rel %.2g)",
          tag, batch_normalize ? ", scales" : "", r.checked, r.max_rel_err);
    /* A skipped element is not a checked one: most must have been compared. */
    if (o.kink)
        CHECK(r.skipped * 20 <= expect, "%s: kink skipping left %d of %d elements unchecked (<= 5%%)",
              tag, r.skipped, expect);
    CHECK(r.max_abs_grad > 0.05, "%s: gradients are not trivially small (max |g| %.3g)", tag, r.max_abs_grad);

    gc_layer_net_free(&t);
    free_layer(l);
}

/* ---- softmax + cross-entropy ---- */

/* -sum t log p in double, from the layer's outputs. */
static double soft_cross_entropy(const gc_layer_net *t)
{
    const layer *l = t->l;
    double s = 0;
    int i;
    for (i = 0; i < l->batch * l->outputs; ++i)
        if (t->truth[i]) s -= t->truth[i] * log((double)l->output[i]);
    return s;
}

/* One-hot truth: L is the layer's own cost, so the check ties its cost to its delta.
 * Soft two-hot truth (0.7 / 0.3): L is the soft cross-entropy -sum t log p computed here,
 * because Darknet's cost sums -log p over every class with t != 0, unweighted by t
 * (blas.c softmax_x_ent_cpu), which is not the function its delta t - p differentiates
 * (reported, not patched; a check of the layer's own soft cost belongs here once the
 * soft-label loss lands). */
static void test_softmax(int soft)
{
    const int B = 4, K = 6;
    const char *tag = soft ? "softmax x-ent (soft two-hot truth)" : "softmax x-ent (one-hot truth)";
    layer l;
    gc_layer_net t;
    gc_result r;
    gc_opts o = gc_default_opts();
    gc_var v;
    int b, k, ok;
    double maxerr = 0, cost = 0;

    srand(303 + soft);
    l = make_softmax_layer(B, K, 1);
    l.temperature = 1;   /* set by the cfg parser, not by make_softmax_layer */
    gc_layer_net_init(&t, &l, 13 + soft, 1);
    if (soft) t.objective = soft_cross_entropy;
    for (k = 0; k < B * K; ++k) t.input[k] *= 3;
    for (b = 0; b < B; ++b) {
        if (soft) {
            t.truth[b * K + (b % K)] = 0.7f;
            t.truth[b * K + ((b + 2) % K)] = 0.3f;
        } else {
            t.truth[b * K + ((3 * b + 1) % K)] = 1;
        }
    }
    v = (gc_var){"input", t.input, B * K, t.input_delta};

    /* Forward and delta against a double reference: p = softmax(z), delta = t - p. */
    gc_layer_grad(&t);
    for (b = 0; b < B; ++b) {
        double mx = -1e30, z = 0;
        for (k = 0; k < K; ++k) mx = fmax(mx, t.input[b * K + k]);
        for (k = 0; k < K; ++k) z += exp(t.input[b * K + k] - mx);
        for (k = 0; k < K; ++k) {
            double p = exp(t.input[b * K + k] - mx) / z, tr = t.truth[b * K + k];
            maxerr = err_max(maxerr, fabs(p - l.output[b * K + k]));
            maxerr = err_max(maxerr, fabs((tr - p) - t.input_delta[b * K + k]));
            if (tr) cost -= tr * log(p);
        }
    }
    CHECK_CLOSE(maxerr, 0, 1e-6, "%s: output and input delta (truth - p) match double reference", tag);
    if (!soft) CHECK_CLOSE(l.cost[0], cost, 1e-5 * fabs(cost), "%s: cost = -sum log p(true class)", tag);

    /* The layer's cost is a float sum: a larger step keeps its rounding out of the quotient. */
    if (!soft) o.step = 1e-2;
    ok = gradcheck(tag, &v, 1, gc_layer_loss, gc_layer_grad, &t, &o, &r);
    CHECK(ok && r.checked == B * K, "%s: FD gradient of the cost matches -delta (%d checked, max rel %.2g)",
          tag, r.checked, r.max_rel_err);
    CHECK(r.max_abs_grad > 0.1, "%s: gradients are not trivially small (max |g| %.3g)", tag, r.max_abs_grad);

    gc_layer_net_free(&t);
    free_layer(l);
}

int main(void)
{
    test_toy();
    test_small_element();
    test_skip_bound();
    test_kink();
    test_connected();
    test_convolutional(0);
    test_convolutional(1);
    test_softmax(0);
    test_softmax(1);
    return harness_finish();
}
