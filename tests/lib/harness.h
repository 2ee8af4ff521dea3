/* Minimal check harness for the C test programs under tests/.
 *
 * Every check prints one line, "PASS name" or "FAIL name: details", and is counted.
 * A test program ends with `return harness_finish();`, which prints the machine-readable
 *
 *   @@ counts P F
 *
 * line that tests/run.sh adds up, and returns the exit status (1 when any check failed or
 * when no check ran at all: a program that checks nothing has proved nothing, unless it
 * said why with harness_skip; tests/run.sh lists the skipped checks apart).
 *
 *   CHECK(cond, name_fmt, ...)             cond must be true
 *   CHECK_CLOSE(a, b, tol, name_fmt, ...)  |a - b| <= tol, both finite (compared in double)
 *   CHECK_REL(a, b, rtol, floor, name...)  |a - b| <= rtol * max(|a|, |b|, floor)
 *   check_report(ok, name, details_fmt...) a check whose details the caller words itself
 *   harness_skip(name, why_fmt, ...)       a check this machine cannot run (a CPU without
 *                                          the instructions it needs): "SKIP name: why",
 *                                          counted neither as passed nor as failed
 *
 * Cases: the counts are of test cases, not of lines. A sweep (one behaviour checked over
 * many elements, shapes or settings) is one case: between case_begin(name_fmt, ...) and
 * case_end() the checks are not counted on their own; a failing one prints its details
 * ("  in NAME: FAIL ..."), and case_end() records one PASS ("NAME (N checks)") or one FAIL.
 *
 * Files: a test writes only into its own fresh temporary folder, made on the first call of
 * tmp_dir() and removed with everything in it when the program exits (by the process that
 * made it, not by a forked child); repository files are found through repo_path, which
 * does not assume the repository root is the current folder.
 *   tmp_dir()          the folder: $TMPDIR or /tmp, ricasso-test-XXXXXX
 *   tmp_path(name)     tmp_dir()/name (a ring of 8 static buffers)
 *   repo_path(rel)     $RICASSO_ROOT/rel (tests/run.sh sets it), else rel as it is
 *   net_from_cfg_text(name, text)   parse_network_cfg of text, written to tmp_path(name)
 *
 * Error accumulators use err_max, never fmax: fmax(err, NaN) returns err, so a NaN output
 * would pass the comparison that follows.
 *   err = err_max(err, fabs(a - b));        a NaN error makes err +inf for good
 * (magnitudes used as controls, "the gradient is not trivially small", keep fmax: there a
 * NaN must not count as large.)
 */
#ifndef TESTS_HARNESS_H
#define TESTS_HARNESS_H

#include <math.h>
#include <stdarg.h>

/* Records one check; name is already formatted. Returns ok. */
int harness_record(int ok, const char *name, const char *details_fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Formats a check name from printf-style arguments into a static buffer. */
const char *harness_name(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int harness_check(int ok, const char *name, const char *file, int line, const char *expr);
int harness_close(double a, double b, double tol, const char *name, const char *file, int line,
                  const char *ea, const char *eb);
int harness_rel(double a, double b, double rtol, double floor, const char *name,
                const char *file, int line, const char *ea, const char *eb);
/* "SKIP name: why" (not a pass, not a failure). */
void harness_skip(const char *name, const char *why_fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "@@ counts P F"; returns 0 when every check passed and at least one ran, else 1. */
int harness_finish(void);
void case_begin(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int case_end(void);
const char *tmp_dir(void);
char *tmp_path(const char *name);
const char *repo_path(const char *rel);
/* The network of the cfg text, written to tmp_path(name) first (Darknet parses files only). */
struct network *net_from_cfg_text(const char *name, const char *text);
/* Counts so far (for tests that need them). */
int harness_passed(void);
int harness_failed(void);

/* Running maximum of errors in which a NaN counts as an infinite error. */
static inline double err_max(double acc, double err)
{
    return err != err ? INFINITY : (err > acc ? err : acc);
}

#define CHECK(cond, ...) \
    harness_check(!!(cond), harness_name(__VA_ARGS__), __FILE__, __LINE__, #cond)
#define CHECK_CLOSE(a, b, tol, ...) \
    harness_close((double)(a), (double)(b), (double)(tol), harness_name(__VA_ARGS__), \
                  __FILE__, __LINE__, #a, #b)
#define CHECK_REL(a, b, rtol, floor, ...) \
    harness_rel((double)(a), (double)(b), (double)(rtol), (double)(floor), \
                harness_name(__VA_ARGS__), __FILE__, __LINE__, #a, #b)
#define check_report(ok, name, ...) harness_record(!!(ok), (name), __VA_ARGS__)

#endif
