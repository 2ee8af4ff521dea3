/* OOD scores of a Darknet classifier (higher = more in-distribution), RICASSO section 4.1:
 *
 *   msp       log max_c softmax(z)_c (the log of the MSP: same ranks, no saturation)
 *   energy    -E = T log sum_c exp(z_c / T), T = 1
 *   maxlogit  max_c z_c
 *   odin      log max_c softmax(z(x') / T_o)_c with x' = x + eps * sign(d log S(x) / dx),
 *             S(x) = max_c softmax(z(x) / T_o)_c; that is ODIN's
 *             x' = x - eps * sign(-d log S / dx). Defaults T_o = 1000, eps = 0.0014 (inputs
 *             in [0, 1], Darknet's range; x' is not clipped, as in ODIN). Where the gradient
 *             is exactly 0, sign is 0 and the input does not move.
 *
 * z are the network's logits:
 *   - a network ending in [expert_softmax]: the mean of the experts' logits (its mean_logit);
 *   - a network ending in a stock [softmax] (groups=1, no tree): its input divided by its
 *     temperature (1 unless the cfg sets one), so that softmax(z) is the network's output.
 * The output layer is Darknet's (get_network_output_layer: loss-only layers after it, such
 * as [cbcl] or [rcl], do not count).
 *
 * ODIN's gradient is the true input gradient in inference mode (batch norm with its rolling
 * statistics, [mixdata] the identity, dropout off): one forward pass with net->train = 0, the
 * logits' delta set to d log S / dz (Darknet's delta is -dL/dz for the loss L = -log S),
 * every other delta zero, and Darknet's own backward_network, which writes the input's
 * delta into net->delta (layer 0 reads it; train commands leave it 0). Nothing is updated,
 * but the layers' weight_updates receive the parameter gradients of that pass: use a
 * scorer on a network that is not being trained.
 *
 * Glossary: B rows of the network batch, C classes, X inputs per row (h * w * c).
 */
#ifndef OOD_SCORE_H
#define OOD_SCORE_H

#include "darknet.h"

/* The paper's scores (ood_score_batch: OOD_NSCORES of them), then OpenOOD's post-hoc ones
 * (ood_posthoc.h); OOD_NALL in all. */
enum { OOD_MSP, OOD_ENERGY, OOD_MAXLOGIT, OOD_ODIN, OOD_NSCORES,
       OOD_GEN = OOD_NSCORES, OOD_REACT, OOD_KNN, OOD_MAHALANOBIS, OOD_NALL };

const char *ood_score_name(int kind);            /* "msp", "energy", "maxlogit", "odin", "gen", ... */
int ood_score_from_name(const char *name);       /* -1 when unknown */
const char *ood_score_names(char *buf, int len); /* "msp, energy, ...": every name, into buf */

enum { OOD_HEAD_SOFTMAX, OOD_HEAD_EXPERT };

typedef struct ood_head {
    int kind;          /* OOD_HEAD_SOFTMAX or OOD_HEAD_EXPERT */
    int layer;         /* index of the output layer */
    int classes;       /* C */
    float temperature; /* [softmax] temperature (1 for [expert_softmax]) */
} ood_head;

/* Finds the logits of net; returns 1, or 0 with the reason in err. */
int ood_find_head(network *net, ood_head *h, char *err, int errlen);

/* Scores of one row of logits z [C]. */
/* The msp score: log max_c softmax(z)_c (<= 0), in log space so that MSPs that round to 1.0
 * keep their ranks; exp() of it is the MSP. The odin score is likewise log max softmax(z' / T). */
double ood_msp(const float *z, int C);
double ood_energy(const float *z, int C, float T);
double ood_maxlogit(const float *z, int C);
/* max_c softmax(z / T)_c, and its log (in double, for the gradient check). */
double ood_max_softmax_t(const float *z, int C, float T);
double ood_log_max_softmax_t(const float *z, int C, float T);
int ood_argmax(const float *z, int C);

typedef struct ood_scorer {
    network *net;
    ood_head head;
    int B, C, X;
    float odin_t, odin_eps;
    float energy_t;
    int use_odin;
    float *logits;  /* [B, C] of the last forward pass on the clean inputs */
    float *prob;    /* [B, C] softmax(logits): the network's output */
    float *grad;    /* [B, X] d log S / dx of the last ood_input_gradient */
    float *xadv;    /* [B, X] ODIN's perturbed inputs */
    float *dz;      /* [B, C] d log S / dz, the logits' delta */
#ifdef GPU
    float *grad_gpu; /* [B, X] the input delta on the device */
#endif
    /* The penultimate features (ood_scorer_enable_features; 0 until then): */
    int D;           /* feature length */
    int nsrc;        /* feature sources: one per expert, or the head's input */
    int *src_layer;  /* [nsrc] layer whose output is that part of the feature */
    int *src_head;   /* [nsrc] the layer that reads it (an expert, or the first head layer) */
    int *src_dim;    /* [nsrc] its length; sum = D */
    float *feat;     /* [B, D] of the last clean pass */
    float *hbuf;     /* [B, max src_dim] a source's rows, for ood_head_logits */
} ood_scorer;

/* Binds a scorer to net at its current batch (set_batch_network first); 0 and err when the
 * network has no usable logits. */
int ood_scorer_init(ood_scorer *s, network *net, float odin_t, float odin_eps, int use_odin,
                    char *err, int errlen);
void ood_scorer_free(ood_scorer *s);

/* Forward pass in inference mode on x [B, X]; fills s->logits and s->prob. */
void ood_forward(ood_scorer *s, float *x);
/* Copies the logits [B, C] of the last forward pass into out. */
void ood_read_logits(ood_scorer *s, float *out);
/* d log max softmax(z(x) / T) / dx for every row of x [B, X] into grad [B, X] (overwritten),
 * by a forward and a backward pass in inference mode; the logits of x go to s->logits. */
void ood_input_gradient(ood_scorer *s, float *x, float T, float *grad);
/* All scores for x [B, X]: scores [B, OOD_NSCORES] (odin NaN unless use_odin); s->logits,
 * s->prob then hold the clean pass. x is not changed. */
void ood_score_batch(ood_scorer *s, float *x, double *scores);

/* The penultimate feature of a row, for the post-hoc scores (ood_posthoc.h):
 *   - a network ending in [expert_softmax]: the concatenation, in the order of its experts=,
 *     of the inputs of the expert layers (the features the cosine heads read);
 *   - a network ending in [softmax]: the input of its last [connected] or [convolutional]
 *     layer (the layers from there to the softmax may not be [route] or [shortcut]).
 * Returns 1, or 0 with the reason in err. ood_score_batch then also fills s->feat. */
int ood_scorer_enable_features(ood_scorer *s, char *err, int errlen);
/* A forward pass for the features only: s->logits, s->prob and s->feat of x [B, X]. */
void ood_forward_features(ood_scorer *s, float *x);
/* The logits [B, C] that the head computes from the features feat [B, D] (instead of the
 * network's own): the expert layers (their mean) or the head layers, rerun in inference mode.
 * Overwrites those layers' outputs. */
void ood_head_logits(ood_scorer *s, const float *feat, float *logits);

#endif
