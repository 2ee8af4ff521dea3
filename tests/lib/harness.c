/* See harness.h. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int n_pass, n_fail;
static char name_buf[512];

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
    if (ok) {
        ++n_pass;
        printf("PASS %s\n", name);
    } else {
        va_list ap;
        ++n_fail;
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

int harness_passed(void) { return n_pass; }
int harness_failed(void) { return n_fail; }

int harness_finish(void)
{
    if (n_pass + n_fail == 0) {
        ++n_fail;
        printf("FAIL no checks ran\n");
    }
    printf("@@ counts %d %d\n", n_pass, n_fail);
    fflush(stdout);
    return n_fail ? 1 : 0;
}
