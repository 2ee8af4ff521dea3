/* See fuzz_common.h. */
#define _GNU_SOURCE
#include "fuzz_common.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
FILE *__real_fopen(const char *path, const char *mode);
int __real_fclose(FILE *fp);
void __real_exit(int code) __attribute__((noreturn));

static int active;       /* 1 while fuzz_run runs an input */
static jmp_buf back;

/* Live blocks of the current input: open addressing on the pointer (TABLE_SIZE slots, a
 * deleted slot becomes TOMB), and the same pointers densely in live [n_live] so that the
 * end of an input frees them in O(n_live). slot_of [TABLE_SIZE] is each one's index in live. */
#define TABLE_BITS 16
#define TABLE_SIZE ((size_t)1 << TABLE_BITS)
#define TOMB ((void *)1)
static void **table;     /* [TABLE_SIZE] */
static size_t *dense_of; /* [TABLE_SIZE] index in live of the pointer in that slot */
static size_t *sizes;    /* [TABLE_SIZE] its size */
static void **live;      /* [TABLE_SIZE / 2] */
static size_t n_live, n_used, total;

#define MAX_FILES 64
static FILE *files[MAX_FILES];
static int n_files;

static size_t hash(const void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x & (TABLE_SIZE - 1);
}

static size_t find(const void *p)   /* slot of p, or TABLE_SIZE */
{
    size_t i = hash(p);
    while (table[i]) {
        if (table[i] == p) return i;
        i = (i + 1) & (TABLE_SIZE - 1);
    }
    return TABLE_SIZE;
}

static void refuse(void)
{
    longjmp(back, 1);
}

static void track(void *p, size_t n)
{
    size_t i;
    if (!p) return;
    /* More live blocks than the table holds comfortably (32768; the demo cfg holds under
       2000): refuse like an oversized input. The table is kept small to stay in cache. */
    if (n_live >= TABLE_SIZE / 2 || n_used >= TABLE_SIZE * 3 / 4) {
        __real_free(p);
        refuse();
    }
    i = hash(p);
    while (table[i] && table[i] != TOMB) i = (i + 1) & (TABLE_SIZE - 1);
    if (!table[i]) ++n_used;
    table[i] = p;
    sizes[i] = n;
    dense_of[i] = n_live;
    live[n_live++] = p;
    total += n;
}

static int untrack(void *p)   /* 1 if p was a block of this input */
{
    size_t i = find(p), d;
    if (i == TABLE_SIZE) return 0;
    d = dense_of[i];
    total -= sizes[i];
    table[i] = TOMB;
    live[d] = live[--n_live];
    if (d < n_live) dense_of[find(live[d])] = d;
    return 1;
}

static void check_size(size_t n)
{
    if (n > FUZZ_MAX_ALLOC || total + n > FUZZ_MAX_TOTAL) refuse();
}

void *__wrap_malloc(size_t n)
{
    void *p;
    if (!active) return __real_malloc(n);
    check_size(n);
    p = __real_malloc(n);
    track(p, n);
    return p;
}

void *__wrap_calloc(size_t n, size_t size)
{
    void *p;
    if (!active) return __real_calloc(n, size);
    if (size && n > FUZZ_MAX_ALLOC / size) refuse();
    check_size(n * size);
    p = __real_calloc(n, size);
    track(p, n * size);
    return p;
}

void *__wrap_realloc(void *p, size_t n)
{
    void *q;
    int mine;
    if (!active) return __real_realloc(p, n);
    check_size(n);
    mine = p && untrack(p);
    q = __real_realloc(p, n);
    if (q) track(q, n);
    else if (mine) track(p, 0);   /* realloc failed: p is still held */
    return q;
}

void __wrap_free(void *p)
{
    if (active && p) untrack(p);
    __real_free(p);
}

FILE *__wrap_fopen(const char *path, const char *mode)
{
    FILE *fp = __real_fopen(path, mode);
    if (active && fp) {
        if (n_files == MAX_FILES) {
            __real_fclose(fp);
            refuse();
        }
        files[n_files++] = fp;
    }
    return fp;
}

int __wrap_fclose(FILE *fp)
{
    int i;
    for (i = 0; i < n_files; ++i)
        if (files[i] == fp) {
            files[i] = files[--n_files];
            break;
        }
    return __real_fclose(fp);
}

void __wrap_exit(int code)
{
    if (active) longjmp(back, 1);
    __real_exit(code);
}

static char tmpdir[256];

static void remove_tmpdir(void)
{
    int i;
    char path[300];
    for (i = 0; i < 4; ++i) {
        snprintf(path, sizeof(path), "%s/in%d", tmpdir, i);
        unlink(path);
    }
    rmdir(tmpdir);
}

void fuzz_init(void)
{
    static int done;
    const char *t = getenv("TMPDIR");
    if (done) return;
    done = 1;
    table = __real_calloc(TABLE_SIZE, sizeof(void *));
    dense_of = __real_calloc(TABLE_SIZE, sizeof(size_t));
    sizes = __real_calloc(TABLE_SIZE, sizeof(size_t));
    live = __real_calloc(TABLE_SIZE / 2, sizeof(void *));
    if (!table || !dense_of || !sizes || !live) abort();
    snprintf(tmpdir, sizeof(tmpdir), "%s/ricasso-fuzz.%d", t && *t ? t : "/tmp", (int)getpid());
    if (mkdir(tmpdir, 0700) != 0) abort();
    atexit(remove_tmpdir);
}

int fuzz_run(void (*fn)(void *), void *arg)
{
    volatile int exited = 0;
    size_t i;
    fuzz_init();
    active = 1;
    if (setjmp(back) == 0) fn(arg);
    else exited = 1;
    active = 0;
    for (i = 0; i < n_live; ++i) {
        table[find(live[i])] = TOMB;
        __real_free(live[i]);
    }
    n_live = 0;
    total = 0;
    while (n_files > 0) __real_fclose(files[--n_files]);
    /* Deleted slots only lengthen probes: start clean when a quarter of the table is used. */
    if (n_used > TABLE_SIZE / 4) {
        memset(table, 0, TABLE_SIZE * sizeof(void *));
        n_used = 0;
    }
    return exited;
}

const char *fuzz_write_file(int slot, const uint8_t *data, size_t size)
{
    static char path[4][300];
    FILE *fp;
    snprintf(path[slot], sizeof(path[slot]), "%s/in%d", tmpdir, slot);
    fp = __real_fopen(path[slot], "wb");
    if (!fp) abort();
    if (size && fwrite(data, 1, size, fp) != size) abort();
    __real_fclose(fp);
    return path[slot];
}
