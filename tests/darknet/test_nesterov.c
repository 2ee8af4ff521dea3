/* [net] nesterov=1 (darknet-patches/0091): PyTorch's SGD(nesterov=True) in Darknet's update
 * convention, through the real update path (parse_network_cfg, update_network) for every
 * parameter array that supports it: convolutional weights, biases and batch-norm scales,
 * connected weights and biases, [cosine] weights and [cbcl] centers.
 *
 * Each array gets known weights w0 and two known gradients g1, g2 (per row mean, as PyTorch
 * sees them): before each step the accumulator receives -batch x g, as backward would
 * (Darknet sums over the batch's rows and stores -dL/dw). The reference, in double:
 *   g' = g + wd w (weight decay on weights only: Darknet decays no biases, scales, centers)
 *   v1 = g1';           w1 = w0 - lr (g1' + m v1)
 *   v2 = m v1 + g2';    w2 = w1 - lr (g2' + m v2)
 * By hand, for one bias (no decay) with w0 = 1, g1 = 0.5, g2 = -0.25, lr = 0.1, m = 0.9:
 *   v1 = 0.5, w1 = 1 - 0.1 (0.5 + 0.45) = 0.905; v2 = 0.45 - 0.25 = 0.2,
 *   w2 = 0.905 - 0.1 (-0.25 + 0.18) = 0.912.
 * With nesterov=0 the same numbers give Darknet's heavy ball: w1 = 0.95, w2 = 0.93, and no
 * extra buffers are allocated.
 * The cfg errors (nesterov=2, with adam=1, with a layer type without a Nesterov update) are
 * checked against ./darknet by tests/darknet/test_param_count.sh.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "darknet.h"
#include "cbcl_layer.h"

#include "harness.h"

enum { BATCH = 2 };
static const double LR = 0.1, M = 0.9, WD = 0.01;

static const char *CFG =
    "[net]\nbatch=2\nsubdivisions=1\nwidth=3\nheight=3\nchannels=1\n"
    "learning_rate=0.1\nmomentum=0.9\nnesterov=%d\ndecay=0.01\npolicy=constant\n\n"
    "[convolutional]\nbatch_normalize=1\nfilters=2\nsize=3\nstride=1\npad=1\nactivation=linear\n\n"
    "[avgpool]\n\n"
    "[connected]\noutput=3\nactivation=linear\n\n"
    "[cosine]\nclasses=3\n\n"
    "[cbcl]\nfeatures=1\nlogits=3\n";

typedef struct {
    const char *name;
    float *w, *u;         /* parameters and Darknet's accumulator, [n] */
    int n, decayed;
} param;

static network *parse(int nesterov)
{
    char path[] = "/tmp/ricasso-test-nesterov-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : 0;
    network *net;
    if (!f) { perror("mkstemp"); exit(1); }
    fprintf(f, CFG, nesterov);
    fclose(f);
    net = parse_network_cfg(path);
    unlink(path);
    return net;
}

static double grad(int k, int i, int step) { return step == 1 ? 0.5 * sin(1.0 + k + 0.7 * i) : -0.25 * cos(2.0 + k + 0.3 * i); }

/* Runs the two steps on every parameter array of net and compares with the reference. */
static void two_steps(network *net, param *ps, int np, int nesterov)
{
    int k, i, step;
    double **ref = calloc(np, sizeof(double *)), **v = calloc(np, sizeof(double *));
    for (k = 0; k < np; ++k) {
        ref[k] = calloc(ps[k].n, sizeof(double));
        v[k] = calloc(ps[k].n, sizeof(double));
        for (i = 0; i < ps[k].n; ++i) {
            ps[k].w[i] = (float)(0.3 * cos(0.5 * i + k));
            ps[k].u[i] = 0;
            ref[k][i] = ps[k].w[i];
        }
    }
    for (step = 1; step <= 2; ++step) {
        for (k = 0; k < np; ++k)
            for (i = 0; i < ps[k].n; ++i) {
                const double g = grad(k, i, step) + (ps[k].decayed ? WD * ref[k][i] : 0);
                ps[k].u[i] += (float)(-BATCH * grad(k, i, step));
                v[k][i] = M * v[k][i] + g;
                ref[k][i] -= LR * (nesterov ? g + M * v[k][i] : v[k][i]);
            }
        update_network(net);
        for (k = 0; k < np; ++k) {
            double err = 0, scale = 0;
            for (i = 0; i < ps[k].n; ++i) {
                err = err_max(err, fabs(ps[k].w[i] - ref[k][i]));
                scale = fmax(scale, fabs(ref[k][i]));
            }
            CHECK(err <= 1e-6 * fmax(1, scale), "%s: %s, step %d: %d parameters as the reference "
                  "(max error %.2g)", nesterov ? "nesterov=1" : "nesterov=0", ps[k].name, step, ps[k].n, err);
        }
    }
    for (k = 0; k < np; ++k) { free(ref[k]); free(v[k]); }
    free(ref);
    free(v);
}

static void run(int nesterov)
{
    network *net = parse(nesterov);
    layer *conv = &net->layers[0], *fc = &net->layers[2], *cos_l = &net->layers[3], *cb = &net->layers[4];
    const cbcl_state *st = cb->plugin_state;
    const char *tag = nesterov ? "nesterov=1" : "nesterov=0";
    {
        param ps[] = {
            {"convolutional weights", conv->weights, conv->weight_updates, conv->nweights, 1},
            {"convolutional biases", conv->biases, conv->bias_updates, conv->n, 0},
            {"convolutional batch-norm scales", conv->scales, conv->scale_updates, conv->n, 0},
            {"connected weights", fc->weights, fc->weight_updates, fc->nweights, 1},
            {"connected biases", fc->biases, fc->bias_updates, fc->outputs, 0},
            {"[cosine] weights", cos_l->weights, cos_l->weight_updates, cos_l->nweights, 1},
            {"[cbcl] centers", st->centers, st->center_updates, st->K * st->C * st->D, 0},
        };
        const int np = sizeof(ps) / sizeof(ps[0]);
        int k, buffers = 0;
        for (k = 0; k < 5; ++k) buffers += !!net->layers[k].weight_updates_prev + !!net->layers[k].bias_updates_prev
                                         + !!net->layers[k].scale_updates_prev;
        CHECK(buffers == (nesterov ? 7 : 0), "%s: %d extra buffers allocated (%d expected: convolutional 3, "
              "connected 2, [cosine] 1, [cbcl] 1)", tag, buffers, nesterov ? 7 : 0);
        two_steps(net, ps, np, nesterov);

        /* the hand-computed sequence on connected bias 0 */
        fc->biases[0] = 1;
        fc->bias_updates[0] = -BATCH * 0.5f;
        if (fc->bias_updates_prev) fc->bias_updates_prev[0] = 0;
        update_network(net);
        CHECK_CLOSE(fc->biases[0], nesterov ? 0.905 : 0.95, 1e-6, "%s: by hand, step 1: bias 1 -> %g", tag,
                    nesterov ? 0.905 : 0.95);
        fc->bias_updates[0] += -BATCH * -0.25f;
        update_network(net);
        CHECK_CLOSE(fc->biases[0], nesterov ? 0.912 : 0.93, 1e-6, "%s: by hand, step 2: bias -> %g", tag,
                    nesterov ? 0.912 : 0.93);
    }
    free_network(net);
}

int main(void)
{
    run(1);
    run(0);
    return harness_finish();
}
