/* [rcl] (src/layers/rcl_layer.c), on a small network parsed from cfg text
 * ([mixdata] with P = 2 pairs, an encoder, a projection head h and a prediction head u):
 *   - forward against a naive double reference of
 *     L_RCL = 1/P sum_p (-cos(u_m, h_c) - cos(u_c, h_m)), cost = B lambda L_RCL
 *     (../shared/METHOD-NOTES.md, "RCL");
 *   - FD gradient of the prediction outputs u, the projection outputs h held as constants;
 *   - the stop-gradient: after backward the projection layer's delta is exactly zero, while
 *     the FD derivative of L_RCL with respect to h is clearly non-zero (a missing stop-grad
 *     would have shown); rows that are not mixed get no gradient;
 *   - backward adds to the prediction delta; inference and unmixed batches do nothing.
 * The cfg keys are checked by tests/layers/test_cbcl_rcl_cfg.sh.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "darknet.h"
#include "layer_registry.h"
#include "mixdata_layer.h"
#include "rcl_layer.h"

#include "gradcheck.h"
#include "harness.h"

enum { B = 8, P = 2, H = 5, C = 5 };
static const double LAMBDA = 0.6;
/* Layers: 0 [mixdata], 1 encoder, 2 projection (h), 3 prediction (u), 4 [rcl]. */
enum { PROJ = 2, PRED = 3, RCL = 4 };

static network *make_net(unsigned seed)
{
    static const char *text =
        "[net]\nbatch=8\nwidth=4\nheight=4\nchannels=1\n\n"
        "[mixdata]\n\n"
        "[connected]\noutput=6\nactivation=linear\n\n"
        "[connected]\noutput=5\nactivation=linear\n\n"
        "[connected]\noutput=5\nactivation=linear\n\n"
        "[rcl]\nprojection=2\nprediction=-1\nlambda=0.6\n";
    srand(seed);
    return net_from_cfg_text("rcl.cfg", text);
}

typedef struct {
    network *net;
    layer *rl;
} fixture;

static double rcl_loss(void *ctx)
{
    fixture *f = ctx;
    forward_rcl_layer(*f->rl, *f->net);
    return f->rl->cost[0];
}

static void rcl_grad(void *ctx)
{
    fixture *f = ctx;
    forward_rcl_layer(*f->rl, *f->net);
    backward_rcl_layer(*f->rl, *f->net);
}

static double ref_cos(const float *a, const float *b)
{
    long double ab = 0, aa = 0, bb = 0;
    int i;
    for (i = 0; i < H; ++i) {
        ab += (long double)a[i] * b[i];
        aa += (long double)a[i] * a[i];
        bb += (long double)b[i] * b[i];
    }
    return (double)(ab / sqrtl(aa * bb));
}

/* Mixup row of pair p: 2P + p, CutMix row: 3P + p (the layout of mixdata_layer.h). */
static double ref_loss(const network *net, double *max_abs_cos)
{
    const float *h = net->layers[PROJ].output, *u = net->layers[PRED].output;
    double L = 0;
    int p;
    *max_abs_cos = 0;
    for (p = 0; p < P; ++p) {
        const int m = 2 * P + p, c = 3 * P + p;
        const double a = ref_cos(u + m * H, h + c * H), b = ref_cos(u + c * H, h + m * H);
        L += -a - b;
        *max_abs_cos = fmax(*max_abs_cos, fmax(fabs(a), fabs(b)));
    }
    return L / P;
}

static int all_zero(const float *a, int n)
{
    int i;
    for (i = 0; i < n; ++i)
        if (a[i] != 0) return 0;
    return 1;
}

int main(void)
{
    static const int classes[2 * P] = {0, 3, 2, 3};
    network *net;
    fixture f;
    rcl_state *st;
    const mix_pairing *pr;
    float *dh, *du;
    int b, i, ok;

    net = make_net(31);
    f.net = net;
    f.rl = &net->layers[RCL];
    st = f.rl->plugin_state;
    CHECK(net->n == 5 && f.rl->type == PLUGIN && f.rl->plugin == plugin_find("rcl"),
          "rcl: the cfg parses to 5 layers ending in [rcl]");
    CHECK(st->projection == PROJ && st->prediction == PRED && st->H == H && st->lambda == (float)LAMBDA,
          "rcl: projection 2, prediction -1 (= 3), H = 5, lambda 0.6 from the cfg (got %d, %d, %d, %g)",
          st->projection, st->prediction, st->H, st->lambda);
    CHECK(net->truths == C, "rcl: the output layer is the prediction head, not the loss-only [rcl] (truths %d)",
          net->truths);

    srand(32);
    gc_fill_uniform(net->input, net->inputs * B, 0, 1);
    for (b = 0; b < 2 * P; ++b) net->truth[b * C + classes[b]] = 1;

    /* Inference: no cost. */
    net->train = 0;
    forward_network(net);
    CHECK(f.rl->cost[0] == 0 && st->loss == 0, "rcl: inference gives cost 0");

    /* A training forward mixes the batch. */
    srand(33);
    net->train = 1;
    forward_network(net);
    pr = mixdata_find_pairing(net);
    CHECK(pr && pr->active && pr->pairs == P && pr->mixup_row0 == 2 * P && pr->cutmix_row0 == 3 * P,
          "rcl: [mixdata] mixed the batch (P = 2, Mixup rows 4-5, CutMix rows 6-7)");
    {
        double mc;
        const double L = ref_loss(net, &mc);
        CHECK_REL(st->loss, L, 1e-5, 1e-6, "rcl: L_RCL = %.6g matches the naive reference %.6g", st->loss, L);
        CHECK_REL(f.rl->cost[0], B * LAMBDA * L, 1e-5, 1e-6, "rcl: cost = B lambda L_RCL = %.6g (reference %.6g)",
                  f.rl->cost[0], B * LAMBDA * L);
        CHECK(mc > 0.1 && mc < 0.99, "rcl: the case is not degenerate (max |cos| of a term %.3g)", mc);
    }

    /* FD of u, h held fixed. */
    {
        gc_var var = {"prediction u", net->layers[PRED].output, B * H, net->layers[PRED].delta};
        gc_opts o = gc_default_opts();
        gc_result r;
        ok = gradcheck("rcl", &var, 1, rcl_loss, rcl_grad, &f, &o, &r);
        CHECK(ok && r.checked == B * H, "rcl: FD gradient of u matches -delta (%d checked, max rel %.2g)", r.checked,
              r.max_rel_err);
        CHECK(r.max_abs_grad > 0.05, "rcl: gradient of u is not trivially small (max |g| %.3g)", r.max_abs_grad);
        CHECK(all_zero(net->layers[PRED].delta, 2 * P * H),
              "rcl: the instance and reversed rows of u get no gradient (only mixed rows are paired)");
    }

    /* Stop-gradient: nothing reaches h, although L depends on it. */
    dh = net->layers[PROJ].delta;
    du = net->layers[PRED].delta;
    memset(dh, 0, sizeof(float) * B * H);
    memset(du, 0, sizeof(float) * B * H);
    rcl_grad(&f);
    CHECK(all_zero(dh, B * H), "rcl: stop-gradient: the projection layer's delta is exactly zero after backward");
    CHECK(!all_zero(du, B * H), "rcl: the prediction layer's delta is not (backward ran)");
    {
        float *h = net->layers[PROJ].output;
        double m = 0;
        for (i = 0; i < B * H; ++i) {
            const float x0 = h[i];
            double lp, lm;
            h[i] = x0 + 1e-3f;
            lp = rcl_loss(&f);
            h[i] = x0 - 1e-3f;
            lm = rcl_loss(&f);
            h[i] = x0;
            m = fmax(m, fabs(lp - lm) / 2e-3);
        }
        CHECK(m > 0.05, "rcl: control: the FD derivative of the cost with respect to h is clearly non-zero "
              "(max %.3g), so a gradient into h would have shown", m);
    }
    /* A delta already in h (from the prediction head's backward) is left as it is. */
    for (i = 0; i < B * H; ++i) dh[i] = 0.25f;
    rcl_grad(&f);
    for (i = 0, ok = 1; i < B * H; ++i) ok &= dh[i] == 0.25f;
    CHECK(ok, "rcl: stop-gradient: an existing projection delta is left untouched");

    /* Backward adds to the prediction delta. */
    {
        float g[B * H];
        memset(du, 0, sizeof(g));
        rcl_grad(&f);
        memcpy(g, du, sizeof(g));
        for (i = 0; i < B * H; ++i) du[i] = 0.5f;
        rcl_grad(&f);
        for (i = 0, ok = 1; i < B * H; ++i) ok &= fabsf(du[i] - (0.5f + g[i])) <= 1e-6f;
        CHECK(ok, "rcl: backward accumulates into the prediction delta");
    }

    /* net.train = 0 after a mixed forward: nothing. */
    memset(du, 0, sizeof(float) * B * H);
    net->train = 0;
    rcl_grad(&f);
    CHECK(f.rl->cost[0] == 0 && all_zero(du, B * H), "rcl: net.train = 0 gives no cost and no gradient");

    /* A forward pass that did not mix (inference through [mixdata]) leaves the pairing
     * inactive: a training-mode [rcl] call then does nothing either. */
    forward_network(net);
    net->train = 1;
    CHECK(!pr->active, "rcl: an inference forward leaves the pairing inactive");
    rcl_grad(&f);
    CHECK(f.rl->cost[0] == 0 && all_zero(du, B * H), "rcl: an unmixed batch gives no cost and no gradient");

    free_network(net);
    return harness_finish();
}
