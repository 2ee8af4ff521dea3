/* WEIGHTS.ood: see ood_threshold.h. */
#include "ood_threshold.h"

#include <errno.h>
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
    char text[8192], ot[32], oe[32];
    int n = snprintf(text, sizeof(text),
        "# OOD threshold for darknet classifier predict and demo, written by darknet classifier ood.\n"
        "# An image is known when its score >= threshold, else unknown.\n"
        "score=%s\n"
        "threshold=%.9g\n"
        "tpr_target=%.6g\n"
        "id_accepted=%.6f\n"
        "id_images=%d\n"
        "id_list=%s\n"
        "odin_temperature=%s\n"
        "odin_epsilon=%s\n"
        "energy_temperature=1\n"
        "classes=%d\n"
        "cfg=%s\n"
        "weights_size=%lld\n"
        "weights_fnv1a=%016llx\n",
        ood_score_name(t->score), t->threshold, t->tpr_target, t->id_accepted,
        t->id_images, id_list, float_text(ot, sizeof(ot), t->odin_t), float_text(oe, sizeof(oe), t->odin_eps), t->classes, cfg, t->weights_size, t->weights_fnv1a);
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
    return end != s && !*end && !errno && isfinite(*v);
}

int ood_threshold_load(const char *path, ood_threshold *t, char *err, int errlen)
{
    FILE *fp = fopen(path, "r");
    char *line;
    int no = 0, have_score = 0, have_thr = 0;
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
    while ((line = fgetl(fp))) {
        char *eq, *key = line, *val;
        double v;
        int ok = 1;
        ++no;
        while (*key == ' ' || *key == '\t') ++key;
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
        if (strcmp(key, "score") == 0) {
            t->score = ood_score_from_name(val);
            ok = t->score >= 0;
            have_score = ok;
        } else if (strcmp(key, "threshold") == 0) {
            ok = parse_double(val, &v);
            t->threshold = (float)v;
            have_thr = ok;
        } else if (strcmp(key, "tpr_target") == 0) {
            ok = parse_double(val, &t->tpr_target) && t->tpr_target > 0 && t->tpr_target <= 1;
        } else if (strcmp(key, "id_accepted") == 0) {
            ok = parse_double(val, &t->id_accepted);
        } else if (strcmp(key, "id_images") == 0) {
            ok = parse_double(val, &v) && v >= 0;
            t->id_images = (int)v;
        } else if (strcmp(key, "odin_temperature") == 0) {
            ok = parse_double(val, &v) && v > 0;
            t->odin_t = (float)v;
        } else if (strcmp(key, "odin_epsilon") == 0) {
            ok = parse_double(val, &v) && v >= 0;
            t->odin_eps = (float)v;
        } else if (strcmp(key, "classes") == 0) {
            ok = parse_double(val, &v) && v >= 0;
            t->classes = (int)v;
        } else if (strcmp(key, "weights_size") == 0) {
            ok = parse_double(val, &v);
            t->weights_size = (long long)v;
        } else if (strcmp(key, "weights_fnv1a") == 0) {
            char *end;
            t->weights_fnv1a = strtoull(val, &end, 16);
            ok = end != val && !*end;
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
    return 1;
}
