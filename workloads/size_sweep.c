/*
 * size-sweep: fixed-size allocate/free for each size of a list that covers
 * every small size class, the steps between them, and the small/large
 * boundary, up to 1 MiB. All threads do one size at a time (barriers between
 * sizes) for a fixed time, because the cost per operation varies a
 * thousandfold over the list; report() records ns/op per size.
 */
#include "common.h"

#include <stdlib.h>

/* Powers of two and the midpoints after them show how each allocator rounds; 9344 and
 * 9345 are multiheap's largest object in a 64 KiB slab and the smallest in a 128 KiB
 * one, 18704 and 18705 its largest small object and the first large one
 * (MH_SMALL_MAX_BYTES); 64 KiB and 1 MiB are past common mmap thresholds. */
static const size_t sweep_sizes[] = {
    8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072,
    4096, 6144, 8192, 9344, 9345, 12288, 16384, 18704, 18705, 32768, 65536, 1048576,
};
#define SWEEP_N (sizeof sweep_sizes / sizeof sweep_sizes[0])

typedef struct sweep {
    size_t nsizes;          /* sizes up to --max-size */
    size_t batch;
    uint64_t ns_per_size;
    wl_block *blocks;       /* [thread][batch] */
    double *ns_per_op;      /* [thread][size] */
} sweep;

static const mh_param_def sweep_params[] = {
    { "ms-per-size", MH_PARAM_INT, "40", 1, 600000, NULL,
      "milliseconds each size runs (whole batches: at least one)" },
    { "batch", MH_PARAM_INT, "64", 1, 1 << 20, NULL,
      "blocks allocated before they are freed in the same order" },
    { "max-size", MH_PARAM_INT, "1048576", 8, 1048576, NULL,
      "largest size of the list to run (the list: 8, 16, 24, 32, 48, ..., 8192, 9344, 9345, ..., 18704, 18705, 32768, 65536, 1048576)" },
    { NULL },
};

static void *sweep_setup(mh_run *run)
{
    sweep *s = wl_zalloc_lines(sizeof *s);
    if (!s)
        return NULL;
    size_t max = (size_t)mh_param_int(run, "max-size");
    while (s->nsizes < SWEEP_N && sweep_sizes[s->nsizes] <= max)
        s->nsizes++;
    s->batch = (size_t)mh_param_int(run, "batch");
    s->ns_per_size = (uint64_t)mh_param_int(run, "ms-per-size") * 1000000u;
    s->blocks = wl_blocks_new(run, "size-sweep", s->batch);
    s->ns_per_op = wl_zalloc_lines((size_t)mh_run_threads(run) * SWEEP_N * sizeof *s->ns_per_op);
    if (!s->blocks || !s->ns_per_op) {
        wl_free_lines(s->blocks);
        wl_free_lines(s->ns_per_op);
        wl_free_lines(s);
        return NULL;
    }
    return s;
}

static void sweep_thread(mh_thread *t)
{
    sweep *s = t->shared;
    const size_t batch = s->batch;   /* in locals: see workload.h */
    wl_block *b = wl_blocks_of(s->blocks, batch, t->index);
    for (size_t k = 0; k < s->nsizes; k++) {
        size_t size = sweep_sizes[k];
        uint64_t rounds = 0, t0, ns;
        mh_barrier(t);
        t0 = mh_now_ns();
        do {
            for (size_t i = 0; i < batch; i++) {
                b[i].n = size;
                b[i].p = wl_alloc(t, size);
            }
            wl_blocks_free_local(t, b, batch);
            rounds++;
        } while ((ns = mh_now_ns() - t0) < s->ns_per_size);
        s->ns_per_op[(size_t)t->index * SWEEP_N + k] = (double)ns / (2.0 * (double)rounds * (double)batch);
    }
}

static void sweep_report(mh_run *run, void *shared)
{
    sweep *s = shared;
    int threads = mh_run_threads(run);
    double sizes[SWEEP_N], mean[SWEEP_N];
    for (size_t k = 0; k < s->nsizes; k++) {
        sizes[k] = (double)sweep_sizes[k];
        mean[k] = 0;
        for (int i = 0; i < threads; i++)
            mean[k] += s->ns_per_op[(size_t)i * SWEEP_N + k] / threads;
    }
    mh_series(run, "size_bytes", sizes, s->nsizes);
    mh_series(run, "ns_per_op", mean, s->nsizes);
    wl_free_lines(s->blocks);
    wl_free_lines(s->ns_per_op);
    wl_free_lines(s);
}

const mh_workload mh_wl_size_sweep = {
    .name = "size-sweep",
    .summary = "fixed-size alloc/free for every size class and across the small/large boundary",
    .help =
        "For each size of a fixed list (8, 16, 24, 32, 48, 64, ... every power of two and the\n"
        "midpoint after it up to 4096, then 6144, 8192, 9344, 9345, 12288, 16384, 18704,\n"
        "18705, 32 KiB, 64 KiB, 1 MiB; cut at --max-size), every thread allocates --batch\n"
        "blocks of that size and frees them in order, again and again for --ms-per-size\n"
        "milliseconds. The threads start each size together. Records size_bytes and\n"
        "ns_per_op (mean over the threads) as series: the cost curve of the size classes,\n"
        "the step where small turns large (18704 -> 18705 for multiheap) and the cost of\n"
        "large blocks (mmap/munmap or cached). The analog of glibc bench-malloc-simple and\n"
        "tcmalloc's size microbenchmarks.\n"
        "A good allocator is flat across the small classes, has no cliff at its small/large\n"
        "boundary, and caches large blocks rather than mapping and unmapping each one.",
    .params = sweep_params,
    .setup = sweep_setup,
    .thread = sweep_thread,
    .report = sweep_report,
};
