/* darknet-patches/0072: an inference forward pass zeroes the layers' deltas only when they
 * may be dirty (network.deltas_clean). What must hold:
 *   - input gradients taken as darknet nightmare takes them (an inference forward pass, the
 *     last layer's delta set by hand, backward_network; no zeroing by the caller), again and
 *     again with network_predict calls in between, equal the gradient of a network whose
 *     deltas were zeroed by hand before its one backward pass: a backward pass that left
 *     its deltas behind for the next one would double them;
 *   - the fills are skipped where that is safe: after one inference pass, a value put into a
 *     delta survives the next inference pass (so the skip is in effect), and is zeroed by a
 *     training pass, and by the inference pass after one with truth, after a backward pass
 *     or after resize_network, and on every pass of a network whose deltas_clean is null
 *     (one not made by make_network).
 * The network is small and runs on the stock CPU layers: convolutions with batch norm, a
 * shortcut, average pooling, a connected layer and softmax, batch 2.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "darknet.h"

#include "harness.h"

enum { BATCH = 2, W = 6, H = 6, CH = 2, CLASSES = 3 };

static const char *CFG =
    "[net]\nbatch=2\nsubdivisions=1\nwidth=6\nheight=6\nchannels=2\n"
    "learning_rate=0.1\nmomentum=0.9\ndecay=0.0005\npolicy=constant\n\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n\n"
    "[shortcut]\nfrom=-2\nactivation=linear\n\n"
    "[avgpool]\n\n"
    "[connected]\noutput=3\nactivation=linear\n\n"
    "[softmax]\n";

static network *load(void)
{
    char path[] = "/tmp/ricasso-test-forward-deltas-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : 0;
    network *net;
    if (!f) { perror("mkstemp"); exit(1); }
    fputs(CFG, f);
    fclose(f);
    net = parse_network_cfg(path);
    unlink(path);
    return net;
}

/* grad [BATCH * W * H * CH] = the input gradient for the last layer's delta d [BATCH *
   CLASSES], as darknet nightmare takes it: inference forward, the last layer's delta set to
   d, backward. With zero_first, every delta is zeroed by hand before the backward pass (the
   reference). */
static void input_gradient(network *net, float *x, const float *d, int zero_first, float *grad)
{
    layer *last = &net->layers[net->n - 1];
    int i;
    memset(grad, 0, sizeof(float) * BATCH * W * H * CH);
    net->input = x;
    net->truth = 0;
    net->train = 0;
    net->delta = grad;
    forward_network(net);
    if (zero_first)
        for (i = 0; i < net->n; ++i)
            if (net->layers[i].delta)
                memset(net->layers[i].delta, 0, sizeof(float) * net->layers[i].outputs * net->layers[i].batch);
    memcpy(last->delta, d, sizeof(float) * last->outputs * last->batch);
    backward_network(net);
    net->delta = 0;
}

static double max_diff(const float *a, const float *b, int n)
{
    double m = 0;
    int i;
    for (i = 0; i < n; ++i) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

static double max_abs(const float *a, int n)
{
    double m = 0;
    int i;
    for (i = 0; i < n; ++i) m = fmax(m, fabs((double)a[i]));
    return m;
}

int main(void)
{
    const int X = BATCH * W * H * CH;
    network *net;
    float x[BATCH * W * H * CH], grad_ref[BATCH * W * H * CH], grad[BATCH * W * H * CH];
    float d[BATCH * CLASSES], truth[BATCH * CLASSES] = {1, 0, 0, 0, 1, 0};
    int i, k;
    float *probe;               /* the delta of layer 1 (the second convolution) */

    float *own_input;           /* the network's own input buffer, which free_network frees */

    srand(5);
    net = load();
    own_input = net->input;
    for (i = 0; i < X; ++i) x[i] = (float)rand() / RAND_MAX * 2 - 1;
    for (i = 0; i < BATCH * CLASSES; ++i) d[i] = (float)rand() / RAND_MAX - .5f;
    for (i = 0; i < net->n; ++i) {
        layer *l = &net->layers[i];
        if (l->type == CONVOLUTIONAL) {
            for (k = 0; k < l->n; ++k) {
                l->rolling_mean[k] = .1f * k;
                l->rolling_variance[k] = 1 + .2f * k;
            }
        }
    }
    probe = net->layers[1].delta;
    CHECK(net->deltas_clean != 0, "make_network allocates deltas_clean");

    case_begin("input gradients taken as darknet nightmare takes them, again and again");
    input_gradient(net, x, d, 1, grad_ref);
    CHECK(max_abs(grad_ref, X) > 1e-3, "the reference input gradient is not zero (max |g| %.3g)", max_abs(grad_ref, X));
    for (k = 0; k < 3; ++k) {
        network_predict(net, x);
        input_gradient(net, x, d, 0, grad);
        CHECK(max_diff(grad, grad_ref, X) <= 1e-6 * max_abs(grad_ref, X),
              "pass %d: the input gradient equals the one from hand-zeroed deltas (max diff %.3g)", k + 1,
              max_diff(grad, grad_ref, X));
        input_gradient(net, x, d, 0, grad);
        CHECK(max_diff(grad, grad_ref, X) <= 1e-6 * max_abs(grad_ref, X),
              "pass %d, straight after the last: the same gradient (max diff %.3g)", k + 1, max_diff(grad, grad_ref, X));
    }
    case_end();

    case_begin("which forward passes zero the deltas");
    network_predict(net, x);
    CHECK(*net->deltas_clean == 1, "after an inference pass without truth the deltas are known zero");
    probe[0] = 7;
    network_predict(net, x);
    CHECK(probe[0] == 7, "the next inference pass skips the fills (a value put into a delta survives it)");

    net->input = x; net->truth = truth; net->train = 1;
    forward_network(net);
    CHECK(probe[0] == 0, "a training pass zeroes the deltas (%g)", probe[0]);
    net->truth = 0; net->train = 0;

    network_predict(net, x);
    net->input = x; net->truth = truth; net->train = 0;
    forward_network(net);
    CHECK(*net->deltas_clean == 0, "an inference pass with truth leaves the deltas unknown (softmax wrote its delta)");
    net->truth = 0;
    probe[0] = 7;
    network_predict(net, x);
    CHECK(probe[0] == 0, "so the next inference pass zeroes them (%g)", probe[0]);

    network_predict(net, x);
    probe[0] = 7;
    input_gradient(net, x, d, 0, grad);     /* forward (skips), backward (dirties) */
    CHECK(*net->deltas_clean == 0, "a backward pass leaves the deltas unknown");
    network_predict(net, x);
    CHECK(*net->deltas_clean == 1, "the inference pass after it zeroes them again");

    network_predict(net, x);
    net->input = own_input;             /* resize_network frees and replaces it */
    net->truth = 0;
    resize_network(net, W, H);
    own_input = net->input;
    probe = net->layers[1].delta;
    CHECK(*net->deltas_clean == 0, "resize_network leaves the deltas unknown");
    probe[0] = 7;
    network_predict(net, x);
    CHECK(probe[0] == 0, "and the next inference pass zeroes them (%g)", probe[0]);

    {
        int *saved = net->deltas_clean;
        net->deltas_clean = 0;
        network_predict(net, x);
        probe[0] = 7;
        network_predict(net, x);
        CHECK(probe[0] == 0, "a network without deltas_clean zeroes them on every pass (%g)", probe[0]);
        net->deltas_clean = saved;
    }
    case_end();

    net->input = own_input;
    net->truth = 0;
    free_network(net);
    return harness_finish();
}
