/* OOD detection metrics; conventions in ood_metrics.h. */
#include "ood_metrics.h"

#include <math.h>
#include <stdlib.h>

typedef struct scored {
    double s;
    int pos;   /* 1: positive set (ID for AUROC/AUPR-in), 0: negative */
} scored;

/* Descending by score; the order inside a tie does not matter since ties are handled as one
 * threshold group. */
static int cmp_desc(const void *a, const void *b)
{
    double x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    return (x < y) - (x > y);
}

static int all_finite(const double *s, int n)
{
    int i;
    for (i = 0; i < n; ++i)
        if (!isfinite(s[i])) return 0;
    return 1;
}

/* Both sets in one array sorted by descending score ([n_pos + n_neg]); 0 on bad input. */
static scored *merge_sorted(const double *pos, int n_pos, const double *neg, int n_neg)
{
    scored *v;
    int i;
    if (n_pos <= 0 || n_neg <= 0 || !all_finite(pos, n_pos) || !all_finite(neg, n_neg)) return 0;
    v = malloc(sizeof(scored) * (n_pos + n_neg));
    if (!v) return 0;
    for (i = 0; i < n_pos; ++i) v[i] = (scored){pos[i], 1};
    for (i = 0; i < n_neg; ++i) v[n_pos + i] = (scored){neg[i], 0};
    qsort(v, n_pos + n_neg, sizeof(scored), cmp_desc);
    return v;
}

/* Walks the thresholds: after the call for group g, *tp / *fp count the positives / negatives
 * with score >= v[*i - 1].s. Returns 0 when every group is done. */
static int next_group(const scored *v, int n, int *i, long *tp, long *fp)
{
    double t;
    if (*i >= n) return 0;
    t = v[*i].s;
    while (*i < n && v[*i].s == t) {
        if (v[*i].pos) ++*tp;
        else ++*fp;
        ++*i;
    }
    return 1;
}

static double ood_auroc_d(const double *id, int n_id, const double *ood, int n_ood)
{
    scored *v = merge_sorted(id, n_id, ood, n_ood);
    const int n = n_id + n_ood;
    long tp = 0, fp = 0, tp0, fp0;
    int i = 0;
    double twice = 0;   /* 2 x area in units of (1 / n_ood) x (1 / n_id) */
    if (!v) return NAN;
    for (;;) {
        tp0 = tp;
        fp0 = fp;
        if (!next_group(v, n, &i, &tp, &fp)) break;
        twice += (double)(fp - fp0) * (double)(tp + tp0);
    }
    free(v);
    return twice / (2.0 * n_id * (double)n_ood);
}

/* Average precision of the positive set against the negative set, higher = positive. */
static double ood_average_precision_d(const double *pos, int n_pos, const double *neg, int n_neg)
{
    scored *v = merge_sorted(pos, n_pos, neg, n_neg);
    const int n = n_pos + n_neg;
    long tp = 0, fp = 0, tp0;
    int i = 0;
    double ap = 0;
    if (!v) return NAN;
    for (;;) {
        tp0 = tp;
        if (!next_group(v, n, &i, &tp, &fp)) break;
        if (tp > tp0) ap += (double)(tp - tp0) / n_pos * ((double)tp / (double)(tp + fp));
    }
    free(v);
    return ap;
}

static int cmp_double_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

double ood_threshold_at_tpr_d(const double *id, int n_id, double tpr_target, double *accepted)
{
    double *s;   /* [n_id] the ID scores, descending */
    int i;
    double t = NAN, frac = NAN;
    if (n_id <= 0 || !all_finite(id, n_id) || !(tpr_target > 0 && tpr_target <= 1)) {
        if (accepted) *accepted = NAN;
        return NAN;
    }
    s = malloc(sizeof(double) * n_id);
    for (i = 0; i < n_id; ++i) s[i] = id[i];
    qsort(s, n_id, sizeof(double), cmp_double_desc);
    /* Take whole tie groups: the threshold s[i] accepts every score equal to it. The same
       comparison as sklearn (tpr >= target, in double) decides. */
    i = 0;
    while (i < n_id) {
        const double v = s[i];
        while (i < n_id && s[i] == v) ++i;
        if ((double)i / n_id >= tpr_target) {
            t = v;
            frac = (double)i / n_id;
            break;
        }
    }
    free(s);
    if (accepted) *accepted = frac;
    return t;
}

/* Fraction of scores >= t. */
static double ood_fraction_at_or_above_d(const double *s, int n, double t)
{
    long k = 0;
    int i;
    if (n <= 0) return NAN;
    for (i = 0; i < n; ++i)
        if (s[i] >= t) ++k;
    return (double)k / n;
}

int ood_roc_curve_d(const double *id, int n_id, const double *ood, int n_ood,
                  double *thr, double *fpr, double *tpr)
{
    scored *v = merge_sorted(id, n_id, ood, n_ood);
    const int n = n_id + n_ood;
    long tp = 0, fp = 0;
    int i = 0, k = 0;
    if (!v) return 0;
    thr[k] = INFINITY;
    fpr[k] = 0;
    tpr[k] = 0;
    ++k;
    while (next_group(v, n, &i, &tp, &fp)) {
        thr[k] = v[i - 1].s;
        fpr[k] = (double)fp / n_ood;
        tpr[k] = (double)tp / n_id;
        ++k;
    }
    free(v);
    return k;
}

int ood_compute_metrics_d(const double *id, int n_id, const double *ood, int n_ood,
                        double tpr_target, ood_metrics *m)
{
    ood_metrics r;
    if (n_id <= 0 || n_ood <= 0 || !(tpr_target > 0 && tpr_target <= 1)) return 0;
    if (!all_finite(id, n_id) || !all_finite(ood, n_ood)) return 0;
    r.auroc = ood_auroc_d(id, n_id, ood, n_ood);
    r.aupr_in = ood_average_precision_d(id, n_id, ood, n_ood);
    /* AUPR-out: OOD positive, scores negated (a lower score means more OOD). */
    {
        double *nid = malloc(sizeof(double) * n_id), *nood = malloc(sizeof(double) * n_ood);   /* [n_id], [n_ood] */
        int i;
        for (i = 0; i < n_id; ++i) nid[i] = -id[i];
        for (i = 0; i < n_ood; ++i) nood[i] = -ood[i];
        r.aupr_out = ood_average_precision_d(nood, n_ood, nid, n_id);
        free(nid);
        free(nood);
    }
    r.threshold = ood_threshold_at_tpr_d(id, n_id, tpr_target, &r.tpr);
    r.fpr = ood_fraction_at_or_above_d(ood, n_ood, r.threshold);
    r.fpr_oodpos = ood_fpr_ood_positive_d(id, n_id, ood, n_ood, tpr_target);
    *m = r;
    return 1;
}

double ood_fpr_ood_positive_d(const double *id, int n_id, const double *ood, int n_ood, double tpr_target)
{
    /* OOD positive, detected when score <= u: the lowest distinct OOD-or-ID value u whose
       detected OOD fraction reaches the target, then the fraction of ID at or below it. This
       is roc_curve(is_ood, -score) and fpr[argmax(tpr >= target)]: the thresholds of -score
       descending are the score values ascending; dropped intermediate points of sklearn's
       default curve lie on vertical or horizontal runs and do not change that value. */
    scored *v = merge_sorted(ood, n_ood, id, n_id);   /* descending; pos = OOD */
    const int n = n_id + n_ood;
    long tp = 0, fp = 0;
    int i = n - 1;
    double r = NAN;
    if (!v || !(tpr_target > 0 && tpr_target <= 1)) {
        free(v);
        return NAN;
    }
    while (i >= 0) {
        const double t = v[i].s;
        while (i >= 0 && v[i].s == t) {
            if (v[i].pos) ++tp;
            else ++fp;
            --i;
        }
        if ((double)tp / n_ood >= tpr_target) {
            r = (double)fp / n_id;
            break;
        }
    }
    free(v);
    return r;
}

/* The float API: the same on a double copy (float -> double is exact). */
static double *to_double(const float *s, int n)
{
    double *d = malloc(sizeof(double) * (n > 0 ? n : 1));
    int i;
    for (i = 0; i < n; ++i) d[i] = s[i];
    return d;
}

double ood_auroc(const float *id, int n_id, const float *ood, int n_ood)
{
    double *a = to_double(id, n_id), *b = to_double(ood, n_ood), r = ood_auroc_d(a, n_id, b, n_ood);
    free(a);
    free(b);
    return r;
}

double ood_threshold_at_tpr(const float *id, int n_id, double tpr_target, double *accepted)
{
    double *a = to_double(id, n_id), r = ood_threshold_at_tpr_d(a, n_id, tpr_target, accepted);
    free(a);
    return r;
}

int ood_roc_curve(const float *id, int n_id, const float *ood, int n_ood, double *thr, double *fpr, double *tpr)
{
    double *a = to_double(id, n_id), *b = to_double(ood, n_ood);
    int r = ood_roc_curve_d(a, n_id, b, n_ood, thr, fpr, tpr);
    free(a);
    free(b);
    return r;
}

int ood_compute_metrics(const float *id, int n_id, const float *ood, int n_ood, double tpr_target, ood_metrics *m)
{
    double *a = to_double(id, n_id), *b = to_double(ood, n_ood);
    int r = ood_compute_metrics_d(a, n_id, b, n_ood, tpr_target, m);
    free(a);
    free(b);
    return r;
}
