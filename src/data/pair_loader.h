/* The training batch of a [mixdata] network (layout in src/layers/mixdata_layer.h).
 *
 * Each chunk of B rows holds P instance rows (uniform draws), then P second-sampler rows
 * (class-reversed, or uniform when reversed = 0), then B - 2P zero rows that the layer's
 * forward pass fills with the mixed images and labels.
 *
 * Glossary: B rows per network batch, P pairs, X inputs per row, C classes.
 */
#ifndef PAIR_LOADER_H
#define PAIR_LOADER_H

#include "darknet.h"
#include "class_sampler.h"

typedef struct pair_layout {
    int rows;                      /* B */
    int pairs;                     /* P */
    int reversed;                  /* second-sampler rows class-reversed (1) or uniform (0) */
    const class_sampler *sampler;
} pair_layout;

/* a.n rows (a multiple of B) from a.paths: X [a.n, X], y [a.n, C]. */
data pair_batch_load(load_args a, const pair_layout *lay);

/* The loader threads split a.n rows evenly and each must get whole batches of B rows: the
 * largest thread count <= threads that divides a.n / B. */
int pair_loader_threads(int n, int rows, int threads);

#endif
