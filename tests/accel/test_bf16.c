/* bf16 convolutions ([net] bf16=1, src/accel/conv_accel_dnnl.c) against float. Built only
 * against the DNNL test library, like test_dnnl.c (tests/tests.mk).
 *
 * 1. oneDNN's verdict (conv_accel_bf16_unsupported) agrees with the CPU's own cpuid bits:
 *    AVX512-BF16 with AVX512-F/BW/DQ/VL and VNNI (oneDNN's AVX512_CORE_BF16), or AMX-BF16.
 *    Not checked when ONEDNN_MAX_CPU_ISA or DNNL_MAX_CPU_ISA lowers what oneDNN may use.
 *    Where the verdict is no, the rest is SKIPPED (reported as such, not as passed).
 *
 * 2. One layer, per shape (ResNet-32's convolutions and a few others): forward output,
 *    weight_updates and net.delta of the bf16 path against the float oneDNN path
 *    (DARKNET_WINOGRAD=0), element by element, within the bound that bf16 rounding allows.
 *    Each output element is a sum of K products w x in which bf16=1 rounds both factors to
 *    8 significant bits (to nearest: relative error at most u = 2^-8 each) and sums the
 *    exact products in float. So |bf16 - float| <= ((1 + u)^2 - 1) A + gamma_K ((1 + u)^2 + 1) A,
 *    with A = sum |w| |x| (the same convolution of |W| and |X|, computed here in float) and
 *    gamma_K = K 2^-24 / (1 - K 2^-24) for the float sums of both sides; weight_updates and
 *    net.delta start non-zero (Darknet adds to them), whose final addition adds up to
 *    2^-23 (|start| + A). K is c/groups size^2 (forward), n/groups size^2 (input gradient) and
 *    batch out_h out_w (weight gradient). 1% is added to the bound for A's own rounding.
 *    For the shapes oneDNN has jit bf16 kernels for (all of ResNet-32's), the largest error
 *    relative to A must also exceed 2^-14: float alone stays near 2^-24 there, so a plan that
 *    quietly ran in float would fail.
 *
 * 3. Training: a small cfg (three conv + batch norm + ReLU layers, a 1x1 conv, avgpool,
 *    softmax; 16x16 inputs, 4 classes, batch 16) trained for 300 iterations on a generated
 *    set of noisy striped images, once with bf16=0 (the default float path) and once with
 *    bf16=1, from the same initial weights on the same batches. The per-image loss falls
 *    from ln 4 = 1.39 to about 0.015. The curves, smoothed by an exponential moving average
 *    (alpha 0.1), must agree within TOL_EMA = 0.1 (absolute) from iteration 20 on, and the
 *    means of the last 50 losses within TOL_TAIL = 0.02 (absolute). The two runs drift
 *    apart as any two float runs in a different summation order would; the gap is largest
 *    where the loss falls fastest: 0.016 here, and 0.006 to 0.047 with other initial seeds
 *    (6, 7, 8) when the tolerances were chosen. Controls: the float run learns (its last 50
 *    losses average under half its first 10), and the runs are not the same numbers (bf16
 *    really changed the convolutions). About 5 s on two cores.
 */
#include <cpuid.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "convolutional_layer.h"
#include "network.h"
#include "parser.h"

#include "conv_accel.h"
#include "gradcheck.h"
#include "harness.h"

#define U_BF16 (1.0 / 256)          /* unit roundoff of bf16 (8-bit significand) */
#define MIN_BF16_EFFECT (1.0 / 16384) /* 2^-14: bf16's errors reach this, float's do not */
#define TRAIN_ITERS 300
#define TRAIN_BATCH 16
#define TRAIN_CLASSES 4
#define TRAIN_IMAGES 512
#define TRAIN_SIDE 16
#define EMA_ALPHA 0.1
#define EMA_FROM 20
#define TOL_EMA 0.1
#define TOL_TAIL 0.02

/* ---- 1. the CPU ---- */

static int cpuid_has_bf16(void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d, a1 = 0, b1, c1, d1;
    if (__get_cpuid_max(0, 0) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    if (d & (1u << 22)) return 1;                         /* AMX-BF16 */
    __cpuid_count(7, 1, a1, b1, c1, d1);
    int avx512 = (b & (1u << 16)) && (b & (1u << 17)) && (b & (1u << 30)) && (b & (1u << 31));  /* F DQ BW VL */
    return avx512 && (c & (1u << 11)) && (a1 & (1u << 5));  /* VNNI, AVX512-BF16 */
#else
    return 0;
#endif
}

/* ---- 2. one layer ---- */

typedef struct {
    const char *name;
    int batch, c, h, w, n, groups, size, stride, pad;
    int jit;                    /* oneDNN must have jit bf16 kernels for it */
} shape;

static const shape shapes[] = {
    {"3x3/1 3->16 32x32 (ResNet stem)", 2, 3, 32, 32, 16, 1, 3, 1, 1, 1},
    {"3x3/1 16->16 32x32 (stage 1)", 2, 16, 32, 32, 16, 1, 3, 1, 1, 1},
    {"3x3/2 16->32 32x32 (stage 2 entry)", 2, 16, 32, 32, 32, 1, 3, 2, 1, 1},
    {"3x3/1 32->32 16x16 (stage 2)", 2, 32, 16, 16, 32, 1, 3, 1, 1, 1},
    {"3x3/1 64->64 8x8 (stage 3)", 2, 64, 8, 8, 64, 1, 3, 1, 1, 1},
    {"1x1/2 16->32 32x32 (projection)", 2, 16, 32, 32, 32, 1, 1, 2, 0, 1},
    {"3x3/1 groups 2 16->32 12x12", 2, 16, 12, 12, 32, 2, 3, 1, 1, 0},
    {"5x5/2 pad 2 5->7 13x11 (odd sizes)", 3, 5, 13, 11, 7, 1, 5, 2, 2, 0},
};

typedef struct {
    float *out, *wu, *nd;
    int fwd, bwd;
} pass_result;

/* The linear part of layer l through the hooks: output = W * x, weight_updates = wu0 + dW,
   net.delta = nd0 + dX (x [batch, c, h, w], w [nweights], dy [batch, n, out_h, out_w]). */
static pass_result run_pass(layer l, network net, int bf16, const float *x, const float *w,
                            const float *dy, const float *wu0, const float *nd0)
{
    size_t in_n = (size_t)l.batch * l.inputs, out_n = (size_t)l.batch * l.outputs;
    pass_result r;
    net.bf16 = bf16;
    net.input = (float *)x;
    net.delta = malloc(in_n * sizeof(float));
    memcpy(net.delta, nd0, in_n * sizeof(float));
    memcpy(l.weights, w, l.nweights * sizeof(float));
    memcpy(l.delta, dy, out_n * sizeof(float));
    memcpy(l.weight_updates, wu0, l.nweights * sizeof(float));
    memset(l.output, 0, out_n * sizeof(float));
    r.fwd = conv_accel_forward(l, net);
    r.out = malloc(out_n * sizeof(float));
    memcpy(r.out, l.output, out_n * sizeof(float));
    r.bwd = conv_accel_backward(l, net);
    r.wu = malloc(l.nweights * sizeof(float));
    memcpy(r.wu, l.weight_updates, l.nweights * sizeof(float));
    r.nd = net.delta;
    return r;
}

static void pass_free(pass_result *r)
{
    free(r->out); free(r->wu); free(r->nd);
}

static float *abs_of(const float *x, size_t n)
{
    float *y = malloc(n * sizeof(float));
    size_t i;
    for (i = 0; i < n; ++i) y[i] = fabsf(x[i]);
    return y;
}

static double gamma_k(double k)
{
    double e = k * ldexp(1, -24);
    return e / (1 - e);
}

/* Checks |b - f| against the bound of bf16 rounding; returns max |b - f| / A over the
   elements with A > 0 (how much bf16 changed the result). */
static double check_bound(const char *name, const char *what, const float *b, const float *f,
                          const float *a, const float *start, size_t n, double k)
{
    double c = ((1 + U_BF16) * (1 + U_BF16) - 1 + gamma_k(k) * ((1 + U_BF16) * (1 + U_BF16) + 1)) * 1.01;
    double worst = 0, effect = 0;
    size_t i, bad = 0, worst_i = 0;
    for (i = 0; i < n; ++i) {
        double d = fabs((double)b[i] - f[i]);
        double tol = c * a[i] + (start ? ldexp(1, -23) * (fabs(start[i]) + a[i]) : 0);
        double ratio = d / (tol > 0 ? tol : 1e-30);
        if (d != d || ratio > 1) ++bad;
        if (d != d || ratio > worst) { worst = d != d ? INFINITY : ratio; worst_i = i; }
        if (a[i] > 0) effect = err_max(effect, d / a[i]);
    }
    CHECK(bad == 0, "%s: %s within bf16's rounding bound (K %.0f; worst element at %.2f of its bound)",
          name, what, k, worst);
    if (bad) printf("  %s: %zu of %zu elements over; element %zu: bf16 %.9g, float %.9g, A %.9g\n",
                    what, bad, n, worst_i, b[worst_i], f[worst_i], a[worst_i]);
    return effect;
}

static void test_layer(const shape *s)
{
    layer l = make_convolutional_layer(s->batch, s->h, s->w, s->c, s->n, s->groups, s->size,
                                       s->stride, s->pad, LINEAR, 0, 0, 0, 0);
    size_t in_n = (size_t)l.batch * l.inputs, out_n = (size_t)l.batch * l.outputs;
    size_t nw = (size_t)l.nweights;
    network net = {0};
    float *x = malloc(in_n * sizeof(float)), *w = malloc(nw * sizeof(float));
    float *dy = malloc(out_n * sizeof(float)), *wu0 = malloc(nw * sizeof(float));
    float *nd0 = malloc(in_n * sizeof(float));
    float *zero_w = calloc(nw, sizeof(float)), *zero_in = calloc(in_n, sizeof(float));
    float *ax, *aw, *ady;
    pass_result f, b, a;
    double e_out, e_wu, e_nd;

    srand(21);
    gc_fill_uniform(w, nw, -0.5f, 0.5f);
    gc_fill_uniform(x, in_n, -1, 1);
    gc_fill_uniform(dy, out_n, -1, 1);
    gc_fill_uniform(wu0, nw, -1, 1);
    gc_fill_uniform(nd0, in_n, -1, 1);
    ax = abs_of(x, in_n); aw = abs_of(w, nw); ady = abs_of(dy, out_n);
    net.train = 1;
    net.batch = l.batch;
    net.workspace = calloc(l.workspace_size / sizeof(float) + 1, sizeof(float));

    f = run_pass(l, net, 0, x, w, dy, wu0, nd0);
    b = run_pass(l, net, 1, x, w, dy, wu0, nd0);
    a = run_pass(l, net, 0, ax, aw, ady, zero_w, zero_in);     /* the bounds' A */
    CHECK(f.fwd == 1 && f.bwd == 1 && b.fwd == 1 && b.bwd == 1 && a.fwd == 1 && a.bwd == 1,
          "%s: the accelerated path takes it, float and bf16 (forward %d %d, backward %d %d)",
          s->name, f.fwd, b.fwd, f.bwd, b.bwd);
    e_out = check_bound(s->name, "forward output", b.out, f.out, a.out, 0, out_n,
                        (double)s->c / s->groups * s->size * s->size);
    e_wu = check_bound(s->name, "weight_updates", b.wu, f.wu, a.wu, wu0, nw,
                       (double)l.batch * l.out_h * l.out_w);
    e_nd = check_bound(s->name, "net.delta", b.nd, f.nd, a.nd, nd0, in_n,
                       (double)s->n / s->groups * s->size * s->size);
    printf("  %s: max |bf16 - float| / A: output %.3g, weight_updates %.3g, net.delta %.3g\n",
           s->name, e_out, e_wu, e_nd);
    if (s->jit) {
        CHECK(e_out > MIN_BF16_EFFECT && e_wu > MIN_BF16_EFFECT && e_nd > MIN_BF16_EFFECT,
              "%s: the bf16 plan really rounds to bf16 (max error / A %.2g, %.2g, %.2g > 2^-14)",
              s->name, e_out, e_wu, e_nd);
    }
    pass_free(&f); pass_free(&b); pass_free(&a);
    free(x); free(w); free(dy); free(wu0); free(nd0); free(zero_w); free(zero_in);
    free(ax); free(aw); free(ady); free(net.workspace);
    free_layer(l);
}

/* ---- 3. training ---- */

static const char *train_cfg =
    "[net]\n"
    "batch=16\n"
    "width=16\nheight=16\nchannels=3\n"
    "learning_rate=0.02\nmomentum=0.9\ndecay=0.0005\npolicy=constant\n"
    "bf16=%d\n"
    "\n[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=relu\n"
    "\n[convolutional]\nbatch_normalize=1\nfilters=16\nsize=3\nstride=2\npad=1\nactivation=relu\n"
    "\n[convolutional]\nbatch_normalize=1\nfilters=16\nsize=3\nstride=1\npad=1\nactivation=relu\n"
    "\n[convolutional]\nfilters=4\nsize=1\nstride=1\npad=0\nactivation=linear\n"
    "\n[avgpool]\n"
    "\n[softmax]\n";

/* A learnable set: class k has oriented stripes of its own angle and frequency, strongest in
   colour channel k % 3, at a random phase and brightness, with per-pixel noise.
   x [TRAIN_IMAGES][3][16][16], labels [TRAIN_IMAGES]. Its own generator: rand() draws
   Darknet's initial weights and must be left as it was. */
static void make_set(float *x, int *labels)
{
    unsigned long long st = 12345;
    int i, c, py, px;
#define NEXT() (st = st * 6364136223846793005ULL + 1442695040888963407ULL, (double)(st >> 11) / 9007199254740992.0)
    for (i = 0; i < TRAIN_IMAGES; ++i) {
        int k = i % TRAIN_CLASSES;
        double ang = k * 3.14159265 / TRAIN_CLASSES, freq = 0.6 + 0.25 * k;
        double phase = 6.2831853 * NEXT(), bright = 0.35 + 0.3 * NEXT();
        labels[i] = k;
        for (c = 0; c < 3; ++c) {
            double amp = c == k % 3 ? 0.15 : 0.05;
            for (py = 0; py < TRAIN_SIDE; ++py)
                for (px = 0; px < TRAIN_SIDE; ++px) {
                    double v = bright + amp * sin(freq * (px * cos(ang) + py * sin(ang)) + phase)
                             + 0.6 * (NEXT() - 0.5);
                    x[((size_t)(i * 3 + c) * TRAIN_SIDE + py) * TRAIN_SIDE + px] = (float)v;
                }
        }
    }
#undef NEXT
}

/* Per-image losses of TRAIN_ITERS steps of the cfg with bf16 as given, into loss[]. */
static int train_run(int bf16, const float *x, const int *labels, float *loss)
{
    char text[1200];
    const size_t img = 3 * TRAIN_SIDE * TRAIN_SIDE;
    int it, b;
    snprintf(text, sizeof(text), train_cfg, bf16);
    srand(5);                       /* the same initial weights for both runs */
    network *net = net_from_cfg_text(bf16 ? "train-bf16.cfg" : "train-f32.cfg", text);
    if (net->batch != TRAIN_BATCH || net->inputs != (int)img || net->outputs != TRAIN_CLASSES) return 0;
    for (it = 0; it < TRAIN_ITERS; ++it) {
        memset(net->truth, 0, (size_t)TRAIN_BATCH * TRAIN_CLASSES * sizeof(float));
        for (b = 0; b < TRAIN_BATCH; ++b) {
            int i = (it * TRAIN_BATCH + b) % TRAIN_IMAGES;
            memcpy(net->input + b * img, x + i * img, img * sizeof(float));
            net->truth[b * TRAIN_CLASSES + labels[i]] = 1;
        }
        loss[it] = train_network_datum(net) / TRAIN_BATCH;
    }
    free_network(net);
    return 1;
}

static void test_training(void)
{
    float *x = malloc((size_t)TRAIN_IMAGES * 3 * TRAIN_SIDE * TRAIN_SIDE * sizeof(float));
    int *labels = malloc(TRAIN_IMAGES * sizeof(int));
    float lf[TRAIN_ITERS], lb[TRAIN_ITERS];
    double ef = 0, eb = 0, worst = 0, diff = 0, first = 0, tail_f = 0, tail_b = 0;
    int i, worst_i = 0, finite = 1;

    make_set(x, labels);
    int ok = train_run(0, x, labels, lf) && train_run(1, x, labels, lb);
    if (!CHECK(ok, "training: the cfg parses with bf16=0 and bf16=1 (batch 16, 768 inputs, 4 outputs)")) {
        free(x); free(labels);
        return;
    }
    for (i = 0; i < TRAIN_ITERS; ++i) {
        finite &= isfinite(lf[i]) && isfinite(lb[i]);
        ef = i ? ef + EMA_ALPHA * (lf[i] - ef) : lf[i];
        eb = i ? eb + EMA_ALPHA * (lb[i] - eb) : lb[i];
        diff = err_max(diff, fabs((double)lf[i] - lb[i]));
        if (i < 10) first += lf[i] / 10;
        if (i >= TRAIN_ITERS - 50) { tail_f += lf[i] / 50; tail_b += lb[i] / 50; }
        if (i >= EMA_FROM && (fabs(ef - eb) > worst || ef != ef || eb != eb)) {
            worst = ef != ef || eb != eb ? INFINITY : fabs(ef - eb);
            worst_i = i;
        }
        if (i % 25 == 0 || i == TRAIN_ITERS - 1)
            printf("  iteration %3d: loss float %.4f bf16 %.4f, moving average float %.4f bf16 %.4f\n",
                   i, lf[i], lb[i], ef, eb);
    }
    CHECK(finite, "training: every loss of both runs is finite");
    CHECK(tail_f < 0.5 * first, "training: the float run learns (last-50 mean %.4f < half the first-10 mean %.4f)",
          tail_f, first);
    CHECK(diff > 1e-4, "training: the bf16 run is not the float run (largest loss difference %.3g)", diff);
    CHECK(worst <= TOL_EMA, "training: moving averages agree within %.2f from iteration %d (worst %.4f, at %d)",
          TOL_EMA, EMA_FROM, worst, worst_i);
    CHECK_CLOSE(tail_b, tail_f, TOL_TAIL, "training: last-50 mean losses agree within %.2f (float %.4f, bf16 %.4f)",
                TOL_TAIL, tail_f, tail_b);
    free(x); free(labels);
}

int main(void)
{
    const char *why = conv_accel_bf16_unsupported();
    int cpu = cpuid_has_bf16();
    const char *lim = getenv("ONEDNN_MAX_CPU_ISA"), *lim2 = getenv("DNNL_MAX_CPU_ISA");
    size_t i;

    if ((!lim || !*lim) && (!lim2 || !*lim2)) {
        CHECK((why == 0) == cpu, "oneDNN's bf16 verdict agrees with cpuid (cpuid: %s; oneDNN: %s)",
              cpu ? "AVX512-BF16 or AMX-BF16" : "neither AVX512-BF16 nor AMX-BF16", why ? why : "supported");
    }
    if (why) {
        harness_skip("bf16 against float, one layer per shape", "%s", why);
        harness_skip("bf16 against float, training curves", "%s", why);
        return harness_finish();
    }
    setenv("DARKNET_WINOGRAD", "0", 1);       /* the float reference is oneDNN's own */
    for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); ++i) test_layer(&shapes[i]);
    unsetenv("DARKNET_WINOGRAD");             /* training compares with the default float path */
    test_training();
    return harness_finish();
}
