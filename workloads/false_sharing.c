/*
 * false-sharing-active and false-sharing-passive: tiny blocks written in a
 * tight loop. If the allocator puts blocks of different threads in one cache
 * line, every write bounces the line between cores and the write rate drops
 * by an order of magnitude. Active: each thread allocates its own blocks
 * (does the allocator itself mix threads' blocks?). Passive: thread 0
 * allocates one block per thread, hands them out, each thread frees its
 * block and then allocates its own (does a freed block come back to the
 * thread that freed it, next to the other threads' blocks?).
 */
#include "common.h"

#include <stdlib.h>
#include <string.h>

#define FS_MAX_SIZE 256

typedef struct fs_count {
    _Alignas(64) uint64_t writes;
    uint64_t ns;
} fs_count;

typedef struct fs {
    size_t size;
    int64_t iterations, rounds;
    void **handed;          /* passive: thread 0's blocks, one per thread */
    fs_count *count;        /* per thread */
} fs;

static const mh_param_def fs_params[] = {
    { "object-size", MH_PARAM_INT, "8", 1, FS_MAX_SIZE, NULL, "bytes per block (tiny: several fit in a cache line)" },
    { "iterations", MH_PARAM_INT, "100", 1, 1e9, NULL, "blocks each thread allocates, writes and frees in turn" },
    { "rounds", MH_PARAM_INT, "200000", 1, 1e12, NULL,
      "passes over each block per iteration; a pass writes every byte once" },
    { NULL },
};

static void *fs_setup(mh_run *run)
{
    fs *s = wl_zalloc_lines(sizeof *s);
    if (!s)
        return NULL;
    size_t threads = (size_t)mh_run_threads(run);
    s->size = (size_t)mh_param_int(run, "object-size");
    s->iterations = mh_param_int(run, "iterations");
    s->rounds = mh_param_int(run, "rounds");
    s->handed = wl_zalloc_lines(threads * sizeof *s->handed);
    s->count = wl_zalloc_lines(threads * sizeof *s->count);
    if (!s->handed || !s->count) {
        wl_free_lines(s->handed);
        wl_free_lines(s->count);
        wl_free_lines(s);
        return NULL;
    }
    return s;
}

/* The point of the workload. Under --check the driver's pattern is saved and put
 * back, so the check still sees the allocator's bytes; under the null path there
 * is no block to write. */
static void fs_write(mh_thread *t, fs *s, void *block)
{
    if (!wl_objects_real(t))
        return;
    /* In locals: read from s, both were loaded again after every byte written (a store
       through p may alias them), at the state's offset in its page (see workload.h). */
    const size_t size = s->size;
    const int64_t rounds = s->rounds;
    unsigned char saved[FS_MAX_SIZE];
    volatile unsigned char *p = block;
    bool checking = t->flags & MH_T_CHECK;
    if (checking)
        memcpy(saved, block, size);
    for (int64_t r = 0; r < rounds; r++)
        for (size_t i = 0; i < size; i++)
            p[i]++;
    if (checking)
        memcpy(block, saved, size);
    s->count[t->index].writes += (uint64_t)rounds * size;
}

static void fs_churn(mh_thread *t, fs *s)
{
    const size_t size = s->size;
    const int64_t iterations = s->iterations;
    for (int64_t i = 0; i < iterations; i++) {
        void *p = wl_alloc(t, size);
        fs_write(t, s, p);
        wl_free(t, p, size);
    }
}

static void fs_active_thread(mh_thread *t)
{
    fs *s = t->shared;
    uint64_t t0 = mh_now_ns();
    fs_churn(t, s);
    s->count[t->index].ns = mh_now_ns() - t0;
}

static void fs_passive_thread(mh_thread *t)
{
    fs *s = t->shared;
    if (t->index == 0)
        for (int i = 0; i < t->nthreads; i++)
            s->handed[i] = wl_alloc(t, s->size);
    mh_barrier(t);
    uint64_t t0 = mh_now_ns();
    /* Freed unwritten, as Hoard's cache-scratch does: the handed blocks share lines, so
       writing them would false-share under every allocator and blur the contrast. */
    void *mine = s->handed[t->index];
    if (t->index == 0)
        wl_free(t, mine, s->size);
    else
        wl_free_remote(t, mine, s->size);
    fs_churn(t, s);
    s->count[t->index].ns = mh_now_ns() - t0;
}

static void fs_report(mh_run *run, void *shared)
{
    fs *s = shared;
    uint64_t writes = 0, slowest_ns = 0;
    for (int i = 0; i < mh_run_threads(run); i++) {
        writes += s->count[i].writes;
        if (s->count[i].ns > slowest_ns)
            slowest_ns = s->count[i].ns;
    }
    mh_metric(run, "writes", (double)writes);
    mh_metric(run, "writes_per_s", slowest_ns ? (double)writes * 1e9 / (double)slowest_ns : 0);
    wl_free_lines(s->handed);
    wl_free_lines(s->count);
    wl_free_lines(s);
}

#define FS_GOOD                                                                             \
    "A good allocator never gives threads blocks in one cache line (per-thread or per-CPU\n" \
    "pages; a remotely freed block goes back to its owner, not to the freeing thread's\n"  \
    "cache), so writes_per_s scales with the threads. A poor one is 10-100x slower here.\n" \
    "ops counts only allocations and frees; writes and writes_per_s (over the slowest\n"   \
    "thread's time) are in extra."

const mh_workload mh_wl_false_sharing_active = {
    .name = "false-sharing-active",
    .summary = "each thread allocates tiny blocks and writes them hard: does the allocator mix threads in a line?",
    .help =
        "Every thread --iterations times allocates one --object-size block, writes each of\n"
        "its bytes --rounds times and frees it. If the allocator hands blocks of different\n"
        "threads out of one cache line, the writes false-share. Analog of Hoard's\n"
        "cache-thrash.\n" FS_GOOD,
    .params = fs_params,
    .setup = fs_setup,
    .thread = fs_active_thread,
    .report = fs_report,
};

const mh_workload mh_wl_false_sharing_passive = {
    .name = "false-sharing-passive",
    .summary = "thread 0's tiny blocks handed out, freed and reused elsewhere: passive false sharing",
    .help =
        "Thread 0 allocates one --object-size block per thread (so they are neighbours in\n"
        "memory) and hands one to each thread. Each thread frees its block unwritten (a\n"
        "remote free except on thread 0), then --iterations times allocates a\n"
        "block, writes it and frees it. An allocator that reuses a remotely freed block for\n"
        "the freeing thread gives it the neighbour of other threads' blocks, and the writes\n"
        "false-share. Analog of Hoard's cache-scratch.\n" FS_GOOD,
    .params = fs_params,
    .setup = fs_setup,
    .thread = fs_passive_thread,
    .report = fs_report,
};
