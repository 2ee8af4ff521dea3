/* [cosine] layer: forward and backward side by side. See cosine_layer.h.
 *
 * Glossary: B batch rows, D input features, C classes.
 */
#include "cosine_layer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "gemm.h"
#include "cfg_keys.h"
#include "utils.h"

/* State kept from forward to backward (layers are passed by value). */
typedef struct {
    float *xnorm;   /* [B]    |x_b|, floored at NORM_FLOOR */
    float *wnorm;   /* [C]    |w_c|, floored at NORM_FLOOR */
    float *cosv;    /* [B, C] cos(x_b, w_c) */
} cosine_state;

/* A zero feature or weight row has no direction; the floor keeps its gradient finite. */
#define NORM_FLOOR 1e-12f

layer make_cosine_layer(int batch, int inputs, int classes, float scale)
{
    layer l = {0};
    int i;
    cosine_state *st = calloc(1, sizeof(cosine_state));
    l.batch = batch;
    l.inputs = inputs;
    l.outputs = classes;
    l.out_w = 1; l.out_h = 1; l.out_c = classes;
    l.c = inputs; l.h = 1; l.w = 1;
    l.classes = classes;
    l.alpha = scale;                                    /* s */
    l.learning_rate_scale = 1;  /* the parser sets it too; direct callers get plain SGD */
    l.nweights = classes * inputs;
    l.weights = calloc(l.nweights, sizeof(float));        /* [C, D] */
    l.weight_updates = calloc(l.nweights, sizeof(float)); /* [C, D] */
    l.output = calloc(batch * classes, sizeof(float));    /* [B, C] */
    l.delta = calloc(batch * classes, sizeof(float));     /* [B, C] */
    /* Only directions matter; any non-degenerate random init works. */
    for (i = 0; i < l.nweights; ++i) l.weights[i] = rand_uniform(-1, 1);
    st->xnorm = calloc(batch, sizeof(float));
    st->wnorm = calloc(classes, sizeof(float));
    st->cosv = calloc(batch * classes, sizeof(float));
    l.plugin_state = st;
    l.forward = forward_cosine_layer;
    l.backward = backward_cosine_layer;
    l.update = update_cosine_layer;
    fprintf(stderr, "cosine                %4d  ->  %4d  (scale %g)\n", inputs, classes, scale);
    return l;
}

layer parse_cosine_layer(list *options, plugin_params p)
{
    int classes = cfg_int_required(options, &p, "classes", 1, 1 << 20);
    float scale = cfg_float(options, &p, "scale", 30, 0, 1, 1000, 0);
    return make_cosine_layer(p.batch, p.inputs, classes, scale);
}

void forward_cosine_layer(layer l, network net)
{
    cosine_state *st = l.plugin_state;
    const int B = l.batch, D = l.inputs, C = l.outputs;
    int b, c, d;
    for (c = 0; c < C; ++c) {
        const float *w = l.weights + c * D;
        double s = 0;
        for (d = 0; d < D; ++d) s += (double)w[d] * w[d];
        st->wnorm[c] = fmaxf(sqrtf((float)s), NORM_FLOOR);
    }
    for (b = 0; b < B; ++b) {
        const float *x = net.input + b * D;
        double s = 0;
        for (d = 0; d < D; ++d) s += (double)x[d] * x[d];
        st->xnorm[b] = fmaxf(sqrtf((float)s), NORM_FLOOR);
    }
    /* dot[b,c] = x_b . w_c as one gemm: [B, D] x [C, D]^T */
    fill_cpu(B * C, 0, st->cosv, 1);
    gemm(0, 1, B, C, D, 1, net.input, D, l.weights, D, 0, st->cosv, C);
    for (b = 0; b < B; ++b)
        for (c = 0; c < C; ++c) {
            float cs = st->cosv[b * C + c] / (st->xnorm[b] * st->wnorm[c]);
            st->cosv[b * C + c] = cs;
            l.output[b * C + c] = l.alpha * cs;
        }
}

/* With g[b,c] = s * delta[b,c] (delta = -dL/dout):
 *   -dL/dx_b += sum_c g[b,c] (w_c/|w_c| - cos[b,c] x_b/|x_b|) / |x_b|
 *   -dL/dw_c += sum_b g[b,c] (x_b/|x_b| - cos[b,c] w_c/|w_c|) / |w_c|          */
void backward_cosine_layer(layer l, network net)
{
    cosine_state *st = l.plugin_state;
    const int B = l.batch, D = l.inputs, C = l.outputs;
    int b, c, d;
    for (b = 0; b < B; ++b) {
        const float *x = net.input + b * D;
        const float ix = 1.f / st->xnorm[b];
        for (c = 0; c < C; ++c) {
            const float g = l.alpha * l.delta[b * C + c];
            const float cs = st->cosv[b * C + c];
            const float *w = l.weights + c * D;
            const float iw = 1.f / st->wnorm[c];
            float *wu = l.weight_updates + c * D;
            if (g == 0) continue;
            if (net.delta) {
                float *dx = net.delta + b * D;
                for (d = 0; d < D; ++d) dx[d] += g * (w[d] * iw - cs * x[d] * ix) * ix;
            }
            for (d = 0; d < D; ++d) wu[d] += g * (x[d] * ix - cs * w[d] * iw) * iw;
        }
    }
}

void update_cosine_layer(layer l, update_args a)
{
    float lr = a.learning_rate * l.learning_rate_scale;
    axpy_cpu(l.nweights, -a.decay * a.batch, l.weights, 1, l.weight_updates, 1);
    /* Darknet's momentum; Nesterov's when [net] nesterov=1 gave weight_updates_prev */
    sgd_momentum_cpu(l.nweights, lr / a.batch, a.momentum, l.weights, l.weight_updates, l.weight_updates_prev);
}

void free_cosine_layer(layer *l)
{
    cosine_state *st = l->plugin_state;
    if (!st) return;
    free(st->xnorm);
    free(st->wnorm);
    free(st->cosv);
    free(st);
}

void save_cosine_weights(layer l, FILE *fp)
{
    fwrite(l.weights, sizeof(float), l.nweights, fp);
}

void load_cosine_weights(layer l, FILE *fp)
{
    if (fread(l.weights, sizeof(float), l.nweights, fp) != (size_t)l.nweights) return; /* caller reports EOF */
}
