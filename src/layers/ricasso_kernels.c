/* The RICASSO kernels: see ricasso_kernels.h for what each computes and the shape of every
 * buffer. Forward beside backward; nothing here allocates or keeps state.
 *
 * Glossary: B rows, C classes, D features, H head width, K experts, M mixed blocks,
 * P pairs, X values per row; W, Hh, Ch image width, height, channels; ldt target stride.
 */
#include "ricasso_kernels.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "blas.h"
#include "gemm.h"

/* ---- vectors ---- */

void softmax_forward(float *q, const float *z, int B, int C)
{
    int b, c;
    for (b = 0; b < B; ++b) {
        const float *zb = z + b * C;   /* [C] */
        float *qb = q + b * C;         /* [C] */
        float m = -FLT_MAX;
        double s = 0;
        for (c = 0; c < C; ++c) if (zb[c] > m) m = zb[c];
        for (c = 0; c < C; ++c) s += exp((double)zb[c] - m);
        /* Each q_c is written after the last read of z_c: q may equal z. */
        for (c = 0; c < C; ++c) qb[c] = (float)(exp((double)zb[c] - m) / s);
    }
}

double l2_norm(const float *a, int n)
{
    double s = 0;
    int i;
    for (i = 0; i < n; ++i) s += (double)a[i] * a[i];
    s = sqrt(s);
    return s > NORM_FLOOR ? s : NORM_FLOOR;
}

double cosine_similarity(const float *a, const float *b, int n)
{
    double s = 0;
    int i;
    for (i = 0; i < n; ++i) s += (double)a[i] * b[i];
    return s / (l2_norm(a, n) * l2_norm(b, n));
}

float sqdist(const float *a, const float *b, int n)
{
    double s = 0;
    int i;
    for (i = 0; i < n; ++i) s += (double)(a[i] - b[i]) * (a[i] - b[i]);
    return (float)s;
}

/* ---- cosine classifier ---- */

void cosine_classifier_forward(float *out, float *cosv, float *xnorm, float *wnorm,
                               const float *x, const float *w, float s, int B, int D, int C)
{
    int b, c;
    for (c = 0; c < C; ++c) wnorm[c] = (float)l2_norm(w + c * D, D);
    for (b = 0; b < B; ++b) xnorm[b] = (float)l2_norm(x + b * D, D);
    /* dot[b,c] = x_b . w_c as one gemm: [B, D] x [C, D]^T. Darknet's gemm scales the old
       contents by beta = 0, which keeps a NaN: start from zeros. */
    fill_cpu(B * C, 0, cosv, 1);
    gemm(0, 1, B, C, D, 1, (float *)x, D, (float *)w, D, 0, cosv, C);
    for (b = 0; b < B; ++b)
        for (c = 0; c < C; ++c) {
            const float cs = cosv[b * C + c] / (xnorm[b] * wnorm[c]);
            cosv[b * C + c] = cs;
            out[b * C + c] = s * cs;
        }
}

void cosine_classifier_backward(float *dx, float *dw, const float *dout, const float *x,
                                const float *w, const float *cosv, const float *xnorm,
                                const float *wnorm, float s, int B, int D, int C)
{
    int b, c, d;
    for (b = 0; b < B; ++b) {
        const float *xb = x + b * D;
        const float ix = 1.f / xnorm[b];
        for (c = 0; c < C; ++c) {
            const float g = s * dout[b * C + c];
            const float cs = cosv[b * C + c];
            const float *wc = w + c * D;
            const float iw = 1.f / wnorm[c];
            float *dwc = dw + c * D;
            if (g == 0) continue;
            if (dx) {
                float *dxb = dx + b * D;
                for (d = 0; d < D; ++d) dxb[d] += g * (wc[d] * iw - cs * xb[d] * ix) * ix;
            }
            for (d = 0; d < D; ++d) dwc[d] += g * (xb[d] * ix - cs * wc[d] * iw) * iw;
        }
    }
}

/* ---- NOD mixing ---- */

void mixup_forward(float *out, const float *xi, const float *xj, float lam, int X)
{
    int k;
    for (k = 0; k < X; ++k) out[k] = lam * xi[k] + (1 - lam) * xj[k];
}

void mixup_backward(float *di, float *dj, const float *dout, float lam, int X)
{
    int k;
    for (k = 0; k < X; ++k) {
        di[k] += lam * dout[k];
        dj[k] += (1 - lam) * dout[k];
    }
}

float cutmix_box_clip(int *box, int W, int Hh, float lam, int cx, int cy)
{
    const float r = sqrtf(1.f - lam);
    const int cw = (int)(W * r), ch = (int)(Hh * r);
    /* A box of exactly cw x ch around the centre (then clipped), odd sizes included. */
    int x0 = cx - cw / 2, y0 = cy - ch / 2, x1 = x0 + cw, y1 = y0 + ch;
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > W) x1 = W;
    if (y1 > Hh) y1 = Hh;
    if (x1 < x0) x1 = x0;
    if (y1 < y0) y1 = y0;
    box[0] = x0; box[1] = y0; box[2] = x1; box[3] = y1;
    return 1.f - (float)((x1 - x0) * (y1 - y0)) / (float)(W * Hh);
}

static int in_box(const int *box, int x, int y)
{
    return x >= box[0] && x < box[2] && y >= box[1] && y < box[3];
}

void cutmix_forward(float *out, const float *xi, const float *xj, const int *box, int W,
                    int Hh, int Ch)
{
    int c, x, y;
    for (c = 0; c < Ch; ++c)
        for (y = 0; y < Hh; ++y)
            for (x = 0; x < W; ++x) {
                const int k = (c * Hh + y) * W + x;
                out[k] = in_box(box, x, y) ? xj[k] : xi[k];
            }
}

void cutmix_backward(float *di, float *dj, const float *dout, const int *box, int W, int Hh,
                     int Ch)
{
    int c, x, y;
    for (c = 0; c < Ch; ++c)
        for (y = 0; y < Hh; ++y)
            for (x = 0; x < W; ++x) {
                const int k = (c * Hh + y) * W + x;
                if (in_box(box, x, y)) dj[k] += dout[k];
                else di[k] += dout[k];
            }
}

/* ---- eq. 1: priors and margins ---- */

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int lgla_group_ranges(int *lo, int *hi, int *sorted, int *cuts, const int *count, int C,
                      int want)
{
    int ncut = 0, i, maxc = 0;
    long sum = 0, run = 0, per;
    for (i = 0; i < C; ++i) {
        sorted[i] = count[i];
        sum += count[i];
        if (count[i] > maxc) maxc = count[i];
    }
    qsort(sorted, C, sizeof(int), cmp_int);
    per = sum / want;
    for (i = 0; i < C; ++i) {
        run += sorted[i];
        if (run > per) {
            cuts[ncut++] = sorted[i];
            run = 0;
        }
    }
    if (ncut + 1 != want) return ncut + 1;
    /* Head-most range first: (largest cut, max], ..., (0, smallest cut]. */
    for (i = 0; i < ncut; ++i) {
        lo[i] = cuts[ncut - 1 - i];
        hi[i] = i == 0 ? maxc : cuts[ncut - i];
    }
    lo[ncut] = 0;
    hi[ncut] = ncut ? cuts[0] : maxc;
    return ncut + 1;
}

void expert_margins(float *margin, const float *prior, const int *class_group, float tau,
                    double eps, int K, int C)
{
    int k, c;
    float pmax = 0;
    for (c = 0; c < C; ++c) if (prior[c] > pmax) pmax = prior[c];
    for (k = 0; k < K; ++k)
        for (c = 0; c < C; ++c) {
            if (k == K - 1) margin[k * C + c] = tau * logf(prior[c] + eps);
            else margin[k * C + c] = logf((class_group[c] == k ? prior[c] : pmax) + eps);
        }
}

/* ---- eq. 5-6: AALA ---- */

void energy_forward(float *E, const float *v, float T, int B, int C)
{
    int b, c;
    for (b = 0; b < B; ++b) {
        const float *vb = v + b * C;   /* [C] */
        double m = -DBL_MAX, s = 0;
        for (c = 0; c < C; ++c) if (vb[c] / T > m) m = vb[c] / T;
        for (c = 0; c < C; ++c) s += exp(vb[c] / T - m);
        E[b] = (float)(-T * (m + log(s)));
    }
}

void aala_factor_forward(float *a, const float *E, int B)
{
    double emax = -DBL_MAX, es = 0;
    int b;
    for (b = 0; b < B; ++b) if (E[b] > emax) emax = E[b];
    for (b = 0; b < B; ++b) es += exp(E[b] - emax);
    for (b = 0; b < B; ++b) a[b] = (float)(1.0 + exp(E[b] - emax) / es);
}

/* ---- eq. 7: g ---- */

void angular_weight_forward(float *g, const float *v, const int *row_class,
                            const int *class_group, int G, float s, int B, int C)
{
    int b, k;
    /* theta_b of each ID row, 1 for the others. */
    for (b = 0; b < B; ++b) {
        const int y = row_class[b];
        float cs;
        g[b] = 1;
        if (y < 0 || class_group[y] < 0) continue;
        cs = v[b * C + y] / s;
        if (cs > 1) cs = 1;
        if (cs < -1) cs = -1;
        g[b] = acosf(cs);
    }
    /* theta_b against the mean theta of its group. */
    for (k = 0; k < G; ++k) {
        double sum = 0;
        int n = 0;
        float mean;
        for (b = 0; b < B; ++b)
            if (row_class[b] >= 0 && class_group[row_class[b]] == k) {
                sum += g[b];
                ++n;
            }
        if (!n) continue;
        mean = (float)(sum / n);
        for (b = 0; b < B; ++b)
            if (row_class[b] >= 0 && class_group[row_class[b]] == k) {
                const float d = g[b] - mean;
                g[b] = d < 0 ? 1.f : 1.f + d;
            }
    }
}

/* ---- eq. 4 and 7: the adjusted cross-entropy ---- */

double logit_adjusted_ce_forward(float *q, const float *v, const float *a, const float *margin,
                                 const float *g, const float *t, int ldt, int B, int C)
{
    double cost = 0;
    int b, c;
    for (b = 0; b < B; ++b) {
        const float *tb = t + b * ldt;   /* [C] */
        float *qb = q + b * C;           /* [C] */
        double lb = 0;
        for (c = 0; c < C; ++c) qb[c] = v[b * C + c] + a[b] * margin[c];
        softmax_forward(qb, qb, 1, C);
        for (c = 0; c < C; ++c)
            if (tb[c] != 0) lb -= tb[c] * log(qb[c] > FLT_MIN ? qb[c] : FLT_MIN);
        cost += g[b] * lb;
    }
    return cost;
}

void logit_adjusted_ce_backward(float *dv, const float *q, const float *g, const float *t,
                                int ldt, int B, int C)
{
    int b, c;
    for (b = 0; b < B; ++b) {
        const float *tb = t + b * ldt;
        float ts = 0;
        for (c = 0; c < C; ++c) ts += tb[c];
        for (c = 0; c < C; ++c) dv[b * C + c] += g[b] * (tb[c] - q[b * C + c] * ts);
    }
}

/* ---- eq. 8-11: CBCL ---- */

double dual_entropy_weight(const float *q, int y, int C)
{
    double w = 0;
    int c;
    for (c = 0; c < C; ++c) {
        const double qc = q[c] > FLT_MIN ? q[c] : FLT_MIN;
        w -= (q[c] + (c == y)) * log(qc);
    }
    return w;
}

double dec_forward(float *w, float *q, const float *z, const float *v, const float *centers,
                   const int *row_class, int n_id, int B, int D, int C)
{
    double dplus = 0;
    int b;
    for (b = 0; b < B; ++b) {
        const int y = row_class[b];
        double wb;
        w[b] = 0;
        if (y < 0) continue;
        softmax_forward(q, v + b * C, 1, C);
        wb = dual_entropy_weight(q, y, C);
        w[b] = (float)wb;
        dplus += wb * sqdist(z + b * D, centers + y * D, D);
    }
    return n_id ? 0.5 * dplus / n_id : 0;
}

void dec_backward(float *dz, float *dcenters, const float *z, const float *centers,
                  const float *w, const int *row_class, float gp, int B, int D)
{
    int b, d;
    for (b = 0; b < B; ++b) {
        const int y = row_class[b];
        const float *cy;
        float *dcy;
        if (y < 0) continue;
        cy = centers + y * D;
        dcy = dcenters + y * D;
        for (d = 0; d < D; ++d) {
            const float r = gp * w[b] * (z[b * D + d] - cy[d]);
            dz[b * D + d] -= r;
            dcy[d] += r;
        }
    }
}

double vbl_forward(const float *z, const int *row0, int M, int P, int D)
{
    double sum = 0;
    int p, m;
    for (p = 0; p < P; ++p) {
        const float *zi = z + p * D, *zj = z + (P + p) * D;
        for (m = 0; m < M; ++m) {
            const float *zr;
            if (row0[m] < 0) continue;
            zr = z + (row0[m] + p) * D;
            sum += sqdist(zi, zr, D) + sqdist(zj, zr, D);
        }
    }
    return sum;
}

void vbl_backward(float *dz, const float *z, const int *row0, int M, int P, int D, float gm)
{
    int m, p, d;
    for (m = 0; m < M; ++m) {
        if (row0[m] < 0) continue;
        for (p = 0; p < P; ++p) {
            const int i = p, j = P + p, r = row0[m] + p;
            for (d = 0; d < D; ++d) {
                const float ai = z[i * D + d] - z[r * D + d], aj = z[j * D + d] - z[r * D + d];
                dz[i * D + d] -= gm * ai;
                dz[j * D + d] -= gm * aj;
                dz[r * D + d] += gm * (ai + aj);
            }
        }
    }
}

double cbcl_ratio(double A, double B, double e0, double e1, double *dA, double *dB)
{
    /* Scale numerator and denominator by e^-m, m = max(A, B) >= 0 (A, B >= 0 here). */
    const double m = A > B ? A : B;
    const double ea = exp(A - m), eb = exp(B - m), s = exp(-m);
    const double num = ea - eb + e0 * s, den = ea + eb + e1 * s;
    /* dL/dA = e^A (D - N) / D^2, dL/dB = -e^B (D + N) / D^2, in the same scaled units, with
       D - N and D + N expanded so no nearly equal numbers are subtracted when saturated. */
    if (dA) *dA = ea * (2 * eb + (e1 - e0) * s) / (den * den);
    if (dB) *dB = -eb * (2 * ea + (e0 + e1) * s) / (den * den);
    return num / den;
}

/* ---- eq. 12: RCL ---- */

double rcl_forward(const float *u, const float *h, int row_m, int row_c, int P, int H)
{
    double L = 0;
    int p;
    for (p = 0; p < P; ++p) {
        const int m = row_m + p, c = row_c + p;
        L -= cosine_similarity(u + m * H, h + c * H, H) + cosine_similarity(u + c * H, h + m * H, H);
    }
    return L / P;
}

/* du [H] += s * (-d(-cos(u, h))/du) = s (h/|h| - cos(u, h) u/|u|) / |u|; u, h [H]. */
static void neg_cosine_backward(float *du, const float *u, const float *h, int H, float s)
{
    const double nu = l2_norm(u, H), nh = l2_norm(h, H), cs = cosine_similarity(u, h, H);
    int i;
    for (i = 0; i < H; ++i) du[i] += (float)(s * (h[i] / nh - cs * u[i] / nu) / nu);
}

void rcl_backward(float *du, const float *u, const float *h, float scale, int row_m,
                  int row_c, int P, int H)
{
    /* -dL/du = -(1/P) d(-cos)/du: the signs cancel into +(1/P) dcos/du. */
    const float s = scale / P;
    int p;
    for (p = 0; p < P; ++p) {
        const int m = row_m + p, c = row_c + p;
        neg_cosine_backward(du + m * H, u + m * H, h + c * H, H, s);
        neg_cosine_backward(du + c * H, u + c * H, h + m * H, H, s);
    }
}
