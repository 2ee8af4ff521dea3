/* Shared part of the fuzz harnesses (tests/fuzz/fuzz_*.c).
 *
 * Darknet and our cfg readers stop on bad input with exit(1): the clear error the project
 * wants, not a finding. The harnesses are linked with -Wl,--wrap=exit,--wrap=malloc,... so
 * that, while fuzz_run is running one input:
 *   - exit() returns to fuzz_run (longjmp) instead of ending the process;
 *   - every block malloc'd, calloc'd or realloc'd by Darknet or our code and every FILE it
 *     opened is recorded, and whatever is still held when the input ends (normally or by
 *     exit) is released, so a million inputs do not exhaust memory or file descriptors;
 *   - a single request over FUZZ_MAX_ALLOC or a total over FUZZ_MAX_TOTAL is refused like
 *     an exit: issue 12 point 5 has the parser refuse oversized layers before allocating,
 *     and the harness stands in for that limit instead of spending seconds per input.
 * Crashes (signals, sanitizer reports, abort() from an assert) are left alone: those are
 * the findings.
 *
 * Built with clang -fsanitize=fuzzer by scripts/fuzz, or with gcc and fuzz_replay.c (a main
 * that runs files through the harness) by tests/tests.mk, which replays tests/fuzz/regressions.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define FUZZ_MAX_ALLOC ((size_t)4 << 20)
#define FUZZ_MAX_TOTAL ((size_t)16 << 20)

/* Once per process: makes the temporary folder of fuzz_write_file (removed at exit).
   Darknet prints a table per cfg: scripts/fuzz silences the target with -close_fd_mask=3. */
void fuzz_init(void);
/* Runs fn(arg) as one input; returns 0 if it returned, 1 if it exited or was refused. */
int fuzz_run(void (*fn)(void *), void *arg);
/* Writes data to the harness's own temporary file number slot (0..3) and returns its path. */
const char *fuzz_write_file(int slot, const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
