/* What the RICASSO layers share beyond the kernels (ricasso_kernels.h): the set-up of a
 * loss layer, the ID rows of a batch, the class counts file, and host copies on GPU builds.
 *
 * Glossary: B rows, C classes.
 */
#ifndef LAYER_UTIL_H
#define LAYER_UTIL_H

#include "darknet.h"

/* Most expert layers a cfg list may name ([expert_softmax] experts=, [cbcl] features=). */
#define MAX_EXPERTS 16

/* A layer whose work is a training loss: batch rows of `outputs` values each (out_c =
 * outputs, out_w = out_h = 1), output and delta [B, outputs] (and their device copies on a
 * GPU build that uses the device), and a cost. Loss-only layers ([cbcl], [rcl]) have one
 * dummy output per row, so that the layers after them see a shape. The caller sets the
 * lifecycle functions and its state. */
layer make_loss_layer(int batch, int inputs, int outputs);

/* Which rows of a training batch are in-distribution (ID) rows with a one-hot target, and
 * their class: when the network's [mixdata] layer mixed this batch, the instance and
 * reversed rows [0, 2P) (even a mixed row of two images of one class has a one-hot target,
 * but it is not an ID row); otherwise every row whose target is one-hot. Writes the class of
 * each row, or -1, into row_class [B]; returns the number of ID rows. */
int id_rows(const network *net, int batch, int classes, int *row_class);

/* Reads a class counts file: non-negative integers separated by commas, blanks or line
 * ends (CRLF included). Returns counts [C] (the first C of the file, calloc'd) and the
 * number of counts the file holds in *n (the caller checks it is C); on a missing file or a
 * token that is not a count returns 0 with the reason in err. */
int *class_counts_read(const char *path, int C, int *n, char *err, int errlen);

#ifdef GPU
/* Host copies of another layer's buffers, for loss layers that run on the host. */
void pull_layer_output(const network *net, int index);
void pull_layer_delta(const network *net, int index);
void push_layer_delta(const network *net, int index);
#endif

#endif
