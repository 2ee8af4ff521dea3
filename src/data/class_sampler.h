/* Drawing training images by class, over the whole training list (RICASSO section 3.2).
 *
 *   uniform   an image index uniformly in [0, N): the long-tailed distribution as it is
 *   reversed  class c with probability proportional to 1/n_c (BBN's reversed sampler; empty
 *             classes are never drawn), then an image of class c uniformly
 *
 * Draws use rand() through rng_util, so a seeded run repeats exactly. The sampler is read-only
 * once built: the loader threads and the training thread may draw from it at once.
 *
 * Glossary: N training images, C classes.
 */
#ifndef CLASS_SAMPLER_H
#define CLASS_SAMPLER_H

typedef struct class_sampler {
    int ready;          /* 1 once class_sampler_init has run */
    int n;              /* N */
    int classes;        /* C */
    int *class_start;   /* [C+1] offsets into class_images */
    int *class_images;  /* [N] image indices grouped by class */
    double *class_cdf;  /* [C] cumulative P(class c), P(c) proportional to 1/n_c for n_c > 0 */
} class_sampler;

/* path_class [N]: class of each image; counts [C]: images per class (sum = N).
 * Replaces whatever s held before. */
void class_sampler_init(class_sampler *s, const int *path_class, int n, const int *counts, int classes);
void class_sampler_free(class_sampler *s);

/* P(class c) of the reversed sampler. */
double class_sampler_reversed_p(const class_sampler *s, int c);

/* An image index: reversed = 0 draws uniformly, 1 from the class-reversed sampler. */
int class_sampler_draw(const class_sampler *s, int reversed);

#endif
