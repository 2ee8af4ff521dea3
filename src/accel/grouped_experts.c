/* Separate expert branches <-> grouped convolutions: the parameter map. See grouped_experts.h. */
#include "grouped_experts.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cbcl_layer.h"
#include "layer_registry.h"
#include "network.h"

static int fail(char *err, int errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, int errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen > 0) vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *type_name(const layer *l)
{
    if (l->type == PLUGIN) return l->plugin ? l->plugin->name : "plugin";
    return get_layer_string(l->type);
}

int grouped_layer_buffers(const layer *l, int which, float **buf, int *len, const char **name)
{
    int n = 0, k = 0;
    const int grads = which == GROUPED_GRADIENTS;
#define ADD(ptr, count, label) do { buf[k] = (ptr); len[k] = (count); name[k] = (label); ++k; } while (0)
    switch (l->type) {
    case CONVOLUTIONAL:
    case CONNECTED:
        n = l->type == CONVOLUTIONAL ? l->n : l->outputs;
        ADD(grads ? l->weight_updates : l->weights, l->type == CONVOLUTIONAL ? l->nweights : l->inputs * l->outputs,
            grads ? "weight gradient" : "weights");
        ADD(grads ? l->bias_updates : l->biases, n, grads ? "bias gradient" : "biases");
        if (l->batch_normalize) {
            ADD(grads ? l->scale_updates : l->scales, n, grads ? "scale gradient" : "batch-norm scales");
            if (!grads) {
                ADD(l->rolling_mean, n, "rolling mean");
                ADD(l->rolling_variance, n, "rolling variance");
            }
        }
        break;
    case BATCHNORM:
        ADD(grads ? l->scale_updates : l->scales, l->c, grads ? "scale gradient" : "batch-norm scales");
        ADD(grads ? l->bias_updates : l->biases, l->c, grads ? "bias gradient" : "biases");
        if (!grads) {
            ADD(l->rolling_mean, l->c, "rolling mean");
            ADD(l->rolling_variance, l->c, "rolling variance");
        }
        break;
    case PLUGIN:
        if (plugin_layer_is(l, PLUGIN_TYPE_COSINE)) {
            ADD(grads ? l->weight_updates : l->weights, l->nweights, grads ? "weight gradient" : "weights");
        } else if (plugin_layer_is(l, PLUGIN_TYPE_CBCL)) {
            const cbcl_state *st = l->plugin_state;
            ADD(grads ? st->center_updates : st->centers, st->K * st->C * st->D,
                grads ? "center gradient" : "class centers");
        }
        break;
    default:
        break;
    }
#undef ADD
    return k;
}

/* 1: a layer with parameters this map knows; 0: none; -1: parameters it cannot map. */
static int has_params(const layer *l)
{
    switch (l->type) {
    case CONVOLUTIONAL: case CONNECTED: case BATCHNORM: return 1;
    case LOCAL: case DECONVOLUTIONAL: case RNN: case GRU: case LSTM: case CRNN: return -1;
    case PLUGIN: return plugin_layer_is(l, PLUGIN_TYPE_COSINE) || plugin_layer_is(l, PLUGIN_TYPE_CBCL);
    default: return 0;
    }
}

/* The indices of the layers with parameters; their count, or -1. */
static int param_layers(const network *net, const char *which, int *idx, char *err, int errlen)
{
    int i, n = 0;
    for (i = 0; i < net->n; ++i) {
        const int p = has_params(&net->layers[i]);
        if (p < 0)
            return fail(err, errlen, "%s network: layer %d [%s] has parameters the grouped map does not know",
                        which, i, type_name(&net->layers[i]));
        if (p) idx[n++] = i;
    }
    return n;
}

/* Whether separate layer s is block `part` of `parts` of grouped layer g (parts 1: the same
   layer); the reason in err when not. */
static int corresponds(const network *sep, int si, const network *grp, int gi, int parts, char *err, int errlen)
{
    const layer *s = &sep->layers[si], *g = &grp->layers[gi];
    float *sb[GROUPED_MAX_BUFFERS], *gb[GROUPED_MAX_BUFFERS];
    int sl[GROUPED_MAX_BUFFERS], gl[GROUPED_MAX_BUFFERS], ns, ng, b;
    const char *names[GROUPED_MAX_BUFFERS];
#define WHY(...) fail(err, errlen, "separate layer %d [%s] and grouped layer %d [%s] do not correspond: " __VA_ARGS__)
    if (s->type != g->type || s->plugin != g->plugin)
        return WHY("different types", si, type_name(s), gi, type_name(g));
    if (s->type == CONVOLUTIONAL) {
        if (s->size != g->size || s->stride != g->stride || s->pad != g->pad
            || s->batch_normalize != g->batch_normalize || s->activation != g->activation)
            return WHY("size, stride, padding, batch norm or activation differ", si, type_name(s), gi, type_name(g));
        if (s->h != g->h || s->w != g->w || g->n != parts * s->n || g->c != parts * s->c
            || g->groups != (parts > 1 ? parts : s->groups) || (parts > 1 && s->groups != 1))
            return WHY("%d -> %d channels in %d group(s) against %d -> %d in %d, expected %d x the separate layer's",
                       si, type_name(s), gi, type_name(g), s->c, s->n, s->groups, g->c, g->n, g->groups, parts);
    } else if (parts != 1) {
        return WHY("only convolutions can be grouped", si, type_name(s), gi, type_name(g));
    } else if (s->inputs != g->inputs || s->outputs != g->outputs || s->batch_normalize != g->batch_normalize
               || s->activation != g->activation) {
        return WHY("inputs, outputs, batch norm or activation differ (%d -> %d against %d -> %d)", si, type_name(s), gi,
                   type_name(g), s->inputs, s->outputs, g->inputs, g->outputs);
    }
    ns = grouped_layer_buffers(s, GROUPED_PARAMS, sb, sl, names);
    ng = grouped_layer_buffers(g, GROUPED_PARAMS, gb, gl, names);
    if (ns != ng) return WHY("different parameter buffers", si, type_name(s), gi, type_name(g));
    for (b = 0; b < ns; ++b)
        if (gl[b] != parts * sl[b] || (sl[b] > 0 && (!sb[b] || !gb[b])))
            return WHY("%s: %d values against %d, expected %d x", si, type_name(s), gi, type_name(g), names[b], sl[b],
                       gl[b], parts);
    return 0;
#undef WHY
}

/* Whether two separate layers have the same shape (the start of the next expert's run). */
static int same_shape(const layer *a, const layer *b)
{
    return a->type == b->type && a->plugin == b->plugin && a->n == b->n && a->c == b->c && a->size == b->size
        && a->stride == b->stride && a->inputs == b->inputs && a->outputs == b->outputs;
}

int grouped_pairs(const network *sep, const network *grp, grouped_pair *pairs, int max, char *err, int errlen)
{
    int *S = malloc(sizeof(int) * (sep->n + 1)), *G = malloc(sizeof(int) * (grp->n + 1));
    int ns, ng, P, R, K, H, Q, e, j, n = 0, ret = -1;
    if (!S || !G) { fail(err, errlen, "out of memory"); goto done; }
    if ((ns = param_layers(sep, "separate", S, err, errlen)) < 0) goto done;
    if ((ng = param_layers(grp, "grouped", G, err, errlen)) < 0) goto done;

    /* The grouped run: the first convolution with groups > 1 and those that follow it. */
    for (P = 0; P < ng; ++P)
        if (grp->layers[G[P]].type == CONVOLUTIONAL && grp->layers[G[P]].groups > 1) break;
    if (P == ng) { fail(err, errlen, "the grouped network has no convolution with groups > 1"); goto done; }
    K = grp->layers[G[P]].groups;
    for (R = 0; P + R < ng && grp->layers[G[P + R]].type == CONVOLUTIONAL && grp->layers[G[P + R]].groups == K; ++R) {}
    if (P + K * R > ns) {
        fail(err, errlen, "the separate network has %d layers with parameters, too few for %d shared and %d experts x %d",
             ns, P, K, R);
        goto done;
    }
    /* H: expert 1's head layers, up to where expert 2's run starts (a layer shaped as the
       first of expert 1's run). */
    for (H = 0; P + R + H < ns && !same_shape(&sep->layers[S[P + R + H]], &sep->layers[S[P]]); ++H) {}
    Q = ns - P - K * (R + H);
    if (P + R + H >= ns || Q < 0 || ng != P + R + K * H + Q) {
        fail(err, errlen, "the layers with parameters do not line up: separate %d = %d shared + %d experts x (%d + %d heads) + "
             "the rest, grouped %d = %d shared + %d grouped + %d x %d heads + the rest",
             ns, P, K, R, H, ng, P, R, K, H);
        goto done;
    }
    if (ns > max) { fail(err, errlen, "%d pairs, room for %d", ns, max); goto done; }
#define PAIR(si, gi, pt, pts) do { \
        if (corresponds(sep, S[si], grp, G[gi], pts, err, errlen)) goto done; \
        pairs[n].sep = S[si]; pairs[n].grp = G[gi]; pairs[n].part = pt; pairs[n].parts = pts; ++n; } while (0)
    for (j = 0; j < P; ++j) PAIR(j, j, 0, 1);
    for (e = 0; e < K; ++e) {
        for (j = 0; j < R; ++j) PAIR(P + e * (R + H) + j, P + j, e, K);
        for (j = 0; j < H; ++j) PAIR(P + e * (R + H) + R + j, P + R + e * H + j, 0, 1);
    }
    for (j = 0; j < Q; ++j) PAIR(P + K * (R + H) + j, P + R + K * H + j, 0, 1);
#undef PAIR
    ret = n;
done:
    free(S);
    free(G);
    return ret;
}

int grouped_copy(network *sep, network *grp, int to_grouped, char *err, int errlen)
{
    grouped_pair *pairs = malloc(sizeof(grouped_pair) * (sep->n + 1));
    int n, i, b;
    if (!pairs) return fail(err, errlen, "out of memory");
    n = grouped_pairs(sep, grp, pairs, sep->n + 1, err, errlen);
    for (i = 0; i < n; ++i) {
        layer *s = &sep->layers[pairs[i].sep], *g = &grp->layers[pairs[i].grp];
        float *sb[GROUPED_MAX_BUFFERS], *gb[GROUPED_MAX_BUFFERS];
        int sl[GROUPED_MAX_BUFFERS], gl[GROUPED_MAX_BUFFERS];
        const char *names[GROUPED_MAX_BUFFERS];
        const int nb = grouped_layer_buffers(s, GROUPED_PARAMS, sb, sl, names);
        grouped_layer_buffers(g, GROUPED_PARAMS, gb, gl, names);
        for (b = 0; b < nb; ++b) {
            /* A block of a grouped buffer is contiguous: filters (with their c/K x size x size
               weights) and per-filter values are laid out filter by filter. */
            float *block = gb[b] + (size_t)pairs[i].part * sl[b];
            if (to_grouped) memcpy(block, sb[b], sizeof(float) * sl[b]);
            else memcpy(sb[b], block, sizeof(float) * sl[b]);
        }
        if (plugin_layer_is(s, PLUGIN_TYPE_CBCL)) {
            const cbcl_state *ss = s->plugin_state, *gs = g->plugin_state;
            if (to_grouped) memcpy(gs->started, ss->started, sizeof(int) * ss->C);
            else memcpy(ss->started, gs->started, sizeof(int) * ss->C);
        }
    }
    free(pairs);
    return n < 0 ? -1 : 0;
}
