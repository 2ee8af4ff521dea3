/* [expert_softmax] layer: forward and backward side by side. See expert_softmax_layer.h;
 * the maths of eq. 1 and 4-7 are the kernels of ricasso_kernels.h.
 *
 * Glossary: B rows, C classes, K experts.
 */
#include "expert_softmax_layer.h"

#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "cfg_keys.h"
#include "cosine_layer.h"
#include "layer_util.h"
#include "ricasso_kernels.h"
#ifdef GPU
#include "cuda.h"
#endif

/* LGLA adds 1e-9 inside the log of the prior so an empty class gives a finite margin. */
#define PRIOR_EPS 1e-9

int expert_softmax_set_counts(layer l, const int *counts, int classes)
{
    expert_softmax_state *st = l.plugin_state;
    const int K = st->K, C = st->C;
    int c, g;
    long sum = 0;
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
    }
    /* Groups: LGLA's ranges for K >= 3 local+global experts; one group otherwise. */
    if (K >= 3) {
        int got = lgla_group_ranges(st->group_lo, st->group_hi, st->sort_scratch,
                                    st->sort_scratch + C, counts, C, K - 1);
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
    expert_margins(st->margin, st->prior, st->class_group, st->tau, PRIOR_EPS, K, C);
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
        if (plugin_layer_is(e, PLUGIN_TYPE_COSINE)) {
            const float s = ((const cosine_state *)e->plugin_state)->scale;
            if (cos_scale && cos_scale != s)
                cfg_fail(&p, "experts", "the [cosine] experts have different scales (%g, %g)", cos_scale, s);
            cos_scale = s;
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
    st->row_energy = calloc(K * p.batch, sizeof(float));
    st->sort_scratch = calloc(2 * C, sizeof(int));
    st->expert_cost = calloc(K, sizeof(float));
    st->mean_logit = calloc(p.batch * C, sizeof(float));
    st->row_class = calloc(p.batch, sizeof(int));

    /* output [B, C]; delta [B, C] is unused: the gradients go to the experts. */
    l = make_loss_layer(p.batch, p.inputs, C);
    l.plugin_state = st;
    l.forward = forward_expert_softmax_layer;
    l.backward = backward_expert_softmax_layer;
#ifdef GPU
    if (gpu_index >= 0) {
        l.forward_gpu = forward_expert_softmax_layer_gpu;
        l.backward_gpu = backward_expert_softmax_layer_gpu;
    }
#endif
    fprintf(stderr, "expert_softmax    %d experts x %4d classes, tau %g%s%s\n", K, C, st->tau,
            st->aala ? ", AALA" : "", st->reweight ? ", g" : "");
    counts_path = cfg_str(options, &p, "counts", 0);
    if (counts_path) {
        char err[1024];
        int n, *counts = class_counts_read(counts_path, C, &n, err, sizeof(err));
        if (!counts) cfg_fail(&p, "counts", "%s", err);
        if (n != C) cfg_fail(&p, "counts", "%s has %d counts, the experts have %d classes", counts_path, n, C);
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
    free(st->row_energy);
    free(st->sort_scratch);
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
    int k;

    /* Output: softmax of the mean unadjusted logits. */
    memset(st->mean_logit, 0, sizeof(float) * B * C);
    for (k = 0; k < K; ++k)
        axpy_cpu(B * C, 1.f / K, net.layers[st->expert[k]].output, 1, st->mean_logit, 1);
    softmax_forward(l.output, st->mean_logit, B, C);

    if (!net.truth || !net.train) return;
    if (!st->have_counts) {
        fprintf(stderr, "darknet: error: [expert_softmax] has no class counts: train with classifier train or give counts=FILE\n");
        exit(1);
    }
    l.cost[0] = 0;
    id_rows(&net, B, C, st->row_class);
    for (k = 0; k < K; ++k) {
        const float *v = net.layers[st->expert[k]].output;   /* [B, C] */
        float *E = st->row_energy + k * B;                    /* [B] */
        float *a = st->row_aala + k * B;                      /* [B] */
        float *g = st->row_weight + k * B;                    /* [B] */
        float *q = st->adj_prob + k * B * C;                  /* [B, C] */
        double cost;
        if (st->keep_factors) {
            /* a and g as the last forward left them (tests only) */
        } else if (st->aala) {
            energy_forward(E, v, st->energy_t, B, C);
            aala_factor_forward(a, E, B);
        } else {
            fill_cpu(B, 1, a, 1);
        }
        if (st->keep_factors) {
            /* g as the last forward left it (tests only) */
        } else if (st->reweight)
            angular_weight_forward(g, v, st->row_class, st->class_group, st->groups, st->scale, B, C);
        else
            fill_cpu(B, 1, g, 1);
        cost = logit_adjusted_ce_forward(q, v, a, st->margin + k * C, g, net.truth, net.truths, B, C);
        st->expert_cost[k] = (float)cost;
        l.cost[0] += (float)cost;
    }
}

/* -dL/dv_k, added to expert k's delta. */
void backward_expert_softmax_layer(layer l, network net)
{
    expert_softmax_state *st = l.plugin_state;
    const int B = l.batch, C = st->C;
    int k;
    if (!net.truth || !net.train) return;
    for (k = 0; k < st->K; ++k)
        logit_adjusted_ce_backward(net.layers[st->expert[k]].delta, st->adj_prob + k * B * C,
                                   st->row_weight + k * B, net.truth, net.truths, B, C);
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
