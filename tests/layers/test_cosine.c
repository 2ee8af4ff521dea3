/* [cosine] (src/layers/cosine_layer.c):
 *   forward against a naive double-precision reference, FD gradients of input and weights,
 *   backward accumulating (as Darknet's momentum and subdivisions need), the SGD update,
 *   a zero input row, save/load through a network parsed from a cfg, and the registry.
 * The cfg keys (classes, scale) are checked by tests/plugin/test_cfg.sh.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "darknet.h"
#include "cosine_layer.h"
#include "layer_registry.h"

#include "gradcheck.h"
#include "harness.h"

enum { B = 3, D = 5, C = 4 };
static const float SCALE = 7;

/* out[b,c] = s * <x_b, w_c> / (|x_b| |w_c|), in double */
static void reference_forward(const float *x, const float *w, double s, double *out)
{
    int b, c, d;
    for (b = 0; b < B; ++b)
        for (c = 0; c < C; ++c) {
            double dot = 0, nx = 0, nw = 0;
            for (d = 0; d < D; ++d) {
                dot += (double)x[b * D + d] * w[c * D + d];
                nx += (double)x[b * D + d] * x[b * D + d];
                nw += (double)w[c * D + d] * w[c * D + d];
            }
            out[b * C + c] = s * dot / (sqrt(nx) * sqrt(nw));
        }
}

static double max_abs_diff(const float *a, const double *b, int n)
{
    double m = 0;
    int i;
    for (i = 0; i < n; ++i) m = err_max(m, fabs(a[i] - b[i]));
    return m;
}

static void test_forward_and_gradients(void)
{
    layer l;
    gc_layer_net t;
    gc_result r;
    gc_opts o = gc_default_opts();
    gc_var vars[2];
    double ref[B * C];
    float g_in[B * D], g_w[C * D];
    int ok, i, finite = 1;

    srand(42);
    l = make_cosine_layer(B, D, C, SCALE);
    CHECK(l.inputs == D && l.outputs == C && l.batch == B && l.nweights == C * D,
          "cosine: make_cosine_layer shapes (inputs %d, outputs %d, nweights %d)", l.inputs, l.outputs, l.nweights);
    gc_layer_net_init(&t, &l, 17, 0);

    gc_layer_loss(&t);
    reference_forward(t.input, l.weights, SCALE, ref);
    CHECK_CLOSE(max_abs_diff(l.output, ref, B * C), 0, 2e-6 * SCALE,
                "cosine: forward matches naive double reference (B=%d D=%d C=%d scale=%g)", B, D, C, SCALE);
    {
        double m = 0;
        for (i = 0; i < B * C; ++i) m = fmax(m, fabs(ref[i]));
        CHECK(m > 0.3 * SCALE && m <= SCALE * (1 + 1e-6), "cosine: outputs span the [-s, s] range (max |out| %.3g)", m);
    }

    /* A different scale scales the outputs exactly. */
    {
        layer l2 = l;
        cosine_state *cs = l.plugin_state;   /* shared by l and its copy l2 */
        cs->scale = 2 * SCALE;
        l2.output = calloc(B * C, sizeof(float));
        l2.forward(l2, t.net);
        cs->scale = SCALE;
        for (i = 0; i < B * C; ++i)
            if (l2.output[i] != 2 * l.output[i] && fabsf(l2.output[i] - 2 * l.output[i]) > 1e-5f * SCALE) break;
        CHECK(i == B * C, "cosine: doubling scale doubles the outputs");
        free(l2.output);
    }

    vars[0] = (gc_var){"input", t.input, B * D, t.input_delta};
    vars[1] = (gc_var){"weights", l.weights, C * D, l.weight_updates};
    ok = gradcheck("cosine", vars, 2, gc_layer_loss, gc_layer_grad, &t, &o, &r);
    CHECK(ok && r.checked == B * D + C * D,
          "cosine: FD gradients of input and weights match -delta/-weight_updates (%d checked, max rel %.2g)",
          r.checked, r.max_rel_err);
    CHECK(r.max_abs_grad > 0.1, "cosine: gradients are not trivially small (max |g| %.3g)", r.max_abs_grad);

    /* Backward must ADD to net.delta and weight_updates: Darknet keeps momentum in
     * weight_updates and sums subdivisions there. */
    memset(t.input_delta, 0, sizeof(float) * B * D);
    memset(l.weight_updates, 0, sizeof(float) * C * D);
    gc_layer_grad(&t);
    memcpy(g_in, t.input_delta, sizeof(g_in));
    memcpy(g_w, l.weight_updates, sizeof(g_w));
    for (i = 0; i < C * D; ++i) l.weight_updates[i] = 0.25f;
    /* gc_layer_grad zeroes input_delta, so run forward/backward by hand here */
    {
        network net = t.net;
        float pre[B * D];
        for (i = 0; i < B * D; ++i) pre[i] = t.input_delta[i] = 0.5f;
        srand(t.seed);
        l.forward(l, net);
        for (i = 0; i < B * C; ++i) l.delta[i] = -t.r[i];
        l.backward(l, net);
        double ein = 0, ew = 0;
        for (i = 0; i < B * D; ++i) ein = err_max(ein, fabs(t.input_delta[i] - (pre[i] + g_in[i])));
        for (i = 0; i < C * D; ++i) ew = err_max(ew, fabs(l.weight_updates[i] - (0.25 + g_w[i])));
        CHECK_CLOSE(ein, 0, 1e-6, "cosine: backward accumulates into net.delta");
        CHECK_CLOSE(ew, 0, 1e-6, "cosine: backward accumulates into weight_updates");
    }

    /* A zero input row has no direction: outputs 0 and finite gradients, not NaN. */
    for (i = 0; i < D; ++i) t.input[D + i] = 0;
    memset(t.input_delta, 0, sizeof(float) * B * D);
    gc_layer_grad(&t);
    for (i = 0; i < B * C; ++i) finite &= isfinite(l.output[i]);
    for (i = 0; i < B * D; ++i) finite &= isfinite(t.input_delta[i]);
    for (i = 0; i < C * D; ++i) finite &= isfinite(l.weight_updates[i]);
    CHECK(finite, "cosine: a zero input row gives finite outputs and gradients");
    CHECK(l.output[C] == 0 && l.output[C + 1] == 0 && l.output[C + 2] == 0 && l.output[C + 3] == 0,
          "cosine: a zero input row gives zero logits");

    gc_layer_net_free(&t);
    free_layer(l);
}

/* weights += lr/batch * (updates - decay*batch*weights); updates *= momentum */
static void test_update(void)
{
    layer l;
    update_args a;
    float w0[C * D], u0[C * D];
    double ew = 0, eu = 0;
    int i;

    srand(5);
    l = make_cosine_layer(B, D, C, SCALE);
    l.learning_rate_scale = 1;   /* set by the cfg parser for every layer */
    for (i = 0; i < C * D; ++i) l.weight_updates[i] = rand_uniform(-1, 1);
    memcpy(w0, l.weights, sizeof(w0));
    memcpy(u0, l.weight_updates, sizeof(u0));
    memset(&a, 0, sizeof(a));
    a.batch = B;
    a.learning_rate = 0.1f;
    a.momentum = 0.9f;
    a.decay = 0.01f;
    l.update(l, a);
    for (i = 0; i < C * D; ++i) {
        double u = u0[i] - 0.01 * B * w0[i];
        ew = err_max(ew, fabs(l.weights[i] - (w0[i] + 0.1 / B * u)));
        eu = err_max(eu, fabs(l.weight_updates[i] - 0.9 * u));
    }
    CHECK_CLOSE(ew, 0, 1e-6, "cosine: update moves weights by lr/batch * (updates - decay*batch*w)");
    CHECK_CLOSE(eu, 0, 1e-6, "cosine: update keeps momentum * updates");
    free_layer(l);
}


static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void test_save_load(void)
{
    const char *cfg_text =
        "[net]\nbatch=3\ninputs=5\n\n"
        "[cosine]\nclasses=4\nscale=7\n";
    char *cfg = tmp_path("cosine.cfg"), *wfile = tmp_path("cosine.weights");
    FILE *f = fopen(cfg, "w");
    network *a, *b;
    layer la, lb;
    float x[B * D], out_a[B * C];
    float *out;
    int i;

    fputs(cfg_text, f);
    fclose(f);
    srand(1);
    a = parse_network_cfg(cfg);
    la = a->layers[0];
    CHECK(a->n == 1 && la.type == PLUGIN && la.plugin == plugin_find("cosine"),
          "cosine cfg: parses to one PLUGIN layer made by the cosine entry");
    CHECK(la.outputs == C && la.inputs == D && la.batch == B &&
              ((cosine_state *)la.plugin_state)->scale == SCALE,
          "cosine cfg: classes=4 scale=7 on 5 inputs, batch 3 (outputs %d, inputs %d, scale %g)",
          la.outputs, la.inputs, ((cosine_state *)la.plugin_state)->scale);
    CHECK(la.learning_rate_scale == 1, "cosine cfg: learning_rate_scale defaults to 1");

    for (i = 0; i < B * D; ++i) x[i] = rand_uniform(-1, 1);
    out = network_predict(a, x);
    memcpy(out_a, out, sizeof(out_a));
    save_weights(a, wfile);
    /* header: 3 ints + size_t seen, then exactly the C x D weights */
    CHECK(file_size(wfile) == (long)(3 * sizeof(int) + sizeof(size_t) + C * D * sizeof(float)),
          "cosine save: weights file holds the header and the %d weights (%ld bytes)", C * D, file_size(wfile));

    srand(2);   /* different random initial weights */
    b = parse_network_cfg(cfg);
    lb = b->layers[0];
    CHECK(memcmp(la.weights, lb.weights, sizeof(float) * C * D) != 0,
          "cosine load: a fresh network starts from different weights");
    load_weights(b, wfile);
    CHECK(memcmp(la.weights, lb.weights, sizeof(float) * C * D) == 0, "cosine load: weights identical after load");
    out = network_predict(b, x);
    CHECK(memcmp(out, out_a, sizeof(out_a)) == 0, "cosine load: outputs identical after load");

    free_network(a);
    free_network(b);
    unlink(cfg);
    unlink(wfile);
}

static void test_registry(void)
{
    const plugin_type *t = plugin_find("cosine");
    int i, found = 0;
    CHECK(t != 0, "registry: plugin_find(\"cosine\") finds the type");
    CHECK(t && t->parse == parse_cosine_layer && t->save_weights == save_cosine_weights &&
              t->load_weights == load_cosine_weights && t->free == free_cosine_layer,
          "registry: cosine entry wires parse, free, save and load");
    CHECK(plugin_find("nosuchlayer") == 0, "registry: unknown name gives null");
    CHECK(plugin_find("cosin") == 0 && plugin_find("cosine ") == 0, "registry: names match exactly");
    CHECK(plugin_find("convolutional") == 0, "registry: stock types are not plugins");
    for (i = 0; i < plugin_type_count(); ++i) found += plugin_type_at(i) == t;
    CHECK(found == 1, "registry: the table lists cosine once");
    CHECK(plugin_type_at(-1) == 0 && plugin_type_at(plugin_type_count()) == 0,
          "registry: plugin_type_at is null out of range");
}

/* Darknet stops with exit(1) on a weights error: clean up from atexit, not only at the end. */
int main(void)
{
    test_registry();
    test_forward_and_gradients();
    test_update();
    test_save_load();
    return harness_finish();
}
