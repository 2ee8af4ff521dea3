/* darknet-patches/0073 and 0075: what they change must give the values it gave before.
 *   - zero_far_cpu (0073; streaming stores, split over threads) zeroes exactly the N floats
 *     it is given, from any 4-byte alignment, for lengths around the parallel threshold and
 *     the 4-float steps, and touches nothing on either side;
 *   - a training forward pass leaves every layer's delta zero (the fills that 0073 moved to
 *     zero_far_cpu), whatever the deltas held, except where a layer writes its own delta
 *     in its forward pass (the softmax with truth);
 *   - the route, max-pool and average-pool layers (0075; split over OpenMP threads above
 *     32768 values) give the same bits as a serial reference written here, forward and
 *     backward, on shapes big enough to go parallel with 3 threads (an uneven split):
 *     max pools whose windows overlap (size 3 stride 1, with padding), tile (2/2) and skip
 *     (1/2, the option-A shortcut's); a route of two layers, one of them a grouped slice;
 *     the backward passes add into deltas that already hold values.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>

#include "darknet.h"
#include "avgpool_layer.h"
#include "maxpool_layer.h"
#include "route_layer.h"

#include "harness.h"

static float frand(void) { return rand() / (RAND_MAX + 1.0f) * 2 - 1; }

static void fill_rand(float *x, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i) x[i] = frand();
}

/* Differences between a [n] and b [n], bit for bit (a NaN in one and not the other counts). */
static size_t bit_diffs(const float *a, const float *b, size_t n)
{
    size_t i, d = 0;
    for (i = 0; i < n; ++i) d += memcmp(&a[i], &b[i], sizeof(float)) != 0;
    return d;
}

static void test_zero_far(void)
{
    static const int lens[] = {0, 1, 3, 4, 5, 17, 32767, 32768, 32771, 100003, 1 << 20};
    int li, off;
    case_begin("zero_far_cpu: exactly N floats zeroed, lengths 0 to 2^20, every 4-byte offset");
    for (li = 0; li < (int)(sizeof(lens) / sizeof(lens[0])); ++li) {
        for (off = 0; off < 4; ++off) {
            int n = lens[li], i, bad = 0;
            float *buf = malloc(sizeof(float) * ((size_t)n + 16));
            for (i = 0; i < n + 16; ++i) buf[i] = 7.f;
            zero_far_cpu(n, buf + 4 + off);
            for (i = 0; i < n + 16; ++i) {
                int inside = i >= 4 + off && i < 4 + off + n;
                if (buf[i] != (inside ? 0.f : 7.f)) ++bad;
            }
            CHECK(bad == 0, "zero_far_cpu: %d floats from offset %d: exactly those zeroed (%d wrong)", n, off, bad);
            free(buf);
        }
    }
    case_end();
}

static const char *NET_CFG =
    "[net]\nbatch=4\nsubdivisions=1\nwidth=32\nheight=32\nchannels=3\n"
    "learning_rate=0.1\nmomentum=0.9\ndecay=0.0005\npolicy=constant\n\n"
    "[convolutional]\nbatch_normalize=1\nfilters=16\nsize=3\nstride=1\npad=1\nactivation=relu\n\n"
    "[convolutional]\nbatch_normalize=1\nfilters=16\nsize=3\nstride=1\npad=1\nactivation=relu\n\n"
    "[shortcut]\nfrom=-2\nactivation=linear\n\n"
    "[maxpool]\nsize=2\nstride=2\n\n"
    "[avgpool]\n\n"
    "[connected]\noutput=5\nactivation=linear\n\n"
    "[softmax]\n";

static void test_training_zeroes_deltas(void)
{
    network *net = net_from_cfg_text("zero.cfg", NET_CFG);
    int i, b;
    CHECK(net != 0, "training zeroes deltas: the network parses");
    if (!net) return;
    fill_rand(net->input, (size_t)net->inputs * net->batch);
    memset(net->truth, 0, sizeof(float) * net->truths * net->batch);
    for (b = 0; b < net->batch; ++b) net->truth[b * net->truths + b % net->truths] = 1;
    for (i = 0; i < net->n; ++i)
        if (net->layers[i].delta) fill_rand(net->layers[i].delta, (size_t)net->layers[i].outputs * net->batch);
    net->train = 1;
    forward_network(net);
    case_begin("training forward pass: every delta zeroed but the softmax's");
    for (i = 0; i < net->n - 1; ++i) {
        layer l = net->layers[i];
        size_t n = (size_t)l.outputs * l.batch, k, nonzero = 0;
        if (!l.delta) continue;
        for (k = 0; k < n; ++k) nonzero += l.delta[k] != 0;
        CHECK(nonzero == 0, "training forward pass: layer %d (%s) delta zeroed (%zu of %zu not)", i,
              get_layer_string(l.type), nonzero, n);
    }
    case_end();
    free_network(net);
}

/* The serial max pool: out [B][C][oh][ow], idx the input index of each maximum (-1: none). */
static void maxpool_ref(const maxpool_layer *l, const float *in, float *out, int *idx)
{
    int b, k, i, j, n, m, off = -l->pad / 2;
    for (b = 0; b < l->batch; ++b)
        for (k = 0; k < l->c; ++k)
            for (i = 0; i < l->out_h; ++i)
                for (j = 0; j < l->out_w; ++j) {
                    int o = j + l->out_w * (i + l->out_h * (k + l->c * b)), best = -1;
                    float max = -FLT_MAX;
                    for (n = 0; n < l->size; ++n)
                        for (m = 0; m < l->size; ++m) {
                            int y = off + i * l->stride + n, x = off + j * l->stride + m;
                            if (y < 0 || y >= l->h || x < 0 || x >= l->w) continue;
                            int at = x + l->w * (y + l->h * (k + b * l->c));
                            if (best < 0 || in[at] > max) { best = at; max = in[at]; }
                        }
                    out[o] = best < 0 ? -FLT_MAX : max;
                    idx[o] = best;
                }
}

static void test_maxpool(int size, int stride, int pad)
{
    int B = 4 * stride * stride, H = 32, W = 32, C = 16;   /* 65536 outputs */
    maxpool_layer l = make_maxpool_layer(B, H, W, C, size, stride, pad);
    size_t nin = (size_t)B * C * H * W, nout = (size_t)l.outputs * B, i;
    float *in = malloc(nin * sizeof(float)), *ref = malloc(nout * sizeof(float));
    float *din = malloc(nin * sizeof(float)), *dref = malloc(nin * sizeof(float));
    int *idx = malloc(nout * sizeof(int));
    network net = {0};
    fill_rand(in, nin);
    for (i = 0; i < nin; i += 97) in[i] = in[i / 2];   /* ties: the first maximum wins */
    net.input = in;
    forward_maxpool_layer(l, net);
    maxpool_ref(&l, in, ref, idx);
    CHECK(nout >= 32768, "maxpool %d/%d pad %d: big enough to go parallel (%zu outputs)", size, stride, pad, nout);
    CHECK(bit_diffs(l.output, ref, nout) == 0, "maxpool %d/%d pad %d forward: same bits as the serial reference",
          size, stride, pad);
    size_t wrong = 0;
    for (i = 0; i < nout; ++i) wrong += l.indexes[i] != idx[i];
    CHECK(wrong == 0, "maxpool %d/%d pad %d forward: same argmax indexes (%zu differ)", size, stride, pad, wrong);

    fill_rand(l.delta, nout);
    fill_rand(din, nin);
    memcpy(dref, din, nin * sizeof(float));
    for (i = 0; i < nout; ++i) if (idx[i] >= 0) dref[idx[i]] += l.delta[i];
    net.delta = din;
    backward_maxpool_layer(l, net);
    CHECK(bit_diffs(din, dref, nin) == 0, "maxpool %d/%d pad %d backward: adds the same bits as the serial reference",
          size, stride, pad);
    free(in); free(ref); free(din); free(dref); free(idx);
    free(l.output); free(l.delta); free(l.indexes);
}

static void test_avgpool(void)
{
    int B = 16, H = 16, W = 16, C = 16, b, k, i;
    avgpool_layer l = make_avgpool_layer(B, W, H, C);
    size_t nin = (size_t)B * C * H * W;
    float *in = malloc(nin * sizeof(float)), *ref = malloc((size_t)B * C * sizeof(float));
    float *din = malloc(nin * sizeof(float)), *dref = malloc(nin * sizeof(float));
    network net = {0};
    fill_rand(in, nin);
    net.input = in;
    forward_avgpool_layer(l, net);
    for (b = 0; b < B; ++b)
        for (k = 0; k < C; ++k) {
            float s = 0;
            for (i = 0; i < H * W; ++i) s += in[i + H * W * (k + b * C)];
            ref[k + b * C] = s / (H * W);
        }
    CHECK(bit_diffs(l.output, ref, (size_t)B * C) == 0, "avgpool forward: same bits as the serial reference");
    fill_rand(l.delta, (size_t)B * C);
    fill_rand(din, nin);
    memcpy(dref, din, nin * sizeof(float));
    for (b = 0; b < B; ++b)
        for (k = 0; k < C; ++k)
            for (i = 0; i < H * W; ++i) dref[i + H * W * (k + b * C)] += l.delta[k + b * C] / (H * W);
    net.delta = din;
    backward_avgpool_layer(l, net);
    CHECK(bit_diffs(din, dref, nin) == 0, "avgpool backward: adds the same bits as the serial reference");
    free(in); free(ref); free(din); free(dref);
    free(l.output); free(l.delta);
}

/* A route of two layers of 16384 values a row with groups=2, group_id=1 (as parse_route
   makes it: each input's size is its block's, 8192 a row), batch 8: each output row is the
   second half of layer 0's row, then the second half of layer 1's. */
static void test_route(void)
{
    int B = 8, full = 16384, half = 8192, b, i;
    int *which = malloc(2 * sizeof(int)), *sizes = malloc(2 * sizeof(int));
    layer src[2] = {{0}};
    which[0] = 0; which[1] = 1;
    sizes[0] = half; sizes[1] = half;
    for (i = 0; i < 2; ++i) {
        src[i].outputs = full;
        src[i].output = malloc((size_t)full * B * sizeof(float));
        src[i].delta = malloc((size_t)full * B * sizeof(float));
        fill_rand(src[i].output, (size_t)full * B);
        fill_rand(src[i].delta, (size_t)full * B);
    }
    route_layer l = make_route_layer(B, 2, which, sizes);
    l.groups = 2;
    l.group_id = 1;
    network net = {0};
    net.layers = src;
    net.n = 2;
    forward_route_layer(l, net);
    size_t wrong = 0;
    for (b = 0; b < B; ++b)
        for (i = 0; i < half; ++i) {
            wrong += l.output[(size_t)b * l.outputs + i] != src[0].output[(size_t)b * full + half + i];
            wrong += l.output[(size_t)b * l.outputs + half + i] != src[1].output[(size_t)b * full + half + i];
        }
    CHECK(wrong == 0, "route forward: rows copied from each input's group block (%zu wrong)", wrong);

    float *ref0 = malloc((size_t)full * B * sizeof(float)), *ref1 = malloc((size_t)full * B * sizeof(float));
    memcpy(ref0, src[0].delta, (size_t)full * B * sizeof(float));
    memcpy(ref1, src[1].delta, (size_t)full * B * sizeof(float));
    fill_rand(l.delta, (size_t)l.outputs * B);
    for (b = 0; b < B; ++b)
        for (i = 0; i < half; ++i) {
            ref0[(size_t)b * full + half + i] += l.delta[(size_t)b * l.outputs + i];
            ref1[(size_t)b * full + half + i] += l.delta[(size_t)b * l.outputs + half + i];
        }
    backward_route_layer(l, net);
    CHECK(bit_diffs(src[0].delta, ref0, (size_t)full * B) == 0 && bit_diffs(src[1].delta, ref1, (size_t)full * B) == 0,
          "route backward: adds the same bits into each input's group block, nothing elsewhere");
    for (i = 0; i < 2; ++i) { free(src[i].output); free(src[i].delta); }
    free(ref0); free(ref1); free(which); free(sizes);
    free(l.output); free(l.delta);
}

int main(void)
{
    srand(7);
    /* Three threads split every range unevenly (two cores or not). */
    omp_set_num_threads(3);
    test_zero_far();
    test_training_zeroes_deltas();
    test_maxpool(3, 1, 2);
    test_maxpool(2, 2, 0);
    test_maxpool(1, 2, 0);
    test_maxpool(3, 2, 1);
    test_avgpool();
    test_route();
    return harness_finish();
}
