/* [cosine] layer: forward and backward side by side. See cosine_layer.h.
 *
 * Glossary: B batch rows, D input features, C classes.
 */
#include "cosine_layer.h"

#include <limits.h>

#include <stdlib.h>

#include "blas.h"
#include "cfg_keys.h"
#include "ricasso_kernels.h"
#include "utils.h"

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
    l.learning_rate_scale = 1;  /* the parser sets it too; direct callers get plain SGD */
    l.nweights = classes * inputs;
    l.weights = calloc(l.nweights, sizeof(float));        /* [C, D] */
    l.weight_updates = calloc(l.nweights, sizeof(float)); /* [C, D] */
    l.output = calloc(batch * classes, sizeof(float));    /* [B, C] */
    l.delta = calloc(batch * classes, sizeof(float));     /* [B, C] */
    /* Only directions matter; any non-degenerate random init works. */
    for (i = 0; i < l.nweights; ++i) l.weights[i] = rand_uniform(-1, 1);
    st->scale = scale;
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
    /* The buffers are sized in int ([C, D] weights, [B, C] outputs): past 2^31 values the
       product overflowed (found by the cfg fuzzer). */
    if ((long long)classes * p.inputs > INT_MAX || (long long)classes * p.batch > INT_MAX)
        cfg_fail(&p, "classes", "%d classes x %d inputs (or x batch %d) is more than 2^31 values", classes,
                 p.inputs, p.batch);
    return make_cosine_layer(p.batch, p.inputs, classes, scale);
}

void forward_cosine_layer(layer l, network net)
{
    cosine_state *st = l.plugin_state;
    cosine_classifier_forward(l.output, st->cosv, st->xnorm, st->wnorm, net.input, l.weights,
                              st->scale, l.batch, l.inputs, l.outputs);
}

void backward_cosine_layer(layer l, network net)
{
    cosine_state *st = l.plugin_state;
    cosine_classifier_backward(net.delta, l.weight_updates, l.delta, net.input, l.weights,
                               st->cosv, st->xnorm, st->wnorm, st->scale, l.batch, l.inputs,
                               l.outputs);
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
