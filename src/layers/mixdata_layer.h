/* [mixdata]: Norm-Odd-Duality outlier exposure (RICASSO section 3.2).
 *
 * In training, each network batch of B rows is laid out in blocks of P = B / (2 + M) rows,
 * M = mixup + cutmix:
 *
 *   rows [0, P)        instance rows: images drawn uniformly from the training list
 *                      (the long-tailed distribution as it is), one-hot labels
 *   rows [P, 2P)       class-reversed rows: class c drawn with probability proportional to
 *                      1/n_c, then an image of class c uniformly (BBN's reversed sampler over
 *                      the whole training list); one-hot labels
 *   rows [2P, 3P)      Mixup rows (when mixup=1): x = l x_i + (1-l) x_j, l ~ Beta(alpha, alpha)
 *   next P rows        CutMix rows (when cutmix=1): x_i with a box of x_j pasted in; l is the
 *                      fraction of x_i left after clipping the box to the image
 *
 * where pair p mixes instance row i = p with reversed row j = P + p, and a mixed row's label
 * is the two-hot l y_i + (1-l) y_j. The layer's batch loader (installed through the
 * registry) fills the instance and reversed rows and leaves the mixed rows empty; the layer
 * writes the mixed rows of its output and their labels into the network's truth, and
 * leaves the source rows intact. The pairing (P, rows, l per mixed row) is public through
 * mixdata_find_pairing for the layers that use it (CBCL, RCL).
 *
 * At test time (net.train == 0) or batch 1 the layer is the identity: a copy of its input.
 *
 * Keys:
 *   alpha=1         Beta parameter of Mixup's l, in (0, 100]
 *   cutmix_alpha=1  Beta parameter of CutMix's box area, in (0, 100]
 *   mixup=1         0/1: produce Mixup rows
 *   cutmix=1        0/1: produce CutMix rows (needs an image input)
 *   reversed=1      0/1: rows [P, 2P) from the class-reversed sampler; 0 draws them from the
 *                   instance sampler too (plain Mixup/CutMix, for ablations)
 *   pairs=P         optional: P pairs a step; the network batch must then be exactly
 *                   (2 + mixup + cutmix) x P (the authors' step: pairs=128, batch=512)
 * The network batch (batch / subdivisions) must be a multiple of 2 + mixup + cutmix.
 *
 * The maths: mixup_forward / _backward, cutmix_box_clip, cutmix_forward / _backward in
 * ricasso_kernels.h; the random draws (lambda, box centre) stay in the layer.
 *
 * Glossary: B rows, P pairs, X = inputs per row (h*w*c), C classes (net.truths).
 */
#ifndef MIXDATA_LAYER_H
#define MIXDATA_LAYER_H

#include "layer_registry.h"

/* What later layers need to know about the last training batch. */
typedef struct mix_pairing {
    int rows;             /* B of the training layout */
    int pairs;            /* P */
    int mixup_row0;       /* first Mixup row (2P), -1 when mixup=0 */
    int cutmix_row0;      /* first CutMix row, -1 when cutmix=0 */
    int active;           /* 1 when the last forward pass mixed; 0 when it was the identity */
    float *mixup_lambda;  /* [P] weight of instance row p in Mixup row p */
    float *cutmix_lambda; /* [P] fraction of instance row p kept in CutMix row p */
    int *cutmix_box;      /* [P, 4] x0, y0, x1, y1 of the pasted box, half-open */
} mix_pairing;

layer parse_mixdata_layer(list *options, plugin_params params);
layer make_mixdata_layer(int batch, int w, int h, int c, float alpha, float cutmix_alpha,
                         int mixup, int cutmix, int reversed);
void forward_mixdata_layer(layer l, network net);
void backward_mixdata_layer(layer l, network net);
void free_mixdata_layer(layer *l);
void mixdata_set_train_stats(layer l, network *net, const int *path_class, int n,
                             const int *counts, int classes);
int mixdata_setup_loader(layer l, network *net, load_args *args);

#ifdef GPU
void forward_mixdata_layer_gpu(layer l, network net);
void backward_mixdata_layer_gpu(layer l, network net);
#endif

/* The pairing of the network's [mixdata] layer, or 0 when it has none. */
const mix_pairing *mixdata_find_pairing(const network *net);

/* The sampler, for tests: index of a training image drawn as an instance row (reversed=0)
 * or as a class-reversed row (reversed=1). set_train_stats must have run. */
int mixdata_draw(layer l, int reversed);

/* The batch loader installed for classifier training (a.loader_state is the layer's state). */
data mixdata_load_batch(load_args a);

#endif
