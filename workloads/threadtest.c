/*
 * threadtest: Hoard's threadtest as Theseus ran it. The objects are split
 * across the threads; every iteration each thread allocates its share, then
 * frees it in allocation order. All frees are local.
 */
#include "common.h"

#include <stdlib.h>

typedef struct tt {
    size_t size, per_thread;
    int64_t iterations;
    wl_block *blocks;
} tt;

static const mh_param_def tt_params[] = {
    { "iterations", MH_PARAM_INT, "300", 1, 1e9, NULL,
      "allocate-all then free-all rounds (Theseus: 1000; large variant: 100)" },
    { "objects", MH_PARAM_INT, "100000", 1, 1 << 28, NULL,
      "objects in total, split evenly across the threads (Theseus: 100000; large variant: 100)" },
    { "size", MH_PARAM_INT, "8", 1, 1 << 26, NULL, "object size in bytes (Theseus: 8; large variant: 8192)" },
    { NULL },
};

static void *tt_setup(mh_run *run)
{
    tt *s = wl_zalloc_lines(sizeof *s);
    if (!s)
        return NULL;
    s->size = (size_t)mh_param_int(run, "size");
    s->iterations = mh_param_int(run, "iterations");
    s->per_thread = (size_t)mh_param_int(run, "objects") / (size_t)mh_run_threads(run);
    if (s->per_thread == 0)
        s->per_thread = 1;
    if (!(s->blocks = wl_blocks_new(run, "threadtest", s->per_thread))) {
        wl_free_lines(s);
        return NULL;
    }
    return s;
}

static void tt_thread(mh_thread *t)
{
    const tt *s = t->shared;
    const size_t size = s->size, n = s->per_thread;   /* in locals: see workload.h */
    const int64_t iterations = s->iterations;
    wl_block *b = wl_blocks_of(s->blocks, n, t->index);
    for (int64_t it = 0; it < iterations; it++) {
        for (size_t i = 0; i < n; i++) {
            b[i].n = size;
            b[i].p = wl_alloc(t, size);
        }
        wl_blocks_free_local(t, b, n);
    }
}

static void tt_report(mh_run *run, void *shared)
{
    tt *s = shared;
    mh_metric(run, "objects_per_thread", (double)s->per_thread);
    wl_free_lines(s->blocks);
    wl_free_lines(s);
}

const mh_workload mh_wl_threadtest = {
    .name = "threadtest",
    .summary = "Hoard's threadtest: each thread allocates its share of objects, frees them in order",
    .help =
        "--objects objects of --size bytes are split evenly across the threads; in each of\n"
        "--iterations iterations every thread allocates its share and then frees it in\n"
        "allocation order. Everything is thread-local, and the working set swings from zero\n"
        "to the full share each iteration, so it stresses bulk allocation and bulk free of\n"
        "one size class (page refills, pages becoming empty and full). This is the Hoard\n"
        "benchmark the Theseus evaluation used (1000 iterations, 100000 objects of 8 bytes;\n"
        "large variant --size=8192 --iterations=100 --objects=100); the default runs fewer\n"
        "iterations to finish in about a second.\n"
        "A good allocator scales linearly with threads (no shared state touched), and keeps\n"
        "empty pages of the class for the next iteration rather than returning and refetching\n"
        "them.",
    .params = tt_params,
    .setup = tt_setup,
    .thread = tt_thread,
    .report = tt_report,
};
