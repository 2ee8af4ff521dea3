/* [cbcl] (src/layers/cbcl_layer.c), on small networks parsed from cfg text:
 *   - cbcl_ratio: against a naive long-double formula where that does not overflow, equal to
 *     tanh((A-B)/2) for e0 = e1 = 0 up to A, B ~ 1e6, finite everywhere, and its partial
 *     derivatives against the naive formulas and against finite differences;
 *   - forward with [mixdata] (two experts, P = 2 pairs): centers start at the class means of
 *     the first batch, d+, d-, the dual-entropy weights w, L_k and the cost against a naive
 *     double reference written from ../shared/METHOD-NOTES.md ("CBCL");
 *   - FD gradients of the features and the centers (the logits, hence w, held fixed), no
 *     gradient written into the logit layers (although L does depend on the logits through
 *     w), backward adds to the deltas, inference does nothing;
 *   - without [mixdata]: d- = 0, ID rows are the one-hot rows, FD gradients again;
 *   - the center update (SGD with momentum, no decay);
 *   - save/load of the centers: identical centers, every class started, same cost.
 * The cfg keys and a truncated weights file are checked by tests/layers/test_cbcl_rcl_cfg.sh.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "darknet.h"
#include "cbcl_layer.h"
#include "layer_registry.h"
#include "mixdata_layer.h"

#include "gradcheck.h"
#include "harness.h"

enum { B = 8, P = 2, X = 16, D = 5, C = 4, K = 2 };
static const double G0 = 0.3, G1 = 0.2, E0 = 0.25, E1 = 1.5, LAMBDA = 0.7;


/* Layers: 0 [mixdata], 1 features A, 2 logits A, 3 features B (on the logits of A: any
 * earlier layer will do), 4 logits B, 5 [cbcl]. Without [mixdata] every index is one less. */
static const char *cfg_text(int with_mix)
{
    static char buf[2048];
    const int o = with_mix ? 1 : 0;
    snprintf(buf, sizeof(buf),
             "[net]\nbatch=%d\nwidth=4\nheight=4\nchannels=1\nlearning_rate=0.1\nmomentum=0.9\ndecay=0.01\n\n"
             "%s"
             "[connected]\noutput=%d\nactivation=linear\n\n"
             "[connected]\noutput=%d\nactivation=linear\n\n"
             "[connected]\noutput=%d\nactivation=linear\n\n"
             "[connected]\noutput=%d\nactivation=linear\n\n"
             "[cbcl]\nfeatures=%d,%d\nlogits=%d,%d\ng0=%g\ng1=%g\ne0=%g\ne1=%g\nlambda=%g\n",
             with_mix ? B : 6, with_mix ? "[mixdata]\n\n" : "", D, C, D, C, o, o + 2, o + 1, o + 3,
             G0, G1, E0, E1, LAMBDA);
    return buf;
}

static network *parse_text(const char *name, const char *text, unsigned seed)
{
    srand(seed);
    return net_from_cfg_text(name, text);
}

/* ---- cbcl_ratio ---- */

/* L = N / D = (e^A - e^B + e0) / (e^A + e^B + e1), straight from the definition, and
 * dL/dA = e^A (D - N) / D^2 = e^A (2 e^B + e1 - e0) / D^2,
 * dL/dB = -e^B (D + N) / D^2 = -e^B (2 e^A + e0 + e1) / D^2
 * (D - N and D + N expanded by hand: computed as differences they would cancel). */
static long double naive_ratio(long double A, long double Bv, long double e0, long double e1,
                               long double *dA, long double *dB)
{
    long double ea = expl(A), eb = expl(Bv), n = ea - eb + e0, d = ea + eb + e1;
    /* (e^A / D) (... / D), not ... / D^2: at A ~ 1e4, D^2 overflows even a long double and
     * the reference was NaN (which fmax used to drop, so the check compared nothing) */
    *dA = ea / d * ((2 * eb + e1 - e0) / d);
    *dB = -eb / d * ((2 * ea + e0 + e1) / d);
    return n / d;
}

static void test_ratio(void)
{
    static const double vals[] = {0, 1e-3, 0.5, 1, 3, 10, 40, 200, 700};
    static const double e0s[] = {-1, 0, 0.25, 1}, e1s[] = {0, 1.5, 100};
    const int nv = sizeof(vals) / sizeof(vals[0]);
    double worst = 0, worst_dA = 0, worst_dB = 0, worst_fd = 0;
    int a, b, i, j, n = 0, finite = 1;

    /* Moderate arguments: the naive long-double formula is exact enough to be the reference
     * (e^700 still fits a double, let alone a long double). */
    for (a = 0; a < nv; ++a)
        for (b = 0; b < nv; ++b)
            for (i = 0; i < 4; ++i)
                for (j = 0; j < 3; ++j) {
                    long double rdA, rdB, r = naive_ratio(vals[a], vals[b], e0s[i], e1s[j], &rdA, &rdB);
                    double dA, dB, L = cbcl_ratio(vals[a], vals[b], e0s[i], e1s[j], &dA, &dB);
                    finite &= isfinite(L) && isfinite(dA) && isfinite(dB);
                    worst = err_max(worst, fabs(L - (double)r));
                    /* relative, but absolute below 1e-3: deep in the saturated ends the
                     * derivatives are ~e^-|A-B| and the layer's D - N, D + N cancel there
                     * (an absolute error of a few 1e-16, harmless next to the float deltas) */
                    worst_dA = err_max(worst_dA, fabs(dA - (double)rdA) / fmax(fabsl(rdA), 1e-3));
                    worst_dB = err_max(worst_dB, fabs(dB - (double)rdB) / fmax(fabsl(rdB), 1e-3));
                    ++n;
                }
    CHECK(finite, "cbcl_ratio: finite on %d moderate (A, B, e0, e1)", n);
    CHECK_CLOSE(worst, 0, 1e-14, "cbcl_ratio: equals the naive long-double formula (A, B in [0, 700])");
    CHECK_CLOSE(worst_dA, 0, 1e-12, "cbcl_ratio: dL/dA equals the naive e^A (D - N) / D^2 (max err %.2g, relative above 1e-3)", worst_dA);
    CHECK_CLOSE(worst_dB, 0, 1e-12, "cbcl_ratio: dL/dB equals the naive -e^B (D + N) / D^2 (max err %.2g, relative above 1e-3)", worst_dB);

    /* e^1e4 overflows a double but not a long double: the naive formula still holds there. */
    {
        static const double big[][2] = {{1e4, 1e4}, {1e4, 1e4 + 0.5}, {1e4 + 2, 1e4}, {1e4, 1e4 - 30}, {9990, 1e4}};
        double w = 0, wd = 0;
        int ok = 1;
        for (a = 0; a < 5; ++a)
            for (i = 0; i < 4; ++i) {
                long double rdA, rdB, r = naive_ratio(big[a][0], big[a][1], e0s[i], 1.5, &rdA, &rdB);
                double dA, dB, L = cbcl_ratio(big[a][0], big[a][1], e0s[i], 1.5, &dA, &dB);
                ok &= isfinite(L) && isfinite(dA) && isfinite(dB) && isfinite((double)r);
                w = err_max(w, fabs(L - (double)r));
                wd = err_max(err_max(wd, fabs(dA - (double)rdA)), fabs(dB - (double)rdB));
            }
        CHECK(ok, "cbcl_ratio: finite at A, B ~ 1e4 where e^A overflows a double");
        CHECK_CLOSE(w, 0, 1e-12, "cbcl_ratio: equals the long-double formula at A, B ~ 1e4 (e0 != 0, e1 = 1.5)");
        CHECK_CLOSE(wd, 0, 1e-12, "cbcl_ratio: derivatives equal the long-double formulas at A, B ~ 1e4");
    }

    /* e0 = e1 = 0: L = tanh((A - B) / 2), dL/dA = -dL/dB = (1 - L^2) / 2, at any magnitude. */
    {
        static const double pts[][2] = {{0, 0}, {1, 3}, {1e4, 1e4}, {1e4, 1e4 + 1}, {1e4 + 3, 1e4}, {1e4, 1e6},
                                        {1e6, 1e4}, {1e6, 1e6}, {1e6, 1e6 + 0.75}, {1e6 + 2.5, 1e6}, {0, 1e6}};
        double w = 0, wd = 0;
        int ok = 1;
        for (a = 0; a < (int)(sizeof(pts) / sizeof(pts[0])); ++a) {
            double dA, dB, L = cbcl_ratio(pts[a][0], pts[a][1], 0, 0, &dA, &dB);
            double t = tanh((pts[a][0] - pts[a][1]) / 2), dt = (1 - t * t) / 2;
            ok &= isfinite(L) && isfinite(dA) && isfinite(dB);
            w = err_max(w, fabs(L - t));
            wd = err_max(err_max(wd, fabs(dA - dt)), fabs(dB + dt));
        }
        CHECK(ok, "cbcl_ratio: finite for huge A, B (1e4, 1e6) with e0 = e1 = 0");
        CHECK_CLOSE(w, 0, 1e-14, "cbcl_ratio: e0 = e1 = 0 gives tanh((A - B) / 2) up to 1e6");
        CHECK_CLOSE(wd, 0, 1e-14, "cbcl_ratio: e0 = e1 = 0 gives dL/dA = -dL/dB = (1 - L^2) / 2 up to 1e6");
    }

    /* Huge arguments with e0, e1 != 0: the epsilons vanish next to e^max(A, B). */
    {
        double dA, dB, L1 = cbcl_ratio(1e6, 1e6, 0.5, 2, &dA, &dB);
        double L2 = cbcl_ratio(1e6 + 1, 1e6, -1, 100, 0, 0), L3 = cbcl_ratio(1e6, 0, 1, 100, 0, 0);
        CHECK(isfinite(L1) && isfinite(dA) && isfinite(dB) && isfinite(L2) && isfinite(L3),
              "cbcl_ratio: finite for A, B = 1e6 with e0, e1 != 0");
        CHECK_CLOSE(L1, 0, 1e-14, "cbcl_ratio: A = B = 1e6, e0 = 0.5, e1 = 2 gives 0 (got %.17g)", L1);
        CHECK_CLOSE(dA, 0.5, 1e-14, "cbcl_ratio: A = B = 1e6 gives dL/dA = 1/2 (got %.17g)", dA);
        CHECK_CLOSE(dB, -0.5, 1e-14, "cbcl_ratio: A = B = 1e6 gives dL/dB = -1/2 (got %.17g)", dB);
        CHECK_CLOSE(L2, tanh(0.5), 1e-14, "cbcl_ratio: A = 1e6 + 1, B = 1e6 gives tanh(1/2) whatever e0, e1");
        CHECK_CLOSE(L3, 1, 1e-14, "cbcl_ratio: A = 1e6, B = 0 gives 1");
    }

    /* Derivatives against central differences of cbcl_ratio itself. */
    {
        static const double pts[][4] = {{0, 0, 0, 0}, {0.3, 1.2, 0.25, 1.5}, {2, 0.1, -1, 0}, {5, 4, 1, 100},
                                        {0, 3, -0.5, 0.2}, {1e4, 1e4 + 0.5, 0.25, 1.5}, {1e6 + 1, 1e6, 0, 0},
                                        {1e6, 1e6, 0.5, 2}, {30, 29, 1, 100}};
        const double h = 1e-4;
        int ok = 1;
        for (a = 0; a < (int)(sizeof(pts) / sizeof(pts[0])); ++a) {
            const double A = pts[a][0], Bv = pts[a][1], e0 = pts[a][2], e1 = pts[a][3];
            double dA, dB, fdA, fdB;
            cbcl_ratio(A, Bv, e0, e1, &dA, &dB);
            fdA = (cbcl_ratio(A + h, Bv, e0, e1, 0, 0) - cbcl_ratio(A - h, Bv, e0, e1, 0, 0)) / (2 * h);
            fdB = (cbcl_ratio(A, Bv + h, e0, e1, 0, 0) - cbcl_ratio(A, Bv - h, e0, e1, 0, 0)) / (2 * h);
            worst_fd = err_max(err_max(worst_fd, fabs(fdA - dA)), fabs(fdB - dB));
            ok &= fabs(dA) + fabs(dB) > 1e-3;
        }
        CHECK_CLOSE(worst_fd, 0, 1e-6, "cbcl_ratio: dL/dA, dL/dB match central differences (9 points up to 1e6)");
        CHECK(ok, "cbcl_ratio: the FD points have non-trivial derivatives");
    }
}

/* ---- the layer in a network ---- */

typedef struct {
    network *net;
    layer *cl;          /* the [cbcl] layer */
    cbcl_state *st;
    int feat[K], logit[K];
    int mixed;          /* the network has [mixdata] */
} fixture;

static void fixture_init(fixture *f, network *net, int mixed)
{
    memset(f, 0, sizeof(*f));
    f->net = net;
    f->cl = &net->layers[net->n - 1];
    f->st = f->cl->plugin_state;
    f->mixed = mixed;
    f->feat[0] = mixed ? 1 : 0;
    f->logit[0] = mixed ? 2 : 1;
    f->feat[1] = mixed ? 3 : 2;
    f->logit[1] = mixed ? 4 : 3;
}

static double cbcl_loss(void *ctx)
{
    fixture *f = ctx;
    f->net->train = 1;
    forward_cbcl_layer(*f->cl, *f->net);
    return f->cl->cost[0];
}

static void cbcl_grad(void *ctx)
{
    fixture *f = ctx;
    f->net->train = 1;
    forward_cbcl_layer(*f->cl, *f->net);
    backward_cbcl_layer(*f->cl, *f->net);
}

/* Is row t [C] one-hot? Returns its class or -1. */
static int ref_one_hot(const float *t)
{
    int c, y = -1, ones = 0, others = 0;
    for (c = 0; c < C; ++c) {
        if (t[c] == 1) { y = c; ++ones; }
        else if (t[c] != 0) ++others;
    }
    return ones == 1 && !others ? y : -1;
}

typedef struct {
    int row_class[B];
    int n_id, n_mix;
    double w[K][B];
    double dplus[K], dminus[K], L[K], cost;
} reference;

/* Written from the method notes, in long double, without the layer's helpers:
 *   ID rows: [0, 2P) when mixed (one-hot by construction), else the rows with one-hot truth
 *   w_b = -sum_c (q_c + y_c) log q_c, q = softmax(v_b)
 *   d+ = 1/2 mean_ID w_b |z_b - c_{y_b}|^2
 *   d- = mean over the mixed rows r (Mixup rows 2P + p, CutMix rows 3P + p, sources p and
 *        P + p) of |z_p - z_r|^2 + |z_{P+p} - z_r|^2; 0 without mixing
 *   L = (e^{g0 d+} - e^{g1 d-} + e0) / (e^{g0 d+} + e^{g1 d-} + e1), cost = B lambda sum L */
static void ref_forward(const fixture *f, const float *centers, int rows, reference *r)
{
    const network *net = f->net;
    int b, k, c, d, p;
    memset(r, 0, sizeof(*r));
    for (b = 0; b < rows; ++b) {
        r->row_class[b] = -1;
        if (f->mixed && b >= 2 * P) continue;
        r->row_class[b] = ref_one_hot(net->truth + b * C);
        if (r->row_class[b] >= 0) ++r->n_id;
    }
    r->n_mix = f->mixed ? 2 * P : 0;
    for (k = 0; k < K; ++k) {
        const float *z = net->layers[f->feat[k]].output, *v = net->layers[f->logit[k]].output;
        long double sp = 0, sm = 0, A, Bv, L;
        for (b = 0; b < rows; ++b) {
            const int y = r->row_class[b];
            long double mx = v[b * C], se = 0, w = 0, dist = 0;
            if (y < 0) continue;
            for (c = 1; c < C; ++c) mx = fmaxl(mx, v[b * C + c]);
            for (c = 0; c < C; ++c) se += expl(v[b * C + c] - mx);
            for (c = 0; c < C; ++c) {
                long double q = expl(v[b * C + c] - mx) / se;
                w -= (q + (c == y)) * logl(q);
            }
            for (d = 0; d < D; ++d) {
                long double e = (long double)z[b * D + d] - centers[(k * C + y) * D + d];
                dist += e * e;
            }
            r->w[k][b] = (double)w;
            sp += w * dist;
        }
        r->dplus[k] = r->n_id ? (double)(sp / (2.0L * r->n_id)) : 0;
        if (f->mixed) {
            for (p = 0; p < P; ++p) {
                int row;
                for (row = 2 * P + p; row < 4 * P; row += P)
                    for (d = 0; d < D; ++d) {
                        long double ei = (long double)z[p * D + d] - z[row * D + d];
                        long double ej = (long double)z[(P + p) * D + d] - z[row * D + d];
                        sm += ei * ei + ej * ej;
                    }
            }
            r->dminus[k] = (double)(sm / r->n_mix);
        }
        A = expl(G0 * r->dplus[k]);
        Bv = expl(G1 * r->dminus[k]);
        L = (A - Bv + E0) / (A + Bv + E1);
        r->L[k] = (double)L;
        r->cost += (double)(rows * LAMBDA * L);
    }
}

/* Compares the layer's state after a forward with the reference; label names the case. */
static void compare_forward(const fixture *f, const reference *r, int rows, const char *label)
{
    const cbcl_state *st = f->st;
    double ew = 0;
    int b, k, same_rows = 1;
    for (b = 0; b < rows; ++b) same_rows &= st->row_class[b] == r->row_class[b];
    CHECK(same_rows && st->n_id == r->n_id && st->n_mix == r->n_mix,
          "cbcl %s: ID rows, their classes and the mixed-row count (n_id %d vs %d, n_mix %d vs %d)", label,
          st->n_id, r->n_id, st->n_mix, r->n_mix);
    for (k = 0; k < K; ++k)
        for (b = 0; b < rows; ++b) ew = err_max(ew, fabs(st->row_w[k * rows + b] - r->w[k][b]) / fmax(1, r->w[k][b]));
    CHECK_CLOSE(ew, 0, 1e-5, "cbcl %s: dual-entropy weights w = -sum (q + y) log q (0 on other rows)", label);
    for (k = 0; k < K; ++k) {
        CHECK_REL(st->dplus[k], r->dplus[k], 1e-5, 1e-6, "cbcl %s: expert %d d+ = %.6g (reference %.6g)", label, k,
                  st->dplus[k], r->dplus[k]);
        CHECK_REL(st->dminus[k], r->dminus[k], 1e-5, 1e-6, "cbcl %s: expert %d d- = %.6g (reference %.6g)", label, k,
                  st->dminus[k], r->dminus[k]);
        CHECK_REL(st->loss[k], r->L[k], 1e-5, 1e-6, "cbcl %s: expert %d L = %.6g (reference %.6g)", label, k,
                  st->loss[k], r->L[k]);
    }
    CHECK_REL(f->cl->cost[0], r->cost, 1e-5, 1e-6, "cbcl %s: cost = B lambda sum_k L_k = %.6g (reference %.6g)",
              label, f->cl->cost[0], r->cost);
}

static int all_zero(const float *a, int n)
{
    int i;
    for (i = 0; i < n; ++i)
        if (a[i] != 0) return 0;
    return 1;
}

/* Fills the input (uniform [0, 1]) and the truth rows [0, nrows) with the given classes
 * (-1: all zero; -2: a two-hot 0.5/0.5 row). */
static void fill_batch(network *net, const int *classes, int nrows, unsigned seed)
{
    int b;
    srand(seed);
    gc_fill_uniform(net->input, net->inputs * net->batch, 0, 1);
    memset(net->truth, 0, sizeof(float) * net->truths * net->batch);
    for (b = 0; b < nrows; ++b) {
        if (classes[b] >= 0) net->truth[b * C + classes[b]] = 1;
        else if (classes[b] == -2) net->truth[b * C] = net->truth[b * C + 1] = 0.5f;
    }
}

static void gradient_checks(fixture *f, const char *label)
{
    const int rows = f->net->batch;
    gc_var vars[3];
    gc_opts o = gc_default_opts();
    gc_result r;
    layer *fa = &f->net->layers[f->feat[0]], *fb = &f->net->layers[f->feat[1]];
    int k, ok, n = K * C * D;
    vars[0] = (gc_var){"features A", fa->output, rows * D, fa->delta};
    vars[1] = (gc_var){"features B", fb->output, rows * D, fb->delta};
    vars[2] = (gc_var){"centers", f->st->centers, n, f->st->center_updates};
    /* L is a float sum: with the checker's small floor, a step of 1e-3 leaves its rounding
     * (~1e-7 L / 2e-3) at a few % of the smallest feature gradients */
    o.step = 1e-2;
    ok = gradcheck(label, vars, 3, cbcl_loss, cbcl_grad, f, &o, &r);
    CHECK(ok && r.checked == 2 * rows * D + n,
          "cbcl %s: FD gradients of features and centers match -delta / -center_updates (%d checked, max rel %.2g)",
          label, r.checked, r.max_rel_err);
    CHECK(r.max_abs_grad > 0.05, "cbcl %s: gradients are not trivially small (max |g| %.3g)", label, r.max_abs_grad);

    /* w depends on the logits, so L does; the layer must still write no gradient there. */
    for (k = 0; k < K; ++k) memset(f->net->layers[f->logit[k]].delta, 0, sizeof(float) * rows * C);
    cbcl_grad(f);
    ok = 1;
    for (k = 0; k < K; ++k) ok &= all_zero(f->net->layers[f->logit[k]].delta, rows * C);
    CHECK(ok, "cbcl %s: backward writes nothing into the logit layers' deltas (w is a constant)", label);
    {
        float *v = f->net->layers[f->logit[0]].output;
        double m = 0, l0;
        int i;
        for (i = 0; i < rows * C; ++i) {
            const float x0 = v[i];
            v[i] = x0 + 1e-2f;
            l0 = cbcl_loss(f);
            v[i] = x0 - 1e-2f;
            m = fmax(m, fabs(l0 - cbcl_loss(f)) / 2e-2);
            v[i] = x0;
        }
        CHECK(m > 1e-3, "cbcl %s: control: L does depend on the logits (max FD |dL/dv| %.3g), so the check above "
              "can fail", label, m);
    }
}

static void test_mixed(void)
{
    /* rows 0, 1: instance rows, 2, 3: reversed rows; class 1 is absent, class 0 twice */
    static const int classes[2 * P] = {0, 2, 0, 3};
    network *net = parse_text("mix.cfg", cfg_text(1), 11);
    fixture f;
    reference r;
    const mix_pairing *pr;
    cbcl_state *st;
    int k, c, d, b, i, ok;

    fixture_init(&f, net, 1);
    st = f.st;
    CHECK(net->n == 6 && f.cl->type == PLUGIN && f.cl->plugin == plugin_find("cbcl"),
          "cbcl mixed: the cfg parses to 6 layers ending in [cbcl]");
    CHECK(st->K == K && st->C == C && st->D == D && net->truths == C,
          "cbcl mixed: K = %d, C = %d, D = %d from the features and logits layers", st->K, st->C, st->D);
    CHECK(st->g0 == (float)G0 && st->g1 == (float)G1 && st->e0 == (float)E0 && st->e1 == (float)E1 &&
              st->lambda == (float)LAMBDA,
          "cbcl mixed: g0, g1, e0, e1, lambda read from the cfg");
    CHECK(f.cl->nweights == K * C * D && all_zero(st->centers, K * C * D),
          "cbcl mixed: K x C x D centers, zero before training");
    for (c = 0, ok = 1; c < C; ++c) ok &= !st->started[c];
    CHECK(ok, "cbcl mixed: no class started before training");

    /* Inference: nothing happens. */
    fill_batch(net, classes, 2 * P, 3);
    net->train = 0;
    forward_network(net);
    CHECK(f.cl->cost[0] == 0 && all_zero(st->centers, K * C * D), "cbcl mixed: inference gives cost 0, centers untouched");

    /* First training forward: [mixdata] mixes, the centers start at the class means. */
    fill_batch(net, classes, 2 * P, 3);
    srand(99);
    net->train = 1;
    forward_network(net);
    pr = mixdata_find_pairing(net);
    CHECK(pr && pr->active && pr->pairs == P && pr->mixup_row0 == 2 * P && pr->cutmix_row0 == 3 * P,
          "cbcl mixed: [mixdata] mixed the batch (P = 2, Mixup rows 4-5, CutMix rows 6-7)");
    CHECK(st->started[0] && !st->started[1] && st->started[2] && st->started[3],
          "cbcl mixed: classes 0, 2, 3 started, absent class 1 not (%d %d %d %d)", st->started[0], st->started[1],
          st->started[2], st->started[3]);
    {
        double e = 0;
        for (k = 0; k < K; ++k) {
            const float *z = net->layers[f.feat[k]].output;
            for (c = 0; c < C; ++c)
                for (d = 0; d < D; ++d) {
                    double m = 0;
                    int n = 0;
                    for (b = 0; b < 2 * P; ++b)
                        if (classes[b] == c) { m += z[b * D + d]; ++n; }
                    m = n ? m / n : 0;
                    e = err_max(e, fabs(st->centers[(k * C + c) * D + d] - m));
                }
        }
        CHECK_CLOSE(e, 0, 1e-6, "cbcl mixed: centers start at the mean feature of their class's ID rows (0 when absent)");
    }
    ref_forward(&f, st->centers, B, &r);
    compare_forward(&f, &r, B, "mixed, first batch");
    CHECK(r.dminus[0] > 0.01 && r.dminus[1] > 0.01 && r.dplus[0] > 0.01 && r.n_id == 2 * P,
          "cbcl mixed: the case is not degenerate (d+ %.3g, d- %.3g)", r.dplus[0], r.dminus[0]);

    /* Centers elsewhere, every class started: the general case for the reference and FD. */
    srand(5);
    gc_fill_uniform(st->centers, K * C * D, -1, 1);
    for (c = 0; c < C; ++c) st->started[c] = 1;
    forward_cbcl_layer(*f.cl, *net);
    ref_forward(&f, st->centers, B, &r);
    compare_forward(&f, &r, B, "mixed, set centers");

    gradient_checks(&f, "mixed");

    /* Backward adds to what the feature deltas already hold. */
    {
        float *dz = net->layers[f.feat[0]].delta;
        float g[B * D];
        memset(dz, 0, sizeof(g));
        memset(net->layers[f.feat[1]].delta, 0, sizeof(g));
        cbcl_grad(&f);
        memcpy(g, dz, sizeof(g));
        for (i = 0; i < B * D; ++i) dz[i] = 0.5f;
        cbcl_grad(&f);
        for (i = 0, ok = 1; i < B * D; ++i) ok &= fabsf(dz[i] - (0.5f + g[i])) <= 1e-6f;
        CHECK(ok, "cbcl mixed: backward accumulates into the features' delta");
    }

    /* Inference: no cost, no delta, centers untouched. */
    {
        float *dz = net->layers[f.feat[0]].delta;
        memset(dz, 0, sizeof(float) * B * D);
        memset(st->center_updates, 0, sizeof(float) * K * C * D);
        net->train = 0;
        forward_cbcl_layer(*f.cl, *net);
        backward_cbcl_layer(*f.cl, *net);
        CHECK(f.cl->cost[0] == 0 && all_zero(dz, B * D) && all_zero(st->center_updates, K * C * D),
              "cbcl mixed: net.train = 0 gives no cost and no gradient");
        net->train = 1;
    }

    /* The center update: centers += lr / batch * updates, updates *= momentum, no decay. */
    {
        float c0[K * C * D], u0[K * C * D];
        update_args a;
        double ec = 0, eu = 0;
        cbcl_grad(&f);
        memcpy(c0, st->centers, sizeof(c0));
        memcpy(u0, st->center_updates, sizeof(u0));
        memset(&a, 0, sizeof(a));
        a.batch = B;
        a.learning_rate = 0.1f;
        a.momentum = 0.9f;
        a.decay = 0.01f;
        f.cl->learning_rate_scale = 1;
        f.cl->update(*f.cl, a);
        for (i = 0; i < K * C * D; ++i) {
            ec = err_max(ec, fabs(st->centers[i] - (c0[i] + 0.1 / B * u0[i])));
            eu = err_max(eu, fabs(st->center_updates[i] - 0.9 * u0[i]));
        }
        CHECK(!all_zero(u0, K * C * D), "cbcl update: the centers have a gradient");
        CHECK_CLOSE(ec, 0, 1e-6, "cbcl update: centers move by lr / batch * updates (no weight decay)");
        CHECK_CLOSE(eu, 0, 1e-6, "cbcl update: updates keep momentum * updates");
    }
    free_network(net);
}

static void test_plain(void)
{
    /* Without [mixdata]: one-hot rows are ID rows; a zero row and a two-hot row are not. */
    static const int classes[6] = {1, 3, -1, 1, -2, 0};
    network *net = parse_text("plain.cfg", cfg_text(0), 12);
    fixture f;
    reference r;
    int c;

    fixture_init(&f, net, 0);
    CHECK(net->n == 5 && f.cl->plugin == plugin_find("cbcl") && mixdata_find_pairing(net) == 0,
          "cbcl plain: the cfg without [mixdata] parses to 5 layers ending in [cbcl]");
    fill_batch(net, classes, 6, 4);
    net->train = 1;
    forward_network(net);
    CHECK(f.st->started[0] && f.st->started[1] && !f.st->started[2] && f.st->started[3],
          "cbcl plain: classes 0, 1, 3 started, class 2 (only in a two-hot row) not");
    ref_forward(&f, f.st->centers, 6, &r);
    compare_forward(&f, &r, 6, "plain, first batch");
    CHECK(f.st->dminus[0] == 0 && f.st->dminus[1] == 0 && f.st->n_mix == 0 && f.st->n_id == 4,
          "cbcl plain: without mixed rows d- = 0 exactly (n_id %d, n_mix %d)", f.st->n_id, f.st->n_mix);
    srand(6);
    gc_fill_uniform(f.st->centers, K * C * D, -1, 1);
    for (c = 0; c < C; ++c) f.st->started[c] = 1;
    forward_cbcl_layer(*f.cl, *net);
    ref_forward(&f, f.st->centers, 6, &r);
    compare_forward(&f, &r, 6, "plain, set centers");
    gradient_checks(&f, "plain");
    free_network(net);
}

static long file_size(const char *path)
{
    struct stat s;
    return stat(path, &s) == 0 ? (long)s.st_size : -1;
}

static void test_save_load(void)
{
    static const int classes[2 * P] = {3, 1, 3, 0};
    network *a = parse_text("mix.cfg", cfg_text(1), 21), *b;
    cbcl_state *sa = a->layers[5].plugin_state, *sb;
    char *wfile = tmp_path("mix.weights");
    long expect = 3 * sizeof(int) + sizeof(size_t);
    float cost_a;
    int i, ok;

    fill_batch(a, classes, 2 * P, 7);
    srand(8);
    a->train = 1;
    forward_network(a);
    srand(9);
    gc_fill_uniform(sa->centers, K * C * D, -2, 2);
    forward_cbcl_layer(a->layers[5], *a);
    cost_a = a->layers[5].cost[0];
    save_weights(a, wfile);
    for (i = 0; i < a->n; ++i)
        if (a->layers[i].type == CONNECTED) expect += sizeof(float) * (a->layers[i].outputs * (a->layers[i].inputs + 1));
    expect += sizeof(float) * K * C * D;
    CHECK(file_size(wfile) == expect,
          "cbcl save: the weights file holds the header, the connected layers and the %d centers (%ld bytes, "
          "expected %ld)", K * C * D, file_size(wfile), expect);

    b = parse_text("mix.cfg", cfg_text(1), 22);
    sb = b->layers[5].plugin_state;
    CHECK(all_zero(sb->centers, K * C * D) && !sb->started[0], "cbcl load: a fresh network has zero, unstarted centers");
    load_weights(b, wfile);
    CHECK(memcmp(sa->centers, sb->centers, sizeof(float) * K * C * D) == 0, "cbcl load: centers identical after load");
    for (i = 0, ok = 1; i < C; ++i) ok &= sb->started[i] == 1;
    CHECK(ok, "cbcl load: every class counts as started after load (class 2 never appeared in a batch)");

    /* The same batch through the loaded network: same cost (the centers are not re-started). */
    fill_batch(b, classes, 2 * P, 7);
    srand(8);
    b->train = 1;
    forward_network(b);
    CHECK(memcmp(sa->centers, sb->centers, sizeof(float) * K * C * D) == 0,
          "cbcl load: a training forward keeps the loaded centers");
    CHECK(b->layers[5].cost[0] == cost_a, "cbcl load: the loaded network gives the same cost (%.9g vs %.9g)",
          b->layers[5].cost[0], cost_a);
    free_network(a);
    free_network(b);
    unlink(wfile);
}

int main(void)
{
    test_ratio();
    test_mixed();
    test_plain();
    test_save_load();
    return harness_finish();
}
