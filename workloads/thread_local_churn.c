/*
 * thread-local-churn: each thread replaces random blocks in its own fixed
 * array of slots, so every free is local and the working set stays constant:
 * the allocator's fast path and nothing else. oversubscribed is the same code
 * with many more threads than CPUs by default.
 */
#include "common.h"

#include <stdlib.h>

typedef struct churn {
    wl_sizes sizes;
    size_t slots;           /* per thread */
    int64_t ops_per_thread;
    wl_block *blocks;
} churn;

static const mh_param_def churn_params[] = {
    WL_SIZE_PARAMS("uniform", "16", "512"),
    { "slots", MH_PARAM_INT, "1024", 1, 1 << 24, NULL,
      "blocks held per thread (the working set); each step replaces a random one" },
    { "ops", MH_PARAM_INT, "24000000", 1, 1e12, NULL,
      "replacements (one free + one malloc) in total, split evenly across the threads" },
    { NULL },
};

static void *churn_setup(mh_run *run, const char *name)
{
    churn *c = wl_zalloc_lines(sizeof *c);
    if (!c)
        return NULL;
    c->slots = (size_t)mh_param_int(run, "slots");
    c->ops_per_thread = mh_param_int(run, "ops") / mh_run_threads(run);
    if (c->ops_per_thread == 0)
        c->ops_per_thread = 1;
    if (!wl_sizes_from_params(&c->sizes, run, name) ||
        !(c->blocks = wl_blocks_new(run, name, c->slots))) {
        wl_free_lines(c);
        return NULL;
    }
    return c;
}

static void *thread_local_churn_setup(mh_run *run) { return churn_setup(run, "thread-local-churn"); }
static void *oversubscribed_setup(mh_run *run) { return churn_setup(run, "oversubscribed"); }

static void churn_thread(mh_thread *t)
{
    const churn *c = t->shared;
    const wl_sizes sizes = c->sizes;   /* in locals: see workload.h */
    const size_t slots = c->slots;
    const int64_t ops = c->ops_per_thread;
    wl_block *b = wl_blocks_of(c->blocks, slots, t->index);
    for (int64_t i = 0; i < ops; i++) {
        wl_block *s = &b[mh_rand(t) % slots];
        if (s->p)
            wl_free(t, s->p, s->n);
        s->n = wl_size_next(&sizes, t);
        s->p = wl_alloc(t, s->n);
    }
    wl_blocks_free_local(t, b, slots);
}

static void churn_report(mh_run *run, void *shared)
{
    churn *c = shared;
    mh_metric(run, "ops_per_thread", (double)c->ops_per_thread);
    wl_free_lines(c->blocks);
    wl_free_lines(c);
}

const mh_workload mh_wl_thread_local_churn = {
    .name = "thread-local-churn",
    .summary = "random replace in a fixed per-thread working set: the local fast path",
    .help =
        "Each thread holds `slots` blocks and repeatedly frees a random one and allocates a\n"
        "new one of a random size from the size distribution. Nothing crosses threads, so\n"
        "this measures the allocator's thread-local fast path (glibc bench-malloc-thread,\n"
        "alloc-test analog). A good allocator serves it from a per-thread or per-CPU cache\n"
        "without locks or atomics: ns/op near the harness's own cost, flat as threads grow,\n"
        "RSS close to live bytes.",
    .params = churn_params,
    .setup = thread_local_churn_setup,
    .thread = churn_thread,
    .report = churn_report,
};

const mh_workload mh_wl_oversubscribed = {
    .name = "oversubscribed",
    .summary = "thread-local churn with many more threads than CPUs (8 per CPU by default)",
    .help =
        "The thread-local-churn loop run by 8 threads per online CPU unless --threads says\n"
        "otherwise, so threads are preempted in the middle of allocator operations and\n"
        "migrate between CPUs. It stresses per-CPU designs (a preempted lock holder makes\n"
        "the next thread on that CPU wait; a cache keyed by CPU is shared by several threads)\n"
        "and per-thread designs (many caches, memory held per thread). A good allocator keeps\n"
        "the throughput of thread-local-churn, never spins on a preempted holder, and keeps\n"
        "RSS close to live bytes.",
    .params = churn_params,
    .setup = oversubscribed_setup,
    .thread = churn_thread,
    .report = churn_report,
    .default_threads_per_cpu = 8,
};
