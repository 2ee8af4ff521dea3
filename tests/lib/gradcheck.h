/* Finite-difference gradient checker for Darknet layers (CPU).
 *
 * Darknet's sign convention: a layer's backward pass ACCUMULATES
 *     net.delta      += -dL/d(input)
 *     weight_updates += -dL/d(weights)   (bias_updates, scale_updates likewise)
 * from l.delta = -dL/d(output). The checker therefore compares each central difference
 * dL/dx_i ~ (L(x + h e_i) - L(x - h e_i)) / (2h) with MINUS the stored value.
 *
 * How it works, for every variable and every element i:
 *   1. zero each variable's gradient buffer, call grad(ctx) once (forward + backward);
 *   2. x_i += h, L+ = loss(ctx); x_i -= 2h, L- = loss(ctx); restore x_i;
 *      the step actually taken is the difference of the two float values, so the rounding
 *      of x_i +- h to float does not bias the estimate; L is accumulated in double;
 *   3. the element passes when |fd - analytic| <= rel_tol * max(|fd|, |analytic|, floor),
 *      floor = max(abs_floor, rel_floor * max_i |analytic_i|) over that variable: Caffe's
 *      max(|a|, |b|, 1) with its 1 scaled to the tensor's gradients, and a small absolute
 *      floor (1e-3) for a tensor whose gradients are all near 0; rel_floor is small (3e-2),
 *      so a 2x error in an element 1000x smaller than the largest (an error of 1e-3 x the
 *      largest, against rel_tol x floor = 3e-4 x the largest) is caught (test_gradcheck.c
 *      checks that it is).
 * loss(ctx) and grad(ctx) must reseed every random generator they use (srand(fixed)) before
 * each forward pass, so that a stochastic layer draws the same numbers every time; the
 * checker verifies that two calls of loss(ctx) at the same point return the same value and
 * fails otherwise.
 *
 * An optional kink callback may skip elements whose +-h interval crosses a non-smooth
 * point (the ReLU/leaky kink, a max switching); skipped elements are counted in the result
 * and never count as checked; more than max_skip of the elements skipped fails the check.
 *
 * For layer-level tests, gc_layer_net wraps one layer in a network struct (input, delta,
 * truth, workspace, train=1) and provides ready-made loss/grad callbacks:
 *   - non-loss layers: L = sum_i r_i * out_i with fixed random r, so l.delta = -r;
 *   - loss layers (e.g. softmax with truth): L = l.cost[0], or a test-supplied objective
 *     of the outputs, and backward uses the delta the layer set itself.
 */
#ifndef TESTS_GRADCHECK_H
#define TESTS_GRADCHECK_H

#include "darknet.h"

typedef struct gc_var {
    const char *name;   /* for messages: "input", "weights" */
    float *x;           /* the values to perturb */
    int n;              /* how many */
    float *grad;        /* where grad(ctx) accumulates -dL/dx (Darknet's convention) */
} gc_var;

typedef double (*gc_loss_fn)(void *ctx);  /* forward only; reseeds; returns L */
typedef void (*gc_grad_fn)(void *ctx);    /* reseeds; forward + backward into the grads */
/* Nonzero: skip element i of vars[v] (the value x[i] is at its unperturbed value when
 * called; the callback may perturb and restore it). */
typedef int (*gc_kink_fn)(void *ctx, const gc_var *var, int i, double step);

typedef struct gc_opts {
    double step;          /* h; default 1e-3 */
    double rel_tol;       /* default 1e-2 */
    double abs_floor;     /* default 1e-3 */
    double rel_floor;     /* the floor is also at least rel_floor * max_i |analytic_i| of the
                             variable, so elements with tiny gradients are compared on the
                             scale of that variable's gradients, not against float noise
                             (default 3e-2) */
    int max_per_var;      /* check at most this many elements per variable, spread evenly
                             over the whole array (0 = all) */
    gc_kink_fn kink;      /* optional */
    double max_skip;      /* the check fails when more than this fraction of the elements
                             looked at was skipped (default 0.25) */
    int quiet;            /* 1: do not print each mismatching element */
    int max_report;       /* mismatches printed per variable (default 5) */
} gc_opts;

typedef struct gc_result {
    int checked;          /* elements compared */
    int skipped;          /* elements skipped by the kink callback */
    int failed;           /* elements over tolerance */
    int nondeterministic; /* 1 when loss(ctx) is not repeatable at the same point */
    double max_rel_err;   /* largest |fd - analytic| / max(|fd|, |analytic|, floor) */
    double max_abs_grad;  /* largest |analytic| seen (a test on all-zero gradients is weak) */
} gc_result;

/* Defaults as documented above. */
gc_opts gc_default_opts(void);

/* Runs the check; prints a one-line summary per variable (prefix label) and returns 1 when
 * every checked element passed, loss was repeatable, and at least one element was checked. */
int gradcheck(const char *label, const gc_var *vars, int nvars, gc_loss_fn loss,
              gc_grad_fn grad, void *ctx, const gc_opts *opts, gc_result *result);

/* ---- one layer wrapped in a network ---- */

typedef struct gc_layer_net {
    layer *l;
    network net;
    float *input;        /* [batch * l->inputs] */
    float *input_delta;  /* [batch * l->inputs]: -dL/d(input) after grad */
    float *truth;        /* [batch * l->outputs], zero unless the test fills it */
    float *r;            /* [batch * l->outputs]: weights of L = sum r * out */
    int loss_layer;      /* 1: the layer computes its own loss from truth and sets its own
                            delta in forward; L = l->cost[0] unless objective is set */
    double (*objective)(const struct gc_layer_net *t); /* loss layers: L computed by the test
                            from the outputs (in double), instead of l->cost[0] */
    unsigned seed;       /* srand(seed) before every forward */
} gc_layer_net;

/* Allocates input (uniform in [-1, 1]), input_delta, truth, r (uniform in [-1, 1]) and
 * workspace, all from rand() after srand(seed); sets net.train = 1, net.batch = l->batch. */
void gc_layer_net_init(gc_layer_net *t, layer *l, unsigned seed, int loss_layer);
void gc_layer_net_free(gc_layer_net *t);
double gc_layer_loss(void *ctx);  /* for gradcheck: ctx is a gc_layer_net */
void gc_layer_grad(void *ctx);
/* Kink callback for layers whose only non-smooth point is an activation kink at 0
 * (relu, leaky, ...): skips i when the sign pattern of the outputs differs between
 * x_i - h and x_i + h. */
int gc_layer_kink_sign(void *ctx, const gc_var *var, int i, double step);

/* Fills x[0..n) with uniform values in [lo, hi) from rand(). */
void gc_fill_uniform(float *x, int n, float lo, float hi);

/* srand(seed), and Darknet's rand_normal (which the make_*_layer functions draw initial
 * weights from) made to hold no value: it draws Box-Muller pairs and keeps the second value
 * of a pair for its next call, across srand. Without this, what a test draws after srand
 * depends on whether the tests before it drew an odd or even number of normal values. */
void gc_srand(unsigned seed);

#endif
