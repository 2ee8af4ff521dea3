/* Darknet's side of the ONNX export tests (tests/export/test_export.sh).
 *
 *   tool_export_ref init CFG OUT SEED   parse CFG (srand(SEED)), give every batch norm random
 *                                       scales, biases, rolling means and variances and every
 *                                       bias a random value (a fresh network has 1, 0, 0, 1
 *                                       and 0, which would leave those terms untested), and
 *                                       save the weights to OUT
 *   tool_export_ref images DIR N W H SEED
 *                                       N random RGB PNGs of W x H (smooth colour gradients,
 *                                       a bright square, noise) DIR/imgK.png; prints their paths
 *   tool_export_ref ref CFG WEIGHTS LIST
 *       for every image of LIST (at the network size), in inference mode at batch 1:
 *         path: prob_0 ... prob_C-1 | logits_0 ... logits_C-1 | energy     (each %.9g)
 *       with the logits and scores of the OOD commands (ood_score.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "ood_score.h"

static float uniform(float lo, float hi) { return lo + (hi - lo) * (rand() / (RAND_MAX + 1.f)); }

static void randomise(network *net)
{
    int i, k;
    for (i = 0; i < net->n; ++i) {
        layer *l = &net->layers[i];
        int C = l->type == CONVOLUTIONAL ? l->n : l->type == CONNECTED ? l->outputs : l->type == BATCHNORM ? l->out_c : 0;
        if (!C) continue;
        if (l->batch_normalize || l->type == BATCHNORM) {
            for (k = 0; k < C; ++k) {
                l->scales[k] = uniform(0.5f, 1.5f);
                l->rolling_mean[k] = uniform(-0.2f, 0.2f);
                l->rolling_variance[k] = uniform(0.5f, 2.f);
            }
        }
        for (k = 0; k < C; ++k) l->biases[k] = uniform(-0.2f, 0.2f);
    }
}

static int write_images(const char *dir, int n, int w, int h, int seed)
{
    int k, x, y, c;
    char base[4096];
    srand(seed);
    for (k = 0; k < n; ++k) {
        image im = make_image(w, h, 3);
        float g[3], o[3];
        int sx = rand() % w, sy = rand() % h, sz = 2 + rand() % (w / 2);
        for (c = 0; c < 3; ++c) {
            g[c] = uniform(-1, 1);
            o[c] = uniform(0.2f, 0.8f);
        }
        for (c = 0; c < 3; ++c)
            for (y = 0; y < h; ++y)
                for (x = 0; x < w; ++x) {
                    float v = o[c] + 0.3f * g[c] * ((float)x / w - (float)y / h) + uniform(-0.1f, 0.1f);
                    if (x >= sx && x < sx + sz && y >= sy && y < sy + sz) v += 0.4f;
                    im.data[(c * h + y) * w + x] = v < 0 ? 0 : v > 1 ? 1 : v;
                }
        snprintf(base, sizeof(base), "%s/img%d", dir, k);
        save_image_options(im, base, PNG, 0);   /* writes base.png */
        printf("%s.png\n", base);
        free_image(im);
    }
    return 0;
}

int main(int argc, char **argv)
{
    network *net;
    if (argc == 7 && strcmp(argv[1], "images") == 0)
        return write_images(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atoi(argv[6]));
    if (argc == 5 && strcmp(argv[1], "init") == 0) {
        srand(atoi(argv[4]));
        net = parse_network_cfg(argv[2]);
        randomise(net);
        save_weights(net, argv[3]);
        free_network(net);
        return 0;
    }
    if (argc == 5 && strcmp(argv[1], "ref") == 0) {
        ood_scorer s;
        char err[512], line[4096];
        FILE *fp;
        int count = 0, c;
        net = load_network(argv[2], argv[3], 0);
        set_batch_network(net, 1);
        if (!ood_scorer_init(&s, net, 1000, 0, 0, err, sizeof(err))) {
            fprintf(stderr, "tool_export_ref: %s\n", err);
            return 1;
        }
        fp = fopen(argv[4], "r");
        if (!fp) {
            perror(argv[4]);
            return 1;
        }
        while (fgets(line, sizeof(line), fp)) {
            image im;
            line[strcspn(line, "\r\n")] = 0;
            if (!line[0]) continue;
            im = load_image_color(line, 0, 0);
            if (im.w != net->w || im.h != net->h) {
                fprintf(stderr, "tool_export_ref: %s is %dx%d, the network %dx%d\n", line, im.w, im.h, net->w, net->h);
                return 1;
            }
            ood_forward(&s, im.data);
            printf("%s:", line);
            for (c = 0; c < s.C; ++c) printf(" %.9g", s.prob[c]);
            printf(" |");
            for (c = 0; c < s.C; ++c) printf(" %.9g", s.logits[c]);
            printf(" | %.9g\n", ood_energy(s.logits, s.C, 1));
            free_image(im);
            ++count;
        }
        fclose(fp);
        ood_scorer_free(&s);
        free_network(net);
        return count > 0 ? 0 : 1;
    }
    fprintf(stderr, "usage: %s init CFG OUT SEED | images DIR N W H SEED | ref CFG WEIGHTS LIST\n", argv[0]);
    return 2;
}
