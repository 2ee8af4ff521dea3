/* WEIGHTS.ood: see ood_threshold.h. */
#include "ood_threshold.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ood_io.h"
#include "ood_score.h"

char *ood_threshold_path(const char *weights)
{
    size_t n = strlen(weights);
    char *p = malloc(n + 5);
    memcpy(p, weights, n);
    memcpy(p + n, ".ood", 5);
    return p;
}

/* The shortest %g text that reads back as the same float (at most 9 digits always do), for
 * settings people read. The threshold is written with %.9g like the scores in scores.csv, so
 * that tools comparing the texts as doubles agree with the float comparison. */
static const char *float_text(char *buf, int len, float v)
{
    int digits;
    for (digits = 6; digits < 9; ++digits) {
        snprintf(buf, len, "%.*g", digits, v);
        if (strtof(buf, 0) == v) return buf;
    }
    snprintf(buf, len, "%.9g", v);
    return buf;
}

int ood_threshold_save(const char *path, const ood_threshold *t, const char *cfg, const char *id_list,
                       char *err, int errlen)
{
    char text[8192], ot[32], oe[32], thr_text[40];
    int n;
    /* %.17g reads back as the same double */
    snprintf(thr_text, sizeof(thr_text), "%.17g", t->threshold);
    n = snprintf(text, sizeof(text),
        "# OOD threshold for darknet classifier predict and demo, written by darknet classifier ood.\n"
        "# An image is known when its score >= threshold, else unknown.\n"
        "score=%s\n"
        "threshold=%s\n"
        "tpr_target=%.6g\n"
        "id_accepted=%.6f\n"
        "id_images=%d\n"
        "id_list=%s\n"
        "odin_temperature=%s\n"
        "odin_epsilon=%s\n"
        "energy_temperature=1\n"
        "classes=%d\n"
        "cfg=%s\n"
        "cfg_size=%lld\n"
        "cfg_fnv1a=%016llx\n"
        "weights_size=%lld\n"
        "weights_fnv1a=%016llx\n",
        ood_score_name(t->score), thr_text, t->tpr_target, t->id_accepted,
        t->id_images, id_list, float_text(ot, sizeof(ot), t->odin_t), float_text(oe, sizeof(oe), t->odin_eps), t->classes, cfg, t->cfg_size, t->cfg_fnv1a, t->weights_size, t->weights_fnv1a);
    if (!ood_is_finite(t->threshold)) {
        snprintf(err, errlen, "the threshold %g is not a finite number", t->threshold);
        return 0;
    }
    if (n < 0 || n >= (int)sizeof(text)) {
        snprintf(err, errlen, "the paths are too long for the threshold file");
        return 0;
    }
    if (strchr(id_list, '\n') || strchr(cfg, '\n')) {
        snprintf(err, errlen, "a path holds a line break");
        return 0;
    }
    return ood_write_atomic(path, text, err, errlen);
}

static int parse_double(const char *s, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return end != s && !*end && !errno && ood_is_finite(*v);
}

static int parse_hex64(const char *s, unsigned long long *v)
{
    char *end;
    errno = 0;
    *v = strtoull(s, &end, 16);
    return end != s && !*end && !errno && s[0] != '-';
}

/* The keys a file may hold (each at most once). */
static const char *const known_keys[] = {
    "score", "threshold", "tpr_target", "id_accepted", "id_images", "id_list", "odin_temperature",
    "odin_epsilon", "energy_temperature", "classes", "cfg", "cfg_size", "cfg_fnv1a", "weights_size",
    "weights_fnv1a"};
#define NKEYS ((int)(sizeof(known_keys) / sizeof(known_keys[0])))

int ood_threshold_load(const char *path, ood_threshold *t, char *err, int errlen)
{
    FILE *fp = fopen(path, "r");
    char *line;
    int no = 0, have_score = 0, have_thr = 0;
    int seen[NKEYS] = {0};   /* line of each known key, 0 when not seen */
    if (!fp) {
        if (errno == ENOENT) return 0;
        snprintf(err, errlen, "cannot open %s (%s)", path, strerror(errno));
        return -1;
    }
    memset(t, 0, sizeof(*t));
    t->tpr_target = 0.95;
    t->id_accepted = NAN;
    t->odin_t = 1000;
    t->odin_eps = 0.0014f;
    t->weights_size = -1;
    t->cfg_size = -1;
    while ((line = fgetl(fp))) {
        char *eq, *key = line, *val;
        double v;
        int ok = 1, k;
        ++no;
        while (*key == ' ' || *key == '\t') ++key;
        key[strcspn(key, "\r")] = 0;
        if (!*key || *key == '#') {
            free(line);
            continue;
        }
        eq = strchr(key, '=');
        if (!eq) {
            snprintf(err, errlen, "%s line %d: not key=value: '%s'", path, no, key);
            free(line);
            fclose(fp);
            return -1;
        }
        *eq = 0;
        val = eq + 1;
        for (k = 0; k < NKEYS && strcmp(key, known_keys[k]) != 0; ++k) {}
        if (k < NKEYS) {
            if (seen[k]) {
                snprintf(err, errlen, "%s line %d: %s given twice (first on line %d)", path, no, key, seen[k]);
                free(line);
                fclose(fp);
                return -1;
            }
            seen[k] = no;
        }
        if (strcmp(key, "score") == 0) {
            t->score = ood_score_from_name(val);
            ok = t->score >= 0;
            have_score = ok;
        } else if (strcmp(key, "threshold") == 0) {
            /* a double inside float range, so that the float is finite too */
            ok = parse_double(val, &v) && fabs(v) <= FLT_MAX;
            t->threshold = v;
            have_thr = ok;
        } else if (strcmp(key, "tpr_target") == 0) {
            ok = parse_double(val, &t->tpr_target) && t->tpr_target > 0 && t->tpr_target <= 1;
        } else if (strcmp(key, "id_accepted") == 0) {
            ok = parse_double(val, &t->id_accepted) && t->id_accepted >= 0 && t->id_accepted <= 1;
        } else if (strcmp(key, "id_images") == 0) {
            ok = parse_double(val, &v) && v >= 0 && v <= INT_MAX && v == floor(v);
            t->id_images = ok ? (int)v : 0;
        } else if (strcmp(key, "odin_temperature") == 0) {
            ok = parse_double(val, &v) && v > 0 && v <= FLT_MAX;
            t->odin_t = (float)v;
        } else if (strcmp(key, "odin_epsilon") == 0) {
            ok = parse_double(val, &v) && v >= 0 && v <= FLT_MAX;
            t->odin_eps = (float)v;
        } else if (strcmp(key, "classes") == 0) {
            ok = parse_double(val, &v) && v >= 0 && v <= INT_MAX && v == floor(v);
            t->classes = ok ? (int)v : 0;
        } else if (strcmp(key, "weights_size") == 0 || strcmp(key, "cfg_size") == 0) {
            ok = parse_double(val, &v) && v >= 0 && v < 9e18;
            *(key[0] == 'w' ? &t->weights_size : &t->cfg_size) = ok ? (long long)v : -1;
        } else if (strcmp(key, "weights_fnv1a") == 0) {
            ok = parse_hex64(val, &t->weights_fnv1a);
        } else if (strcmp(key, "cfg_fnv1a") == 0) {
            ok = parse_hex64(val, &t->cfg_fnv1a);
        } else if (strcmp(key, "energy_temperature") == 0) {
            ok = parse_double(val, &v) && v == 1;
        }
        /* Other keys (id_list, cfg) are for people reading the file. */
        if (!ok) {
            snprintf(err, errlen, "%s line %d: bad value '%s' for %s", path, no, val, key);
            free(line);
            fclose(fp);
            return -1;
        }
        free(line);
    }
    fclose(fp);
    if (!have_score || !have_thr) {
        snprintf(err, errlen, "%s has no %s line", path, have_score ? "threshold=" : "score=");
        return -1;
    }
    /* msp and odin are log probabilities (<= 0); a positive threshold is a probability-space
     * file of an earlier version, which would reject every image here. */
    if ((t->score == OOD_MSP || t->score == OOD_ODIN) && t->threshold > 0) {
        snprintf(err, errlen, "%s: threshold=%.9g for %s: %s scores are log probabilities (<= 0) since the "
                 "log-space scores; this file holds a probability: rerun classifier ood to rewrite it",
                 path, t->threshold, ood_score_name(t->score), ood_score_name(t->score));
        return -1;
    }
    return 1;
}

int ood_threshold_fingerprint(ood_threshold *t, const char *cfg, const char *weights, char *err, int errlen)
{
    t->cfg_fnv1a = ood_file_fnv1a(cfg, &t->cfg_size);
    t->weights_fnv1a = ood_file_fnv1a(weights, &t->weights_size);
    if (t->cfg_size < 0 || t->weights_size < 0) {
        snprintf(err, errlen, "cannot read %s", t->cfg_size < 0 ? cfg : weights);
        return 0;
    }
    return 1;
}

int ood_threshold_matches(const ood_threshold *t, const char *path, const char *cfg, const char *weights,
                          int classes, char *err, int errlen)
{
    ood_threshold now;
    char why[256];
    if (t->cfg_size < 0 || t->weights_size < 0) {
        snprintf(err, errlen, "%s records no %s fingerprint (cfg_size/cfg_fnv1a, weights_size/weights_fnv1a), so it "
                              "cannot be matched to this model: make it again with darknet classifier ood -deploy",
                 path, t->cfg_size < 0 ? "cfg" : "weights");
        return 0;
    }
    if (!ood_threshold_fingerprint(&now, cfg, weights, why, sizeof(why))) {
        snprintf(err, errlen, "%s", why);
        return 0;
    }
    if (now.cfg_size != t->cfg_size || now.cfg_fnv1a != t->cfg_fnv1a)
        snprintf(why, sizeof(why), "the cfg %s (%lld bytes, fnv1a %016llx) is not the one it was made with (%lld bytes, %016llx)",
                 cfg, now.cfg_size, now.cfg_fnv1a, t->cfg_size, t->cfg_fnv1a);
    else if (now.weights_size != t->weights_size || now.weights_fnv1a != t->weights_fnv1a)
        snprintf(why, sizeof(why), "the weights %s (%lld bytes, fnv1a %016llx) are not the ones it was made with (%lld bytes, %016llx)",
                 weights, now.weights_size, now.weights_fnv1a, t->weights_size, t->weights_fnv1a);
    else if (t->classes && t->classes != classes)
        snprintf(why, sizeof(why), "it was made for %d classes, the .data file has %d", t->classes, classes);
    else
        return 1;
    snprintf(err, errlen, "%s belongs to another model: %s; run darknet classifier ood -deploy for this model, "
                          "or give the right file with -threshold", path, why);
    return 0;
}
