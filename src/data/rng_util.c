#include "rng_util.h"

#include <math.h>
#include <stdlib.h>

double rng_uniform_open(void)
{
    return ((double)rand() + 1.0) / ((double)RAND_MAX + 2.0);
}

double rng_normal(void)
{
    /* Box-Muller; the second variate is dropped to keep no state between calls. */
    double u1 = rng_uniform_open(), u2 = rng_uniform_open();
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* Marsaglia and Tsang's method; shape < 1 is boosted: G(a) = G(a+1) * U^(1/a). */
double rng_gamma(double shape)
{
    if (shape < 1) return rng_gamma(shape + 1) * pow(rng_uniform_open(), 1.0 / shape);
    {
        const double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
        for (;;) {
            double x = rng_normal(), v = 1 + c * x, u;
            if (v <= 0) continue;
            v = v * v * v;
            u = rng_uniform_open();
            if (log(u) < 0.5 * x * x + d - d * v + d * log(v)) return d * v;
        }
    }
}

double rng_beta(double a, double b)
{
    double x = rng_gamma(a), y = rng_gamma(b);
    return x / (x + y);
}

int rng_int(int n)
{
    /* rand() % n is biased by at most n / RAND_MAX: negligible for batch-sized n. */
    return rand() % n;
}
