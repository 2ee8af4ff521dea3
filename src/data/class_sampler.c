/* Class-reversed and uniform sampling over the training list: see class_sampler.h. */
#include "class_sampler.h"

#include <stdlib.h>

#include "rng_util.h"

void class_sampler_free(class_sampler *s)
{
    free(s->class_start);
    free(s->class_images);
    free(s->class_cdf);
    s->class_start = 0;
    s->class_images = 0;
    s->class_cdf = 0;
    s->ready = 0;
}

void class_sampler_init(class_sampler *s, const int *path_class, int n, const int *counts, int classes)
{
    int c, i;
    int *fill;
    double total = 0, acc = 0;
    class_sampler_free(s);
    s->n = n;
    s->classes = classes;
    s->class_start = calloc(classes + 1, sizeof(int));
    s->class_images = calloc(n > 0 ? n : 1, sizeof(int));
    s->class_cdf = calloc(classes, sizeof(double));
    for (c = 0; c < classes; ++c) s->class_start[c + 1] = s->class_start[c] + counts[c];
    fill = calloc(classes, sizeof(int));
    for (i = 0; i < n; ++i) {
        c = path_class[i];
        s->class_images[s->class_start[c] + fill[c]++] = i;
    }
    free(fill);
    for (c = 0; c < classes; ++c)
        if (counts[c] > 0) total += 1.0 / counts[c];
    for (c = 0; c < classes; ++c) {
        if (counts[c] > 0) acc += 1.0 / counts[c] / total;
        s->class_cdf[c] = acc;
    }
    s->ready = 1;
}

double class_sampler_reversed_p(const class_sampler *s, int c)
{
    return s->class_cdf[c] - (c > 0 ? s->class_cdf[c - 1] : 0.0);
}

int class_sampler_draw(const class_sampler *s, int reversed)
{
    int lo = 0, hi = s->classes - 1, c;
    double u;
    if (!reversed) return rng_int(s->n);
    /* Class by inverse CDF (first c with cdf[c] > u), then an image of c uniformly. */
    u = rng_uniform_open() * s->class_cdf[s->classes - 1];
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (s->class_cdf[mid] > u) hi = mid;
        else lo = mid + 1;
    }
    c = lo;
    return s->class_images[s->class_start[c] + rng_int(s->class_start[c + 1] - s->class_start[c])];
}
