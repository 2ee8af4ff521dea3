/* The grouped cfgs compute what the separate ones compute: cfg/lgla-resnet32-cifar10.cfg
 * against cfg/lgla-resnet32-cifar10-grouped.cfg and cfg/ricasso-resnet32-cifar10.cfg against
 * cfg/ricasso-resnet32-cifar10-grouped.cfg (scripts/make-cfgs; [shortcut] groups= is patch
 * 0060, [route] groups= group_id= patch 0061, the parameter map src/accel/grouped_experts.c).
 *
 * Each pair of committed cfgs is read with a batch of 8 rows (RICASSO: [mixdata] pairs=2),
 * the separate network's freshly initialised parameters are copied into the grouped one
 * (grouped_copy), and both get the same batch (uniform inputs, one-hot targets; the same
 * seed for [mixdata]'s Mixup and CutMix draws). Then, with every layer with parameters of
 * the separate network compared to its block of the grouped layer:
 *   - the map: the same number of parameters; grouped -> separate returns them bit for bit;
 *   - one training-mode forward and backward: the same loss, the same output, the same
 *     outputs and deltas of every such layer, the same gradient of every parameter (weights,
 *     biases, batch-norm scales, [cosine] weights, [cbcl] centers);
 *   - one update (Nesterov SGD, weight decay): the same parameters and batch-norm statistics.
 * The score of a buffer, at most TOL:
 *   plain build   the largest difference over the largest magnitude (at least 1e-4), at
 *                 most 2e-3. The grouped convolutions run the separate ones' gemms block by
 *                 block, so the experts agree bit for bit; only the experts' three gradients
 *                 into stage 1 add in another order (measured: 1e-6).
 *   oneDNN build  ||a - b|| / ||a|| (the norm at least 1e-4 per value), at most 0.1. The
 *                 separate branches' stride-1 convolutions run through Winograd, the grouped
 *                 ones through oneDNN's direct kernels; their rounding (1e-6) flips a ReLU
 *                 gate wherever a value lies that close to zero (measured on RICASSO: one
 *                 element of 65,536, relative L2 0.012 in its layer and 0.015 in that layer's
 *                 bias gradient, less upstream), which a largest-difference score cannot
 *                 tell from a wrong value.
 *
 * Negative controls, which the same score must reject by far (worst score above 0.25; the
 * controls measure above 1):
 *   - the grouped cfg with its shortcuts' groups= removed: Darknet's option-A shortcut pads
 *     the whole tensor, so every stage start mixes the experts' channels;
 *   - the right cfg with two experts' blocks of one grouped convolution swapped (a map that
 *     put expert 1's filters where expert 2's belong).
 * Built twice: against the test build (Darknet's im2col and gemm) and, as
 * test_grouped_experts_dnnl, against the oneDNN build (grouped oneDNN convolutions against
 * the separate branches' Winograd and oneDNN ones).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "grouped_experts.h"
#include "layer_registry.h"

#include "harness.h"

#ifdef DNNL
#define BUILD " (oneDNN)"
#else
#define BUILD ""
#endif

enum { ROWS = 8, SEED = 77 };
/* The score of a buffer (see the header): the plain build, max |a - b| / max |a|; the oneDNN
   build, ||a - b|| / ||a||. FLOOR: magnitudes below it are rounding noise. */
#ifdef DNNL
#define SCORE_NAME "relative L2 difference"
static const double TOL = 0.1;
#else
#define SCORE_NAME "relative difference"
static const double TOL = 2e-3;
#endif
static const double CONTROL = 0.25, FLOOR = 1e-4;

/* The committed cfg `rel` with batch=ROWS ([mixdata] pairs=ROWS/4); drop_groups: without
   the groups= lines of its [shortcut] sections. */
static char *small_cfg(const char *rel, int drop_groups)
{
    FILE *fp = fopen(repo_path(rel), "r");
    char line[4096];
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    int in_shortcut = 0;
    if (!fp || !text) {
        fprintf(stderr, "cannot read %s\n", repo_path(rel));
        exit(1);
    }
    while (fgets(line, sizeof(line), fp)) {
        char out[4096];
        size_t n;
        if (line[0] == '[') in_shortcut = !strncmp(line, "[shortcut]", 10);
        if (!strncmp(line, "batch=", 6)) snprintf(out, sizeof(out), "batch=%d\n", ROWS);
        else if (!strncmp(line, "pairs=", 6)) snprintf(out, sizeof(out), "pairs=%d\n", ROWS / 4);
        else if (drop_groups && in_shortcut && !strncmp(line, "groups=", 7)) continue;
        else strcpy(out, line);
        n = strlen(out);
        if (len + n + 1 > cap) {
            cap *= 2;
            text = realloc(text, cap);
            if (!text) exit(1);
        }
        memcpy(text + len, out, n + 1);
        len += n;
    }
    fclose(fp);
    return text;
}

/* A network of the cfg text, with CIFAR-10-LT's class counts for the layers that want them
   and no warm-up (burn_in would make the first step's learning rate 0). */
static network *load(const char *name, const char *text, int seed)
{
    static const int counts[10] = {5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50};
    network *net;
    srand(seed);
    net = net_from_cfg_text(name, text);
    if (plugin_network_wants_train_stats(net)) {
        int n = 0, c, i, k = 0, *path_class;
        for (c = 0; c < 10; ++c) n += counts[c];
        path_class = malloc(sizeof(int) * n);
        for (c = 0; c < 10; ++c)
            for (i = 0; i < counts[c]; ++i) path_class[k++] = c;
        plugin_network_set_train_stats(net, path_class, n, counts, 10);
        free(path_class);
    }
    net->burn_in = 0;
    return net;
}

static void set_batch(network *net, const float *x, const float *t)
{
    memcpy(net->input, x, sizeof(float) * net->inputs * net->batch);
    memcpy(net->truth, t, sizeof(float) * net->truths * net->batch);
    net->train = 1;
    srand(SEED);    /* [mixdata] draws its Mixup and CutMix rows from rand() */
}

/* The worst score seen so far, and where. */
typedef struct {
    double worst;
    char where[384];
    int buffers;
} verdict;

/* Separate buffer s, rows of n values, against block `part` of `parts` of each row of the
   grouped buffer g (rows of parts x n values). */
static void judge(verdict *v, const char *what, const grouped_pair *p, const float *s, const float *g, int rows,
                  int n)
{
    double err = 0, mag = 0, d2 = 0, n2 = 0, rel, l2, score;
    int r, i;
    for (r = 0; r < rows; ++r)
        for (i = 0; i < n; ++i) {
            const float a = s[(size_t)r * n + i], b = g[((size_t)r * p->parts + p->part) * n + i];
            const double d = (double)a - b;
            err = err_max(err, fabs(d));
            mag = fmax(mag, fabs((double)a));
            d2 += d * d;
            n2 += (double)a * a;
        }
    rel = err / fmax(mag, FLOOR);
    l2 = err == INFINITY || d2 != d2 ? INFINITY : sqrt(d2) / fmax(sqrt(n2), FLOOR * sqrt((double)rows * n));
#ifdef DNNL
    score = l2;
#else
    score = rel;
#endif
    ++v->buffers;
    if (score > v->worst || score != score) {
        v->worst = score != score ? INFINITY : score;
        snprintf(v->where, sizeof(v->where), "%s of separate layer %d / grouped layer %d block %d: max |diff| %.3g, "
                 "max |value| %.3g (relative difference %.3g), relative L2 difference %.3g", what, p->sep, p->grp,
                 p->part, err, mag, rel, l2);
    }
}

/* Outputs and deltas (activations) of the paired layers. */
static void judge_activations(verdict *v, const network *sep, const network *grp, const grouped_pair *pairs, int np,
                              int deltas)
{
    int i;
    for (i = 0; i < np; ++i) {
        const layer *s = &sep->layers[pairs[i].sep], *g = &grp->layers[pairs[i].grp];
        judge(v, deltas ? "delta" : "output", &pairs[i], deltas ? s->delta : s->output, deltas ? g->delta : g->output,
              s->batch, s->outputs);
    }
}

/* Parameter buffers (which = GROUPED_PARAMS) or gradients (GROUPED_GRADIENTS). */
static void judge_buffers(verdict *v, const network *sep, const network *grp, const grouped_pair *pairs, int np,
                          int which)
{
    int i, b;
    for (i = 0; i < np; ++i) {
        float *sb[GROUPED_MAX_BUFFERS], *gb[GROUPED_MAX_BUFFERS];
        int sl[GROUPED_MAX_BUFFERS], gl[GROUPED_MAX_BUFFERS], nb;
        const char *names[GROUPED_MAX_BUFFERS];
        nb = grouped_layer_buffers(&sep->layers[pairs[i].sep], which, sb, sl, names);
        grouped_layer_buffers(&grp->layers[pairs[i].grp], which, gb, gl, names);
        for (b = 0; b < nb; ++b) {
            /* a parameter buffer is one "row" of parts blocks */
            judge(v, names[b], &pairs[i], sb[b], gb[b], 1, sl[b]);
        }
    }
}

static long count_params(const network *net)
{
    long total = 0;
    int i, b, nb;
    for (i = 0; i < net->n; ++i) {
        float *buf[GROUPED_MAX_BUFFERS];
        int len[GROUPED_MAX_BUFFERS];
        const char *names[GROUPED_MAX_BUFFERS];
        nb = grouped_layer_buffers(&net->layers[i], GROUPED_PARAMS, buf, len, names);
        for (b = 0; b < nb; ++b)
            if (strncmp(names[b], "rolling", 7)) total += len[b];
    }
    return total;
}

/* The worst score of the outputs of a training-mode forward pass. */
static double forward_difference(network *sep, network *grp, const grouped_pair *pairs, int np, const float *x,
                                 const float *t, char *where, int wlen)
{
    verdict v = {0};
    set_batch(sep, x, t);
    forward_network(sep);
    set_batch(grp, x, t);
    forward_network(grp);
    judge_activations(&v, sep, grp, pairs, np, 0);
    snprintf(where, wlen, "%s", v.where);
    return v.worst;
}

static void compare(const char *title, const char *sep_cfg, const char *grp_cfg)
{
    char *st = small_cfg(sep_cfg, 0), *gt = small_cfg(grp_cfg, 0), *bad = small_cfg(grp_cfg, 1);
    network *sep = load("sep.cfg", st, 1), *grp = load("grp.cfg", gt, 2), *back = load("back.cfg", st, 3);
    grouped_pair *pairs = calloc(sep->n + 1, sizeof(grouped_pair));
    char err[512] = "", where[384];
    const int B = sep->batch, X = sep->inputs, C = sep->truths;
    float *x = malloc(sizeof(float) * B * X), *t = calloc((size_t)B * C, sizeof(float));
    int np, i, b, nb, rc, grouped = 0, same = 1;
    long ps = count_params(sep), pg = count_params(grp);
    double d_cost, worst;
    verdict v;

    np = grouped_pairs(sep, grp, pairs, sep->n + 1, err, sizeof(err));
    for (i = 0; i < np; ++i) grouped += pairs[i].parts > 1;
    if (!check_report(np > 0 && grouped > 0, harness_name("%s%s: the map pairs every layer with parameters", title, BUILD),
                      "%d pairs, %d of them grouped: %s", np, grouped, err))
        goto done;
    printf("%s: %d layers with parameters, %d of them expert layers in grouped convolutions; %ld parameters\n", title,
           np, grouped, ps);
    CHECK(ps == pg && ps > 0, "%s%s: separate and grouped networks have the same number of parameters (%ld, %ld)",
          title, BUILD, ps, pg);

    /* the map, both ways */
    rc = grouped_copy(sep, grp, 1, err, sizeof(err));
    CHECK(rc == 0, "%s%s: separate -> grouped copy%s%s", title, BUILD, *err ? ": " : "", err);
    rc = grouped_copy(back, grp, 0, err, sizeof(err));
    CHECK(rc == 0, "%s%s: grouped -> separate copy%s%s", title, BUILD, *err ? ": " : "", err);
    for (i = 0; i < sep->n; ++i) {
        float *sb[GROUPED_MAX_BUFFERS], *bb[GROUPED_MAX_BUFFERS];
        int sl[GROUPED_MAX_BUFFERS], bl[GROUPED_MAX_BUFFERS];
        const char *names[GROUPED_MAX_BUFFERS];
        nb = grouped_layer_buffers(&sep->layers[i], GROUPED_PARAMS, sb, sl, names);
        grouped_layer_buffers(&back->layers[i], GROUPED_PARAMS, bb, bl, names);
        for (b = 0; b < nb; ++b) same &= !memcmp(sb[b], bb[b], sizeof(float) * sl[b]);
    }
    CHECK(same, "%s%s: separate -> grouped -> separate gives every parameter back bit for bit", title, BUILD);

    /* the batch */
    srand(SEED + 1);
    for (i = 0; i < B * X; ++i) x[i] = rand() / (RAND_MAX + 1.0f);
    for (b = 0; b < B; ++b) t[b * C + rand() % C] = 1;

    /* forward and backward */
    set_batch(sep, x, t);
    forward_network(sep);
    backward_network(sep);
    set_batch(grp, x, t);
    forward_network(grp);
    backward_network(grp);
    d_cost = fabs(*sep->cost - *grp->cost);
    CHECK(isfinite(*sep->cost) && d_cost <= 1e-4 * fmax(1, fabs(*sep->cost)),
          "%s%s: the same loss (separate %.6f, grouped %.6f)", title, BUILD, *sep->cost, *grp->cost);
    worst = 0;
    for (i = 0; i < B * sep->outputs; ++i) worst = err_max(worst, fabs(sep->output[i] - grp->output[i]));
    CHECK(sep->outputs == grp->outputs && worst <= 1e-4,
          "%s%s: the same output (softmax of the mean logits; max difference %.2g)", title, BUILD, worst);

    memset(&v, 0, sizeof(v));
    judge_activations(&v, sep, grp, pairs, np, 0);
    judge_activations(&v, sep, grp, pairs, np, 1);
    check_report(v.worst <= TOL, harness_name("%s%s: the same outputs and deltas of all %d layers with parameters",
                                              title, BUILD, np),
                 "worst " SCORE_NAME " %.3g (tolerance %.g): %s", v.worst, TOL, v.where);
    printf("%s%s: outputs and deltas: worst " SCORE_NAME " %.3g (%s)\n", title, BUILD, v.worst, v.where);

    memset(&v, 0, sizeof(v));
    judge_buffers(&v, sep, grp, pairs, np, GROUPED_GRADIENTS);
    check_report(v.worst <= TOL && v.buffers > 2 * np,
                 harness_name("%s%s: the same gradient of every parameter (%d buffers)", title, BUILD, v.buffers),
                 "worst " SCORE_NAME " %.3g (tolerance %.g): %s", v.worst, TOL, v.where);
    printf("%s%s: gradients: worst " SCORE_NAME " %.3g (%s)\n", title, BUILD, v.worst, v.where);

    /* one update */
    update_network(sep);
    update_network(grp);
    memset(&v, 0, sizeof(v));
    judge_buffers(&v, sep, grp, pairs, np, GROUPED_PARAMS);
    check_report(v.worst <= TOL, harness_name("%s%s: after one update, the same parameters and batch-norm statistics "
                                              "(%d buffers)", title, BUILD, v.buffers),
                 "worst " SCORE_NAME " %.3g (tolerance %.g): %s", v.worst, TOL, v.where);
    printf("%s%s: after the update: worst " SCORE_NAME " %.3g (%s)\n", title, BUILD, v.worst, v.where);

    /* negative control 1: option-A shortcuts padding the whole tensor */
    {
        network *mixed = load("mixed.cfg", bad, 4);
        rc = grouped_copy(sep, mixed, 1, err, sizeof(err));
        CHECK(rc == 0, "%s%s: copy into the control network%s%s", title, BUILD, *err ? ": " : "", err);
        worst = forward_difference(sep, mixed, pairs, np, x, t, where, sizeof(where));
        CHECK(worst > CONTROL, "%s%s: negative control: without [shortcut] groups= (padding the whole tensor) the "
              "comparison fails (worst " SCORE_NAME " %.3g > %.2g: %s)", title, BUILD, worst, CONTROL, where);
        free_network(mixed);
    }
    /* negative control 2: two experts' filters swapped in one grouped convolution */
    {
        const grouped_pair *p = 0;
        layer *g;
        float *tmp;
        int n;
        for (i = 0; i < np && !p; ++i)
            if (pairs[i].parts > 1) p = &pairs[i];
        rc = grouped_copy(sep, grp, 1, err, sizeof(err));
        CHECK(rc == 0, "%s%s: copy again%s%s", title, BUILD, *err ? ": " : "", err);
        g = &grp->layers[p->grp];
        n = g->nweights / p->parts;
        tmp = malloc(sizeof(float) * n);
        memcpy(tmp, g->weights, sizeof(float) * n);
        memcpy(g->weights, g->weights + n, sizeof(float) * n);
        memcpy(g->weights + n, tmp, sizeof(float) * n);
        free(tmp);
        worst = forward_difference(sep, grp, pairs, np, x, t, where, sizeof(where));
        CHECK(worst > CONTROL, "%s%s: negative control: experts 1 and 2 swapped in grouped layer %d, the comparison "
              "fails (worst " SCORE_NAME " %.3g > %.2g: %s)", title, BUILD, p->grp, worst, CONTROL, where);
    }

done:
    free(x);
    free(t);
    free(pairs);
    free(st);
    free(gt);
    free(bad);
    free_network(sep);
    free_network(grp);
    free_network(back);
}

int main(void)
{
    compare("LGLA", "cfg/lgla-resnet32-cifar10.cfg", "cfg/lgla-resnet32-cifar10-grouped.cfg");
    compare("RICASSO", "cfg/ricasso-resnet32-cifar10.cfg", "cfg/ricasso-resnet32-cifar10-grouped.cfg");
    return harness_finish();
}
