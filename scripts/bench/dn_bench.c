/* dn_bench: time Darknet training and inference on one generated batch.
 *
 *   dn_bench CFG [--train N] [--infer N] [--warmup N] [--seed S] [--dump DIR]
 *   dn_bench CFG --steps N [--warmup N] [--seed S]
 *
 * Loads CFG with parse_network_cfg, fills net->input with uniform [0, 1) values and
 * net->truth with one-hot rows (a random class per image), then times
 *   training:  train_network_datum, i.e. forward, backward and update of one batch, as
 *              Darknet's classifier training does for each batch;
 *   inference: network_predict, i.e. forward only with net->train = 0.
 * Each loop runs --warmup untimed batches first (default 2); then --train (default 10) and
 * --infer (default 20) timed batches. The batch size is the cfg's. Each loop also reports
 * CPU time over wall time ("cores busy").
 *
 * With --dump DIR it first writes, for checking the PyTorch twin of the network against this
 * one: DIR/weights (Darknet weights file of the freshly initialised network), DIR/input.f32
 * and DIR/truth.f32 (the batch), DIR/output.f32 (the softmax output of a training-mode
 * forward pass, i.e. batch-norm on batch statistics) and DIR/cost.txt (its summed loss).
 *
 * With --steps N it only times N training steps of any cfg (plugin layers included, no
 * parameter count): when the cfg has layers that want training statistics (RICASSO's
 * [mixdata] and [expert_softmax]), they get those of a CIFAR-10-LT-like set (imbalance
 * 100, class c has 5000 * 0.01^(c / (classes - 1)) images). Its last line is
 *   RESULT batch=B step_ms=M loss=L
 *
 * The last stdout line is machine-readable:
 *   RESULT params=P batch=B train_img_s=T infer_img_s=I loss=L
 * Exit status is non-zero on any failure (bad arguments, a non-finite loss, I/O errors).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "darknet.h"
#include "layer_registry.h"

static void die(const char *msg, const char *arg)
{
    fprintf(stderr, "dn_bench: error: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    exit(1);
}

static int parse_count(const char *s, const char *opt, int lo)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > 1000000) die("bad value for option", opt);
    return (int)v;
}

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}
static double now_s(void) { return clock_s(CLOCK_MONOTONIC); }
/* CPU time of all threads: divided by the wall time it shows how many cores the loop kept
   busy, so a run slowed down by other work on the machine can be told apart. */
static double cpu_s(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

/* Learnable parameters: weights, biases (BN shift for batch-normalised convs) and BN scales. */
static long count_params(const network *net)
{
    long total = 0;
    int i;
    for (i = 0; i < net->n; ++i) {
        const layer *l = &net->layers[i];
        if (l->type == CONVOLUTIONAL) {
            total += l->nweights + l->n + (l->batch_normalize ? l->n : 0);
        } else if (l->type == CONNECTED) {
            total += (long)l->inputs * l->outputs + l->outputs
                   + (l->batch_normalize ? l->outputs : 0);
        } else if (l->type == BATCHNORM) {
            total += 2L * l->c;
        } else if (l->type != ROUTE && l->type != SHORTCUT && l->type != MAXPOOL
                   && l->type != AVGPOOL && l->type != SOFTMAX) {
            fprintf(stderr, "dn_bench: error: layer %d has a type this tool does not count\n", i);
            exit(1);
        }
    }
    return total;
}

static void write_floats(const char *dir, const char *name, const float *x, size_t n)
{
    char path[4096];
    FILE *fp;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fp = fopen(path, "wb");
    if (!fp) die("cannot write", path);
    if (fwrite(x, sizeof(float), n, fp) != n || fclose(fp) != 0) die("write failed", path);
}

static void dump(network *net, const char *dir)
{
    char path[4096];
    FILE *fp;
    int b = net->batch;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) die("cannot create", dir);
    snprintf(path, sizeof(path), "%s/weights", dir);
    save_weights(net, path);
    write_floats(dir, "input.f32", net->input, (size_t)net->inputs * b);
    write_floats(dir, "truth.f32", net->truth, (size_t)net->truths * b);
    net->train = 1;
    forward_network(net);
    write_floats(dir, "output.f32", net->output, (size_t)net->outputs * b);
    snprintf(path, sizeof(path), "%s/cost.txt", dir);
    fp = fopen(path, "w");
    if (!fp) die("cannot write", path);
    fprintf(fp, "%.9g\n", *net->cost);
    if (fclose(fp) != 0) die("write failed", path);
    printf("dn_bench: wrote the check files to %s (cost of the batch %.6g)\n", dir, *net->cost);
}

/* Training statistics of a long-tailed set for the layers that want them. */
static void set_lt_stats(network *net, int classes)
{
    int *counts = calloc(classes, sizeof(int)), n = 0, c, i, k = 0;
    for (c = 0; c < classes; ++c) {
        counts[c] = (int)(5000 * pow(0.01, classes > 1 ? (double)c / (classes - 1) : 0) + 0.5);
        n += counts[c];
    }
    int *path_class = malloc(n * sizeof(int));
    for (c = 0; c < classes; ++c)
        for (i = 0; i < counts[c]; ++i) path_class[k++] = c;
    plugin_network_set_train_stats(net, path_class, n, counts, classes);
    free(path_class);
    free(counts);
}

/* --steps: time training steps only. */
static int steps_only(network *net, int nsteps, int nwarm)
{
    int j;
    float loss = 0;
    if (plugin_network_wants_train_stats(net)) set_lt_stats(net, net->truths);
    for (j = 0; j < nwarm; ++j) loss = train_network_datum(net);
    double t0 = now_s(), c0 = cpu_s();
    for (j = 0; j < nsteps; ++j) loss = train_network_datum(net);
    double s = now_s() - t0, cs = cpu_s() - c0;
    loss /= net->batch;
    if (!isfinite(loss)) die("training loss is not finite", 0);
    printf("dn_bench: %d training steps in %.3f s, %.1f ms per step, %.2f cores busy (loss %.4f)\n",
           nsteps, s, 1e3 * s / nsteps, cs / s, loss);
    printf("RESULT batch=%d step_ms=%.2f loss=%.5f\n", net->batch, 1e3 * s / nsteps, loss);
    free_network(net);
    return 0;
}

int main(int argc, char **argv)
{
    const char *cfg = 0, *dumpdir = 0;
    int ntrain = 10, ninfer = 20, nwarm = 2, seed = 1, nsteps = 0, i;
    for (i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--train") && i + 1 < argc) ntrain = parse_count(argv[++i], "--train", 1);
        else if (!strcmp(argv[i], "--infer") && i + 1 < argc) ninfer = parse_count(argv[++i], "--infer", 1);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) nwarm = parse_count(argv[++i], "--warmup", 0);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = parse_count(argv[++i], "--seed", 0);
        else if (!strcmp(argv[i], "--dump") && i + 1 < argc) dumpdir = argv[++i];
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) nsteps = parse_count(argv[++i], "--steps", 1);
        else if (argv[i][0] != '-' && !cfg) cfg = argv[i];
        else {
            fprintf(stderr, "usage: dn_bench CFG [--train N] [--infer N] [--warmup N] [--seed S] [--dump DIR]\n"
                            "       dn_bench CFG --steps N [--warmup N] [--seed S]\n");
            return 2;
        }
    }
    if (!cfg) die("no cfg given", 0);

    srand(seed);
    network *net = parse_network_cfg((char *)cfg);
    int batch = net->batch, k = net->truths, b, j;
    if (net->subdivisions != 1) die("the cfg must have subdivisions=1", cfg);
    if (net->inputs <= 0 || k <= 0) die("network has no inputs or outputs", cfg);
    if (nsteps) {
        for (j = 0; j < net->inputs * batch; ++j) net->input[j] = rand() / (RAND_MAX + 1.0f);
        memset(net->truth, 0, sizeof(float) * k * batch);
        for (b = 0; b < batch; ++b) net->truth[b * k + rand() % k] = 1;
        printf("dn_bench: %s: %d layers, batch %d, input %dx%dx%d, %d classes\n",
               cfg, net->n, batch, net->w, net->h, net->c, k);
        return steps_only(net, nsteps, nwarm);
    }
    long params = count_params(net);
    printf("dn_bench: %s: %d layers, %ld parameters, batch %d, input %dx%dx%d, %d classes\n",
           cfg, net->n, params, batch, net->w, net->h, net->c, k);

    for (j = 0; j < net->inputs * batch; ++j) net->input[j] = rand() / (RAND_MAX + 1.0f);
    memset(net->truth, 0, sizeof(float) * k * batch);
    for (b = 0; b < batch; ++b) net->truth[b * k + rand() % k] = 1;

    if (dumpdir) dump(net, dumpdir);

    float loss = 0;
    for (j = 0; j < nwarm; ++j) loss = train_network_datum(net);
    double t0 = now_s(), c0 = cpu_s();
    for (j = 0; j < ntrain; ++j) loss = train_network_datum(net);
    double train_s = now_s() - t0, train_cpu = cpu_s() - c0;
    loss /= batch;
    if (!isfinite(loss)) die("training loss is not finite", 0);
    printf("dn_bench: training:  %d batches in %.3f s, %.1f images/s, %.2f cores busy (loss %.4f)\n",
           ntrain, train_s, ntrain * batch / train_s, train_cpu / train_s, loss);

    float *input = net->input;
    for (j = 0; j < nwarm; ++j) network_predict(net, input);
    t0 = now_s();
    c0 = cpu_s();
    for (j = 0; j < ninfer; ++j) network_predict(net, input);
    double infer_s = now_s() - t0, infer_cpu = cpu_s() - c0;
    float *out = net->output;
    for (j = 0; j < k * batch; ++j) if (!isfinite(out[j])) die("inference output is not finite", 0);
    printf("dn_bench: inference: %d batches in %.3f s, %.1f images/s, %.2f cores busy\n",
           ninfer, infer_s, ninfer * batch / infer_s, infer_cpu / infer_s);

    printf("RESULT params=%ld batch=%d train_img_s=%.2f infer_img_s=%.2f loss=%.5f\n",
           params, batch, ntrain * batch / train_s, ninfer * batch / infer_s, loss);
    free_network(net);
    return 0;
}
