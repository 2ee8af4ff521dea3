/* OpenOOD's post-hoc scores and their training statistics; see ood_posthoc.h. */
#include "ood_posthoc.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ood_io.h"

#define STATS_MAGIC "RICASSO ood training features 1"

static int cmp_double_asc(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmp_double_desc(const void *a, const void *b) { return cmp_double_asc(b, a); }

double ood_gen(const float *z, int C, double gamma, int M)
{
    double *p = malloc(sizeof(double) * C), m = -DBL_MAX, sum = 0, g = 0;   /* [C] */
    int c;
    for (c = 0; c < C; ++c) if (z[c] > m) m = z[c];
    for (c = 0; c < C; ++c) sum += p[c] = exp(z[c] - m);
    for (c = 0; c < C; ++c) p[c] /= sum;
    qsort(p, C, sizeof(double), cmp_double_desc);
    if (M > C) M = C;
    for (c = 0; c < M; ++c) g += pow(p[c], gamma) * pow(1 - p[c], gamma);
    free(p);
    return -g;
}

double ood_percentile(const float *v, size_t n, double q)
{
    double *s = malloc(sizeof(double) * n), pos, frac, r;   /* [n] sorted copy */
    size_t i, lo;
    for (i = 0; i < n; ++i) s[i] = v[i];
    qsort(s, n, sizeof(double), cmp_double_asc);
    pos = q / 100 * (double)(n - 1);
    lo = (size_t)floor(pos);
    frac = pos - (double)lo;
    r = lo + 1 < n ? s[lo] + (s[lo + 1] - s[lo]) * frac : s[lo];
    free(s);
    return r;
}

void ood_l2_normalize(const float *f, int D, double *out)
{
    double n2 = 0, inv;
    int d;
    for (d = 0; d < D; ++d) n2 += (double)f[d] * f[d];
    inv = 1 / (sqrt(n2) + 1e-10);
    for (d = 0; d < D; ++d) out[d] = f[d] * inv;
}

/* The k-th smallest of v [n] (1-based k), by quickselect; v is reordered. */
static double kth_smallest(double *v, int n, int k)
{
    int lo = 0, hi = n - 1, target = k - 1;
    while (lo < hi) {
        const double pivot = v[lo + (hi - lo) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot) ++i;
            while (v[j] > pivot) --j;
            if (i <= j) {
                const double t = v[i];
                v[i] = v[j];
                v[j] = t;
                ++i;
                --j;
            }
        }
        if (target <= j) hi = j;
        else if (target >= i) lo = i;
        else return v[target];
    }
    return v[target];
}

double ood_knn(const double *q, const float *bank, int N, int D, int k, double *dist)
{
    int i, d;
    for (i = 0; i < N; ++i) {
        const float *b = bank + (size_t)i * D;
        double dot = 0;
        for (d = 0; d < D; ++d) dot += q[d] * b[d];
        dist[i] = 1 - dot;
    }
    if (k > N) k = N;
    return -kth_smallest(dist, N, k);
}

int ood_mahalanobis_fit(const float *feat, const int *label, int N, int D, int C, double *mean, double *chol,
                        double *ridge, char *err, int errlen)
{
    long *count = calloc(C, sizeof(long));                  /* [C] */
    double *dv = malloc(sizeof(double) * D), tr = 0;        /* [D] */
    int i, c, a, b, k;
    memset(mean, 0, sizeof(double) * C * D);
    memset(chol, 0, sizeof(double) * D * D);
    for (i = 0; i < N; ++i) {
        ++count[label[i]];
        for (a = 0; a < D; ++a) mean[(size_t)label[i] * D + a] += feat[(size_t)i * D + a];
    }
    for (c = 0; c < C; ++c)
        for (a = 0; a < D; ++a) mean[(size_t)c * D + a] = count[c] ? mean[(size_t)c * D + a] / count[c] : NAN;
    /* S = (1/N) sum_i d_i d_i', d_i = f_i - mu_{y_i}: the lower triangle into chol */
    for (i = 0; i < N; ++i) {
        for (a = 0; a < D; ++a) dv[a] = feat[(size_t)i * D + a] - mean[(size_t)label[i] * D + a];
        for (a = 0; a < D; ++a)
            for (b = 0; b <= a; ++b) chol[(size_t)a * D + b] += dv[a] * dv[b];
    }
    for (a = 0; a < D; ++a) {
        for (b = 0; b <= a; ++b) chol[(size_t)a * D + b] /= N;
        tr += chol[(size_t)a * D + a];
    }
    *ridge = 1e-6 * tr / D + 1e-12;
    for (a = 0; a < D; ++a) chol[(size_t)a * D + a] += *ridge;
    /* In-place Cholesky of the lower triangle: S = L L'. */
    for (a = 0; a < D; ++a) {
        for (b = 0; b <= a; ++b) {
            double v = chol[(size_t)a * D + b];
            for (k = 0; k < b; ++k) v -= chol[(size_t)a * D + k] * chol[(size_t)b * D + k];
            if (a == b) {
                if (!(v > 0)) {
                    snprintf(err, errlen, "the features' covariance is not positive definite (pivot %d is %g)", a, v);
                    free(count);
                    free(dv);
                    return 0;
                }
                chol[(size_t)a * D + a] = sqrt(v);
            } else {
                chol[(size_t)a * D + b] = v / chol[(size_t)b * D + b];
            }
        }
    }
    free(count);
    free(dv);
    return 1;
}

double ood_mahalanobis(const float *f, int D, int C, const double *mean, const double *chol, double *tmp)
{
    double best = INFINITY;
    int c, a, k;
    for (c = 0; c < C; ++c) {
        const double *mu = mean + (size_t)c * D;
        double m = 0;
        if (isnan(mu[0])) continue;   /* no training image of this class */
        /* d' S^-1 d = |y|^2 with L y = d (forward substitution) */
        for (a = 0; a < D; ++a) {
            double v = f[a] - mu[a];
            for (k = 0; k < a; ++k) v -= chol[(size_t)a * D + k] * tmp[k];
            tmp[a] = v / chol[(size_t)a * D + a];
            m += tmp[a] * tmp[a];
        }
        if (m < best) best = m;
    }
    return -best;
}

int ood_stats_derive(ood_train_stats *t, double react_p, char *err, int errlen)
{
    const int N = t->N, D = t->D;
    double *q = malloc(sizeof(double) * D);   /* [D] */
    int i, d;
    if (N < 1 || D < 1) {
        snprintf(err, errlen, "no training features");
        free(q);
        return 0;
    }
    t->react_clip = ood_percentile(t->feat, (size_t)N * D, react_p);
    t->bank = malloc(sizeof(float) * (size_t)N * D);
    for (i = 0; i < N; ++i) {
        ood_l2_normalize(t->feat + (size_t)i * D, D, q);
        for (d = 0; d < D; ++d) t->bank[(size_t)i * D + d] = (float)q[d];
    }
    free(q);
    t->mean = malloc(sizeof(double) * (size_t)t->C * D);
    t->chol = malloc(sizeof(double) * (size_t)D * D);
    return ood_mahalanobis_fit(t->feat, t->label, N, D, t->C, t->mean, t->chol, &t->ridge, err, errlen);
}

void ood_stats_free(ood_train_stats *t)
{
    free(t->feat);
    free(t->label);
    free(t->bank);
    free(t->mean);
    free(t->chol);
    memset(t, 0, sizeof(*t));
}

int ood_stats_key_of(ood_stats_key *k, const char *cfg, const char *weights, const char *train_list, int limit,
                     char *err, int errlen)
{
    k->cfg_fnv1a = ood_file_fnv1a(cfg, &k->cfg_size);
    k->weights_fnv1a = ood_file_fnv1a(weights, &k->weights_size);
    k->train_fnv1a = ood_file_fnv1a(train_list, &k->train_size);
    k->limit = limit;
    if (k->cfg_size < 0 || k->weights_size < 0 || k->train_size < 0) {
        snprintf(err, errlen, "cannot read %s", k->cfg_size < 0 ? cfg : k->weights_size < 0 ? weights : train_list);
        return 0;
    }
    return 1;
}

int ood_stats_save(const char *path, const ood_train_stats *t, const ood_stats_key *k, const char *cfg,
                   const char *weights, const char *train_list, char *err, int errlen)
{
    char *tmp = malloc(strlen(path) + 32);
    FILE *fp;
    int ok;
    if (strchr(cfg, '\n') || strchr(weights, '\n') || strchr(train_list, '\n')) {
        snprintf(err, errlen, "a path holds a line break");
        free(tmp);
        return 0;
    }
    sprintf(tmp, "%s.tmp.%d", path, (int)getpid());
    fp = fopen(tmp, "wb");
    if (!fp) {
        snprintf(err, errlen, "cannot write %s (%s)", tmp, strerror(errno));
        free(tmp);
        return 0;
    }
    fprintf(fp, "%s\n# Penultimate features of the train list for darknet classifier ood -posthoc (ReAct, KNN,\n"
                "# Mahalanobis); int32 classes [images] then float32 features [images, dim], native byte order.\n"
                "cfg=%s\ncfg_size=%lld\ncfg_fnv1a=%016llx\nweights=%s\nweights_size=%lld\nweights_fnv1a=%016llx\n"
                "train=%s\ntrain_size=%lld\ntrain_fnv1a=%016llx\nlimit=%d\nimages=%d\ndim=%d\nclasses=%d\n"
                "float_bytes=%d\nend\n",
            STATS_MAGIC, cfg, k->cfg_size, k->cfg_fnv1a, weights, k->weights_size, k->weights_fnv1a, train_list,
            k->train_size, k->train_fnv1a, k->limit, t->N, t->D, t->C, (int)sizeof(float));
    fwrite(t->label, sizeof(int), t->N, fp);
    fwrite(t->feat, sizeof(float), (size_t)t->N * t->D, fp);
    ok = !ferror(fp);
    ok &= fclose(fp) == 0;
    if (!ok || rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot write %s (%s)", path, strerror(errno));
        remove(tmp);
        free(tmp);
        return 0;
    }
    free(tmp);
    return 1;
}

/* One "key=value" header line of fp into line [len], split at '=' (*val: "" when none);
 * 0 at "end" or at the end of the file. */
static int header_line(FILE *fp, char *line, int len, char **val)
{
    char *eq;
    do {
        if (!fgets(line, len, fp)) return 0;
        line[strcspn(line, "\r\n")] = 0;
    } while (line[0] == '#');
    if (!strcmp(line, "end")) return 0;
    eq = strchr(line, '=');
    if (eq) *eq = 0;
    *val = eq ? eq + 1 : line + strlen(line);
    return 1;
}

int ood_stats_load(const char *path, const ood_stats_key *k, ood_train_stats *t, char *err, int errlen)
{
    FILE *fp = fopen(path, "rb");
    char key[8192], *val, magic[64];
    ood_stats_key f;
    int fb = 0;
    long long Nl = -1, Dl = -1, Cl = -1;
    memset(t, 0, sizeof(*t));
    memset(&f, 0, sizeof(f));
    f.cfg_size = f.weights_size = f.train_size = -1;
    f.limit = -1;
    if (!fp) {
        if (errno == ENOENT) {
            snprintf(err, errlen, "%s does not exist", path);
            return 0;
        }
        snprintf(err, errlen, "cannot open %s (%s)", path, strerror(errno));
        return -1;
    }
    if (!fgets(magic, sizeof(magic), fp) || strncmp(magic, STATS_MAGIC "\n", sizeof(STATS_MAGIC)) != 0) {
        snprintf(err, errlen, "%s is not a training statistics file of classifier ood", path);
        fclose(fp);
        return -1;
    }
    while (header_line(fp, key, sizeof(key), &val)) {
        char *end;
        errno = 0;
        if (!strcmp(key, "cfg_size")) f.cfg_size = strtoll(val, &end, 10);
        else if (!strcmp(key, "weights_size")) f.weights_size = strtoll(val, &end, 10);
        else if (!strcmp(key, "train_size")) f.train_size = strtoll(val, &end, 10);
        else if (!strcmp(key, "cfg_fnv1a")) f.cfg_fnv1a = strtoull(val, &end, 16);
        else if (!strcmp(key, "weights_fnv1a")) f.weights_fnv1a = strtoull(val, &end, 16);
        else if (!strcmp(key, "train_fnv1a")) f.train_fnv1a = strtoull(val, &end, 16);
        else if (!strcmp(key, "limit")) f.limit = (int)strtol(val, &end, 10);
        else if (!strcmp(key, "images")) Nl = strtoll(val, &end, 10);
        else if (!strcmp(key, "dim")) Dl = strtoll(val, &end, 10);
        else if (!strcmp(key, "classes")) Cl = strtoll(val, &end, 10);
        else if (!strcmp(key, "float_bytes")) fb = (int)strtol(val, &end, 10);
        else end = val + strlen(val);   /* paths, for people */
        if (*end || errno) {
            snprintf(err, errlen, "%s: bad header line '%s=%s'", path, key, val);
            fclose(fp);
            return -1;
        }
    }
    if (Nl < 1 || Nl > 100000000 || Dl < 1 || Dl > 1000000 || Cl < 1 || Cl > 1000000 ||
        fb != (int)sizeof(float) || Nl * Dl > 2000000000LL) {
        snprintf(err, errlen, "%s: incomplete or implausible header (images, dim, classes, float_bytes)", path);
        fclose(fp);
        return -1;
    }
    if (f.cfg_size != k->cfg_size || f.cfg_fnv1a != k->cfg_fnv1a || f.weights_size != k->weights_size ||
        f.weights_fnv1a != k->weights_fnv1a || f.train_size != k->train_size || f.train_fnv1a != k->train_fnv1a ||
        f.limit != k->limit) {
        snprintf(err, errlen, "%s was made for another %s", path,
                 f.cfg_size != k->cfg_size || f.cfg_fnv1a != k->cfg_fnv1a ? "cfg"
                 : f.weights_size != k->weights_size || f.weights_fnv1a != k->weights_fnv1a ? "weights file"
                 : f.limit != k->limit ? "-limit" : "train list");
        fclose(fp);
        return 0;
    }
    t->N = (int)Nl;
    t->D = (int)Dl;
    t->C = (int)Cl;
    t->label = malloc(sizeof(int) * t->N);
    t->feat = malloc(sizeof(float) * (size_t)t->N * t->D);
    if (!t->label || !t->feat || fread(t->label, sizeof(int), t->N, fp) != (size_t)t->N ||
        fread(t->feat, sizeof(float), (size_t)t->N * t->D, fp) != (size_t)t->N * t->D || fgetc(fp) != EOF) {
        snprintf(err, errlen, "%s: the arrays are truncated or followed by extra bytes", path);
        ood_stats_free(t);
        fclose(fp);
        return -1;
    }
    fclose(fp);
    {
        int i;
        size_t j;
        for (i = 0; i < t->N; ++i)
            if (t->label[i] < 0 || t->label[i] >= t->C) {
                snprintf(err, errlen, "%s: class %d of image %d is outside [0, %d)", path, t->label[i], i, t->C);
                ood_stats_free(t);
                return -1;
            }
        for (j = 0; j < (size_t)t->N * t->D; ++j)
            if (!ood_is_finite(t->feat[j])) {
                snprintf(err, errlen, "%s: feature value %zu is not finite", path, j);
                ood_stats_free(t);
                return -1;
            }
    }
    return 1;
}

void ood_posthoc_batch(ood_scorer *s, const ood_train_stats *t, const ood_posthoc_params *pp, double *out)
{
    const int B = s->B, C = s->C, D = s->D, K = OOD_NPOSTHOC;
    int b, i;
    for (b = 0; b < B; ++b) {
        out[b * K + OOD_GEN - OOD_NSCORES] = ood_gen(s->logits + b * C, C, pp->gen_gamma, pp->gen_m);
        out[b * K + OOD_REACT - OOD_NSCORES] = NAN;
        out[b * K + OOD_KNN - OOD_NSCORES] = NAN;
        out[b * K + OOD_MAHALANOBIS - OOD_NSCORES] = NAN;
    }
    if (!t || !s->feat) return;
    {
        double *q = malloc(sizeof(double) * D), *dist = malloc(sizeof(double) * t->N);   /* [D], [N] */
        for (b = 0; b < B; ++b) {
            const float *f = s->feat + (size_t)b * D;
            ood_l2_normalize(f, D, q);
            out[b * K + OOD_KNN - OOD_NSCORES] = ood_knn(q, t->bank, t->N, D, pp->knn_k, dist);
            out[b * K + OOD_MAHALANOBIS - OOD_NSCORES] = ood_mahalanobis(f, D, t->C, t->mean, t->chol, q);
        }
        free(q);
        free(dist);
    }
    /* ReAct last: the head rerun overwrites its layers' outputs. */
    {
        float *clipped = malloc(sizeof(float) * (size_t)B * D), *z = malloc(sizeof(float) * B * C);   /* [B, D], [B, C] */
        const float c = (float)t->react_clip;
        for (i = 0; i < B * D; ++i) clipped[i] = s->feat[i] < c ? s->feat[i] : c;
        ood_head_logits(s, clipped, z);
        for (b = 0; b < B; ++b) out[b * K + OOD_REACT - OOD_NSCORES] = ood_energy(z + b * C, C, 1);
        free(clipped);
        free(z);
    }
}
