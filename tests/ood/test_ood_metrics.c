/* OOD metrics (src/ood/ood_metrics.c) on cases computed by hand (worked out in the
 * comments), plus a cross-check against brute-force definitions on random tied scores
 * (AUROC, AUPR-in, AUPR-out, threshold, FPR95), and max-logit and energy AUROC from logits.
 * ID is positive, higher = more ID; thresholds are the distinct score values (score >= t). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ood_metrics.h"
#include "ood_score.h"

#include "harness.h"


static void check_case(const char *name, const float *id, int n_id, const float *ood, int n_ood, double tpr,
                       double auroc, double aupr_in, double aupr_out, double fpr, double thr, double accepted)
{
    ood_metrics m;
    int ok = ood_compute_metrics(id, n_id, ood, n_ood, tpr, &m);
    CHECK(ok, "%s: metrics computed", name);
    if (!ok) return;
    CHECK_CLOSE(m.auroc, auroc, 1e-12, "%s: AUROC = %.6f", name, auroc);
    CHECK_CLOSE(m.aupr_in, aupr_in, 1e-12, "%s: AUPR-in = %.6f", name, aupr_in);
    CHECK_CLOSE(m.aupr_out, aupr_out, 1e-12, "%s: AUPR-out = %.6f", name, aupr_out);
    CHECK_CLOSE(m.fpr, fpr, 1e-12, "%s: FPR at TPR >= %g = %.6f", name, tpr, fpr);
    CHECK_CLOSE(m.threshold, thr, 1e-7, "%s: threshold = %g", name, thr);
    CHECK_CLOSE(m.tpr, accepted, 1e-12, "%s: ID accepted at the threshold = %g", name, accepted);
}

static void hand_cases(void)
{
    /* Perfect separation: every ID above every OOD. */
    {
        const float id[] = {0.9f, 0.8f}, ood[] = {0.1f, 0.2f};
        check_case("perfect", id, 2, ood, 2, 0.95, 1, 1, 1, 0, 0.8f, 1);
    }
    /* Inverted: descending 0.9(O) 0.8(O) 0.2(I) 0.1(I).
       AUPR-in = 1/2 * 1/3 + 1/2 * 2/4 = 5/12; AUPR-out (negated: -0.1(I) -0.2(I) -0.8(O)
       -0.9(O)) = 1/2 * 1/3 + 1/2 * 2/4 = 5/12; t = 0.1 accepts both OOD. */
    {
        const float id[] = {0.1f, 0.2f}, ood[] = {0.8f, 0.9f};
        check_case("inverted", id, 2, ood, 2, 0.95, 0, 5.0 / 12, 5.0 / 12, 1, 0.1f, 1);
    }
    /* Constant scores: one threshold accepting everything: ROC (0,0) -> (1,1), AUROC 1/2;
       AP = precision there = 3/5 (ID positive) and 2/5 (OOD positive). */
    {
        const float id[] = {0.5f, 0.5f, 0.5f}, ood[] = {0.5f, 0.5f};
        check_case("constant", id, 3, ood, 2, 0.95, 0.5, 0.6, 0.4, 1, 0.5f, 1);
    }
    /* 1 vs 1. */
    {
        const float id[] = {0.7f}, ood[] = {0.3f};
        check_case("1 vs 1 separated", id, 1, ood, 1, 0.95, 1, 1, 1, 0, 0.7f, 1);
    }
    {
        const float id[] = {0.3f}, ood[] = {0.7f};
        /* 0.7(O) 0.3(I): AUPR-in = 1 * 1/2; negated -0.3(I) -0.7(O): AUPR-out = 1/2. */
        check_case("1 vs 1 inverted", id, 1, ood, 1, 0.95, 0, 0.5, 0.5, 1, 0.3f, 1);
    }
    {
        const float id[] = {0.5f}, ood[] = {0.5f};
        check_case("1 vs 1 tied", id, 1, ood, 1, 0.95, 0.5, 0.5, 0.5, 1, 0.5f, 1);
    }
    /* 2 vs 1: 0.9(I) 0.6(O) 0.4(I). AUROC: pairs (0.9 > 0.6) + (0.4 < 0.6) = 1/2.
       AUPR-in = 1/2 * 1 + 1/2 * 2/3 = 5/6. AUPR-out: -0.4(I) -0.6(O) -0.9(I): 1 * 1/2.
       TPR 0.95 needs both ID: t = 0.4, FPR 1; TPR 0.5: t = 0.9, FPR 0. */
    {
        const float id[] = {0.9f, 0.4f}, ood[] = {0.6f};
        check_case("2 vs 1", id, 2, ood, 1, 0.95, 0.5, 5.0 / 6, 0.5, 1, 0.4f, 1);
        check_case("2 vs 1 at TPR 0.5", id, 2, ood, 1, 0.5, 0.5, 5.0 / 6, 0.5, 0, 0.9f, 0.5);
    }
    /* Ties across the sets: ID {0.9, 0.5, 0.5, 0.1}, OOD {0.5, 0.2}.
       Groups: 0.9 (tp 1, fp 0), 0.5 (tp 3, fp 1), 0.2 (tp 3, fp 2), 0.1 (tp 4, fp 2).
       ROC (0,0) (0,.25) (.5,.75) (1,.75) (1,1): AUROC = .5 * (.25 + .75)/2 + .5 * .75 = .625
       (pairs: 2 + 2 * (1/2 + 1) + 0 = 5 of 8).
       AUPR-in = .25 * 1 + .5 * 3/4 + .25 * 4/6 = 19/24.
       AUPR-out, negated: -0.1(I) | -0.2(O) | -0.5(I,I,O) | -0.9(I): .5 * 1/2 + .5 * 2/5 = .45.
       TPR 0.95: t = 0.1 (0.5 accepts only 3/4), FPR 1. TPR 0.75: t = 0.5, FPR 1/2. */
    {
        const float id[] = {0.9f, 0.5f, 0.5f, 0.1f}, ood[] = {0.5f, 0.2f};
        check_case("ties", id, 4, ood, 2, 0.95, 0.625, 19.0 / 24, 0.45, 1, 0.1f, 1);
        check_case("ties at TPR 0.75", id, 4, ood, 2, 0.75, 0.625, 19.0 / 24, 0.45, 0.5, 0.5f, 0.75);
    }
    /* TPR exactly 0.95: 20 ID scores 1..20; t = 2 accepts 19/20 = 0.95 (>=, as sklearn), so
       OOD 18.5 is accepted, 1.5 and 0.5 are not: FPR95 = 1/3. */
    {
        float id[20];
        const float ood[] = {18.5f, 1.5f, 0.5f};
        ood_metrics m;
        int i;
        for (i = 0; i < 20; ++i) id[i] = (float)(i + 1);
        ood_compute_metrics(id, 20, ood, 3, 0.95, &m);
        CHECK(m.threshold == 2 && m.tpr == 0.95, "boundary: 19 of 20 ID accepted is TPR 0.95: t = 2 (got %g, TPR %.17g)",
              m.threshold, m.tpr);
        CHECK_CLOSE(m.fpr, 1.0 / 3, 1e-12, "boundary: FPR95 = 1/3");
        /* AUROC: 18.5 beats ID 1..18 (18 pairs lost by ID), 1.5 beats 1, 0.5 beats none:
           ID wins 60 - 19 = 41 of 60 pairs. */
        CHECK_CLOSE(m.auroc, 41.0 / 60, 1e-12, "boundary: AUROC = 41/60");
    }
}

static void roc_case(void)
{
    const float id[] = {0.9f, 0.5f, 0.5f, 0.1f}, ood[] = {0.5f, 0.2f};
    const double ef[] = {0, 0, 0.5, 1, 1}, et[] = {0, 0.25, 0.75, 0.75, 1}, eth[] = {INFINITY, 0.9f, 0.5f, 0.2f, 0.1f};
    double thr[7], fpr[7], tpr[7];
    int n = ood_roc_curve(id, 4, ood, 2, thr, fpr, tpr), i, ok = n == 5;
    for (i = 0; ok && i < 5; ++i) ok = fpr[i] == ef[i] && tpr[i] == et[i] && thr[i] == eth[i];
    CHECK(ok, "roc: ties give the points (0,0) (0,.25) (.5,.75) (1,.75) (1,1) at thresholds inf .9 .5 .2 .1 (%d points)", n);
}

static void bad_input(void)
{
    const float a[] = {1, 2}, nan_s[] = {1, NAN};
    ood_metrics m;
    CHECK(!ood_compute_metrics(a, 2, a, 0, 0.95, &m), "bad input: an empty OOD set is refused");
    CHECK(!ood_compute_metrics(a, 0, a, 2, 0.95, &m), "bad input: an empty ID set is refused");
    CHECK(!ood_compute_metrics(a, 2, nan_s, 2, 0.95, &m), "bad input: a NaN score is refused");
    CHECK(!ood_compute_metrics(a, 2, a, 2, 0, &m), "bad input: a TPR target of 0 is refused");
    CHECK(isnan(ood_auroc(a, 2, a, 0)) && isnan(ood_threshold_at_tpr(a, 0, 0.95, 0)),
          "bad input: the pieces return NaN");
}

/* Brute force: AUROC as pairwise wins (ties 1/2); AP from the definition at every distinct
 * value; FPR from the threshold found by trying every ID value. */
static void random_cross_check(void)
{
    enum { NI = 57, NO = 43 };
    float id[NI], ood[NO];
    int trial, all_ok = 1;
    srand(11);
    for (trial = 0; trial < 50; ++trial) {
        ood_metrics m;
        double wins = 0, ap = 0, ap_out = 0, prev_r = 0, best_t = -INFINITY, fpr = 0;
        int i, j;
        /* Integer scores 0..7 (many ties); some trials shift OOD up or down. */
        for (i = 0; i < NI; ++i) id[i] = (float)(rand() % 8);
        for (i = 0; i < NO; ++i) ood[i] = (float)(rand() % 8 + (trial % 3) - 1);
        ood_compute_metrics(id, NI, ood, NO, 0.95, &m);
        for (i = 0; i < NI; ++i)
            for (j = 0; j < NO; ++j) wins += id[i] > ood[j] ? 1 : id[i] == ood[j] ? 0.5 : 0;
        for (i = 9; i >= -2; --i) {   /* every possible value, descending */
            int tp = 0, fp = 0;
            for (j = 0; j < NI; ++j) tp += id[j] >= i;
            for (j = 0; j < NO; ++j) fp += ood[j] >= i;
            if (tp + fp && (double)tp / NI > prev_r) {
                ap += ((double)tp / NI - prev_r) * tp / (tp + fp);
                prev_r = (double)tp / NI;
            }
        }
        /* AUPR-out: OOD positive, lower = more OOD: thresholds score <= t, ascending. */
        prev_r = 0;
        for (i = -2; i <= 9; ++i) {
            int tp = 0, fp = 0;
            for (j = 0; j < NO; ++j) tp += ood[j] <= i;
            for (j = 0; j < NI; ++j) fp += id[j] <= i;
            if (tp + fp && (double)tp / NO > prev_r) {
                ap_out += ((double)tp / NO - prev_r) * tp / (tp + fp);
                prev_r = (double)tp / NO;
            }
        }
        for (i = 0; i < NI; ++i) {
            int tp = 0;
            for (j = 0; j < NI; ++j) tp += id[j] >= id[i];
            if ((double)tp / NI >= 0.95 && id[i] > best_t) best_t = id[i];
        }
        for (j = 0; j < NO; ++j) fpr += ood[j] >= best_t;
        fpr /= NO;
        if (fabs(m.auroc - wins / (NI * NO)) > 1e-12 || fabs(m.aupr_in - ap) > 1e-12 ||
            fabs(m.aupr_out - ap_out) > 1e-12 || m.threshold != best_t || fabs(m.fpr - fpr) > 1e-12) {
            all_ok = 0;
            printf("  trial %d: auroc %.9f vs %.9f, ap %.9f vs %.9f, ap_out %.9f vs %.9f, t %g vs %g, fpr %.9f vs %.9f\n",
                   trial, m.auroc, wins / (NI * NO), m.aupr_in, ap, m.aupr_out, ap_out, m.threshold, best_t, m.fpr, fpr);
        }
    }
    CHECK(all_ok,
          "random ties: AUROC, AUPR-in, AUPR-out, threshold and FPR95 equal brute-force definitions in 50 trials");
}

/* Max-logit and energy AUROC from logits: ID rows have one dominant logit, OOD rows flat
 * ones (with ties). The scores must be the largest logit and log sum exp (brute force), and
 * the AUROC of each, higher = more ID, the pairwise count; a sign flipped anywhere gives
 * 1 - AUROC, which the bound AUROC > 0.7 then fails. */
static void logit_scores_check(void)
{
    enum { NI = 40, NO = 30, C = 5 };
    float zi[NI][C], zo[NO][C], ml_i[NI], ml_o[NO], en_i[NI], en_o[NO];
    double err_ml = 0, err_en = 0, wins_ml = 0, wins_en = 0, auroc_ml, auroc_en;
    int i, j, c;
    srand(23);
    for (i = 0; i < NI; ++i)
        for (c = 0; c < C; ++c) zi[i][c] = (float)(rand() % 5) * 0.5f + (c == i % C ? 1.5f : 0.f);
    for (i = 0; i < NO; ++i)
        for (c = 0; c < C; ++c) zo[i][c] = (float)(rand() % 5) * 0.5f;
    for (i = 0; i < NI + NO; ++i) {
        const float *z = i < NI ? zi[i] : zo[i - NI];
        double mx = z[0], se = 0;
        for (c = 1; c < C; ++c) mx = fmax(mx, z[c]);
        for (c = 0; c < C; ++c) se += exp(z[c]);
        if (i < NI) {
            ml_i[i] = ood_maxlogit(z, C);
            en_i[i] = ood_energy(z, C, 1);
            err_ml = err_max(err_ml, fabs(ml_i[i] - mx));
            err_en = err_max(err_en, fabs(en_i[i] - log(se)));
        } else {
            ml_o[i - NI] = ood_maxlogit(z, C);
            en_o[i - NI] = ood_energy(z, C, 1);
            err_ml = err_max(err_ml, fabs(ml_o[i - NI] - mx));
            err_en = err_max(err_en, fabs(en_o[i - NI] - log(se)));
        }
    }
    for (i = 0; i < NI; ++i)
        for (j = 0; j < NO; ++j) {
            wins_ml += ml_i[i] > ml_o[j] ? 1 : ml_i[i] == ml_o[j] ? 0.5 : 0;
            wins_en += en_i[i] > en_o[j] ? 1 : en_i[i] == en_o[j] ? 0.5 : 0;
        }
    auroc_ml = ood_auroc(ml_i, NI, ml_o, NO);
    auroc_en = ood_auroc(en_i, NI, en_o, NO);
    CHECK(err_ml == 0, "logits: max-logit is the largest logit exactly (error %g)", err_ml);
    CHECK_CLOSE(err_en, 0, 1e-5, "logits: energy score is log sum exp of the logits");
    CHECK(fabs(auroc_ml - wins_ml / (NI * NO)) < 1e-12 && auroc_ml > 0.7,
          "logits: max-logit AUROC %.6f equals the pairwise count %.6f and is > 0.7 (ID has the dominant logit)",
          auroc_ml, wins_ml / (NI * NO));
    CHECK(fabs(auroc_en - wins_en / (NI * NO)) < 1e-12 && auroc_en > 0.7,
          "logits: energy AUROC %.6f equals the pairwise count %.6f and is > 0.7", auroc_en, wins_en / (NI * NO));
}

int main(void)
{
    hand_cases();
    roc_case();
    bad_input();
    random_cross_check();
    logit_scores_check();
    return harness_finish();
}
