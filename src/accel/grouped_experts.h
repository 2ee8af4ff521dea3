/* Separate expert branches and their grouped form: which parameters correspond.
 *
 * scripts/make-cfgs writes each multi-expert cfg twice. The separate form (LGLA's layout,
 * e.g. cfg/lgla-resnet32-cifar10.cfg) gives every expert its own layers for stages 2 and 3,
 * each followed by the expert's heads. The grouped form (cfg/X-grouped.cfg, the layout of
 * the RICASSO authors' code) computes the K experts' stages as one run of convolutions with
 * groups=K: expert k owns block k of each of those layers (filters [k n/K, (k+1) n/K), and
 * the same block of biases, batch-norm scales and statistics), followed by the K experts'
 * heads one after the other. Everything else (the shared stem and stage 1, the layers after
 * the experts' heads) is the same layer in both.
 *
 * In layer order, the layers with parameters of the two networks are then
 *   separate  P shared | K x (R expert layers, H head layers)          | Q after the experts
 *   grouped   P shared | R grouped convolutions | K x (H head layers)  | Q after the experts
 * and a pair maps separate layer `sep` to block `part` of grouped layer `grp` (part 0 of
 * the whole layer when both hold it whole). The layers with parameters are [convolutional],
 * [connected], [batchnorm], [cosine] and [cbcl] (its class centers); a network with other
 * kinds of parameter layers (local, deconvolutional, recurrent) is refused.
 *
 * Buffers are the host copies (the CPU path); a GPU user pushes them to the device after.
 */
#ifndef GROUPED_EXPERTS_H
#define GROUPED_EXPERTS_H

#include "darknet.h"

typedef struct {
    int sep;    /* layer index in the separate network */
    int grp;    /* layer index in the grouped network */
    int part;   /* the block of grp's buffers that holds sep's (0 when both are whole) */
    int parts;  /* number of blocks of grp's buffers: K in the grouped run, else 1 */
} grouped_pair;

/* The pairs of layers with parameters, in layer order; returns how many (at most max), or
   -1 with the reason in err when the networks are not a separate and a grouped form of one
   network. */
int grouped_pairs(const network *sep, const network *grp, grouped_pair *pairs, int max,
                  char *err, int errlen);

enum { GROUPED_PARAMS, GROUPED_GRADIENTS };
#define GROUPED_MAX_BUFFERS 5

/* The buffers of a layer with parameters: GROUPED_PARAMS the values the weights file holds
   (weights, biases, batch-norm scales, rolling mean and variance; [cbcl] centers),
   GROUPED_GRADIENTS the accumulated updates (weight_updates, bias_updates, scale_updates;
   [cbcl] center_updates). Writes at most GROUPED_MAX_BUFFERS pointers, lengths and names;
   returns how many (0 for a layer without parameters). */
int grouped_layer_buffers(const layer *l, int which, float **buf, int *len, const char **name);

/* Copies every parameter of the separate network into the grouped one (to_grouped = 1) or
   back (0), [cbcl]'s "centers started" flags included. Returns 0, or -1 with the reason in
   err (nothing is copied then). */
int grouped_copy(network *sep, network *grp, int to_grouped, char *err, int errlen);

#endif
