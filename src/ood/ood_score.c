/* OOD scores and ODIN's input gradient; see ood_score.h.
 *
 * Glossary: B rows, C classes, X inputs per row.
 */
#include "ood_score.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "expert_softmax_layer.h"
#include "layer_registry.h"
#include "network.h"
#ifdef GPU
#include "cuda.h"
#endif

/* The energy score's temperature: RICASSO (and the energy-score paper) use T = 1. */
#define OOD_ENERGY_T 1.0f

static const char *const score_names[OOD_NALL] = {"msp", "energy", "maxlogit", "odin",
                                                  "gen", "react", "knn", "mahalanobis"};

const char *ood_score_name(int kind)
{
    return kind >= 0 && kind < OOD_NALL ? score_names[kind] : "?";
}

const char *ood_score_names(char *buf, int len)
{
    int k, used = 0;
    buf[0] = 0;
    for (k = 0; k < OOD_NALL && used < len; ++k)
        used += snprintf(buf + used, len - used, "%s%s", k ? ", " : "", score_names[k]);
    return buf;
}

int ood_score_from_name(const char *name)
{
    int k;
    for (k = 0; k < OOD_NALL; ++k)
        if (strcmp(name, score_names[k]) == 0) return k;
    return -1;
}

static int is_expert_softmax(const layer *l)
{
    return plugin_layer_is(l, PLUGIN_TYPE_EXPERT_SOFTMAX);
}

int ood_find_head(network *net, ood_head *h, char *err, int errlen)
{
    layer out = get_network_output_layer(net);
    int i = -1, k;
    /* get_network_output_layer returns a copy: find its index by the output buffer. */
    for (k = net->n - 1; k >= 0; --k)
        if (net->layers[k].output == out.output) { i = k; break; }
    if (i < 0) {
        snprintf(err, errlen, "cannot locate the network's output layer");
        return 0;
    }
    memset(h, 0, sizeof(*h));
    h->layer = i;
    if (is_expert_softmax(&net->layers[i])) {
        const expert_softmax_state *st = net->layers[i].plugin_state;
        h->kind = OOD_HEAD_EXPERT;
        h->classes = st->C;
        h->temperature = 1;
        return 1;
    }
    if (net->layers[i].type == SOFTMAX) {
        const layer *l = &net->layers[i];
        if (i == 0) {
            snprintf(err, errlen, "the [softmax] is layer 0: its logits are the raw input");
            return 0;
        }
        if (l->softmax_tree || l->groups != 1) {
            snprintf(err, errlen, "layer %d is a %s [softmax]: OOD scores need one softmax over all classes",
                     i, l->softmax_tree ? "hierarchical (tree=)" : "grouped (groups > 1)");
            return 0;
        }
        if (!(l->temperature > 0)) {
            snprintf(err, errlen, "layer %d [softmax] has temperature %g", i, l->temperature);
            return 0;
        }
        h->kind = OOD_HEAD_SOFTMAX;
        h->classes = l->inputs;
        h->temperature = l->temperature;
        return 1;
    }
    snprintf(err, errlen, "the network's output layer %d is [%s]: OOD scores need a network that ends in [softmax] or [expert_softmax]",
             i, net->layers[i].type == PLUGIN ? net->layers[i].plugin->name : get_layer_string(net->layers[i].type));
    return 0;
}

int ood_argmax(const float *z, int C)
{
    int c, best = 0;
    for (c = 1; c < C; ++c)
        if (z[c] > z[best]) best = c;
    return best;
}

/* log sum_c exp(z_c / T), in double, shifted by the maximum so it cannot overflow. */
static double log_sum_exp_t(const float *z, int C, double T)
{
    double m = -DBL_MAX, s = 0;
    int c;
    for (c = 0; c < C; ++c) if (z[c] / T > m) m = z[c] / T;
    for (c = 0; c < C; ++c) s += exp(z[c] / T - m);
    return m + log(s);
}

/* log max_c softmax(z / T)_c = -log(1 + sum_{c != max} exp((z_c - z_max) / T)), through log1p:
 * MSP itself rounds to exactly 1.0 in double once the logit gap passes about 37 (cosine logits
 * at s = 30 reach it), and the tied scores inflate FPR95. In log space the score only
 * saturates past a gap of about 745 T, so distinct margins keep distinct ranks. */
double ood_log_max_softmax_t(const float *z, int C, float T)
{
    const int best = ood_argmax(z, C);
    const double m = z[best] / (double)T;
    double s = 0;
    int c;
    for (c = 0; c < C; ++c)
        if (c != best) s += exp(z[c] / (double)T - m);
    return -log1p(s);
}

double ood_max_softmax_t(const float *z, int C, float T)
{
    return exp(ood_log_max_softmax_t(z, C, T));
}

double ood_msp(const float *z, int C) { return ood_log_max_softmax_t(z, C, 1); }

double ood_energy(const float *z, int C, float T)
{
    return T * log_sum_exp_t(z, C, T);
}

double ood_maxlogit(const float *z, int C) { return z[ood_argmax(z, C)]; }

int ood_scorer_init(ood_scorer *s, network *net, float odin_t, float odin_eps, int use_odin,
                    char *err, int errlen)
{
    memset(s, 0, sizeof(*s));
    if (!ood_find_head(net, &s->head, err, errlen)) return 0;
    if (use_odin && !(odin_t > 0)) {
        snprintf(err, errlen, "ODIN temperature %g: must be > 0", odin_t);
        return 0;
    }
    if (use_odin && !(odin_eps >= 0)) {
        snprintf(err, errlen, "ODIN step %g: must be >= 0", odin_eps);
        return 0;
    }
    s->net = net;
    s->B = net->batch;
    s->C = s->head.classes;
    s->X = net->inputs;
    s->odin_t = odin_t;
    s->odin_eps = odin_eps;
    s->use_odin = use_odin;
    s->logits = calloc((size_t)s->B * s->C, sizeof(float));
    s->prob = calloc((size_t)s->B * s->C, sizeof(float));
    s->dz = calloc((size_t)s->B * s->C, sizeof(float));
    s->grad = calloc((size_t)s->B * s->X, sizeof(float));
    s->xadv = calloc((size_t)s->B * s->X, sizeof(float));
#ifdef GPU
    if (net->gpu_index >= 0) s->grad_gpu = cuda_make_array(0, s->B * s->X);
#endif
    return 1;
}

void ood_scorer_free(ood_scorer *s)
{
    free(s->src_layer);
    free(s->src_head);
    free(s->src_dim);
    free(s->feat);
    free(s->hbuf);
    free(s->logits);
    free(s->prob);
    free(s->dz);
    free(s->grad);
    free(s->xadv);
#ifdef GPU
    if (s->grad_gpu) cuda_free(s->grad_gpu);
#endif
    memset(s, 0, sizeof(*s));
}

static inline int on_gpu(const network *net)
{
#ifdef GPU
    return net->gpu_index >= 0;
#else
    (void)net;
    return 0;
#endif
}

void ood_read_logits(ood_scorer *s, float *out)
{
    network *net = s->net;
    const int B = s->B, C = s->C;
    const layer *h = &net->layers[s->head.layer];
    int i;
    if (s->head.kind == OOD_HEAD_EXPERT) {
        /* The GPU forward of [expert_softmax] computes mean_logit on the host too. */
        const expert_softmax_state *st = h->plugin_state;
        memcpy(out, st->mean_logit, sizeof(float) * B * C);
        return;
    }
    {
        const layer *prev = &net->layers[s->head.layer - 1];
#ifdef GPU
        if (on_gpu(net)) cuda_pull_array(prev->output_gpu, prev->output, B * C);
#endif
        for (i = 0; i < B * C; ++i) out[i] = prev->output[i] / s->head.temperature;
    }
}

static void softmax_rows(const float *z, int B, int C, float *p)
{
    int b, c;
    for (b = 0; b < B; ++b) {
        const double lse = log_sum_exp_t(z + b * C, C, 1);
        for (c = 0; c < C; ++c) p[b * C + c] = (float)exp(z[b * C + c] - lse);
    }
}

/* One forward pass in inference mode; the network's fields are restored afterwards, as
 * network_predict does. */
static void forward_inference(network *net, float *x)
{
    network orig = *net;
    net->input = x;
    net->truth = 0;
    net->train = 0;
    net->delta = 0;
    forward_network(net);
    *net = orig;
}

void ood_forward(ood_scorer *s, float *x)
{
    forward_inference(s->net, x);
    ood_read_logits(s, s->logits);
    softmax_rows(s->logits, s->B, s->C, s->prob);
}

static void zero_all_deltas(network *net)
{
    int i;
    for (i = 0; i < net->n; ++i) {
        layer *l = &net->layers[i];
#ifdef GPU
        if (on_gpu(net)) {
            if (l->delta_gpu) fill_gpu(l->outputs * l->batch, 0, l->delta_gpu, 1);
            continue;
        }
#endif
        if (l->delta) fill_cpu(l->outputs * l->batch, 0, l->delta, 1);
    }
}

/* Puts d log S / dz [B, C] where backward_network will pick it up. */
static void set_logit_deltas(ood_scorer *s, const float *dz)
{
    network *net = s->net;
    const int B = s->B, C = s->C;
    layer *h = &net->layers[s->head.layer];
    int i, k;
    if (s->head.kind == OOD_HEAD_SOFTMAX) {
        /* [softmax]'s backward adds its delta to its input's delta unchanged; the input is
           T_softmax * z, so d/d(input) = d/dz / T_softmax. */
        for (i = 0; i < B * C; ++i) h->delta[i] = dz[i] / s->head.temperature;
#ifdef GPU
        if (on_gpu(net)) cuda_push_array(h->delta_gpu, h->delta, B * C);
#endif
        return;
    }
    {
        /* z = (1/K) sum_k v_k, so dz/dv_k = 1/K. [expert_softmax]'s own backward does nothing
           in inference mode, so the experts' deltas are set directly. */
        const expert_softmax_state *st = h->plugin_state;
        /* Host deltas are stale on the GPU path: zero them, add (a layer listed twice gets
           both shares), then copy to the device. */
        for (k = 0; k < st->K; ++k) fill_cpu(B * C, 0, net->layers[st->expert[k]].delta, 1);
        for (k = 0; k < st->K; ++k) {
            layer *e = &net->layers[st->expert[k]];
            for (i = 0; i < B * C; ++i) e->delta[i] += dz[i] / st->K;
        }
#ifdef GPU
        if (on_gpu(net))
            for (k = 0; k < st->K; ++k) {
                layer *e = &net->layers[st->expert[k]];
                cuda_push_array(e->delta_gpu, e->delta, B * C);
            }
#endif
    }
}

void ood_input_gradient(ood_scorer *s, float *x, float T, float *grad)
{
    network *net = s->net;
    network orig = *net;
    const int B = s->B, C = s->C, X = s->X;
    int b, c;

    net->input = x;
    net->truth = 0;
    net->train = 0;
    /* backward_network hands layer 0 the network's own delta: the input gradient lands
       there (col2im and friends add to it, so it starts at 0). On the GPU it lands in
       grad_gpu; the host buffer is handed over too, zeroed, because a layer 0 that runs
       on the host ([mixdata] while it mixes, the registry's CPU fallback) pulls the
       device delta into net.delta, adds its share and pushes it back. */
    memset(grad, 0, sizeof(float) * B * X);
    net->delta = grad;
#ifdef GPU
    if (on_gpu(net)) {
        fill_gpu(B * X, 0, s->grad_gpu, 1);
        net->delta_gpu = s->grad_gpu;
    }
#endif
    forward_network(net);
    ood_read_logits(s, s->logits);
    softmax_rows(s->logits, B, C, s->prob);

    /* L = -log S = -(z_y / T - log sum exp(z / T)), y = argmax z (fixed):
       -dL/dz_c = (1[c = y] - softmax(z / T)_c) / T, Darknet's delta. */
    for (b = 0; b < B; ++b) {
        const float *z = s->logits + b * C;
        const int y = ood_argmax(z, C);
        const double lse = log_sum_exp_t(z, C, T);
        for (c = 0; c < C; ++c)
            s->dz[b * C + c] = (float)(((c == y) - exp(z[c] / (double)T - lse)) / T);
    }
    zero_all_deltas(net);
    set_logit_deltas(s, s->dz);
    backward_network(net);
#ifdef GPU
    if (on_gpu(net)) cuda_pull_array(s->grad_gpu, grad, B * X);
#endif
    *net = orig;
}

/* The rows of every feature source into s->feat [B, D], from the last pass. */
static void read_features(ood_scorer *s)
{
    network *net = s->net;
    int k, b, off = 0;
    for (k = 0; k < s->nsrc; ++k) {
        layer *l = &net->layers[s->src_layer[k]];
        const int d = s->src_dim[k];
#ifdef GPU
        if (on_gpu(net)) cuda_pull_array(l->output_gpu, l->output, l->outputs * l->batch);
#endif
        for (b = 0; b < s->B; ++b) memcpy(s->feat + (size_t)b * s->D + off, l->output + (size_t)b * d, sizeof(float) * d);
        off += d;
    }
}

static int add_source(ood_scorer *s, int src, int head, char *err, int errlen)
{
    const network *net = s->net;
    if (src < 0 || net->layers[src].outputs != net->layers[head].inputs) {
        snprintf(err, errlen, "layer %d: cannot find the layer whose output it reads (the penultimate feature)", head);
        return 0;
    }
    s->src_layer = realloc(s->src_layer, sizeof(int) * (s->nsrc + 1));
    s->src_head = realloc(s->src_head, sizeof(int) * (s->nsrc + 1));
    s->src_dim = realloc(s->src_dim, sizeof(int) * (s->nsrc + 1));
    s->src_layer[s->nsrc] = src;
    s->src_head[s->nsrc] = head;
    s->src_dim[s->nsrc] = net->layers[head].inputs;
    s->D += net->layers[head].inputs;
    ++s->nsrc;
    return 1;
}

int ood_scorer_enable_features(ood_scorer *s, char *err, int errlen)
{
    network *net = s->net;
    const int h = s->head.layer;
    int k, j, maxd = 0;
    if (s->feat) return 1;
    if (s->head.kind == OOD_HEAD_EXPERT) {
        const expert_softmax_state *st = net->layers[h].plugin_state;
        for (k = 0; k < st->K; ++k)
            if (!add_source(s, st->expert[k] - 1, st->expert[k], err, errlen)) return 0;
    } else {
        for (j = h - 1; j >= 0; --j) {
            const LAYER_TYPE t = net->layers[j].type;
            if (t == CONNECTED || t == CONVOLUTIONAL) break;
            if (t == ROUTE || t == SHORTCUT) j = 0;
        }
        if (j <= 0) {
            snprintf(err, errlen, "no [connected] or [convolutional] layer reads a feature before the [softmax] of layer %d "
                                  "(only layers that read their predecessor may lie between): the post-hoc scores need one", h);
            return 0;
        }
        if (!add_source(s, j - 1, j, err, errlen)) return 0;
    }
    for (k = 0; k < s->nsrc; ++k) if (s->src_dim[k] > maxd) maxd = s->src_dim[k];
    s->feat = calloc((size_t)s->B * s->D, sizeof(float));
    s->hbuf = calloc((size_t)s->B * maxd, sizeof(float));
    return 1;
}

void ood_forward_features(ood_scorer *s, float *x)
{
    ood_forward(s, x);
    if (s->feat) read_features(s);
}

/* Runs layer i's CPU forward in inference mode on input [B, inputs]. */
static void forward_layer(network *net, int i, float *input)
{
    network n = *net;
    layer l = net->layers[i];
    n.input = input;
    n.index = i;
    n.train = 0;
    n.truth = 0;
    n.delta = 0;
    l.forward(l, n);
}

void ood_head_logits(ood_scorer *s, const float *feat, float *logits)
{
    network *net = s->net;
    const int B = s->B, C = s->C;
    int k, b, i, off = 0;
    memset(logits, 0, sizeof(float) * B * C);
    for (k = 0; k < s->nsrc; ++k) {
        const int d = s->src_dim[k], hd = s->src_head[k];
        for (b = 0; b < B; ++b) memcpy(s->hbuf + (size_t)b * d, feat + (size_t)b * s->D + off, sizeof(float) * d);
        off += d;
        forward_layer(net, hd, s->hbuf);
        if (s->head.kind == OOD_HEAD_EXPERT) {
            /* z = (1/K) sum_k v_k, as [expert_softmax]'s mean_logit */
            for (i = 0; i < B * C; ++i) logits[i] += net->layers[hd].output[i] / s->nsrc;
        } else {
            /* the head layers up to the softmax, each on its predecessor's output */
            for (i = hd + 1; i < s->head.layer; ++i) forward_layer(net, i, net->layers[i - 1].output);
            for (i = 0; i < B * C; ++i) logits[i] = net->layers[s->head.layer - 1].output[i] / s->head.temperature;
        }
    }
}

void ood_score_batch(ood_scorer *s, float *x, double *scores)
{
    const int B = s->B, C = s->C, X = s->X;
    int b, i;
    if (s->use_odin) ood_input_gradient(s, x, s->odin_t, s->grad);
    else ood_forward(s, x);
    if (s->feat) read_features(s);
    for (b = 0; b < B; ++b) {
        const float *z = s->logits + b * C;
        double *o = scores + b * OOD_NSCORES;
        o[OOD_MSP] = ood_msp(z, C);
        o[OOD_ENERGY] = ood_energy(z, C, OOD_ENERGY_T);
        o[OOD_MAXLOGIT] = ood_maxlogit(z, C);
        o[OOD_ODIN] = NAN;
    }
    if (!s->use_odin) return;
    /* x' = x + eps * sign(d log S / dx): one step that raises S. */
    for (i = 0; i < B * X; ++i) {
        const float g = s->grad[i];
        s->xadv[i] = x[i] + s->odin_eps * (float)((g > 0) - (g < 0));
    }
    {
        /* The perturbed pass must not clobber the clean logits and probabilities. */
        float *zadv = s->dz;
        forward_inference(s->net, s->xadv);
        ood_read_logits(s, zadv);
        for (b = 0; b < B; ++b) scores[b * OOD_NSCORES + OOD_ODIN] = ood_log_max_softmax_t(zadv + b * C, C, s->odin_t);
    }
}
