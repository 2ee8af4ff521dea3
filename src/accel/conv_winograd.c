/* Winograd F(2x2, 3x3) and F(4x4, 3x3) convolutions (see conv_winograd.h). F(2x2, 3x3) is
 * described here; the section "F(4x4, 3x3)" below says what differs for the larger tiles,
 * which the forward and input-gradient passes take on maps whose width is a multiple of 8,
 * and with the AVX-512 products the weight gradient too (its own section, "F(4x4, 3x3)
 * weight gradient with AVX-512").
 *
 * Notation (Lavin and Gray's): a 2x2 tile of output comes from a 4x4 tile of input d and a
 * 3x3 filter g as  Y = A^T [ (G g G^T) o (B^T d B) ] A,  with
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
 *   A^T = [1 1 1 0; 0 1 -1 -1].
 * Summed over input channels, the 16 products of a tile become 16 matrix products:
 *   M[xi] (out x tiles) = U[xi] (out x in) . V[xi] (in x tiles),  xi = 0..15.
 * The backward passes follow from the same algebra:
 *   input gradient:  a convolution of dout with the filters turned by 180 degrees and the
 *                    channel roles swapped (3x3, stride 1, padding 1 again);
 *   weight gradient: dU[xi] = dM[xi] . V[xi]^T over all tiles, with dM = A dY A^T, and
 *                    dW = G^T dU G (the adjoint of each step of the forward pass).
 *
 * Work is split into blocks of whole rows of tiles (across images), one block at a time
 * per OpenMP thread: the transformed input and the products of a block stay in the core's
 * L2 cache, and input and output are read and written in Darknet's NCHW layout directly.
 * Tiles past the right or bottom edge (odd sizes) read zeros and are not written back.
 *
 * The kernels are compiled for AVX2 + FMA whatever the build flags (target attributes), and
 * used only when the CPU has both (wino_usable).
 */
#if defined(DNNL) && defined(__x86_64__)

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conv_winograd.h"

#define AVX2 __attribute__((target("avx2,fma")))
#define NXI 16          /* transformed tile elements */

int wino_usable(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/* ---- geometry ---- */

typedef struct {
    int batch, h, w;
    int tw, th;         /* tiles per row, rows of tiles per image */
    int rows;           /* rows of tiles per block */
    int blocks;
    int tp;             /* tiles per block, rounded up to a multiple of 16 */
    int cin, cout;      /* channels per image of the input-side and output-side tensors: more
                           than a pass's own channels when it runs one group of a grouped
                           convolution, whose channels are a slice of each image */
} geom;

/* Blocks of about `target` tiles of tile x tile outputs (whole rows of tiles; a multiple of
   16 where the row length allows, since the products work on 16 tiles at a time). Tiles of 4
   are only used on widths that are a multiple of 8 (whole pairs of tiles; see F(4x4, 3x3)). */
static geom make_geom(int batch, int h, int w, int tile, int target)
{
    geom g;
    g.batch = batch; g.h = h; g.w = w;
    g.tw = (w + tile - 1) / tile;
    g.th = (h + tile - 1) / tile;
    g.rows = (target + g.tw - 1) / g.tw;
    if (g.tw < 16 && 16 % g.tw == 0) g.rows = (g.rows + 16 / g.tw - 1) / (16 / g.tw) * (16 / g.tw);
    if (g.rows < 1) g.rows = 1;
    if (g.rows > batch * g.th) g.rows = batch * g.th;
    g.blocks = (batch * g.th + g.rows - 1) / g.rows;
    g.tp = (g.rows * g.tw + 15) / 16 * 16;
    g.cin = g.cout = 0;
    return g;
}

/* Forward and input-gradient blocks: the transformed input of a block (16 x channels x tiles
   floats) and its products stay near 96 KB each, within a core's L2 cache. */
static int conv_tiles(int channels)
{
    int t = 1536 / (channels > 0 ? channels : 1);
    return t < 16 ? 16 : t > 128 ? 128 : t;
}

static void *xalloc(size_t n)
{
    void *p = aligned_alloc(64, (n + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "conv_winograd: out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

/* ---- transforms ---- */

/* Prefetches the n floats from p: the same rows of the next channel, which a transform reads
   after the rest of this channel's block. Those are runs of one to a few cache lines, one
   per plane, too short for the hardware prefetcher to pick up. */
static inline void prefetch_span(const float *p, int n)
{
    uintptr_t a = (uintptr_t)p & ~(uintptr_t)63, e = (uintptr_t)(p + n - 1);
    for (; a <= e; a += 64) _mm_prefetch((const char *)a, _MM_HINT_T0);
}

/* g = the filter of (o, i): weights[o][i] (weights [outs][ins][3][3]), or with flip
   weights[i][o] turned by 180 degrees (weights [ins][outs][3][3]). */
static void filter_of(const float *weights, int outs, int ins, int o, int i, int flip, float g[3][3])
{
    const float *src = flip ? weights + ((size_t)i * outs + o) * 9 : weights + ((size_t)o * ins + i) * 9;
    int a, b;
    for (a = 0; a < 3; ++a)
        for (b = 0; b < 3; ++b) g[a][b] = flip ? src[(2 - a) * 3 + (2 - b)] : src[a * 3 + b];
}

/* U[xi][o][i] = (G g G^T)[xi] for the filter g = weights of (o, i); with flip, the filter of
   (o, i) is weights[i][o] turned by 180 degrees (the input-gradient convolution). */
static void transform_weights(const float *weights, int outs, int ins, int flip, float *U)
{
    int o, i, a, b;
    #pragma omp parallel for private(i, a, b) if (outs * ins >= 1024)
    for (o = 0; o < outs; ++o) {
        for (i = 0; i < ins; ++i) {
            float g[3][3], t[4][3];
            filter_of(weights, outs, ins, o, i, flip, g);
            for (b = 0; b < 3; ++b) {
                t[0][b] = g[0][b];
                t[1][b] = .5f * (g[0][b] + g[1][b] + g[2][b]);
                t[2][b] = .5f * (g[0][b] - g[1][b] + g[2][b]);
                t[3][b] = g[2][b];
            }
            for (a = 0; a < 4; ++a) {
                float u[4];
                u[0] = t[a][0];
                u[1] = .5f * (t[a][0] + t[a][1] + t[a][2]);
                u[2] = .5f * (t[a][0] - t[a][1] + t[a][2]);
                u[3] = t[a][2];
                for (b = 0; b < 4; ++b) U[((size_t)(a * 4 + b) * outs + o) * ins + i] = u[b];
            }
        }
    }
}

/* Eight consecutive floats row[b .. b + 8) of a row of width w, zeros outside [0, w). */
AVX2 static inline __m256 load_row8(const float *row, int b, int w)
{
    if (b >= 0 && b + 8 <= w) return _mm256_loadu_ps(row + b);
    __m256i idx = _mm256_add_epi32(_mm256_set1_epi32(b), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256i in = _mm256_and_si256(_mm256_cmpgt_epi32(idx, _mm256_set1_epi32(-1)),
                                  _mm256_cmpgt_epi32(_mm256_set1_epi32(w), idx));
    /* Masked lanes are not read, so row + b may point before the row. */
    return _mm256_maskload_ps(row + b, in);
}

/* The first n lanes (n < 8) of a vector: a mask. */
AVX2 static inline __m256i lanes(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Stores the first n lanes (all when n >= 8). */
AVX2 static inline void store8(float *p, __m256 v, int n)
{
    if (n >= 8) _mm256_storeu_ps(p, v);
    else _mm256_maskstore_ps(p, lanes(n), v);
}

/* Even and odd elements of the 16 floats a, b. */
AVX2 static inline void deinterleave(__m256 a, __m256 b, __m256 *even, __m256 *odd)
{
    __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    __m256 o = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
    *even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
    *odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), _MM_SHUFFLE(3, 1, 2, 0)));
}

/* ---- rows of at most four tiles (maps of 8 columns or fewer) ----
 * Two rows of tiles share a vector: tile row i in the low four lanes, i + 1 in the high
 * four, so that a vector holds eight tiles as it does for wider maps. */

/* row[b .. b + 4), zeros outside [0, w) and for a null row. */
AVX2 static inline __m128 load_row4(const float *row, int b, int w)
{
    if (!row) return _mm_setzero_ps();
    if (b >= 0 && b + 4 <= w) return _mm_loadu_ps(row + b);
    __m128i idx = _mm_add_epi32(_mm_set1_epi32(b), _mm_setr_epi32(0, 1, 2, 3));
    __m128i in = _mm_and_si128(_mm_cmpgt_epi32(idx, _mm_set1_epi32(-1)),
                               _mm_cmpgt_epi32(_mm_set1_epi32(w), idx));
    return _mm_maskload_ps(row + b, in);
}

/* [ra[b .. b + 4) | rb[b .. b + 4)] */
AVX2 static inline __m256 pair4(const float *ra, const float *rb, int b, int w)
{
    return _mm256_insertf128_ps(_mm256_castps128_ps256(load_row4(ra, b, w)), load_row4(rb, b, w), 1);
}

/* Even and odd elements of each half of the 16 floats x, y: [x0 x2 y0 y2 | x4 x6 y4 y6]. */
AVX2 static inline void deinterleave_halves(__m256 x, __m256 y, __m256 *even, __m256 *odd)
{
    *even = _mm256_shuffle_ps(x, y, _MM_SHUFFLE(2, 0, 2, 0));
    *odd = _mm256_shuffle_ps(x, y, _MM_SHUFFLE(3, 1, 3, 1));
}

/* Stores the tiles of rows i (low half) and, when second, i + 1 (high half) at p (the
   slot of row i's first tile), for rows of tw <= 4 tiles. */
AVX2 static inline void store_pair(float *p, __m256 v, int tw, int second)
{
    if (tw == 4) {
        store8(p, v, second ? 8 : 4);
        return;
    }
    __m128i m = _mm_cmpgt_epi32(_mm_set1_epi32(tw), _mm_setr_epi32(0, 1, 2, 3));
    _mm_maskstore_ps(p, m, _mm256_castps256_ps128(v));
    if (second) _mm_maskstore_ps(p + tw, m, _mm256_extractf128_ps(v, 1));
}

/* Loads what store_pair stored. */
AVX2 static inline __m256 load_pair(const float *p, int tw, int second)
{
    __m128i m = _mm_cmpgt_epi32(_mm_set1_epi32(tw), _mm_setr_epi32(0, 1, 2, 3));
    __m128 lo = _mm_maskload_ps(p, m);
    __m128 hi = second ? _mm_maskload_ps(p + tw, m) : _mm_setzero_ps();
    return _mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1);
}

/* v = B^T d B for eight tiles at once: rows[j][q] holds element (j, q) of the 4x4 input
   tiles d; v[4 j + q] element (j, q) of the transformed tiles. */
AVX2 static inline void input_tiles(__m256 rows[4][4], __m256 v[NXI])
{
    __m256 t[4][4];
    int j, q;
    /* B^T down each tile column, then B along each transformed row. */
    for (q = 0; q < 4; ++q) {
        t[0][q] = _mm256_sub_ps(rows[0][q], rows[2][q]);
        t[1][q] = _mm256_add_ps(rows[1][q], rows[2][q]);
        t[2][q] = _mm256_sub_ps(rows[2][q], rows[1][q]);
        t[3][q] = _mm256_sub_ps(rows[1][q], rows[3][q]);
    }
    for (j = 0; j < 4; ++j) {
        v[4 * j + 0] = _mm256_sub_ps(t[j][0], t[j][2]);
        v[4 * j + 1] = _mm256_add_ps(t[j][1], t[j][2]);
        v[4 * j + 2] = _mm256_sub_ps(t[j][2], t[j][1]);
        v[4 * j + 3] = _mm256_sub_ps(t[j][1], t[j][3]);
    }
}

/* Tile slots from .. tp of each of the nxi planes of channel c are zeroed: the products
   work on whole groups of 16 tiles. */
static void zero_tail(float *X, int nxi, int C, int c, int tp, int from)
{
    int xi, j;
    for (xi = 0; xi < nxi; ++xi) {
        float *x = X + ((size_t)xi * C + c) * tp;
        for (j = from; j < tp; ++j) x[j] = 0;
    }
}

/* The input row j (0..3) of tile rows r and r + 1 (when second): its plane row, or null
   outside the image. */
static inline const float *tile_input_row(const geom *g, const float *in, int c, int r, int j)
{
    int n = r / g->th, ty = r % g->th, y = 2 * ty - 1 + j;
    if (y < 0 || y >= g->h) return 0;
    return in + (((size_t)n * g->cin + c) * g->h + y) * g->w;
}

AVX2 static void transform_input_narrow(const geom *g, int C, const float *in, int r0, float *V)
{
    int tw = g->tw, tp = g->tp, nrows = g->rows, w = g->w;
    int last = g->batch * g->th;
    int c, i, j, xi;
    if (r0 + nrows > last) nrows = last - r0;
    for (c = 0; c < C; ++c) {
        for (i = 0; i < nrows; i += 2) {
            int second = i + 1 < nrows;
            __m256 rows[4][4], v[NXI];
            for (j = 0; j < 4; ++j) {
                const float *ra = tile_input_row(g, in, c, r0 + i, j);
                const float *rb = second ? tile_input_row(g, in, c, r0 + i + 1, j) : 0;
                if (c + 1 < C) {
                    if (ra) prefetch_span(ra + (size_t)g->h * w, w);
                    if (rb) prefetch_span(rb + (size_t)g->h * w, w);
                }
                deinterleave_halves(pair4(ra, rb, -1, w), pair4(ra, rb, 3, w), &rows[j][0], &rows[j][1]);
                deinterleave_halves(pair4(ra, rb, 1, w), pair4(ra, rb, 5, w), &rows[j][2], &rows[j][3]);
            }
            input_tiles(rows, v);
            for (xi = 0; xi < NXI; ++xi)
                store_pair(V + ((size_t)xi * C + c) * tp + i * tw, v[xi], tw, second);
        }
        zero_tail(V, NXI, C, c, tp, nrows * tw);
    }
}

/* Tile columns 0..3 of eight tiles from input row y: the even and odd columns of
   row[2 tx - 1 ..] (col[0], col[1]) and of row[2 tx + 1 ..] (col[2], col[3]); zeros for a
   row outside the image. */
AVX2 static inline void tile_columns(const float *plane, int y, int tx, int h, int w, size_t ahead,
                                      __m256 col[4])
{
    if (y < 0 || y >= h) {
        col[0] = col[1] = col[2] = col[3] = _mm256_setzero_ps();
        return;
    }
    const float *row = plane + (size_t)y * w;
    int b = 2 * tx - 1;
    if (ahead) prefetch_span(row + ahead + b, 18);
    deinterleave(load_row8(row, b, w), load_row8(row, b + 8, w), &col[0], &col[1]);
    deinterleave(load_row8(row, b + 2, w), load_row8(row, b + 10, w), &col[2], &col[3]);
}

/* V[xi][c][t] = (B^T d B)[xi] for the 4x4 input tile d of each tile t of the block starting
   at tile row r0 (input rows 2 ty - 1 .. 2 ty + 2, columns likewise, zeros outside the
   image), eight tiles of a row at a time; tile slots past the block's tiles are zeroed up
   to tp. Going down a column of tiles, the two input rows a tile shares with the tile
   above are kept from it. */
AVX2 static void transform_input(const geom *g, int C, const float *in, int r0, float *V)
{
    int tw = g->tw, tp = g->tp, nrows = g->rows, w = g->w, h = g->h;
    int last = g->batch * g->th;
    int c, i, j, q, tx, xi;
    if (tw <= 4) {
        transform_input_narrow(g, C, in, r0, V);
        return;
    }
    if (r0 + nrows > last) nrows = last - r0;
    for (c = 0; c < C; ++c) {
        size_t ahead = c + 1 < C ? (size_t)h * w : 0;
        for (tx = 0; tx < tw; tx += 8) {
            __m256 rows[4][4];   /* [input row of the tile][tile column], 8 tiles each */
            int prev_n = -1, prev_ty = -2;
            for (i = 0; i < nrows; ++i) {
                int r = r0 + i, n = r / g->th, ty = r % g->th;
                const float *plane = in + ((size_t)n * g->cin + c) * h * w;
                __m256 v[NXI];
                if (n == prev_n && ty == prev_ty + 1) {
                    for (q = 0; q < 4; ++q) { rows[0][q] = rows[2][q]; rows[1][q] = rows[3][q]; }
                    tile_columns(plane, 2 * ty + 1, tx, h, w, ahead, rows[2]);
                    tile_columns(plane, 2 * ty + 2, tx, h, w, ahead, rows[3]);
                } else {
                    for (j = 0; j < 4; ++j) tile_columns(plane, 2 * ty - 1 + j, tx, h, w, ahead, rows[j]);
                }
                prev_n = n;
                prev_ty = ty;
                input_tiles(rows, v);
                for (xi = 0; xi < NXI; ++xi)
                    store8(V + ((size_t)xi * C + c) * tp + i * tw + tx, v[xi], tw - tx);
            }
        }
        zero_tail(V, NXI, C, c, tp, nrows * tw);
    }
}

/* d = A g A^T, A = [1 0; 1 1; 1 -1; 0 -1], for eight 2x2 output-gradient tiles g at once:
   p0, q0 are the left and right columns of the tiles' first row, p1, q1 of the second (zeros
   past the edges); d[4 j + q] is element (j, q) of dM. Rows of A g are g0, g0 + g1,
   g0 - g1, -g1; then the same along each row. */
AVX2 static inline void dout_tiles(__m256 p0, __m256 q0, __m256 p1, __m256 q1, __m256 d[NXI])
{
    __m256 zero = _mm256_setzero_ps(), rr[4][2];
    int j;
    rr[0][0] = p0;                      rr[0][1] = q0;
    rr[1][0] = _mm256_add_ps(p0, p1);   rr[1][1] = _mm256_add_ps(q0, q1);
    rr[2][0] = _mm256_sub_ps(p0, p1);   rr[2][1] = _mm256_sub_ps(q0, q1);
    rr[3][0] = _mm256_sub_ps(zero, p1); rr[3][1] = _mm256_sub_ps(zero, q1);
    for (j = 0; j < 4; ++j) {
        d[4 * j + 0] = rr[j][0];
        d[4 * j + 1] = _mm256_add_ps(rr[j][0], rr[j][1]);
        d[4 * j + 2] = _mm256_sub_ps(rr[j][0], rr[j][1]);
        d[4 * j + 3] = _mm256_sub_ps(zero, rr[j][1]);
    }
}

/* Row y (0 or 1) of the output tiles of tile row r, or null past the image. */
static inline const float *tile_output_row(const geom *g, const float *out, int k, int r, int y)
{
    int n = r / g->th, ty = r % g->th, yy = 2 * ty + y;
    if (yy >= g->h) return 0;
    return out + (((size_t)n * g->cout + k) * g->h + yy) * g->w;
}

AVX2 static void transform_dout_narrow(const geom *g, int K, const float *dout, int r0, float *D)
{
    int tw = g->tw, tp = g->tp, nrows = g->rows, w = g->w;
    int last = g->batch * g->th;
    int k, i, xi;
    if (r0 + nrows > last) nrows = last - r0;
    for (k = 0; k < K; ++k) {
        for (i = 0; i < nrows; i += 2) {
            int second = i + 1 < nrows;
            const float *a0 = tile_output_row(g, dout, k, r0 + i, 0);
            const float *a1 = tile_output_row(g, dout, k, r0 + i, 1);
            const float *b0 = second ? tile_output_row(g, dout, k, r0 + i + 1, 0) : 0;
            const float *b1 = second ? tile_output_row(g, dout, k, r0 + i + 1, 1) : 0;
            if (k + 1 < K) {
                const float *rows[4] = {a0, a1, b0, b1};
                int q;
                for (q = 0; q < 4; ++q)
                    if (rows[q]) prefetch_span(rows[q] + (size_t)g->h * w, w);
            }
            __m256 p0, q0, p1, q1, d[NXI];
            deinterleave_halves(pair4(a0, b0, 0, w), pair4(a0, b0, 4, w), &p0, &q0);
            deinterleave_halves(pair4(a1, b1, 0, w), pair4(a1, b1, 4, w), &p1, &q1);
            dout_tiles(p0, q0, p1, q1, d);
            for (xi = 0; xi < NXI; ++xi)
                store_pair(D + ((size_t)xi * K + k) * tp + i * tw, d[xi], tw, second);
        }
        zero_tail(D, NXI, K, k, tp, nrows * tw);
    }
}

AVX2 static void transform_dout(const geom *g, int K, const float *dout, int r0, float *D)
{
    int tw = g->tw, tp = g->tp, nrows = g->rows, w = g->w, h = g->h;
    int last = g->batch * g->th;
    int k, i, tx, xi;
    if (tw <= 4) {
        transform_dout_narrow(g, K, dout, r0, D);
        return;
    }
    if (r0 + nrows > last) nrows = last - r0;
    for (k = 0; k < K; ++k) {
        for (i = 0; i < nrows; ++i) {
            int r = r0 + i, n = r / g->th, ty = r % g->th;
            const float *row0 = dout + ((size_t)n * g->cout + k) * h * w + (size_t)(2 * ty) * w;
            if (k + 1 < K) prefetch_span(row0 + (size_t)h * w, 2 * ty + 1 < h ? 2 * w : w);
            for (tx = 0; tx < tw; tx += 8) {
                __m256 p0, q0, p1, q1, d[NXI];
                deinterleave(load_row8(row0, 2 * tx, w), load_row8(row0, 2 * tx + 8, w), &p0, &q0);
                if (2 * ty + 1 < h) {
                    deinterleave(load_row8(row0 + w, 2 * tx, w), load_row8(row0 + w, 2 * tx + 8, w), &p1, &q1);
                } else {
                    p1 = q1 = _mm256_setzero_ps();
                }
                dout_tiles(p0, q0, p1, q1, d);
                for (xi = 0; xi < NXI; ++xi)
                    store8(D + ((size_t)xi * K + k) * tp + i * tw + tx, d[xi], tw - tx);
            }
        }
        zero_tail(D, NXI, K, k, tp, nrows * tw);
    }
}

/* Writes (or adds) the 16 floats lo, hi at p, only those of columns < w (p is column x). */
AVX2 static inline void put16(float *p, int x, int w, __m256 lo, __m256 hi, int add)
{
    int n0 = w - x, n1 = w - x - 8;
    if (add) {
        if (n0 >= 8) lo = _mm256_add_ps(lo, _mm256_loadu_ps(p));
        else lo = _mm256_add_ps(lo, _mm256_maskload_ps(p, lanes(n0)));
        if (n1 >= 8) hi = _mm256_add_ps(hi, _mm256_loadu_ps(p + 8));
        else if (n1 > 0) hi = _mm256_add_ps(hi, _mm256_maskload_ps(p + 8, lanes(n1)));
    }
    store8(p, lo, n0);
    if (n1 > 0) store8(p + 8, hi, n1);
}

/* y * scale[k] + shift[k], then the activation (ep null: y). */
AVX2 static inline __m256 finish(__m256 y, const wino_epilogue *ep, __m256 a, __m256 b)
{
    if (!ep) return y;
    y = _mm256_fmadd_ps(y, a, b);
    if (ep->act == WINO_RELU) return _mm256_max_ps(y, _mm256_setzero_ps());
    if (ep->act == WINO_LEAKY)
        return _mm256_blendv_ps(_mm256_mul_ps(y, _mm256_set1_ps(.1f)), y,
                                _mm256_cmp_ps(y, _mm256_setzero_ps(), _CMP_GT_OQ));
    return y;
}

/* y = A^T x A for eight tiles at once, with the epilogue: x[xi] holds element xi of the
   4x4 products M of the tiles; y[0], y[1] are the left and right outputs of the tiles' top
   row, y[2], y[3] of the bottom row. A^T down the columns of the 4x4 tile, then along the
   rows. */
AVX2 static inline void output_tiles(const __m256 x[NXI], const wino_epilogue *ep, __m256 ea, __m256 eb,
                                     __m256 y[4])
{
    __m256 s0[4], s1[4];
    int j;
    for (j = 0; j < 4; ++j) {
        s0[j] = _mm256_add_ps(_mm256_add_ps(x[j], x[4 + j]), x[8 + j]);
        s1[j] = _mm256_sub_ps(_mm256_sub_ps(x[4 + j], x[8 + j]), x[12 + j]);
    }
    y[0] = finish(_mm256_add_ps(_mm256_add_ps(s0[0], s0[1]), s0[2]), ep, ea, eb);
    y[1] = finish(_mm256_sub_ps(_mm256_sub_ps(s0[1], s0[2]), s0[3]), ep, ea, eb);
    y[2] = finish(_mm256_add_ps(_mm256_add_ps(s1[0], s1[1]), s1[2]), ep, ea, eb);
    y[3] = finish(_mm256_sub_ps(_mm256_sub_ps(s1[1], s1[2]), s1[3]), ep, ea, eb);
}

/* Writes (or adds) the first min(w, 8) floats of v at row (null: nothing). */
AVX2 static inline void put8(float *row, int w, __m256 v, int add)
{
    if (!row) return;
    if (add) v = _mm256_add_ps(v, w >= 8 ? _mm256_loadu_ps(row) : _mm256_maskload_ps(row, lanes(w)));
    store8(row, v, w);
}

AVX2 static void transform_output_narrow(const geom *g, int K, const float *M, int r0, float *out,
                                         int add, const wino_epilogue *ep)
{
    int tw = g->tw, tp = g->tp, nrows = g->rows, w = g->w;
    int last = g->batch * g->th;
    int k, i, xi;
    if (r0 + nrows > last) nrows = last - r0;
    for (k = 0; k < K; ++k) {
        __m256 ea = ep ? _mm256_set1_ps(ep->scale[k]) : _mm256_setzero_ps();
        __m256 eb = ep ? _mm256_set1_ps(ep->shift[k]) : _mm256_setzero_ps();
        const float *m = M + (size_t)k * tp;
        size_t step = (size_t)K * tp;
        for (i = 0; i < nrows; i += 2) {
            int second = i + 1 < nrows;
            __m256 x[NXI], y[4];
            for (xi = 0; xi < NXI; ++xi) x[xi] = load_pair(m + xi * step + i * tw, tw, second);
            output_tiles(x, ep, ea, eb, y);
            /* Interleaved: the low half of each pair of vectors is tile row i, the high i + 1. */
            __m256 lo = _mm256_unpacklo_ps(y[0], y[1]), hi = _mm256_unpackhi_ps(y[0], y[1]);
            __m256 lo1 = _mm256_unpacklo_ps(y[2], y[3]), hi1 = _mm256_unpackhi_ps(y[2], y[3]);
            put8((float *)tile_output_row(g, out, k, r0 + i, 0), w, _mm256_permute2f128_ps(lo, hi, 0x20), add);
            put8((float *)tile_output_row(g, out, k, r0 + i, 1), w, _mm256_permute2f128_ps(lo1, hi1, 0x20), add);
            if (second) {
                put8((float *)tile_output_row(g, out, k, r0 + i + 1, 0), w, _mm256_permute2f128_ps(lo, hi, 0x31), add);
                put8((float *)tile_output_row(g, out, k, r0 + i + 1, 1), w, _mm256_permute2f128_ps(lo1, hi1, 0x31), add);
            }
        }
    }
}

/* out (overwritten, or added to) = A^T M A for each tile of the block, eight tiles of a row
   at a time, with the epilogue ep applied when it is not null. */
AVX2 static void transform_output(const geom *g, int K, const float *M, int r0, float *out, int add,
                                  const wino_epilogue *ep)
{
    int tw = g->tw, tp = g->tp, nrows = g->rows, w = g->w, h = g->h;
    int last = g->batch * g->th;
    int k, i, xi, tx;
    if (tw <= 4) {
        transform_output_narrow(g, K, M, r0, out, add, ep);
        return;
    }
    if (r0 + nrows > last) nrows = last - r0;
    for (k = 0; k < K; ++k) {
        for (i = 0; i < nrows; ++i) {
            int r = r0 + i, n = r / g->th, ty = r % g->th;
            float *row0 = out + ((size_t)n * g->cout + k) * h * w + (size_t)(2 * ty) * w;
            int second = 2 * ty + 1 < h;
            const float *m = M + (size_t)k * tp + i * tw;
            size_t step = (size_t)K * tp;   /* from one xi to the next */
            __m256 ea = ep ? _mm256_set1_ps(ep->scale[k]) : _mm256_setzero_ps();
            __m256 eb = ep ? _mm256_set1_ps(ep->shift[k]) : _mm256_setzero_ps();
            for (tx = 0; tx < tw; tx += 8) {
                __m256 x[NXI], y[4];
                /* The last group of a row may hold fewer than eight tiles; reading eight
                   would pass the end of M at the block's last row (when tiles fill tp). */
                if (tw - tx >= 8) {
                    for (xi = 0; xi < NXI; ++xi) x[xi] = _mm256_loadu_ps(m + xi * step + tx);
                } else {
                    __m256i in = lanes(tw - tx);
                    for (xi = 0; xi < NXI; ++xi) x[xi] = _mm256_maskload_ps(m + xi * step + tx, in);
                }
                output_tiles(x, ep, ea, eb, y);
                /* Interleave the two output columns of each tile. */
                __m256 lo = _mm256_unpacklo_ps(y[0], y[1]), hi = _mm256_unpackhi_ps(y[0], y[1]);
                put16(row0 + 2 * tx, 2 * tx, w, _mm256_permute2f128_ps(lo, hi, 0x20),
                      _mm256_permute2f128_ps(lo, hi, 0x31), add);
                if (second) {
                    lo = _mm256_unpacklo_ps(y[2], y[3]);
                    hi = _mm256_unpackhi_ps(y[2], y[3]);
                    put16(row0 + w + 2 * tx, 2 * tx, w, _mm256_permute2f128_ps(lo, hi, 0x20),
                          _mm256_permute2f128_ps(lo, hi, 0x31), add);
                }
            }
        }
    }
}

/* ---- F(4x4, 3x3): maps whose width is a multiple of 8 ----
 * A 4x4 tile of output comes from the 6x6 input tile at rows 4 ty - 1 .. 4 ty + 4 and
 * columns 4 tx - 1 .. 4 tx + 4 (Lavin and Gray's matrices for F(4, 3)):
 *   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0;
 *          0 4 0 -5 0 1],
 *   G   = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1],
 *   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1],
 * so the products are NXI4 = 36 matrix products of 2.25 multiplications per output, against
 * 4 for F(2x2, 3x3). The weight gradient stays on F(2x2, 3x3).
 *
 * Tiles go in pairs: the two tiles 2p and 2p + 1 of a tile row cover 8 output columns, and
 * eight floats read at column 8p - 1 (and at 8p + 3) hold the first four (the last two)
 * columns of both input tiles. Four pairs make a vector group of eight tiles; a 4x4
 * transpose within each 128-bit half turns the four loads into one vector per tile column,
 * with the tiles in the lane order [pair 0..3 first tile | pair 0..3 second tile]. The
 * output transform undoes the same transpose, so that order never leaves this section. A
 * block's pairs are taken row after row of tiles, so that a group may span rows (maps of 8
 * or 16 columns have one or two pairs a row) and images. */

#define NXI4 36

/* F(4x4, 3x3)'s filter transform: U = G g G^T (6x6 from 3x3), and dW = G^T dU G back. */
static const float G4[6][3] = {{1.f / 4, 0, 0},
                               {-1.f / 6, -1.f / 6, -1.f / 6},
                               {-1.f / 6, 1.f / 6, -1.f / 6},
                               {1.f / 24, 1.f / 12, 1.f / 6},
                               {1.f / 24, -1.f / 12, 1.f / 6},
                               {0, 0, 1}};

/* 2 on cores with an L2 cache of 1 MiB or more, else 1. */
static int l2_scale(void)
{
    static int scale;
    if (!scale) {
        long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
        scale = l2 >= 1L << 20 ? 2 : 1;
    }
    return scale;
}

/* Blocks near 96 KB of transformed input (36 x channels x tiles floats), as conv_tiles, for
   an L2 cache of 512 KB a core; twice that on cores with 1 MiB or more (l2_scale), where
   longer blocks amortise the reads of U better: with 2 MiB a core (Intel, AVX-512),
   ResNet-32's training ran 3% faster at twice the tiles and no faster at four times. */
static int conv_tiles4(int channels)
{
    int s = l2_scale();
    int t = s * 683 / (channels > 0 ? channels : 1);
    return t < 16 ? 16 : t > 64 * s ? 64 * s : t;
}

/* U[xi][o][i] = (G g G^T)[xi], 6x6, for the filter of (o, i) (flip as transform_weights). */
static void transform_weights4(const float *weights, int outs, int ins, int flip, float *U)
{
    int o, i, a, b, k;
    /* Over threads (by filter rows) for the wider layers: serial, it took about 1% of a
       ResNet-32 training step, with the other core waiting. */
    #pragma omp parallel for private(i, a, b, k) if (outs * ins >= 1024)
    for (o = 0; o < outs; ++o) {
        for (i = 0; i < ins; ++i) {
            float g[3][3], t[6][3];
            filter_of(weights, outs, ins, o, i, flip, g);
            for (a = 0; a < 6; ++a)
                for (b = 0; b < 3; ++b) t[a][b] = G4[a][0] * g[0][b] + G4[a][1] * g[1][b] + G4[a][2] * g[2][b];
            for (a = 0; a < 6; ++a)
                for (b = 0; b < 6; ++b) {
                    float u = 0;
                    for (k = 0; k < 3; ++k) u += t[a][k] * G4[b][k];
                    U[((size_t)(a * 6 + b) * outs + o) * ins + i] = u;
                }
        }
    }
}

/* The 4x4 transpose within each 128-bit half: lane j of x[k] goes to lane k of x[j]
   (j, k < 4), and lane 4 + j of x[k] to lane 4 + k of x[j]. */
AVX2 static inline void transpose4_halves(__m256 x[4])
{
    __m256 t0 = _mm256_unpacklo_ps(x[0], x[1]), t1 = _mm256_unpackhi_ps(x[0], x[1]);
    __m256 t2 = _mm256_unpacklo_ps(x[2], x[3]), t3 = _mm256_unpackhi_ps(x[2], x[3]);
    x[0] = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
    x[1] = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    x[2] = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
    x[3] = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
}

/* r = B^T x for six vectors (one 1-D transform per lane). */
AVX2 static inline void bt6(const __m256 x[6], __m256 r[6])
{
    __m256 four = _mm256_set1_ps(4), five = _mm256_set1_ps(5), two = _mm256_set1_ps(2);
    __m256 t1 = _mm256_fnmadd_ps(four, x[2], x[4]), t2 = _mm256_fnmadd_ps(four, x[1], x[3]);
    __m256 t3 = _mm256_sub_ps(x[4], x[2]), t4 = _mm256_mul_ps(two, _mm256_sub_ps(x[3], x[1]));
    r[0] = _mm256_fmadd_ps(four, x[0], _mm256_fnmadd_ps(five, x[2], x[4]));
    r[1] = _mm256_add_ps(t1, t2);
    r[2] = _mm256_sub_ps(t1, t2);
    r[3] = _mm256_add_ps(t3, t4);
    r[4] = _mm256_sub_ps(t3, t4);
    r[5] = _mm256_fmadd_ps(four, x[1], _mm256_fnmadd_ps(five, x[3], x[5]));
}

/* y = A^T x for six vectors. */
AVX2 static inline void at6(const __m256 x[6], __m256 y[4])
{
    __m256 a = _mm256_add_ps(x[1], x[2]), b = _mm256_sub_ps(x[1], x[2]);
    __m256 c = _mm256_add_ps(x[3], x[4]), d = _mm256_sub_ps(x[3], x[4]);
    y[0] = _mm256_add_ps(_mm256_add_ps(x[0], a), c);
    y[1] = _mm256_fmadd_ps(_mm256_set1_ps(2), d, b);
    y[2] = _mm256_fmadd_ps(_mm256_set1_ps(4), c, a);
    y[3] = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(8), d, b), x[5]);
}

/* Columns 8p - 1 .. 8p + 6 (lo) and 8p + 3 .. 8p + 10 (hi) of a row of pr pairs (8 pr
   floats), zeros outside it: plain loads inside the row, and at its ends a permutation of
   the pair's own eight floats (load_row8's masked loads were this transform's hottest
   instructions in perf on an AMD Zen 3). */
AVX2 static inline void pair_columns(const float *row, int p, int pr, __m256 *lo, __m256 *hi)
{
    const float *x = row + 8 * p;
    if (p > 0 && p < pr - 1) {
        *lo = _mm256_loadu_ps(x - 1);
        *hi = _mm256_loadu_ps(x + 3);
        return;
    }
    __m256 mid = _mm256_loadu_ps(x), zero = _mm256_setzero_ps();
    if (p > 0) *lo = _mm256_loadu_ps(x - 1);
    else *lo = _mm256_blend_ps(_mm256_permutevar8x32_ps(mid, _mm256_setr_epi32(0, 0, 1, 2, 3, 4, 5, 6)), zero, 0x01);
    if (p < pr - 1) *hi = _mm256_loadu_ps(x + 3);
    else *hi = _mm256_blend_ps(_mm256_permutevar8x32_ps(mid, _mm256_setr_epi32(3, 4, 5, 6, 7, 7, 7, 7)), zero, 0xE0);
}

/* Where the n (4, or 8 for the AVX-512 transforms) pairs of group q of the block starting
   at tile row r0 lie: image (-1 for a pair past the block's tiles), tile row within the
   image and pair index within the tile row. */
typedef struct {
    int image[8], ty[8], p[8];
} pairs4;

static inline void group_pairs(const geom *g, int r0, int nrows, int q, int n, pairs4 *ps)
{
    int pr = g->tw / 2, k;
    for (k = 0; k < n; ++k) {
        int pair = n * q + k, i = pair / pr;
        if (i >= nrows) {
            ps->image[k] = -1;
            ps->ty[k] = ps->p[k] = 0;
            continue;
        }
        int r = r0 + i;
        ps->image[k] = r / g->th;
        ps->ty[k] = r % g->th;
        ps->p[k] = pair % pr;
    }
}

/* lo[k], hi[k] = pair_columns of input row j (0..5) of the tiles of the n pairs of a group
   in channel c (zeros outside the image and for pairs past the block). */
AVX2 static inline void pair_rows(const geom *g, const float *in, int C, int c, const pairs4 *ps, int n, int j,
                                  __m256 *lo, __m256 *hi)
{
    int h = g->h, w = g->w, k;
    for (k = 0; k < n; ++k) {
        int y = 4 * ps->ty[k] - 1 + j;
        if (ps->image[k] < 0 || y < 0 || y >= h) {
            lo[k] = hi[k] = _mm256_setzero_ps();
            continue;
        }
        const float *row = in + ((size_t)ps->image[k] * g->cin + c) * h * w + (size_t)y * w;
        pair_columns(row, ps->p[k], g->tw / 2, &lo[k], &hi[k]);
        /* The same columns of the next channel, read groups iterations on: the hardware
           prefetcher does not see these short runs coming. */
        if (c + 1 < C) _mm_prefetch((const char *)(row + (size_t)h * w + 8 * ps->p[k]), _MM_HINT_T0);
    }
}

/* Where the 8 output columns of pair k of a group in row rr (0..3) of its tiles lie in
   channel ch of an output-side tensor (g->cout channels an image): their offset, or -1 past
   the image or the block. */
static inline ptrdiff_t pair_row_at(const geom *g, int ch, const pairs4 *ps, int k, int rr)
{
    int h = g->h, w = g->w, yy = 4 * ps->ty[k] + rr;
    if (ps->image[k] < 0 || yy >= h) return -1;
    return ((ptrdiff_t)ps->image[k] * g->cout + ch) * h * w + (ptrdiff_t)yy * w + 8 * ps->p[k];
}

/* Writes (or adds) v at those columns in channel ch of K; returns 0, writing nothing, past
   the image or the block. */
AVX2 static inline int put_pair_row(const geom *g, float *out, int K, int ch, const pairs4 *ps, int k, int rr,
                                    __m256 v, int add)
{
    ptrdiff_t at = pair_row_at(g, ch, ps, k, rr);
    if (at < 0) return 0;
    float *row = out + at;
    _mm256_storeu_ps(row, add ? _mm256_add_ps(v, _mm256_loadu_ps(row)) : v);
    /* the next channel's row, written groups iterations on */
    if (ch + 1 < K) __builtin_prefetch(row + (size_t)g->h * g->w, 1, 3);
    return 1;
}

/* V[xi][c][t] = (B^T d B)[xi] for the 6x6 input tile d of each tile t of the block (zeros
   outside the image), one group of eight tiles at a time; slots past the block's groups are
   zeroed up to tp. */
AVX2 static void transform_input4(const geom *g, int C, const float *in, int r0, float *V)
{
    int tw = g->tw, tp = g->tp, nrows = g->rows;
    int last = g->batch * g->th;
    if (r0 + nrows > last) nrows = last - r0;
    int groups = (nrows * (tw / 2) + 3) / 4;
    int c, q, j, k;
    pairs4 ps[groups];
    for (q = 0; q < groups; ++q) group_pairs(g, r0, nrows, q, 4, &ps[q]);
    for (c = 0; c < C; ++c) {
        for (q = 0; q < groups; ++q) {
            __m256 r[6][6];   /* [input row of the tile][transformed column], 8 tiles each */
            for (j = 0; j < 6; ++j) {
                __m256 lo[4], hi[4], x[6];
                pair_rows(g, in, C, c, &ps[q], 4, j, lo, hi);
                transpose4_halves(lo);
                transpose4_halves(hi);
                x[0] = lo[0]; x[1] = lo[1]; x[2] = lo[2]; x[3] = lo[3]; x[4] = hi[0]; x[5] = hi[1];
                bt6(x, r[j]);
            }
            for (k = 0; k < 6; ++k) {
                __m256 col[6], v[6];
                for (j = 0; j < 6; ++j) col[j] = r[j][k];
                bt6(col, v);
                for (j = 0; j < 6; ++j) _mm256_store_ps(V + ((size_t)(j * 6 + k) * C + c) * tp + q * 8, v[j]);
            }
        }
        zero_tail(V, NXI4, C, c, tp, groups * 8);
    }
}

/* out (overwritten, or added to) = A^T M A for each tile of the block, with the epilogue ep
   when it is not null; rows past the image are not written. */
AVX2 static void transform_output4(const geom *g, int K, const float *M, int r0, float *out, int add,
                                   const wino_epilogue *ep)
{
    int tw = g->tw, tp = g->tp, nrows = g->rows;
    int last = g->batch * g->th;
    if (r0 + nrows > last) nrows = last - r0;
    int groups = (nrows * (tw / 2) + 3) / 4;
    size_t step = (size_t)K * tp;   /* from one xi to the next */
    int k, q, j, i, rr;
    pairs4 ps[groups];
    for (q = 0; q < groups; ++q) group_pairs(g, r0, nrows, q, 4, &ps[q]);
    for (k = 0; k < K; ++k) {
        __m256 ea = ep ? _mm256_set1_ps(ep->scale[k]) : _mm256_setzero_ps();
        __m256 eb = ep ? _mm256_set1_ps(ep->shift[k]) : _mm256_setzero_ps();
        for (q = 0; q < groups; ++q) {
            const float *m = M + (size_t)k * tp + q * 8;
            __m256 s[4][6];   /* A^T down each column of the 6x6 products: [output row][column] */
            for (i = 0; i < 6; ++i) {
                __m256 col[6], y[4];
                for (j = 0; j < 6; ++j) col[j] = _mm256_load_ps(m + (size_t)(j * 6 + i) * step);
                at6(col, y);
                for (rr = 0; rr < 4; ++rr) s[rr][i] = y[rr];
            }
            for (rr = 0; rr < 4; ++rr) {
                __m256 y[4];
                at6(s[rr], y);
                for (j = 0; j < 4; ++j) y[j] = finish(y[j], ep, ea, eb);
                transpose4_halves(y);   /* y[pair]: the pair's 8 output columns of this row */
                for (j = 0; j < 4; ++j) put_pair_row(g, out, K, k, &ps[q], j, rr, y[j], add);
            }
        }
    }
}

/* ---- the matrix products ---- */

/* M (K x tp) = U (K x C) . V (C x tp), tp a multiple of 16: six (or fewer) rows of M by 16
   columns in registers at a time. */
#define UV_KERNEL(KB)                                                                      \
    do {                                                                                   \
        __m256 acc0[KB], acc1[KB];                                                         \
        int kk, c;                                                                         \
        _Pragma("GCC unroll 6") for (kk = 0; kk < KB; ++kk) {                              \
            acc0[kk] = _mm256_setzero_ps();                                                \
            acc1[kk] = _mm256_setzero_ps();                                                \
        }                                                                                  \
        for (c = 0; c < C; ++c) {                                                          \
            __m256 v0 = _mm256_load_ps(V + (size_t)c * tp + t0);                           \
            __m256 v1 = _mm256_load_ps(V + (size_t)c * tp + t0 + 8);                       \
            _Pragma("GCC unroll 6") for (kk = 0; kk < KB; ++kk) {                          \
                __m256 u = _mm256_broadcast_ss(U + (size_t)(k0 + kk) * C + c);             \
                acc0[kk] = _mm256_fmadd_ps(u, v0, acc0[kk]);                               \
                acc1[kk] = _mm256_fmadd_ps(u, v1, acc1[kk]);                               \
            }                                                                              \
        }                                                                                  \
        _Pragma("GCC unroll 6") for (kk = 0; kk < KB; ++kk) {                              \
            _mm256_store_ps(M + (size_t)(k0 + kk) * tp + t0, acc0[kk]);                    \
            _mm256_store_ps(M + (size_t)(k0 + kk) * tp + t0 + 8, acc1[kk]);                \
        }                                                                                  \
    } while (0)

AVX2 static void gemm_uv(int K, int C, int tp, const float *U, const float *V, float *M)
{
    int t0, k0;
    for (t0 = 0; t0 < tp; t0 += 16) {
        for (k0 = 0; k0 + 6 <= K; k0 += 6) UV_KERNEL(6);
        switch (K - k0) {
            case 5: UV_KERNEL(5); break;
            case 4: UV_KERNEL(4); break;
            case 3: UV_KERNEL(3); break;
            case 2: UV_KERNEL(2); break;
            case 1: UV_KERNEL(1); break;
        }
    }
}

static inline float AVX2 hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* dU (K x C) += D (K x tp) . V (C x tp)^T, where dU keeps eight partial sums per element
   (dU[(k C + c) 8 + lane], added up once at the end of the pass): four rows of D against
   three of V at a time, eight tiles per step. */
#define DV_KERNEL(KB, CB)                                                                  \
    do {                                                                                   \
        __m256 acc[KB][CB];                                                                \
        int kk, cc, t;                                                                     \
        _Pragma("GCC unroll 4") for (kk = 0; kk < KB; ++kk)                                \
            _Pragma("GCC unroll 3") for (cc = 0; cc < CB; ++cc)                            \
                acc[kk][cc] = _mm256_load_ps(dU + ((size_t)(k0 + kk) * C + c0 + cc) * 8);  \
        for (t = 0; t < tp; t += 8) {                                                      \
            __m256 v[CB];                                                                  \
            _Pragma("GCC unroll 3") for (cc = 0; cc < CB; ++cc)                            \
                v[cc] = _mm256_load_ps(V + (size_t)(c0 + cc) * tp + t);                    \
            _Pragma("GCC unroll 4") for (kk = 0; kk < KB; ++kk) {                          \
                __m256 d = _mm256_load_ps(D + (size_t)(k0 + kk) * tp + t);                 \
                _Pragma("GCC unroll 3") for (cc = 0; cc < CB; ++cc)                        \
                    acc[kk][cc] = _mm256_fmadd_ps(d, v[cc], acc[kk][cc]);                  \
            }                                                                              \
        }                                                                                  \
        _Pragma("GCC unroll 4") for (kk = 0; kk < KB; ++kk)                                \
            _Pragma("GCC unroll 3") for (cc = 0; cc < CB; ++cc)                            \
                _mm256_store_ps(dU + ((size_t)(k0 + kk) * C + c0 + cc) * 8, acc[kk][cc]);  \
    } while (0)

AVX2 static void gemm_dv(int K, int C, int tp, const float *D, const float *V, float *dU)
{
    int k0, c0;
    for (k0 = 0; k0 + 4 <= K; k0 += 4) {
        for (c0 = 0; c0 + 3 <= C; c0 += 3) DV_KERNEL(4, 3);
        for (; c0 < C; ++c0) DV_KERNEL(4, 1);
    }
    for (; k0 < K; ++k0) {
        for (c0 = 0; c0 + 3 <= C; c0 += 3) DV_KERNEL(1, 3);
        for (; c0 < C; ++c0) DV_KERNEL(1, 1);
    }
}

/* sum[i] += the eight partial sums of part[i] */
AVX2 static void add_partials(size_t n, const float *part, float *sum)
{
    size_t i;
    for (i = 0; i < n; ++i) sum[i] += hsum(_mm256_load_ps(part + i * 8));
}

/* ---- the matrix products with AVX-512 ----
 * The same two products on 512-bit vectors, for CPUs with AVX-512F (wino_wide): 16 tiles a
 * vector, twice the FMA width of the AVX2 kernels above, and 32 registers, which hold eight
 * rows of M by 32 columns. The transforms stay on AVX2 (their data layout is the same: tp is
 * a multiple of 16, every plane 64-byte aligned). */

#define AVX512 __attribute__((target("avx512f,avx2,fma")))

/* The matrix-product kernel of gemm_uv512 and gemm_vd512: RB rows of Cm (from r0) by NV
   vectors of 16 columns (from j0), Cm [.][ldc] = (ADD: +=) A [.][lda] . B [L][ldb] over the L
   terms of the sum; each row's factor of A is broadcast from memory into the FMA. */
#define BCAST512_KERNEL(RB, NV, A, lda, B, ldb, Cm, ldc, L, r0, j0, ADD)                   \
    do {                                                                                   \
        __m512 acc[RB][NV];                                                                \
        int rr_, vv_, l_;                                                                  \
        _Pragma("GCC unroll 16") for (rr_ = 0; rr_ < RB; ++rr_)                            \
            _Pragma("GCC unroll 4") for (vv_ = 0; vv_ < NV; ++vv_) acc[rr_][vv_] = _mm512_setzero_ps(); \
        for (l_ = 0; l_ < (L); ++l_) {                                                     \
            __m512 b_[NV];                                                                 \
            _Pragma("GCC unroll 4") for (vv_ = 0; vv_ < NV; ++vv_)                         \
                b_[vv_] = _mm512_loadu_ps((B) + (size_t)l_ * (ldb) + (j0) + 16 * vv_);     \
            _Pragma("GCC unroll 16") for (rr_ = 0; rr_ < RB; ++rr_) {                      \
                __m512 a_ = _mm512_set1_ps((A)[(size_t)((r0) + rr_) * (lda) + l_]);        \
                _Pragma("GCC unroll 4") for (vv_ = 0; vv_ < NV; ++vv_)                     \
                    acc[rr_][vv_] = _mm512_fmadd_ps(a_, b_[vv_], acc[rr_][vv_]);           \
            }                                                                              \
        }                                                                                  \
        _Pragma("GCC unroll 16") for (rr_ = 0; rr_ < RB; ++rr_)                            \
            _Pragma("GCC unroll 4") for (vv_ = 0; vv_ < NV; ++vv_) {                       \
                float *c_ = (Cm) + (size_t)((r0) + rr_) * (ldc) + (j0) + 16 * vv_;         \
                _mm512_storeu_ps(c_, ADD ? _mm512_add_ps(_mm512_loadu_ps(c_), acc[rr_][vv_]) : acc[rr_][vv_]); \
            }                                                                              \
    } while (0)

/* M (K x tp) = U (K x C) . V (C x tp): KB (<= 8) rows of M by NB (1 or 2) vectors of 16
   tiles at a time. */
#define UV512_KERNEL(KB, NB) BCAST512_KERNEL(KB, NB, U, C, V, tp, M, tp, C, k0, t0, 0)

/* The rows of M left after the full groups of eight, by NB vectors. */
#define UV512_REST(NB)                                                                     \
    switch (K - k0) {                                                                      \
        case 7: UV512_KERNEL(7, NB); break;                                                \
        case 6: UV512_KERNEL(6, NB); break;                                                \
        case 5: UV512_KERNEL(5, NB); break;                                                \
        case 4: UV512_KERNEL(4, NB); break;                                                \
        case 3: UV512_KERNEL(3, NB); break;                                                \
        case 2: UV512_KERNEL(2, NB); break;                                                \
        case 1: UV512_KERNEL(1, NB); break;                                                \
    }

AVX512 static void gemm_uv512(int K, int C, int tp, const float *U, const float *V, float *M)
{
    int t0 = 0, k0;
    for (; t0 + 32 <= tp; t0 += 32) {
        for (k0 = 0; k0 + 8 <= K; k0 += 8) UV512_KERNEL(8, 2);
        UV512_REST(2)
    }
    if (t0 < tp) {      /* tp % 32 == 16: one vector of tiles left */
        for (k0 = 0; k0 + 8 <= K; k0 += 8) UV512_KERNEL(8, 1);
        UV512_REST(1)
    }
}

/* dU (K x C) += D (K x tp) . V (C x tp)^T into the same eight partial sums per element as
   gemm_dv (dU[(k C + c) 8 + lane]): a 16-lane sum per element over the block's tiles, its
   two halves added into the eight partials at the end. Four rows of D against six of V. */
#define DV512_KERNEL(KB, CB)                                                               \
    do {                                                                                   \
        __m512 acc[KB][CB];                                                                \
        int kk, cc, t;                                                                     \
        _Pragma("GCC unroll 4") for (kk = 0; kk < KB; ++kk)                                \
            _Pragma("GCC unroll 6") for (cc = 0; cc < CB; ++cc) acc[kk][cc] = _mm512_setzero_ps(); \
        for (t = 0; t < tp; t += 16) {                                                     \
            __m512 v[CB];                                                                  \
            _Pragma("GCC unroll 6") for (cc = 0; cc < CB; ++cc)                            \
                v[cc] = _mm512_load_ps(V + (size_t)(c0 + cc) * tp + t);                    \
            _Pragma("GCC unroll 4") for (kk = 0; kk < KB; ++kk) {                          \
                __m512 d = _mm512_load_ps(D + (size_t)(k0 + kk) * tp + t);                 \
                _Pragma("GCC unroll 6") for (cc = 0; cc < CB; ++cc)                        \
                    acc[kk][cc] = _mm512_fmadd_ps(d, v[cc], acc[kk][cc]);                  \
            }                                                                              \
        }                                                                                  \
        _Pragma("GCC unroll 4") for (kk = 0; kk < KB; ++kk)                                \
            _Pragma("GCC unroll 6") for (cc = 0; cc < CB; ++cc) {                          \
                float *p = dU + ((size_t)(k0 + kk) * C + c0 + cc) * 8;                     \
                __m256 h = _mm256_add_ps(_mm512_castps512_ps256(acc[kk][cc]),              \
                                         _mm256_castpd_ps(_mm512_extractf64x4_pd(          \
                                             _mm512_castps_pd(acc[kk][cc]), 1)));          \
                _mm256_store_ps(p, _mm256_add_ps(_mm256_load_ps(p), h));                   \
            }                                                                              \
    } while (0)

AVX512 static void gemm_dv512(int K, int C, int tp, const float *D, const float *V, float *dU)
{
    int k0, c0;
    for (k0 = 0; k0 + 4 <= K; k0 += 4) {
        for (c0 = 0; c0 + 6 <= C; c0 += 6) DV512_KERNEL(4, 6);
        for (; c0 + 2 <= C; c0 += 2) DV512_KERNEL(4, 2);
        for (; c0 < C; ++c0) DV512_KERNEL(4, 1);
    }
    for (; k0 < K; ++k0) {
        for (c0 = 0; c0 + 6 <= C; c0 += 6) DV512_KERNEL(1, 6);
        for (; c0 < C; ++c0) DV512_KERNEL(1, 1);
    }
}

/* ---- F(4x4, 3x3) transforms with AVX-512 ----
 * Groups of eight pairs (16 tiles) a vector. The 256-bit loads of pairs k and k + 4 of a
 * group share a 512-bit vector, and the 4x4 transpose runs within each 128-bit lane, so a
 * group's tiles lie in the lane order [pairs 0..3 first tile | pairs 0..3 second tile |
 * pairs 4..7 first tile | pairs 4..7 second tile]; the output transform undoes it. */

/* [a | b] */
AVX512 static inline __m512 join8(__m256 a, __m256 b)
{
    return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(a)), _mm256_castps_pd(b), 1));
}

AVX512 static inline __m256 upper8(__m512 x)
{
    return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1));
}

/* The 4x4 transpose within each 128-bit lane (transpose4_halves on 512 bits). */
AVX512 static inline void transpose4_lanes(__m512 x[4])
{
    __m512 t0 = _mm512_unpacklo_ps(x[0], x[1]), t1 = _mm512_unpackhi_ps(x[0], x[1]);
    __m512 t2 = _mm512_unpacklo_ps(x[2], x[3]), t3 = _mm512_unpackhi_ps(x[2], x[3]);
    x[0] = _mm512_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
    x[1] = _mm512_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    x[2] = _mm512_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
    x[3] = _mm512_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
}

/* bt6 and at6 on 512 bits. */
AVX512 static inline void bt6_512(const __m512 x[6], __m512 r[6])
{
    __m512 four = _mm512_set1_ps(4), five = _mm512_set1_ps(5), two = _mm512_set1_ps(2);
    __m512 t1 = _mm512_fnmadd_ps(four, x[2], x[4]), t2 = _mm512_fnmadd_ps(four, x[1], x[3]);
    __m512 t3 = _mm512_sub_ps(x[4], x[2]), t4 = _mm512_mul_ps(two, _mm512_sub_ps(x[3], x[1]));
    r[0] = _mm512_fmadd_ps(four, x[0], _mm512_fnmadd_ps(five, x[2], x[4]));
    r[1] = _mm512_add_ps(t1, t2);
    r[2] = _mm512_sub_ps(t1, t2);
    r[3] = _mm512_add_ps(t3, t4);
    r[4] = _mm512_sub_ps(t3, t4);
    r[5] = _mm512_fmadd_ps(four, x[1], _mm512_fnmadd_ps(five, x[3], x[5]));
}

AVX512 static inline void at6_512(const __m512 x[6], __m512 y[4])
{
    __m512 a = _mm512_add_ps(x[1], x[2]), b = _mm512_sub_ps(x[1], x[2]);
    __m512 c = _mm512_add_ps(x[3], x[4]), d = _mm512_sub_ps(x[3], x[4]);
    y[0] = _mm512_add_ps(_mm512_add_ps(x[0], a), c);
    y[1] = _mm512_fmadd_ps(_mm512_set1_ps(2), d, b);
    y[2] = _mm512_fmadd_ps(_mm512_set1_ps(4), c, a);
    y[3] = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(8), d, b), x[5]);
}

/* finish on 512 bits. */
AVX512 static inline __m512 finish512(__m512 y, const wino_epilogue *ep, __m512 a, __m512 b)
{
    if (!ep) return y;
    y = _mm512_fmadd_ps(y, a, b);
    if (ep->act == WINO_RELU) return _mm512_max_ps(y, _mm512_setzero_ps());
    if (ep->act == WINO_LEAKY)
        return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(y, _mm512_setzero_ps(), _CMP_GT_OQ),
                                    _mm512_mul_ps(y, _mm512_set1_ps(.1f)), y);
    return y;
}

/* transform_input4 with groups of 16 tiles. */
AVX512 static void transform_input4_512(const geom *g, int C, const float *in, int r0, float *V)
{
    int tw = g->tw, tp = g->tp, nrows = g->rows;
    int last = g->batch * g->th;
    if (r0 + nrows > last) nrows = last - r0;
    int groups = (nrows * (tw / 2) + 7) / 8;
    int c, q, j, k;
    pairs4 ps[groups];
    for (q = 0; q < groups; ++q) group_pairs(g, r0, nrows, q, 8, &ps[q]);
    for (c = 0; c < C; ++c) {
        for (q = 0; q < groups; ++q) {
            __m512 r[6][6];   /* [input row of the tile][transformed column], 16 tiles each */
            for (j = 0; j < 6; ++j) {
                __m256 lo[8], hi[8];
                __m512 l4[4], h4[4], x[6];
                pair_rows(g, in, C, c, &ps[q], 8, j, lo, hi);
                for (k = 0; k < 4; ++k) {
                    l4[k] = join8(lo[k], lo[k + 4]);
                    h4[k] = join8(hi[k], hi[k + 4]);
                }
                transpose4_lanes(l4);
                transpose4_lanes(h4);
                x[0] = l4[0]; x[1] = l4[1]; x[2] = l4[2]; x[3] = l4[3]; x[4] = h4[0]; x[5] = h4[1];
                bt6_512(x, r[j]);
            }
            for (k = 0; k < 6; ++k) {
                __m512 col[6], v[6];
                for (j = 0; j < 6; ++j) col[j] = r[j][k];
                bt6_512(col, v);
                for (j = 0; j < 6; ++j) _mm512_store_ps(V + ((size_t)(j * 6 + k) * C + c) * tp + q * 16, v[j]);
            }
        }
        zero_tail(V, NXI4, C, c, tp, groups * 16);
    }
}

/* transform_output4 with groups of 16 tiles. With sums (for wino_forward_stats), also
   sums [2K] += per filter k the sum of (y - shift[k]) (at 2k) and of its square (2k + 1)
   over the outputs written, in float within the block and added in double. */
AVX512 static void transform_output4_512(const geom *g, int K, const float *M, int r0, float *out, int add,
                                         const wino_epilogue *ep, const float *shift, double *sums)
{
    int tw = g->tw, tp = g->tp, nrows = g->rows;
    int last = g->batch * g->th;
    if (r0 + nrows > last) nrows = last - r0;
    int groups = (nrows * (tw / 2) + 7) / 8;
    size_t step = (size_t)K * tp;   /* from one xi to the next */
    int k, q, j, i, rr;
    pairs4 ps[groups];
    for (q = 0; q < groups; ++q) group_pairs(g, r0, nrows, q, 8, &ps[q]);
    for (k = 0; k < K; ++k) {
        __m512 ea = ep ? _mm512_set1_ps(ep->scale[k]) : _mm512_setzero_ps();
        __m512 eb = ep ? _mm512_set1_ps(ep->shift[k]) : _mm512_setzero_ps();
        __m256 sh = _mm256_set1_ps(sums ? shift[k] : 0), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps();
        for (q = 0; q < groups; ++q) {
            const float *m = M + (size_t)k * tp + q * 16;
            __m512 s[4][6];   /* A^T down each column of the 6x6 products: [output row][column] */
            for (i = 0; i < 6; ++i) {
                __m512 col[6], y[4];
                for (j = 0; j < 6; ++j) col[j] = _mm512_load_ps(m + (size_t)(j * 6 + i) * step);
                at6_512(col, y);
                for (rr = 0; rr < 4; ++rr) s[rr][i] = y[rr];
            }
            for (rr = 0; rr < 4; ++rr) {
                __m512 y[4];
                at6_512(s[rr], y);
                for (j = 0; j < 4; ++j) y[j] = finish512(y[j], ep, ea, eb);
                transpose4_lanes(y);   /* y[j]: pair j's 8 output columns | pair j + 4's */
                for (j = 0; j < 4; ++j) {
                    __m256 v[2] = {_mm512_castps512_ps256(y[j]), upper8(y[j])};
                    int half;
                    for (half = 0; half < 2; ++half) {
                        /* pair j's columns, then pair j + 4's; the sums take those written */
                        if (!put_pair_row(g, out, K, k, &ps[q], j + 4 * half, rr, v[half], add) || !sums) continue;
                        __m256 d = _mm256_sub_ps(v[half], sh);
                        s1 = _mm256_add_ps(s1, d);
                        s2 = _mm256_fmadd_ps(d, d, s2);
                    }
                }
            }
        }
        if (sums) {
            sums[2 * k] += hsum(s1);
            sums[2 * k + 1] += hsum(s2);
        }
    }
}

/* ---- F(4x4, 3x3) weight gradient with AVX-512 ----
 * dU[xi] (in x outs) = V[xi] (in x tiles) . D[xi] (tiles x outs), D = A dY A^T over each 4x4
 * tile of the output gradient (the adjoint of transform_output4_512), then dW = G^T dU G.
 * V is the forward's transformed input, as transform_input4_512 writes it. D is stored tile
 * by tile with the filters contiguous (Dt [NXI4][tp][Kp], Kp = outs rounded up to 16, the
 * extra filters zero): a product then runs on vectors of 16 filters, every accumulator
 * summing over all of a block's tiles, with no horizontal sums at its end (the F(2x2, 3x3)
 * weight gradient's gemm_dv512 pays eight of them per product per block, and lost to
 * oneDNN's direct kernel on AVX-512 for it). V and Dt hold the same tiles in the same lane
 * order (see the section above), so the sum over tiles needs no reordering; tiles past the
 * block or the image are zero in both. */

/* r = A x for four vectors (the adjoint of at6: A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0;
   0 1 1 4 4 0; 0 1 -1 8 -8 1]). */
AVX512 static inline void a6_512(const __m512 x[4], __m512 r[6])
{
    __m512 e = _mm512_add_ps(x[0], x[2]), o = _mm512_add_ps(x[1], x[3]);
    __m512 e4 = _mm512_fmadd_ps(_mm512_set1_ps(4), x[2], x[0]);
    __m512 o8 = _mm512_fmadd_ps(_mm512_set1_ps(8), x[3], _mm512_add_ps(x[1], x[1]));
    r[0] = x[0];
    r[1] = _mm512_add_ps(e, o);
    r[2] = _mm512_sub_ps(e, o);
    r[3] = _mm512_add_ps(e4, o8);
    r[4] = _mm512_sub_ps(e4, o8);
    r[5] = x[3];
}

/* The 8 output-gradient columns of pair k of a group in row rr (0..3) of its tiles, channel
   ch (zeros past the image or the block): put_pair_row's read. */
AVX512 static inline __m256 get_pair_row(const geom *g, const float *dout, int ch, const pairs4 *ps, int k, int rr)
{
    ptrdiff_t at = pair_row_at(g, ch, ps, k, rr);
    return at < 0 ? _mm256_setzero_ps() : _mm256_loadu_ps(dout + at);
}

/* dst[e * ld + i] = src[i * 16 + e] for i, e < 16: rows of 16 channels for one tile each from
   16 rows of 16 tiles for one channel each. */
AVX512 static void transpose16_512(const float *src, float *dst, size_t ld)
{
    __m512 r[16], t[16];
    int i, m;
    for (i = 0; i < 16; ++i) r[i] = _mm512_load_ps(src + 16 * i);
    for (i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    /* r[4n + m], 128-bit lane L: rows 4n..4n + 3 of column 4L + m */
    for (i = 0; i < 16; i += 4) {
        __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]);
        __m512d c = _mm512_castps_pd(t[i + 2]), d = _mm512_castps_pd(t[i + 3]);
        r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    /* column 4L + m: lane L of r[m], r[4 + m], r[8 + m], r[12 + m] */
    for (m = 0; m < 4; ++m) {
        __m512 x0 = _mm512_shuffle_f32x4(r[m], r[4 + m], 0x44), x1 = _mm512_shuffle_f32x4(r[m], r[4 + m], 0xEE);
        __m512 y0 = _mm512_shuffle_f32x4(r[8 + m], r[12 + m], 0x44), y1 = _mm512_shuffle_f32x4(r[8 + m], r[12 + m], 0xEE);
        _mm512_storeu_ps(dst + (size_t)(0 + m) * ld, _mm512_shuffle_f32x4(x0, y0, 0x88));
        _mm512_storeu_ps(dst + (size_t)(4 + m) * ld, _mm512_shuffle_f32x4(x0, y0, 0xDD));
        _mm512_storeu_ps(dst + (size_t)(8 + m) * ld, _mm512_shuffle_f32x4(x1, y1, 0x88));
        _mm512_storeu_ps(dst + (size_t)(12 + m) * ld, _mm512_shuffle_f32x4(x1, y1, 0xDD));
    }
}

/* Dt [NXI4][tp][Kp] = A dY A^T for the tiles of the block starting at tile row r0 (the
   first groups * 16 of tp; returns that count), the K filters of dout, zero for filters
   K..Kp - 1. S: scratch of NXI4 x 16 x 16 floats (one group of tiles for 16 filters). */
AVX512 static int transform_dout4t_512(const geom *g, int K, int Kp, const float *dout, int r0, float *Dt, float *S)
{
    int tw = g->tw, tp = g->tp, nrows = g->rows;
    int last = g->batch * g->th;
    if (r0 + nrows > last) nrows = last - r0;
    int groups = (nrows * (tw / 2) + 7) / 8;
    int k0, kk, q, j, i, rr, xi;
    pairs4 ps[groups];
    for (q = 0; q < groups; ++q) group_pairs(g, r0, nrows, q, 8, &ps[q]);
    for (k0 = 0; k0 < Kp; k0 += 16) {
        for (q = 0; q < groups; ++q) {
            for (kk = 0; kk < 16; ++kk) {
                int k = k0 + kk;
                if (k >= K) {
                    for (xi = 0; xi < NXI4; ++xi) _mm512_store_ps(S + (xi * 16 + kk) * 16, _mm512_setzero_ps());
                    continue;
                }
                __m512 t[4][6];   /* A down each row of the 4x4 gradient: [row][column] */
                for (rr = 0; rr < 4; ++rr) {
                    __m512 y[4];
                    for (j = 0; j < 4; ++j)
                        y[j] = join8(get_pair_row(g, dout, k, &ps[q], j, rr), get_pair_row(g, dout, k, &ps[q], j + 4, rr));
                    transpose4_lanes(y);   /* y[c]: column c of row rr of the 16 tiles */
                    a6_512(y, t[rr]);
                }
                for (i = 0; i < 6; ++i) {
                    __m512 col[4], d[6];
                    for (rr = 0; rr < 4; ++rr) col[rr] = t[rr][i];
                    a6_512(col, d);
                    for (j = 0; j < 6; ++j) _mm512_store_ps(S + ((j * 6 + i) * 16 + kk) * 16, d[j]);
                }
            }
            for (xi = 0; xi < NXI4; ++xi)
                transpose16_512(S + xi * 256, Dt + ((size_t)xi * tp + q * 16) * Kp + k0, Kp);
        }
    }
    return groups * 16;
}

/* dU [C][Kp] += V [C][tp] . Dt [tp][Kp] over the first nt tiles: CB input channels by KV
   vectors of 16 filters of accumulators, each over all nt tiles. */
#define VD512_KERNEL(CB, KV) BCAST512_KERNEL(CB, KV, V, tp, Dt, Kp, dU, Kp, nt, c0, k0, 1)

AVX512 static void gemm_vd512(int C, int Kp, int nt, int tp, const float *V, const float *Dt, float *dU)
{
    int k0 = 0, c0;
    while (k0 < Kp) {
        if (Kp - k0 >= 64) {
            for (c0 = 0; c0 + 6 <= C; c0 += 6) VD512_KERNEL(6, 4);
            for (; c0 + 2 <= C; c0 += 2) VD512_KERNEL(2, 4);
            for (; c0 < C; ++c0) VD512_KERNEL(1, 4);
            k0 += 64;
        } else if (Kp - k0 >= 32) {
            for (c0 = 0; c0 + 12 <= C; c0 += 12) VD512_KERNEL(12, 2);
            for (; c0 + 4 <= C; c0 += 4) VD512_KERNEL(4, 2);
            for (; c0 < C; ++c0) VD512_KERNEL(1, 2);
            k0 += 32;
        } else {
            for (c0 = 0; c0 + 16 <= C; c0 += 16) VD512_KERNEL(16, 1);
            for (; c0 + 4 <= C; c0 += 4) VD512_KERNEL(4, 1);
            for (; c0 < C; ++c0) VD512_KERNEL(1, 1);
            k0 += 16;
        }
    }
}

/* Blocks of about 512 KB of V and Dt together, twice that with 1 MiB of L2 or more
   (l2_scale), so that a block's transforms are still in L2 when its products read them. */
static int wgrad4_tiles(int channels, int filters)
{
    int t = l2_scale() * (1 << 19) / (NXI4 * 4 * (channels + filters));
    return t < 16 ? 16 : t > 1024 ? 1024 : t;
}

/* dweights [n][c][3][3] += the F(4x4, 3x3) weight gradient of one group (w a multiple of 8),
   as wgrad_group. */
static void wgrad4_group(int batch, int c, int h, int w, int n, const float *in, int in_c,
                         const float *dout, int out_c, float *dweights)
{
    int kp = (n + 15) / 16 * 16;
    geom g = make_geom(batch, h, w, 4, wgrad4_tiles(c, kp));
    size_t usize = (size_t)NXI4 * c * kp;   /* dU [NXI4][c][kp] */
    float *dU = xalloc(usize * sizeof(float));
    g.cin = in_c;
    g.cout = out_c;
    memset(dU, 0, usize * sizeof(float));
    #pragma omp parallel
    {
        float *V = xalloc((size_t)NXI4 * c * g.tp * sizeof(float));
        float *Dt = xalloc((size_t)NXI4 * g.tp * kp * sizeof(float));
        float *S = xalloc((size_t)NXI4 * 256 * sizeof(float));
        float *part = xalloc(usize * sizeof(float));
        int b, xi;
        size_t i;
        memset(part, 0, usize * sizeof(float));
        #pragma omp for schedule(static)
        for (b = 0; b < g.blocks; ++b) {
            transform_input4_512(&g, c, in, b * g.rows, V);
            int nt = transform_dout4t_512(&g, n, kp, dout, b * g.rows, Dt, S);
            for (xi = 0; xi < NXI4; ++xi)
                gemm_vd512(c, kp, nt, g.tp, V + (size_t)xi * c * g.tp, Dt + (size_t)xi * g.tp * kp,
                           part + (size_t)xi * c * kp);
        }
        #pragma omp critical
        for (i = 0; i < usize; ++i) dU[i] += part[i];
        free(V);
        free(Dt);
        free(S);
        free(part);
    }
    /* dW = G^T dU G, added. */
    int o, i2, a, b2, p;
    #pragma omp parallel for private(i2, a, b2, p) if (n * c >= 1024)
    for (o = 0; o < n; ++o) {
        for (i2 = 0; i2 < c; ++i2) {
            float t[3][6];
            for (b2 = 0; b2 < 6; ++b2)
                for (p = 0; p < 3; ++p) {
                    float s = 0;
                    for (a = 0; a < 6; ++a) s += G4[a][p] * dU[((size_t)(a * 6 + b2) * c + i2) * kp + o];
                    t[p][b2] = s;
                }
            float *dw = dweights + ((size_t)o * c + i2) * 9;
            for (p = 0; p < 3; ++p)
                for (a = 0; a < 3; ++a) {
                    float s = 0;
                    for (b2 = 0; b2 < 6; ++b2) s += t[p][b2] * G4[b2][a];
                    dw[p * 3 + a] += s;
                }
        }
    }
    free(dU);
}

/* 1 when the passes take the AVX-512 products: the CPU has AVX-512F and
   DARKNET_WINOGRAD_ISA=avx2 is not set (tests and benchmarks compare the two; read at every
   pass). */
int wino_wide(void)
{
    const char *e = getenv("DARKNET_WINOGRAD_ISA");
    if (e && !strcmp(e, "avx2")) return 0;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}

typedef void (*gemm_fn)(int, int, int, const float *, const float *, float *);

/* ---- the three passes ---- */

/* 4 (F(4x4, 3x3)) for maps whose width is a multiple of 8, else 2 (F(2x2, 3x3));
   DARKNET_WINOGRAD_TILE=2 in the environment keeps F(2x2, 3x3) for all (benchmarks and
   tests compare the two). */
int wino_tile(int w)
{
    const char *e = getenv("DARKNET_WINOGRAD_TILE");
    if (e && !strcmp(e, "2")) return 2;
    return w % 8 == 0 ? 4 : 2;
}

/* The transformed tile elements of a pass in tiles of tile x tile outputs. */
static int pass_nxi(int tile)
{
    return tile == 4 ? NXI4 : NXI;
}

/* out (+)= conv3x3(in) in tiles of tile x tile outputs (4 or 2), with transformed filters
   U[xi][outs][ins] (NXI4 or NXI of them); in has in_c channels per image (ins of them read,
   from the pointer on), out has out_c (outs written). */
static void wino_conv(int tile, int batch, int ins, int h, int w, int outs, const float *U,
                      const float *in, int in_c, float *out, int out_c, int add, const wino_epilogue *ep,
                      const float *shift, double *sums)
{
    int four = tile == 4, nxi = pass_nxi(tile);
    int most = ins > outs ? ins : outs;
    int wide = wino_wide();
    gemm_fn uv = wide ? gemm_uv512 : gemm_uv;
    geom g = make_geom(batch, h, w, tile, four ? conv_tiles4(most) : conv_tiles(most));
    g.cin = in_c;
    g.cout = out_c;
    #pragma omp parallel
    {
        float *V = xalloc((size_t)nxi * ins * g.tp * sizeof(float));
        float *M = xalloc((size_t)nxi * outs * g.tp * sizeof(float));
        /* this thread's share of sums (F(4x4, 3x3) with AVX-512 only: wino_forward_stats) */
        double *ts = sums ? calloc(2 * (size_t)outs, sizeof(double)) : 0;
        int b, xi;
        if (sums && !ts) {
            fprintf(stderr, "conv_winograd: out of memory\n");
            exit(1);
        }
        #pragma omp for schedule(static)
        for (b = 0; b < g.blocks; ++b) {
            if (four && wide) transform_input4_512(&g, ins, in, b * g.rows, V);
            else if (four) transform_input4(&g, ins, in, b * g.rows, V);
            else transform_input(&g, ins, in, b * g.rows, V);
            for (xi = 0; xi < nxi; ++xi)
                uv(outs, ins, g.tp, U + (size_t)xi * outs * ins, V + (size_t)xi * ins * g.tp,
                   M + (size_t)xi * outs * g.tp);
            if (four && wide) transform_output4_512(&g, outs, M, b * g.rows, out, add, ep, shift, ts);
            else if (four) transform_output4(&g, outs, M, b * g.rows, out, add, ep);
            else transform_output(&g, outs, M, b * g.rows, out, add, ep);
        }
        if (ts) {
            int k;
            #pragma omp critical
            for (k = 0; k < 2 * outs; ++k) sums[k] += ts[k];
            free(ts);
        }
        free(V);
        free(M);
    }
}

/* The filters of a pass, transformed for its tile size: U [pass_nxi(tile)][outs][ins]. */
static void pass_weights(int tile, const float *weights, int outs, int ins, int flip, float *U)
{
    if (tile == 4) transform_weights4(weights, outs, ins, flip, U);
    else transform_weights(weights, outs, ins, flip, U);
}

/* Groups: group q convolves input channels [q c/G, (q + 1) c/G) of each image with filters
   [q n/G, (q + 1) n/G) (weights [n][c/G][3][3], so its filters are one contiguous block) into
   output channels [q n/G, (q + 1) n/G): each pass runs once per group on those slices, as
   separate branches of c/G and n/G channels would. */

/* wino_forward and wino_forward_stats: ep and (shift, sums) are each null or not. */
static void forward_groups(int batch, int c, int h, int w, int n, int groups, const float *weights,
                           const float *in, float *out, const wino_epilogue *ep, const float *shift, double *sums)
{
    int cg = c / groups, ng = n / groups, q, tile = wino_tile(w);
    size_t hw = (size_t)h * w;
    float *U = xalloc((size_t)pass_nxi(tile) * ng * cg * sizeof(float));
    for (q = 0; q < groups; ++q) {
        wino_epilogue eq;
        if (ep) {
            eq = *ep;
            eq.scale = ep->scale + (size_t)q * ng;
            eq.shift = ep->shift + (size_t)q * ng;
        }
        pass_weights(tile, weights + (size_t)q * ng * cg * 9, ng, cg, 0, U);
        wino_conv(tile, batch, cg, h, w, ng, U, in + q * cg * hw, c, out + q * ng * hw, n, 0, ep ? &eq : 0,
                  sums ? shift + (size_t)q * ng : 0, sums ? sums + 2 * (size_t)q * ng : 0);
    }
    free(U);
}

void wino_forward(int batch, int c, int h, int w, int n, int groups, const float *weights,
                  const float *in, float *out, const wino_epilogue *ep)
{
    forward_groups(batch, c, h, w, n, groups, weights, in, out, ep, 0, 0);
}

int wino_forward_stats(int batch, int c, int h, int w, int n, int groups, const float *weights,
                       const float *in, float *out, const float *shift, double *sums)
{
    if (wino_tile(w) != 4 || !wino_wide()) return 0;
    memset(sums, 0, 2 * (size_t)n * sizeof(double));
    forward_groups(batch, c, h, w, n, groups, weights, in, out, 0, shift, sums);
    return 1;
}

void wino_backward_data(int batch, int c, int h, int w, int n, int groups, const float *weights,
                        const float *dout, float *din)
{
    int cg = c / groups, ng = n / groups, q, tile = wino_tile(w);
    size_t hw = (size_t)h * w;
    float *U = xalloc((size_t)pass_nxi(tile) * ng * cg * sizeof(float));
    for (q = 0; q < groups; ++q) {
        pass_weights(tile, weights + (size_t)q * ng * cg * 9, cg, ng, 1, U);
        wino_conv(tile, batch, ng, h, w, cg, U, dout + q * ng * hw, n, din + q * cg * hw, c, 1, 0, 0, 0);
    }
    free(U);
}

/* Weight-gradient blocks are longer: each product sums over the block's tiles, and the
   horizontal sums at its end are paid once per block. */
static int wgrad_tiles(int channels)
{
    const char *e = getenv("WINO_T");
    if (e) return atoi(e);
    return 2 * conv_tiles(channels);
}

/* dweights [n][c][3][3] += the weight gradient of one group: in has in_c channels per image
   (c read), dout has out_c (n read). */
static void wgrad_group(int batch, int c, int h, int w, int n, const float *in, int in_c,
                        const float *dout, int out_c, float *dweights)
{
    geom g = make_geom(batch, h, w, 2, wgrad_tiles(c > n ? c : n));
    size_t usize = (size_t)NXI * n * c;
    float *dU = xalloc(usize * sizeof(float));
    gemm_fn dv = wino_wide() ? gemm_dv512 : gemm_dv;
    g.cin = in_c;
    g.cout = out_c;
    memset(dU, 0, usize * sizeof(float));
    #pragma omp parallel
    {
        float *V = xalloc((size_t)NXI * c * g.tp * sizeof(float));
        float *D = xalloc((size_t)NXI * n * g.tp * sizeof(float));
        float *part = xalloc(usize * 8 * sizeof(float));
        int b, xi;
        memset(part, 0, usize * 8 * sizeof(float));
        #pragma omp for schedule(static)
        for (b = 0; b < g.blocks; ++b) {
            transform_input(&g, c, in, b * g.rows, V);
            transform_dout(&g, n, dout, b * g.rows, D);
            for (xi = 0; xi < NXI; ++xi)
                dv(n, c, g.tp, D + (size_t)xi * n * g.tp, V + (size_t)xi * c * g.tp,
                   part + (size_t)xi * n * c * 8);
        }
        #pragma omp critical
        add_partials(usize, part, dU);
        free(V);
        free(D);
        free(part);
    }
    /* dW = G^T dU G, added. */
    int o, i2, a, b2;
    for (o = 0; o < n; ++o) {
        for (i2 = 0; i2 < c; ++i2) {
            float x[4][4], t[3][4];
            for (a = 0; a < 4; ++a)
                for (b2 = 0; b2 < 4; ++b2) x[a][b2] = dU[((size_t)(a * 4 + b2) * n + o) * c + i2];
            for (b2 = 0; b2 < 4; ++b2) {
                t[0][b2] = x[0][b2] + .5f * (x[1][b2] + x[2][b2]);
                t[1][b2] = .5f * (x[1][b2] - x[2][b2]);
                t[2][b2] = .5f * (x[1][b2] + x[2][b2]) + x[3][b2];
            }
            float *dw = dweights + ((size_t)o * c + i2) * 9;
            for (a = 0; a < 3; ++a) {
                dw[a * 3 + 0] += t[a][0] + .5f * (t[a][1] + t[a][2]);
                dw[a * 3 + 1] += .5f * (t[a][1] - t[a][2]);
                dw[a * 3 + 2] += .5f * (t[a][1] + t[a][2]) + t[a][3];
            }
        }
    }
    free(dU);
}

int wino_wgrad_tile(int w)
{
    return wino_wide() && wino_tile(w) == 4 ? 4 : 2;
}

void wino_backward_weights(int batch, int c, int h, int w, int n, int groups, const float *in,
                           const float *dout, float *dweights)
{
    int cg = c / groups, ng = n / groups, q, four = wino_wgrad_tile(w) == 4;
    size_t hw = (size_t)h * w;
    for (q = 0; q < groups; ++q)
        (four ? wgrad4_group : wgrad_group)(batch, cg, h, w, ng, in + q * cg * hw, c, dout + q * ng * hw, n,
                                            dweights + (size_t)q * ng * cg * 9);
}

#endif /* DNNL && __x86_64__ */
