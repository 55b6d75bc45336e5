/*
 * larson: a server simulation. Each worker owns an array of blocks that a
 * chain of short-lived threads works on: every generation replaces random
 * blocks, then ends, and the next thread (mh_run_child) inherits the array, so
 * it frees blocks that a thread which no longer exists allocated.
 */
#include "common.h"

#include <stdlib.h>

typedef struct larson_block {
    wl_block b;
    int gen;                /* generation (thread) that allocated it */
} larson_block;

typedef struct larson {
    wl_sizes sizes;
    size_t slots;
    int generations;
    int64_t replacements;   /* per generation */
    larson_block *blocks;   /* per thread: slots */
} larson;

typedef struct larson_gen {
    larson *s;
    larson_block *b;
    int gen;
} larson_gen;

static const mh_param_def larson_params[] = {
    WL_SIZE_PARAMS("uniform", "8", "1000"),
    { "slots", MH_PARAM_INT, "5000", 1, 1 << 24, NULL, "blocks in each worker's array" },
    { "generations", MH_PARAM_INT, "30", 0, 1000000, NULL,
      "successor threads per worker, one after another, each inheriting the array" },
    { "replacements", MH_PARAM_INT, "300000", 1, 1e12, NULL,
      "random block replacements (free + malloc) per generation" },
    { NULL },
};

static void *larson_setup(mh_run *run)
{
    larson *s = wl_zalloc_lines(sizeof *s);
    if (!s)
        return NULL;
    s->slots = (size_t)mh_param_int(run, "slots");
    s->generations = (int)mh_param_int(run, "generations");
    s->replacements = mh_param_int(run, "replacements");
    if (!wl_sizes_from_params(&s->sizes, run, "larson") ||
        !(s->blocks = wl_per_thread_new(run, "larson", s->slots, sizeof *s->blocks))) {
        wl_free_lines(s->blocks);
        wl_free_lines(s);
        return NULL;
    }
    return s;
}

/* A block from an earlier generation was allocated by a thread that has ended: a remote free. */
static void larson_release(mh_thread *t, larson_block *x, int gen)
{
    if (x->gen == gen)
        wl_free(t, x->b.p, x->b.n);
    else
        wl_free_remote(t, x->b.p, x->b.n);
    x->b.p = NULL;
}

static void larson_alloc(mh_thread *t, const wl_sizes *sizes, larson_block *x, int gen)
{
    x->b.n = wl_size_next(sizes, t);
    x->b.p = wl_alloc(t, x->b.n);
    x->gen = gen;
}

static void larson_generation(mh_thread *t, void *arg)
{
    const larson_gen *g = arg;
    const wl_sizes sizes = g->s->sizes;   /* in locals: see workload.h */
    const size_t slots = g->s->slots;
    const int64_t replacements = g->s->replacements;
    const int gen = g->gen;
    larson_block *b = g->b;
    for (int64_t i = 0; i < replacements; i++) {
        larson_block *x = &b[mh_rand(t) % slots];
        larson_release(t, x, gen);
        larson_alloc(t, &sizes, x, gen);
    }
}

static void larson_thread(mh_thread *t)
{
    larson *s = t->shared;
    larson_gen g = { s, wl_per_thread_of(s->blocks, s->slots, sizeof *s->blocks, t->index), 0 };
    for (size_t i = 0; i < s->slots; i++)
        larson_alloc(t, &s->sizes, &g.b[i], 0);
    for (g.gen = 1; g.gen <= s->generations; g.gen++)
        mh_run_child(t, larson_generation, &g);
    /* The worker is generation 0: whatever later generations left is theirs. */
    for (size_t i = 0; i < s->slots; i++)
        larson_release(t, &g.b[i], 0);
}

static void larson_report(mh_run *run, void *shared)
{
    larson *s = shared;
    mh_metric(run, "threads_started", (double)mh_run_threads(run) * (1 + s->generations));
    wl_free_lines(s->blocks);
    wl_free_lines(s);
}

const mh_workload mh_wl_larson = {
    .name = "larson",
    .summary = "server simulation: short-lived threads inherit and free their predecessors' blocks",
    .help =
        "Each worker thread fills an array of --slots blocks, then a chain of --generations\n"
        "successor threads (one at a time per worker, started through the driver so they are\n"
        "placed and counted like the worker) each do --replacements random replacements\n"
        "(free a random slot, allocate a new random size) and end. A successor first frees\n"
        "blocks its predecessor allocated (remote frees to a thread that no longer exists),\n"
        "then increasingly its own. It stresses thread start and exit in the allocator\n"
        "(per-thread caches created, abandoned, adopted), freeing into an abandoned heap, and\n"
        "the mixed local/remote steady state of a server. Analog of Larson and Krishnan's\n"
        "larson benchmark (5000 slots per thread, 8-1000 bytes).\n"
        "A good allocator hands an ended thread's memory to the next thread instead of\n"
        "leaking it (RSS flat across generations), makes thread start cheap, and keeps\n"
        "the replacement rate close to thread-local-churn.",
    .params = larson_params,
    .setup = larson_setup,
    .thread = larson_thread,
    .report = larson_report,
};
