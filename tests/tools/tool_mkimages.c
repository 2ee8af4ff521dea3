/* tool_mkimages DIR SPLIT N SEED LABEL...
 * Writes N small 16x16 RGB PNG images per label, DIR/SPLIT/<label>/<n>_<label>.png, with
 * Darknet's own image API, and prints their paths (one per line) on stdout.
 * Label k's images are dominated by colour channel k % 3, with per-image brightness, a
 * darker square at a random place and per-pixel noise, so a small convnet can tell the
 * classes apart but the images are not all alike. Deterministic for a given SEED.
 * Used by tests/e2e/test_e2e.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "darknet.h"
#include "tool_png.h"

static float clamp01(float v) { return v < 0 ? 0 : v > 1 ? 1 : v; }

int main(int argc, char **argv)
{
    const int S = 16;
    char dir[1024];
    int n, seed, k, i, x, y, c;
    if (argc < 6) {
        fprintf(stderr, "usage: %s DIR SPLIT N SEED LABEL...\n", argv[0]);
        return 2;
    }
    n = atoi(argv[3]);
    seed = atoi(argv[4]);
    srand(seed);
    snprintf(dir, sizeof(dir), "%s/%s", argv[1], argv[2]);
    mkdir(dir, 0777);
    for (k = 5; k < argc; ++k) {
        const int label = k - 5, hot = label % 3;
        char ldir[1100];
        snprintf(ldir, sizeof(ldir), "%s/%s", dir, argv[k]);
        if (mkdir(ldir, 0777) != 0 && access(ldir, W_OK) != 0) {
            perror(ldir);
            return 1;
        }
        for (i = 0; i < n; ++i) {
            image im = make_image(S, S, 3);
            float bright = rand_uniform(0.55f, 0.95f);
            int sx = rand() % (S - 5), sy = rand() % (S - 5);
            for (c = 0; c < 3; ++c)
                for (y = 0; y < S; ++y)
                    for (x = 0; x < S; ++x) {
                        float v = (c == hot ? bright : rand_uniform(0.05f, 0.35f)) + rand_uniform(-0.1f, 0.1f);
                        if (x >= sx && x < sx + 5 && y >= sy && y < sy + 5) v *= 0.5f;
                        im.data[c * S * S + y * S + x] = clamp01(v);
                    }
            if (!tool_save_png(im, ldir, i, argv[k])) return 1;
        }
    }
    return 0;
}
