/* The maths of the RICASSO layers as pure kernels: pointers and sizes in, no layer, network
 * or global state, forward beside its backward. Each function is named for the paper
 * equation (or LGLA component) it computes; the layers of this folder gather their buffers
 * and call these. Equation numbers are the paper's (../shared/paper, read as
 * ../shared/METHOD-NOTES.md fixes it).
 *
 *   paper                       kernels                                        layer
 *   LGLA cosine head            cosine_classifier_forward / _backward          [cosine]
 *   sec. 3.2 Mixup, CutMix      mixup_forward / _backward, cutmix_box_clip,    [mixdata]
 *                               cutmix_forward / _backward
 *   eq. 1 priors, T = log p     lgla_group_ranges, expert_margins              [expert_softmax]
 *   eq. 6 energy                energy_forward                                 [expert_softmax]
 *   eq. 5 AALA factor           aala_factor_forward                            [expert_softmax]
 *   eq. 7 g (LGLA)              angular_weight_forward                         [expert_softmax]
 *   eq. 4, 7 adjusted CE        logit_adjusted_ce_forward / _backward          [expert_softmax]
 *   eq. 9 dual entropy          dual_entropy_weight                            [cbcl]
 *   eq. 10 DEC d+               dec_forward / _backward                        [cbcl]
 *   eq. 8 VBL d-                vbl_forward / _backward                        [cbcl]
 *   eq. 11 CBCL ratio           cbcl_ratio                                     [cbcl]
 *   eq. 12 RCL (SimSiam)        rcl_forward / _backward                        [rcl]
 *
 * Glossary of dimension letters (every buffer's shape is written [..] with them):
 *   B  rows of a batch        C  classes            D  feature size (cosine input, CBCL z)
 *   H  RCL head width         K  experts            P  mixing pairs
 *   M  mixed blocks (Mixup, CutMix)                 X  values per row
 *   W, Hh, Ch  width, height and channels of an image row (X = Ch * Hh * W)
 *   ldt  stride between target rows (Darknet's net.truths, >= C)
 *
 * Conventions (Darknet's): a backward ADDS -dL/dx to its delta buffers (delta = -dL/dx), so
 * that momentum and subdivisions accumulate. Sums run in double, buffers are float.
 */
#ifndef RICASSO_KERNELS_H
#define RICASSO_KERNELS_H

/* A zero feature, weight or head vector has no direction: norms are floored at this so
 * that its cosine is 0 and its gradient finite. */
#define NORM_FLOOR 1e-12

/* ---- vectors ---- */

/* q [B, C] = softmax of each row of z [B, C]; q may equal z (in place). */
void softmax_forward(float *q, const float *z, int B, int C);
/* max(|a|, NORM_FLOOR), a [n]. */
double l2_norm(const float *a, int n);
/* cos(a, b) = a.b / (|a| |b|), a [n], b [n], norms as l2_norm. */
double cosine_similarity(const float *a, const float *b, int n);
/* |a - b|^2, a [n], b [n]. */
float sqdist(const float *a, const float *b, int n);

/* ---- cosine classifier (LGLA's expert head): out[b, c] = s cos(x_b, w_c) ---- */

/* out [B, C]; keeps cosv [B, C], xnorm [B], wnorm [C] for backward; x [B, D], w [C, D]. */
void cosine_classifier_forward(float *out, float *cosv, float *xnorm, float *wnorm,
                               const float *x, const float *w, float s, int B, int D, int C);
/* From dout [B, C] = -dL/dout, adds -dL/dx to dx [B, D] (skipped when dx is 0) and -dL/dw
 * to dw [C, D]:
 *   -dL/dx_b += s sum_c dout[b,c] (w_c/|w_c| - cos[b,c] x_b/|x_b|) / |x_b|
 *   -dL/dw_c += s sum_b dout[b,c] (x_b/|x_b| - cos[b,c] w_c/|w_c|) / |w_c|           */
void cosine_classifier_backward(float *dx, float *dw, const float *dout, const float *x,
                                const float *w, const float *cosv, const float *xnorm,
                                const float *wnorm, float s, int B, int D, int C);

/* ---- NOD mixing (section 3.2) ---- */

/* Mixup: out [X] = lam xi + (1 - lam) xj, xi [X], xj [X]; with X = C it mixes the two-hot
 * labels too. */
void mixup_forward(float *out, const float *xi, const float *xj, float lam, int X);
/* di [X] += lam dout, dj [X] += (1 - lam) dout; dout [X]. */
void mixup_backward(float *di, float *dj, const float *dout, float lam, int X);
/* CutMix's box on a W x Hh image: area (1 - lam) W Hh, centred at (cx, cy), clipped to the
 * image. Writes box [4] = x0, y0, x1, y1 (half-open) and returns the fraction of the image
 * left to xi (CutMix's lam recomputed from the clipped box). */
float cutmix_box_clip(int *box, int W, int Hh, float lam, int cx, int cy);
/* out [Ch, Hh, W] = xj inside box [4], xi outside; xi, xj [Ch, Hh, W]. */
void cutmix_forward(float *out, const float *xi, const float *xj, const int *box, int W,
                    int Hh, int Ch);
/* dj [Ch, Hh, W] += dout inside box [4], di += dout outside; dout [Ch, Hh, W]. */
void cutmix_backward(float *di, float *dj, const float *dout, const int *box, int W, int Hh,
                     int Ch);

/* ---- eq. 1: the experts' priors and margins T(k, j) = log p_{k,j} ---- */

/* LGLA's class groups: walk count [C] in ascending order with a running sum that restarts
 * after each cut, and cut where it passes sum(count) / want. Writes the count ranges
 * (lo, hi], head-most first, into lo [want], hi [want] and returns how many ranges the walk
 * gives; when that is not want, lo and hi are left as they were. sorted [C] and cuts [C]
 * are scratch. */
int lgla_group_ranges(int *lo, int *hi, int *sorted, int *cuts, const int *count, int C,
                      int want);
/* margin [K, C]: local expert k < K-1: log(p'_{k,c} + eps), p' = p_c when
 * class_group[c] == k, else max(p); global expert K-1: tau log(p_c + eps) (eq. 1's
 * "e^tau n_j" read as the prior p^tau). prior [C], class_group [C]. */
void expert_margins(float *margin, const float *prior, const int *class_group, float tau,
                    double eps, int K, int C);

/* ---- eq. 5-6: AALA ---- */

/* Eq. 6: E [B], E_b = -T log sum_c exp(v_bc / T); v [B, C]. */
void energy_forward(float *E, const float *v, float T, int B, int C);
/* Eq. 5: a [B] = 1 + softmax over the batch rows of E [B], i.e.
 * (e^{E_b} + sum_n e^{E_n}) / sum_n e^{E_n}. a may equal E. A constant in backward. */
void aala_factor_forward(float *a, const float *E, int B);

/* ---- eq. 7: LGLA's angular re-weighting g ---- */

/* g [B]: for an ID row of class y = row_class[b] >= 0 with class_group[y] >= 0,
 * theta_b = arccos(v_{b,y} / s); theta_bar = the mean theta over the ID rows of the same
 * group; g_b = 1 if theta_b < theta_bar else 1 + theta_b - theta_bar. Other rows: g_b = 1.
 * v [B, C] cosine logits of scale s, row_class [B], class_group [C] (values < G, or -1).
 * A constant in backward. */
void angular_weight_forward(float *g, const float *v, const int *row_class,
                            const int *class_group, int G, float s, int B, int C);

/* ---- eq. 4 and 7: the logit-adjusted, weighted cross-entropy ---- */

/* q [B, C] = softmax(v_b + a_b margin) per row (kept for backward); returns
 * sum_b g_b (-sum_c t_bc log q_bc). v [B, C], a [B], margin [C], g [B],
 * t [B, ldt] (one-hot or two-hot targets). */
double logit_adjusted_ce_forward(float *q, const float *v, const float *a, const float *margin,
                                 const float *g, const float *t, int ldt, int B, int C);
/* dv [B, C] += g_b (t_bc - q_bc sum_c' t_bc'), i.e. -dL/dv with a and g constant. */
void logit_adjusted_ce_backward(float *dv, const float *q, const float *g, const float *t,
                                int ldt, int B, int C);

/* ---- eq. 8-11: CBCL ---- */

/* Eq. 9: w = -sum_c (q_c + [c = y]) log q_c for the probabilities q [C] of a row of class y. */
double dual_entropy_weight(const float *q, int y, int C);
/* Eq. 10: d+ = 1/2 mean over the n_id ID rows b (row_class[b] >= 0) of w_b |z_b - c_{y_b}|^2,
 * w_b the eq. 9 weight of softmax(v_b). Writes w [B] (0 for the other rows); q [C] is
 * scratch. z [B, D], v [B, C], centers [C, D], row_class [B]. Returns d+ (0 when n_id = 0). */
double dec_forward(float *w, float *q, const float *z, const float *v, const float *centers,
                   const int *row_class, int n_id, int B, int D, int C);
/* With gp = dL/d(d+) / n_id (times any loss scale) from the caller: for each ID row,
 * r = gp w_b (z_b - c_y); dz_b -= r and dcenters_y += r, i.e. -dL/dz and -dL/dc with w
 * constant. dz [B, D], dcenters [C, D]. */
void dec_backward(float *dz, float *dcenters, const float *z, const float *centers,
                  const float *w, const int *row_class, float gp, int B, int D);
/* Eq. 8 (the sum): over pairs p and mixed blocks m with row0[m] >= 0, of
 * |z_i - z_r|^2 + |z_j - z_r|^2, i = p, j = P + p, r = row0[m] + p. z [B, D], row0 [M].
 * d- is this over the number of mixed rows. */
double vbl_forward(const float *z, const int *row0, int M, int P, int D);
/* For each term of vbl_forward, with a = z_i - z_r, b = z_j - z_r: dz_i -= gm a,
 * dz_j -= gm b, dz_r += gm (a + b), i.e. -dL/dz with gm = 2 dL/d(d-) / (mixed rows) (times any loss
 * scale) from the caller. dz [B, D]. */
void vbl_backward(float *dz, const float *z, const int *row0, int M, int P, int D, float gm);
/* Eq. 11: L = (e^A - e^B + e0) / (e^A + e^B + e1), A = g0 d+ >= 0, B = g1 d- >= 0, and its
 * partial derivatives into dA, dB (either may be 0), without overflow. */
double cbcl_ratio(double A, double B, double e0, double e1, double *dA, double *dB);

/* ---- eq. 12: RCL, SimSiam's symmetric negative cosine ---- */

/* L_RCL = 1/P sum_p (-cos(u_m, sg(h_c)) - cos(u_c, sg(h_m))), m = row_m + p, c = row_c + p;
 * u [B, H] prediction head, h [B, H] projection head (the stop-gradient targets). */
double rcl_forward(const float *u, const float *h, int row_m, int row_c, int P, int H);
/* du [B, H] += scale * (-dL_RCL/du); nothing is written for h (exact stop-gradient). */
void rcl_backward(float *du, const float *u, const float *h, float scale, int row_m,
                  int row_c, int P, int H);

#endif
