/* Batches of instance and second-sampler rows: see pair_loader.h. */
#include "pair_loader.h"

#include <stdlib.h>

#include "data.h"

data pair_batch_load(load_args a, const pair_layout *lay)
{
    const int B = lay->rows, P = lay->pairs;
    const int chunks = a.n / B, nload = chunks * 2 * P;
    char **paths = calloc(nload > 0 ? nload : 1, sizeof(char *));  /* [chunks * 2P] */
    data d = {0};
    matrix X, Y;
    int ch, p, r, k = 0;
    for (ch = 0; ch < chunks; ++ch) {
        for (p = 0; p < P; ++p) paths[ch * 2 * P + p] = a.paths[class_sampler_draw(lay->sampler, 0)];
        for (p = 0; p < P; ++p)
            paths[ch * 2 * P + P + p] = a.paths[class_sampler_draw(lay->sampler, lay->reversed)];
    }
    X = load_image_augment_paths_ex(paths, nload, a.min, a.max, a.size, a.angle, a.aspect, a.hue,
                                    a.saturation, a.exposure, a.center, a.padcrop, a.padcrop_px, a.noflip);
    Y = load_labels_paths(paths, nload, a.labels, a.classes, a.hierarchy);
    d.shallow = 0;
    d.w = a.size;
    d.h = a.size;
    d.X.rows = d.y.rows = a.n;
    d.X.cols = X.cols;
    d.y.cols = Y.cols;
    d.X.vals = calloc(a.n, sizeof(float *));
    d.y.vals = calloc(a.n, sizeof(float *));
    /* Rows [0, 2P) of each chunk come from the loaded images; the mixed slots stay zero. */
    for (ch = 0; ch < chunks; ++ch)
        for (r = 0; r < B; ++r) {
            const int row = ch * B + r;
            if (r < 2 * P) {
                d.X.vals[row] = X.vals[k];
                d.y.vals[row] = Y.vals[k];
                ++k;
            } else {
                d.X.vals[row] = calloc(X.cols, sizeof(float));
                d.y.vals[row] = calloc(Y.cols, sizeof(float));
            }
        }
    free(X.vals);
    free(Y.vals);
    free(paths);
    return d;
}

int pair_loader_threads(int n, int rows, int threads)
{
    const int chunks = n / rows;
    int t = threads < chunks ? threads : chunks;
    if (t < 1) t = 1;
    while (chunks % t) --t;
    return t;
}
