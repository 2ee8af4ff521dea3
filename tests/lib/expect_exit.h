/* expect_exit: run a function in a forked child and check that it stops the program the
 * way Darknet's fatal errors do: a clean exit with a non-zero status (not a signal, not a
 * return), and a stderr that contains an expected message. One check per call.
 *
 * Header-only (static functions) so the test programs that need it include it without a
 * change to tests/tests.mk. The child's stdout goes to /dev/null; its stderr to a temporary
 * file in the test's tmp_dir() that the parent reads and removes. The child calls only single-threaded code, so
 * forking a process that has OpenMP or loader threads is safe here.
 */
#ifndef TESTS_EXPECT_EXIT_H
#define TESTS_EXPECT_EXIT_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

typedef void (*expect_exit_fn)(void *ctx);

/* fn(ctx) must exit with a non-zero status, printing `want` (a substring) on stderr. */
static int expect_exit(const char *name, expect_exit_fn fn, void *ctx, const char *want)
{
    char errpath[900], buf[4096] = "";
    int fd, status = 0, ok;
    ssize_t got = 0;
    pid_t pid;
    snprintf(errpath, sizeof(errpath), "%s", tmp_path("stderr-XXXXXX"));
    fd = mkstemp(errpath);
    if (fd < 0) return harness_record(0, name, "mkstemp failed");
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        close(fd);
        unlink(errpath);
        return harness_record(0, name, "fork failed");
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(fd, 2);
        if (devnull >= 0) dup2(devnull, 1);
        fn(ctx);
        fflush(stdout);
        fflush(stderr);
        _exit(0);   /* returned: no error was raised */
    }
    waitpid(pid, &status, 0);
    lseek(fd, 0, SEEK_SET);
    got = read(fd, buf, sizeof(buf) - 1);
    buf[got > 0 ? got : 0] = 0;
    close(fd);
    unlink(errpath);
    if (WIFSIGNALED(status))
        return harness_record(0, name, "killed by signal %d, expected a clean error exit", WTERMSIG(status));
    ok = WIFEXITED(status) && WEXITSTATUS(status) != 0 && strstr(buf, want) != 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return harness_record(0, name, "exit status 0, expected an error with '%s'", want);
    return harness_record(ok, name, "exit status %d, stderr lacks '%s'; it was: %.300s",
                          WEXITSTATUS(status), want, buf);
}

#endif
