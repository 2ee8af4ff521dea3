/* The inference graph of a Darknet network as an ONNX model (`darknet classifier export`).
 *
 * Graph (opset 13, IR 7), batch dimension symbolic ("N"):
 *   input   data    [N, C_in, H, W]  RGB planes, pixel / 255, as Darknet's load_image_color
 *   output  prob    [N, C]           the network's output: softmax(logits)
 *   output  logits  [N, C]           the logits of the OOD scores (ood_score.h): the mean of the
 *                                    experts' logits for a network ending in [expert_softmax],
 *                                    the input of the final [softmax] divided by its temperature
 *   output  energy  [N, 1]           T log sum_c exp(logits_c / T), T = 1, computed as
 *                                    max_c logits_c - log max_c prob_c (the same identity
 *                                    log sum exp z = z_c - log p_c at the arg max, which
 *                                    cannot overflow)
 *
 * Only the layers the output depends on are exported (a walk back from the output layer
 * through each layer's inputs): the [cbcl] and [rcl] losses and the SimSiam projection and
 * prediction heads, which only feed [rcl], drop out. Inference forms:
 *   [convolutional]   Conv (+ bias when no batch norm); batch norm: BatchNormalization with
 *                     Darknet's rolling mean and variance, scales and biases, epsilon 1e-5
 *                     (its inference forward: (x - mean) / sqrt(var + 1e-5) * scale + bias)
 *   [connected]       Flatten, Gemm (transB), the same batch norm on [N, outputs]
 *   [batchnorm]       BatchNormalization
 *   [maxpool]         MaxPool, pads (padding/2 before, the rest after; Darknet's padding
 *                     defaults to size - 1), windows ignore the padding
 *   [avgpool]         GlobalAveragePool
 *   [route]           Concat over channels when the inputs share h and w, else of the
 *                     flattened inputs (Darknet's concatenation of whole rows); with groups=
 *                     a Slice of each input's channel block first
 *   [shortcut]        alpha * input + beta * from, then the activation; from a larger input
 *                     (option A) through a 1x1 selection Conv of stride s, per channel block
 *                     with groups=
 *   [dropout]         identity (Darknet scales in training, not at test time)
 *   [softmax]         groups=1, no tree: Softmax(input / temperature)
 *   [activation]      the activation
 *   activations       linear, relu, leaky (0.1), relie (0.01), logistic, tanh, elu, selu
 *   [mixdata]         identity (it mixes only in training)
 *   [cosine]          s <x/|x|, w_c/|w_c|> = (x . s w_c/|w_c|) / max(|x|, 1e-12), Darknet's floor:
 *                     Gemm with the weights normalised and scaled at export, |x| from a Gemm of
 *                     x*x with ones (see onnx_export.c for why not ReduceL2)
 *   [expert_softmax]  the mean of the experts' logits (Sum, times 1/K), then Softmax
 * Any other layer the output needs is an error naming its index and type.
 */
#ifndef ONNX_EXPORT_H
#define ONNX_EXPORT_H

#include "darknet.h"

#define ONNX_EXPORT_OPSET 13
#define ONNX_EXPORT_IR 7

/* Writes the graph of net (loaded, any batch) to path, atomically, with the metadata pairs
 * meta[2k] = key, meta[2k+1] = value. Returns 1, or 0 with the reason in err. */
int onnx_export_network(network *net, const char *path, const char *const *meta, int nmeta,
                        char *err, int errlen);

#endif
