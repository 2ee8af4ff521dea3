/* Convolutions through oneDNN (DNNL builds): the contract of conv_accel.h.
 *
 * Darknet keeps activations as NCHW and a layer's weights as [n][c/groups][size][size], i.e.
 * oneDNN's oihw (groups == 1) or goihw. A plan holds the three convolution primitives of one
 * layer shape and batch (forward, backward data, backward weights), created once and reused;
 * a layer keeps a few plans (set_batch_network and resize_network change batch or shape).
 *
 * Memory formats. The primitives are created with the layout left to oneDNN (format "any"),
 * which picks its blocked formats (nChw8c and the like on AVX2) where it has fast kernels for
 * them. A tensor whose chosen layout differs from Darknet's goes through a reorder; results
 * that Darknet accumulates (weight_updates and net.delta: momentum keeps the former, other
 * layers may have written gradient into the latter) are always written by the primitive into
 * a scratch tensor and then ADDED by a reorder with a sum post-op, which costs no extra pass.
 * DARKNET_DNNL_FORMAT=plain in the environment asks for Darknet's own layouts instead (no
 * reorders of activations; oneDNN then uses its im2col/gemm kernels), for comparison.
 *
 * Globals. One CPU engine, one stream and the scratch tensors are shared by every layer of
 * the process: layers run one at a time, so one set of scratch buffers the size of the
 * largest request serves them all, where per-layer buffers would cost gigabytes on a deep
 * network at batch 128. They are created on first use and live until the process exits (the
 * operating system takes them back). Like the rest of Darknet's CPU path, this is not meant
 * for two networks running in two threads at once.
 *
 * A shape that oneDNN cannot take (a primitive that cannot be created) makes the functions
 * return 0 for that plan, and Darknet's im2col/gemm loops do the work. Failure to execute a
 * created primitive is fatal: by then outputs may be half written.
 *
 * DARKNET_DNNL_VERBOSE=1 prints, for each new plan, the implementation oneDNN chose.
 *
 * bf16 (net.bf16, [net] bf16=1). The primitives of a plan made for a bf16 network take
 * bf16 src and weights (forward), bf16 diff_dst and weights (backward data) and bf16 src and
 * diff_dst (backward weights); dst, diff_src and diff_weights stay f32. The input reorders
 * round Darknet's float tensors to bf16 (to nearest even) as they change layout, so the
 * conversion costs no pass of its own, and Darknet keeps its float weights (the master copy
 * that the update changes) and float gradients. Winograd (conv_winograd.c, float) is not
 * used. Only jit kernels are accepted: a plan whose bf16 primitives would be oneDNN's
 * reference ones (an implementation string with "ref" in it: correct but many times slower
 * than float) is made in float instead, with a note on stderr saying so. Whether the CPU can
 * at all (AVX512-BF16 or AMX, as oneDNN's dispatcher sees it: ONEDNN_MAX_CPU_ISA lowers what
 * it sees) is conv_accel_bf16_unsupported's answer; asking for bf16 where it says no is
 * fatal (the parser refuses the cfg before that).
 */
#ifdef DNNL

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dnnl.h>

#include "conv_accel.h"
#include "conv_winograd.h"

#define PLANS 4     /* plans kept per layer: training and test batch, a resized network */
#define SLOTS 3     /* shared scratch tensors in use at one time */

/* ---- the process's oneDNN context ---- */

static struct {
    int ready;              /* 1 when created, -1 when oneDNN could not be started */
    int plain;              /* DARKNET_DNNL_FORMAT=plain */
    int verbose;            /* DARKNET_DNNL_VERBOSE=1 */
    int winograd;           /* this CPU can run conv_winograd.c */
    int bf16;               /* 0 not checked yet, 1 jit bf16 convolutions, -1 none (bf16_why) */
    char bf16_why[400];
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    void *slot[SLOTS];
    size_t slot_size[SLOTS];
} ctx;

static void fatal(const char *what, dnnl_status_t st)
{
    fprintf(stderr, "conv_accel_dnnl: %s failed (oneDNN status %d)\n", what, (int)st);
    exit(1);
}

static int context(void)
{
    if (ctx.ready) return ctx.ready > 0;
    const char *fmt = getenv("DARKNET_DNNL_FORMAT");
    const char *verb = getenv("DARKNET_DNNL_VERBOSE");
    ctx.plain = fmt && !strcmp(fmt, "plain");
    ctx.verbose = verb && *verb && strcmp(verb, "0");
#ifdef __x86_64__
    ctx.winograd = wino_usable();
#endif
    if (dnnl_engine_create(&ctx.engine, dnnl_cpu, 0) != dnnl_success
        || dnnl_stream_create(&ctx.stream, ctx.engine, dnnl_stream_default_flags) != dnnl_success) {
        fprintf(stderr, "conv_accel_dnnl: no oneDNN CPU engine; convolutions use im2col/gemm\n");
        ctx.ready = -1;
        return 0;
    }
    ctx.ready = 1;
    return 1;
}

/* Scratch tensor i of at least `size` bytes (64-byte aligned, kept and grown as needed). */
static void *slot(int i, size_t size)
{
    if (ctx.slot_size[i] < size) {
        free(ctx.slot[i]);
        size = (size + 4095) / 4096 * 4096;
        ctx.slot[i] = aligned_alloc(64, size);
        if (!ctx.slot[i]) {
            fprintf(stderr, "conv_accel_dnnl: out of memory (%zu bytes of scratch)\n", size);
            exit(1);
        }
        ctx.slot_size[i] = size;
    }
    return ctx.slot[i];
}

/* ---- one tensor argument of a primitive ----
 *
 * The primitive sees `mem` (its own layout). When that is Darknet's layout, `mem` is bound to
 * Darknet's buffer directly and `reorder` is null. Otherwise `mem` lives in a scratch slot and
 * `reorder` copies Darknet's tensor (`user`) into it (inputs), or the primitive's result into
 * Darknet's tensor (outputs; with a sum post-op when Darknet accumulates). A tensor of
 * weights size gets its own buffer (`own`) instead of a shared slot. */
typedef struct {
    dnnl_memory_desc_t md;
    dnnl_memory_t mem, user;
    dnnl_primitive_t reorder;
    int slot;               /* scratch slot, or -1 for `own` */
    void *own;
} arg;

enum { IN, OUT, ACCUMULATE };

static void arg_free(arg *a)
{
    if (a->reorder) dnnl_primitive_destroy(a->reorder);
    if (a->user) dnnl_memory_destroy(a->user);
    if (a->mem) dnnl_memory_destroy(a->mem);
    free(a->own);
    memset(a, 0, sizeof(*a));
}

/* Sets up `a` for the layout `want` the primitive chose; `user_md` is Darknet's. Returns 0 on
   failure (a reorder oneDNN cannot do). */
static int arg_init(arg *a, const dnnl_memory_desc_t *want, const dnnl_memory_desc_t *user_md,
                    int dir, int slot_index)
{
    memset(a, 0, sizeof(*a));
    a->md = *want;
    a->slot = slot_index;
    if (dnnl_memory_create(&a->mem, want, ctx.engine, DNNL_MEMORY_NONE) != dnnl_success) return 0;
    if (dir != ACCUMULATE && dnnl_memory_desc_equal(want, user_md)) return 1;

    dnnl_primitive_attr_t attr = 0;
    dnnl_post_ops_t ops = 0;
    dnnl_primitive_desc_t pd = 0;
    int ok = dnnl_memory_create(&a->user, user_md, ctx.engine, DNNL_MEMORY_NONE) == dnnl_success
          && dnnl_primitive_attr_create(&attr) == dnnl_success;
    if (ok && dir == ACCUMULATE) {
        ok = dnnl_post_ops_create(&ops) == dnnl_success
          && dnnl_post_ops_append_sum(ops, 1.0f) == dnnl_success
          && dnnl_primitive_attr_set_post_ops(attr, ops) == dnnl_success;
    }
    if (ok) {
        ok = (dir == IN
              ? dnnl_reorder_primitive_desc_create(&pd, user_md, ctx.engine, want, ctx.engine, attr)
              : dnnl_reorder_primitive_desc_create(&pd, want, ctx.engine, user_md, ctx.engine, attr))
             == dnnl_success
          && dnnl_primitive_create(&a->reorder, pd) == dnnl_success;
    }
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (ops) dnnl_post_ops_destroy(ops);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (ok && slot_index < 0) {
        size_t size = dnnl_memory_desc_get_size(want);
        a->own = aligned_alloc(64, (size + 63) / 64 * 64);
        ok = a->own != 0 && dnnl_memory_set_data_handle(a->mem, a->own) == dnnl_success;
    }
    return ok;
}

static void run(dnnl_primitive_t p, int nargs, const dnnl_exec_arg_t *args, const char *what)
{
    dnnl_status_t st = dnnl_primitive_execute(p, ctx.stream, nargs, args);
    if (st == dnnl_success) st = dnnl_stream_wait(ctx.stream);
    if (st != dnnl_success) fatal(what, st);
}

static void bind(dnnl_memory_t m, void *ptr)
{
    dnnl_status_t st = dnnl_memory_set_data_handle(m, ptr);
    if (st != dnnl_success) fatal("binding a buffer", st);
}

/* Before the primitive runs: points `a` at Darknet's input tensor, converting it when the
   primitive wants another layout. */
static void arg_in(arg *a, float *data)
{
    if (!a->reorder) { bind(a->mem, data); return; }
    if (a->slot >= 0) bind(a->mem, slot(a->slot, dnnl_memory_desc_get_size(&a->md)));
    bind(a->user, data);
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, a->user}, {DNNL_ARG_TO, a->mem}};
    run(a->reorder, 2, args, "reorder to oneDNN's layout");
}

/* Before the primitive runs: where it writes an output bound for Darknet's tensor `data`. */
static void arg_out_prepare(arg *a, float *data)
{
    if (!a->reorder) { bind(a->mem, data); return; }
    if (a->slot >= 0) bind(a->mem, slot(a->slot, dnnl_memory_desc_get_size(&a->md)));
}

/* After the primitive ran: Darknet's tensor `data` gets (or has added) the result. */
static void arg_out_finish(arg *a, float *data)
{
    if (!a->reorder) return;
    bind(a->user, data);
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, a->mem}, {DNNL_ARG_TO, a->user}};
    run(a->reorder, 2, args, "reorder to Darknet's layout");
}

/* ---- plans ---- */

/* K_BF16: the network asked for bf16 (the plan may still be float: plan.bf16). */
enum { K_BATCH, K_C, K_H, K_W, K_N, K_SIZE, K_STRIDE, K_PAD, K_GROUPS, K_OH, K_OW, K_BF16, KEYS };

typedef struct {
    int key[KEYS];
    int state;                          /* 1 usable, -1 oneDNN cannot do this shape */
    dnnl_memory_desc_t src_md, wei_md, dst_md;  /* Darknet's layouts */
    int bf16;                           /* 1: the primitives take bf16 inputs */
    dnnl_primitive_desc_t fwd_pd;       /* kept: the hint for the backward primitives */
    dnnl_primitive_desc_t bwd_data_pd, bwd_wei_pd;  /* until plan_backward makes the primitives */
    dnnl_primitive_t fwd;
    arg f_src, f_wei, f_dst;
    int bwd_state;                      /* 0 not yet created, 1 usable, -1 failed */
    dnnl_primitive_t bwd_data, bwd_wei;
    arg d_ddst, d_wei, d_dsrc;          /* backward data */
    arg w_src, w_ddst, w_dwei;          /* backward weights */
} plan;

typedef struct {
    plan *plans[PLANS];
    int next;                           /* the plan to replace when all are taken */
    float *affine;                      /* inference: scale [n] and shift [n] of the epilogue */
    int affine_n;
} state;

static void plan_free(plan *p)
{
    if (!p) return;
    arg_free(&p->f_src); arg_free(&p->f_wei); arg_free(&p->f_dst);
    arg_free(&p->d_ddst); arg_free(&p->d_wei); arg_free(&p->d_dsrc);
    arg_free(&p->w_src); arg_free(&p->w_ddst); arg_free(&p->w_dwei);
    if (p->fwd) dnnl_primitive_destroy(p->fwd);
    if (p->bwd_data) dnnl_primitive_destroy(p->bwd_data);
    if (p->bwd_wei) dnnl_primitive_destroy(p->bwd_wei);
    if (p->fwd_pd) dnnl_primitive_desc_destroy(p->fwd_pd);
    if (p->bwd_data_pd) dnnl_primitive_desc_destroy(p->bwd_data_pd);
    if (p->bwd_wei_pd) dnnl_primitive_desc_destroy(p->bwd_wei_pd);
    free(p);
}

void *conv_accel_create(void)
{
    return calloc(1, sizeof(state));
}

void conv_accel_free(void *s)
{
    state *st = s;
    int i;
    if (!st) return;
    for (i = 0; i < PLANS; ++i) plan_free(st->plans[i]);
    free(st->affine);
    free(st);
}

static void layer_key(const layer *l, int bf16, int *key)
{
    key[K_BATCH] = l->batch; key[K_C] = l->c; key[K_H] = l->h; key[K_W] = l->w;
    key[K_N] = l->n; key[K_SIZE] = l->size; key[K_STRIDE] = l->stride; key[K_PAD] = l->pad;
    key[K_GROUPS] = l->groups; key[K_OH] = l->out_h; key[K_OW] = l->out_w; key[K_BF16] = bf16;
}

static const char *impl_of(const_dnnl_primitive_desc_t pd)
{
    const char *impl = 0;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success || !impl) return "?";
    return impl;
}

/* oneDNN's reference implementations ("ref:any", "gemm:ref"...): right, but slow. */
static int reference_impl(const_dnnl_primitive_desc_t pd)
{
    return strstr(impl_of(pd), "ref") != 0;
}

static void print_impl(const char *what, const_dnnl_primitive_desc_t pd, const plan *p)
{
    const int *k = p->key;
    if (!ctx.verbose) return;
    fprintf(stderr, "conv_accel_dnnl: %-16s %-5s %s  batch %d, %dx%dx%d -> %d filters %dx%d/%d pad %d groups %d\n",
            what, p->bf16 ? "bf16" : "f32", impl_of(pd), k[K_BATCH], k[K_C], k[K_H], k[K_W], k[K_N],
            k[K_SIZE], k[K_SIZE], k[K_STRIDE], k[K_PAD], k[K_GROUPS]);
}

static const dnnl_memory_desc_t *query(const_dnnl_primitive_desc_t pd, dnnl_query_t what)
{
    return dnnl_primitive_desc_query_md(pd, what, 0);
}

/* What a primitive is offered for a tensor whose Darknet layout is `user`: the layout left
   to oneDNN (Darknet's own with DARKNET_DNNL_FORMAT=plain), in type `dt`. */
static int offer(dnnl_memory_desc_t *md, const dnnl_memory_desc_t *user, dnnl_data_type_t dt)
{
    dnnl_dims_t dims;
    memcpy(dims, user->dims, sizeof(dims));
    return dnnl_memory_desc_init_by_tag(md, user->ndims, dims, dt,
                                        ctx.plain ? (user->ndims == 5 ? dnnl_abcde : dnnl_abcd)
                                                  : dnnl_format_tag_any) == dnnl_success;
}

/* p->fwd_pd, with bf16 or float inputs; 0 when oneDNN cannot. */
static int forward_pd(plan *p, int bf16)
{
    const int *k = p->key;
    dnnl_dims_t strides = {k[K_STRIDE], k[K_STRIDE]};
    dnnl_dims_t pad = {k[K_PAD], k[K_PAD]};
    dnnl_data_type_t in = bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_memory_desc_t src, wei, dst;
    dnnl_convolution_desc_t cd;
    dnnl_primitive_desc_t pd = 0;

    if (!offer(&src, &p->src_md, in) || !offer(&wei, &p->wei_md, in) || !offer(&dst, &p->dst_md, dnnl_f32)
        || dnnl_convolution_forward_desc_init(&cd, dnnl_forward_training, dnnl_convolution_direct,
                                              &src, &wei, NULL, &dst, strides, pad, pad) != dnnl_success
        || dnnl_primitive_desc_create(&pd, &cd, NULL, ctx.engine, NULL) != dnnl_success) return 0;
    p->fwd_pd = pd;
    return 1;
}

/* p->bwd_data_pd and p->bwd_wei_pd (p->fwd_pd is their hint); 0 when oneDNN cannot. With
   bf16: backward data makes a float diff_src (added to net.delta) from bf16 weights and
   diff_dst; backward weights a float diff_weights from bf16 src and diff_dst. */
static int backward_pds(plan *p, int bf16)
{
    const int *k = p->key;
    dnnl_dims_t strides = {k[K_STRIDE], k[K_STRIDE]};
    dnnl_dims_t pad = {k[K_PAD], k[K_PAD]};
    dnnl_data_type_t in = bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_memory_desc_t src_in, src_f, wei_in, wei_f, dst_in;
    dnnl_convolution_desc_t dd, wd;
    dnnl_primitive_desc_t dpd = 0, wpd = 0;
    int ok = offer(&src_in, &p->src_md, in) && offer(&src_f, &p->src_md, dnnl_f32)
          && offer(&wei_in, &p->wei_md, in) && offer(&wei_f, &p->wei_md, dnnl_f32)
          && offer(&dst_in, &p->dst_md, in)
          && dnnl_convolution_backward_data_desc_init(&dd, dnnl_convolution_direct, &src_f, &wei_in,
                                                      &dst_in, strides, pad, pad) == dnnl_success
          && dnnl_primitive_desc_create(&dpd, &dd, NULL, ctx.engine, p->fwd_pd) == dnnl_success
          && dnnl_convolution_backward_weights_desc_init(&wd, dnnl_convolution_direct, &src_in, &wei_f,
                                                         NULL, &dst_in, strides, pad, pad) == dnnl_success
          && dnnl_primitive_desc_create(&wpd, &wd, NULL, ctx.engine, p->fwd_pd) == dnnl_success;
    if (!ok) {
        if (dpd) dnnl_primitive_desc_destroy(dpd);
        return 0;
    }
    p->bwd_data_pd = dpd;
    p->bwd_wei_pd = wpd;
    return 1;
}

static void drop_pds(plan *p)
{
    if (p->fwd_pd) dnnl_primitive_desc_destroy(p->fwd_pd);
    if (p->bwd_data_pd) dnnl_primitive_desc_destroy(p->bwd_data_pd);
    if (p->bwd_wei_pd) dnnl_primitive_desc_destroy(p->bwd_wei_pd);
    p->fwd_pd = p->bwd_data_pd = p->bwd_wei_pd = 0;
}

/* The forward primitive of a new plan; 0 when oneDNN cannot do the shape. */
static int plan_forward(plan *p)
{
    const int *k = p->key;
    int g = k[K_GROUPS];
    dnnl_dims_t src = {k[K_BATCH], k[K_C], k[K_H], k[K_W]};
    dnnl_dims_t dst = {k[K_BATCH], k[K_N], k[K_OH], k[K_OW]};
    dnnl_dims_t wei = {k[K_N], k[K_C], k[K_SIZE], k[K_SIZE]};
    dnnl_dims_t gwei = {g, k[K_N] / g, k[K_C] / g, k[K_SIZE], k[K_SIZE]};

    /* Darknet's output size is (h + 2 pad - size) / stride + 1, rounded down; oneDNN's rule
       with symmetric padding is the same, so any rows Darknet drops it drops too. */
    if (k[K_OH] != (k[K_H] + 2 * k[K_PAD] - k[K_SIZE]) / k[K_STRIDE] + 1
        || k[K_OW] != (k[K_W] + 2 * k[K_PAD] - k[K_SIZE]) / k[K_STRIDE] + 1) return 0;
    if (g < 1 || k[K_C] % g || k[K_N] % g) return 0;

    if (dnnl_memory_desc_init_by_tag(&p->src_md, 4, src, dnnl_f32, dnnl_nchw) != dnnl_success
        || dnnl_memory_desc_init_by_tag(&p->dst_md, 4, dst, dnnl_f32, dnnl_nchw) != dnnl_success
        || (g == 1 ? dnnl_memory_desc_init_by_tag(&p->wei_md, 4, wei, dnnl_f32, dnnl_oihw)
                   : dnnl_memory_desc_init_by_tag(&p->wei_md, 5, gwei, dnnl_f32, dnnl_goihw))
           != dnnl_success) return 0;
    if (k[K_BF16]) {
        /* All three passes, so that a training plan is bf16 throughout or not at all. */
        const char *slow = 0;
        if (!forward_pd(p, 1) || !backward_pds(p, 1)) slow = "no bf16 implementation at all";
        else if (reference_impl(p->fwd_pd)) slow = impl_of(p->fwd_pd);
        else if (reference_impl(p->bwd_data_pd)) slow = impl_of(p->bwd_data_pd);
        else if (reference_impl(p->bwd_wei_pd)) slow = impl_of(p->bwd_wei_pd);
        if (slow) {
            fprintf(stderr, "conv_accel_dnnl: bf16: oneDNN has no jit kernel for the convolution of batch %d, "
                    "%dx%dx%d -> %d filters %dx%d/%d pad %d groups %d (it offers %s); this layer runs in float\n",
                    k[K_BATCH], k[K_C], k[K_H], k[K_W], k[K_N], k[K_SIZE], k[K_SIZE], k[K_STRIDE], k[K_PAD],
                    k[K_GROUPS], slow);
            drop_pds(p);
        } else {
            p->bf16 = 1;
        }
    }
    if (!p->bf16 && !forward_pd(p, 0)) return 0;
    print_impl("forward", p->fwd_pd, p);
    return dnnl_primitive_create(&p->fwd, p->fwd_pd) == dnnl_success
        && arg_init(&p->f_src, query(p->fwd_pd, dnnl_query_src_md), &p->src_md, IN, 0)
        && arg_init(&p->f_wei, query(p->fwd_pd, dnnl_query_weights_md), &p->wei_md, IN, -1)
        && arg_init(&p->f_dst, query(p->fwd_pd, dnnl_query_dst_md), &p->dst_md, OUT, 1);
}

/* The two backward primitives, on first use. */
static int plan_backward(plan *p)
{
    int ok = p->bwd_data_pd || backward_pds(p, p->bf16);
    if (ok) {
        const_dnnl_primitive_desc_t dpd = p->bwd_data_pd, wpd = p->bwd_wei_pd;
        print_impl("backward data", dpd, p);
        print_impl("backward weights", wpd, p);
        /* Slots: 0 holds diff_dst for both primitives when they want the same layout (the
           weights pass runs first and the data pass reuses it), else 2 for the data pass;
           1 holds src for the weights pass, then diff_src. */
        const dnnl_memory_desc_t *w_ddst = query(wpd, dnnl_query_diff_dst_md);
        const dnnl_memory_desc_t *d_ddst = query(dpd, dnnl_query_diff_dst_md);
        ok = dnnl_primitive_create(&p->bwd_data, dpd) == dnnl_success
          && dnnl_primitive_create(&p->bwd_wei, wpd) == dnnl_success
          && arg_init(&p->w_src, query(wpd, dnnl_query_src_md), &p->src_md, IN, 1)
          && arg_init(&p->w_ddst, w_ddst, &p->dst_md, IN, 0)
          && arg_init(&p->w_dwei, query(wpd, dnnl_query_diff_weights_md), &p->wei_md, ACCUMULATE, -1)
          && arg_init(&p->d_ddst, d_ddst, &p->dst_md, IN, dnnl_memory_desc_equal(w_ddst, d_ddst) ? 0 : 2)
          && arg_init(&p->d_wei, query(dpd, dnnl_query_weights_md), &p->wei_md, IN, -1)
          && arg_init(&p->d_dsrc, query(dpd, dnnl_query_diff_src_md), &p->src_md, ACCUMULATE, 1);
    }
    if (p->bwd_data_pd) dnnl_primitive_desc_destroy(p->bwd_data_pd);
    if (p->bwd_wei_pd) dnnl_primitive_desc_destroy(p->bwd_wei_pd);
    p->bwd_data_pd = p->bwd_wei_pd = 0;
    return ok;
}

/* The plan for this layer's current shape and batch, or 0 when oneDNN cannot do it. */
static plan *find_plan(const layer *l, int bf16)
{
    state *st = l->accel;
    int key[KEYS], i;
    if (!st || !context()) return 0;
    layer_key(l, bf16, key);
    for (i = 0; i < PLANS; ++i) {
        plan *p = st->plans[i];
        if (p && !memcmp(p->key, key, sizeof(key))) return p->state > 0 ? p : 0;
    }
    if (bf16 && conv_accel_bf16_unsupported()) {
        fprintf(stderr, "conv_accel_dnnl: bf16 convolutions were asked for, but %s\n", conv_accel_bf16_unsupported());
        exit(1);
    }
    plan *p = calloc(1, sizeof(plan));
    if (!p) return 0;
    memcpy(p->key, key, sizeof(key));
    if (plan_forward(p)) {
        p->state = 1;
    } else {
        /* Keep only the verdict: this shape runs the stock loops. */
        plan *dead = calloc(1, sizeof(plan));
        plan_free(p);
        if (!dead) return 0;
        memcpy(dead->key, key, sizeof(key));
        dead->state = -1;
        p = dead;
    }
    plan_free(st->plans[st->next]);
    st->plans[st->next] = p;
    st->next = (st->next + 1) % PLANS;
    return p->state > 0 ? p : 0;
}

/* Which passes of a 3x3 convolution with stride 1 and padding 1 (any groups) go to
   conv_winograd.c: WINO_FWD | WINO_BWD_DATA | WINO_BWD_WEIGHTS by default on AVX2 CPUs;
   on AVX-512 ones (wino_wide) the weight gradient goes there only where it takes F(4x4,
   3x3) tiles (wino_wgrad_tile), and stays with oneDNN elsewhere: oneDNN's AVX-512 kernel
   beat the F(2x2, 3x3) one, reorders included (ResNet-32 training 455 against 406 img/s,
   the RICASSO step 2140 against 2360 ms, on a 2-core Intel Xeon with AVX-512), and lost to
   the F(4x4, 3x3) one (ResNet-32 training 529 against 496 img/s, the RICASSO step 1823
   against 2109 ms, the same kind of machine, dn_bench alternated). The environment
   variable DARKNET_WINOGRAD, a number, chooses others (0: none; it is read at every call,
   so that a test can compare the paths). */
enum { WINO_FWD = 1, WINO_BWD_DATA = 2, WINO_BWD_WEIGHTS = 4 };

static int winograd(const layer *l, const network *net)
{
    const char *env;
    if (!l->accel || net->bf16 || !context() || !ctx.winograd || l->size != 3 || l->stride != 1 || l->pad != 1
        || l->groups < 1 || l->c % l->groups || l->n % l->groups || l->out_h != l->h || l->out_w != l->w) return 0;
    env = getenv("DARKNET_WINOGRAD");
    if (env && *env) return atoi(env) & 7;
    return WINO_FWD | WINO_BWD_DATA | (!wino_wide() || wino_wgrad_tile(l->w) == 4 ? WINO_BWD_WEIGHTS : 0);
}

int conv_accel_winograd_passes(const layer *l, const network *net)
{
#ifdef __x86_64__
    return winograd(l, net);
#else
    (void)l; (void)net;
    return 0;
#endif
}

/* Inference: the batch norm (rolling statistics) or the bias, and the activation, as one
   affine map per filter and a clamp, y -> act(scale y + shift), applied as the output is
   written. Returns 0 (Darknet does them) for other activations or when training. */
static int epilogue(const layer *l, const network *net, wino_epilogue *ep)
{
    state *st = l->accel;
    int k;
    if (net->train) return 0;
    switch (l->activation) {
        case LINEAR: ep->act = WINO_LINEAR; break;
        case RELU: ep->act = WINO_RELU; break;
        case LEAKY: ep->act = WINO_LEAKY; break;
        default: return 0;
    }
    if (st->affine_n != l->n) {
        float *a = realloc(st->affine, 2 * (size_t)l->n * sizeof(float));
        if (!a) return 0;
        st->affine = a;
        st->affine_n = l->n;
    }
    float *scale = st->affine, *shift = st->affine + l->n;
    for (k = 0; k < l->n; ++k) {
        if (l->batch_normalize) {
            /* (y - rolling_mean) / sqrt(rolling_variance + 1e-5) * scales + biases */
            scale[k] = l->scales[k] / sqrtf(l->rolling_variance[k] + .00001f);
            shift[k] = l->biases[k] - l->rolling_mean[k] * scale[k];
        } else {
            scale[k] = 1;
            shift[k] = l->biases[k];
        }
    }
    ep->scale = scale;
    ep->shift = shift;
    return 1;
}

/* The epilogue as a pass of its own, after a oneDNN convolution. */
static void apply_epilogue(const layer *l, const wino_epilogue *ep)
{
    int hw = l->out_h * l->out_w, bk;
    #pragma omp parallel for schedule(static)
    for (bk = 0; bk < l->batch * l->n; ++bk) {
        float *y = l->output + (size_t)bk * hw;
        float a = ep->scale[bk % l->n], b = ep->shift[bk % l->n];
        int i;
        for (i = 0; i < hw; ++i) {
            float v = y[i] * a + b;
            y[i] = ep->act == WINO_RELU ? (v > 0 ? v : 0) : ep->act == WINO_LEAKY ? (v > 0 ? v : .1f * v) : v;
        }
    }
}

int conv_accel_forward(layer l, network net)
{
    wino_epilogue ep;
    int fused = l.accel && epilogue(&l, &net, &ep);
#ifdef __x86_64__
    if (winograd(&l, &net) & WINO_FWD) {
        /* Training, writing l.x ahead of the layer's fused batch norm (darknet-patches 0076,
           0079): the batch statistics in the same pass, about the last batch's mean, and
           the layer's batch norm skips its own pass over the output for them (3). */
        if (!fused && net.train && l.batch_normalize && l.x && l.output == l.x && l.mean && l.variance) {
            double *sums = malloc(2 * (size_t)l.n * sizeof(double));
            if (!sums) {
                fprintf(stderr, "conv_accel: out of memory\n");
                exit(1);
            }
            int f0;
            /* a shift that is not a number (a diverged batch) would make every sum one */
            for (f0 = 0; f0 < l.n; ++f0) if (!isfinite(l.mean[f0])) l.mean[f0] = 0;
            if (wino_forward_stats(l.batch, l.c, l.h, l.w, l.n, l.groups, l.weights, net.input, l.output,
                                   l.mean, sums)) {
                double count = (double)l.batch * l.out_h * l.out_w;
                int f;
                for (f = 0; f < l.n; ++f) {
                    double m = sums[2 * f] / count, var = sums[2 * f + 1] / count - m * m;
                    l.mean[f] += m;
                    l.variance[f] = var > 0 ? var : 0;
                }
                free(sums);
                return 3;
            }
            free(sums);
        }
        wino_forward(l.batch, l.c, l.h, l.w, l.n, l.groups, l.weights, net.input, l.output, fused ? &ep : 0);
        return fused ? 2 : 1;
    }
#endif
    plan *p = find_plan(&l, net.bf16 != 0);
    if (!p) return 0;
    arg_in(&p->f_src, net.input);
    arg_in(&p->f_wei, l.weights);
    arg_out_prepare(&p->f_dst, l.output);
    dnnl_exec_arg_t args[3] = {
        {DNNL_ARG_SRC, p->f_src.mem}, {DNNL_ARG_WEIGHTS, p->f_wei.mem}, {DNNL_ARG_DST, p->f_dst.mem}};
    run(p->fwd, 3, args, "convolution forward");
    arg_out_finish(&p->f_dst, l.output);
    if (fused) apply_epilogue(&l, &ep);
    return fused ? 2 : 1;
}

int conv_accel_backward(layer l, network net)
{
    int wino = 0, ddst_ready = 0;
    plan *p = 0;
#ifdef __x86_64__
    wino = winograd(&l, &net);
    if (!net.delta) wino |= WINO_BWD_DATA;   /* nothing to do there */
#endif
    if ((wino & (WINO_BWD_DATA | WINO_BWD_WEIGHTS)) != (WINO_BWD_DATA | WINO_BWD_WEIGHTS)) {
        p = find_plan(&l, net.bf16 != 0);
        if (!p) return 0;
        if (!p->bwd_state) p->bwd_state = plan_backward(p) ? 1 : -1;
        if (p->bwd_state < 0) return 0;
    }

    /* Weights: weight_updates += dL/dW. */
#ifdef __x86_64__
    if (wino & WINO_BWD_WEIGHTS) {
        wino_backward_weights(l.batch, l.c, l.h, l.w, l.n, l.groups, net.input, l.delta, l.weight_updates);
    } else
#endif
    {
        arg_in(&p->w_src, net.input);
        arg_in(&p->w_ddst, l.delta);
        arg_out_prepare(&p->w_dwei, l.weight_updates);
        dnnl_exec_arg_t wargs[3] = {
            {DNNL_ARG_SRC, p->w_src.mem}, {DNNL_ARG_DIFF_DST, p->w_ddst.mem},
            {DNNL_ARG_DIFF_WEIGHTS, p->w_dwei.mem}};
        run(p->bwd_wei, 3, wargs, "convolution backward weights");
        arg_out_finish(&p->w_dwei, l.weight_updates);
        ddst_ready = p->w_ddst.reorder != 0;
    }

    if (!net.delta) return 1;
    /* Data: net.delta += dL/dinput. */
#ifdef __x86_64__
    if (wino & WINO_BWD_DATA) {
        wino_backward_data(l.batch, l.c, l.h, l.w, l.n, l.groups, l.weights, l.delta, net.delta);
        return 1;
    }
#endif
    /* diff_dst is already in slot 0 when the weights pass converted it to the same layout;
       converting it again would give the same bytes. */
    if (ddst_ready && p->d_ddst.reorder && p->d_ddst.slot == 0) {
        bind(p->d_ddst.mem, slot(0, dnnl_memory_desc_get_size(&p->d_ddst.md)));
    } else {
        arg_in(&p->d_ddst, l.delta);
    }
    arg_in(&p->d_wei, l.weights);
    arg_out_prepare(&p->d_dsrc, net.delta);
    dnnl_exec_arg_t dargs[3] = {
        {DNNL_ARG_DIFF_DST, p->d_ddst.mem}, {DNNL_ARG_WEIGHTS, p->d_wei.mem},
        {DNNL_ARG_DIFF_SRC, p->d_dsrc.mem}};
    run(p->bwd_data, 3, dargs, "convolution backward data");
    arg_out_finish(&p->d_dsrc, net.delta);
    return 1;
}

/* ---- can this CPU do bf16? ---- */

static const char *isa_name(dnnl_cpu_isa_t isa)
{
    switch (isa) {
        case dnnl_cpu_isa_sse41: return "SSE41";
        case dnnl_cpu_isa_avx: return "AVX";
        case dnnl_cpu_isa_avx2: return "AVX2";
        case dnnl_cpu_isa_avx2_vnni: return "AVX2_VNNI";
        case dnnl_cpu_isa_avx512_mic: return "AVX512_MIC";
        case dnnl_cpu_isa_avx512_mic_4ops: return "AVX512_MIC_4OPS";
        case dnnl_cpu_isa_avx512_core: return "AVX512_CORE";
        case dnnl_cpu_isa_avx512_core_vnni: return "AVX512_CORE_VNNI";
        case dnnl_cpu_isa_avx512_core_bf16: return "AVX512_CORE_BF16";
        case dnnl_cpu_isa_avx512_core_amx: return "AVX512_CORE_AMX";
        default: return "no vector extension oneDNN knows";
    }
}

/* oneDNN's dispatcher decides which kernels run: its effective instruction set must include
   AVX512_CORE_BF16 (AMX includes it), and a bf16 convolution it is offered must get a jit
   implementation. The verdict is kept for the process. */
const char *conv_accel_bf16_unsupported(void)
{
    dnnl_cpu_isa_t isa;
    const char *limit_var = "ONEDNN_MAX_CPU_ISA", *limit;
    char *why = ctx.bf16_why;
    size_t len = sizeof(ctx.bf16_why);

    if (ctx.bf16) return ctx.bf16 > 0 ? 0 : why;
    ctx.bf16 = -1;
    isa = dnnl_get_effective_cpu_isa();
    limit = getenv(limit_var);
    if (!limit || !*limit) limit = getenv(limit_var = "DNNL_MAX_CPU_ISA");
    if ((isa & dnnl_cpu_isa_avx512_core_bf16) != dnnl_cpu_isa_avx512_core_bf16) {
        snprintf(why, len, "this CPU has no bfloat16 instructions that oneDNN can use (it needs AVX512-BF16 "
                 "or AMX-BF16; the most oneDNN may use here is %s%s%s%s%s)", isa_name(isa),
                 limit && *limit ? ", limited by " : "", limit && *limit ? limit_var : "",
                 limit && *limit ? "=" : "", limit && *limit ? limit : "");
        return why;
    }
    if (!context()) {
        snprintf(why, len, "oneDNN could not start its CPU engine");
        return why;
    }
    {
        /* A probe: a ResNet-sized 3x3 convolution, as the plans will offer it. */
        plan probe;
        int ok;
        dnnl_dims_t src = {2, 16, 8, 8}, wei = {16, 16, 3, 3};
        memset(&probe, 0, sizeof(probe));
        probe.key[K_BATCH] = 2; probe.key[K_C] = 16; probe.key[K_H] = 8; probe.key[K_W] = 8;
        probe.key[K_N] = 16; probe.key[K_SIZE] = 3; probe.key[K_STRIDE] = 1; probe.key[K_PAD] = 1;
        probe.key[K_GROUPS] = 1; probe.key[K_OH] = 8; probe.key[K_OW] = 8;
        ok = dnnl_memory_desc_init_by_tag(&probe.src_md, 4, src, dnnl_f32, dnnl_nchw) == dnnl_success
          && dnnl_memory_desc_init_by_tag(&probe.dst_md, 4, src, dnnl_f32, dnnl_nchw) == dnnl_success
          && dnnl_memory_desc_init_by_tag(&probe.wei_md, 4, wei, dnnl_f32, dnnl_oihw) == dnnl_success
          && forward_pd(&probe, 1);
        if (!ok || reference_impl(probe.fwd_pd)) {
            snprintf(why, len, "oneDNN sees bfloat16 instructions (%s) but has no jit bf16 convolution for "
                     "them (it offers %s)", isa_name(isa), ok ? impl_of(probe.fwd_pd) : "none");
            drop_pds(&probe);
            return why;
        }
        drop_pds(&probe);
    }
    ctx.bf16 = 1;
    return 0;
}

#endif /* DNNL */
