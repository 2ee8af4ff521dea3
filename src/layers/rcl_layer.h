/* [rcl]: Representation Consistency Learning (RICASSO section 3.5), SimSiam style.
 *
 * The Mixup row m and the CutMix row c of each pair p (the layout of [mixdata]) go through
 * the same encoder, a projection head (h) and a prediction head (u), both written in the cfg
 * with stock layers (e.g. [connected] with batch_normalize=1). With cos(a, b) = a.b/|a||b|:
 *
 *   L_RCL = 1/P sum_p ( -cos(u_m, sg(h_c)) - cos(u_c, sg(h_m)) )
 *
 * sg is an exact stop-gradient: the layer writes no gradient into the projection layer (the
 * targets); the gradient of u flows back through the prediction head, the projection head
 * and the encoder as usual. The loss is lambda * L_RCL; as for [cbcl], the reported cost is
 * B times it and the deltas are B times its gradient (Darknet divides updates by B).
 * In batches that were not mixed (test time) the layer does nothing.
 *
 * Keys:
 *   projection=L    the projection head's output layer (h), [B, H]
 *   prediction=L    the prediction head's output layer (u), [B, H]
 *   lambda=1        lambda_1, the weight of L_RCL, in [0, 100] (the paper gives no value)
 * The network's [mixdata] layer must produce both Mixup and CutMix rows.
 *
 * The maths: rcl_forward / _backward in ricasso_kernels.h (eq. 12).
 *
 * Glossary: B rows, H head width, P pairs.
 */
#ifndef RCL_LAYER_H
#define RCL_LAYER_H

#include "layer_registry.h"

typedef struct rcl_state {
    int projection, prediction;  /* layer indices of h and u */
    int H;
    float lambda;
    float loss;                  /* L_RCL of the last forward (without lambda) */
} rcl_state;

layer parse_rcl_layer(list *options, plugin_params params);
void forward_rcl_layer(layer l, network net);
void backward_rcl_layer(layer l, network net);
void free_rcl_layer(layer *l);
#ifdef GPU
void forward_rcl_layer_gpu(layer l, network net);
void backward_rcl_layer_gpu(layer l, network net);
#endif

#endif
