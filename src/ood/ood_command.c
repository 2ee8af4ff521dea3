/* darknet classifier ood DATA CFG WEIGHTS [flags]: RICASSO's evaluation (section 4.1).
 *
 * Reads from the .data file: classes, labels (ID classes, Darknet's exact label matching),
 * valid (the ID test list), train (for the per-class training counts; optional) and every
 * ood_NAME=LIST key (an OOD set called NAME). The flags, with their defaults and help, are
 * the table ood_flags below (`darknet classifier ood -h` prints it).
 *
 * Phases (ood_command_ood): parse the flags, read the .data file, load and check every list,
 * the training counts and shot groups, the network, the training features (-posthoc), score
 * every set, the metrics, the report (accuracy, metrics table), the threshold file, the
 * summary.
 *
 * Prints one table: ID top-1 accuracy, many/medium/few-shot accuracy with the rule used, and
 * AUROC, AUPR-in, AUPR-out and FPR95 of every score for each OOD set and their average
 * (conventions in ood_metrics.h, printed under the table). Writes to DIR:
 *   summary.txt                         the table
 *   scores.csv                          set,index,path,label,pred,prob,msp,energy,maxlogit,odin
 *                                       (+ gen,react,knn,mahalanobis with -posthoc; ood_posthoc.h)
 *   metrics.csv                         set,images,score,auroc,aupr_in,aupr_out,fpr95,threshold,id_accepted
 *                                       (+ fpr95_oodpos with -openood_fpr: OpenOOD's convention)
 *                                       (fpr95 is fprNN for -tpr 0.NN; threshold and id_accepted
 *                                       are the ID threshold of that row's score)
 *   accuracy.csv                        group,classes,images,correct,accuracy,rule
 *   per_class.csv                       class,name,train_count,group,images,correct,accuracy
 *   roc_SET_SCORE.csv                   threshold,fpr,tpr (every distinct threshold)
 *   hist_SCORE.csv                      bin_lo,bin_hi,id,SET... (fraction of each set per bin)
 *   threshold.ood                       the deployment threshold (ood_threshold.h); with -deploy
 *                                       also WEIGHTS.ood, where predict and demo read it
 * scripts/plot-ood turns DIR into PNGs.
 *
 * Shot groups: with 10 classes, PASCL's CIFAR-10-LT convention (many = the 3 most frequent
 * training classes, few = the 3 least frequent, medium = the other 4; equal counts ranked by
 * class index); otherwise ImageNet-LT's (many > 100 training images, few < 20, medium the
 * rest).
 *
 * Glossary: B rows per pass, C classes, X inputs per row, S = OOD_NALL (every score; columns of
 * scores not evaluated are NaN), P = OOD_NPOSTHOC.
 */
#include "ood_commands.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "darknet.h"
#include "ood_args.h"
#include "ood_io.h"
#include "ood_metrics.h"
#include "ood_posthoc.h"
#include "ood_score.h"
#include "ood_threshold.h"
#include "option_list.h"

#define CMD "ood"
#define MAX_SETS 32
#define HIST_BINS 40

enum { GROUP_MANY, GROUP_MEDIUM, GROUP_FEW, GROUP_COUNT };
static const char *const group_names[GROUP_COUNT] = {"many", "medium", "few"};

typedef struct ood_set {
    char name[64];
    const char *list;
    char **paths;      /* [n] */
    int *line_no;      /* [n] line of each path in the list */
    int n;
    double *scores;    /* [n, S] */
    int *label;        /* [n] class from the path (ID), -1 (OOD) */
    int *pred;         /* [n] argmax class */
    float *prob;       /* [n] its probability */
} ood_set;

typedef struct ood_options {
    const char *data, *cfg, *weights;          /* the positional arguments */
    const char *out, *counts_file;
    int batch, noodin, use_odin, score, limit, deploy, posthoc, knn_k, openood_fpr;
    float odin_t, odin_eps;
    double tpr, react_p;
    ood_arg_multi ood;                         /* -ood NAME=LIST, as given */
    int nflag_sets;
    char *flag_name[MAX_SETS];                 /* [nflag_sets] malloc'd */
    const char *flag_list[MAX_SETS];
} ood_options;

#define F(name, type, meta, def, lo, hi, field, help) {name, type, meta, def, lo, hi, offsetof(ood_options, field), help}
static const ood_flag ood_flags[] = {
    F("-ood", OOD_ARG_MULTI, "NAME=LIST", 0, 0, 0, ood, "another OOD set; replaces a .data key ood_NAME of that name"),
    F("-out", OOD_ARG_STRING, "DIR", "results/ood", 0, 0, out, "results folder"),
    F("-batch", OOD_ARG_INT, "N", "64", 1, 4096, batch, "images per network pass (at most the cfg's batch)"),
    F("-odin_t", OOD_ARG_FLOAT, "T", "1000", 1e-6, 1e9, odin_t, "ODIN's temperature"),
    F("-odin_eps", OOD_ARG_FLOAT, "E", "0.0014", 0, 1, odin_eps, "ODIN's input step (inputs in [0, 1])"),
    F("-noodin", OOD_ARG_SWITCH, 0, 0, 0, 0, noodin, "skip ODIN (it costs a backward and a second forward pass)"),
    F("-score", OOD_ARG_SCORE, "S", 0, 0, 0, score, "the score of the threshold file (default odin; msp with -noodin)"),
    F("-deploy", OOD_ARG_SWITCH, 0, 0, 0, 0, deploy,
      "also write the threshold file next to the weights (WEIGHTS.ood, which predict and demo read), replacing it"),
    F("-tpr", OOD_ARG_DOUBLE, "P", "0.95", 0.01, 1, tpr, "fraction of the ID test images the threshold accepts"),
    F("-openood_fpr", OOD_ARG_SWITCH, 0, 0, 0, 0, openood_fpr,
      "also OpenOOD's FPR at that TPR with OOD as the positive class (column FPRnn-OOD+)"),
    F("-posthoc", OOD_ARG_SWITCH, 0, 0, 0, 0, posthoc,
      "also OpenOOD's post-hoc scores gen, react, knn, mahalanobis (features of the train list)"),
    F("-react_p", OOD_ARG_DOUBLE, "P", "90", 0.01, 100, react_p, "ReAct's clip: this percentile of the training features"),
    F("-knn_k", OOD_ARG_INT, "K", "50", 1, 1 << 20, knn_k, "KNN's k (the k-th nearest training feature)"),
    F("-counts", OOD_ARG_STRING, "FILE", 0, 0, 0, counts_file, "per-class training counts (C integers) instead of the train list"),
    F("-limit", OOD_ARG_INT, "N", 0, 1, 1 << 30, limit, "only the first N images of every list (default all)"),
};
#undef F

static const char *const ood_arg_names[] = {"DATA", "CFG", "WEIGHTS"};
const ood_command_spec ood_spec_ood = {
    "ood", "DATA CFG WEIGHTS", ood_arg_names, 3, 3,
    "RICASSO's OOD evaluation: ID accuracy (all, many/medium/few-shot) and AUROC, AUPR-in, AUPR-out and\n"
    "FPR95 of every score for each OOD set (the .data file's ood_NAME=LIST keys and -ood flags).",
    ood_flags, sizeof(ood_flags) / sizeof(ood_flags[0]),
    "Writes summary.txt, scores.csv, metrics.csv, accuracy.csv, per_class.csv, roc_SET_SCORE.csv and\n"
    "hist_SCORE.csv and the threshold file threshold.ood to DIR (-deploy: also WEIGHTS.ood); scripts/plot-ood\n"
    "DIR draws them."};

static int valid_set_name(const char *s)
{
    size_t i, n = strlen(s);
    if (!n || n >= 40) return 0;
    for (i = 0; i < n; ++i)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '_' || s[i] == '-'))
            return 0;
    return strcmp(s, "id") != 0 && strcmp(s, "average") != 0;
}

static void parse_options(int argc, char **argv, ood_options *o)
{
    const char *pos[3];
    int i;
    memset(o, 0, sizeof(*o));
    ood_args_parse(&ood_spec_ood, argc, argv, o, pos);
    o->data = pos[0];
    o->cfg = pos[1];
    o->weights = pos[2];
    for (i = 0; i < o->ood.n; ++i) {
        const char *v = o->ood.v[i], *eq = strchr(v, '=');
        if (!eq || eq == v || !eq[1]) ood_fail(CMD, "-ood '%s': expected NAME=LIST", v);
        o->flag_name[o->nflag_sets] = strndup(v, eq - v);
        o->flag_list[o->nflag_sets] = eq + 1;
        ++o->nflag_sets;
    }
    o->use_odin = !o->noodin;
    if (o->score < 0) o->score = o->use_odin ? OOD_ODIN : OOD_MSP;
    else if (!o->use_odin && o->score == OOD_ODIN) ood_fail(CMD, "-score odin needs ODIN (drop -noodin)");
    if (o->score >= OOD_NSCORES) o->posthoc = 1;
    if (o->deploy && o->score >= OOD_NSCORES)
        ood_fail(CMD, "-deploy -score %s: predict and demo compute msp, energy, maxlogit and odin only", ood_score_name(o->score));
}

/* The OOD sets: ood_NAME keys of the .data file in file order, then -ood flags (a flag
 * replaces a key of the same name). */
static int collect_sets(list *options, const ood_options *o, ood_set *sets)
{
    int n = 0, i, k;
    node *nd;
    for (nd = options->front; nd; nd = nd->next) {
        kvp *p = nd->val;
        if (strncmp(p->key, "ood_", 4) != 0) continue;
        if (!valid_set_name(p->key + 4))
            ood_fail(CMD, "%s: OOD set name '%s' (from %s): use letters, digits, _ and - (not 'id' or 'average')",
                     o->data, p->key + 4, p->key);
        for (k = 0; k < n; ++k)
            if (!strcmp(sets[k].name, p->key + 4)) ood_fail(CMD, "%s: %s appears twice", o->data, p->key);
        if (n == MAX_SETS) ood_fail(CMD, "more than %d OOD sets", MAX_SETS);
        snprintf(sets[n].name, sizeof(sets[n].name), "%s", p->key + 4);
        sets[n].list = p->val;
        ++n;
    }
    for (i = 0; i < o->nflag_sets; ++i) {
        if (!valid_set_name(o->flag_name[i]))
            ood_fail(CMD, "-ood: set name '%s': use letters, digits, _ and - (not 'id' or 'average')", o->flag_name[i]);
        for (k = 0; k < n; ++k)
            if (!strcmp(sets[k].name, o->flag_name[i])) break;
        if (k == n) {
            if (n == MAX_SETS) ood_fail(CMD, "more than %d OOD sets", MAX_SETS);
            snprintf(sets[n].name, sizeof(sets[n].name), "%s", o->flag_name[i]);
            ++n;
        } else {
            fprintf(stderr, "classifier ood: -ood %s replaces the .data file's ood_%s\n", o->flag_name[i], o->flag_name[i]);
        }
        sets[k].list = o->flag_list[i];
    }
    return n;
}

static void load_set_list(ood_set *s, int limit)
{
    s->paths = ood_read_list(CMD, s->list, &s->n, &s->line_no);
    if (limit && s->n > limit) {
        int i;
        for (i = limit; i < s->n; ++i) free(s->paths[i]);
        s->n = limit;
    }
    ood_check_readable(CMD, s->list, s->paths, s->n, s->line_no);
    s->scores = calloc((size_t)s->n * OOD_NALL, sizeof(double));
    s->label = malloc(sizeof(int) * s->n);
    s->pred = malloc(sizeof(int) * s->n);
    s->prob = malloc(sizeof(float) * s->n);
}

/* Progress on stderr: a rewritten line on a terminal, a line per tenth otherwise (and only
 * for sets of several batches, where waiting is noticeable). */
typedef struct progress {
    const char *name;
    int total, last_tenth, tty;
    double start, last;
} progress;

static void progress_update(progress *p, int done, int batch)
{
    const double now = what_time_is_it_now();
    const double rate = done / fmax(now - p->start, 1e-9);
    if (p->tty) {
        if (now - p->last < 0.5 && done < p->total) return;
        fprintf(stderr, "\r  %-12s %7d / %d images  %.1f images/s ", p->name, done, p->total, rate);
        if (done == p->total) fputc('\n', stderr);
        p->last = now;
        return;
    }
    if (p->total <= 4 * batch) return;
    if (done * 10 / p->total > p->last_tenth || done == p->total) {
        p->last_tenth = done * 10 / p->total;
        fprintf(stderr, "  %s: %d / %d images, %.1f images/s\n", p->name, done, p->total, rate);
    }
}

/* Loads rows [start, start + rows) of s into x [B, X] (rows past `rows` are zero). */
static void load_batch(const ood_set *s, int start, int rows, int B, int w, int h, float *x)
{
    const int X = w * h * 3;
    int r, bad = -1;
    memset(x + (size_t)rows * X, 0, sizeof(float) * (size_t)(B - rows) * X);
    /* Decoding dominates for small networks: one image per thread. */
#pragma omp parallel for schedule(dynamic)
    for (r = 0; r < rows; ++r) {
        image im, crop;
        if (!ood_load_image(s->paths[start + r], &im)) {
#pragma omp critical
            if (bad < 0 || r < bad) bad = r;
            continue;
        }
        crop = ood_prepare_image(im, w, h);
        memcpy(x + (size_t)r * X, crop.data, sizeof(float) * X);
        free_image(crop);
        free_image(im);
    }
    if (bad >= 0)
        ood_fail(CMD, "%s (line %d of %s): cannot decode this image", s->paths[start + bad],
                 s->line_no[start + bad], s->list);
}

/* Every score of every image of s; the post-hoc ones when pp is given (stats: the training
 * statistics, 0 when only gen is evaluated). */
static void score_set(ood_scorer *sc, ood_set *s, int w, int h, const ood_train_stats *stats,
                      const ood_posthoc_params *pp)
{
    const int B = sc->B, C = sc->C, P = OOD_NPOSTHOC;
    float *x = calloc((size_t)B * sc->X, sizeof(float));        /* [B, X] */
    double *sb = calloc((size_t)B * OOD_NSCORES, sizeof(double));  /* [B, OOD_NSCORES] */
    double *ph = calloc((size_t)B * P, sizeof(double));         /* [B, P] */
    progress pg = {s->name, s->n, 0, isatty(2), what_time_is_it_now(), 0};
    int start, r, k;
    for (start = 0; start < s->n; start += B) {
        const int rows = s->n - start < B ? s->n - start : B;
        load_batch(s, start, rows, B, w, h, x);
        ood_score_batch(sc, x, sb);
        for (r = 0; r < B * P; ++r) ph[r] = NAN;
        if (pp) ood_posthoc_batch(sc, stats, pp, ph);
        for (r = 0; r < rows; ++r) {
            const int i = start + r;
            const float *p = sc->prob + r * C;
            for (k = 0; k < OOD_NALL; ++k) {
                const double v = k < OOD_NSCORES ? sb[r * OOD_NSCORES + k] : ph[r * P + k - OOD_NSCORES];
                const int wanted = k < OOD_NSCORES ? k != OOD_ODIN || sc->use_odin : pp && (stats || k == OOD_GEN);
                if (wanted && !ood_is_finite(v))
                    ood_fail(CMD, "%s (line %d of %s): the %s score is %g: the network's logits are not finite",
                             s->paths[i], s->line_no[i], s->list, ood_score_name(k), v);
                s->scores[(size_t)i * OOD_NALL + k] = v;
            }
            s->pred[i] = ood_argmax(p, C);
            s->prob[i] = p[s->pred[i]];
        }
        progress_update(&pg, start + rows, B);
    }
    free(x);
    free(sb);
    free(ph);
}

/* Column k of a set's scores [n, S] as its own array [n]. */
static double *score_column(const ood_set *s, int k)
{
    double *v = malloc(sizeof(double) * s->n);
    int i;
    for (i = 0; i < s->n; ++i) v[i] = s->scores[(size_t)i * OOD_NALL + k];
    return v;
}

static int *read_counts_file(const char *path, int C)
{
    FILE *fp = fopen(path, "r");
    int *counts = calloc(C, sizeof(int)), n = 0;   /* [C] */
    char tok[64];
    if (!fp) ood_fail(CMD, "-counts: cannot open %s", path);
    while (fscanf(fp, " %63[^, \t\r\n]%*[, \t\r\n]", tok) == 1) {
        char *end;
        long v = strtol(tok, &end, 10);
        if (*end || v < 0 || v > 2000000000) ood_fail(CMD, "-counts: '%s' in %s is not a count", tok, path);
        if (n < C) counts[n] = (int)v;
        ++n;
    }
    fclose(fp);
    if (n != C) ood_fail(CMD, "-counts: %s has %d counts for %d classes", path, n, C);
    return counts;
}

/* Shot group of every class (group [C]); writes the rule into rule. */
static void shot_groups(const int *counts, int C, int *group, char *rule, int rulelen)
{
    int c, k;
    if (C == 10) {
        int order[10];
        for (c = 0; c < C; ++c) order[c] = c;
        /* Descending count, ties by class index: insertion sort of 10. */
        for (c = 1; c < C; ++c)
            for (k = c; k > 0 && counts[order[k]] > counts[order[k - 1]]; --k) {
                int t = order[k];
                order[k] = order[k - 1];
                order[k - 1] = t;
            }
        for (k = 0; k < C; ++k) group[order[k]] = k < 3 ? GROUP_MANY : k >= C - 3 ? GROUP_FEW : GROUP_MEDIUM;
        snprintf(rule, rulelen, "CIFAR-10-LT convention (PASCL): many = the 3 most frequent training classes, "
                                "few = the 3 least frequent, medium = the other 4 (equal counts ranked by class index)");
        return;
    }
    for (c = 0; c < C; ++c) group[c] = counts[c] > 100 ? GROUP_MANY : counts[c] < 20 ? GROUP_FEW : GROUP_MEDIUM;
    snprintf(rule, rulelen, "ImageNet-LT convention (C = %d, not 10): many > 100 training images, few < 20, medium 20-100", C);
}

/* "0,1,2" or "4 classes" when long. */
static void class_list_text(const int *group, int C, int g, char *buf, int len)
{
    int c, n = 0, used = 0;
    buf[0] = 0;
    for (c = 0; c < C; ++c) if (group[c] == g) ++n;
    if (n > 8) {
        snprintf(buf, len, "%d classes", n);
        return;
    }
    for (c = 0; c < C; ++c)
        if (group[c] == g && used < len - 8) used += snprintf(buf + used, len - used, "%s%d", used ? "," : "", c);
    if (!n) snprintf(buf, len, "none");
}

static FILE *open_out(const char *dir, const char *name)
{
    char path[4096];
    FILE *fp;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fp = fopen(path, "w");
    if (!fp) ood_fail(CMD, "cannot write %s", path);
    return fp;
}

static void close_out(FILE *fp, const char *dir, const char *name)
{
    if (ferror(fp) | fclose(fp)) ood_fail(CMD, "error writing %s/%s", dir, name);
}

/* scores.csv: the paper's four score columns always (odin NaN with -noodin), the post-hoc
 * ones when evaluated; %.17g, exact for a double, so that the text ranks as the values do. */
static void write_scores_csv(const char *dir, ood_set *sets, int nsets, int use_odin, int posthoc)
{
    FILE *fp = open_out(dir, "scores.csv");
    const int last = posthoc ? OOD_NALL : OOD_NSCORES;
    int s, i, k;
    fprintf(fp, "set,index,path,label,pred,prob");
    for (k = 0; k < last; ++k) fprintf(fp, ",%s", ood_score_name(k));
    fputc('\n', fp);
    for (s = 0; s < nsets; ++s)
        for (i = 0; i < sets[s].n; ++i) {
            const double *v = sets[s].scores + (size_t)i * OOD_NALL;
            fprintf(fp, "%s,%d,", sets[s].name, i);
            ood_csv_field(fp, sets[s].paths[i]);
            fprintf(fp, ",%d,%d,%.9g", sets[s].label[i], sets[s].pred[i], sets[s].prob[i]);
            for (k = 0; k < last; ++k) {
                if (k == OOD_ODIN && !use_odin) fprintf(fp, ",nan");
                else fprintf(fp, ",%.17g", v[k]);
            }
            fputc('\n', fp);
        }
    close_out(fp, dir, "scores.csv");
}

static void write_roc_csv(const char *dir, const char *set, int k, const double *id, int n_id,
                          const double *ood, int n_ood)
{
    char name[160];
    /* [n_id + n_ood + 1] each: at most one point per distinct score, plus the start */
    double *thr = malloc(sizeof(double) * (n_id + n_ood + 1));
    double *fpr = malloc(sizeof(double) * (n_id + n_ood + 1));
    double *tpr = malloc(sizeof(double) * (n_id + n_ood + 1));
    int n = ood_roc_curve_d(id, n_id, ood, n_ood, thr, fpr, tpr), i;
    FILE *fp;
    snprintf(name, sizeof(name), "roc_%s_%s.csv", set, ood_score_name(k));
    fp = open_out(dir, name);
    fprintf(fp, "threshold,fpr,tpr\n");
    for (i = 0; i < n; ++i) {
        if (isinf(thr[i])) fprintf(fp, "inf,%.9g,%.9g\n", fpr[i], tpr[i]);
        else fprintf(fp, "%.17g,%.9g,%.9g\n", thr[i], fpr[i], tpr[i]);
    }
    close_out(fp, dir, name);
    free(thr);
    free(fpr);
    free(tpr);
}

/* hist_SCORE.csv: HIST_BINS equal bins over the range of all sets' scores; each column the
 * fraction of that set's images in the bin (each column sums to 1). */
static void write_hist_csv(const char *dir, ood_set *sets, int nsets, int k)
{
    char name[64];
    double lo = INFINITY, hi = -INFINITY, width;
    int s, i, b, bins = HIST_BINS;
    double *frac = calloc((size_t)nsets * HIST_BINS, sizeof(double));   /* [sets, bins] */
    FILE *fp;
    for (s = 0; s < nsets; ++s)
        for (i = 0; i < sets[s].n; ++i) {
            const double v = sets[s].scores[(size_t)i * OOD_NALL + k];
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
    width = (hi - lo) / bins;
    if (!(width > 0)) {   /* one value everywhere: one bin around it */
        bins = 1;
        width = 1;
        lo -= 0.5;
    }
    for (s = 0; s < nsets; ++s)
        for (i = 0; i < sets[s].n; ++i) {
            b = (int)((sets[s].scores[(size_t)i * OOD_NALL + k] - lo) / width);
            if (b >= bins) b = bins - 1;
            if (b < 0) b = 0;
            frac[s * HIST_BINS + b] += 1.0 / sets[s].n;
        }
    snprintf(name, sizeof(name), "hist_%s.csv", ood_score_name(k));
    fp = open_out(dir, name);
    fprintf(fp, "bin_lo,bin_hi");
    for (s = 0; s < nsets; ++s) fprintf(fp, ",%s", sets[s].name);
    fputc('\n', fp);
    for (b = 0; b < bins; ++b) {
        fprintf(fp, "%.9g,%.9g", lo + b * width, lo + (b + 1) * width);
        for (s = 0; s < nsets; ++s) fprintf(fp, ",%.6g", frac[s * HIST_BINS + b]);
        fputc('\n', fp);
    }
    close_out(fp, dir, name);
    free(frac);
}

/* Everything one evaluation holds, filled phase by phase. */
typedef struct ood_run {
    ood_options o;
    int C;                        /* ID classes */
    char **labels, **names;       /* [C] */
    char *label_list, *valid_list, *train_list;
    ood_set sets[MAX_SETS + 1];   /* [0] is the ID test set */
    int nood, nsets;
    int *counts, *group;          /* [C] training count and shot group of each class (0: unknown) */
    const char *count_source;
    char rule[512];
    network *net;
    ood_scorer sc;
    int nactive, active[OOD_NALL];   /* the scores evaluated, in table order */
    ood_posthoc_params pp;
    ood_train_stats stats;           /* -posthoc: the training features and what derives from them */
    ood_metrics m[MAX_SETS][OOD_NALL];   /* [OOD set, score] */
    FILE *tf;                     /* the table, printed and saved as summary.txt */
    char *text;
    size_t text_len;
} ood_run;

/* The .data file: classes, labels, names, valid, train and the OOD sets. */
static void read_data_file(ood_run *r)
{
    const ood_options *o = &r->o;
    list *options = read_data_cfg((char *)o->data);
    char *name_list;
    r->C = option_find_int_quiet(options, "classes", 0);
    if (r->C <= 0) ood_fail(CMD, "%s has no classes= (the number of ID classes)", o->data);
    r->label_list = option_find(options, "labels");
    if (!r->label_list) ood_fail(CMD, "%s has no labels= (the class names that label the ID test images)", o->data);
    r->labels = get_labels_checked(r->label_list, r->C);
    name_list = option_find(options, "names");
    if (!name_list) name_list = r->label_list;
    r->names = name_list == r->label_list ? r->labels : get_labels_checked(name_list, r->C);
    r->valid_list = option_find(options, "valid");
    if (!r->valid_list) ood_fail(CMD, "%s has no valid= (the ID test list)", o->data);
    r->train_list = option_find(options, "train");

    snprintf(r->sets[0].name, sizeof(r->sets[0].name), "id");
    r->sets[0].list = r->valid_list;
    r->nood = collect_sets(options, o, r->sets + 1);
    if (!r->nood) ood_fail(CMD, "no OOD sets: give ood_NAME=LIST lines in %s or -ood NAME=LIST", o->data);
    r->nsets = r->nood + 1;
}

/* Every list and image file is checked before the (long) network passes start; the ID test
 * images get their class from their path. */
static void load_sets(ood_run *r)
{
    ood_set *id = &r->sets[0];
    int s, i;
    for (s = 0; s < r->nsets; ++s) load_set_list(&r->sets[s], r->o.limit);
    for (i = 0; i < id->n; ++i) {
        id->label[i] = label_of_path(id->paths[i], r->labels, r->C);
        if (id->label[i] < 0)
            ood_fail(CMD, "%s (line %d of %s): %s of %s matches its folder name or a '_'-separated token of its file name",
                     id->paths[i], id->line_no[i], r->valid_list, id->label[i] == -1 ? "no label" : "more than one label",
                     r->label_list);
    }
    for (s = 1; s < r->nsets; ++s)
        for (i = 0; i < r->sets[s].n; ++i) r->sets[s].label[i] = -1;
}

/* Per-class training counts (-counts, else the train list when readable) and shot groups. */
static void load_train_counts(ood_run *r)
{
    if (r->o.counts_file) {
        r->counts = read_counts_file(r->o.counts_file, r->C);
        r->count_source = r->o.counts_file;
    } else if (r->train_list && access(r->train_list, R_OK) == 0) {
        int ntrain, *path_class;   /* [ntrain] class of each training image */
        char **tp = ood_read_list(CMD, r->train_list, &ntrain, 0);
        path_class = malloc(sizeof(int) * ntrain);
        r->counts = class_counts_of_paths(tp, ntrain, r->labels, r->C, path_class);
        free(path_class);
        ood_free_list(tp, ntrain, 0);
        r->count_source = r->train_list;
    }
    if (r->counts) {
        r->group = malloc(sizeof(int) * r->C);
        shot_groups(r->counts, r->C, r->group, r->rule, sizeof(r->rule));
    }
}

/* The network at the evaluation batch and its scorer. */
static void load_model(ood_run *r)
{
    const ood_options *o = &r->o;
    char err[1024];
    int B;
    if (access(o->weights, R_OK) != 0) ood_fail(CMD, "cannot read the weights %s", o->weights);
    if (!ood_mkdirs(o->out)) ood_fail(CMD, "cannot create the results folder %s", o->out);
    r->net = load_network((char *)o->cfg, (char *)o->weights, 0);
    B = o->batch < r->net->batch ? o->batch : r->net->batch;
    if (B < o->batch)
        fprintf(stderr, "classifier ood: batch %d (the cfg's batch %d sized the layers' buffers)\n", B, r->net->batch);
    set_batch_network(r->net, B);
    if (r->net->c != 3) ood_fail(CMD, "%s takes %d channels: the OOD commands feed RGB images", o->cfg, r->net->c);
    if (!ood_scorer_init(&r->sc, r->net, o->odin_t, o->odin_eps, o->use_odin, err, sizeof(err)))
        ood_fail(CMD, "%s: %s", o->cfg, err);
    if (r->sc.C != r->C) ood_fail(CMD, "%s has classes=%d, the network's logits have %d", o->data, r->C, r->sc.C);
    fprintf(stderr, "classifier ood: logits of layer %d [%s], %d classes, batch %d, %s\n", r->sc.head.layer,
            r->sc.head.kind == OOD_HEAD_EXPERT ? "expert_softmax: mean of the experts" : "softmax: its input", r->C, B,
            o->use_odin ? "with ODIN" : "without ODIN");
    {
        int k;
        for (k = 0; k < OOD_NALL; ++k)
            if ((k < OOD_NSCORES && (k != OOD_ODIN || o->use_odin)) || (k >= OOD_NSCORES && o->posthoc))
                r->active[r->nactive++] = k;
    }
}

/* The training features of the post-hoc scores: WEIGHTS.oodstats when it was made for this
 * cfg, weights, train list and -limit; otherwise one pass over the train list, saved there. */
static void load_train_stats(ood_run *r)
{
    const ood_options *o = &r->o;
    ood_train_stats *t = &r->stats;
    ood_stats_key key;
    char err[1024], *path;
    int got;
    if (!o->posthoc) return;
    r->pp.gen_gamma = OOD_GEN_GAMMA;
    r->pp.gen_m = OOD_GEN_M;
    r->pp.react_p = o->react_p;
    r->pp.knn_k = o->knn_k;
    if (!ood_scorer_enable_features(&r->sc, err, sizeof(err))) ood_fail(CMD, "%s: -posthoc: %s", o->cfg, err);
    if (!r->train_list || access(r->train_list, R_OK) != 0)
        ood_fail(CMD, "-posthoc: ReAct, KNN and Mahalanobis need the training features: %s has no readable train= list",
                 o->data);
    if (!ood_stats_key_of(&key, o->cfg, o->weights, r->train_list, o->limit, err, sizeof(err))) ood_fail(CMD, "%s", err);
    path = malloc(strlen(o->weights) + 16);
    sprintf(path, "%s.oodstats", o->weights);
    got = ood_stats_load(path, &key, t, err, sizeof(err));
    if (got < 0) ood_fail(CMD, "%s (remove it to compute it again)", err);
    if (got && (t->D != r->sc.D || t->C != r->C)) {
        snprintf(err, sizeof(err), "%s has features of %d values for %d classes, the network gives %d for %d", path, t->D,
                 t->C, r->sc.D, r->C);
        ood_stats_free(t);
        got = 0;
    }
    if (got) {
        fprintf(stderr, "classifier ood: training features from %s (%d images, %d values each)\n", path, t->N, t->D);
    } else {
        ood_set tr;
        int i, start, b;
        float *x = calloc((size_t)r->sc.B * r->sc.X, sizeof(float));   /* [B, X] */
        progress pg;
        if (access(path, F_OK) == 0) fprintf(stderr, "classifier ood: %s: computing the training features again\n", err);
        memset(&tr, 0, sizeof(tr));
        snprintf(tr.name, sizeof(tr.name), "train");
        tr.list = r->train_list;
        load_set_list(&tr, o->limit);
        t->N = tr.n;
        t->D = r->sc.D;
        t->C = r->C;
        t->feat = malloc(sizeof(float) * (size_t)t->N * t->D);
        t->label = malloc(sizeof(int) * t->N);
        for (i = 0; i < tr.n; ++i) {
            t->label[i] = label_of_path(tr.paths[i], r->labels, r->C);
            if (t->label[i] < 0)
                ood_fail(CMD, "%s (line %d of %s): %s of %s matches its folder name or a '_'-separated token of its file name",
                         tr.paths[i], tr.line_no[i], r->train_list, t->label[i] == -1 ? "no label" : "more than one label",
                         r->label_list);
        }
        pg = (progress){"train", tr.n, 0, isatty(2), what_time_is_it_now(), 0};
        for (start = 0; start < tr.n; start += r->sc.B) {
            const int rows = tr.n - start < r->sc.B ? tr.n - start : r->sc.B;
            load_batch(&tr, start, rows, r->sc.B, r->net->w, r->net->h, x);
            ood_forward_features(&r->sc, x);
            for (b = 0; b < rows; ++b)
                memcpy(t->feat + (size_t)(start + b) * t->D, r->sc.feat + (size_t)b * t->D, sizeof(float) * t->D);
            progress_update(&pg, start + rows, r->sc.B);
        }
        for (i = 0; i < t->N * t->D; ++i)
            if (!ood_is_finite(t->feat[i]))
                ood_fail(CMD, "%s (line %d of %s): its features are not finite", tr.paths[i / t->D], tr.line_no[i / t->D],
                         r->train_list);
        if (!ood_stats_save(path, t, &key, o->cfg, o->weights, r->train_list, err, sizeof(err)))
            ood_fail(CMD, "cannot save the training features: %s", err);
        fprintf(stderr, "classifier ood: training features of %d images (%d values each) saved to %s\n", t->N, t->D, path);
        ood_free_list(tr.paths, tr.n, tr.line_no);
        free(tr.scores);
        free(tr.label);
        free(tr.pred);
        free(tr.prob);
        free(x);
    }
    if (!ood_stats_derive(t, o->react_p, err, sizeof(err))) ood_fail(CMD, "%s: %s", path, err);
    free(path);
}

/* AUROC, AUPR and FPR of every score on every OOD set; roc_*.csv and hist_*.csv. */
static void compute_metrics(ood_run *r)
{
    int a, k, s;
    for (a = 0; a < r->nactive; ++a) {
        double *id = score_column(&r->sets[0], k = r->active[a]);
        for (s = 1; s < r->nsets; ++s) {
            double *ood = score_column(&r->sets[s], k);
            if (!ood_compute_metrics_d(id, r->sets[0].n, ood, r->sets[s].n, r->o.tpr, &r->m[s - 1][k]))
                ood_fail(CMD, "metrics of %s on %s could not be computed", ood_score_name(k), r->sets[s].name);
            write_roc_csv(r->o.out, r->sets[s].name, k, id, r->sets[0].n, ood, r->sets[s].n);
            free(ood);
        }
        free(id);
        write_hist_csv(r->o.out, r->sets, r->nsets, k);
    }
}

/* The accuracy part of the table; accuracy.csv and per_class.csv. */
static void report_accuracy(ood_run *r)
{
    const ood_set *id = &r->sets[0];
    const int C = r->C;
    FILE *tf = r->tf, *fa, *fpc;
    long correct = 0, gc[GROUP_COUNT] = {0}, gn[GROUP_COUNT] = {0};
    long *cc = calloc(C, sizeof(long)), *cn = calloc(C, sizeof(long));   /* [C] correct, images */
    int i, c;
    for (i = 0; i < id->n; ++i) {
        const int y = id->label[i], ok = id->pred[i] == y;
        correct += ok;
        cc[y] += ok;
        cn[y] += 1;
        if (r->group) {
            gc[r->group[y]] += ok;
            gn[r->group[y]] += 1;
        }
    }
    fprintf(tf, "OOD evaluation of %s with %s\n", r->o.cfg, r->o.weights);
    fprintf(tf, "ID test set %s: %d images, %d classes\n\n", r->valid_list, id->n, C);
    fprintf(tf, "%-34s %8.2f%%  (%ld / %d)\n", "ID top-1 accuracy", 100.0 * correct / id->n, correct, id->n);
    fa = open_out(r->o.out, "accuracy.csv");
    fprintf(fa, "group,classes,images,correct,accuracy,rule\n");
    fprintf(fa, "all,%d,%d,%ld,%.6f,\n", C, id->n, correct, (double)correct / id->n);
    if (r->group) {
        int g;
        for (g = 0; g < GROUP_COUNT; ++g) {
            char cls[128], label[160];
            int ncls = 0;
            for (c = 0; c < C; ++c) ncls += r->group[c] == g;
            class_list_text(r->group, C, g, cls, sizeof(cls));
            snprintf(label, sizeof(label), "  %s-shot (%s)", group_names[g], cls);
            if (gn[g]) fprintf(tf, "%-34s %8.2f%%  (%ld / %ld)\n", label, 100.0 * gc[g] / gn[g], gc[g], gn[g]);
            else fprintf(tf, "%-34s %9s  (no test images)\n", label, "-");
            fprintf(fa, "%s,%d,%ld,%ld,", group_names[g], ncls, gn[g], gc[g]);
            if (gn[g]) fprintf(fa, "%.6f,", (double)gc[g] / gn[g]);
            else fprintf(fa, "nan,");
            ood_csv_field(fa, r->rule);
            fputc('\n', fa);
        }
        fprintf(tf, "  rule: %s; training counts from %s\n", r->rule, r->count_source);
    } else {
        fprintf(tf, "  many/medium/few-shot: not computed (no readable train= list in %s and no -counts FILE)\n", r->o.data);
    }
    close_out(fa, r->o.out, "accuracy.csv");
    fpc = open_out(r->o.out, "per_class.csv");
    fprintf(fpc, "class,name,train_count,group,images,correct,accuracy\n");
    for (c = 0; c < C; ++c) {
        fprintf(fpc, "%d,", c);
        ood_csv_field(fpc, r->names[c]);
        if (r->counts) fprintf(fpc, ",%d,%s", r->counts[c], group_names[r->group[c]]);
        else fprintf(fpc, ",,");
        fprintf(fpc, ",%ld,%ld,", cn[c], cc[c]);
        if (cn[c]) fprintf(fpc, "%.6f\n", (double)cc[c] / cn[c]);
        else fprintf(fpc, "nan\n");
    }
    close_out(fpc, r->o.out, "per_class.csv");
    free(cc);
    free(cn);
}

/* Row s of the metrics table: OOD set s, or (s == nood) the average over the sets. */
static ood_metrics metrics_row(const ood_run *r, int s, int k)
{
    ood_metrics a;
    int i;
    if (s < r->nood) return r->m[s][k];
    memset(&a, 0, sizeof(a));
    for (i = 0; i < r->nood; ++i) {
        a.auroc += r->m[i][k].auroc / r->nood;
        a.aupr_in += r->m[i][k].aupr_in / r->nood;
        a.aupr_out += r->m[i][k].aupr_out / r->nood;
        a.fpr += r->m[i][k].fpr / r->nood;
        a.fpr_oodpos += r->m[i][k].fpr_oodpos / r->nood;
    }
    a.threshold = r->m[0][k].threshold;
    a.tpr = r->m[0][k].tpr;
    return a;
}

/* The OOD part of the table, its conventions, and metrics.csv. */
static void report_metrics(ood_run *r)
{
    const ood_options *o = &r->o;
    FILE *tf = r->tf, *fm = open_out(o->out, "metrics.csv");
    char fpr_name[16], oodpos_name[24], odin_note[160], posthoc_note[512] = "";
    int s, i, a;
    snprintf(fpr_name, sizeof(fpr_name), "FPR%.0f", 100 * o->tpr);
    snprintf(oodpos_name, sizeof(oodpos_name), "FPR%.0f-OOD+", 100 * o->tpr);
    /* fpr95 with the default -tpr 0.95 */
    fprintf(fm, "set,images,score,auroc,aupr_in,aupr_out,fpr%.0f,threshold,id_accepted", 100 * o->tpr);
    if (o->openood_fpr) fprintf(fm, ",fpr%.0f_oodpos", 100 * o->tpr);
    fputc('\n', fm);
    const int sw = o->posthoc ? 11 : 9;   /* width of the score column: "mahalanobis" */
    fprintf(tf, "\n%-12s %7s  %-*s %7s %8s %9s %7s", "OOD set", "images", sw, "score", "AUROC", "AUPR-in", "AUPR-out", fpr_name);
    if (o->openood_fpr) fprintf(tf, " %11s", oodpos_name);
    fputc('\n', tf);
    for (s = 0; s <= r->nood; ++s) {
        const int avg = s == r->nood;
        int total = 0;
        if (avg && r->nood < 2) break;
        if (avg) for (i = 1; i < r->nsets; ++i) total += r->sets[i].n;
        for (a = 0; a < r->nactive; ++a) {
            const int k = r->active[a];
            const ood_metrics m = metrics_row(r, s, k);
            const char *set = avg ? "average" : r->sets[s + 1].name;
            const int n = avg ? total : r->sets[s + 1].n;
            if (a == 0) fprintf(tf, "%-12s %7d  ", set, n);
            else fprintf(tf, "%-12s %7s  ", "", "");
            fprintf(tf, "%-*s %7.2f %8.2f %9.2f %7.2f", sw, ood_score_name(k), 100 * m.auroc, 100 * m.aupr_in,
                    100 * m.aupr_out, 100 * m.fpr);
            if (o->openood_fpr) fprintf(tf, " %11.2f", 100 * m.fpr_oodpos);
            fputc('\n', tf);
            fprintf(fm, "%s,%d,%s,%.6f,%.6f,%.6f,%.6f,%.17g,%.6f",
                    set, n, ood_score_name(k), m.auroc, m.aupr_in, m.aupr_out, m.fpr, m.threshold, m.tpr);
            if (o->openood_fpr) fprintf(fm, ",%.6f", m.fpr_oodpos);
            fputc('\n', fm);
        }
    }
    close_out(fm, o->out, "metrics.csv");
    if (o->use_odin) snprintf(odin_note, sizeof(odin_note), "ODIN: T = %g, eps = %g (inputs in [0, 1])", o->odin_t, o->odin_eps);
    else snprintf(odin_note, sizeof(odin_note), "ODIN skipped (-noodin)");
    if (o->posthoc)
        snprintf(posthoc_note, sizeof(posthoc_note),
                 "\nPost-hoc (OpenOOD): gen gamma = %g, M = %d; react clip %.6g = percentile %g of the training\n"
                 "features; knn k = %d; mahalanobis ridge %.3g; training features: %d images, %d values each.\n",
                 r->pp.gen_gamma, r->pp.gen_m, r->stats.react_clip, o->react_p, o->knn_k, r->stats.ridge, r->stats.N,
                 r->stats.D);
    fprintf(tf, "\nIn percent. ID is the positive class; a higher score means more in-distribution; an image is\n"
                "accepted as ID when score >= t, t running over the distinct score values (no interpolation;\n"
                "sklearn's roc_curve with drop_intermediate=False). AUROC: trapezoidal, ties count 1/2.\n"
                "AUPR-in: average precision with ID positive, step-wise sum of (R_t - R_prev) P_t without\n"
                "interpolation (sklearn's average_precision_score); AUPR-out: the same with OOD positive and\n"
                "the scores negated. FPR%.0f: fraction of OOD images accepted at the highest t accepting at\n"
                "least %.0f%% of the ID test images. %s.\n",
            100 * o->tpr, 100 * o->tpr, odin_note);
    if (o->openood_fpr)
        fprintf(tf, "%s: OpenOOD's convention, OOD the positive class: the fraction of ID test images flagged\n"
                    "(score <= u) at the lowest u flagging at least %.0f%% of the OOD images.\n",
                oodpos_name, 100 * o->tpr);
    fputs(posthoc_note, tf);
}

/* The deployment threshold: the -score value accepting -tpr of the ID test images, written to
 * DIR/threshold.ood and, with -deploy only, next to the weights (where predict and demo look):
 * an evaluation with other sets or another -score never replaces a deployed threshold unasked. */
static void save_threshold(ood_run *r)
{
    const ood_options *o = &r->o;
    double *id = score_column(&r->sets[0], o->score);
    char *deployed = ood_threshold_path(o->weights), path[4096], err[1024];
    ood_threshold t;
    double id_accepted;
    memset(&t, 0, sizeof(t));
    t.score = o->score;
    t.threshold = ood_threshold_at_tpr_d(id, r->sets[0].n, o->tpr, &id_accepted);
    t.tpr_target = o->tpr;
    t.id_accepted = id_accepted;
    t.id_images = r->sets[0].n;
    t.odin_t = o->odin_t;
    t.odin_eps = o->odin_eps;
    t.classes = r->C;
    if (!ood_threshold_fingerprint(&t, o->cfg, o->weights, err, sizeof(err)))
        ood_fail(CMD, "cannot fingerprint the model: %s", err);
    snprintf(path, sizeof(path), "%s/threshold.ood", o->out);
    if (!ood_threshold_save(path, &t, o->cfg, r->valid_list, err, sizeof(err)) ||
        (o->deploy && !ood_threshold_save(deployed, &t, o->cfg, r->valid_list, err, sizeof(err))))
        ood_fail(CMD, "cannot save the threshold: %s", err);
    fprintf(r->tf, "\nThreshold: %s >= %.17g accepts %.2f%% of the ID test images; saved to %s%s%s\n",
            ood_score_name(o->score), t.threshold, 100 * id_accepted, path, o->deploy ? " and " : "",
            o->deploy ? deployed : "");
    if (!o->deploy && access(deployed, F_OK) == 0)
        fprintf(stderr, "classifier ood: the deployed threshold %s is left as it is (-deploy replaces it)\n", deployed);
    free(deployed);
    free(id);
}

/* The table on stdout and in summary.txt; scores.csv. */
static void write_summary(ood_run *r)
{
    FILE *fs;
    fclose(r->tf);
    fputs(r->text, stdout);
    fs = open_out(r->o.out, "summary.txt");
    fputs(r->text, fs);
    close_out(fs, r->o.out, "summary.txt");
    write_scores_csv(r->o.out, r->sets, r->nsets, r->o.use_odin, r->o.posthoc);
    printf("Results in %s/ (summary.txt, scores.csv, metrics.csv, accuracy.csv, per_class.csv, roc_*.csv, hist_*.csv); "
           "plots: scripts/plot-ood %s\n", r->o.out, r->o.out);
    fflush(stdout);
}

static void free_run(ood_run *r)
{
    int s, i;
    free(r->text);
    ood_scorer_free(&r->sc);
    free_network(r->net);
    for (s = 0; s < r->nsets; ++s) {
        ood_free_list(r->sets[s].paths, r->sets[s].n, r->sets[s].line_no);
        free(r->sets[s].scores);
        free(r->sets[s].label);
        free(r->sets[s].pred);
        free(r->sets[s].prob);
    }
    for (i = 0; i < r->o.nflag_sets; ++i) free(r->o.flag_name[i]);
    free(r->counts);
    free(r->group);
    ood_stats_free(&r->stats);
}

int ood_command_ood(int argc, char **argv)
{
    ood_run *r = calloc(1, sizeof(ood_run));
    int s;
    parse_options(argc, argv, &r->o);
    read_data_file(r);
    load_sets(r);
    load_train_counts(r);
    load_model(r);
    load_train_stats(r);
    for (s = 0; s < r->nsets; ++s)
        score_set(&r->sc, &r->sets[s], r->net->w, r->net->h, &r->stats, r->o.posthoc ? &r->pp : 0);
    compute_metrics(r);
    r->tf = open_memstream(&r->text, &r->text_len);
    report_accuracy(r);
    report_metrics(r);
    save_threshold(r);
    write_summary(r);
    free_run(r);
    free(r);
    return 0;
}
