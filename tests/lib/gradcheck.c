/* See gradcheck.h. */
#include "gradcheck.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

gc_opts gc_default_opts(void)
{
    gc_opts o;
    memset(&o, 0, sizeof(o));
    o.step = 1e-3;
    o.rel_tol = 1e-2;
    o.abs_floor = 1e-3;
    o.rel_floor = 3e-2;
    o.max_skip = 0.25;
    o.max_report = 5;
    return o;
}

void gc_fill_uniform(float *x, int n, float lo, float hi)
{
    int i;
    for (i = 0; i < n; ++i) x[i] = lo + (hi - lo) * (float)((double)rand() / ((double)RAND_MAX + 1));
}

float rand_normal();  /* Darknet's src/utils.c */

void gc_srand(unsigned seed)
{
    int first;
    srand(seed);
    first = rand();
    srand(seed);
    rand_normal();
    /* Had it held a value, it returned that and drew nothing: rand() starts over. Otherwise
       it drew a pair and now holds the second value, which this call takes. */
    if (rand() != first) rand_normal();
    srand(seed);
}

int gradcheck(const char *label, const gc_var *vars, int nvars, gc_loss_fn loss,
              gc_grad_fn grad, void *ctx, const gc_opts *opts, gc_result *result)
{
    gc_opts o = opts ? *opts : gc_default_opts();
    gc_result res;
    double **analytic = calloc(nvars, sizeof(double *));
    double l0, l1;
    int v, i, ok;

    memset(&res, 0, sizeof(res));
    if (o.step <= 0) o.step = 1e-3;
    if (o.max_report <= 0) o.max_report = 5;

    /* Analytic gradients, in dL/dx form (Darknet stores the negative). */
    for (v = 0; v < nvars; ++v) memset(vars[v].grad, 0, vars[v].n * sizeof(float));
    grad(ctx);
    for (v = 0; v < nvars; ++v) {
        analytic[v] = malloc(vars[v].n * sizeof(double));
        for (i = 0; i < vars[v].n; ++i) analytic[v][i] = -(double)vars[v].grad[i];
    }

    /* Without reseeding, a stochastic forward gives a different L each time and every
     * difference quotient is noise: refuse to compare in that case. */
    l0 = loss(ctx);
    l1 = loss(ctx);
    if (!(l0 == l1) || !isfinite(l0)) {
        res.nondeterministic = 1;
        printf("  %s: loss is not repeatable at the same point (%.17g vs %.17g): "
               "reseed before every forward\n", label, l0, l1);
    }

    for (v = 0; v < nvars && !res.nondeterministic; ++v) {
        const gc_var *var = &vars[v];
        int stride = (o.max_per_var > 0 && var->n > o.max_per_var)
                         ? (var->n + o.max_per_var - 1) / o.max_per_var : 1;
        int checked = 0, skipped = 0, failed = 0, reported = 0;
        double max_rel = 0, floor = o.abs_floor, gmax = 0;
        for (i = 0; i < var->n; ++i) gmax = fmax(gmax, fabs(analytic[v][i]));
        floor = fmax(floor, o.rel_floor * gmax);
        for (i = 0; i < var->n; i += stride) {
            float x0 = var->x[i];
            float xp = (float)(x0 + o.step), xm = (float)(x0 - o.step);
            double lp, lm, fd, an, scale, rel;
            if (o.kink && o.kink(ctx, var, i, o.step)) {
                var->x[i] = x0;
                ++skipped;
                continue;
            }
            var->x[i] = xp;
            lp = loss(ctx);
            var->x[i] = xm;
            lm = loss(ctx);
            var->x[i] = x0;
            fd = (lp - lm) / ((double)xp - (double)xm);
            an = analytic[v][i];
            scale = fmax(fmax(fabs(fd), fabs(an)), floor);
            rel = fabs(fd - an) / scale;
            if (!isfinite(fd) || !isfinite(an)) rel = INFINITY;
            if (fabs(an) > res.max_abs_grad) res.max_abs_grad = fabs(an);
            if (rel > max_rel) max_rel = rel;
            ++checked;
            if (!(rel <= o.rel_tol)) {
                ++failed;
                if (!o.quiet && reported++ < o.max_report)
                    printf("  %s: %s[%d]: finite difference %.9g, analytic %.9g "
                           "(stored %.9g), rel err %.3g\n",
                           label, var->name, i, fd, an, (double)var->grad[i], rel);
            }
        }
        printf("  %s: %s: %d checked, %d skipped, %d over tolerance, max rel err %.3g\n",
               label, var->name, checked, skipped, failed, max_rel);
        res.checked += checked;
        res.skipped += skipped;
        res.failed += failed;
        if (max_rel > res.max_rel_err) res.max_rel_err = max_rel;
    }
    fflush(stdout);

    for (v = 0; v < nvars; ++v) free(analytic[v]);
    free(analytic);
    ok = !res.nondeterministic && res.failed == 0 && res.checked > 0;
    if (res.skipped > o.max_skip * (res.checked + res.skipped)) {
        printf("  %s: %d of %d elements skipped at kinks: more than %.0f%%\n", label, res.skipped,
               res.checked + res.skipped, 100 * o.max_skip);
        ok = 0;
    }
    if (result) *result = res;
    return ok;
}

/* ---- one layer wrapped in a network ---- */

void gc_layer_net_init(gc_layer_net *t, layer *l, unsigned seed, int loss_layer)
{
    int nin = l->batch * l->inputs, nout = l->batch * l->outputs;
    memset(t, 0, sizeof(*t));
    t->l = l;
    t->seed = seed;
    t->loss_layer = loss_layer;
    srand(seed);
    t->input = calloc(nin, sizeof(float));
    t->input_delta = calloc(nin, sizeof(float));
    t->truth = calloc(nout, sizeof(float));
    t->r = calloc(nout, sizeof(float));
    gc_fill_uniform(t->input, nin, -1, 1);
    gc_fill_uniform(t->r, nout, -1, 1);

    t->net.n = 1;
    t->net.layers = l;
    t->net.batch = l->batch;
    t->net.inputs = l->inputs;
    t->net.outputs = l->outputs;
    t->net.truths = l->outputs;
    t->net.input = t->input;
    t->net.delta = t->input_delta;
    t->net.truth = t->truth;
    t->net.train = 1;
    t->net.index = 0;
    t->net.workspace = calloc(l->workspace_size > 0 ? l->workspace_size : 1, 1);
}

void gc_layer_net_free(gc_layer_net *t)
{
    free(t->input);
    free(t->input_delta);
    free(t->truth);
    free(t->r);
    free(t->net.workspace);
}

static void layer_forward(gc_layer_net *t)
{
    srand(t->seed);
    t->l->forward(*t->l, t->net);
}

double gc_layer_loss(void *ctx)
{
    gc_layer_net *t = ctx;
    const layer *l = t->l;
    double s = 0;
    int i;
    layer_forward(t);
    if (t->loss_layer) return t->objective ? t->objective(t) : l->cost[0];
    for (i = 0; i < l->batch * l->outputs; ++i) s += (double)t->r[i] * l->output[i];
    return s;
}

void gc_layer_grad(void *ctx)
{
    gc_layer_net *t = ctx;
    layer *l = t->l;
    int i;
    memset(t->input_delta, 0, l->batch * l->inputs * sizeof(float));
    layer_forward(t);
    /* L = sum r * out, so dL/dout = r and Darknet's delta = -dL/dout = -r. A loss layer has
     * set its own delta in forward. */
    if (!t->loss_layer)
        for (i = 0; i < l->batch * l->outputs; ++i) l->delta[i] = -t->r[i];
    l->backward(*l, t->net);
}

int gc_layer_kink_sign(void *ctx, const gc_var *var, int i, double step)
{
    gc_layer_net *t = ctx;
    const layer *l = t->l;
    int n = l->batch * l->outputs, j, crossed = 0;
    float x0 = var->x[i];
    signed char *sign = malloc(n);
    var->x[i] = (float)(x0 + step);
    layer_forward(t);
    for (j = 0; j < n; ++j) sign[j] = (l->output[j] > 0) - (l->output[j] < 0);
    var->x[i] = (float)(x0 - step);
    layer_forward(t);
    for (j = 0; j < n && !crossed; ++j)
        crossed = sign[j] != (l->output[j] > 0) - (l->output[j] < 0);
    var->x[i] = x0;
    free(sign);
    return crossed;
}
