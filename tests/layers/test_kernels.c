/* The kernels of src/layers/ricasso_kernels.c called directly, without a layer or network:
 *   - every backward kernel against finite differences of its own forward, with the values a
 *     layer treats as constants (AALA's a, g, the dual-entropy weight w) held fixed, which a
 *     whole-layer check cannot do: the adjusted cross-entropy (one-hot and two-hot targets,
 *     a target stride wider than C), DEC (features and centers), VBL (both mixed blocks and
 *     one), RCL (prediction head), the cosine classifier, Mixup and CutMix;
 *   - forwards against naive double formulas written from the paper: energy (eq. 6), the
 *     AALA factor (eq. 5), g, the dual entropy (eq. 9), the adjusted CE (eq. 4, 7), the
 *     CutMix box, and softmax in place.
 * The layers' own tests (test_<type>.c) check the same maths through the layers.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ricasso_kernels.h"

#include "gradcheck.h"
#include "harness.h"

static float urand(float lo, float hi) { return lo + (hi - lo) * (float)rand() / (float)RAND_MAX; }

static void fill_rand(float *x, int n, float lo, float hi)
{
    int i;
    for (i = 0; i < n; ++i) x[i] = urand(lo, hi);
}

static void check_fd(const char *label, gc_var *vars, int nv, gc_loss_fn loss, gc_grad_fn grad, void *ctx)
{
    gc_opts o = gc_default_opts();
    gc_result r;
    int ok = gradcheck(label, vars, nv, loss, grad, ctx, &o, &r);
    CHECK(ok && r.max_abs_grad > 1e-3, "%s: backward matches finite differences of forward (%d checked, max rel %.2g, max |g| %.3g)",
          label, r.checked, r.max_rel_err, r.max_abs_grad);
}

/* ---- adjusted cross-entropy ---- */

enum { CB = 4, CC = 5, LDT = CC + 2 };
typedef struct {
    float v[CB * CC], dv[CB * CC], q[CB * CC], a[CB], g[CB], margin[CC], t[CB * LDT];
} ce_ctx;

static double ce_loss(void *p)
{
    ce_ctx *c = p;
    return logit_adjusted_ce_forward(c->q, c->v, c->a, c->margin, c->g, c->t, LDT, CB, CC);
}

static void ce_grad(void *p)
{
    ce_ctx *c = p;
    ce_loss(c);
    logit_adjusted_ce_backward(c->dv, c->q, c->g, c->t, LDT, CB, CC);
}

static void test_adjusted_ce(void)
{
    ce_ctx c;
    gc_var var;
    double ref = 0;
    int b, k;
    memset(&c, 0, sizeof(c));
    fill_rand(c.v, CB * CC, -3, 3);
    fill_rand(c.a, CB, 1, 2);
    fill_rand(c.g, CB, 1, 1.5f);
    fill_rand(c.margin, CC, -4, 0);
    for (b = 0; b < CB; ++b) c.t[b * LDT + CC] = c.t[b * LDT + CC + 1] = 9; /* past C: never read */
    c.t[0 * LDT + 1] = 1;
    c.t[1 * LDT + 4] = 1;
    c.t[2 * LDT + 0] = 0.3f, c.t[2 * LDT + 2] = 0.7f;
    c.t[3 * LDT + 3] = 0.55f, c.t[3 * LDT + 4] = 0.45f;
    /* eq. 4, 7: -g_b sum_c t_bc log softmax(v_b + a_b T)_c */
    for (b = 0; b < CB; ++b) {
        double z[CC], m = -1e300, s = 0, lb = 0;
        for (k = 0; k < CC; ++k) z[k] = (double)c.v[b * CC + k] + (double)c.a[b] * c.margin[k], m = fmax(m, z[k]);
        for (k = 0; k < CC; ++k) s += exp(z[k] - m);
        for (k = 0; k < CC; ++k) lb -= c.t[b * LDT + k] * (z[k] - m - log(s));
        ref += c.g[b] * lb;
    }
    CHECK_REL(ce_loss(&c), ref, 1e-6, 1e-6, "adjusted CE: forward equals the naive double eq. 4/7 loss (%.6g)", ref);
    var = (gc_var){"v", c.v, CB * CC, c.dv};
    check_fd("adjusted CE (a, g constant, one-hot and two-hot, ldt > C)", &var, 1, ce_loss, ce_grad, &c);
}

/* ---- DEC ---- */

enum { DB = 5, DD = 3, DC = 4 };
typedef struct {
    float z[DB * DD], dz[DB * DD], v[DB * DC], centers[DC * DD], dcenters[DC * DD], w[DB], q[DC];
    int row_class[DB], n_id;
} dec_ctx;

static double dec_loss(void *p)
{
    dec_ctx *c = p;
    return dec_forward(c->w, c->q, c->z, c->v, c->centers, c->row_class, c->n_id, DB, DD, DC);
}

static void dec_grad(void *p)
{
    dec_ctx *c = p;
    dec_loss(c);
    dec_backward(c->dz, c->dcenters, c->z, c->centers, c->w, c->row_class, 1.f / c->n_id, DB, DD);
}

static void test_dec(void)
{
    dec_ctx c = {.row_class = {0, 2, -1, 2, 1}, .n_id = 4};
    gc_var vars[2];
    double ref = 0, wref[DB];
    int b, k, d, ok = 1;
    fill_rand(c.z, DB * DD, -2, 2);
    fill_rand(c.v, DB * DC, -3, 3);
    fill_rand(c.centers, DC * DD, -1, 1);
    /* eq. 9 and 10: w = -sum (q + y) log q, d+ = 1/2 mean_ID w |z - c_y|^2 */
    for (b = 0; b < DB; ++b) {
        double s = 0, dist = 0;
        const int y = c.row_class[b];
        wref[b] = 0;
        if (y < 0) continue;
        for (k = 0; k < DC; ++k) s += exp(c.v[b * DC + k]);
        for (k = 0; k < DC; ++k) {
            const double qk = exp(c.v[b * DC + k]) / s;
            wref[b] -= (qk + (k == y)) * log(qk);
        }
        for (d = 0; d < DD; ++d) dist += pow((double)c.z[b * DD + d] - c.centers[y * DD + d], 2);
        ref += wref[b] * dist;
    }
    ref = 0.5 * ref / c.n_id;
    CHECK_REL(dec_loss(&c), ref, 1e-6, 1e-6, "DEC: d+ equals the naive eq. 9/10 value (%.6g)", ref);
    for (b = 0; b < DB; ++b) ok &= fabs(c.w[b] - wref[b]) <= 1e-5 * fmax(1, fabs(wref[b]));
    CHECK(ok && c.w[2] == 0, "DEC: dual-entropy weights of the ID rows equal eq. 9, 0 for the other row");
    vars[0] = (gc_var){"z", c.z, DB * DD, c.dz};
    vars[1] = (gc_var){"centers", c.centers, DC * DD, c.dcenters};
    check_fd("DEC (w constant)", vars, 2, dec_loss, dec_grad, &c);
}

/* ---- VBL ---- */

enum { VP = 2, VD = 3, VB = 4 * VP };
typedef struct {
    float z[VB * VD], dz[VB * VD];
    int row0[2], n_mix;
} vbl_ctx;

static double vbl_loss(void *p)
{
    vbl_ctx *c = p;
    return vbl_forward(c->z, c->row0, 2, VP, VD) / c->n_mix;
}

static void vbl_grad(void *p)
{
    vbl_ctx *c = p;
    vbl_backward(c->dz, c->z, c->row0, 2, VP, VD, 2.f / c->n_mix);
}

static void test_vbl(void)
{
    vbl_ctx c = {.row0 = {2 * VP, 3 * VP}, .n_mix = 2 * VP};
    gc_var var = {"z", c.z, VB * VD, c.dz};
    double ref = 0;
    int p, m, d;
    fill_rand(c.z, VB * VD, -2, 2);
    /* eq. 8: mean over the mixed rows r of |z_i - z_r|^2 + |z_j - z_r|^2 */
    for (m = 0; m < 2; ++m)
        for (p = 0; p < VP; ++p)
            for (d = 0; d < VD; ++d) {
                const double zr = c.z[(c.row0[m] + p) * VD + d];
                ref += pow(c.z[p * VD + d] - zr, 2) + pow(c.z[(VP + p) * VD + d] - zr, 2);
            }
    ref /= c.n_mix;
    CHECK_REL(vbl_loss(&c), ref, 1e-6, 1e-6, "VBL: d- equals the naive eq. 8 value (%.6g)", ref);
    check_fd("VBL (Mixup and CutMix blocks)", &var, 1, vbl_loss, vbl_grad, &c);
    c.row0[0] = -1;
    c.n_mix = VP;
    check_fd("VBL (CutMix block only)", &var, 1, vbl_loss, vbl_grad, &c);
}

/* ---- RCL ---- */

enum { RP = 2, RH = 4, RB = 4 * RP };
typedef struct {
    float u[RB * RH], du[RB * RH], h[RB * RH];
} rcl_ctx;

static double rcl_loss(void *p)
{
    rcl_ctx *c = p;
    return rcl_forward(c->u, c->h, 2 * RP, 3 * RP, RP, RH);
}

static void rcl_grad(void *p)
{
    rcl_ctx *c = p;
    rcl_backward(c->du, c->u, c->h, 1, 2 * RP, 3 * RP, RP, RH);
}

static void test_rcl(void)
{
    rcl_ctx c;
    gc_var var = {"u", c.u, RB * RH, c.du};
    double ref = 0;
    int p, i;
    fill_rand(c.u, RB * RH, -1, 1);
    fill_rand(c.h, RB * RH, -1, 1);
    /* eq. 12: -cos(u_m, h_c) - cos(u_c, h_m), mean over pairs */
    for (p = 0; p < RP; ++p) {
        const float *um = c.u + (2 * RP + p) * RH, *uc = c.u + (3 * RP + p) * RH;
        const float *hm = c.h + (2 * RP + p) * RH, *hc = c.h + (3 * RP + p) * RH;
        double a = 0, b = 0, nu = 0, nh = 0, nu2 = 0, nh2 = 0;
        for (i = 0; i < RH; ++i) {
            a += (double)um[i] * hc[i], nu += (double)um[i] * um[i], nh += (double)hc[i] * hc[i];
            b += (double)uc[i] * hm[i], nu2 += (double)uc[i] * uc[i], nh2 += (double)hm[i] * hm[i];
        }
        ref -= a / sqrt(nu * nh) + b / sqrt(nu2 * nh2);
    }
    ref /= RP;
    CHECK_REL(rcl_loss(&c), ref, 1e-9, 1e-9, "RCL: L_RCL equals the naive eq. 12 value (%.6g)", ref);
    check_fd("RCL (h a stop-gradient target)", &var, 1, rcl_loss, rcl_grad, &c);
}

/* ---- cosine classifier, Mixup, CutMix: L = sum r * out ---- */

enum { KB = 3, KD = 4, KC = 3 };
typedef struct {
    float x[KB * KD], dx[KB * KD], w[KC * KD], dw[KC * KD], out[KB * KC], r[KB * KC], dout[KB * KC];
    float cosv[KB * KC], xnorm[KB], wnorm[KC];
} cos_ctx;

static double cos_loss(void *p)
{
    cos_ctx *c = p;
    double L = 0;
    int i;
    cosine_classifier_forward(c->out, c->cosv, c->xnorm, c->wnorm, c->x, c->w, 5, KB, KD, KC);
    for (i = 0; i < KB * KC; ++i) L += (double)c->r[i] * c->out[i];
    return L;
}

static void cos_grad(void *p)
{
    cos_ctx *c = p;
    int i;
    cos_loss(c);
    for (i = 0; i < KB * KC; ++i) c->dout[i] = -c->r[i];
    cosine_classifier_backward(c->dx, c->dw, c->dout, c->x, c->w, c->cosv, c->xnorm, c->wnorm, 5, KB, KD, KC);
}

static void test_cosine_classifier(void)
{
    cos_ctx c;
    gc_var vars[2] = {{"x", c.x, KB * KD, c.dx}, {"w", c.w, KC * KD, c.dw}};
    fill_rand(c.x, KB * KD, -1, 1);
    fill_rand(c.w, KC * KD, -1, 1);
    fill_rand(c.r, KB * KC, -1, 1);
    check_fd("cosine classifier", vars, 2, cos_loss, cos_grad, &c);
}

enum { MW = 5, MH = 4, MCH = 2, MX = MW * MH * MCH };
typedef struct {
    float xi[MX], xj[MX], di[MX], dj[MX], out[MX], r[MX], dout[MX], lam;
    int box[4], cut;
} mix_ctx;

static double mix_loss(void *p)
{
    mix_ctx *c = p;
    double L = 0;
    int i;
    if (c->cut) cutmix_forward(c->out, c->xi, c->xj, c->box, MW, MH, MCH);
    else mixup_forward(c->out, c->xi, c->xj, c->lam, MX);
    for (i = 0; i < MX; ++i) L += (double)c->r[i] * c->out[i];
    return L;
}

static void mix_grad(void *p)
{
    mix_ctx *c = p;
    int i;
    for (i = 0; i < MX; ++i) c->dout[i] = -c->r[i];
    if (c->cut) cutmix_backward(c->di, c->dj, c->dout, c->box, MW, MH, MCH);
    else mixup_backward(c->di, c->dj, c->dout, c->lam, MX);
}

static void test_mixing(void)
{
    mix_ctx c = {.lam = 0.3f};
    gc_var vars[2] = {{"xi", c.xi, MX, c.di}, {"xj", c.xj, MX, c.dj}};
    float kept;
    int x, y, inside = 0;
    fill_rand(c.xi, MX, -1, 1);
    fill_rand(c.xj, MX, -1, 1);
    fill_rand(c.r, MX, -1, 1);
    check_fd("Mixup", vars, 2, mix_loss, mix_grad, &c);
    /* lam 0.36: a 4 x 3 box (sqrt(0.64) of 5 and 4) centred at (4, 0), clipped to x [2, 5), y [0, 2) */
    kept = cutmix_box_clip(c.box, MW, MH, 0.36f, 4, 0);
    for (y = 0; y < MH; ++y)
        for (x = 0; x < MW; ++x) inside += x >= c.box[0] && x < c.box[2] && y >= c.box[1] && y < c.box[3];
    CHECK(c.box[0] == 2 && c.box[1] == 0 && c.box[2] == 5 && c.box[3] == 2,
          "CutMix box: 4 x 3 around (4, 0) clipped to [2, 5) x [0, 2) (got [%d, %d) x [%d, %d))", c.box[0], c.box[2], c.box[1], c.box[3]);
    CHECK_CLOSE(kept, 1 - inside / (double)(MW * MH), 1e-6, "CutMix box: lam is the fraction left to x_i after clipping (%.3f)", kept);
    c.cut = 1;
    mix_loss(&c);
    CHECK(c.out[0] == c.xi[0] && c.out[2] == c.xj[2] && c.out[MW * MH + MW + 4] == c.xj[MW * MH + MW + 4] &&
              c.out[2 * MW] == c.xi[2 * MW],
          "CutMix: x_j inside the box in every channel, x_i outside");
    check_fd("CutMix", vars, 2, mix_loss, mix_grad, &c);
}

/* ---- forwards without a backward ---- */

static void test_aala_energy_g(void)
{
    enum { B = 4, C = 3 };
    const float v[B * C] = {2, -1, 0.5f, 0, 0, 0, -3, 4, 1, 0.2f, 0.1f, -0.4f};
    float E[B], a[B], q[B * C], z[B * C];
    double S = 0, sum_a = 0, werr = 0;
    int b, k;
    energy_forward(E, v, 2, B, C);
    for (b = 0; b < B; ++b) {
        double s = 0;
        for (k = 0; k < C; ++k) s += exp(v[b * C + k] / 2.0);
        werr = fmax(werr, fabs(E[b] - (-2 * log(s))));
    }
    CHECK_CLOSE(werr, 0, 1e-5, "energy: E = -T log sum exp(v / T) with T = 2 (eq. 6)");
    aala_factor_forward(a, E, B);
    for (b = 0; b < B; ++b) S += exp(E[b]);
    werr = 0;
    for (b = 0; b < B; ++b) {
        werr = fmax(werr, fabs(a[b] - (exp(E[b]) + S) / S));
        sum_a += a[b];
    }
    CHECK_CLOSE(werr, 0, 1e-6, "AALA: a_b = (e^E_b + sum e^E) / sum e^E (eq. 5)");
    CHECK_CLOSE(sum_a, B + 1, 1e-5, "AALA: the factors add up to B + 1");
    aala_factor_forward(E, E, B);
    CHECK(memcmp(E, a, sizeof(a)) == 0, "AALA: in place gives the same factors");

    memcpy(z, v, sizeof(z));
    softmax_forward(q, v, B, C);
    softmax_forward(z, z, B, C);
    CHECK(memcmp(q, z, sizeof(q)) == 0, "softmax: in place equals out of place");

    /* g: groups {0} and {1, 2}, s = 4. Rows 0, 3 in group 0, rows 1, 2 in group 1, row 4 mixed. */
    {
        const int row_class[5] = {0, 1, 2, 0, -1}, class_group[C] = {0, 1, 1};
        const float vg[5 * C] = {2, 0, 0, 0, -1, 0, 0, 0, 3, -2, 0, 0, 0, 0, 0};
        const double th[4] = {acos(0.5), acos(-0.25), acos(0.75), acos(-0.5)};
        const double m0 = (th[0] + th[3]) / 2, m1 = (th[1] + th[2]) / 2;
        const double want[5] = {th[0] < m0 ? 1 : 1 + th[0] - m0, th[1] < m1 ? 1 : 1 + th[1] - m1,
                                th[2] < m1 ? 1 : 1 + th[2] - m1, th[3] < m0 ? 1 : 1 + th[3] - m0, 1};
        float g[5];
        angular_weight_forward(g, vg, row_class, class_group, 2, 4, 5, C);
        werr = 0;
        for (b = 0; b < 5; ++b) werr = fmax(werr, fabs(g[b] - want[b]));
        CHECK_CLOSE(werr, 0, 1e-6, "g: 1 below the group's mean angle, 1 + theta - mean above, 1 for a mixed row");
        CHECK(g[1] > 1 && g[3] > 1 && g[0] == 1 && g[2] == 1, "g: the case has a row of each kind in each group");
    }
}

int main(void)
{
    srand(11);
    test_adjusted_ce();
    test_dec();
    test_vbl();
    test_rcl();
    test_cosine_classifier();
    test_mixing();
    test_aala_energy_g();
    return harness_finish();
}
