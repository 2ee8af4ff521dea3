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
 * In training, when l.output is l.x (the layer writes there ahead of its fused batch norm,
 * patch 0076), it may return 3: it also put the batch statistics of the output in l.mean
 * and l.variance (per filter, over batch and map; the variance biased), reading l.mean as
 * the last batch's first, and the batch norm takes them instead of its own pass (0079).
 * The state behind l.accel caches primitives per layer shape and batch, so
 * set_batch_network and resize_network need nothing special.
 *
 * bf16 ([net] bf16=1, net.bf16): the convolutions take their inputs in bfloat16 (8-bit
 * significand) and compute in float: forward src and weights, backward diff_dst, weights and
 * src are rounded to bf16 on the way in, each call, from Darknet's float buffers; output,
 * weight_updates and net.delta stay float. Darknet's float weights remain the master copy
 * the update changes, and batch norm, bias, activations and everything outside the
 * convolutions run in float as before. conv_accel_bf16_unsupported says whether this CPU
 * can: 0 when oneDNN has jit (not reference) bf16 convolutions here (AVX512-BF16 or AMX),
 * else a sentence saying why not; the parser refuses bf16=1 with it (darknet-patches/0070).
 *
 * conv_accel_winograd_passes: which passes of the layer's convolution go to the Winograd
 * kernels (src/accel/conv_winograd.c) now: 1 forward | 2 input gradient | 4 weight gradient,
 * 0 none; for tests, which must know which path they compared.
 */
#ifndef CONV_ACCEL_H
#define CONV_ACCEL_H

#include "darknet.h"

void *conv_accel_create(void);
void conv_accel_free(void *state);
int conv_accel_forward(layer l, network net);
int conv_accel_backward(layer l, network net);
const char *conv_accel_bf16_unsupported(void);
int conv_accel_winograd_passes(const layer *l, const network *net);

#endif
