/* Files and images of the OOD commands (src/ood/ood_io.c, ood_draw.cpp, ood_threshold.c):
 *   - scripts/ood-from-cifar-bin writes PNGs whose pixels, decoded by OpenCV (ood_load_image)
 *     and by Darknet's load_image_color, are exactly the CIFAR record's R, G, B planes;
 *   - a file that is not an image, and a missing file, are reported (return 0), not replaced
 *     by a blank image or an exit;
 *   - image lists: blank lines skipped, CR and trailing spaces trimmed, line numbers kept;
 *   - WEIGHTS.ood: save + load returns the same float threshold and settings, leaves no
 *     temporary file; a missing file is "absent", a malformed one an error with its line;
 *   - annotated images: scaled up by whole pixels, with a band coloured by the decision,
 *     and PNGs that read back pixel for pixel.
 * Run from the repository root (tests/run.sh does).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "darknet.h"
#include "ood_io.h"
#include "ood_score.h"
#include "ood_threshold.h"

#include "harness.h"


/* Record k: label 7 + k; R(i) = (5k + i) % 256, G(i) = (3i + 1) % 256, B(i) = 255 - i % 256
 * for pixel i = 32 y + x. */
static unsigned char pixel_of(int k, int plane, int i)
{
    return plane == 0 ? (unsigned char)((5 * k + i) % 256)
         : plane == 1 ? (unsigned char)((3 * i + 1) % 256) : (unsigned char)(255 - i % 256);
}

static void test_cifar_converter(void)
{
    const int K = 3;
    char cmd[2048], png[600];
    FILE *f = fopen(tmp_path("rec.bin"), "wb");
    int k, p, i, ok_cv = 1, ok_dn = 1, loaded = 1;
    for (k = 0; k < K; ++k) {
        fputc(7 + k, f);
        for (p = 0; p < 3; ++p)
            for (i = 0; i < 1024; ++i) fputc(pixel_of(k, p, i), f);
    }
    fclose(f);
    snprintf(cmd, sizeof(cmd), "%s %s %s >/dev/null", repo_path("scripts/ood-from-cifar-bin"), tmp_path("rec.bin"), tmp_path("conv"));
    CHECK(system(cmd) == 0, "converter: ood-from-cifar-bin runs on 3 records");
    for (k = 0; k < K; ++k) {
        image a, b;
        snprintf(png, sizeof(png), "%s/%05d.png", tmp_path("conv"), k);
        if (!ood_load_image(png, &a)) {
            loaded = 0;
            continue;
        }
        b = load_image_color(png, 0, 0);
        if (a.w != 32 || a.h != 32 || a.c != 3 || b.w != 32 || b.h != 32) ok_cv = ok_dn = 0;
        else
            for (p = 0; p < 3; ++p)
                for (i = 0; i < 1024; ++i) {
                    const float want = (float)(pixel_of(k, p, i) / 255.);
                    ok_cv &= a.data[p * 1024 + i] == want;
                    ok_dn &= b.data[p * 1024 + i] == want;
                }
        free_image(a);
        free_image(b);
    }
    CHECK(loaded, "converter: the 3 PNGs decode");
    CHECK(ok_cv, "converter: ood_load_image gives each record's R, G, B planes exactly (value / 255)");
    CHECK(ok_dn, "converter: Darknet's load_image_color reads the same pixels");
    {
        int n, *line_no;
        char **paths = ood_read_list("test", tmp_path("conv/list.txt"), &n, &line_no);
        snprintf(png, sizeof(png), "%s/00002.png", tmp_path("conv"));
        CHECK(n == 3 && paths[2][0] == '/' && strcmp(paths[2], png) == 0,
              "converter: list.txt holds the 3 absolute paths in record order");
        ood_free_list(paths, n, line_no);
    }
    {
        FILE *l = fopen(tmp_path("conv/labels.txt"), "r");
        int a = -1, b = -1, c = -1;
        CHECK(l && fscanf(l, "%d %d %d", &a, &b, &c) == 3 && a == 7 && b == 8 && c == 9,
              "converter: labels.txt holds the label bytes 7 8 9");
        if (l) fclose(l);
    }
}

static void test_bad_images(void)
{
    image im = {0};
    FILE *f = fopen(tmp_path("garbage.png"), "wb");
    fputs("this is not a PNG file at all", f);
    fclose(f);
    CHECK(!ood_load_image(tmp_path("garbage.png"), &im) && im.data == 0,
          "images: a file with a .png name but no PNG inside is reported as undecodable");
    CHECK(!ood_load_image(tmp_path("missing.png"), &im), "images: a missing file is reported");
    CHECK(access("bad.list", F_OK) != 0, "images: no bad.list appears (Darknet's OpenCV loader writes one)");
}

static void test_lists(void)
{
    FILE *f = fopen(tmp_path("l.txt"), "w");
    int n, *line_no;
    char **p;
    fputs("a.png\r\n\n   \nb c.png  \n\nlast.png", f);
    fclose(f);
    p = ood_read_list("test", tmp_path("l.txt"), &n, &line_no);
    CHECK(n == 3 && !strcmp(p[0], "a.png") && !strcmp(p[1], "b c.png") && !strcmp(p[2], "last.png"),
          "lists: blank lines skipped, CR and trailing spaces trimmed, inner spaces kept, no final newline needed");
    CHECK(line_no[0] == 1 && line_no[1] == 4 && line_no[2] == 6, "lists: line numbers 1, 4, 6 kept for messages");
    ood_free_list(p, n, line_no);
}

static void test_threshold_file(void)
{
    ood_threshold t, r;
    char err[512] = "";
    const char *path = tmp_path("w.weights.ood");
    FILE *f;
    struct stat st;
    int rc;
    memset(&t, 0, sizeof(t));
    t.score = OOD_ODIN;
    t.threshold = log(nextafterf(0.1002501f, 1));   /* a log probability; needs all 17 digits */
    t.tpr_target = 0.95;
    t.id_accepted = 0.9501;
    t.id_images = 10000;
    t.odin_t = 1000;
    t.odin_eps = 0.0014f;
    t.classes = 10;
    t.weights_size = 123456789;
    t.weights_fnv1a = 0xfedcba9876543210ULL;
    CHECK(ood_threshold_save(path, &t, "cfg/x.cfg", "data/test.list", err, sizeof(err)), "threshold file: saved (%s)", err);
    CHECK(ood_threshold_load(path, &r, err, sizeof(err)) == 1, "threshold file: loads back (%s)", err);
    CHECK(r.score == OOD_ODIN && r.threshold == t.threshold && r.odin_t == 1000 && r.odin_eps == 0.0014f &&
          r.classes == 10 && r.id_images == 10000 && r.weights_size == 123456789 && r.weights_fnv1a == t.weights_fnv1a &&
          fabs(r.tpr_target - 0.95) < 1e-12,
          "threshold file: the same float threshold (%.9g vs %.9g), score, ODIN settings and fingerprint", r.threshold,
          t.threshold);
    {
        char tmpname[600];
        snprintf(tmpname, sizeof(tmpname), "%s.tmp.%ld", path, (long)getpid());
        CHECK(stat(tmpname, &st) != 0, "threshold file: no temporary file left behind");
    }
    CHECK(ood_threshold_load(tmp_path("none.ood"), &r, err, sizeof(err)) == 0, "threshold file: a missing file is absent, not an error");
    f = fopen(tmp_path("bad.ood"), "w");
    fputs("# comment\nscore=odin\nthreshold=zero point one\n", f);
    fclose(f);
    err[0] = 0;
    rc = ood_threshold_load(tmp_path("bad.ood"), &r, err, sizeof(err));
    CHECK(rc == -1 && strstr(err, "line 3") && strstr(err, "threshold"),
          "threshold file: a malformed value is an error naming its line ('%s')", err);
    f = fopen(tmp_path("noscore.ood"), "w");
    fputs("threshold=0.5\n", f);
    fclose(f);
    err[0] = 0;
    rc = ood_threshold_load(tmp_path("noscore.ood"), &r, err, sizeof(err));
    CHECK(rc == -1 && strstr(err, "score="),
          "threshold file: a file without score= is an error ('%s')", err);
    f = fopen(tmp_path("oldmsp.ood"), "w");
    fputs("score=msp\nthreshold=0.9\n", f);
    fclose(f);
    err[0] = 0;
    rc = ood_threshold_load(tmp_path("oldmsp.ood"), &r, err, sizeof(err));
    CHECK(rc == -1 && strstr(err, "log probabilities") && strstr(err, "rerun classifier ood"),
          "threshold file: a probability-space msp threshold (0.9) is refused, saying why ('%s')", err);
    f = fopen(tmp_path("oldenergy.ood"), "w");
    fputs("score=energy\nthreshold=0.9\n", f);
    fclose(f);
    CHECK(ood_threshold_load(tmp_path("oldenergy.ood"), &r, err, sizeof(err)) == 1 && r.threshold == 0.9,
          "threshold file: a positive energy threshold is fine ('%s')", err);
}

static void test_annotate(void)
{
    image im = make_image(32, 32, 3), a, back;
    int x, y, k, same = 1, in_image = 1;
    for (k = 0; k < 3; ++k)
        for (y = 0; y < 32; ++y)
            for (x = 0; x < 32; ++x) im.data[(k * 32 + y) * 32 + x] = (float)(((x * 8 + y * 3 + k * 50) % 256) / 255.);
    a = ood_annotate(im, 256, "crimson 93.1%", "odin 0.1003 >= 0.1002: known", 1);
    CHECK(a.w == 256 && a.h > 256 && a.c == 3, "annotate: 32x32 scaled to 256 wide with a band above (%dx%d)", a.w, a.h);
    {
        const int band = a.h - 256;
        /* Every 8x8 block of the image part is one input pixel (nearest neighbour). */
        for (k = 0; k < 3; ++k)
            for (y = 0; y < 256; ++y)
                for (x = 0; x < 256; ++x)
                    in_image &= a.data[(k * a.h + band + y) * a.w + x] == im.data[(k * 32 + y / 8) * 32 + x / 8];
        CHECK(in_image, "annotate: the image part is the input scaled by whole pixels");
        /* Band colour at its right end (no text there): green (0, 120, 0) for known. */
        CHECK(a.data[(0 * a.h + 1) * a.w + a.w - 2] == 0 && fabsf(a.data[(1 * a.h + 1) * a.w + a.w - 2] - 120 / 255.f) < 1e-6,
              "annotate: the band is green for a known image");
    }
    CHECK(ood_save_png(a, tmp_path("a.png")) && ood_load_image(tmp_path("a.png"), &back),
          "annotate: the PNG is written and reads back");
    for (k = 0; k < a.w * a.h * 3 && same; ++k) same = back.data[k] == a.data[k];
    CHECK(same, "annotate: the PNG holds the annotated pixels exactly");
    free_image(back);
    free_image(a);
    a = ood_annotate(im, 256, "unknown (crimson 41.0%)", "odin 0.1001 < 0.1002: unknown", 0);
    CHECK(fabsf(a.data[(0 * a.h + 1) * a.w + a.w - 2] - 170 / 255.f) < 1e-6 && a.data[(1 * a.h + 1) * a.w + a.w - 2] == 0,
          "annotate: the band is red for an unknown image");
    free_image(a);
    CHECK(!ood_save_png(im, tmp_path("no/such/dir/x.png")), "annotate: writing into a missing folder fails cleanly");
    free_image(im);
}

int main(void)
{
    /* Darknet's OpenCV loader writes bad.list into the current folder: look for it in a
     * fresh one, not in whatever folder the test was started from */
    if (chdir(tmp_dir()) != 0) {
        perror(tmp_dir());
        return 1;
    }
    CHECK(ood_have_opencv(), "the test build has OpenCV (PNG output and video)");
    test_cifar_converter();
    test_bad_images();
    test_lists();
    test_threshold_file();
    test_annotate();
    return harness_finish();
}
