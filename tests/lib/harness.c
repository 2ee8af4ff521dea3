/* See harness.h. */
#define _XOPEN_SOURCE 700
#include "harness.h"
#include "darknet.h"
#include "tool_png.h"

#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int n_pass, n_fail, n_skip;
static char name_buf[512];
/* the open case, if any: its name and the checks recorded inside it */
static int case_open, case_pass, case_fail;
static char case_name[512];

const char *harness_name(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name_buf, sizeof(name_buf), fmt, ap);
    va_end(ap);
    return name_buf;
}

int harness_record(int ok, const char *name, const char *details_fmt, ...)
{
    /* stdout and stderr interleave in the log: flush so each line lands where it happened. */
    fflush(stderr);
    if (case_open) {
        if (ok) ++case_pass;
        else ++case_fail;
    } else {
        if (ok) ++n_pass;
        else ++n_fail;
    }
    if (ok) {
        if (!case_open) printf("PASS %s\n", name);
    } else {
        va_list ap;
        if (case_open) printf("  in %s: ", case_name);
        printf("FAIL %s: ", name);
        va_start(ap, details_fmt);
        vprintf(details_fmt, ap);
        va_end(ap);
        printf("\n");
    }
    fflush(stdout);
    return ok;
}

int harness_check(int ok, const char *name, const char *file, int line, const char *expr)
{
    return harness_record(ok, name, "%s:%d: %s is false", file, line, expr);
}

int harness_close(double a, double b, double tol, const char *name, const char *file, int line,
                  const char *ea, const char *eb)
{
    double d = fabs(a - b);
    int ok = isfinite(a) && isfinite(b) && d <= tol;
    return harness_record(ok, name, "%s:%d: %s = %.9g, %s = %.9g, |diff| = %.3g > %.3g",
                          file, line, ea, a, eb, b, d, tol);
}

int harness_rel(double a, double b, double rtol, double floor, const char *name,
                const char *file, int line, const char *ea, const char *eb)
{
    double d = fabs(a - b);
    double scale = fmax(fmax(fabs(a), fabs(b)), floor);
    int ok = isfinite(a) && isfinite(b) && d <= rtol * scale;
    return harness_record(ok, name, "%s:%d: %s = %.9g, %s = %.9g, |diff|/scale = %.3g > %.3g",
                          file, line, ea, a, eb, b, d / scale, rtol);
}

void case_begin(const char *fmt, ...)
{
    va_list ap;
    if (case_open) case_end();
    va_start(ap, fmt);
    vsnprintf(case_name, sizeof(case_name), fmt, ap);
    va_end(ap);
    case_open = 1;
    case_pass = case_fail = 0;
}

int case_end(void)
{
    int ok = case_fail == 0 && case_pass > 0, n = case_pass + case_fail;
    char name[600];
    if (!case_open) return 1;
    case_open = 0;
    snprintf(name, sizeof(name), "%s (%d checks)", case_name, n);
    if (n == 0) return harness_record(0, name, "no checks ran in this case");
    return harness_record(ok, name, "%d of %d checks failed (above)", case_fail, n);
}

int harness_passed(void) { return n_pass; }
int harness_failed(void) { return n_fail; }

void harness_skip(const char *name, const char *why_fmt, ...)
{
    va_list ap;
    fflush(stderr);
    ++n_skip;
    printf("SKIP %s: ", name);
    va_start(ap, why_fmt);
    vprintf(why_fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

int harness_finish(void)
{
    if (case_open) case_end();
    if (n_pass + n_fail == 0 && n_skip == 0) {
        ++n_fail;
        printf("FAIL no checks ran\n");
    }
    printf("@@ counts %d %d\n", n_pass, n_fail);
    fflush(stdout);
    return n_fail ? 1 : 0;
}

/* ---- files ---- */

static char tmp_folder[600];
static pid_t tmp_owner;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

static void remove_tmp_folder(void)
{
    /* a forked child (expect_exit) exits through here too: only the owner removes */
    if (tmp_folder[0] && getpid() == tmp_owner && nftw(tmp_folder, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "could not remove %s\n", tmp_folder);
}

const char *tmp_dir(void)
{
    if (!tmp_folder[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(tmp_folder, sizeof(tmp_folder), "%s/ricasso-test-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(tmp_folder)) {
            perror(tmp_folder);
            exit(1);
        }
        tmp_owner = getpid();
        atexit(remove_tmp_folder);
    }
    return tmp_folder;
}

char *tmp_path(const char *name)
{
    static char buf[8][800];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, sizeof(buf[0]), "%s/%s", tmp_dir(), name);
    return p;
}

const char *repo_path(const char *rel)
{
    static char buf[8][1200];
    static int k;
    const char *root = getenv("RICASSO_ROOT");
    char *p;
    if (!root || !*root) return rel;
    p = buf[k++ % 8];
    snprintf(p, sizeof(buf[0]), "%s/%s", root, rel);
    return p;
}

/* ---- the image-making tools ---- */

int tool_save_png(image im, const char *dir, int i, const char *name)
{
    char base[1300];
    /* save_image_options appends ".png"; Darknet's buffer for the name is 256 bytes */
    snprintf(base, sizeof(base), "%s/%d_%s", dir, i, name);
    if (strlen(base) > 240) {
        fprintf(stderr, "path too long: %s\n", base);
        free_image(im);
        return 0;
    }
    save_image_options(im, base, PNG, 0);
    free_image(im);
    printf("%s.png\n", base);
    return 1;
}

network *net_from_cfg_text(const char *name, const char *text)
{
    char *path = tmp_path(name);
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    return parse_network_cfg(path);
}
