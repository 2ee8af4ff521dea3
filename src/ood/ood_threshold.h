/* The deployment threshold: a key=value text file written by `darknet classifier ood` (to
 * DIR/threshold.ood, and with -deploy also next to the weights as WEIGHTS.ood, where
 * `classifier predict` and `classifier demo` read it unless -threshold names another).
 *
 *   score=odin                  which score (msp, energy, maxlogit, odin)
 *   threshold=0.100250125       an image is known when score >= threshold, else unknown
 *   tpr_target=0.95             the fraction of ID test images the threshold had to accept
 *   id_accepted=0.9501          the fraction it did accept (ties can make it more)
 *   id_images=10000, id_list=   the ID test set it was chosen on
 *   odin_temperature=1000, odin_epsilon=0.0014, energy_temperature=1
 *   classes=10, cfg=
 *   cfg_size=, cfg_fnv1a=       the cfg file and
 *   weights_size=, weights_fnv1a=   the weights file it belongs to (size and 64-bit FNV-1a of
 *                               the bytes): predict and demo refuse the file, with an error,
 *                               for any other cfg or weights
 *
 * Lines starting with # are comments. A key given twice, a non-finite number (nan, inf) or
 * a value out of range is an error naming the line. The threshold is printed with 17
 * significant digits, which reads back as the same double (predict accepts exactly the images
 * ood accepted), and is the same text as that score's value in scores.csv.
 */
#ifndef OOD_THRESHOLD_H
#define OOD_THRESHOLD_H

typedef struct ood_threshold {
    int score;                    /* OOD_MSP .. OOD_ODIN */
    double threshold;
    double tpr_target;
    double id_accepted;
    int id_images;
    float odin_t, odin_eps;       /* ODIN's settings the threshold was chosen with */
    int classes;
    long long weights_size;       /* -1: not recorded */
    unsigned long long weights_fnv1a;
    long long cfg_size;           /* -1: not recorded */
    unsigned long long cfg_fnv1a;
} ood_threshold;

/* WEIGHTS.ood (malloc'd). */
char *ood_threshold_path(const char *weights);
/* Writes t atomically (temp file + rename); 1, or 0 with err. */
int ood_threshold_save(const char *path, const ood_threshold *t, const char *cfg, const char *id_list,
                       char *err, int errlen);
/* 1: read into t; 0: no such file; -1: unreadable or malformed, with err. */
int ood_threshold_load(const char *path, ood_threshold *t, char *err, int errlen);
/* Records the cfg's and weights' sizes and fingerprints in t; 0 with err when one cannot be
 * read. */
int ood_threshold_fingerprint(ood_threshold *t, const char *cfg, const char *weights, char *err, int errlen);
/* 1 when t (loaded from path) belongs to this cfg, these weights and this number of classes;
 * else 0 with what differs in err. */
int ood_threshold_matches(const ood_threshold *t, const char *path, const char *cfg, const char *weights,
                          int classes, char *err, int errlen);

#endif
