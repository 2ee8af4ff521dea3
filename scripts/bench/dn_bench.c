/* dn_bench: time Darknet training and inference on one generated batch.
 *
 *   dn_bench CFG [--train N] [--infer N] [--warmup N] [--seed S] [--dump DIR]
 *   dn_bench CFG --steps N [--warmup N] [--seed S] [--infer N] [--twin-dump DIR]
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
 *   RESULT batch=B step_ms=M loss=L [infer_img_s=I]
 * With --infer N given, it then also times N inference batches of the cfg's batch
 * (network_predict, as above) and adds infer_img_s.
 *
 * With --twin-dump DIR (--steps mode) the first training step, before the warm-up, is done
 * by hand and written out for the PyTorch twin of the RICASSO step
 * (scripts/bench/ricasso_torch.py): forward and backward, the files below, then the update.
 *   layers.txt   one line per layer: index, type and the fields the twin checks its wiring
 *                against (shapes, strides, pads, activations, from=, layers=, the plugin
 *                layers' keys)
 *   step.txt     batch, the cost of every layer that has one, the pairing of [mixdata]
 *                (per pair: Mixup lambda, CutMix lambda, CutMix box x0 y0 x1 y1), the class
 *                counts, groups and margins of [expert_softmax]
 *   NAME.f32 with its index NAME.txt (lines "LAYER KIND COUNT OFFSET", in floats):
 *     batch    the generated batch before [mixdata]: "input" [B, X] and "truth" [B, C]
 *     params   every parameter as this step starts: "weights", "biases", "scales" (and
 *              "rolling_mean", "rolling_variance") of convolutional and connected layers,
 *              [cosine] "weights", and [cbcl] "centers" (these as the forward pass started
 *              them from the batch)
 *     grads    dL/dparam of the step's loss L = (sum of the layers' costs) / B, i.e.
 *              Darknet's accumulated updates times -1/B, before the update applies them
 *     outputs  after the forward pass: the mixed batch ([mixdata] "output" and "truth") and
 *              the "output" of every layer the loss layers read (features, logits, heads)
 *   masks.bin    with masks.txt: which outputs of each ReLU layer are > 0 (see
 *                write_relu_masks)
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

#include "cbcl_layer.h"
#include "cosine_layer.h"
#include "darknet.h"
#include "expert_softmax_layer.h"
#include "layer_registry.h"
#include "mixdata_layer.h"
#include "rcl_layer.h"

#define BENCH_TOOL "dn_bench"
#include "bench_util.h"

/* Darknet's (activations.c); its header does not build with -Wextra -Werror. */
char *get_activation_string(ACTIVATION a);

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

/* ---- --twin-dump: the files of scripts/bench/ricasso_torch.py's check ---- */

/* NAME.f32 (floats) with its index NAME.txt: one "LAYER KIND COUNT OFFSET" line per tensor. */
typedef struct {
    FILE *data, *index;
    long offset;
    char path[4096];
} tensor_file;

static FILE *open_in(const char *dir, const char *name, char *path, size_t len)
{
    FILE *fp;
    snprintf(path, len, "%s/%s", dir, name);
    fp = fopen(path, "wb");
    if (!fp) die("cannot write", path);
    return fp;
}

static void tf_open(tensor_file *t, const char *dir, const char *name)
{
    char file[256];
    snprintf(file, sizeof(file), "%s.txt", name);
    t->index = open_in(dir, file, t->path, sizeof(t->path));
    snprintf(file, sizeof(file), "%s.f32", name);
    t->data = open_in(dir, file, t->path, sizeof(t->path));
    t->offset = 0;
}

/* x [n]; scaled by `scale` on the way (grads: -1/B). */
static void tf_put(tensor_file *t, int layer, const char *kind, const float *x, long n, float scale)
{
    float buf[1024];
    long i, j;
    for (i = 0; i < n; i += j) {
        const long m = n - i < 1024 ? n - i : 1024;
        for (j = 0; j < m; ++j) buf[j] = scale * x[i + j];
        if (fwrite(buf, sizeof(float), m, t->data) != (size_t)m) die("write failed", t->path);
    }
    fprintf(t->index, "%d %s %ld %ld\n", layer, kind, n, t->offset);
    t->offset += n;
}

static void tf_close(tensor_file *t)
{
    if (fclose(t->data) != 0 || fclose(t->index) != 0) die("write failed", t->path);
}

static void put_list(FILE *fp, const char *key, const int *v, int n)
{
    int i;
    fprintf(fp, " %s=", key);
    for (i = 0; i < n; ++i) fprintf(fp, "%s%d", i ? "," : "", v[i]);
}

/* layers.txt: what the twin checks its own wiring against. */
static void write_layers(const network *net, FILE *fp)
{
    int i;
    for (i = 0; i < net->n; ++i) {
        const layer *l = &net->layers[i];
        fprintf(fp, "%d ", i);
        if (l->type == CONVOLUTIONAL) {
            fprintf(fp, "convolutional c=%d h=%d w=%d n=%d size=%d stride=%d pad=%d bn=%d act=%s out_c=%d out_h=%d out_w=%d",
                    l->c, l->h, l->w, l->n, l->size, l->stride, l->pad, l->batch_normalize,
                    get_activation_string(l->activation), l->out_c, l->out_h, l->out_w);
        } else if (l->type == SHORTCUT) {
            fprintf(fp, "shortcut from=%d c=%d h=%d w=%d out_c=%d out_h=%d out_w=%d act=%s alpha=%g beta=%g",
                    l->index, l->c, l->h, l->w, l->out_c, l->out_h, l->out_w,
                    get_activation_string(l->activation), l->alpha, l->beta);
        } else if (l->type == ROUTE) {
            fprintf(fp, "route");
            put_list(fp, "layers", l->input_layers, l->n);
            fprintf(fp, " out_c=%d out_h=%d out_w=%d", l->out_c, l->out_h, l->out_w);
        } else if (l->type == AVGPOOL) {
            fprintf(fp, "avgpool c=%d h=%d w=%d", l->c, l->h, l->w);
        } else if (l->type == CONNECTED) {
            fprintf(fp, "connected inputs=%d outputs=%d bn=%d act=%s", l->inputs, l->outputs,
                    l->batch_normalize, get_activation_string(l->activation));
        } else if (plugin_layer_is(l, PLUGIN_TYPE_COSINE)) {
            fprintf(fp, "cosine inputs=%d classes=%d scale=%.9g", l->inputs, l->outputs,
                    ((const cosine_state *)l->plugin_state)->scale);
        } else if (plugin_layer_is(l, PLUGIN_TYPE_MIXDATA)) {
            const mix_pairing *pr = mixdata_find_pairing(net);
            fprintf(fp, "mixdata rows=%d pairs=%d mixup_row0=%d cutmix_row0=%d c=%d h=%d w=%d",
                    pr->rows, pr->pairs, pr->mixup_row0, pr->cutmix_row0, l->c, l->h, l->w);
        } else if (plugin_layer_is(l, PLUGIN_TYPE_RCL)) {
            const rcl_state *st = l->plugin_state;
            fprintf(fp, "rcl projection=%d prediction=%d lambda=%.9g", st->projection,
                    st->prediction, st->lambda);
        } else if (plugin_layer_is(l, PLUGIN_TYPE_CBCL)) {
            const cbcl_state *st = l->plugin_state;
            fprintf(fp, "cbcl");
            put_list(fp, "features", st->features, st->K);
            put_list(fp, "logits", st->logits, st->K);
            fprintf(fp, " g0=%.9g g1=%.9g e0=%.9g e1=%.9g lambda=%.9g", st->g0, st->g1, st->e0,
                    st->e1, st->lambda);
        } else if (plugin_layer_is(l, PLUGIN_TYPE_EXPERT_SOFTMAX)) {
            const expert_softmax_state *st = l->plugin_state;
            fprintf(fp, "expert_softmax");
            put_list(fp, "experts", st->expert, st->K);
            fprintf(fp, " tau=%.9g aala=%d reweight=%d energy_t=%.9g scale=%.9g", st->tau,
                    st->aala, st->reweight, st->energy_t, st->scale);
        } else {
            fprintf(fp, "other");
        }
        fprintf(fp, "\n");
    }
}

/* Parameters (kind "weights" etc.) or their gradients, of every layer that has them.
 * grads = 0: values; grads = 1: -update / B (weight decay is added by the update, later). */
static void put_params(tensor_file *t, const network *net, int grads)
{
    const float g = grads ? -1.f / net->batch : 1.f;
    int i;
    for (i = 0; i < net->n; ++i) {
        const layer *l = &net->layers[i];
        if (l->type == CONVOLUTIONAL || l->type == CONNECTED) {
            const long n = l->type == CONVOLUTIONAL ? l->n : l->outputs;
            const long nw = l->type == CONVOLUTIONAL ? l->nweights : (long)l->inputs * l->outputs;
            tf_put(t, i, "weights", grads ? l->weight_updates : l->weights, nw, g);
            tf_put(t, i, "biases", grads ? l->bias_updates : l->biases, n, g);
            if (l->batch_normalize) {
                tf_put(t, i, "scales", grads ? l->scale_updates : l->scales, n, g);
                if (!grads) {
                    tf_put(t, i, "rolling_mean", l->rolling_mean, n, 1);
                    tf_put(t, i, "rolling_variance", l->rolling_variance, n, 1);
                }
            }
        } else if (plugin_layer_is(l, PLUGIN_TYPE_COSINE)) {
            tf_put(t, i, "weights", grads ? l->weight_updates : l->weights, l->nweights, g);
        } else if (grads && plugin_layer_is(l, PLUGIN_TYPE_CBCL)) {
            const cbcl_state *st = l->plugin_state;
            tf_put(t, i, "centers", st->center_updates, (long)st->K * st->C * st->D, g);
        }
    }
}

/* The [cbcl] centers, which the forward pass starts from the batch. */
static void put_centers(tensor_file *t, const network *net)
{
    int i;
    for (i = 0; i < net->n; ++i) {
        const layer *l = &net->layers[i];
        if (plugin_layer_is(l, PLUGIN_TYPE_CBCL)) {
            const cbcl_state *st = l->plugin_state;
            tf_put(t, i, "centers", st->centers, (long)st->K * st->C * st->D, 1);
        }
    }
}

static void put_output(tensor_file *t, const network *net, int i)
{
    const layer *l = &net->layers[i];
    tf_put(t, i, "output", l->output, (long)l->outputs * l->batch, 1);
}

/* step.txt: costs, pairing, the class statistics of [expert_softmax]. */
static void write_step(const network *net, FILE *fp)
{
    const mix_pairing *pr = mixdata_find_pairing(net);
    int i, p, k, c;
    fprintf(fp, "batch %d\n", net->batch);
    for (i = 0; i < net->n; ++i) {
        const layer *l = &net->layers[i];
        if (l->cost) fprintf(fp, "cost %d %.9g\n", i, l->cost[0]);
    }
    if (pr) {
        fprintf(fp, "pairs %d active %d\n", pr->pairs, pr->active);
        for (p = 0; p < pr->pairs; ++p) {
            const int *b = pr->cutmix_box + 4 * p;
            fprintf(fp, "pair %d %.9g %.9g %d %d %d %d\n", p, pr->mixup_lambda[p],
                    pr->cutmix_lambda[p], b[0], b[1], b[2], b[3]);
        }
    }
    for (i = 0; i < net->n; ++i) {
        const layer *l = &net->layers[i];
        const expert_softmax_state *st;
        if (!plugin_layer_is(l, PLUGIN_TYPE_EXPERT_SOFTMAX)) continue;
        st = l->plugin_state;
        fprintf(fp, "counts");
        for (c = 0; c < st->C; ++c) fprintf(fp, " %d", st->count[c]);
        fprintf(fp, "\nclass_group");
        for (c = 0; c < st->C; ++c) fprintf(fp, " %d", st->class_group[c]);
        fprintf(fp, "\n");
        for (k = 0; k < st->K; ++k) {
            fprintf(fp, "margin %d", k);
            for (c = 0; c < st->C; ++c) fprintf(fp, " %.9g", st->margin[k * st->C + c]);
            fprintf(fp, "\n");
        }
    }
}

/* masks.bin with its index masks.txt ("LAYER relu COUNT OFFSET", offset in bytes): for every
 * ReLU layer, one bit per output, 1 where the output is > 0 (packed, least significant bit
 * first). Where a ReLU's input is within rounding of 0, Darknet and the twin may decide it
 * differently, and the gradients below then differ by that row's share; the twin's check
 * takes Darknet's decisions from here (and checks they differ from its own only there). */
static void write_relu_masks(const network *net, const char *dir)
{
    char path[4096], ipath[4096];
    FILE *data = open_in(dir, "masks.bin", path, sizeof(path));
    FILE *index = open_in(dir, "masks.txt", ipath, sizeof(ipath));
    long off = 0;
    int i;
    for (i = 0; i < net->n; ++i) {
        const layer *l = &net->layers[i];
        long n, j;
        unsigned byte = 0;
        if (!(l->type == CONVOLUTIONAL || l->type == SHORTCUT || l->type == CONNECTED) || l->activation != RELU)
            continue;
        n = (long)l->outputs * l->batch;
        for (j = 0; j < n; ++j) {
            if (l->output[j] > 0) byte |= 1u << (j & 7);
            if ((j & 7) == 7 || j == n - 1) {
                if (fputc((int)byte, data) == EOF) die("write failed", path);
                byte = 0;
            }
        }
        fprintf(index, "%d relu %ld %ld\n", i, n, off);
        off += (n + 7) / 8;
    }
    if (fclose(data) != 0) die("write failed", path);
    if (fclose(index) != 0) die("write failed", ipath);
}

/* The layers whose outputs the loss layers read: features, logits, heads. */
static void put_loss_inputs(tensor_file *t, const network *net)
{
    int i, k;
    for (i = 0; i < net->n; ++i) {
        const layer *l = &net->layers[i];
        if (plugin_layer_is(l, PLUGIN_TYPE_CBCL)) {
            const cbcl_state *st = l->plugin_state;
            for (k = 0; k < st->K; ++k) put_output(t, net, st->features[k]);
        } else if (plugin_layer_is(l, PLUGIN_TYPE_RCL)) {
            const rcl_state *st = l->plugin_state;
            put_output(t, net, st->projection);
            put_output(t, net, st->prediction);
        } else if (plugin_layer_is(l, PLUGIN_TYPE_EXPERT_SOFTMAX)) {
            const expert_softmax_state *st = l->plugin_state;
            for (k = 0; k < st->K; ++k) put_output(t, net, st->expert[k]);
        }
    }
}

/* One training step by hand, with its files (see the header); net->input and net->truth hold
 * the batch. The network must start with its [mixdata] layer. */
static void twin_dump(network *net, const char *dir)
{
    char path[4096];
    tensor_file batch, params, grads, outputs;
    FILE *fp;
    const int B = net->batch;
    if (!net->n || !plugin_layer_is(&net->layers[0], PLUGIN_TYPE_MIXDATA))
        die("--twin-dump needs a cfg whose first layer is [mixdata]", 0);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) die("cannot create", dir);
    fp = open_in(dir, "layers.txt", path, sizeof(path));
    write_layers(net, fp);
    if (fclose(fp) != 0) die("write failed", path);
    tf_open(&batch, dir, "batch");
    tf_put(&batch, 0, "input", net->input, (long)net->inputs * B, 1);
    tf_put(&batch, 0, "truth", net->truth, (long)net->truths * B, 1);
    tf_close(&batch);
    tf_open(&params, dir, "params");
    put_params(&params, net, 0);

    *net->seen += B;
    net->train = 1;
    forward_network(net);
    backward_network(net);

    put_centers(&params, net);
    tf_close(&params);
    tf_open(&grads, dir, "grads");
    put_params(&grads, net, 1);
    tf_close(&grads);
    tf_open(&outputs, dir, "outputs");
    put_output(&outputs, net, 0);
    tf_put(&outputs, 0, "truth", net->truth, (long)net->truths * B, 1);
    put_loss_inputs(&outputs, net);
    tf_close(&outputs);
    write_relu_masks(net, dir);
    fp = open_in(dir, "step.txt", path, sizeof(path));
    write_step(net, fp);
    if (fclose(fp) != 0) die("write failed", path);
    update_network(net);
    {
        double cost = 0;
        int i;
        for (i = 0; i < net->n; ++i) if (net->layers[i].cost) cost += net->layers[i].cost[0];
        printf("dn_bench: wrote the twin's check files to %s (one step, loss %.6g)\n", dir, cost / B);
    }
}

/* --steps: time training steps only (after the twin's step when dumpdir is given), then
 * ninfer inference batches when ninfer > 0. */
static int steps_only(network *net, int nsteps, int nwarm, int ninfer, const char *dumpdir)
{
    int j;
    float loss = 0;
    double infer_s = 0, infer_cpu = 0;
    set_lt_stats(net);
    if (dumpdir) twin_dump(net, dumpdir);
    for (j = 0; j < nwarm; ++j) loss = train_network_datum(net);
    double t0 = now_s(), c0 = cpu_s();
    for (j = 0; j < nsteps; ++j) loss = train_network_datum(net);
    double s = now_s() - t0, cs = cpu_s() - c0;
    loss /= net->batch;
    if (!isfinite(loss)) die("training loss is not finite", 0);
    printf("dn_bench: %d training steps in %.3f s, %.1f ms per step, %.2f cores busy (loss %.4f)\n",
           nsteps, s, 1e3 * s / nsteps, cs / s, loss);
    if (ninfer) {
        float *input = net->input;
        for (j = 0; j < nwarm; ++j) network_predict(net, input);
        t0 = now_s();
        c0 = cpu_s();
        for (j = 0; j < ninfer; ++j) network_predict(net, input);
        infer_s = now_s() - t0;
        infer_cpu = cpu_s() - c0;
        for (j = 0; j < net->outputs * net->batch; ++j)
            if (!isfinite(net->output[j])) die("inference output is not finite", 0);
        printf("dn_bench: inference: %d batches in %.3f s, %.1f images/s, %.2f cores busy\n",
               ninfer, infer_s, (double)ninfer * net->batch / infer_s, infer_cpu / infer_s);
    }
    printf("RESULT batch=%d step_ms=%.2f loss=%.5f", net->batch, 1e3 * s / nsteps, loss);
    if (ninfer) printf(" infer_img_s=%.2f", (double)ninfer * net->batch / infer_s);
    printf("\n");
    free_network(net);
    return 0;
}

int main(int argc, char **argv)
{
    const char *cfg = 0, *dumpdir = 0;
    const char *twindir = 0;
    int ntrain = 10, ninfer = 20, nwarm = 2, seed = 1, nsteps = 0, infer_given = 0, i;
    for (i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--train") && i + 1 < argc) ntrain = parse_count(argv[++i], "--train", 1);
        else if (!strcmp(argv[i], "--infer") && i + 1 < argc) {
            ninfer = parse_count(argv[++i], "--infer", 1);
            infer_given = 1;
        }
        else if (!strcmp(argv[i], "--twin-dump") && i + 1 < argc) twindir = argv[++i];
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) nwarm = parse_count(argv[++i], "--warmup", 0);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = parse_count(argv[++i], "--seed", 0);
        else if (!strcmp(argv[i], "--dump") && i + 1 < argc) dumpdir = argv[++i];
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) nsteps = parse_count(argv[++i], "--steps", 1);
        else if (argv[i][0] != '-' && !cfg) cfg = argv[i];
        else {
            fprintf(stderr, "usage: dn_bench CFG [--train N] [--infer N] [--warmup N] [--seed S] [--dump DIR]\n"
                            "       dn_bench CFG --steps N [--warmup N] [--seed S] [--infer N] [--twin-dump DIR]\n");
            return 2;
        }
    }
    if (!cfg) die("no cfg given", 0);
    if (twindir && !nsteps) die("--twin-dump needs --steps N", 0);

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
        return steps_only(net, nsteps, nwarm, infer_given ? ninfer : 0, twindir);
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
