/* [mixdata] (src/layers/mixdata_layer.c):
 *   - training forward against a naive reference rebuilt from the published pairing
 *     (mixdata_find_pairing: the lambdas and CutMix boxes): Mixup rows are the blend, CutMix
 *     rows take the pixels of the box from x_j and the rest from x_i, CutMix's l is one minus
 *     the pasted area fraction (measured on the output, not read from the box), two-hot
 *     labels are l y_i + (1-l) y_j and sum to 1; the source rows, the input and the source
 *     labels are untouched; the mixed slots of the input are never read;
 *   - Mixup's l follows Beta(alpha, alpha) (mean and variance, for alpha=1 and alpha=0.4);
 *   - CutMix's l has the mean and variance that cutmix_alpha (1 and 0.5) and the clipped
 *     box specify, and the boxes' centres are uniform (coverage of every column and row);
 *   - identity at test time (net.train=0) and at batch 1; a seeded run repeats exactly;
 *   - FD gradient of the input through the mixing, and backward accumulating;
 *   - the sampler: class frequencies of instance and class-reversed draws over 200k draws on
 *     a generated long-tailed list against n_c / N and (1/n_c) / sum(1/n), a uniform choice
 *     inside a class, and a class with no image that is never drawn;
 *   - the batch loader through a real load_args on generated PNGs: the draw order, the
 *     layout (rows [0, 2P) loaded with one-hot labels, mixed slots zero), reversed=0, and
 *     mixdata_setup_loader's thread count (a divisor of the number of batches);
 *   - the loader's fatal errors (no statistics, a step not a multiple of the batch).
 * The cfg keys are checked by tests/layers/test_mixdata_cfg.sh.
 *
 * Statistical checks use fixed seeds; each compares an estimate with its expectation within
 * Z_MAX standard errors (4.5: a false alarm about once in 150,000 per comparison if the seed
 * were random).
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "darknet.h"
#include "layer_registry.h"
#include "mixdata_layer.h"

#include "expect_exit.h"
#include "gradcheck.h"
#include "harness.h"

#define Z_MAX 4.5

/* Training layout of the main cfg: B = 12 rows in 4 blocks (instance, reversed, Mixup,
 * CutMix) of P = 3; a W x H x CH image per row; NC classes in the truth. */
enum { W = 6, H = 5, CH = 2, X = W * H * CH, NB = 12, P = 3, NC = 4 };



static const char *MAIN_CFG =
    "[net]\nbatch=12\nwidth=6\nheight=5\nchannels=2\n\n[mixdata]\n";

/* A network struct for one direct call of the layer: its layers are the parsed network's
 * (so mixdata_find_pairing sees the layer), input/truth/delta are the test's buffers. */
static network call_net(network *parsed, float *input, float *truth, float *delta, int train)
{
    network n = *parsed;
    n.input = input;
    n.truth = truth;
    n.truths = NC;
    n.delta = delta;
    n.train = train;
    n.index = 0;
    return n;
}

/* Source rows random; the mixed slots of the input hold a marker the layer must not read.
 * Source labels one-hot: instance row p is class p % NC, reversed row P+p class (p+1) % NC,
 * so every pair mixes two classes; the mixed rows' labels hold a marker the layer must
 * overwrite. */
static void fill_batch(float *input, float *truth)
{
    int r, k;
    for (r = 0; r < NB; ++r)
        for (k = 0; k < X; ++k) input[r * X + k] = r < 2 * P ? rand_uniform(-1, 1) : 7.f;
    for (r = 0; r < NB * NC; ++r) truth[r] = 0.375f;
    for (r = 0; r < 2 * P; ++r) {
        memset(truth + r * NC, 0, sizeof(float) * NC);
        truth[r * NC + (r < P ? r % NC : (r - P + 1) % NC)] = 1;
    }
}

/* ---- forward against the naive reference ---- */

static void test_forward_reference(network *net)
{
    const layer *l = &net->layers[0];
    float input[NB * X], in0[NB * X], truth[NB * NC], t0[NB * NC];
    double err_mix = 0, err_cut_l = 0, err_lab = 0, err_sum = 0, err_area = 0;
    int bad_cut_pixels = 0, bad_box = 0, src_changed = 0, src_lab_changed = 0, in_changed = 0;
    int lam_out = 0, partial_boxes = 0, distinct_pairs = 0, seed, p, k, c;
    const mix_pairing *pr = mixdata_find_pairing(net);

    CHECK(pr != 0, "mixdata: mixdata_find_pairing finds the layer of a parsed network");
    if (!pr) return;
    CHECK(pr->rows == NB && pr->pairs == P && pr->mixup_row0 == 2 * P && pr->cutmix_row0 == 3 * P,
          "mixdata: layout of batch 12 with mixup+cutmix: rows %d, pairs %d, Mixup row %d, CutMix row %d",
          pr->rows, pr->pairs, pr->mixup_row0, pr->cutmix_row0);
    CHECK(l->outputs == X && l->inputs == X && l->out_w == W && l->out_h == H && l->out_c == CH,
          "mixdata: output shape equals the input shape (%d x %d x %d)", l->out_w, l->out_h, l->out_c);

    for (seed = 1; seed <= 40; ++seed) {
        network n;
        srand(1000 + seed);
        fill_batch(input, truth);
        memcpy(in0, input, sizeof(in0));
        memcpy(t0, truth, sizeof(t0));
        n = call_net(net, input, truth, 0, 1);
        srand(seed);
        l->forward(*l, n);
        if (!pr->active) {
            CHECK(0, "mixdata: a training forward with a truth buffer mixes (pairing active)");
            return;
        }
        for (k = 0; k < 2 * P * X; ++k) src_changed += l->output[k] != input[k];
        for (k = 0; k < 2 * P * NC; ++k) src_lab_changed += truth[k] != t0[k];
        for (k = 0; k < NB * X; ++k) in_changed += input[k] != in0[k];
        for (p = 0; p < P; ++p) {
            const float *xi = in0 + p * X, *xj = in0 + (P + p) * X;
            const float *yi = t0 + p * NC, *yj = t0 + (P + p) * NC;
            distinct_pairs += memcmp(yi, yj, sizeof(float) * NC) != 0;
            /* Mixup row */
            {
                const double lam = pr->mixup_lambda[p];
                const float *o = l->output + (2 * P + p) * X, *t = truth + (2 * P + p) * NC;
                double s = 0;
                lam_out += !(lam > 0 && lam < 1);
                for (k = 0; k < X; ++k) err_mix = err_max(err_mix, fabs(o[k] - (lam * xi[k] + (1 - lam) * xj[k])));
                for (c = 0; c < NC; ++c) {
                    err_lab = err_max(err_lab, fabs(t[c] - (lam * yi[c] + (1 - lam) * yj[c])));
                    s += t[c];
                }
                err_sum = err_max(err_sum, fabs(s - 1));
            }
            /* CutMix row */
            {
                const double lam = pr->cutmix_lambda[p];
                const int *box = pr->cutmix_box + 4 * p;
                const float *o = l->output + (3 * P + p) * X, *t = truth + (3 * P + p) * NC;
                int x, y, from_j = 0;
                double s = 0;
                if (!(box[0] >= 0 && box[0] <= box[2] && box[2] <= W && box[1] >= 0 && box[1] <= box[3] && box[3] <= H))
                    ++bad_box;
                for (c = 0; c < CH; ++c)
                    for (y = 0; y < H; ++y)
                        for (x = 0; x < W; ++x) {
                            const int q = (c * H + y) * W + x;
                            const int in = x >= box[0] && x < box[2] && y >= box[1] && y < box[3];
                            bad_cut_pixels += o[q] != (in ? xj[q] : xi[q]);
                            /* measured on the output: pixels of channel 0 that came from x_j */
                            if (c == 0 && o[q] == xj[q] && o[q] != xi[q]) ++from_j;
                        }
                err_area = err_max(err_area, fabs(lam - (1.0 - (double)from_j / (W * H))));
                err_cut_l = err_max(err_cut_l, fabs(lam - (1.0 - (double)(box[2] - box[0]) * (box[3] - box[1]) / (W * H))));
                partial_boxes += from_j > 0 && from_j < W * H;
                for (c = 0; c < NC; ++c) {
                    err_lab = err_max(err_lab, fabs(t[c] - (lam * yi[c] + (1 - lam) * yj[c])));
                    s += t[c];
                }
                err_sum = err_max(err_sum, fabs(s - 1));
            }
        }
    }
    CHECK(distinct_pairs > 0 && partial_boxes >= 20,
          "mixdata: the reference checks below are not vacuous (%d pairs of different classes, %d CutMix boxes neither empty nor full)",
          distinct_pairs, partial_boxes);
    CHECK(lam_out == 0, "mixdata: every Mixup l is in (0, 1) (%d outside)", lam_out);
    CHECK_CLOSE(err_mix, 0, 1e-6, "mixdata: Mixup rows equal l x_i + (1-l) x_j (40 seeded batches, P=%d)", P);
    CHECK(bad_box == 0, "mixdata: every CutMix box lies inside the %dx%d image (%d outside)", W, H, bad_box);
    CHECK(bad_cut_pixels == 0,
          "mixdata: CutMix rows take x_j inside the box and x_i outside, in every channel, exactly (%d pixels wrong)",
          bad_cut_pixels);
    CHECK_CLOSE(err_area, 0, 1e-6, "mixdata: CutMix l equals 1 - (pixels pasted from x_j, counted on the output) / (W*H)");
    CHECK_CLOSE(err_cut_l, 0, 1e-6, "mixdata: CutMix l equals 1 - box area / (W*H)");
    CHECK_CLOSE(err_lab, 0, 1e-6, "mixdata: mixed rows' labels equal l y_i + (1-l) y_j (Mixup and CutMix)");
    CHECK_CLOSE(err_sum, 0, 1e-6, "mixdata: mixed rows' labels sum to 1");
    CHECK(src_changed == 0, "mixdata: output rows [0, 2P) are the source rows, unchanged (%d values differ)", src_changed);
    CHECK(src_lab_changed == 0, "mixdata: the source rows' labels are left as they were (%d values differ)", src_lab_changed);
    CHECK(in_changed == 0, "mixdata: the input buffer is not written (%d values differ)", in_changed);
}

/* ---- Mixup's l ~ Beta(alpha, alpha) ---- */

/* Sample mean, variance (n - 1) and fourth central moment of v[0..n). */
static void moments(const double *v, int n, double *mean, double *var, double *m4)
{
    int i;
    *mean = *var = *m4 = 0;
    for (i = 0; i < n; ++i) *mean += v[i] / n;
    for (i = 0; i < n; ++i) {
        *var += (v[i] - *mean) * (v[i] - *mean) / (n - 1);
        *m4 += pow(v[i] - *mean, 4) / n;
    }
}

static void check_beta(network *net, double alpha, int forwards)
{
    const layer *l = &net->layers[0];
    const mix_pairing *pr = mixdata_find_pairing(net);
    const int rows = l->batch, Xn = l->inputs, pairs = pr->pairs;
    float *input = calloc(rows * Xn, sizeof(float)), *truth = calloc(rows * NC, sizeof(float));
    double *v = malloc(sizeof(double) * forwards * pairs);
    double mean, var, m4, want_var = 1 / (4 * (2 * alpha + 1)), se_mean, se_var;
    int n = 0, i, p;
    network nn = *net;
    nn.input = input;
    nn.truth = truth;
    nn.truths = NC;
    nn.train = 1;
    srand(77);
    for (i = 0; i < forwards; ++i) {
        l->forward(*l, nn);
        for (p = 0; p < pairs; ++p) v[n++] = pr->mixup_lambda[p];
    }
    moments(v, n, &mean, &var, &m4);
    se_mean = sqrt(var / n);
    se_var = sqrt((m4 - var * var) / n);
    CHECK(fabs(mean - 0.5) < Z_MAX * se_mean,
          "mixdata alpha=%g: mean of %d Mixup l is 1/2 (%.4f, %.1f standard errors off)", alpha, n, mean,
          fabs(mean - 0.5) / se_mean);
    CHECK(fabs(var - want_var) < Z_MAX * se_var,
          "mixdata alpha=%g: variance of Mixup l is 1/(4(2a+1)) = %.4f (%.4f, %.1f standard errors off)", alpha,
          want_var, var, fabs(var - want_var) / se_var);
    free(input);
    free(truth);
    free(v);
}

/* check (check_beta or check_cutmix) on net, whose key is at its default of 1, then on the
 * network of cfg, where it is alpha; 3000 forwards each. */
static void check_default_and(void (*check)(network *, double, int), network *net, const char *cfg_name,
                              const char *cfg, double alpha)
{
    network *other = net_from_cfg_text(cfg_name, cfg);
    check(net, 1.0, 3000);
    check(other, alpha, 3000);
    free_network(other);
}

static void test_beta(network *net)
{
    check_default_and(check_beta, net, "alpha.cfg",
                      "[net]\nbatch=12\nwidth=6\nheight=5\nchannels=2\n\n[mixdata]\nalpha=0.4\n", 0.4);
}

/* ---- CutMix: l's distribution, cutmix_alpha and the box placement ----
 * The published l is 1 - (clipped box area) / (W H), with a box of floor(W r) x floor(H r),
 * r = sqrt(1 - u), u ~ Beta(a, a) (a = cutmix_alpha), centred on a uniform pixel. Its exact
 * moments and each column's and row's chance of lying inside the box follow from that
 * specification: integrated over u (midpoint rule; Beta(1/2, 1/2) through u = sin^2 t, t
 * uniform) and summed over every centre. The layer's draws must match them. */

enum { CUT_GRID = 100000 };

/* Mean over the centres c in [0, n) of the clipped extent of a box of size s, of its
 * square, and of [q in box] for each q: what the layer's cutmix_box does along one axis. */
static void axis_moments(int n, int s, double *m1, double *m2, double *cover)
{
    int c, q;
    *m1 = *m2 = 0;
    for (q = 0; q < n; ++q) cover[q] = 0;
    for (c = 0; c < n; ++c) {
        int a = c - s / 2, b = a + s;
        if (a < 0) a = 0;
        if (b > n) b = n;
        if (b < a) b = a;
        *m1 += (double)(b - a) / n;
        *m2 += (double)(b - a) * (b - a) / n;
        for (q = a; q < b; ++q) cover[q] += 1.0 / n;
    }
}

/* Exact E[l], E[l^2] and the column/row coverage for a W x H image and cutmix_alpha a
 * (a = 1 or 1/2). */
static void cutmix_expect(int w, int h, double a, double *el, double *el2, double *colp, double *rowp)
{
    double *cx = malloc(sizeof(double) * w), *cy = malloc(sizeof(double) * h);
    double ea = 0, ea2 = 0;
    int i, q;
    for (q = 0; q < w; ++q) colp[q] = 0;
    for (q = 0; q < h; ++q) rowp[q] = 0;
    for (i = 0; i < CUT_GRID; ++i) {
        const double t = (i + 0.5) / CUT_GRID;
        const double u = a == 1 ? t : pow(sin(t * M_PI / 2), 2);
        const float r = sqrtf(1.f - (float)u);
        double x1, x2, y1, y2;
        axis_moments(w, (int)(w * r), &x1, &x2, cx);
        axis_moments(h, (int)(h * r), &y1, &y2, cy);
        ea += x1 * y1 / ((double)w * h) / CUT_GRID;
        ea2 += x2 * y2 / ((double)w * h * w * h) / CUT_GRID;
        for (q = 0; q < w; ++q) colp[q] += cx[q] / CUT_GRID;
        for (q = 0; q < h; ++q) rowp[q] += cy[q] / CUT_GRID;
    }
    *el = 1 - ea;
    *el2 = 1 - 2 * ea + ea2;
    free(cx);
    free(cy);
}

static void check_cutmix(network *net, double a, int forwards)
{
    const layer *l = &net->layers[0];
    const mix_pairing *pr = mixdata_find_pairing(net);
    const int rows = l->batch, Xn = l->inputs, pairs = pr->pairs, w = l->w, h = l->h;
    float *input = calloc(rows * Xn, sizeof(float)), *truth = calloc(rows * NC, sizeof(float));
    double *v = malloc(sizeof(double) * forwards * pairs), *colp = malloc(sizeof(double) * w),
           *rowp = malloc(sizeof(double) * h), *colf = calloc(w, sizeof(double)), *rowf = calloc(h, sizeof(double));
    double el, el2, want_var, mean, var, m4, zc = 0, zr = 0;
    int n = 0, i, p, q;
    network nn = *net;
    nn.input = input;
    nn.truth = truth;
    nn.truths = NC;
    nn.train = 1;
    cutmix_expect(w, h, a, &el, &el2, colp, rowp);
    want_var = el2 - el * el;
    srand(91);
    for (i = 0; i < forwards; ++i) {
        l->forward(*l, nn);
        for (p = 0; p < pairs; ++p) {
            const int *box = pr->cutmix_box + 4 * p;
            v[n++] = pr->cutmix_lambda[p];
            for (q = box[0]; q < box[2]; ++q) colf[q] += 1;
            for (q = box[1]; q < box[3]; ++q) rowf[q] += 1;
        }
    }
    moments(v, n, &mean, &var, &m4);
    /* Largest deviation of a column's (row's) coverage, in binomial standard errors. */
    for (q = 0; q < w; ++q) zc = fmax(zc, fabs(colf[q] / n - colp[q]) / sqrt(colp[q] * (1 - colp[q]) / n + 1e-300));
    for (q = 0; q < h; ++q) zr = fmax(zr, fabs(rowf[q] / n - rowp[q]) / sqrt(rowp[q] * (1 - rowp[q]) / n + 1e-300));
    CHECK(fabs(mean - el) < Z_MAX * sqrt(var / n),
          "mixdata cutmix_alpha=%g, %dx%d: mean of %d CutMix l is the specified %.4f (%.4f, %.1f standard errors off)", a,
          w, h, n, el, mean, fabs(mean - el) / sqrt(var / n));
    CHECK(fabs(var - want_var) < Z_MAX * sqrt((m4 - var * var) / n),
          "mixdata cutmix_alpha=%g, %dx%d: variance of CutMix l is the specified %.4f (%.4f, %.1f standard errors off)", a,
          w, h, want_var, var, fabs(var - want_var) / sqrt((m4 - var * var) / n));
    CHECK(zc < Z_MAX && zr < Z_MAX,
          "mixdata cutmix_alpha=%g, %dx%d: each column's and row's share of boxes covering it is that of a uniform centre "
          "(worst %.1f and %.1f standard errors off)", a, w, h, zc, zr);
    free(input);
    free(truth);
    free(v);
    free(colp);
    free(rowp);
    free(colf);
    free(rowf);
}

static void test_cutmix(network *net)
{
    /* cutmix_alpha=0.5 with Mixup's alpha left at 1: CutMix must read its own key. */
    check_default_and(check_cutmix, net, "cutmix.cfg",
                      "[net]\nbatch=30\nwidth=16\nheight=12\nchannels=1\n\n[mixdata]\nmixup=0\ncutmix_alpha=0.5\n", 0.5);
}

/* ---- identity at test time and at batch 1; backward of the identity ---- */

static void test_identity(network *net)
{
    const layer *l = &net->layers[0];
    const mix_pairing *pr = mixdata_find_pairing(net);
    float input[NB * X], truth[NB * NC], t0[NB * NC], delta[NB * X];
    network n;
    int k, bad = 0;

    srand(3);
    fill_batch(input, truth);
    memcpy(t0, truth, sizeof(t0));
    /* a training forward first, so that "inactive" below is the test-time pass's doing */
    l->forward(*l, call_net(net, input, truth, 0, 1));
    memcpy(truth, t0, sizeof(t0));
    n = call_net(net, input, truth, delta, 0);
    l->forward(*l, n);
    CHECK(memcmp(l->output, input, sizeof(input)) == 0, "mixdata: net.train=0: output == input, every row");
    CHECK(memcmp(truth, t0, sizeof(t0)) == 0, "mixdata: net.train=0: the truth is not written");
    CHECK(pr->active == 0, "mixdata: net.train=0: the pairing says the batch was not mixed");
    /* backward of the identity: net.delta += l.delta for every row (mixed slots included) */
    for (k = 0; k < NB * X; ++k) {
        delta[k] = 0.25f;
        l->delta[k] = rand_uniform(-1, 1);
    }
    l->backward(*l, n);
    for (k = 0; k < NB * X; ++k) bad += delta[k] != 0.25f + l->delta[k];
    CHECK(bad == 0, "mixdata: backward after a test-time pass adds l.delta to net.delta, every row (%d wrong)", bad);

    {
        network *one = net_from_cfg_text("one.cfg", "[net]\nbatch=1\nwidth=6\nheight=5\nchannels=2\n\n[mixdata]\n");
        const layer *l1 = &one->layers[0];
        float in1[X], tr1[NC] = {0, 1, 0, 0};
        network n1 = call_net(one, in1, tr1, 0, 1);
        for (k = 0; k < X; ++k) in1[k] = rand_uniform(-1, 1);
        l1->forward(*l1, n1);
        CHECK(memcmp(l1->output, in1, sizeof(in1)) == 0 && tr1[1] == 1 && tr1[0] == 0,
              "mixdata: batch 1 in training: output == input, truth untouched");
        free_network(one);
    }
}

/* ---- a seeded run repeats exactly ---- */

static void test_seed(network *net)
{
    const layer *l = &net->layers[0];
    float input[NB * X], truth[NB * NC], t0[NB * NC], out1[NB * X], tr1[NB * NC];
    network n = call_net(net, input, truth, 0, 1);
    srand(9);
    fill_batch(input, truth);
    memcpy(t0, truth, sizeof(t0));
    srand(5);
    l->forward(*l, n);
    memcpy(out1, l->output, sizeof(out1));
    memcpy(tr1, truth, sizeof(tr1));
    memcpy(truth, t0, sizeof(t0));
    srand(5);
    l->forward(*l, n);
    CHECK(memcmp(out1, l->output, sizeof(out1)) == 0 && memcmp(tr1, truth, sizeof(tr1)) == 0,
          "mixdata: the same srand seed gives identical mixed rows and labels");
    memcpy(truth, t0, sizeof(t0));
    srand(6);
    l->forward(*l, n);
    CHECK(memcmp(out1, l->output, sizeof(out1)) != 0,
          "mixdata: control: another seed mixes differently");
}

/* ---- gradient of the input through the mixing ---- */

static void test_gradient(network *net)
{
    layer *l = &net->layers[0];
    gc_layer_net t;
    gc_result r;
    gc_opts o = gc_default_opts();
    gc_var var;
    float g[NB * X];
    int ok, k, nonzero_mixed = 0, bad = 0;

    gc_layer_net_init(&t, l, 31, 0);
    for (k = 2 * P * X; k < NB * X; ++k) t.input[k] = 0;   /* as the loader leaves them */
    var = (gc_var){"input", t.input, NB * X, t.input_delta};
    ok = gradcheck("mixdata", &var, 1, gc_layer_loss, gc_layer_grad, &t, &o, &r);
    CHECK(ok && r.checked == NB * X,
          "mixdata: FD gradient of the input through Mixup and CutMix matches -net.delta (%d checked, max rel %.2g)",
          r.checked, r.max_rel_err);
    CHECK(r.max_abs_grad > 0.5, "mixdata: input gradients are not trivially small (max |g| %.3g)", r.max_abs_grad);
    for (k = 2 * P * X; k < NB * X; ++k) nonzero_mixed += t.input_delta[k] != 0;
    CHECK(nonzero_mixed == 0, "mixdata: the unread mixed slots of the input get no gradient (%d nonzero)", nonzero_mixed);

    /* backward ADDS to net.delta (the layer below may have other consumers) */
    gc_layer_grad(&t);
    memcpy(g, t.input_delta, sizeof(g));
    for (k = 0; k < NB * X; ++k) t.input_delta[k] = 0.5f;
    srand(t.seed);
    l->forward(*l, t.net);
    for (k = 0; k < NB * X; ++k) l->delta[k] = -t.r[k];
    l->backward(*l, t.net);
    for (k = 0; k < NB * X; ++k) bad += fabsf(t.input_delta[k] - (0.5f + g[k])) > 1e-6f;
    CHECK(bad == 0, "mixdata: backward accumulates into net.delta (%d elements wrong)", bad);
    gc_layer_net_free(&t);
}

/* ---- the sampler ---- */

/* Class of each of n images: counts[c] images of class c, in a shuffled order. */
static int *long_tailed_list(const int *counts, int classes, int *n_out)
{
    int n = 0, c, i, k = 0;
    int *pc;
    for (c = 0; c < classes; ++c) n += counts[c];
    pc = malloc(sizeof(int) * n);
    for (c = 0; c < classes; ++c)
        for (i = 0; i < counts[c]; ++i) pc[k++] = c;
    for (i = n - 1; i > 0; --i) {
        int j = rand() % (i + 1), tmp = pc[i];
        pc[i] = pc[j];
        pc[j] = tmp;
    }
    *n_out = n;
    return pc;
}

/* Largest |observed - expected| over classes, in standard errors of a multinomial count. */
static double max_z(const long *obs, const double *prob, int classes, long draws, int *worst)
{
    double m = 0;
    int c;
    *worst = -1;
    for (c = 0; c < classes; ++c) {
        double e = draws * prob[c], sd = sqrt(draws * prob[c] * (1 - prob[c]));
        double z = sd > 0 ? fabs(obs[c] - e) / sd : (obs[c] == 0 ? 0 : INFINITY);
        if (*worst < 0 || z > m) {
            m = z;
            *worst = c;
        }
    }
    return m;
}

static void test_sampler(network *net)
{
    const layer *l = &net->layers[0];
    enum { K = 5 };
    const int counts[K] = {500, 200, 80, 30, 10};
    const long draws = 200000;
    long inst[K] = {0}, rev[K] = {0}, *per_image;
    double p_inst[K], p_rev[K], inv = 0, z;
    int n, i, c, worst, out_of_range = 0, n4 = 0;
    int *pc;

    srand(123);
    pc = long_tailed_list(counts, K, &n);
    per_image = calloc(n, sizeof(long));
    mixdata_set_train_stats(*l, net, pc, n, counts, K);
    for (c = 0; c < K; ++c) inv += 1.0 / counts[c];
    for (c = 0; c < K; ++c) {
        p_inst[c] = (double)counts[c] / n;
        p_rev[c] = 1.0 / counts[c] / inv;
    }
    srand(2024);
    for (i = 0; i < draws; ++i) {
        int a = mixdata_draw(*l, 0), b = mixdata_draw(*l, 1);
        if (a < 0 || a >= n || b < 0 || b >= n) { ++out_of_range; continue; }
        ++inst[pc[a]];
        ++rev[pc[b]];
        ++per_image[b];
    }
    CHECK(out_of_range == 0, "mixdata sampler: every draw is an index into the list (%d outside)", out_of_range);
    z = max_z(inst, p_inst, K, draws, &worst);
    CHECK(z < Z_MAX,
          "mixdata sampler: instance draws follow n_c/N for counts 500,200,80,30,10 (%ld draws; worst class %d: %.4f vs %.4f, %.1f SE)",
          draws, worst, (double)inst[worst] / draws, p_inst[worst], z);
    z = max_z(rev, p_rev, K, draws, &worst);
    CHECK(z < Z_MAX,
          "mixdata sampler: reversed draws follow (1/n_c)/sum(1/n) (worst class %d: %.4f vs %.4f, %.1f SE)",
          worst, (double)rev[worst] / draws, p_rev[worst], z);
    /* inside the rarest class (10 images), the reversed sampler picks images uniformly */
    {
        long obs[10];
        double prob[10];
        for (i = 0; i < n; ++i)
            if (pc[i] == K - 1 && n4 < 10) obs[n4++] = per_image[i];
        for (i = 0; i < 10; ++i) prob[i] = 0.1;
        z = max_z(obs, prob, 10, rev[K - 1], &worst);
        CHECK(n4 == 10 && z < Z_MAX,
              "mixdata sampler: reversed draws are uniform over the 10 images of the rarest class (worst %.1f SE)", z);
    }

    /* a class with no image: never drawn; the others renormalised */
    {
        enum { K2 = 4 };
        const int counts2[K2] = {0, 60, 20, 5};
        long rev2[K2] = {0};
        double p2[K2], inv2 = 1.0 / 60 + 1.0 / 20 + 1.0 / 5;
        int n2, *pc2 = long_tailed_list(counts2, K2, &n2);
        mixdata_set_train_stats(*l, net, pc2, n2, counts2, K2);
        p2[0] = 0;
        for (c = 1; c < K2; ++c) p2[c] = 1.0 / counts2[c] / inv2;
        srand(7);
        for (i = 0; i < 50000; ++i) {
            int b = mixdata_draw(*l, 1);
            if (b >= 0 && b < n2) ++rev2[pc2[b]];
        }
        CHECK(rev2[0] == 0, "mixdata sampler: a class with no image is never drawn (%ld times)", rev2[0]);
        z = max_z(rev2, p2, K2, 50000, &worst);
        CHECK(z < Z_MAX, "mixdata sampler: with an empty class, reversed draws follow (1/n_c)/sum over the others (%.1f SE)", z);
        free(pc2);
    }
    free(per_image);
    free(pc);
}

/* ---- the batch loader ---- */

/* Gray S x S PNGs: image i is DIR/<label>/<i>_<label>.png with every pixel (i + 1) * 10 / 255,
 * so a loaded row tells which image it came from. */
enum { S = 8, LC = 3 };
static const char *LOADER_LABELS[LC] = {"alpha", "beta", "gamma"};
static const int LOADER_COUNTS[LC] = {12, 6, 3};

static char **make_images(int *n_out, int *path_class)
{
    int n = 0, c, i, k;
    char **paths = calloc(24, sizeof(char *));
    for (c = 0; c < LC; ++c) {
        char dir[600];
        snprintf(dir, sizeof(dir), "%s/%s", tmp_dir(), LOADER_LABELS[c]);
        mkdir(dir, 0777);
    }
    /* interleave the classes in the list */
    for (i = 0; i < 12; ++i)
        for (c = 0; c < LC; ++c) {
            char base[700];
            image im;
            if (i >= LOADER_COUNTS[c]) continue;
            im = make_image(S, S, 3);
            for (k = 0; k < S * S * 3; ++k) im.data[k] = (n + 1) * 10 / 255.f;
            snprintf(base, sizeof(base), "%s/%s/%d_%s", tmp_dir(), LOADER_LABELS[c], n, LOADER_LABELS[c]);
            save_image_options(im, base, PNG, 0);
            free_image(im);
            paths[n] = malloc(strlen(base) + 5);
            sprintf(paths[n], "%s.png", base);
            path_class[n] = c;
            ++n;
        }
    *n_out = n;
    return paths;
}

/* Which image a loaded row is (-1: not a constant row of one of the images). */
static int row_image(const float *row, int cols, int n)
{
    int k, level = (int)lrintf(row[0] * 255);
    if (level % 10 || level / 10 < 1 || level / 10 > n) return -1;
    for (k = 1; k < cols; ++k)
        if (row[k] != row[0]) return -1;
    return level / 10 - 1;
}

static load_args loader_args(char **paths, int n, char **labels, int rows)
{
    load_args a = {0};
    a.paths = paths;
    a.n = rows;
    a.m = n;
    a.labels = labels;
    a.classes = LC;
    a.size = S;
    a.min = a.max = S;
    a.center = 1;        /* no random rescale: a loaded row is the image's pixels */
    a.saturation = 1;
    a.exposure = 1;
    a.noflip = 1;
    a.threads = 4;
    return a;
}

typedef struct { network *net; load_args a; } loader_ctx;

static void call_setup_loader(void *ctx)
{
    loader_ctx *x = ctx;
    mixdata_setup_loader(x->net->layers[0], x->net, &x->a);
}

static void call_draw(void *ctx)
{
    network *net = ctx;
    mixdata_draw(net->layers[0], 1);
}

/* Checks the layout of one loaded batch; expect (optional, [rows]) is the image each source
 * row must hold. Returns the number of wrong rows. */
static int check_layout(data d, int rows, int B8, int P8, int n, const int *path_class, const int *expect,
                        int *wrong_label)
{
    int r, k, bad = 0;
    *wrong_label = 0;
    for (r = 0; r < rows; ++r) {
        const int slot = r % B8;
        if (slot < 2 * P8) {
            int img = row_image(d.X.vals[r], d.X.cols, n), c, hot = 0;
            if (img < 0 || (expect && img != expect[r])) { ++bad; continue; }
            for (c = 0; c < LC; ++c) hot += d.y.vals[r][c] == 1;
            if (hot != 1 || d.y.vals[r][path_class[img]] != 1) ++*wrong_label;
        } else {
            int nonzero = 0;
            for (k = 0; k < d.X.cols; ++k) nonzero += d.X.vals[r][k] != 0;
            for (k = 0; k < d.y.cols; ++k) nonzero += d.y.vals[r][k] != 0;
            bad += nonzero > 0;
        }
    }
    return bad;
}

static void test_loader(void)
{
    enum { B8 = 8, P8 = 2, CHUNKS = 2, ROWS = B8 * CHUNKS };
    const char *cfg = "[net]\nbatch=8\nwidth=8\nheight=8\nchannels=3\n\n[mixdata]\n";
    int path_class[24], n, i, r, bad, wrong_label;
    char **paths = make_images(&n, path_class);
    char **labels = (char **)LOADER_LABELS;
    network *net = net_from_cfg_text("loader.cfg", cfg);
    network *net0 = net_from_cfg_text("loader0.cfg",
        "[net]\nbatch=8\nwidth=8\nheight=8\nchannels=3\n\n[mixdata]\nreversed=0\n");
    loader_ctx x;
    load_args a;
    data d;

    CHECK(n == 21, "mixdata loader: 21 generated images (12, 6, 3)");
    /* errors before the statistics are set */
    x.net = net;
    x.a = loader_args(paths, n, labels, ROWS);
    expect_exit("mixdata loader: setup before the training statistics is a clean error",
                call_setup_loader, &x, "needs the training statistics");
    expect_exit("mixdata sampler: a draw before the training statistics is a clean error",
                call_draw, net, "sampler used before the training statistics");

    mixdata_set_train_stats(net->layers[0], net, path_class, n, LOADER_COUNTS, LC);
    mixdata_set_train_stats(net0->layers[0], net0, path_class, n, LOADER_COUNTS, LC);
    x.a = loader_args(paths, n, labels, ROWS + 4);
    expect_exit("mixdata loader: images per step not a multiple of the batch is a clean error",
                call_setup_loader, &x, "not a multiple of its batch 8");

    /* setup: loader, state, and a thread count that splits the step into whole batches */
    a = loader_args(paths, n, labels, ROWS);
    mixdata_setup_loader(net->layers[0], net, &a);
    CHECK(a.type == PLUGIN_DATA && a.loader == mixdata_load_batch && a.loader_state == &net->layers[0],
          "mixdata loader: setup installs PLUGIN_DATA, mixdata_load_batch and the network's own layer");
    {
        int chunks, req, wrong = 0;
        for (chunks = 1; chunks <= 12; ++chunks)
            for (req = 0; req <= 9; ++req) {
                load_args b = loader_args(paths, n, labels, chunks * B8);
                int t;
                b.threads = req;
                mixdata_setup_loader(net->layers[0], net, &b);
                t = b.threads;
                if (t < 1 || chunks % t != 0 || t > (req > 1 ? req : 1) || (req >= chunks && t != chunks)) {
                    if (!wrong) printf("  %d batches, %d threads asked: %d threads\n", chunks, req, t);
                    ++wrong;
                }
            }
        CHECK(wrong == 0,
              "mixdata loader: threads set to a divisor of the number of batches, at most the threads asked, all batches when threads allow (%d of 120 cases wrong)",
              wrong);
    }

    /* direct call, seeded: the rows are the sampler's draws in order (per batch: P instance
     * draws, then P reversed draws), loaded with their own one-hot labels */
    {
        int expect[ROWS];
        for (i = 0; i < 2; ++i) {
            network *nn = i ? net0 : net;
            load_args b = loader_args(paths, n, labels, ROWS);
            mixdata_setup_loader(nn->layers[0], nn, &b);
            srand(55);
            for (r = 0; r < ROWS; ++r) {
                const int slot = r % B8;
                expect[r] = slot < P8 ? mixdata_draw(nn->layers[0], 0)
                          : slot < 2 * P8 ? mixdata_draw(nn->layers[0], !i) : -1;
            }
            srand(55);
            d = mixdata_load_batch(b);
            bad = check_layout(d, ROWS, B8, P8, n, path_class, expect, &wrong_label);
            CHECK(d.X.rows == ROWS && d.y.rows == ROWS && d.X.cols == S * S * 3 && d.y.cols == LC,
                  "mixdata loader%s: %d rows of %d pixels and %d labels", i ? " (reversed=0)" : "", d.X.rows,
                  d.X.cols, d.y.cols);
            CHECK(bad == 0,
                  "mixdata loader%s: rows [0,2P) of each batch are the %s draws in order; mixed slots are zero (%d rows wrong)",
                  i ? " (reversed=0)" : "", i ? "instance+instance" : "instance+reversed", bad);
            CHECK(wrong_label == 0, "mixdata loader%s: each loaded row has its image's one-hot label (%d wrong)",
                  i ? " (reversed=0)" : "", wrong_label);
            free_data(d);
        }
    }

    /* through Darknet's threaded load_data, as classifier train calls it */
    {
        pthread_t th;
        data buf = {0};
        a = loader_args(paths, n, labels, 3 * B8);
        mixdata_setup_loader(net->layers[0], net, &a);
        a.d = &buf;
        th = load_data(a);
        pthread_join(th, 0);
        bad = check_layout(buf, 3 * B8, B8, P8, n, path_class, 0, &wrong_label);
        CHECK(a.threads == 3 && buf.X.rows == 3 * B8 && bad == 0 && wrong_label == 0,
              "mixdata loader: load_data with %d threads gives 3 whole batches laid out as above (%d rows wrong, %d labels wrong)",
              a.threads, bad, wrong_label);
        free_data(buf);
    }

    for (i = 0; i < n; ++i) {
        unlink(paths[i]);
        free(paths[i]);
    }
    free(paths);
    for (i = 0; i < LC; ++i) rmdir(tmp_path(LOADER_LABELS[i]));
    free_network(net);
    free_network(net0);
}

int main(void)
{
    network *net;
    net = net_from_cfg_text("mixdata.cfg", MAIN_CFG);
    CHECK(net->n == 1 && net->layers[0].type == PLUGIN && net->layers[0].plugin == plugin_find("mixdata"),
          "mixdata cfg: parses to one PLUGIN layer made by the mixdata entry");
    test_forward_reference(net);
    test_beta(net);
    test_cutmix(net);
    test_identity(net);
    test_seed(net);
    test_gradient(net);
    test_sampler(net);
    test_loader();
    free_network(net);
    return harness_finish();
}
