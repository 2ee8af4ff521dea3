/* Reference activations for the layer tests, written from their definitions (not
 * activations.c's): act_ref(t) = act(t), and act_grad_ref(y) = act'(t) as a function of the
 * activated output y = act(t), the form Darknet's backward passes take it in. Linear, ReLU,
 * leaky (slope .1) and logistic; any other activation is taken as linear. */
#ifndef ACT_REF_H
#define ACT_REF_H

#include <math.h>

#include "darknet.h"

static inline double act_ref(double t, ACTIVATION a)
{
    switch (a) {
    case RELU: return t > 0 ? t : 0;
    case LEAKY: return t > 0 ? t : .1 * t;
    case LOGISTIC: return 1 / (1 + exp(-t));
    default: return t;
    }
}

static inline double act_grad_ref(double y, ACTIVATION a)
{
    switch (a) {
    case RELU: return y > 0;
    case LEAKY: return y > 0 ? 1 : .1;
    case LOGISTIC: return y * (1 - y);
    default: return 1;
    }
}

#endif
