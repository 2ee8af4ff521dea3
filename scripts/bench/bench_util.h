/* What the Darknet bench tools (dn_bench.c, dn_grouped.c) share: error exits, option
 * counts, clocks and the long-tailed class counts that [expert_softmax] and [cbcl] read.
 * Header-only (static inline functions): each tool is one translation unit, compiled by its
 * part-*.sh script against a build's libdarknet.a. Define BENCH_TOOL, the name errors
 * start with, before including it. */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "darknet.h"
#include "layer_registry.h"

static inline void die(const char *msg, const char *arg)
{
    fprintf(stderr, BENCH_TOOL ": error: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    exit(1);
}

/* s as a count in [lo, 1e6], else a fatal error naming opt */
static inline int parse_count(const char *s, const char *opt, int lo)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > 1000000) die("bad value for option", opt);
    return (int)v;
}

static inline double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}
static inline double now_s(void) { return clock_s(CLOCK_MONOTONIC); }
/* CPU time of all threads: divided by the wall time it shows how many cores the loop kept
   busy, so a run slowed down by other work on the machine can be told apart. */
static inline double cpu_s(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

/* Class counts of a CIFAR-10-LT-like set (imbalance 100: 5000 * 0.01^(c / (C - 1))) for
   the layers that want training statistics; nothing for a network without such layers. */
static inline void set_lt_stats(network *net)
{
    const int classes = net->truths;
    int *counts, *path_class, n = 0, c, i, k = 0;
    if (!plugin_network_wants_train_stats(net)) return;
    counts = calloc(classes, sizeof(int));
    for (c = 0; c < classes; ++c) {
        counts[c] = (int)(5000 * pow(0.01, classes > 1 ? (double)c / (classes - 1) : 0) + 0.5);
        n += counts[c];
    }
    path_class = malloc(n * sizeof(int));
    for (c = 0; c < classes; ++c)
        for (i = 0; i < counts[c]; ++i) path_class[k++] = c;
    plugin_network_set_train_stats(net, path_class, n, counts, classes);
    free(path_class);
    free(counts);
}

#endif
