/* [cbcl] layer: forward and backward side by side. See cbcl_layer.h.
 *
 * Glossary: B rows, D feature size, C classes, K experts, P pairs of the mix layout.
 */
#include "cbcl_layer.h"

#include <limits.h>

#include <stdlib.h>
#include <string.h>

#include "cfg_keys.h"
#include "layer_util.h"
#include "mixdata_layer.h"
#include "ricasso_kernels.h"
#ifdef GPU
#include "cuda.h"
#endif

layer parse_cbcl_layer(list *options, plugin_params p)
{
    layer l = {0};
    cbcl_state *st = calloc(1, sizeof(cbcl_state));
    int feats[MAX_EXPERTS], logits[MAX_EXPERTS], K, K2, k, D, C;
    K = cfg_layer_list(options, &p, "features", feats, MAX_EXPERTS);
    K2 = cfg_layer_list(options, &p, "logits", logits, MAX_EXPERTS);
    if (K2 != K) cfg_fail(&p, "logits", "names %d layers, features names %d", K2, K);
    cfg_layers_distinct(&p, "features", feats, K);
    cfg_layers_distinct(&p, "logits", logits, K);
    for (k = 0; k < K; ++k) {
        const char *why;
        int j;
        if ((why = cfg_not_features(p.net, feats[k])))
            cfg_fail(&p, "features", "layer %d [%s] cannot be expert %d's features: %s", feats[k],
                     cfg_layer_type_name(p.net, feats[k]), k + 1, why);
        if ((why = cfg_not_logits(p.net, logits[k])))
            cfg_fail(&p, "logits", "layer %d [%s] cannot be expert %d's logits: %s", logits[k],
                     cfg_layer_type_name(p.net, logits[k]), k + 1, why);
        for (j = 0; j < K; ++j)
            if (feats[k] == logits[j])
                cfg_fail(&p, "features", "layer %d [%s] is named in logits too", feats[k],
                         cfg_layer_type_name(p.net, feats[k]));
        if (logits[k] < feats[k])
            cfg_fail(&p, "logits", "layer %d [%s] comes before expert %d's features layer %d [%s]: "
                     "an expert's logits are computed from its features (features and logits swapped?)",
                     logits[k], cfg_layer_type_name(p.net, logits[k]), k + 1, feats[k],
                     cfg_layer_type_name(p.net, feats[k]));
    }
    D = p.net->layers[feats[0]].outputs;
    C = p.net->layers[logits[0]].outputs;
    for (k = 0; k < K; ++k) {
        if (p.net->layers[feats[k]].outputs != D)
            cfg_fail(&p, "features", "layer %d has %d outputs, layer %d has %d", feats[0], D, feats[k],
                     p.net->layers[feats[k]].outputs);
        if (p.net->layers[logits[k]].outputs != C)
            cfg_fail(&p, "logits", "layer %d has %d outputs, layer %d has %d", logits[0], C, logits[k],
                     p.net->layers[logits[k]].outputs);
    }
    /* The centers are sized in int ([K, C, D]): past 2^31 values the product overflowed. */
    if ((long long)K * C * D > INT_MAX)
        cfg_fail(&p, "features", "%d experts x %d classes x %d features is more than 2^31 center values", K, C, D);
    st->K = K;
    st->C = C;
    st->D = D;
    st->features = malloc(K * sizeof(int));
    st->logits = malloc(K * sizeof(int));
    memcpy(st->features, feats, K * sizeof(int));
    memcpy(st->logits, logits, K * sizeof(int));
    st->g0 = cfg_float(options, &p, "g0", 0.1f, 0, 1, 100, 0);
    st->g1 = cfg_float(options, &p, "g1", 0.1f, 0, 1, 100, 0);
    st->e0 = cfg_float(options, &p, "e0", 0, -1, 0, 1, 0);
    st->e1 = cfg_float(options, &p, "e1", 0, 0, 0, 100, 0);
    st->lambda = cfg_float(options, &p, "lambda", 0.1f, 0, 0, 100, 0);
    st->centers = calloc(K * C * D, sizeof(float));
    st->center_updates = calloc(K * C * D, sizeof(float));
    st->started = calloc(C, sizeof(int));
    st->row_w = calloc(K * p.batch, sizeof(float));
    st->row_class = calloc(p.batch, sizeof(int));
    st->row_prob = calloc(C, sizeof(float));
    st->dplus = calloc(K, sizeof(float));
    st->dminus = calloc(K, sizeof(float));
    st->loss = calloc(K, sizeof(float));
    st->dL_dplus = calloc(K, sizeof(float));
    st->dL_dminus = calloc(K, sizeof(float));

    l = make_loss_layer(p.batch, p.inputs, 1);
    l.nweights = K * C * D;
    l.plugin_state = st;
    l.forward = forward_cbcl_layer;
    l.backward = backward_cbcl_layer;
    l.update = update_cbcl_layer;
#ifdef GPU
    if (gpu_index >= 0) {
        l.forward_gpu = forward_cbcl_layer_gpu;
        l.backward_gpu = backward_cbcl_layer_gpu;
        l.update_gpu = update_cbcl_layer;
    }
#endif
    fprintf(stderr, "cbcl              %d experts, %d-d features, %d classes, lambda %g, g0 %g g1 %g e0 %g e1 %g\n",
            K, D, C, st->lambda, st->g0, st->g1, st->e0, st->e1);
    return l;
}

void free_cbcl_layer(layer *l)
{
    cbcl_state *st = l->plugin_state;
    if (!st) return;
    free(st->features);
    free(st->logits);
    free(st->centers);
    free(st->center_updates);
    free(st->started);
    free(st->row_w);
    free(st->row_class);
    free(st->row_prob);
    free(st->dplus);
    free(st->dminus);
    free(st->loss);
    free(st->dL_dplus);
    free(st->dL_dminus);
    free(st);
}

/* A class's centers start at the mean feature of its ID rows in the first batch holding it. */
static void start_centers(cbcl_state *st, const network *net, int B)
{
    int b, c, k, d;
    for (c = 0; c < st->C; ++c) {
        int n = 0;
        if (st->started[c]) continue;
        for (b = 0; b < B; ++b) n += st->row_class[b] == c;
        if (!n) continue;
        for (k = 0; k < st->K; ++k) {
            const float *z = net->layers[st->features[k]].output;
            float *ck = st->centers + (k * st->C + c) * st->D;
            for (d = 0; d < st->D; ++d) ck[d] = 0;
            for (b = 0; b < B; ++b)
                if (st->row_class[b] == c)
                    for (d = 0; d < st->D; ++d) ck[d] += z[b * st->D + d] / n;
        }
        st->started[c] = 1;
    }
}

/* The mixed blocks of the pairing, as vbl_forward reads them: row0 [2]. */
static void mixed_blocks(const mix_pairing *pr, int *row0)
{
    row0[0] = pr->mixup_row0;
    row0[1] = pr->cutmix_row0;
}

void forward_cbcl_layer(layer l, network net)
{
    cbcl_state *st = l.plugin_state;
    const int B = l.batch, C = st->C, D = st->D, K = st->K;
    const mix_pairing *pr = mixdata_find_pairing(&net);
    const int mixing = pr && pr->active;
    int k, row0[2], n_id, n_mix = 0;
    l.cost[0] = 0;
    if (!net.train || !net.truth) return;
    n_id = id_rows(&net, B, C, st->row_class);
    start_centers(st, &net, B);
    if (mixing) {
        n_mix = pr->pairs * ((pr->mixup_row0 >= 0) + (pr->cutmix_row0 >= 0));
        mixed_blocks(pr, row0);
    }
    for (k = 0; k < K; ++k) {
        const float *z = net.layers[st->features[k]].output; /* [B, D] */
        const float *v = net.layers[st->logits[k]].output;   /* [B, C] */
        double dplus, dminus = 0, dA, dB;
        dplus = dec_forward(st->row_w + k * B, st->row_prob, z, v, st->centers + k * C * D,
                            st->row_class, n_id, B, D, C);
        if (mixing) dminus = vbl_forward(z, row0, 2, pr->pairs, D) / n_mix;
        st->dplus[k] = (float)dplus;
        st->dminus[k] = (float)dminus;
        st->loss[k] = (float)cbcl_ratio(st->g0 * dplus, st->g1 * dminus, st->e0, st->e1, &dA, &dB);
        st->dL_dplus[k] = (float)(st->g0 * dA);
        st->dL_dminus[k] = (float)(st->g1 * dB);
        l.cost[0] += B * st->lambda * st->loss[k];
    }
    st->n_id = n_id;
    st->n_mix = n_mix;
}

/* Deltas are -B * lambda * dL/dz (Darknet's convention, see the header). */
void backward_cbcl_layer(layer l, network net)
{
    cbcl_state *st = l.plugin_state;
    const int B = l.batch, C = st->C, D = st->D, K = st->K;
    const mix_pairing *pr = mixdata_find_pairing(&net);
    const float s = B * st->lambda;
    int k, row0[2];
    if (!net.train || !net.truth) return;
    for (k = 0; k < K; ++k) {
        const float *z = net.layers[st->features[k]].output; /* [B, D] */
        float *dz = net.layers[st->features[k]].delta;       /* [B, D] */
        if (st->n_id)
            dec_backward(dz, st->center_updates + k * C * D, z, st->centers + k * C * D,
                         st->row_w + k * B, st->row_class, s * st->dL_dplus[k] / st->n_id, B, D);
        if (st->n_mix && pr && pr->active) {
            mixed_blocks(pr, row0);
            vbl_backward(dz, z, row0, 2, pr->pairs, D, 2 * s * st->dL_dminus[k] / st->n_mix);
        }
    }
}

void update_cbcl_layer(layer l, update_args a)
{
    cbcl_state *st = l.plugin_state;
    const int n = st->K * st->C * st->D;
    const float lr = a.learning_rate * l.learning_rate_scale;
    /* SGD with Darknet's momentum (Nesterov's when [net] nesterov=1 gave weight_updates_prev,
       [n]); no weight decay: centers are positions, not weights. */
    sgd_momentum_cpu(n, lr / a.batch, a.momentum, st->centers, st->center_updates, l.weight_updates_prev);
}

void save_cbcl_weights(layer l, FILE *fp)
{
    cbcl_state *st = l.plugin_state;
    fwrite(st->centers, sizeof(float), st->K * st->C * st->D, fp);
}

void load_cbcl_weights(layer l, FILE *fp)
{
    cbcl_state *st = l.plugin_state;
    const size_t n = (size_t)st->K * st->C * st->D;
    int c;
    if (fread(st->centers, sizeof(float), n, fp) != n) return; /* the caller reports the short file */
    for (c = 0; c < st->C; ++c) st->started[c] = 1;
}

#ifdef GPU
void forward_cbcl_layer_gpu(layer l, network net)
{
    cbcl_state *st = l.plugin_state;
    int k;
    for (k = 0; k < st->K; ++k) {
        pull_layer_output(&net, st->features[k]);
        pull_layer_output(&net, st->logits[k]);
    }
    forward_cbcl_layer(l, net);
}

void backward_cbcl_layer_gpu(layer l, network net)
{
    cbcl_state *st = l.plugin_state;
    int k;
    for (k = 0; k < st->K; ++k) pull_layer_delta(&net, st->features[k]);
    backward_cbcl_layer(l, net);
    for (k = 0; k < st->K; ++k) push_layer_delta(&net, st->features[k]);
}
#endif
