/* Small helpers shared by the loss layers. */
#ifndef LAYER_UTIL_H
#define LAYER_UTIL_H

#include "darknet.h"

/* q = softmax(z) for one row of n logits, sums in double. */
void softmax_row(const float *z, int n, float *q);

/* Which rows of a training batch are in-distribution (ID) rows with a one-hot target, and
 * their class: when the network's [mixdata] layer mixed this batch, the instance and
 * reversed rows [0, 2P) (even a mixed row of two images of one class has a one-hot target,
 * but it is not an ID row); otherwise every row whose target is one-hot. Writes the class of
 * each row, or -1, into row_class [B]; returns the number of ID rows. */
int id_rows(const network *net, int batch, int classes, int *row_class);

#ifdef GPU
/* Host copies of another layer's buffers, for loss layers that run on the host. */
void pull_layer_output(const network *net, int index);
void pull_layer_delta(const network *net, int index);
void push_layer_delta(const network *net, int index);
#endif

#endif
