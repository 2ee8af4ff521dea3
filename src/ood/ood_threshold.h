/* The deployment threshold next to the weights: WEIGHTS.ood, a key=value text file written
 * by `darknet classifier ood` and read by `classifier predict` and `classifier demo`.
 *
 *   score=odin                  which score (msp, energy, maxlogit, odin)
 *   threshold=0.100250125       an image is known when score >= threshold, else unknown
 *   tpr_target=0.95             the fraction of ID test images the threshold had to accept
 *   id_accepted=0.9501          the fraction it did accept (ties can make it more)
 *   id_images=10000, id_list=   the ID test set it was chosen on
 *   odin_temperature=1000, odin_epsilon=0.0014, energy_temperature=1
 *   classes=10, cfg=
 *   weights_size=, weights_fnv1a=   the weights file it belongs to (size and 64-bit FNV-1a):
 *                               predict and demo ignore the threshold, saying so, when the
 *                               weights have changed since
 *
 * Lines starting with # are comments. The threshold is printed with 9 significant digits,
 * which reads back as the same float (predict accepts exactly the images ood accepted), and
 * is the same text as that score's value in scores.csv.
 */
#ifndef OOD_THRESHOLD_H
#define OOD_THRESHOLD_H

typedef struct ood_threshold {
    int score;                    /* OOD_MSP .. OOD_ODIN */
    float threshold;
    double tpr_target;
    double id_accepted;
    int id_images;
    float odin_t, odin_eps;       /* ODIN's settings the threshold was chosen with */
    int classes;
    long long weights_size;       /* -1: not recorded */
    unsigned long long weights_fnv1a;
} ood_threshold;

/* WEIGHTS.ood (malloc'd). */
char *ood_threshold_path(const char *weights);
/* Writes t atomically (temp file + rename); 1, or 0 with err. */
int ood_threshold_save(const char *path, const ood_threshold *t, const char *cfg, const char *id_list,
                       char *err, int errlen);
/* 1: read into t; 0: no such file; -1: unreadable or malformed, with err. */
int ood_threshold_load(const char *path, ood_threshold *t, char *err, int errlen);

#endif
