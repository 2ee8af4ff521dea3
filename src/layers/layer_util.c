#include "layer_util.h"

#include <stdio.h>
#include <stdlib.h>

#include "mixdata_layer.h"
#ifdef GPU
#include "cuda.h"
#endif

layer make_loss_layer(int batch, int inputs, int outputs)
{
    layer l = {0};
    l.batch = batch;
    l.inputs = inputs;
    l.outputs = outputs;
    l.out_w = l.out_h = 1;
    l.out_c = outputs;
    l.output = calloc(batch * outputs, sizeof(float)); /* [B, outputs] */
    l.delta = calloc(batch * outputs, sizeof(float));  /* [B, outputs] */
    l.cost = calloc(1, sizeof(float));
#ifdef GPU
    if (gpu_index >= 0) {
        l.output_gpu = cuda_make_array(l.output, batch * outputs);
        l.delta_gpu = cuda_make_array(l.delta, batch * outputs);
    }
#endif
    return l;
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

int *class_counts_read(const char *path, int C, int *n, char *err, int errlen)
{
    FILE *fp = fopen(path, "r");
    int *counts;
    char tok[64];
    *n = 0;
    if (!fp) {
        snprintf(err, errlen, "cannot open '%s'", path);
        return 0;
    }
    counts = calloc(C, sizeof(int));
    while (fscanf(fp, " %63[^, \t\r\n]%*[, \t\r\n]", tok) == 1) {
        char *end;
        long v = strtol(tok, &end, 10);
        if (*end || v < 0 || v > 2000000000) {
            snprintf(err, errlen, "'%s' in %s is not a count", tok, path);
            fclose(fp);
            free(counts);
            return 0;
        }
        if (*n < C) counts[*n] = (int)v;
        ++*n;
    }
    fclose(fp);
    return counts;
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
