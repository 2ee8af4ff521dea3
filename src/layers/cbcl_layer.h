/* [cbcl]: Contrastive Boundary-Center Learning (RICASSO section 3.4), one term per expert.
 *
 * For expert k with features z [B, D] and logits v [B, C]:
 *   VBL  d- = mean over the mixed rows r of |z_i - z_r|^2 + |z_j - z_r|^2, (i, j) the source
 *             rows of r (the pairing of [mixdata]); d- = 0 when the network mixes nothing
 *   DEC  d+ = 1/2 mean over the ID rows i (one-hot targets) of w_i |z_i - c_{y_i}|^2,
 *             w_i = -sum_c (q_c + y_c) log q_c, q = softmax(v_i); w is a constant in backward
 *   L_k = (e^{g0 d+} - e^{g1 d-} + e0) / (e^{g0 d+} + e^{g1 d-} + e1)
 * computed with every exponent shifted by max(g0 d+, g1 d-) >= 0, so nothing overflows
 * (with e0 = e1 = 0 it is tanh((g0 d+ - g1 d-) / 2)).
 * The layer's loss is lambda * sum_k L_k. Darknet sums losses over the batch and divides the
 * update by it, so the reported cost is B * lambda * sum_k L_k and the deltas are B times
 * the gradient: the update then applies exactly the gradient of lambda * sum_k L_k.
 *
 * Class centers c [K, C, D] are parameters, saved and loaded with the weights (after the
 * stock layers', in layer order). A class's centers start at the mean feature of its rows in
 * the first training batch that holds it (a zero center would first pull every feature to
 * the origin); centers read from a weights file count as started.
 *
 * Keys:
 *   features=a,b,c  each expert's feature layer (e.g. its [avgpool]), K layers of D outputs
 *   logits=x,y,z    each expert's logit layer (its [cosine] head), K layers of C outputs
 *   g0=0.1 g1=0.1   gamma_0, gamma_1 in (0, 100]: the paper gives no values; squared distances
 *                   between 64-d pooled features are tens, and 0.1 keeps the ratio out of
 *                   its flat, saturated ends
 *   e0=0 e1=0       epsilon_0 in [-1, 1], epsilon_1 in [0, 100]
 *   lambda=0.1      lambda_0, the weight of L_CBCL in the total loss, in [0, 100]
 *
 * The maths, per expert, in ricasso_kernels.h: vbl_forward / _backward (eq. 8),
 * dual_entropy_weight (eq. 9), dec_forward / _backward (eq. 10), cbcl_ratio (eq. 11).
 *
 * Glossary: B rows, D feature size, C classes, K experts.
 */
#ifndef CBCL_LAYER_H
#define CBCL_LAYER_H

#include "layer_registry.h"
#include "ricasso_kernels.h"   /* cbcl_ratio and the DEC, VBL kernels */

typedef struct cbcl_state {
    int K, C, D;
    int *features;       /* [K] layer indices */
    int *logits;         /* [K] layer indices */
    float g0, g1, e0, e1, lambda;
    float *centers;      /* [K, C, D] */
    float *center_updates; /* [K, C, D] -dL/dc accumulated (Darknet convention), with momentum */
    int *started;        /* [C] 1 once the class's centers hold a value */
    float *row_w;        /* [K, B] dual-entropy weight of each ID row (0 for other rows) */
    int *row_class;      /* [B] class of each ID row, -1 for the others */
    float *row_prob;     /* [C] scratch: softmax of one row's logits */
    int n_id, n_mix;     /* ID rows and mixed rows of the last forward */
    float *dplus;        /* [K] d+ of the last forward */
    float *dminus;       /* [K] d- of the last forward */
    float *loss;         /* [K] L_k of the last forward */
    float *dL_dplus;     /* [K] */
    float *dL_dminus;    /* [K] */
} cbcl_state;

layer parse_cbcl_layer(list *options, plugin_params params);
void forward_cbcl_layer(layer l, network net);
void backward_cbcl_layer(layer l, network net);
void update_cbcl_layer(layer l, update_args a);
void free_cbcl_layer(layer *l);
void save_cbcl_weights(layer l, FILE *fp);
void load_cbcl_weights(layer l, FILE *fp);
#ifdef GPU
void forward_cbcl_layer_gpu(layer l, network net);
void backward_cbcl_layer_gpu(layer l, network net);
#endif

#endif
