/* [cosine]: the cosine classifier head of LGLA (ICCV 2023), used by every RICASSO expert.
 *
 *   out[b,c] = s * <x_b / |x_b|, w_c / |w_c|>
 *
 * Dimensions: B rows of the batch, D input features (the previous layer's outputs), C classes.
 * Keys:
 *   classes=C   number of outputs (required, >= 1)
 *   scale=s     logit scale s (default 30, as in LGLA; in (0, 1000])
 * Parameters: weights [C, D] (one row per class), saved and loaded with the weights file.
 * No bias: a cosine head has none. The update is Darknet's SGD with momentum and decay.
 * The maths: cosine_classifier_forward / _backward in ricasso_kernels.h.
 * GPU: runs through the registry's CPU fallback (see layer_registry.h).
 */
#ifndef COSINE_LAYER_H
#define COSINE_LAYER_H

#include "layer_registry.h"

/* The layer's own state (layers are passed by value; this is shared by the copies). */
typedef struct cosine_state {
    float scale;    /* s */
    float *xnorm;   /* [B]    |x_b|, floored at NORM_FLOOR (ricasso_kernels.h) */
    float *wnorm;   /* [C]    |w_c|, floored at NORM_FLOOR */
    float *cosv;    /* [B, C] cos(x_b, w_c), kept from forward for backward */
} cosine_state;

layer make_cosine_layer(int batch, int inputs, int classes, float scale);
layer parse_cosine_layer(list *options, plugin_params params);
void forward_cosine_layer(layer l, network net);
void backward_cosine_layer(layer l, network net);
void update_cosine_layer(layer l, update_args a);
void free_cosine_layer(layer *l);
void save_cosine_weights(layer l, FILE *fp);
void load_cosine_weights(layer l, FILE *fp);

#endif
