/* OpenOOD's post-hoc OOD scores that need no retraining (higher = more in-distribution), as
 * `classifier ood -posthoc` computes them in the same pass as the paper's four:
 *
 *   gen          GEN: -sum_{i <= M} p_i^g (1 - p_i)^g over the M largest softmax
 *                probabilities p_i, g = 0.1; M = 100, OpenOOD's setting (all classes when
 *                C < M)
 *   react        ReAct: the energy T log sum exp(z'/T), T = 1, of the logits z' that the head
 *                computes from the penultimate feature clipped at c = the 90th percentile
 *                (-react_p) of all the training features' values (numpy's linear percentile)
 *   knn          KNN: -(1 - cos) between the L2-normalised feature (f / (|f| + 1e-10)) and
 *                its k-th nearest normalised training feature, k = 50 (-knn_k; N when fewer).
 *                OpenOOD's faiss search returns the squared L2 distance of the normalised
 *                vectors, 2 (1 - cos): the same ranking and metrics
 *   mahalanobis  Mahalanobis (OpenOOD's MDS): -min_c (f - mu_c)' S^-1 (f - mu_c), mu_c the
 *                training features' class means, S their shared covariance
 *                (1/N) sum_i (f_i - mu_{y_i})(f_i - mu_{y_i})' plus a ridge
 *                1e-6 tr(S) / D + 1e-12 on the diagonal (S is singular when there are fewer
 *                training images than dimensions, or dead units), through its Cholesky factor
 *
 * The penultimate feature is defined in ood_score.h (ood_scorer_enable_features). All in
 * double: scores, sums, distances.
 *
 * Training statistics: the features [N, D] and classes [N] of the .data file's train list,
 * prepared as the test images, kept in WEIGHTS.oodstats (ood_stats_save: a text header with
 * the sizes and FNV-1a checksums of the cfg, the weights and the train list, then the binary
 * arrays) and reused while all three match; everything else (the ReAct clip, the normalised
 * bank, the means and the covariance factor) is derived from them at load.
 *
 * Glossary: B rows, C classes, D feature length, N training images, K = OOD_NPOSTHOC.
 */
#ifndef OOD_POSTHOC_H
#define OOD_POSTHOC_H

#include <stddef.h>

#include "ood_score.h"

#define OOD_NPOSTHOC (OOD_NALL - OOD_NSCORES)
#define OOD_GEN_GAMMA 0.1
#define OOD_GEN_M 100

typedef struct ood_posthoc_params {
    double gen_gamma;   /* 0.1 */
    int gen_m;          /* 100 */
    double react_p;     /* percentile of the clip, in (0, 100] */
    int knn_k;          /* >= 1 */
} ood_posthoc_params;

typedef struct ood_train_stats {
    int N, D, C;
    float *feat;        /* [N, D] the training features, as the network gives them */
    int *label;         /* [N] their classes */
    /* derived by ood_stats_derive */
    double react_clip;
    float *bank;        /* [N, D] the features L2-normalised */
    double *mean;       /* [C, D] class means (NaN rows for classes without training images) */
    double *chol;       /* [D, D] lower Cholesky factor L of S + ridge (L L' = S + ridge I) */
    double ridge;
} ood_train_stats;

/* ---- kernels (pointers and sizes in) ---- */
/* GEN of one row of logits z [C]. */
double ood_gen(const float *z, int C, double gamma, int M);
/* numpy.percentile(v, q) with linear interpolation, v [n] (not changed). */
double ood_percentile(const float *v, size_t n, double q);
/* out [D] = f / (|f| + 1e-10), in double. */
void ood_l2_normalize(const float *f, int D, double *out);
/* KNN score of the normalised query q [D] against the normalised bank [N, D]; dist [N] is
 * scratch. */
double ood_knn(const double *q, const float *bank, int N, int D, int k, double *dist);
/* Class means mean [C, D] and the Cholesky factor chol [D, D] of the shared covariance plus
 * the ridge, from feat [N, D] and label [N]; 0 with err when the factorisation fails. */
int ood_mahalanobis_fit(const float *feat, const int *label, int N, int D, int C, double *mean, double *chol,
                        double *ridge, char *err, int errlen);
/* Mahalanobis score of f [D]; tmp [D] is scratch. */
double ood_mahalanobis(const float *f, int D, int C, const double *mean, const double *chol, double *tmp);

/* ---- training statistics ---- */
/* The derived fields from feat and label; 0 with err. */
int ood_stats_derive(ood_train_stats *t, double react_p, char *err, int errlen);
void ood_stats_free(ood_train_stats *t);
/* The fingerprint that ties a statistics file to its model and data. */
typedef struct ood_stats_key {
    long long cfg_size, weights_size, train_size;
    unsigned long long cfg_fnv1a, weights_fnv1a, train_fnv1a;
    int limit;          /* -limit of the run that computed them (0: the whole list) */
} ood_stats_key;
/* 0 with err when a file cannot be read. */
int ood_stats_key_of(ood_stats_key *k, const char *cfg, const char *weights, const char *train_list, int limit,
                     char *err, int errlen);
/* Atomic write; 0 with err. */
int ood_stats_save(const char *path, const ood_train_stats *t, const ood_stats_key *k, const char *cfg,
                   const char *weights, const char *train_list, char *err, int errlen);
/* 1: loaded (feat, label, N, D, C; not derived); 0: no file, or made for another key (why in
 * err); -1: malformed (err). */
int ood_stats_load(const char *path, const ood_stats_key *k, ood_train_stats *t, char *err, int errlen);

/* The post-hoc scores of the last ood_score_batch (s->logits, s->feat) into out [B, K];
 * t may be 0 when only gen is wanted (the others are then NaN). */
void ood_posthoc_batch(ood_scorer *s, const ood_train_stats *t, const ood_posthoc_params *pp, double *out);

#endif
