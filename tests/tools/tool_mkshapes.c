/* tool_mkshapes DIR SPLIT SEED CLASS=COUNT...
 * Writes COUNT 16x16 RGB PNG images of each CLASS, DIR/SPLIT/<class>/<n>_<class>.png, with
 * Darknet's own image API, and prints their paths (one per line) on stdout.
 *
 * A class is a texture, told apart by shape only:
 *   hstripes   horizontal stripes        vstripes   vertical stripes
 *   dstripes   diagonal stripes (/)      box        a square outline
 *   ring       a ring                    cross      a plus sign
 * Every image draws its own two colours (uniform in the RGB cube, at least 0.35 apart in
 * mean value, either one in front), its own stripe period (6 to 8 pixels) and phase, its own
 * shape position and size, and per-pixel noise of +-0.03: no class has a colour, a
 * brightness or a position of its own, so no single pixel or colour statistic separates them.
 *
 * CLASS may also be `noise` (every pixel and channel uniform in [0, 1]) or `flat` (one
 * random colour, with the same +-0.03 noise): out-of-distribution sets with no shape.
 * Deterministic for a given SEED. Used by tests/e2e/test_ricasso_learns.sh. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "darknet.h"
#include "tool_png.h"

enum { S = 16 };

static const char *kinds[] = {"hstripes", "vstripes", "dstripes", "box", "ring", "cross", "noise", "flat"};

static float clamp01(float v) { return v < 0 ? 0 : v > 1 ? 1 : v; }

/* 1 where pixel (x, y) is foreground for texture kind k with this image's parameters. */
static int fg(int k, int x, int y, int period, int phase, float cx, float cy, float r)
{
    float dx = x - cx, dy = y - cy, d;
    switch (k) {
    case 0: return ((y + phase) % period) < (period + 1) / 2;
    case 1: return ((x + phase) % period) < (period + 1) / 2;
    case 2: return ((x + y + phase) % period) < (period + 1) / 2;
    case 3: return fmaxf(fabsf(dx), fabsf(dy)) > r - 1.1f && fmaxf(fabsf(dx), fabsf(dy)) < r + 0.1f;
    case 4: d = sqrtf(dx * dx + dy * dy); return d > r - 1.2f && d < r + 0.8f;
    case 5: return (fabsf(dx) < 1.1f && fabsf(dy) < r) || (fabsf(dy) < 1.1f && fabsf(dx) < r);
    }
    return 0;
}

int main(int argc, char **argv)
{
    char dir[1024];
    int seed, a, i, x, y, c;
    if (argc < 5) {
        fprintf(stderr, "usage: %s DIR SPLIT SEED CLASS=COUNT...\n", argv[0]);
        return 2;
    }
    seed = atoi(argv[3]);
    srand(seed);
    snprintf(dir, sizeof(dir), "%s/%s", argv[1], argv[2]);
    mkdir(dir, 0777);
    for (a = 4; a < argc; ++a) {
        char name[64], ldir[1100];
        const char *eq = strchr(argv[a], '=');
        int k, n = eq ? atoi(eq + 1) : -1;
        if (!eq || eq - argv[a] >= (int)sizeof(name) || n < 0) {
            fprintf(stderr, "bad CLASS=COUNT: %s\n", argv[a]);
            return 2;
        }
        memcpy(name, argv[a], eq - argv[a]);
        name[eq - argv[a]] = 0;
        for (k = 0; k < 8 && strcmp(kinds[k], name); ++k) {}
        if (k == 8) {
            fprintf(stderr, "unknown class %s\n", name);
            return 2;
        }
        snprintf(ldir, sizeof(ldir), "%s/%s", dir, name);
        if (mkdir(ldir, 0777) != 0 && access(ldir, W_OK) != 0) {
            perror(ldir);
            return 1;
        }
        for (i = 0; i < n; ++i) {
            image im = make_image(S, S, 3);
            float col[2][3], diff;
            int period = 6 + rand() % 3, phase = rand() % 8;
            float cx = rand_uniform(5, 11), cy = rand_uniform(5, 11), r = rand_uniform(3, 5);
            do {
                for (c = 0; c < 6; ++c) col[c / 3][c % 3] = rand_uniform(0, 1);
                diff = (col[0][0] + col[0][1] + col[0][2] - col[1][0] - col[1][1] - col[1][2]) / 3;
            } while (fabsf(diff) < 0.35f);
            for (y = 0; y < S; ++y)
                for (x = 0; x < S; ++x) {
                    int f = k < 6 ? fg(k, x, y, period, phase, cx, cy, r) : 0;
                    for (c = 0; c < 3; ++c)
                        im.data[c * S * S + y * S + x] = k == 6 ? rand_uniform(0, 1)
                            : clamp01(col[f][c] + rand_uniform(-0.03f, 0.03f));
                }
            if (!tool_save_png(im, ldir, i, name)) return 1;
        }
    }
    return 0;
}
