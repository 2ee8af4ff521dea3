/* Random variates on top of rand(), so a seeded run ([net] seed=) repeats exactly.
 * No static state: safe to call from the loader thread and the training thread (rand()
 * itself is locked by the C library). */
#ifndef RNG_UTIL_H
#define RNG_UTIL_H

double rng_uniform_open(void);        /* U(0, 1), never 0 or 1 */
double rng_normal(void);              /* N(0, 1) */
double rng_gamma(double shape);       /* Gamma(shape, 1), shape > 0 */
double rng_beta(double a, double b);  /* Beta(a, b), a, b > 0 */
int rng_int(int n);                   /* uniform in [0, n), n >= 1 */

#endif
