/* OOD scores and ODIN's input gradient (src/ood/ood_score.c):
 *   - msp, energy and max logit on hand-computed logits (and no overflow at large logits);
 *   - the logits the scorer reads: the mean of the experts for [expert_softmax], the
 *     softmax's input (over its temperature) for [softmax];
 *   - d log max softmax(z(x) / T) / dx from Darknet's backward pass in inference mode
 *     against central differences (L accumulated in double), for T = 1 and T = 1000, on
 *       A: [mixdata] + conv+BN+leaky stem, two experts (conv+BN+leaky, avgpool, [cosine])
 *          joined by [route], [expert_softmax];
 *       B: conv+BN+leaky, [connected], [softmax];
 *       C: as B with [softmax] temperature=2;
 *     with the batch norms' rolling statistics set away from the identity;
 *   - rows do not leak into each other (inference mode), and the network's state (train,
 *     delta) is restored;
 *   - ODIN's score is max softmax(z(x') / T) at x' = x + eps sign(grad) (checked by hand),
 *     and that step raises S while the opposite step lowers it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "darknet.h"
#include "expert_softmax_layer.h"
#include "ood_score.h"

#include "gradcheck.h"
#include "harness.h"

/* Central-difference step: the forward pass is float, logits up to ~10 carry ~1e-6 of
 * rounding, so a step of 1e-3 leaves ~3e-4 of noise in each quotient; 1e-2 brings it under
 * 1% of the gradients while few steps cross a leaky kink (those are skipped). */
static double fd_step = 1e-2;


/* Batch norm away from the identity: rolling statistics, scales and biases at random. */
static void randomize_bn(network *net)
{
    int i, f;
    for (i = 0; i < net->n; ++i) {
        layer *l = &net->layers[i];
        if (!l->batch_normalize) continue;
        for (f = 0; f < l->out_c; ++f) {
            l->rolling_mean[f] = rand_uniform(-0.3f, 0.3f);
            l->rolling_variance[f] = rand_uniform(0.3f, 2.0f);
            l->scales[f] = rand_uniform(0.5f, 1.5f);
            l->biases[f] = rand_uniform(-0.2f, 0.2f);
        }
    }
}

/* The network of cfg after srand(seed), its batch norm randomized. */
static network *random_bn_net(unsigned seed, const char *name, const char *cfg)
{
    network *net;
    srand(seed);
    net = net_from_cfg_text(name, cfg);
    randomize_bn(net);
    return net;
}

static const char *cfg_experts =
    "[net]\nbatch=4\nwidth=6\nheight=6\nchannels=3\n\n"
    "[mixdata]\n\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n\n"
    "[convolutional]\nbatch_normalize=1\nfilters=5\nsize=3\nstride=1\npad=1\nactivation=leaky\n\n"
    "[avgpool]\n\n"
    "[cosine]\nclasses=4\nscale=8\n\n"
    "[route]\nlayers=1\n\n"
    "[convolutional]\nbatch_normalize=1\nfilters=5\nsize=3\nstride=2\npad=1\nactivation=leaky\n\n"
    "[avgpool]\n\n"
    "[cosine]\nclasses=4\nscale=8\n\n"
    "[expert_softmax]\nexperts=4,8\ntau=1\n";

static const char *cfg_softmax =
    "[net]\nbatch=2\nwidth=5\nheight=5\nchannels=3\n\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n\n"
    "[connected]\nbatch_normalize=1\noutput=6\nactivation=linear\n\n"
    "[connected]\noutput=5\nactivation=linear\n\n"
    "[softmax]\n";

static const char *cfg_softmax_t2 =
    "[net]\nbatch=2\nwidth=5\nheight=5\nchannels=3\n\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n\n"
    "[connected]\noutput=5\nactivation=linear\n\n"
    "[softmax]\ntemperature=2\n";

/* ---- hand-computed scores ---- */
static void test_scores(void)
{
    const float z[3] = {1, 2, 3};
    const float big[3] = {1000, 0, -1000};
    const double lse = log(exp(1.0) + exp(2.0) + exp(3.0));   /* 3.4076059644443806 */
    CHECK_CLOSE(ood_msp(z, 3), 3 - lse, 1e-12, "scores: msp of (1,2,3) = log(e^3/(e+e^2+e^3)) = %.6f", 3 - lse);
    CHECK_CLOSE(ood_max_softmax_t(z, 3, 1), exp(3 - lse), 1e-12, "scores: max softmax of (1,2,3) = e^3/(e+e^2+e^3)");
    CHECK_CLOSE(ood_energy(z, 3, 1), lse, 1e-5, "scores: -E of (1,2,3) = log(e+e^2+e^3) = %.6f", lse);
    CHECK_CLOSE(ood_energy(z, 3, 2), 2 * log(exp(0.5) + exp(1.0) + exp(1.5)), 1e-5, "scores: -E at T=2 = 2 log sum exp(z/2)");
    CHECK(ood_maxlogit(z, 3) == 3, "scores: max logit of (1,2,3) = 3");
    CHECK_CLOSE(ood_max_softmax_t(z, 3, 1000), exp(0.003 - log(exp(0.001) + exp(0.002) + exp(0.003))), 1e-7,
                "scores: max softmax(z/1000) of (1,2,3)");
    CHECK(isfinite(ood_energy(big, 3, 1)) && fabs(ood_energy(big, 3, 1) - 1000) < 1e-3 && ood_msp(big, 3) == 0,
          "scores: logits of +-1000 give -E = 1000 and msp log 1 = 0 (no overflow)");
    {
        /* Gaps of 40 and 50: MSP is exactly 1.0 in double for both; the log-space score keeps
         * them apart (-e^-40 against -e^-50) and in order. */
        const float g40[3] = {40, 0, -5}, g50[3] = {50, 0, -5};
        const double s40 = ood_msp(g40, 3), s50 = ood_msp(g50, 3);
        CHECK(exp(s40) == 1.0 && exp(s50) == 1.0 && s40 < s50 && s50 < 0,
              "scores: msp does not saturate where max softmax rounds to 1 (gap 40: %.6g, gap 50: %.6g)", s40, s50);
        CHECK_CLOSE(s40 / -(exp(-40.0) + exp(-45.0)), 1, 1e-12, "scores: msp at gap 40 = -log1p(e^-40 + e^-45)");
    }
    CHECK(ood_score_from_name("odin") == OOD_ODIN && ood_score_from_name("ODIN") < 0 &&
          !strcmp(ood_score_name(OOD_ENERGY), "energy"), "scores: names");
}

/* ---- gradient check ---- */
typedef struct grad_ctx {
    ood_scorer *s;
    float *x;      /* [B, X] */
    float T;
    int nlayers;   /* for the kink test */
} grad_ctx;

/* L = -sum_b log S_b(x): gradcheck compares dL/dx with minus grad, and grad holds
 * d log S / dx = -dL/dx. */
static double ctx_loss(void *p)
{
    grad_ctx *c = p;
    double L = 0;
    int b;
    ood_forward(c->s, c->x);
    for (b = 0; b < c->s->B; ++b) L -= ood_log_max_softmax_t(c->s->logits + b * c->s->C, c->s->C, c->T);
    return L;
}

static void ctx_grad(void *p)
{
    grad_ctx *c = p;
    ood_input_gradient(c->s, c->x, c->T, c->s->grad);
}

/* Signs of every leaky layer's output and the argmax of every row: the points where log S is
 * not differentiable. [B * max outputs + B] ints. */
static int kink_signature(grad_ctx *c, int *sig)
{
    network *net = c->s->net;
    int i, j, n = 0, b;
    ood_forward(c->s, c->x);
    for (i = 0; i < net->n; ++i) {
        layer *l = &net->layers[i];
        if ((l->type == CONVOLUTIONAL || l->type == CONNECTED) && l->activation == LEAKY)
            for (j = 0; j < l->outputs * l->batch; ++j) sig[n++] = l->output[j] > 0;
    }
    for (b = 0; b < c->s->B; ++b) sig[n++] = ood_argmax(c->s->logits + b * c->s->C, c->s->C);
    return n;
}

static int ctx_kink(void *p, const gc_var *var, int i, double step)
{
    grad_ctx *c = p;
    static int a[1 << 16], b[1 << 16];
    const float x0 = var->x[i];
    int na, nb, k;
    var->x[i] = (float)(x0 + step);
    na = kink_signature(c, a);
    var->x[i] = (float)(x0 - step);
    nb = kink_signature(c, b);
    var->x[i] = x0;
    if (na != nb) return 1;
    for (k = 0; k < na; ++k)
        if (a[k] != b[k]) return 1;
    return 0;
}

static void check_gradient(const char *label, network *net, float T)
{
    ood_scorer s;
    grad_ctx c;
    gc_opts o = gc_default_opts();
    gc_result r;
    gc_var v;
    char err[256];
    int ok;
    CHECK(ood_scorer_init(&s, net, T, 0.0014f, 1, err, sizeof(err)), "%s: scorer binds to the network", label);
    c.s = &s;
    c.T = T;
    c.x = calloc(s.B * s.X, sizeof(float));
    gc_fill_uniform(c.x, s.B * s.X, 0, 1);
    v = (gc_var){"input", c.x, s.B * s.X, s.grad};
    /* At T = 1000 the gradients are ~1e-3: compare against the variable's own scale, not
       against the default absolute floor of 1e-3, which would pass anything. */
    o.abs_floor = 0;
    o.rel_floor = 0.02;
    o.rel_tol = 2e-2;
    o.step = fd_step;
    o.kink = ctx_kink;
    ok = gradcheck(label, &v, 1, ctx_loss, ctx_grad, &c, &o, &r);
    CHECK(ok && r.failed == 0, "%s: d log S/dx (T=%g) matches central differences (%d checked, %d skipped at kinks, max rel err %.2g)",
          label, T, r.checked, r.skipped, r.max_rel_err);
    CHECK(r.checked >= (s.B * s.X) * 3 / 4, "%s: at most a quarter of the inputs skipped at kinks (%d of %d)", label,
          r.skipped, s.B * s.X);
    /* d log S / dz scales as 1/T: at T = 1000 the gradients are ~1e-4. */
    CHECK(r.max_abs_grad > 0.02 / T, "%s: the gradient is not trivially small (max |g| %.3g)", label, r.max_abs_grad);
    CHECK(net->train == 0 && net->delta == 0, "%s: the network's train flag and delta are restored", label);
    free(c.x);
    ood_scorer_free(&s);
}

/* Row 0's gradient does not depend on row 1's image (batch norm uses rolling statistics). */
static void check_rows_independent(const char *label, network *net)
{
    ood_scorer s;
    char err[256];
    float *x, *g0;
    double d = 0, m = 0;
    int i, X;
    ood_scorer_init(&s, net, 1000, 0.0014f, 1, err, sizeof(err));
    X = s.X;
    x = calloc(s.B * X, sizeof(float));
    g0 = calloc(X, sizeof(float));
    gc_fill_uniform(x, s.B * X, 0, 1);
    ood_input_gradient(&s, x, 1000, s.grad);
    memcpy(g0, s.grad, sizeof(float) * X);
    gc_fill_uniform(x + X, (s.B - 1) * X, 0, 1);
    ood_input_gradient(&s, x, 1000, s.grad);
    for (i = 0; i < X; ++i) {
        d = err_max(d, fabs(s.grad[i] - g0[i]));
        m = fmax(m, fabs(g0[i]));
    }
    CHECK(d == 0 && m > 0, "%s: row 0's input gradient is unchanged when the other rows change (max diff %.3g)", label, d);
    free(x);
    free(g0);
    ood_scorer_free(&s);
}

/* ODIN's score against the formula, and the direction of the step. */
static void check_odin(const char *label, network *net)
{
    ood_scorer s;
    char err[256];
    const float T = 1000, eps = 0.0014f;
    float *x, *xp, *xm, *logits;
    double *sc;
    int i, b, up = 1, down = 1, match = 1, moved = 0;
    ood_scorer_init(&s, net, T, eps, 1, err, sizeof(err));
    x = calloc(s.B * s.X, sizeof(float));
    xp = calloc(s.B * s.X, sizeof(float));
    xm = calloc(s.B * s.X, sizeof(float));
    sc = calloc(s.B * OOD_NSCORES, sizeof(double));
    logits = calloc(s.B * s.C, sizeof(float));
    gc_fill_uniform(x, s.B * s.X, 0, 1);
    ood_score_batch(&s, x, sc);
    /* s.grad now holds d log S / dx at x. */
    for (i = 0; i < s.B * s.X; ++i) {
        const float sg = (float)((s.grad[i] > 0) - (s.grad[i] < 0));
        xp[i] = x[i] + eps * sg;
        xm[i] = x[i] - eps * sg;
        moved += sg != 0;
    }
    ood_forward(&s, x);
    memcpy(logits, s.logits, sizeof(float) * s.B * s.C);
    for (b = 0; b < s.B; ++b) {
        const double S = ood_log_max_softmax_t(logits + b * s.C, s.C, T);
        double Sp, Sm;
        ood_forward(&s, xp);
        Sp = ood_log_max_softmax_t(s.logits + b * s.C, s.C, T);
        ood_forward(&s, xm);
        Sm = ood_log_max_softmax_t(s.logits + b * s.C, s.C, T);
        match &= sc[b * OOD_NSCORES + OOD_ODIN] == Sp;
        up &= Sp > S;
        down &= Sm < S;
        if (b == 0)
            printf("  %s row 0: log S(x) %.12f, log S(x + eps sign g) %.12f, log S(x - eps sign g) %.12f\n", label, S, Sp, Sm);
    }
    CHECK(moved > s.B * s.X / 2, "%s: ODIN moves most inputs (%d of %d)", label, moved, s.B * s.X);
    CHECK(match, "%s: odin score = log max softmax(z(x + eps sign(d log S/dx)) / T), computed by hand", label);
    CHECK(up, "%s: ODIN's step raises S = max softmax(z/T) in every row", label);
    CHECK(down, "%s: the opposite step lowers S in every row (the sign convention is not flipped)", label);
    /* The clean scores in the same call are the clean pass's. */
    for (b = 0; b < s.B; ++b)
        match &= sc[b * OOD_NSCORES + OOD_MSP] == ood_msp(logits + b * s.C, s.C) &&
                 sc[b * OOD_NSCORES + OOD_MAXLOGIT] == ood_maxlogit(logits + b * s.C, s.C);
    CHECK(match, "%s: msp and max logit of ood_score_batch come from the clean pass", label);
    free(x);
    free(xp);
    free(xm);
    free(sc);
    free(logits);
    ood_scorer_free(&s);
}

/* One scorer forward of uniform inputs on NET: *d is the largest difference of the logits
 * from scale x the mean of layers a's and b's outputs (a == b: that layer's), *dp of the
 * probabilities from layer prob's output. Returns whether the scorer found a head of KIND
 * at LAYER with C classes. */
static int head_forward(network *net, float odin_t, int kind, int layer, int C, int a, int b, double scale, int prob,
                        double *d, double *dp)
{
    ood_scorer s;
    char err[256];
    float *x;
    int i, ok = ood_scorer_init(&s, net, odin_t, 0.0014f, 1, err, sizeof(err));
    *d = *dp = INFINITY;
    if (!ok) return 0;
    ok = s.head.kind == kind && s.head.layer == layer && s.C == C;
    x = calloc(s.B * s.X, sizeof(float));
    gc_fill_uniform(x, s.B * s.X, 0, 1);
    ood_forward(&s, x);
    *d = *dp = 0;
    for (i = 0; i < s.B * s.C; ++i) {
        *d = err_max(*d, fabs(s.logits[i] - scale * 0.5 * (net->layers[a].output[i] + net->layers[b].output[i])));
        *dp = err_max(*dp, fabs(s.prob[i] - net->layers[prob].output[i]));
    }
    free(x);
    ood_scorer_free(&s);
    return ok;
}

/* The input gradient at T=1 and T=1000, rows independent of each other, ODIN's step. */
static void check_head_gradients(const char *label, network *net)
{
    char t1[64], t1000[64];
    snprintf(t1, sizeof(t1), "%s T=1", label);
    snprintf(t1000, sizeof(t1000), "%s T=1000", label);
    check_gradient(t1, net, 1);
    check_gradient(t1000, net, 1000);
    check_rows_independent(label, net);
    check_odin(label, net);
}

static void test_experts(void)
{
    network *net = random_bn_net(3, "experts.cfg", cfg_experts);
    double d, dp;
    CHECK(head_forward(net, 1000, OOD_HEAD_EXPERT, 9, 4, 4, 8, 1, 9, &d, &dp),
          "experts: the head is [expert_softmax] (layer 9), 4 classes");
    CHECK(d < 1e-6, "experts: logits = mean of the two [cosine] outputs (max diff %.2g)", d);
    CHECK(dp < 1e-6, "experts: softmax(logits) = the network's output (max diff %.2g)", dp);
    check_head_gradients("experts", net);
    free_network(net);
}

static void test_softmax(void)
{
    network *net = random_bn_net(4, "softmax.cfg", cfg_softmax);
    double d, dp;
    CHECK(head_forward(net, 1000, OOD_HEAD_SOFTMAX, 3, 5, 2, 2, 1, 3, &d, &dp),
          "softmax: the head is [softmax] (layer 3), 5 classes");
    CHECK(d == 0, "softmax: logits = the [softmax]'s input");
    CHECK(dp < 1e-6, "softmax: softmax(logits) = the network's output (max diff %.2g)", dp);
    check_head_gradients("softmax", net);
    free_network(net);

    net = random_bn_net(5, "softmax_t2.cfg", cfg_softmax_t2);
    CHECK(head_forward(net, 1, OOD_HEAD_SOFTMAX, 2, 5, 1, 1, 0.5, 2, &d, &dp) && d < 1e-7 && dp < 1e-6,
          "softmax temperature=2: the head is [softmax] (layer 2), logits = input / 2, softmax(logits) = output");
    check_gradient("softmax temperature=2, T=1", net, 1);
    free_network(net);
}

static void test_bad_heads(void)
{
    network *net;
    ood_head h;
    char err[256] = "";
    net = net_from_cfg_text("nohead.cfg", "[net]\nbatch=1\nwidth=4\nheight=4\nchannels=3\n\n[connected]\noutput=3\nactivation=linear\n");
    CHECK(!ood_find_head(net, &h, err, sizeof(err)) && strstr(err, "[softmax] or [expert_softmax]") && strstr(err, "connected"),
          "heads: a network ending in [connected] is refused with a reason ('%s')", err);
    free_network(net);
    net = net_from_cfg_text("groups.cfg", "[net]\nbatch=1\nwidth=4\nheight=4\nchannels=3\n\n[connected]\noutput=4\nactivation=linear\n\n[softmax]\ngroups=2\n");
    err[0] = 0;
    CHECK(!ood_find_head(net, &h, err, sizeof(err)) && strstr(err, "grouped"),
          "heads: a grouped [softmax] is refused ('%s')", err);
    free_network(net);
}

int main(int argc, char **argv)
{
    if (argc > 1) fd_step = atof(argv[1]);
    test_scores();
    test_experts();
    test_softmax();
    test_bad_heads();
    return harness_finish();
}
