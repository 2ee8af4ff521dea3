/* OpenOOD's post-hoc scores (src/ood/ood_posthoc.c) against plain reference implementations
 * written here on small generated data:
 *   - GEN: a full sort of the softmax, top M (M < C and M > C), by hand on (1, 2, 3);
 *   - the percentile: numpy's linear rule on a hand example and against a sorted copy;
 *   - KNN: every cosine distance, a full sort, the k-th (k < N and k > N);
 *   - Mahalanobis: the covariance by its definition, inverted by Gauss-Jordan, every class;
 *   - ReAct: on a [connected] head, the features clipped and W h + b computed by hand; on two
 *     [cosine] experts, s <h/|h|, w/|w|> by hand and the mean; a clip above every feature gives
 *     the energy score exactly; the penultimate features are the layers' outputs;
 *   - OpenOOD's FPR (OOD positive) against a scan of every threshold, and by hand;
 *   - the training statistics file: round trip, another model's key, truncation, bad magic.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "darknet.h"
#include "ood_metrics.h"
#include "ood_posthoc.h"
#include "ood_score.h"

#include "harness.h"

static char tmpdir[] = "/tmp/ricasso-test-ood-posthoc-XXXXXX";

static double urand(void) { return rand() / (RAND_MAX + 1.0); }
static double nrand(void) { return sqrt(-2 * log(urand() + 1e-12)) * cos(6.283185307179586 * urand()); }

static int cmp_d(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}


/* ---- GEN ---- */
static double ref_gen(const float *z, int C, double g, int M)
{
    double p[64], s = 0, r = 0;
    int c, i, j;
    for (c = 0; c < C; ++c) s += exp((double)z[c]);
    for (c = 0; c < C; ++c) p[c] = exp((double)z[c]) / s;
    for (i = 0; i < C; ++i)   /* selection sort, descending */
        for (j = i + 1; j < C; ++j)
            if (p[j] > p[i]) {
                const double t = p[i];
                p[i] = p[j];
                p[j] = t;
            }
    for (i = 0; i < (M < C ? M : C); ++i) r += pow(p[i], g) * pow(1 - p[i], g);
    return -r;
}

static void test_gen(void)
{
    const float z3[3] = {1, 2, 3};
    float z[12];
    double e1 = exp(1.0), e2 = exp(2.0), e3 = exp(3.0), s = e1 + e2 + e3, want = 0, worst = 0;
    int t, c;
    want -= pow(e3 / s, 0.1) * pow(1 - e3 / s, 0.1) + pow(e2 / s, 0.1) * pow(1 - e2 / s, 0.1);
    CHECK_REL(ood_gen(z3, 3, 0.1, 2), want, 1e-12, 1e-12, "gen: (1,2,3), M = 2 by hand (%.12f)", want);
    want -= pow(e1 / s, 0.1) * pow(1 - e1 / s, 0.1);
    CHECK_REL(ood_gen(z3, 3, 0.1, OOD_GEN_M), want, 1e-12, 1e-12, "gen: M = 100 > C takes every class (%.12f)", want);
    srand(1);
    for (t = 0; t < 200; ++t) {
        for (c = 0; c < 12; ++c) z[c] = (float)(5 * nrand());
        worst = fmax(worst, fabs(ood_gen(z, 12, 0.1, 5) - ref_gen(z, 12, 0.1, 5)));
    }
    CHECK(worst < 1e-10, "gen: 200 random rows of 12 logits, M = 5, equal the reference (max diff %.2g)", worst);
}

/* ---- percentile ---- */
static void test_percentile(void)
{
    const float v[4] = {4, 1, 3, 2};
    float w[101];
    double sorted[101], worst = 0;
    int i, q;
    CHECK_CLOSE(ood_percentile(v, 4, 90), 3.7, 1e-12, "percentile: numpy's percentile([1,2,3,4], 90) = 3.7");
    CHECK(ood_percentile(v, 4, 100) == 4 && ood_percentile(v, 4, 0) == 1 && ood_percentile(v, 1, 50) == 4,
          "percentile: 100 is the maximum, 0 the minimum, one value is itself");
    srand(2);
    for (i = 0; i < 101; ++i) sorted[i] = w[i] = (float)nrand();
    qsort(sorted, 101, sizeof(double), cmp_d);
    for (q = 0; q <= 100; ++q) worst = fmax(worst, fabs(ood_percentile(w, 101, q) - sorted[q]));
    CHECK(worst < 1e-12, "percentile: of 101 values, q is the q-th smallest (max diff %.2g)", worst);
}

/* ---- KNN ---- */
static void test_knn(void)
{
    enum { N = 60, D = 7 };
    float feat[N * D], bank[N * D], f[D];
    double q[D], dist[N], ref[N], worst = 0;
    int i, d, t;
    srand(3);
    for (i = 0; i < N * D; ++i) feat[i] = (float)nrand();
    for (i = 0; i < N; ++i) {
        ood_l2_normalize(feat + i * D, D, q);
        for (d = 0; d < D; ++d) bank[i * D + d] = (float)q[d];
    }
    for (t = 0; t < 20; ++t) {
        const int k = t % 2 ? 50 : 1 + t;
        double nf = 0;
        for (d = 0; d < D; ++d) {
            f[d] = (float)nrand();
            nf += (double)f[d] * f[d];
        }
        for (i = 0; i < N; ++i) {
            double dot = 0, nb = 0;
            for (d = 0; d < D; ++d) {
                dot += (double)f[d] * feat[i * D + d];
                nb += (double)feat[i * D + d] * feat[i * D + d];
            }
            ref[i] = 1 - dot / (sqrt(nf) * sqrt(nb));
        }
        qsort(ref, N, sizeof(double), cmp_d);
        ood_l2_normalize(f, D, q);
        worst = fmax(worst, fabs(ood_knn(q, bank, N, D, k, dist) - -ref[k - 1]));
    }
    CHECK(worst < 1e-6, "knn: 20 queries, k in 1..19 and 50, equal minus the k-th sorted cosine distance (max diff %.2g)", worst);
    ood_l2_normalize(f, D, q);
    CHECK_CLOSE(ood_knn(q, bank, N, D, 1000, dist), -ref[N - 1], 1e-6, "knn: k > N takes the farthest of the N");
}

/* ---- Mahalanobis ---- */
static void invert(double *a, int n, double *inv)   /* Gauss-Jordan with partial pivoting; a is destroyed */
{
    int i, j, k;
    for (i = 0; i < n * n; ++i) inv[i] = i % (n + 1) == 0;
    for (i = 0; i < n; ++i) {
        int p = i;
        for (k = i + 1; k < n; ++k) if (fabs(a[k * n + i]) > fabs(a[p * n + i])) p = k;
        for (j = 0; j < n; ++j) {
            double t = a[i * n + j];
            a[i * n + j] = a[p * n + j];
            a[p * n + j] = t;
            t = inv[i * n + j];
            inv[i * n + j] = inv[p * n + j];
            inv[p * n + j] = t;
        }
        for (k = 0; k < n; ++k) {
            const double m = a[k * n + i] / a[i * n + i];
            if (k == i) continue;
            for (j = 0; j < n; ++j) {
                a[k * n + j] -= m * a[i * n + j];
                inv[k * n + j] -= m * inv[i * n + j];
            }
        }
    }
    for (i = 0; i < n; ++i)
        for (j = 0; j < n; ++j) inv[i * n + j] /= a[i * n + i];
}

static void test_mahalanobis(void)
{
    enum { N = 80, D = 5, C = 4 };
    float feat[N * D], f[D];
    int label[N], i, a, b, c, t;
    double mean[C * D], chol[D * D], ridge, tmp[D], rmean[C * D] = {0}, S[D * D] = {0}, P[D * D], tr = 0, worst = 0;
    int cnt[C] = {0};
    char err[256] = "";
    srand(4);
    for (i = 0; i < N; ++i) {
        label[i] = i % 3;   /* class 3 has no training image */
        for (a = 0; a < D; ++a) feat[i * D + a] = (float)(nrand() * (1 + a) + 2 * label[i] * (a == label[i]));
    }
    CHECK(ood_mahalanobis_fit(feat, label, N, D, C, mean, chol, &ridge, err, sizeof(err)), "mahalanobis: fit (%s)", err);
    for (i = 0; i < N; ++i) {
        ++cnt[label[i]];
        for (a = 0; a < D; ++a) rmean[label[i] * D + a] += feat[i * D + a];
    }
    for (c = 0; c < 3; ++c) for (a = 0; a < D; ++a) rmean[c * D + a] /= cnt[c];
    for (i = 0; i < N; ++i)
        for (a = 0; a < D; ++a)
            for (b = 0; b < D; ++b)
                S[a * D + b] += (feat[i * D + a] - rmean[label[i] * D + a]) * (feat[i * D + b] - rmean[label[i] * D + b]) / N;
    for (a = 0; a < D; ++a) tr += S[a * D + a];
    CHECK_REL(ridge, 1e-6 * tr / D + 1e-12, 1e-12, 0, "mahalanobis: ridge = 1e-6 tr(S) / D + 1e-12");
    for (a = 0; a < D; ++a) S[a * D + a] += 1e-6 * tr / D + 1e-12;
    invert(S, D, P);
    for (t = 0; t < 30; ++t) {
        double best = INFINITY;
        for (a = 0; a < D; ++a) f[a] = (float)(3 * nrand());
        for (c = 0; c < 3; ++c) {
            double m = 0;
            for (a = 0; a < D; ++a)
                for (b = 0; b < D; ++b) m += (f[a] - rmean[c * D + a]) * P[a * D + b] * (f[b] - rmean[c * D + b]);
            best = fmin(best, m);
        }
        worst = fmax(worst, fabs(ood_mahalanobis(f, D, C, mean, chol, tmp) + best) / fmax(1, best));
    }
    CHECK(worst < 1e-9, "mahalanobis: 30 points: minus the smallest d' S^-1 d over the classes with images (rel diff %.2g)", worst);
}

/* ---- ReAct through the network's head ---- */
static void check_react_plain(void)
{
    network *net = net_from_cfg_text("plain.cfg",
        "[net]\nbatch=3\nwidth=4\nheight=4\nchannels=3\n\n"
        "[convolutional]\nfilters=6\nsize=3\nstride=1\npad=1\nactivation=relu\n\n"
        "[avgpool]\n\n"
        "[connected]\noutput=4\nactivation=linear\n\n"
        "[softmax]\n");
    ood_scorer s;
    ood_train_stats st;
    ood_posthoc_params pp = {0.1, 100, 90, 2};
    char err[256] = "";
    float x[3 * 48];
    double out[3 * OOD_NPOSTHOC], sc[3 * OOD_NSCORES], worst = 0, wf = 0, we = 0;
    int i, b, c, d;
    const layer *fc = &net->layers[2];
    srand(5);
    for (i = 0; i < fc->inputs * fc->outputs; ++i) fc->weights[i] = (float)nrand();
    for (i = 0; i < fc->outputs; ++i) fc->biases[i] = (float)nrand();
    for (i = 0; i < 3 * 48; ++i) x[i] = (float)urand();
    CHECK(ood_scorer_init(&s, net, 1000, 0.0014f, 0, err, sizeof(err)) && ood_scorer_enable_features(&s, err, sizeof(err)) &&
          s.D == 6 && s.nsrc == 1 && s.src_layer[0] == 1, "react plain: the feature is the [avgpool] output feeding [connected] (D = 6; %s)", err);
    memset(&st, 0, sizeof(st));
    st.N = 3;
    st.D = 6;
    st.C = 4;
    st.feat = calloc(18, sizeof(float));
    st.label = calloc(3, sizeof(int));
    ood_score_batch(&s, x, sc);
    for (i = 0; i < 18; ++i) wf = fmax(wf, fabs(s.feat[i] - net->layers[1].output[i]));
    CHECK(wf == 0, "react plain: s->feat holds the layer's output");
    memcpy(st.feat, s.feat, sizeof(float) * 18);
    st.label[1] = 1;
    st.label[2] = 2;
    ood_stats_derive(&st, 50, err, sizeof(err));   /* the median of the 18 values */
    ood_posthoc_batch(&s, &st, &pp, out);
    for (b = 0; b < 3; ++b) {
        double z[4], m = -INFINITY, sum = 0;
        for (c = 0; c < 4; ++c) {
            z[c] = fc->biases[c];
            for (d = 0; d < 6; ++d) z[c] += fc->weights[c * 6 + d] * fmin(st.feat[b * 6 + d], st.react_clip);
            m = fmax(m, z[c]);
        }
        for (c = 0; c < 4; ++c) sum += exp(z[c] - m);
        worst = fmax(worst, fabs(out[b * OOD_NPOSTHOC + OOD_REACT - OOD_NSCORES] - (m + log(sum))));
    }
    CHECK(worst < 1e-5, "react plain: energy of W min(h, c) + b by hand, c the median (max diff %.2g)", worst);
    st.react_clip = INFINITY;
    ood_posthoc_batch(&s, &st, &pp, out);
    for (b = 0; b < 3; ++b) we = fmax(we, fabs(out[b * OOD_NPOSTHOC + OOD_REACT - OOD_NSCORES] - sc[b * OOD_NSCORES + OOD_ENERGY]));
    CHECK(we < 1e-6, "react plain: with nothing clipped it is the energy score (max diff %.2g)", we);
    ood_stats_free(&st);
    ood_scorer_free(&s);
    free_network(net);
}

static void check_react_experts(void)
{
    const double scale = 8;
    network *net = net_from_cfg_text("experts.cfg",
        "[net]\nbatch=2\nwidth=6\nheight=6\nchannels=3\n\n"
        "[convolutional]\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n\n"
        "[convolutional]\nfilters=5\nsize=3\nstride=1\npad=1\nactivation=leaky\n\n"
        "[avgpool]\n\n"
        "[cosine]\nclasses=3\nscale=8\n\n"
        "[route]\nlayers=0\n\n"
        "[convolutional]\nfilters=6\nsize=3\nstride=2\npad=1\nactivation=leaky\n\n"
        "[avgpool]\n\n"
        "[cosine]\nclasses=3\nscale=8\n\n"
        "[expert_softmax]\nexperts=3,7\ntau=1\n");
    ood_scorer s;
    ood_train_stats st;
    ood_posthoc_params pp = {0.1, 100, 90, 1};
    char err[256] = "";
    float x[2 * 108], clip = 0.05f;
    double out[2 * OOD_NPOSTHOC], sc[2 * OOD_NSCORES], worst = 0;
    const int ex[2] = {3, 7}, off[2] = {0, 5}, dim[2] = {5, 6};
    int i, b, c, d, k;
    srand(6);
    for (i = 0; i < 2 * 108; ++i) x[i] = (float)urand();
    CHECK(ood_scorer_init(&s, net, 1000, 0.0014f, 1, err, sizeof(err)) && ood_scorer_enable_features(&s, err, sizeof(err)) &&
          s.D == 11 && s.nsrc == 2 && s.src_layer[0] == 2 && s.src_layer[1] == 6,
          "react experts: the feature concatenates the experts' inputs (layers 2 and 6, D = 5 + 6; %s)", err);
    ood_score_batch(&s, x, sc);   /* with ODIN: the features must be the clean pass's */
    {
        double wf = 0;
        ood_forward(&s, x);
        for (b = 0; b < 2; ++b)
            for (k = 0; k < 2; ++k)
                for (d = 0; d < dim[k]; ++d)
                    wf = fmax(wf, fabs(s.feat[b * 11 + off[k] + d] - net->layers[ex[k] - 1].output[b * dim[k] + d]));
        CHECK(wf == 0, "react experts: the features of ood_score_batch (with ODIN) are the clean pass's");
    }
    memset(&st, 0, sizeof(st));
    st.N = 2;
    st.D = 11;
    st.C = 3;
    st.feat = malloc(sizeof(float) * 22);
    st.label = calloc(2, sizeof(int));
    memcpy(st.feat, s.feat, sizeof(float) * 22);
    ood_stats_derive(&st, 90, err, sizeof(err));
    st.react_clip = clip;
    ood_posthoc_batch(&s, &st, &pp, out);
    for (b = 0; b < 2; ++b) {
        double z[3] = {0, 0, 0}, m = -INFINITY, sum = 0;
        for (k = 0; k < 2; ++k) {
            const float *w = net->layers[ex[k]].weights;
            double hn = 0;
            for (d = 0; d < dim[k]; ++d) hn += pow(fmin(s.feat[b * 11 + off[k] + d], clip), 2);
            for (c = 0; c < 3; ++c) {
                double dot = 0, wn = 0;
                for (d = 0; d < dim[k]; ++d) {
                    dot += fmin(s.feat[b * 11 + off[k] + d], clip) * w[c * dim[k] + d];
                    wn += (double)w[c * dim[k] + d] * w[c * dim[k] + d];
                }
                z[c] += 0.5 * scale * dot / (sqrt(hn) * sqrt(wn));
            }
        }
        for (c = 0; c < 3; ++c) m = fmax(m, z[c]);
        for (c = 0; c < 3; ++c) sum += exp(z[c] - m);
        worst = fmax(worst, fabs(out[b * OOD_NPOSTHOC + OOD_REACT - OOD_NSCORES] - (m + log(sum))));
    }
    CHECK(worst < 1e-4, "react experts: energy of the mean of s <min(h,c)/|.|, w/|w|> by hand (max diff %.2g)", worst);
    ood_stats_free(&st);
    ood_scorer_free(&s);
    free_network(net);
}

/* ---- OpenOOD's FPR ---- */
static double ref_fpr_oodpos(const double *id, int ni, const double *ood, int no, double target)
{
    /* every candidate u ascending; OOD flagged when score <= u */
    double *u = malloc(sizeof(double) * (ni + no)), r = NAN;
    int i, j;
    for (i = 0; i < ni; ++i) u[i] = id[i];
    for (i = 0; i < no; ++i) u[ni + i] = ood[i];
    qsort(u, ni + no, sizeof(double), cmp_d);
    for (i = 0; i < ni + no; ++i) {
        int to = 0, fi = 0;
        for (j = 0; j < no; ++j) to += ood[j] <= u[i];
        for (j = 0; j < ni; ++j) fi += id[j] <= u[i];
        if ((double)to / no >= target) {
            r = (double)fi / ni;
            break;
        }
    }
    free(u);
    return r;
}

static void test_fpr_oodpos(void)
{
    const double id[5] = {0.9, 0.8, 0.7, 0.4, 0.3}, ood[4] = {0.1, 0.2, 0.35, 0.75};
    double a[40], o[30];
    ood_metrics m;
    int t, i, bad = 0;
    /* 95% of 4 OOD needs all 4: u = 0.75 flags ID 0.3, 0.4, 0.7: 3 of 5 */
    CHECK_CLOSE(ood_fpr_ood_positive_d(id, 5, ood, 4, 0.95), 0.6, 1e-15, "fpr ood+: by hand, 3 of 5 ID below the 4th OOD");
    /* 75%: u = 0.35 flags ID 0.3: 1 of 5 */
    CHECK_CLOSE(ood_fpr_ood_positive_d(id, 5, ood, 4, 0.75), 0.2, 1e-15, "fpr ood+: by hand at 75%%");
    srand(7);
    for (t = 0; t < 100; ++t) {
        for (i = 0; i < 40; ++i) a[i] = floor(8 * urand() + 2) / 4;   /* ties on purpose */
        for (i = 0; i < 30; ++i) o[i] = floor(8 * urand()) / 4;
        bad += fabs(ood_fpr_ood_positive_d(a, 40, o, 30, 0.95) - ref_fpr_oodpos(a, 40, o, 30, 0.95)) > 1e-15;
    }
    CHECK(bad == 0, "fpr ood+: 100 random sets with ties equal the scan of every threshold (%d differ)", bad);
    ood_compute_metrics_d(a, 40, o, 30, 0.95, &m);
    CHECK(m.fpr_oodpos == ref_fpr_oodpos(a, 40, o, 30, 0.95), "fpr ood+: ood_compute_metrics_d fills it");
}

/* ---- the statistics file ---- */
static void test_stats_file(void)
{
    ood_train_stats t, r;
    ood_stats_key k = {10, 20, 30, 1, 2, 3, 0}, other = k;
    char path[300], err[512] = "";
    int i, rc;
    FILE *f;
    long size;
    memset(&t, 0, sizeof(t));
    t.N = 7;
    t.D = 3;
    t.C = 2;
    t.feat = malloc(sizeof(float) * 21);
    t.label = malloc(sizeof(int) * 7);
    for (i = 0; i < 21; ++i) t.feat[i] = (float)nrand();
    for (i = 0; i < 7; ++i) t.label[i] = i % 2;
    snprintf(path, sizeof(path), "%s/x.oodstats", tmpdir);
    CHECK(ood_stats_save(path, &t, &k, "a.cfg", "a.weights", "train.list", err, sizeof(err)), "stats file: saved (%s)", err);
    rc = ood_stats_load(path, &k, &r, err, sizeof(err));
    CHECK(rc == 1 && r.N == 7 && r.D == 3 && r.C == 2 && !memcmp(r.feat, t.feat, sizeof(float) * 21) &&
          !memcmp(r.label, t.label, sizeof(int) * 7), "stats file: loads back the same arrays (rc %d, %s)", rc, err);
    ood_stats_free(&r);
    other.weights_fnv1a = 99;
    rc = ood_stats_load(path, &other, &r, err, sizeof(err));
    CHECK(rc == 0 && strstr(err, "another weights file"), "stats file: other weights: not reused ('%s')", err);
    other = k;
    other.train_size = 31;
    rc = ood_stats_load(path, &other, &r, err, sizeof(err));
    CHECK(rc == 0 && strstr(err, "another train list"), "stats file: another train list: not reused ('%s')", err);
    f = fopen(path, "rb+");
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fclose(f);
    CHECK(truncate(path, size - 4) == 0, "stats file: truncated by 4 bytes");
    rc = ood_stats_load(path, &k, &r, err, sizeof(err));
    CHECK(rc == -1 && strstr(err, "truncated"), "stats file: a truncated file is an error ('%s')", err);
    f = fopen(path, "w");
    fputs("not a stats file\n", f);
    fclose(f);
    rc = ood_stats_load(path, &k, &r, err, sizeof(err));
    CHECK(rc == -1 && strstr(err, "not a training statistics file"), "stats file: another file is an error ('%s')", err);
    snprintf(path, sizeof(path), "%s/none.oodstats", tmpdir);
    CHECK(ood_stats_load(path, &k, &r, err, sizeof(err)) == 0, "stats file: a missing file is absent, not an error");
    ood_stats_free(&t);
}

int main(void)
{
    char cmd[300];
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_gen();
    test_percentile();
    test_knn();
    test_mahalanobis();
    check_react_plain();
    check_react_experts();
    test_fpr_oodpos();
    test_stats_file();
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return harness_finish();
}
