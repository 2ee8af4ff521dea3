/* dn_grouped: the experts' stages as separate branches against grouped convolutions
 * (scripts/bench/part-grouped.sh; the cfgs are scripts/make-cfgs' X.cfg and X-grouped.cfg).
 *
 *   dn_grouped check SEP.cfg GRP.cfg [--seed S]
 *   dn_grouped time CFG [--steps N] [--infer N] [--warmup N] [--seed S]
 *
 * check: the separate network's freshly initialised parameters are copied into the grouped
 * one (src/accel/grouped_experts.c), and each runs one training-mode forward and backward
 * of the same generated batch (the same seed for [mixdata]'s draws). Prints both losses,
 * the largest difference of the outputs and the worst relative L2 difference of all
 * parameter gradients (||a - b|| / ||a||, the norm at least 1e-4 per value: Winograd's
 * rounding against direct kernels flips the odd ReLU gate, see the test); exits 1 when the
 * losses differ by more than 1e-4 relative, an output by more than 1e-4 or a gradient by
 * more than 0.1, so the build being timed is known to compute the same function both ways.
 * tests/darknet/test_grouped_experts.c checks this, and more, in the test builds. Give it
 * copies of the cfgs with a small batch.
 *
 * time: --warmup untimed training steps (default 2), --steps timed ones (default 5), as
 * dn_bench --steps (train_network_datum on a generated batch: uniform inputs, one-hot
 * targets; class counts of a CIFAR-10-LT-like set for the layers that want them), then
 * --warmup untimed and --infer timed inference batches (default 10; network_predict, batch
 * norm in inference mode) of the cfg's batch. Its last line is
 *   RESULT batch=B step_ms=M infer_img_s=I loss=L
 * Exit status is non-zero on any failure (bad arguments, a non-finite loss or output).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "darknet.h"
#include "grouped_experts.h"
#include "layer_registry.h"

#define BENCH_TOOL "dn_grouped"
#include "bench_util.h"

static network *load(const char *cfg, int seed)
{
    network *net;
    srand(seed);
    net = parse_network_cfg((char *)cfg);
    if (net->subdivisions != 1) die("the cfg must have subdivisions=1", cfg);
    if (net->inputs <= 0 || net->truths <= 0) die("network has no inputs or outputs", cfg);
    set_lt_stats(net);
    return net;
}

/* A generated batch: uniform [0, 1) inputs, a random class per row. */
static void make_batch(network *net, int seed)
{
    int j, b;
    srand(seed);
    for (j = 0; j < net->inputs * net->batch; ++j) net->input[j] = rand() / (RAND_MAX + 1.0f);
    memset(net->truth, 0, sizeof(float) * net->truths * net->batch);
    for (b = 0; b < net->batch; ++b) net->truth[b * net->truths + rand() % net->truths] = 1;
}

static int run_check(const char *sep_cfg, const char *grp_cfg, int seed)
{
    network *sep = load(sep_cfg, seed), *grp = load(grp_cfg, seed + 1);
    grouped_pair *pairs = calloc(sep->n + 1, sizeof(grouped_pair));
    char err[512];
    double dout = 0, worst = 0, dcost;
    int np, i, b, nb;
    char where[256] = "none";

    if (sep->batch != grp->batch || sep->inputs != grp->inputs || sep->truths != grp->truths)
        die("the two cfgs differ in batch, input or classes", grp_cfg);
    np = grouped_pairs(sep, grp, pairs, sep->n + 1, err, sizeof(err));
    if (np < 0 || grouped_copy(sep, grp, 1, err, sizeof(err))) die(err, grp_cfg);
    make_batch(sep, seed + 2);
    memcpy(grp->input, sep->input, sizeof(float) * sep->inputs * sep->batch);
    memcpy(grp->truth, sep->truth, sizeof(float) * sep->truths * sep->batch);
    sep->train = grp->train = 1;
    srand(seed + 3);    /* [mixdata]'s Mixup and CutMix draws */
    forward_network(sep);
    backward_network(sep);
    srand(seed + 3);
    forward_network(grp);
    backward_network(grp);
    for (i = 0; i < sep->outputs * sep->batch; ++i) {
        const double d = fabs(sep->output[i] - grp->output[i]);
        if (d != d) dout = INFINITY;
        else if (d > dout) dout = d;
    }
    for (i = 0; i < np; ++i) {
        float *sb[GROUPED_MAX_BUFFERS], *gb[GROUPED_MAX_BUFFERS];
        int sl[GROUPED_MAX_BUFFERS], gl[GROUPED_MAX_BUFFERS];
        const char *names[GROUPED_MAX_BUFFERS];
        nb = grouped_layer_buffers(&sep->layers[pairs[i].sep], GROUPED_GRADIENTS, sb, sl, names);
        grouped_layer_buffers(&grp->layers[pairs[i].grp], GROUPED_GRADIENTS, gb, gl, names);
        for (b = 0; b < nb; ++b) {
            const float *g = gb[b] + (size_t)pairs[i].part * sl[b];
            double d2 = 0, n2 = 0, rel;
            int j;
            for (j = 0; j < sl[b]; ++j) {
                const double d = (double)sb[b][j] - g[j];
                d2 += d * d;
                n2 += (double)sb[b][j] * sb[b][j];
            }
            /* a NaN is an infinite difference */
            rel = d2 != d2 ? INFINITY : sqrt(d2) / fmax(sqrt(n2), 1e-4 * sqrt((double)sl[b]));
            if (rel > worst) {
                worst = rel;
                snprintf(where, sizeof(where), "%s of layer %d (grouped layer %d, block %d)", names[b], pairs[i].sep,
                         pairs[i].grp, pairs[i].part);
            }
        }
    }
    dcost = fabs(*sep->cost - *grp->cost) / fmax(1, fabs(*sep->cost));
    printf("dn_grouped: check: loss separate %.6f grouped %.6f; output max difference %.2g; "
           "gradients of %d layers: worst relative L2 difference %.2g (%s)\n",
           *sep->cost, *grp->cost, dout, np, worst, where);
    if (!isfinite(*sep->cost) || !(dcost <= 1e-4) || !(dout <= 1e-4) || !(worst <= 0.1)) {
        fprintf(stderr, "dn_grouped: error: the grouped network does not compute what the separate one does\n");
        return 1;
    }
    printf("RESULT check=ok worst_gradient=%.3g\n", worst);
    free(pairs);
    free_network(sep);
    free_network(grp);
    return 0;
}

static int run_timing(const char *cfg, int nsteps, int ninfer, int nwarm, int seed)
{
    network *net = load(cfg, seed);
    float loss = 0, *out;
    double t0, step_s, infer_s;
    int j;
    make_batch(net, seed + 2);
    printf("dn_grouped: %s: %d layers, batch %d, input %dx%dx%d, %d classes\n", cfg, net->n, net->batch, net->w,
           net->h, net->c, net->truths);
    for (j = 0; j < nwarm; ++j) loss = train_network_datum(net);
    t0 = now_s();
    for (j = 0; j < nsteps; ++j) loss = train_network_datum(net);
    step_s = (now_s() - t0) / nsteps;
    loss /= net->batch;
    if (!isfinite(loss)) die("training loss is not finite", cfg);
    for (j = 0; j < nwarm; ++j) network_predict(net, net->input);
    t0 = now_s();
    for (j = 0; j < ninfer; ++j) network_predict(net, net->input);
    infer_s = now_s() - t0;
    out = net->output;
    for (j = 0; j < net->outputs * net->batch; ++j)
        if (!isfinite(out[j])) die("inference output is not finite", cfg);
    printf("dn_grouped: %d training steps, %.1f ms each; %d inference batches, %.1f images/s (loss %.4f)\n", nsteps,
           1e3 * step_s, ninfer, ninfer * net->batch / infer_s, loss);
    printf("RESULT batch=%d step_ms=%.2f infer_img_s=%.2f loss=%.5f\n", net->batch, 1e3 * step_s,
           ninfer * net->batch / infer_s, loss);
    free_network(net);
    return 0;
}

int main(int argc, char **argv)
{
    const char *usage = "usage: dn_grouped check SEP.cfg GRP.cfg [--seed S]\n"
                        "       dn_grouped time CFG [--steps N] [--infer N] [--warmup N] [--seed S]\n";
    const char *cfg[2] = {0, 0};
    int nsteps = 5, ninfer = 10, nwarm = 2, seed = 1, ncfg = 0, i, is_check;
    if (argc < 3 || (strcmp(argv[1], "check") && strcmp(argv[1], "time"))) {
        fputs(usage, stderr);
        return 2;
    }
    is_check = !strcmp(argv[1], "check");
    for (i = 2; i < argc; ++i) {
        if (!strcmp(argv[i], "--steps") && i + 1 < argc && !is_check) nsteps = parse_count(argv[++i], "--steps", 1);
        else if (!strcmp(argv[i], "--infer") && i + 1 < argc && !is_check) ninfer = parse_count(argv[++i], "--infer", 1);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc && !is_check) nwarm = parse_count(argv[++i], "--warmup", 0);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = parse_count(argv[++i], "--seed", 0);
        else if (argv[i][0] != '-' && ncfg < (is_check ? 2 : 1)) cfg[ncfg++] = argv[i];
        else {
            fputs(usage, stderr);
            return 2;
        }
    }
    if (ncfg != (is_check ? 2 : 1)) {
        fputs(usage, stderr);
        return 2;
    }
    return is_check ? run_check(cfg[0], cfg[1], seed) : run_timing(cfg[0], nsteps, ninfer, nwarm, seed);
}
