/* darknet classifier export: see export_command.h and onnx_export.h. */
#include "export_command.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "darknet.h"
#include "onnx_export.h"
#include "ood_io.h"
#include "ood_score.h"
#include "ood_threshold.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: darknet " EXPORT_USAGE "\n"
            "  Writes the inference graph of CFG with WEIGHTS as an ONNX model (opset %d): input\n"
            "  'data' [N,C,H,W] (RGB planes, pixel / 255), outputs 'prob', 'logits' and 'energy'; the\n"
            "  class names of DATA's labels file and the deployment threshold in its metadata.\n"
            "  -ood FILE   the threshold file to embed (default: WEIGHTS.ood, when it exists)\n"
            "  -noood      embed no threshold (default: off)\n"
            "  -force      replace OUT.onnx when it exists (default: off, an existing file is an error)\n"
            "  -h, --help  this text\n",
            ONNX_EXPORT_OPSET);
}

/* Prints "darknet: error: classifier export: ..." and returns the exit status 1. */
static int die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "darknet: error: classifier export: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    return 1;
}

/* Growing list of metadata pairs. */
typedef struct {
    char **kv;
    int n, cap;
} meta_list;

static void meta_add(meta_list *m, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void meta_add(meta_list *m, const char *key, const char *fmt, ...)
{
    va_list ap;
    int len;
    char *v;
    va_start(ap, fmt);
    len = vsnprintf(0, 0, fmt, ap);
    va_end(ap);
    v = malloc(len + 1);
    va_start(ap, fmt);
    vsnprintf(v, len + 1, fmt, ap);
    va_end(ap);
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 32;
        m->kv = realloc(m->kv, sizeof(char *) * 2 * m->cap);
    }
    m->kv[2 * m->n] = strdup(key);
    m->kv[2 * m->n + 1] = v;
    ++m->n;
}

static void meta_free(meta_list *m)
{
    int k;
    for (k = 0; k < 2 * m->n; ++k) free(m->kv[k]);
    free(m->kv);
}

int export_command(int argc, char **argv)
{
    const char *data, *cfg, *weights, *out, *ood_path = 0;
    int noood = 0, force = 0, i, c, status = 0;
    char err[1024], *thr_path, *labels_file;
    struct stat sb;
    list *options;
    char **names;
    network *net;
    ood_head head;
    ood_threshold thr;
    meta_list meta = {0};
    int have_thr = 0;
    long long wsize;
    unsigned long long wsum;

    for (i = 3; i < argc; ++i)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
    for (i = 7; i < argc; ++i) {
        if (strcmp(argv[i], "-ood") == 0 && i + 1 < argc) ood_path = argv[++i];
        else if (strcmp(argv[i], "-noood") == 0) noood = 1;
        else if (strcmp(argv[i], "-force") == 0) force = 1;
        else {
            usage(stderr);
            return strcmp(argv[i], "-ood") == 0 ? die("-ood needs a FILE") : die("unknown argument '%s'", argv[i]);
        }
    }
    if (argc < 7) {
        usage(stderr);
        return die("too few arguments: DATA CFG WEIGHTS OUT.onnx are required");
    }
    for (i = 3; i < 7; ++i)
        if (argv[i][0] == '-') {
            usage(stderr);
            return die("'%s' is not a file name: DATA CFG WEIGHTS OUT.onnx come first", argv[i]);
        }
    if (noood && ood_path) return die("-ood and -noood contradict each other");
    data = argv[3];
    cfg = argv[4];
    weights = argv[5];
    out = argv[6];
    if (!force && stat(out, &sb) == 0)
        return die("%s exists: give -force to replace it", out);
    if (stat(weights, &sb) != 0 || !S_ISREG(sb.st_mode)) return die("cannot read the weights %s", weights);

    /* The threshold first: a bad file should stop us before the network is built. */
    if (!noood) {
        thr_path = ood_path ? strdup(ood_path) : ood_threshold_path(weights);
        have_thr = ood_threshold_load(thr_path, &thr, err, sizeof(err));
        if (have_thr < 0) {
            free(thr_path);
            return die("%s", err);
        }
        if (have_thr == 0 && ood_path) {
            free(thr_path);
            return die("no threshold file %s", ood_path);
        }
        if (have_thr) {
            wsum = ood_file_fnv1a(weights, &wsize);
            if (thr.weights_size >= 0 && (wsize != thr.weights_size || wsum != thr.weights_fnv1a)) {
                status = die("%s belongs to other weights than %s (size or checksum differ): run classifier ood again, or give -noood",
                             thr_path, weights);
                free(thr_path);
                return status;
            }
        }
        free(thr_path);
    }

    options = read_data_cfg((char *)data);
    c = option_find_int(options, "classes", 0);
    if (c < 1) return die("%s has no classes=N (N >= 1)", data);
    labels_file = option_find_str(options, "labels", option_find_str(options, "names", 0));
    if (!labels_file) return die("%s has no labels= (the class names file)", data);
    names = get_labels_checked(labels_file, c);

    net = load_network((char *)cfg, (char *)weights, 0);
    if (!ood_find_head(net, &head, err, sizeof(err))) return die("%s: %s", cfg, err);
    if (head.classes != c) return die("the network has %d classes, %s says classes=%d", head.classes, data, c);
    if (have_thr && thr.classes > 0 && thr.classes != c)
        return die("the threshold file is for %d classes, %s says classes=%d", thr.classes, data, c);

    meta_add(&meta, "classes", "%d", c);
    {
        size_t len = 0;
        char *joined;
        for (i = 0; i < c; ++i) len += strlen(names[i]) + 1;
        joined = calloc(len + 1, 1);
        for (i = 0; i < c; ++i) {
            strcat(joined, names[i]);
            if (i + 1 < c) strcat(joined, "\n");
        }
        meta_add(&meta, "labels", "%s", joined);
        free(joined);
    }
    meta_add(&meta, "input", "data [N,%d,%d,%d]: RGB planes, pixel values / 255 (Darknet's load_image_color), already at %dx%d (classifier valid: central square crop, resized)",
             net->c, net->h, net->w, net->w, net->h);
    meta_add(&meta, "outputs", "prob [N,%d] = softmax(logits); logits [N,%d] (%s); energy [N,1] = log sum exp(logits), T = 1",
             c, c, head.kind == OOD_HEAD_EXPERT ? "mean of the experts' logits" : "input of the final softmax / its temperature");
    meta_add(&meta, "darknet_cfg", "%s", cfg);
    wsum = ood_file_fnv1a(weights, &wsize);
    meta_add(&meta, "weights_size", "%lld", wsize);
    meta_add(&meta, "weights_fnv1a", "%016llx", wsum);
    if (have_thr) {
        meta_add(&meta, "ood_score", "%s", ood_score_name(thr.score));
        meta_add(&meta, "ood_threshold", "%.17g", thr.threshold);
        meta_add(&meta, "ood_id_accepted", "%.9g", thr.id_accepted);
        meta_add(&meta, "ood_tpr_target", "%.9g", thr.tpr_target);
        meta_add(&meta, "ood_id_images", "%d", thr.id_images);
        meta_add(&meta, "ood_rule", "known when %s >= ood_threshold, else unknown", ood_score_name(thr.score));
        if (thr.score == OOD_ODIN) {
            meta_add(&meta, "ood_odin_temperature", "%.9g", thr.odin_t);
            meta_add(&meta, "ood_odin_epsilon", "%.9g", thr.odin_eps);
            meta_add(&meta, "ood_note", "odin needs the input gradient of log max softmax(logits / T): not an output of this graph");
        } else {
            meta_add(&meta, "ood_note", "%s", thr.score == OOD_MSP ? "msp = log(max of prob)" :
                     thr.score == OOD_ENERGY ? "energy = the energy output" : "maxlogit = max of logits");
        }
    }

    if (!onnx_export_network(net, out, (const char *const *)meta.kv, meta.n, err, sizeof(err)))
        status = die("%s: %s", cfg, err);
    else
        printf("wrote %s (opset %d; outputs prob, logits, energy%s%s)\n", out, ONNX_EXPORT_OPSET,
               have_thr ? "; threshold " : "", have_thr ? ood_score_name(thr.score) : "");
    meta_free(&meta);
    free_network(net);
    for (i = 0; i < c; ++i) free(names[i]);
    free(names);
    free_list(options);
    return status;
}
