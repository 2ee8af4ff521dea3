/* Darknet network -> ONNX inference graph. See onnx_export.h for what each layer becomes.
 *
 * Each exported layer i gets a value out[i]: the name of its output tensor and whether it is
 * an image [N, c, h, w] or a row [N, n]. A layer that needs the other form converts its input
 * (Flatten, or Reshape to Darknet's c, h, w of that layer). Layers the output does not
 * depend on are skipped.
 */
#include "onnx_export.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "activations.h"
#include "cosine_layer.h"
#include "expert_softmax_layer.h"
#include "layer_registry.h"
#include "network.h"
#include "onnx_graph.h"
#include "ood_score.h"

typedef struct {
    const char *name;  /* 0: not exported */
    int image;         /* 1: [N, c, h, w]; 0: [N, n] */
    int c, h, w;
    int n;             /* elements per row */
} tval;

typedef struct {
    onnx_graph *g;
    network *net;
    tval *out;            /* [net->n] */
    const char **logits;  /* [net->n] for [softmax] and [expert_softmax]: their logits */
    tval input;
    char *err;
    int errlen;
} ctx;

static int fail(ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(ctx *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->err, x->errlen, fmt, ap);
    va_end(ap);
    return 0;
}

static const char *type_name(const layer *l)
{
    if (l->type == PLUGIN) return l->plugin ? l->plugin->name : "plugin";
    return get_layer_string(l->type);
}

/* ---- dependencies ---- */

/* needed[i] = 1 when the output layer depends on layer i. Each layer reads the layer before
 * it (Darknet's net.input), except [route] (its layers=) and [expert_softmax] (its experts);
 * [shortcut] also reads its from=. */
static void mark_needed(const network *net, int head, char *needed)
{
    int i, k;
    memset(needed, 0, net->n);
    needed[head] = 1;
    /* Every dependency has a lower index: one sweep downwards settles all of them. */
    for (i = head; i >= 0; --i) {
        const layer *l = &net->layers[i];
        if (!needed[i]) continue;
        if (l->type == ROUTE) {
            for (k = 0; k < l->n; ++k) needed[l->input_layers[k]] = 1;
        } else if (plugin_layer_is(l, PLUGIN_TYPE_EXPERT_SOFTMAX)) {
            const expert_softmax_state *st = l->plugin_state;
            for (k = 0; k < st->K; ++k) needed[st->expert[k]] = 1;
        } else {
            if (i > 0) needed[i - 1] = 1;
            if (l->type == SHORTCUT) needed[l->index] = 1;
        }
    }
}

/* ---- value conversions ---- */

static tval input_of(ctx *x, int i)
{
    return i == 0 ? x->input : x->out[i - 1];
}

static tval flat(ctx *x, tval v)
{
    tval r = v;
    onnx_node *nd;
    if (!v.image) return v;
    r.name = og_name(x->g, "%s_flat", v.name);
    nd = og_node(x->g, "Flatten", r.name, r.name, 1, &v.name);
    og_attr_int(x->g, nd, "axis", 1);
    r.image = 0;
    return r;
}

static tval as_image(ctx *x, tval v, int c, int h, int w)
{
    tval r = v;
    const int64_t shape[4] = {0, c, h, w}, dims = 4;
    const char *in[2];
    if (v.image && v.c == c && v.h == h && v.w == w) return v;
    in[0] = v.name;
    in[1] = og_init_int64(x->g, og_name(x->g, "%s_shape", v.name), shape, &dims, 1);
    r.name = og_name(x->g, "%s_as_%dx%dx%d", v.name, c, h, w);
    og_node(x->g, "Reshape", r.name, r.name, 2, in);
    r.image = 1;
    r.c = c; r.h = h; r.w = w;
    return r;
}

static const char *unary(ctx *x, const char *op, const char *in, const char *out)
{
    og_node(x->g, op, out, out, 1, &in);
    return out;
}

static const char *binary(ctx *x, const char *op, const char *a, const char *b, const char *out)
{
    const char *in[2] = {a, b};
    og_node(x->g, op, out, out, 2, in);
    return out;
}

/* Darknet's activation after layer i on tensor v; 0 with err when it has no ONNX form. */
static const char *activation(ctx *x, int i, ACTIVATION a, const char *v, const char *base)
{
    const char *o = og_name(x->g, "%s_act", base);
    onnx_node *nd;
    switch (a) {
    case LINEAR: return v;
    case RELU: return unary(x, "Relu", v, o);
    case LOGISTIC: return unary(x, "Sigmoid", v, o);
    case TANH: return unary(x, "Tanh", v, o);
    case LEAKY:
    case RELIE:
        nd = og_node(x->g, "LeakyRelu", o, o, 1, &v);
        og_attr_float(x->g, nd, "alpha", a == LEAKY ? .1f : .01f);
        return o;
    case ELU:
        nd = og_node(x->g, "Elu", o, o, 1, &v);
        og_attr_float(x->g, nd, "alpha", 1);
        return o;
    case SELU:
        nd = og_node(x->g, "Selu", o, o, 1, &v);
        og_attr_float(x->g, nd, "alpha", 1.6732f);
        og_attr_float(x->g, nd, "gamma", 1.0507f);
        return o;
    default:
        fail(x, "layer %d [%s]: activation %s has no ONNX form here (supported: linear, relu, leaky, relie, logistic, tanh, elu, selu)",
             i, type_name(&x->net->layers[i]), get_activation_string(a));
        return 0;
    }
}

/* BatchNormalization with Darknet's inference statistics; channels = C of v. */
static const char *batch_norm(ctx *x, const layer *l, const char *v, const char *base, int C)
{
    const int64_t dims = C;
    const char *in[5];
    onnx_node *nd;
    const char *o = og_name(x->g, "%s_bn", base);
    in[0] = v;
    in[1] = og_init_float(x->g, og_name(x->g, "%s_bn_scale", base), l->scales, &dims, 1);
    in[2] = og_init_float(x->g, og_name(x->g, "%s_bn_bias", base), l->biases, &dims, 1);
    in[3] = og_init_float(x->g, og_name(x->g, "%s_bn_mean", base), l->rolling_mean, &dims, 1);
    in[4] = og_init_float(x->g, og_name(x->g, "%s_bn_var", base), l->rolling_variance, &dims, 1);
    nd = og_node(x->g, "BatchNormalization", o, o, 5, in);
    og_attr_float(x->g, nd, "epsilon", 1e-5f);
    return o;
}

/* ---- layers ---- */

static int export_conv(ctx *x, int i, const layer *l, const char *base)
{
    tval v = as_image(x, input_of(x, i), l->c, l->h, l->w);
    const int64_t wd[4] = {l->n, l->c / l->groups, l->size, l->size}, bd = l->n;
    const int64_t k2[2] = {l->size, l->size}, s2[2] = {l->stride, l->stride};
    const int64_t p4[4] = {l->pad, l->pad, l->pad, l->pad};
    const char *in[3], *o;
    onnx_node *nd;
    if (l->xnor || l->binary) return fail(x, "layer %d [convolutional]: binary (xnor) weights have no ONNX form here", i);
    in[0] = v.name;
    in[1] = og_init_float(x->g, og_name(x->g, "%s_w", base), l->weights, wd, 4);
    if (!l->batch_normalize) in[2] = og_init_float(x->g, og_name(x->g, "%s_b", base), l->biases, &bd, 1);
    o = og_name(x->g, "%s_conv", base);
    nd = og_node(x->g, "Conv", o, o, l->batch_normalize ? 2 : 3, in);
    og_attr_ints(x->g, nd, "kernel_shape", k2, 2);
    og_attr_ints(x->g, nd, "strides", s2, 2);
    og_attr_ints(x->g, nd, "pads", p4, 4);
    if (l->groups > 1) og_attr_int(x->g, nd, "group", l->groups);
    if (l->batch_normalize) o = batch_norm(x, l, o, base, l->n);
    if (!(o = activation(x, i, l->activation, o, base))) return 0;
    x->out[i] = (tval){o, 1, l->out_c, l->out_h, l->out_w, l->outputs};
    return 1;
}

static int export_connected(ctx *x, int i, const layer *l, const char *base)
{
    tval v = flat(x, input_of(x, i));
    const int64_t wd[2] = {l->outputs, l->inputs}, bd = l->outputs;
    const char *in[3], *o;
    onnx_node *nd;
    in[0] = v.name;
    in[1] = og_init_float(x->g, og_name(x->g, "%s_w", base), l->weights, wd, 2);
    if (!l->batch_normalize) in[2] = og_init_float(x->g, og_name(x->g, "%s_b", base), l->biases, &bd, 1);
    o = og_name(x->g, "%s_gemm", base);
    nd = og_node(x->g, "Gemm", o, o, l->batch_normalize ? 2 : 3, in);
    og_attr_int(x->g, nd, "transB", 1);
    if (l->batch_normalize) o = batch_norm(x, l, o, base, l->outputs);
    if (!(o = activation(x, i, l->activation, o, base))) return 0;
    x->out[i] = (tval){o, 0, l->out_c, l->out_h, l->out_w, l->outputs};
    return 1;
}

static int export_maxpool(ctx *x, int i, const layer *l, const char *base)
{
    tval v = as_image(x, input_of(x, i), l->c, l->h, l->w);
    /* Darknet's windows start at -pad/2; its output size leaves pad - pad/2 after. */
    const int64_t k2[2] = {l->size, l->size}, s2[2] = {l->stride, l->stride};
    const int64_t p4[4] = {l->pad / 2, l->pad / 2, l->pad - l->pad / 2, l->pad - l->pad / 2};
    const char *o = og_name(x->g, "%s_pool", base);
    onnx_node *nd = og_node(x->g, "MaxPool", o, o, 1, &v.name);
    og_attr_ints(x->g, nd, "kernel_shape", k2, 2);
    og_attr_ints(x->g, nd, "strides", s2, 2);
    og_attr_ints(x->g, nd, "pads", p4, 4);
    x->out[i] = (tval){o, 1, l->out_c, l->out_h, l->out_w, l->outputs};
    return 1;
}

/* [route] groups=G group_id=I (darknet-patches/0061): block I of G of v along axis 1, the
   channels of an image or the values of a row (one input's channel block is contiguous in
   its row), as a Slice. */
static const char *route_block(ctx *x, const char *v, int width, int id, const char *base, int k)
{
    const int64_t starts = (int64_t)id * width, ends = starts + width, axes = 1, one = 1;
    const char *in[4], *o = og_name(x->g, "%s_block%d", base, k);
    in[0] = v;
    in[1] = og_init_int64(x->g, og_name(x->g, "%s_starts", o), &starts, &one, 1);
    in[2] = og_init_int64(x->g, og_name(x->g, "%s_ends", o), &ends, &one, 1);
    in[3] = og_init_int64(x->g, og_name(x->g, "%s_axes", o), &axes, &one, 1);
    og_node(x->g, "Slice", o, o, 4, in);
    return o;
}

static int export_route(ctx *x, int i, const layer *l, const char *base)
{
    const char **in;
    const int G = l->groups > 1 ? l->groups : 1;
    int k, same = l->out_h > 0 && l->out_w > 0;
    onnx_node *nd;
    const char *o;
    if (l->n == 1 && G == 1) {
        x->out[i] = x->out[l->input_layers[0]];
        return 1;
    }
    in = calloc(l->n, sizeof(char *));
    for (k = 0; k < l->n; ++k) {
        const layer *s = &x->net->layers[l->input_layers[k]];
        tval v = x->out[l->input_layers[k]];
        in[k] = same ? as_image(x, v, s->out_c, s->out_h, s->out_w).name : flat(x, v).name;
        if (G > 1) in[k] = route_block(x, in[k], same ? s->out_c / G : s->outputs / G, l->group_id, base, k);
    }
    if (l->n == 1) {
        x->out[i] = (tval){in[0], same, l->out_c, l->out_h, l->out_w, l->outputs};
        free(in);
        return 1;
    }
    o = og_name(x->g, "%s_concat", base);
    nd = og_node(x->g, "Concat", o, o, l->n, in);
    og_attr_int(x->g, nd, "axis", 1);
    free(in);
    x->out[i] = (tval){o, same, l->out_c, l->out_h, l->out_w, l->outputs};
    return 1;
}

static int export_shortcut(ctx *x, int i, const layer *l, const char *base)
{
    tval a = input_of(x, i), b = x->out[l->index];
    const char *o;
    if (l->w != l->out_w || l->h != l->out_h || l->c != l->out_c) {
        /* Darknet's shortcut between unequal shapes (LGLA's option-A shortcut) adds from[c,
           y*s, x*s] to channel c < min(c_from, c_out) of the input: a 1x1 convolution of
           stride s whose weights are the identity on those channels and zero elsewhere; with
           groups=G (darknet-patches/0060) the same inside each of the G channel blocks. Only
           whole-number downsampling is exported: other shapes sample positions no ONNX op
           reproduces exactly. */
        const int s = l->out_w > 0 ? l->w / l->out_w : 0;
        const int G = l->groups > 1 ? l->groups : 1, cg = l->c / G, og = l->out_c / G;
        const int minc = cg < og ? cg : og;
        const int64_t wd[4] = {l->out_c, l->c, 1, 1}, k2[2] = {1, 1}, s2[2] = {s, s};
        const char *in[2];
        float *w;       /* [c_out, c_from] identity on the first minc channels of each block */
        onnx_node *nd;
        int k, gi;
        if (s < 1 || l->w != l->out_w * s || l->h != l->out_h * s)
            return fail(x, "layer %d [shortcut]: layer %d (from) is %dx%dx%d and the input %dx%dx%d: only equal "
                        "shapes or a whole-number downsampling of from are exported",
                        i, l->index, l->w, l->h, l->c, l->out_w, l->out_h, l->out_c);
        w = calloc((size_t)l->out_c * l->c, sizeof(float));
        for (gi = 0; gi < G; ++gi)
            for (k = 0; k < minc; ++k) w[(size_t)(gi * og + k) * l->c + gi * cg + k] = 1;
        in[0] = as_image(x, b, l->c, l->h, l->w).name;
        in[1] = og_init_float(x->g, og_name(x->g, "%s_from_select", base), w, wd, 4);
        free(w);
        o = og_name(x->g, "%s_from_sub", base);
        nd = og_node(x->g, "Conv", o, o, 2, in);
        og_attr_ints(x->g, nd, "kernel_shape", k2, 2);
        og_attr_ints(x->g, nd, "strides", s2, 2);
        b = (tval){o, 1, l->out_c, l->out_h, l->out_w, l->outputs};
    }
    if (a.image || b.image) {
        a = as_image(x, a, l->out_c, l->out_h, l->out_w);
        b = as_image(x, b, l->out_c, l->out_h, l->out_w);
    }
    if (l->alpha != 1)
        a.name = binary(x, "Mul", a.name, og_init_scalar(x->g, og_name(x->g, "%s_alpha", base), l->alpha),
                        og_name(x->g, "%s_in_alpha", base));
    if (l->beta != 1)
        b.name = binary(x, "Mul", b.name, og_init_scalar(x->g, og_name(x->g, "%s_beta", base), l->beta),
                        og_name(x->g, "%s_from_beta", base));
    o = binary(x, "Add", a.name, b.name, og_name(x->g, "%s_add", base));
    if (!(o = activation(x, i, l->activation, o, base))) return 0;
    x->out[i] = (tval){o, a.image, l->out_c, l->out_h, l->out_w, l->outputs};
    return 1;
}

/* Layer i's output: Softmax over the n logits z (kept as the layer's logits for OOD). */
static int softmax_output(ctx *x, int i, const char *z, const char *base, int n)
{
    const char *o = og_name(x->g, "%s_softmax", base);
    onnx_node *nd = og_node(x->g, "Softmax", o, o, 1, &z);
    og_attr_int(x->g, nd, "axis", 1);
    x->logits[i] = z;
    x->out[i] = (tval){o, 0, n, 1, 1, n};
    return 1;
}

static int export_softmax(ctx *x, int i, const layer *l, const char *base)
{
    tval v = flat(x, input_of(x, i));
    const char *z = v.name;
    if (l->softmax_tree || l->groups != 1 || l->spatial)
        return fail(x, "layer %d [softmax]: only one softmax over all inputs is exported (this one has %s)", i,
                    l->softmax_tree ? "tree=" : l->groups != 1 ? "groups > 1" : "spatial=");
    if (l->temperature != 1)
        z = binary(x, "Div", z, og_init_scalar(x->g, og_name(x->g, "%s_temperature", base), l->temperature),
                   og_name(x->g, "%s_logits", base));
    return softmax_output(x, i, z, base, l->outputs);
}

/* [cosine]: s <x/|x|, w_c/|w_c|> as (x . s w_c/|w_c|) / max(|x|, 1e-12), the unit weights
 * computed here in double. Written with Gemm and same-shape element-wise ops only, because
 * OpenCV 4.6 mis-reads the direct forms: |x|^2 comes from a Gemm of x*x with a [C, D] matrix
 * of ones (so it arrives as [N, C], one copy per class, and the division needs no
 * broadcast: OpenCV fuses ReduceL2 + Div into a normalisation of the wrong tensor), and
 * max(n, e) is Relu(n - e) + e (it reads neither Max with a constant nor Clip-11's min
 * input; n - e + e == n in float for any n > 2^-20). */
static int export_cosine(ctx *x, int i, const layer *l, const char *base)
{
    tval v = flat(x, input_of(x, i));
    const int C = l->outputs, D = l->inputs;
    const float scale = ((const cosine_state *)l->plugin_state)->scale;
    const int64_t wd[2] = {C, D};
    float *wn = malloc(sizeof(float) * C * D);   /* [C, D] s w_c / |w_c|, then ones */
    const char *in[2], *dot, *nrm, *floor_, *o;
    onnx_node *nd;
    int c, d;
    for (c = 0; c < C; ++c) {
        const float *w = l->weights + c * D;
        double s = 0, n;
        for (d = 0; d < D; ++d) s += (double)w[d] * w[d];
        n = fmax(sqrt(s), 1e-12);
        for (d = 0; d < D; ++d) wn[c * D + d] = (float)(scale * w[d] / n);
    }
    in[0] = v.name;
    in[1] = og_init_float(x->g, og_name(x->g, "%s_w_unit_scaled", base), wn, wd, 2);
    dot = og_name(x->g, "%s_dot", base);
    nd = og_node(x->g, "Gemm", dot, dot, 2, in);
    og_attr_int(x->g, nd, "transB", 1);

    for (c = 0; c < C * D; ++c) wn[c] = 1;
    in[0] = binary(x, "Mul", v.name, v.name, og_name(x->g, "%s_x_squared", base));
    in[1] = og_init_float(x->g, og_name(x->g, "%s_ones", base), wn, wd, 2);
    free(wn);
    nrm = og_name(x->g, "%s_xnorm_squared", base);
    nd = og_node(x->g, "Gemm", nrm, nrm, 2, in);
    og_attr_int(x->g, nd, "transB", 1);
    nrm = unary(x, "Sqrt", nrm, og_name(x->g, "%s_xnorm", base));
    floor_ = og_init_scalar(x->g, og_name(x->g, "%s_norm_floor", base), 1e-12f);
    nrm = binary(x, "Sub", nrm, floor_, og_name(x->g, "%s_xnorm_less_floor", base));
    nrm = unary(x, "Relu", nrm, og_name(x->g, "%s_xnorm_excess", base));
    nrm = binary(x, "Add", nrm, floor_, og_name(x->g, "%s_xnorm_floored", base));
    o = binary(x, "Div", dot, nrm, og_name(x->g, "%s_logits", base));
    x->out[i] = (tval){o, 0, C, 1, 1, C};
    return 1;
}

static int export_expert_softmax(ctx *x, int i, const layer *l, const char *base)
{
    const expert_softmax_state *st = l->plugin_state;
    const char **in = calloc(st->K, sizeof(char *)), *z;
    int k;
    for (k = 0; k < st->K; ++k) {
        tval e = flat(x, x->out[st->expert[k]]);
        if (e.n != st->C) {
            free(in);
            return fail(x, "layer %d [expert_softmax]: expert layer %d has %d outputs, not %d classes", i, st->expert[k], e.n, st->C);
        }
        in[k] = e.name;
    }
    if (st->K == 1) {
        z = in[0];
    } else {
        z = og_name(x->g, "%s_sum", base);
        og_node(x->g, "Sum", z, z, st->K, in);
        z = binary(x, "Mul", z, og_init_scalar(x->g, og_name(x->g, "%s_inv_k", base), 1.f / st->K),
                   og_name(x->g, "%s_mean_logits", base));
    }
    free(in);
    return softmax_output(x, i, z, base, st->C);
}

static int export_layer(ctx *x, int i)
{
    const layer *l = &x->net->layers[i];
    const char *base = og_name(x->g, "l%d_%s", i, type_name(l));
    tval v;
    switch (l->type) {
    case CONVOLUTIONAL: return export_conv(x, i, l, base);
    case CONNECTED: return export_connected(x, i, l, base);
    case MAXPOOL: return export_maxpool(x, i, l, base);
    case ROUTE: return export_route(x, i, l, base);
    case SHORTCUT: return export_shortcut(x, i, l, base);
    case SOFTMAX: return export_softmax(x, i, l, base);
    case AVGPOOL:
        v = as_image(x, input_of(x, i), l->c, l->h, l->w);
        x->out[i] = (tval){unary(x, "GlobalAveragePool", v.name, og_name(x->g, "%s_pool", base)), 1, l->out_c, 1, 1, l->outputs};
        return 1;
    case BATCHNORM:
        v = as_image(x, input_of(x, i), l->out_c, l->out_h, l->out_w);
        x->out[i] = (tval){batch_norm(x, l, v.name, base, l->out_c), 1, l->out_c, l->out_h, l->out_w, l->outputs};
        return 1;
    case DROPOUT:
        x->out[i] = input_of(x, i);
        return 1;
    case ACTIVE:
        v = input_of(x, i);
        if (!(v.name = activation(x, i, l->activation, v.name, base))) return 0;
        x->out[i] = v;
        return 1;
    case PLUGIN:
        if (plugin_layer_is(l, PLUGIN_TYPE_MIXDATA)) {
            x->out[i] = input_of(x, i);
            return 1;
        }
        if (plugin_layer_is(l, PLUGIN_TYPE_COSINE)) return export_cosine(x, i, l, base);
        if (plugin_layer_is(l, PLUGIN_TYPE_EXPERT_SOFTMAX)) return export_expert_softmax(x, i, l, base);
        if (plugin_is_loss_only(*l))
            return fail(x, "layer %d [%s] is a training loss, but the output depends on it", i, type_name(l));
        break;
    default:
        break;
    }
    return fail(x, "layer %d [%s]: this layer type is not supported by the ONNX export (supported: convolutional, connected, batchnorm, maxpool, avgpool, route, shortcut, dropout, softmax, activation, mixdata, cosine, expert_softmax)",
                i, type_name(l));
}

/* max over the classes of v [N, C]: [N, 1], as a MaxPool of v seen as [N, 1, 1, C] (OpenCV
 * 4.6 cannot reshape the result of ReduceMax with keepdims, nor subtract [N] tensors). */
static const char *row_max(ctx *x, const char *v, int C)
{
    const int64_t shape[4] = {-1, 1, 1, C}, dims = 4, k2[2] = {1, C};
    const char *in[2], *o;
    onnx_node *nd;
    in[0] = v;
    in[1] = og_init_int64(x->g, og_name(x->g, "%s_as_1x1xC", v), shape, &dims, 1);
    o = og_name(x->g, "%s_1x1xC", v);
    og_node(x->g, "Reshape", o, o, 2, in);
    in[0] = o;
    o = og_name(x->g, "%s_max_1x1x1", v);
    nd = og_node(x->g, "MaxPool", o, o, 1, in);
    og_attr_ints(x->g, nd, "kernel_shape", k2, 2);
    return flat(x, (tval){o, 1, 1, 1, 1, 1}).name;
}

int onnx_export_network(network *net, const char *path, const char *const *meta, int nmeta,
                        char *err, int errlen)
{
    ctx x = {0};
    ood_head head;
    char *needed;
    const char *zmax, *pmax;
    int i, k, ok = 1;
    int64_t dims[4];

    if (!ood_find_head(net, &head, err, errlen)) return 0;
    x.g = og_new("darknet");
    x.net = net;
    x.err = err;
    x.errlen = errlen;
    x.out = calloc(net->n, sizeof(tval));
    x.logits = calloc(net->n, sizeof(char *));
    needed = calloc(net->n, 1);
    x.input = (tval){"data", 1, net->c, net->h, net->w, net->c * net->h * net->w};
    dims[0] = OG_BATCH; dims[1] = net->c; dims[2] = net->h; dims[3] = net->w;
    og_input(x.g, "data", dims, 4);

    mark_needed(net, head.layer, needed);
    for (i = 0; i <= head.layer && ok; ++i)
        if (needed[i]) ok = export_layer(&x, i);

    if (ok) {
        /* The three outputs, named for the user. */
        unary(&x, "Identity", x.out[head.layer].name, "prob");
        unary(&x, "Identity", x.logits[head.layer], "logits");
        zmax = row_max(&x, "logits", head.classes);
        pmax = row_max(&x, "prob", head.classes);
        binary(&x, "Sub", zmax, unary(&x, "Log", pmax, "prob_max_log"), "energy");
        dims[1] = head.classes;
        og_output(x.g, "prob", dims, 2);
        og_output(x.g, "logits", dims, 2);
        dims[1] = 1;
        og_output(x.g, "energy", dims, 2);
        for (k = 0; k < nmeta; ++k) og_meta(x.g, meta[2 * k], meta[2 * k + 1]);
        og_doc(x.g, "Darknet inference graph; inputs: RGB planes, pixel values / 255; outputs: prob = softmax(logits), logits, energy = log sum exp(logits)");
        ok = og_write(x.g, path, ONNX_EXPORT_IR, ONNX_EXPORT_OPSET, "darknet-ricasso", "1", err, errlen);
    }
    free(needed);
    free(x.logits);
    free(x.out);
    og_free(x.g);
    return ok;
}
