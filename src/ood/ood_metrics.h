/* OOD detection metrics, in-distribution (ID) positive, higher score = more ID.
 *
 * Conventions (printed by `darknet classifier ood` under its table):
 *   thresholds  every distinct score value t, an image being accepted as ID when
 *               score >= t; nothing is interpolated. This is sklearn's roc_curve with
 *               drop_intermediate=False (its default drops collinear points, which can move
 *               FPR95 by one step).
 *   AUROC       trapezoidal area under that ROC curve from (0, 0) to (1, 1); equal to the
 *               probability that an ID score beats an OOD score, ties counting 1/2
 *               (sklearn's roc_auc_score).
 *   AUPR-in     average precision with ID as the positive class: sum over thresholds of
 *               (R_t - R_prev) * P_t, step-wise, no interpolation (sklearn's
 *               average_precision_score).
 *   AUPR-out    the same with OOD as the positive class and the scores negated.
 *   FPR95       fraction of OOD samples accepted (score >= t*) at t* = the highest threshold
 *               whose TPR (fraction of ID accepted) is >= 0.95; as `fpr[argmax(tpr >= 0.95)]`
 *               on sklearn's roc_curve. t* is always an ID score value, so it depends on the
 *               ID scores only: it is also the deployment threshold.
 * Sums are exact: counts are integers and each area is accumulated in double.
 */
#ifndef OOD_METRICS_H
#define OOD_METRICS_H

typedef struct ood_metrics {
    double auroc;
    double aupr_in;
    double aupr_out;
    double fpr;        /* FPR at the TPR target (FPR95 for 0.95) */
    double threshold;  /* t*: the highest distinct score value with TPR(t*) >= target */
    double tpr;        /* TPR(t*), >= target */
    double fpr_oodpos; /* OpenOOD's FPR at the target with OOD as the positive class: the
                          fraction of ID at or below the lowest score that has detected
                          (score <= it) the target fraction of OOD */
} ood_metrics;

/* id [n_id], ood [n_ood]: scores. Fills m and returns 1; returns 0 (m untouched) when a set
 * is empty, a score is not finite or the target is not in (0, 1]. */
int ood_compute_metrics(const float *id, int n_id, const float *ood, int n_ood,
                        double tpr_target, ood_metrics *m);

/* The pieces, same conventions and same return of 0 on bad input (value then NaN). */
double ood_auroc(const float *id, int n_id, const float *ood, int n_ood);
/* t* for the ID scores alone (highest distinct value accepting >= target of them); NaN when
 * n_id == 0 or a score is not finite. *accepted (may be 0) gets the fraction accepted. */
double ood_threshold_at_tpr(const float *id, int n_id, double tpr_target, double *accepted);

/* The ROC points, one per distinct score value in descending order after the start point
 * (threshold +inf, fpr 0, tpr 0): thr, fpr, tpr each need n_id + n_ood + 1 entries. Returns
 * the number of points, 0 on bad input. */
int ood_roc_curve(const float *id, int n_id, const float *ood, int n_ood,
                  double *thr, double *fpr, double *tpr);

/* The same on double scores (the float functions above convert and call these); scores in
 * double keep apart values that float would tie (MSP near 1). */
int ood_compute_metrics_d(const double *id, int n_id, const double *ood, int n_ood,
                          double tpr_target, ood_metrics *m);
double ood_threshold_at_tpr_d(const double *id, int n_id, double tpr_target, double *accepted);
int ood_roc_curve_d(const double *id, int n_id, const double *ood, int n_ood,
                    double *thr, double *fpr, double *tpr);
/* OpenOOD's FPR@target: OOD positive (roc_curve(is_ood, -score), fpr[argmax(tpr >= target)]);
 * NaN on bad input. */
double ood_fpr_ood_positive_d(const double *id, int n_id, const double *ood, int n_ood, double tpr_target);

#endif
