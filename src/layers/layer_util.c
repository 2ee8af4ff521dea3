#include "layer_util.h"

#include <float.h>
#include <math.h>

#include "mixdata_layer.h"
#ifdef GPU
#include "cuda.h"
#endif

void softmax_row(const float *z, int n, float *q)
{
    int c;
    float m = -FLT_MAX;
    double s = 0;
    for (c = 0; c < n; ++c) if (z[c] > m) m = z[c];
    for (c = 0; c < n; ++c) s += exp((double)z[c] - m);
    for (c = 0; c < n; ++c) q[c] = (float)(exp((double)z[c] - m) / s);
}

static int one_hot_class(const float *t, int C)
{
    int c, y = -1;
    for (c = 0; c < C; ++c) {
        if (t[c] == 0) continue;
        if (t[c] != 1 || y >= 0) return -1;
        y = c;
    }
    return y;
}

int id_rows(const network *net, int batch, int classes, int *row_class)
{
    const mix_pairing *pr = mixdata_find_pairing(net);
    int b, n = 0;
    for (b = 0; b < batch; ++b) {
        int y = -1;
        if (net->truth && (!pr || !pr->active || b < 2 * pr->pairs))
            y = one_hot_class(net->truth + b * net->truths, classes);
        row_class[b] = y;
        if (y >= 0) ++n;
    }
    return n;
}

#ifdef GPU
void pull_layer_output(const network *net, int index)
{
    layer l = net->layers[index];
    cuda_pull_array(l.output_gpu, l.output, l.outputs * l.batch);
}

void pull_layer_delta(const network *net, int index)
{
    layer l = net->layers[index];
    cuda_pull_array(l.delta_gpu, l.delta, l.outputs * l.batch);
}

void push_layer_delta(const network *net, int index)
{
    layer l = net->layers[index];
    cuda_push_array(l.delta_gpu, l.delta, l.outputs * l.batch);
}
#endif
