/* [expert_softmax] layer: forward and backward side by side. See expert_softmax_layer.h.
 *
 * Glossary: B rows, C classes, K experts.
 */
#include "expert_softmax_layer.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "cfg_keys.h"
#include "cosine_layer.h"
#include "layer_util.h"
#ifdef GPU
#include "cuda.h"
#endif

#define MAX_EXPERTS 16
/* LGLA adds 1e-9 inside the log of the prior so an empty class gives a finite margin. */
#define PRIOR_EPS 1e-9

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* LGLA's grouping of the classes by count into `want` ranges (lo, hi]; returns how many
 * ranges the walk gives (the caller checks it equals want). */
static int region_ranges(const int *count, int C, int want, int *lo, int *hi)
{
    int *sorted = malloc(C * sizeof(int));
    int cuts[64], ncut = 0, i, maxc = 0;
    long sum = 0, run = 0, per;
    for (i = 0; i < C; ++i) {
        sorted[i] = count[i];
        sum += count[i];
        if (count[i] > maxc) maxc = count[i];
    }
    qsort(sorted, C, sizeof(int), cmp_int);
    per = sum / want;
    for (i = 0; i < C; ++i) {
        run += sorted[i];
        if (run > per) {
            if (ncut < 64) cuts[ncut++] = sorted[i];
            run = 0;
        }
    }
    free(sorted);
    /* Head-most range first: (largest cut, max], ..., (0, smallest cut]. */
    if (ncut == 0) {
        lo[0] = 0;
        hi[0] = maxc;
        return 1;
    }
    if (ncut + 1 > want) return ncut + 1;
    for (i = 0; i < ncut; ++i) {
        lo[i] = cuts[ncut - 1 - i];
        hi[i] = i == 0 ? maxc : cuts[ncut - i];
    }
    lo[ncut] = 0;
    hi[ncut] = cuts[0];
    return ncut + 1;
}

int expert_softmax_set_counts(layer l, const int *counts, int classes)
{
    expert_softmax_state *st = l.plugin_state;
    const int K = st->K, C = st->C;
    int c, k, g;
    long sum = 0;
    float pmax = 0;
    if (classes != C) {
        fprintf(stderr, "darknet: error: [expert_softmax]: %d class counts for experts with %d outputs\n", classes, C);
        exit(1);
    }
    for (c = 0; c < C; ++c) sum += counts[c];
    if (sum <= 0) {
        fprintf(stderr, "darknet: error: [expert_softmax]: the class counts add up to %ld\n", sum);
        exit(1);
    }
    for (c = 0; c < C; ++c) {
        st->count[c] = counts[c];
        st->prior[c] = (float)((double)counts[c] / sum);
        if (st->prior[c] > pmax) pmax = st->prior[c];
    }
    /* Groups: LGLA's ranges for K >= 3 local+global experts; one group otherwise. */
    if (K >= 3) {
        int got = region_ranges(counts, C, K - 1, st->group_lo, st->group_hi);
        if (got != K - 1) {
            fprintf(stderr, "darknet: error: [expert_softmax]: LGLA's grouping of these counts gives %d groups for %d local experts\n", got, K - 1);
            return 0;
        }
        st->groups = K - 1;
    } else {
        int maxc = 0;
        for (c = 0; c < C; ++c) if (counts[c] > maxc) maxc = counts[c];
        st->groups = 1;
        st->group_lo[0] = 0;
        st->group_hi[0] = maxc;
    }
    /* A class with no training image is in no range: no local expert takes it (its local
       margins are log max p), and no ID row of it can occur in training. */
    for (c = 0; c < C; ++c) {
        st->class_group[c] = -1;
        for (g = 0; g < st->groups; ++g)
            if (counts[c] > st->group_lo[g] && counts[c] <= st->group_hi[g]) st->class_group[c] = g;
    }
    for (k = 0; k < K; ++k)
        for (c = 0; c < C; ++c) {
            float m;
            if (k == K - 1) m = st->tau * logf(st->prior[c] + PRIOR_EPS);
            else m = logf((st->class_group[c] == k ? st->prior[c] : pmax) + PRIOR_EPS);
            st->margin[k * C + c] = m;
        }
    st->have_counts = 1;
    return 1;
}

static void print_groups(const expert_softmax_state *st)
{
    int k, c;
    printf("[expert_softmax] %d expert%s, tau %g, AALA %s, g %s\n", st->K, st->K > 1 ? "s" : "",
           st->tau, st->aala ? "on" : "off", st->reweight ? "on" : "off");
    for (k = 0; k < st->K; ++k) {
        printf("  expert %d (layer %d): ", k + 1, st->expert[k]);
        if (k == st->K - 1) {
            printf("global, margin %g log p\n", st->tau);
            continue;
        }
        {
            int n = 0;
            printf("classes");
            for (c = 0; c < st->C; ++c) if (st->class_group[c] == k) { printf(" %d", c); ++n; }
            printf("%s (counts in (%d, %d])\n", n ? "" : " none: its margin is constant", st->group_lo[k], st->group_hi[k]);
        }
    }
}

static int *read_counts_file(const plugin_params *p, const char *path, int C)
{
    FILE *fp = fopen(path, "r");
    int *counts, n = 0;
    long v;
    char tok[64];
    if (!fp) cfg_fail(p, "counts", "cannot open '%s'", path);
    counts = calloc(C, sizeof(int));
    while (fscanf(fp, " %63[^, \t\n]%*[, \t\n]", tok) == 1) {
        char *end;
        v = strtol(tok, &end, 10);
        if (*end || v < 0 || v > 2000000000) cfg_fail(p, "counts", "'%s' in %s is not a count", tok, path);
        if (n < C) counts[n] = (int)v;
        ++n;
    }
    fclose(fp);
    if (n != C) cfg_fail(p, "counts", "%s has %d counts, the experts have %d classes", path, n, C);
    return counts;
}

layer parse_expert_softmax_layer(list *options, plugin_params p)
{
    layer l = {0};
    expert_softmax_state *st = calloc(1, sizeof(expert_softmax_state));
    int experts[MAX_EXPERTS], K, k, C;
    float cos_scale = 0;
    const char *counts_path;
    K = cfg_layer_list(options, &p, "experts", experts, MAX_EXPERTS);
    cfg_layers_distinct(&p, "experts", experts, K);
    for (k = 0; k < K; ++k) {
        const char *why = cfg_not_logits(p.net, experts[k]);
        if (why)
            cfg_fail(&p, "experts", "layer %d [%s] cannot be an expert's logits: %s", experts[k],
                     cfg_layer_type_name(p.net, experts[k]), why);
    }
    C = p.net->layers[experts[0]].outputs;
    for (k = 0; k < K; ++k) {
        const layer *e = &p.net->layers[experts[k]];
        if (e->outputs != C)
            cfg_fail(&p, "experts", "experts with different class counts: layer %d has %d outputs, layer %d has %d",
                     experts[0], C, experts[k], e->outputs);
        if (e->type == PLUGIN && e->plugin->parse == parse_cosine_layer) {
            if (cos_scale && cos_scale != e->alpha)
                cfg_fail(&p, "experts", "the [cosine] experts have different scales (%g, %g)", cos_scale, e->alpha);
            cos_scale = e->alpha;
        }
    }
    st->K = K;
    st->C = C;
    st->expert = malloc(K * sizeof(int));
    memcpy(st->expert, experts, K * sizeof(int));
    st->tau = cfg_float(options, &p, "tau", 3, 0, 0, 100, 0);
    st->aala = cfg_int(options, &p, "aala", 1, 0, 1);
    st->reweight = cfg_int(options, &p, "reweight", 1, 0, 1);
    st->energy_t = cfg_float(options, &p, "energy_t", 1, 0, 1, 1000, 0);
    st->scale = cfg_float(options, &p, "scale", cos_scale, 0, 1, 1000, 0);
    if (st->reweight && st->scale <= 0)
        cfg_fail(&p, "scale", "reweight=1 needs the cosine scale s (the experts are not [cosine] layers)");
    st->count = calloc(C, sizeof(int));
    st->prior = calloc(C, sizeof(float));
    st->margin = calloc(K * C, sizeof(float));
    st->group_lo = calloc(K, sizeof(int));
    st->group_hi = calloc(K, sizeof(int));
    st->class_group = calloc(C, sizeof(int));
    st->adj_prob = calloc(K * p.batch * C, sizeof(float));
    st->row_weight = calloc(K * p.batch, sizeof(float));
    st->row_aala = calloc(K * p.batch, sizeof(float));
    st->expert_cost = calloc(K, sizeof(float));
    st->mean_logit = calloc(p.batch * C, sizeof(float));
    st->row_class = calloc(p.batch, sizeof(int));

    l.batch = p.batch;
    l.inputs = p.inputs;
    l.outputs = C;
    l.out_w = l.out_h = 1;
    l.out_c = C;
    l.output = calloc(p.batch * C, sizeof(float)); /* [B, C] */
    l.delta = calloc(p.batch * C, sizeof(float));  /* [B, C], unused: gradients go to the experts */
    l.cost = calloc(1, sizeof(float));
    l.plugin_state = st;
    l.forward = forward_expert_softmax_layer;
    l.backward = backward_expert_softmax_layer;
#ifdef GPU
    if (gpu_index >= 0) {
        l.forward_gpu = forward_expert_softmax_layer_gpu;
        l.backward_gpu = backward_expert_softmax_layer_gpu;
        l.output_gpu = cuda_make_array(l.output, p.batch * C);
        l.delta_gpu = cuda_make_array(l.delta, p.batch * C);
    }
#endif
    fprintf(stderr, "expert_softmax    %d experts x %4d classes, tau %g%s%s\n", K, C, st->tau,
            st->aala ? ", AALA" : "", st->reweight ? ", g" : "");
    counts_path = cfg_str(options, &p, "counts", 0);
    if (counts_path) {
        int *counts = read_counts_file(&p, counts_path, C);
        if (!expert_softmax_set_counts(l, counts, C)) cfg_fail(&p, "counts", "see above");
        free(counts);
    }
    return l;
}

void free_expert_softmax_layer(layer *l)
{
    expert_softmax_state *st = l->plugin_state;
    if (!st) return;
    free(st->expert);
    free(st->count);
    free(st->prior);
    free(st->margin);
    free(st->group_lo);
    free(st->group_hi);
    free(st->class_group);
    free(st->adj_prob);
    free(st->row_weight);
    free(st->row_aala);
    free(st->expert_cost);
    free(st->mean_logit);
    free(st->row_class);
    free(st);
}

void expert_softmax_set_train_stats(layer l, network *net, const int *path_class, int n,
                                    const int *counts, int classes)
{
    expert_softmax_state *st = l.plugin_state;
    int c;
    if (st->have_counts) {
        for (c = 0; c < classes && c < st->C; ++c)
            if (st->count[c] != counts[c]) {
                fprintf(stderr, "darknet: error: [expert_softmax]: its counts file says class %d has %d images, the training list has %d\n",
                        c, st->count[c], counts[c]);
                exit(1);
            }
    }
    if (!expert_softmax_set_counts(l, counts, classes)) exit(1);
    print_groups(st);
}

void forward_expert_softmax_layer(layer l, network net)
{
    expert_softmax_state *st = l.plugin_state;
    const int B = l.batch, C = st->C, K = st->K;
    int b, c, k;
    float z[4096];
    float *zrow = C <= 4096 ? z : malloc(C * sizeof(float));

    /* Output: softmax of the mean unadjusted logits. */
    memset(st->mean_logit, 0, sizeof(float) * B * C);
    for (k = 0; k < K; ++k)
        axpy_cpu(B * C, 1.f / K, net.layers[st->expert[k]].output, 1, st->mean_logit, 1);
    for (b = 0; b < B; ++b) softmax_row(st->mean_logit + b * C, C, l.output + b * C);

    if (!net.truth || !net.train) {
        if (zrow != z) free(zrow);
        return;
    }
    if (!st->have_counts) {
        fprintf(stderr, "darknet: error: [expert_softmax] has no class counts: train with classifier train or give counts=FILE\n");
        exit(1);
    }
    l.cost[0] = 0;
    id_rows(&net, B, C, st->row_class);
    for (k = 0; k < K; ++k) {
        const float *v = net.layers[st->expert[k]].output;   /* [B, C] */
        float *a = st->row_aala + k * B;                      /* [B] */
        float *w = st->row_weight + k * B;                    /* [B] */
        float *q = st->adj_prob + k * B * C;                  /* [B, C] */
        const float *T = st->margin + k * C;                  /* [C] */
        double cost = 0;
        /* AALA: a_b = 1 + softmax_b(E_b), E_b = -T logsumexp(v_b / T). */
        if (st->aala) {
            double emax = -DBL_MAX, es = 0;
            for (b = 0; b < B; ++b) {
                double m = -DBL_MAX, s = 0;
                for (c = 0; c < C; ++c) if (v[b * C + c] / st->energy_t > m) m = v[b * C + c] / st->energy_t;
                for (c = 0; c < C; ++c) s += exp(v[b * C + c] / st->energy_t - m);
                a[b] = (float)(-st->energy_t * (m + log(s)));  /* E_b, for now */
                if (a[b] > emax) emax = a[b];
            }
            for (b = 0; b < B; ++b) es += exp(a[b] - emax);
            for (b = 0; b < B; ++b) a[b] = (float)(1.0 + exp(a[b] - emax) / es);
        } else {
            for (b = 0; b < B; ++b) a[b] = 1;
        }
        /* g: LGLA's angular re-weighting over the ID rows of each group. */
        for (b = 0; b < B; ++b) w[b] = 1;
        if (st->reweight) {
            double gsum[MAX_EXPERTS] = {0};
            int gn[MAX_EXPERTS] = {0};
            for (b = 0; b < B; ++b) {
                const int y = st->row_class[b];
                float cs;
                if (y < 0 || st->class_group[y] < 0) continue;
                cs = v[b * C + y] / st->scale;
                if (cs > 1) cs = 1;
                if (cs < -1) cs = -1;
                w[b] = acosf(cs);   /* theta, turned into the weight below */
                gsum[st->class_group[y]] += w[b];
                gn[st->class_group[y]] += 1;
            }
            for (b = 0; b < B; ++b) {
                const int y = st->row_class[b];
                float d;
                if (y < 0 || st->class_group[y] < 0) continue;
                d = w[b] - (float)(gsum[st->class_group[y]] / gn[st->class_group[y]]);
                w[b] = d < 0 ? 1.f : 1.f + d;
            }
        }
        /* Adjusted softmax cross-entropy, weighted. */
        for (b = 0; b < B; ++b) {
            const float *t = net.truth + b * net.truths;
            double lb = 0;
            for (c = 0; c < C; ++c) zrow[c] = v[b * C + c] + a[b] * T[c];
            softmax_row(zrow, C, q + b * C);
            for (c = 0; c < C; ++c)
                if (t[c] != 0) lb -= t[c] * log(q[b * C + c] > FLT_MIN ? q[b * C + c] : FLT_MIN);
            cost += w[b] * lb;
        }
        st->expert_cost[k] = (float)cost;
        l.cost[0] += (float)cost;
    }
    if (zrow != z) free(zrow);
}

/* -dL/dv_k[b, c] = g_b (t_bc - q_bc sum_c' t_bc'), added to expert k's delta. */
void backward_expert_softmax_layer(layer l, network net)
{
    expert_softmax_state *st = l.plugin_state;
    const int B = l.batch, C = st->C, K = st->K;
    int b, c, k;
    if (!net.truth || !net.train) return;
    for (k = 0; k < K; ++k) {
        float *d = net.layers[st->expert[k]].delta;
        const float *q = st->adj_prob + k * B * C;
        const float *w = st->row_weight + k * B;
        for (b = 0; b < B; ++b) {
            const float *t = net.truth + b * net.truths;
            float ts = 0;
            for (c = 0; c < C; ++c) ts += t[c];
            for (c = 0; c < C; ++c) d[b * C + c] += w[b] * (t[c] - q[b * C + c] * ts);
        }
    }
}

#ifdef GPU
/* The loss runs on the host: the experts' logits come from the device, and the gradient is
 * added to whatever their deltas on the device already hold. */
void forward_expert_softmax_layer_gpu(layer l, network net)
{
    expert_softmax_state *st = l.plugin_state;
    int k;
    for (k = 0; k < st->K; ++k) pull_layer_output(&net, st->expert[k]);
    forward_expert_softmax_layer(l, net);
    cuda_push_array(l.output_gpu, l.output, l.outputs * l.batch);
}

void backward_expert_softmax_layer_gpu(layer l, network net)
{
    expert_softmax_state *st = l.plugin_state;
    int k;
    for (k = 0; k < st->K; ++k) pull_layer_delta(&net, st->expert[k]);
    backward_expert_softmax_layer(l, net);
    for (k = 0; k < st->K; ++k) push_layer_delta(&net, st->expert[k]);
}
#endif
