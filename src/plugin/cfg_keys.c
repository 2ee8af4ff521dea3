#include "cfg_keys.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "network.h"
#include "option_list.h"

void cfg_fail(const plugin_params *p, const char *key, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "\ndarknet: error: %s: layer %d %s: key '%s': ", p->file, p->index, p->type, key);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    exit(1);
}

static int parse_long(const char *s, long *v)
{
    char *end;
    errno = 0;
    *v = strtol(s, &end, 10);
    while (*end == ' ' || *end == '\t') ++end;
    return end != s && *end == 0 && errno == 0;
}

static int parse_double(const char *s, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    while (*end == ' ' || *end == '\t') ++end;
    return end != s && *end == 0 && errno == 0 && *v == *v;
}

static int int_value(const plugin_params *p, const char *key, const char *s, int lo, int hi)
{
    long v;
    if (!parse_long(s, &v)) cfg_fail(p, key, "'%s' is not an integer", s);
    if (v < lo || v > hi) cfg_fail(p, key, "%ld is out of range [%d, %d]", v, lo, hi);
    return (int)v;
}

int cfg_int(list *options, const plugin_params *p, const char *key, int def, int lo, int hi)
{
    const char *s = option_find(options, (char *)key);
    return s ? int_value(p, key, s, lo, hi) : def;
}

int cfg_int_required(list *options, const plugin_params *p, const char *key, int lo, int hi)
{
    const char *s = option_find(options, (char *)key);
    if (!s) cfg_fail(p, key, "is required (an integer in [%d, %d])", lo, hi);
    return int_value(p, key, s, lo, hi);
}

float cfg_float(list *options, const plugin_params *p, const char *key, float def,
                float lo, int lo_open, float hi, int hi_open)
{
    const char *s = option_find(options, (char *)key);
    double v;
    if (!s) return def;
    if (!parse_double(s, &v)) cfg_fail(p, key, "'%s' is not a number", s);
    if (v < lo || v > hi || (lo_open && v == lo) || (hi_open && v == hi))
        cfg_fail(p, key, "%g is out of range %c%g, %g%c", v, lo_open ? '(' : '[', lo, hi,
                 hi_open ? ')' : ']');
    return (float)v;
}

const char *cfg_str(list *options, const plugin_params *p, const char *key, const char *def)
{
    const char *s = option_find(options, (char *)key);
    (void)p;
    return s ? s : def;
}

int cfg_choice(list *options, const plugin_params *p, const char *key, int def_index,
               const char *const *choices)
{
    const char *s = option_find(options, (char *)key);
    int i;
    if (!s) return def_index;
    for (i = 0; choices[i]; ++i)
        if (strcmp(s, choices[i]) == 0) return i;
    {
        char buf[512] = "";
        for (i = 0; choices[i]; ++i) {
            strncat(buf, i ? ", " : "", sizeof(buf) - strlen(buf) - 1);
            strncat(buf, choices[i], sizeof(buf) - strlen(buf) - 1);
        }
        cfg_fail(p, key, "'%s' is not one of: %s", s, buf);
    }
}

int cfg_layer_list(list *options, const plugin_params *p, const char *key, int *out, int max)
{
    const char *s = option_find(options, (char *)key);
    char buf[1024];
    char *tok, *save = 0;
    int n = 0;
    if (!s) cfg_fail(p, key, "is required (comma-separated layer indices)");
    if (strlen(s) >= sizeof(buf)) cfg_fail(p, key, "value too long");
    strcpy(buf, s);
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(0, ",", &save)) {
        long v;
        if (!parse_long(tok, &v)) cfg_fail(p, key, "'%s' is not a layer index", tok);
        if (v < 0) v += p->index;
        if (v < 0 || v >= p->index)
            cfg_fail(p, key, "layer %ld is not an earlier layer (this is layer %d)", v, p->index);
        if (n >= max) cfg_fail(p, key, "more than %d layers", max);
        out[n++] = (int)v;
    }
    if (n == 0) cfg_fail(p, key, "names no layer");
    return n;
}

const char *cfg_layer_type_name(const network *net, int i)
{
    const layer *l = &net->layers[i];
    return l->type == PLUGIN ? l->plugin->name : get_layer_string(l->type);
}

void cfg_layers_distinct(const plugin_params *p, const char *key, const int *idx, int n)
{
    int i, j, times;
    for (i = 0; i < n; ++i) {
        for (j = 0, times = 0; j < n; ++j) times += idx[j] == idx[i];
        if (times > 1)
            cfg_fail(p, key, "names layer %d [%s] %d times: each must be a different layer", idx[i],
                     cfg_layer_type_name(p->net, idx[i]), times);
    }
}

/* By type alone: a [connected] layer may hold features or logits, so the parsers add the
 * order of the layers (logits are computed from features, a prediction from a projection). */
const char *cfg_not_logits(const network *net, int i)
{
    const layer *l = &net->layers[i];
    if (l->type == SOFTMAX || plugin_layer_is(l, PLUGIN_TYPE_EXPERT_SOFTMAX))
        return "its outputs are probabilities, not logits";
    if (l->type == COST) return "a cost layer has no logits";
    if (l->type == PLUGIN && !plugin_layer_is(l, PLUGIN_TYPE_COSINE))
        return l->plugin->loss_only ? "a loss layer has no logits" : "its outputs are not logits";
    return 0;
}

const char *cfg_not_features(const network *net, int i)
{
    const layer *l = &net->layers[i];
    if (plugin_layer_is(l, PLUGIN_TYPE_COSINE)) return "its outputs are logits (class scores), not features";
    if (l->type == SOFTMAX || plugin_layer_is(l, PLUGIN_TYPE_EXPERT_SOFTMAX))
        return "its outputs are probabilities, not features";
    if (l->type == COST) return "a cost layer has no features";
    if (l->type == PLUGIN)
        return l->plugin->loss_only ? "a loss layer has no features" : "its outputs are not features";
    return 0;
}
