/* Accelerated CPU convolutions, called by Darknet's convolutional layer in DNNL builds
 * (darknet-patches/0018). The layer computes bias, batch norm and activation itself; these
 * functions do only the linear part:
 *
 *   conv_accel_forward:  l.output [B, n, out_h, out_w] = W * net.input   (groups as
 *                        l.groups; since patch 0024 l.output is NOT zeroed first: every
 *                        element must be written)
 *   conv_accel_backward: l.weight_updates [n, c/groups, size, size] += l.delta (*) net.input
 *                        and, when net.delta is set, net.delta [B, c, h, w] += W^T (*) l.delta
 *
 * Each returns 1 when it did the work, 0 to let the stock im2col/gemm code run (an
 * unsupported shape, say). In inference (net.train == 0) conv_accel_forward may also finish
 * the layer and return 2: l.output then already has the bias or the batch norm (rolling
 * statistics) and the activation applied, and the layer returns at once (patch 0024).
 * The state behind l.accel caches primitives per layer shape and batch, so
 * set_batch_network and resize_network need nothing special.
 */
#ifndef CONV_ACCEL_H
#define CONV_ACCEL_H

#include "darknet.h"

void *conv_accel_create(void);
void conv_accel_free(void *state);
int conv_accel_forward(layer l, network net);
int conv_accel_backward(layer l, network net);

#endif
