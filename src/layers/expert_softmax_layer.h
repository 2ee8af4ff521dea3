/* [expert_softmax]: LGLA's multi-expert logit-adjusted loss with RICASSO's ambiguity-aware
 * margins (AALA), RICASSO sections 3.1 and 3.3; ../shared/METHOD-NOTES.md fixes the reading.
 *
 * Reads the logits v_k [B, C] of K expert layers (usually [cosine] heads), the last being the
 * global expert. With the per-class training counts n_c and p_c = n_c / sum(n):
 *
 *   local expert k < K:  margin T(k, j) = log p'_{k,j},  p'_{k,j} = p_j if j in C_k else max(p)
 *   global expert K:     margin T(K, j) = tau * log p_j          (a prior p^tau)
 *
 * (log of p + 1e-9, as LGLA). The class groups C_k follow LGLA: walk the counts in ascending
 * order with a running sum that restarts after each cut, and cut where it passes
 * sum(n) // (K-1); the cuts bound count ranges (lo, hi]; local expert 1 takes the head-most
 * range, the last local expert (0, lowest cut]. K = 2: the one local expert has every class.
 *
 * Per row b of expert k:
 *   AALA (aala=1):  a_b = 1 + softmax over the batch rows of E_b, E_b = -T log sum_c exp(v_bc/T)
 *   g (reweight=1): theta_b = arccos(v_{b,y}/s) for an ID row of class y; theta_bar = mean
 *                   theta over the batch's ID rows whose class is in the same group;
 *                   g_b = 1 if theta_b < theta_bar else 1 + theta_b - theta_bar. Mixed rows
 *                   get g = 1 (LGLA defines g for one-hot rows only). ID rows: see id_rows
 *                   in layer_util.h.
 *   loss_b = -g_b sum_c t_bc log softmax(v_b + a_b T(k, .))_c
 * a and g are constants in backward. The layer's loss is the sum over experts and rows
 * (Darknet sums over the batch; its update divides by the batch: each expert's mean).
 *
 * Output (what classifier valid, predict and demo report): softmax of the mean of the
 * experts' unadjusted logits.
 *
 * Keys:
 *   experts=a,b,c   the expert logit layers (indices; negative = relative), global expert last
 *   tau=3           the global expert's prior power (CIFAR-10: 3, CIFAR-100: 2.5; 1 with K = 1
 *                   is plain logit-adjusted CE)
 *   aala=1          0/1: AALA factor (0: a_b = 1)
 *   reweight=1      0/1: LGLA's angular re-weighting g (0: g_b = 1)
 *   energy_t=1      T of the energy score, in (0, 1000]
 *   scale=          s of the cosine logits, for g; taken from the experts when they are [cosine]
 *   counts=FILE     per-class training counts (C integers), for use without classifier train;
 *                   classifier train computes them from the training list (and checks this file
 *                   against them when both are present)
 *
 * The maths, per expert, in ricasso_kernels.h: lgla_group_ranges and expert_margins (eq. 1),
 * energy_forward (eq. 6), aala_factor_forward (eq. 5), angular_weight_forward (g),
 * logit_adjusted_ce_forward / _backward (eq. 4, 7).
 *
 * Glossary: B rows, C classes, K experts.
 */
#ifndef EXPERT_SOFTMAX_LAYER_H
#define EXPERT_SOFTMAX_LAYER_H

#include "layer_registry.h"

typedef struct expert_softmax_state {
    int K;                 /* experts */
    int C;                 /* classes */
    int *expert;           /* [K] layer index of each expert's logits */
    float tau, energy_t, scale;
    int aala, reweight;
    int have_counts;
    int *count;            /* [C] n_c */
    float *prior;          /* [C] p_c */
    float *margin;         /* [K, C] T(k, c) */
    int groups;            /* class groups (local experts; 1 when K < 3) */
    int *group_lo;         /* [groups] count range (lo, hi] of each group */
    int *group_hi;         /* [groups] */
    int *class_group;      /* [C] group of each class */
    float *adj_prob;       /* [K, B, C] softmax of the adjusted logits, kept for backward */
    float *row_weight;     /* [K, B] g */
    float *row_aala;       /* [K, B] a */
    float *row_energy;     /* [K, B] E of eq. 6 (when aala=1) */
    int *sort_scratch;     /* [2, C] scratch of the class grouping */
    float *expert_cost;    /* [K] loss of each expert in the last forward */
    float *mean_logit;     /* [B, C] mean of the experts' logits */
    int *row_class;        /* [B] class of each ID row, -1 for mixed rows */
    int keep_factors;      /* test hook, 0 in use: 1 = forward keeps a and g as they are, so
                              finite differences see them as the constants backward takes */
} expert_softmax_state;

layer parse_expert_softmax_layer(list *options, plugin_params params);
void forward_expert_softmax_layer(layer l, network net);
void backward_expert_softmax_layer(layer l, network net);
void free_expert_softmax_layer(layer *l);
void expert_softmax_set_train_stats(layer l, network *net, const int *path_class, int n,
                                    const int *counts, int classes);
/* Sets the counts (and from them priors, groups and margins); returns 0 and prints why when
 * the LGLA grouping cannot give K-1 groups. */
int expert_softmax_set_counts(layer l, const int *counts, int classes);
#ifdef GPU
void forward_expert_softmax_layer_gpu(layer l, network net);
void backward_expert_softmax_layer_gpu(layer l, network net);
#endif

#endif
