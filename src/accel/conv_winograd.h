/* Winograd convolutions (F(4x4, 3x3) and F(2x2, 3x3)) for DNNL builds on x86-64 CPUs with
 * AVX2 and FMA (src/accel/conv_winograd.c), used by conv_accel_dnnl.c for 3x3 convolutions
 * with stride 1 and padding 1, grouped or not: the bulk of a ResNet's work. oneDNN 2.6 has
 * Winograd kernels only for AVX-512; its direct kernels already run near the FMA peak of an
 * AVX2 core, so doing 2.25 (F(2x2, 3x3)) or 4 (F(4x4, 3x3)) times fewer multiplications is
 * what is left to gain there.
 *
 * Every tensor is in Darknet's layout: activations [batch][channels][h][w] (output size =
 * input size), weights [out][in/groups][3][3]. With groups G (dividing c and n), group q
 * maps input channels [q c/G, (q + 1) c/G) to output channels [q n/G, (q + 1) n/G).
 *
 *   wino_forward:          out  = W (*) in          (out overwritten; with an epilogue,
 *                                                    act(scale[k] (W (*) in) + shift[k]))
 *   wino_backward_data:    din += W^T (*) dout
 *   wino_backward_weights: dW  += dout (*) in
 *
 * The results are those of the direct convolution up to float rounding: F(2x2, 3x3)'s
 * transforms only add, subtract and halve; F(4x4, 3x3)'s scale by up to 8 and by 1/24 on the
 * way, which costs a few more bits (tests/accel/test_dnnl.c holds both to 1e-4 of the
 * largest value of each tensor).
 * wino_usable says whether this CPU can run them.
 */
#ifndef CONV_WINOGRAD_H
#define CONV_WINOGRAD_H

/* Applied to each output value of filter k as it is written (inference: a folded batch norm
   or bias, and the activation). */
enum { WINO_LINEAR, WINO_RELU, WINO_LEAKY };
typedef struct {
    const float *scale, *shift;     /* [n] */
    int act;                        /* WINO_LINEAR, WINO_RELU (max(y, 0)) or WINO_LEAKY */
} wino_epilogue;

int wino_usable(void);
/* 1 when the matrix products take AVX-512F kernels (16 tiles a vector): the CPU has
   AVX-512F, unless DARKNET_WINOGRAD_ISA=avx2 is set, which keeps the AVX2 ones. */
int wino_wide(void);
/* The output tile size the forward and input-gradient passes use for maps of width w: 4
   (F(4x4, 3x3), 2.25 multiplications per output) when w is a multiple of 8, else 2 (F(2x2,
   3x3), 4 per output); DARKNET_WINOGRAD_TILE=2 in the environment gives 2 for all. The
   weight gradient takes wino_wgrad_tile's. */
int wino_tile(int w);
/* The tile size of the weight gradient for maps of width w: 4 on CPUs whose products are
   AVX-512 (wino_wide) when wino_tile(w) is 4 (its transforms exist only on 512 bits there);
   else 2. */
int wino_wgrad_tile(int w);
void wino_forward(int batch, int c, int h, int w, int n, int groups, const float *weights,
                  const float *in, float *out, const wino_epilogue *ep);
/* wino_forward without an epilogue, and in the same pass, per filter k, the sums over the
   batch and the map of (y - shift[k]) (sums[2k]) and of its square (sums[2k + 1]): sums
   [2n] for a batch norm's statistics, about a shift near the mean (the last batch's) so
   that the variance E[(y - s)^2] - E[y - s]^2 loses no digits. Returns 0, having done
   nothing, where the pass's tiles do not collect them (only F(4x4, 3x3) tiles with the
   AVX-512 products do). */
int wino_forward_stats(int batch, int c, int h, int w, int n, int groups, const float *weights,
                       const float *in, float *out, const float *shift, double *sums);
void wino_backward_data(int batch, int c, int h, int w, int n, int groups, const float *weights,
                        const float *dout, float *din);
void wino_backward_weights(int batch, int c, int h, int w, int n, int groups, const float *in,
                           const float *dout, float *dweights);

#endif
