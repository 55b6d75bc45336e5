/*
 * cross-core-free: every thread allocates batches, frees (100 - remote)% of
 * each batch itself and sends remote% to other threads, which free them.
 * Sweeping --remote from 0 to 100 moves the same work from the local to the
 * remote free path. Blocks travel through lock-free SPSC rings, one per
 * (sender, receiver) pair the pattern uses.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CCF_MAX_BATCH 4096

typedef enum { CCF_RING, CCF_RANDOM, CCF_ALL } ccf_pattern;

typedef struct ccf {
    wl_sizes sizes;
    ccf_pattern pattern;
    int threads;
    size_t batch, remote_per_batch;
    int64_t batches;                /* per thread */
    wl_ring *rings;                 /* [sender * threads + receiver]; unused pairs stay empty */
    _Atomic int done;
    _Atomic uint64_t sent, freed_here;
} ccf;

static const mh_param_def ccf_params[] = {
    { "remote", MH_PARAM_INT, "50", 0, 100, NULL,
      "percent of each batch freed by another thread (0: all local, 100: all remote)" },
    { "pattern", MH_PARAM_CHOICE, "ring", 0, 0, "ring|random|all",
      "receiver of a remote block: ring: the next thread; random: a random other thread; "
      "all: every other thread in turn" },
    { "batch", MH_PARAM_INT, "256", 1, CCF_MAX_BATCH, NULL, "blocks allocated at once" },
    { "batches", MH_PARAM_INT, "15000", 1, 1e12, NULL, "batches per thread" },
    { "queue-depth", MH_PARAM_INT, "4096", 1, 1 << 20, NULL,
      "capacity in blocks of each sender-to-receiver ring (rounded up to a power of two)" },
    WL_SIZE_PARAMS("uniform", "16", "256"),
    { NULL },
};

static bool ccf_uses(const ccf *s, int from, int to)
{
    return from != to && (s->pattern != CCF_RING || to == (from + 1) % s->threads);
}

static void ccf_free_state(ccf *s)
{
    for (int i = 0; s->rings && i < s->threads * s->threads; i++)
        wl_ring_destroy(&s->rings[i]);
    wl_free_lines(s->rings);
    wl_free_lines(s);
}

static void *ccf_setup(mh_run *run)
{
    const char *name = "cross-core-free";
    ccf *s = wl_zalloc_lines(sizeof *s);
    if (!s)
        return NULL;
    const char *pattern = mh_param_choice(run, "pattern");
    s->pattern = !strcmp(pattern, "ring") ? CCF_RING : !strcmp(pattern, "random") ? CCF_RANDOM : CCF_ALL;
    s->threads = mh_run_threads(run);
    s->batch = (size_t)mh_param_int(run, "batch");
    /* One thread has nobody to send to: everything is freed locally (see remote_fraction). */
    s->remote_per_batch = s->threads > 1 ? s->batch * (size_t)mh_param_int(run, "remote") / 100 : 0;
    s->batches = mh_param_int(run, "batches");
    if (!wl_sizes_from_params(&s->sizes, run, name)) {
        wl_free_lines(s);
        return NULL;
    }
    size_t depth = (size_t)mh_param_int(run, "queue-depth");
    bool ok = (s->rings = wl_rings_new((size_t)s->threads * (size_t)s->threads)) != NULL;
    for (int from = 0; ok && from < s->threads; from++)
        for (int to = 0; ok && to < s->threads; to++)
            if (ccf_uses(s, from, to))
                ok = wl_ring_init(&s->rings[from * s->threads + to], depth);
    if (!ok) {
        fprintf(stderr, "%s: out of memory for the rings; lower --queue-depth or use --pattern=ring\n", name);
        ccf_free_state(s);
        return NULL;
    }
    return s;
}

/* Frees what other threads sent here; returns how many blocks. */
static size_t ccf_drain(mh_thread *t, ccf *s)
{
    wl_block got[CCF_MAX_BATCH];
    size_t total = 0;
    for (int from = 0; from < s->threads; from++) {
        if (!ccf_uses(s, from, t->index))
            continue;
        size_t n = wl_ring_pop(&s->rings[from * s->threads + t->index], got, CCF_MAX_BATCH);
        for (size_t i = 0; i < n; i++)
            wl_free_remote(t, got[i].p, got[i].n);
        total += n;
    }
    return total;
}

/* While the receiver's ring is full, free our own incoming blocks: two threads
 * sending to each other can then never wait on each other. */
static void ccf_send(mh_thread *t, ccf *s, int to, const wl_block *b, size_t n)
{
    wl_ring *r = &s->rings[t->index * s->threads + to];
    wl_backoff wait = { 0 };
    while (n) {
        size_t pushed = wl_ring_push(r, b, n);
        b += pushed;
        n -= pushed;
        if (n && !ccf_drain(t, s))
            wl_backoff_wait(&wait);
    }
}

static int ccf_receiver(mh_thread *t, const ccf *s, uint64_t k)
{
    int others = s->threads - 1;
    int step = s->pattern == CCF_RANDOM ? (int)(mh_rand(t) % (uint64_t)others) : (int)(k % (uint64_t)others);
    return (t->index + 1 + step) % s->threads;
}

static void ccf_thread(mh_thread *t)
{
    ccf *s = t->shared;
    const wl_sizes sizes = s->sizes;   /* in locals: see workload.h */
    const size_t n = s->batch, remote = s->remote_per_batch;
    wl_block batch[CCF_MAX_BATCH];
    uint64_t k = 0;
    for (int64_t round = 0; round < s->batches; round++) {
        for (size_t i = 0; i < n; i++) {
            batch[i].n = wl_size_next(&sizes, t);
            batch[i].p = wl_alloc(t, batch[i].n);
        }
        if (s->pattern == CCF_RING) {
            ccf_send(t, s, (t->index + 1) % s->threads, batch, remote);
        } else {
            for (size_t i = 0; i < remote; i++)
                ccf_send(t, s, ccf_receiver(t, s, k++), &batch[i], 1);
        }
        for (size_t i = remote; i < n; i++)
            wl_free(t, batch[i].p, batch[i].n);
        ccf_drain(t, s);
    }
    atomic_fetch_add_explicit(&s->sent, (uint64_t)s->batches * remote, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->freed_here, (uint64_t)s->batches * (n - remote),
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&s->done, 1, memory_order_release);
    wl_backoff wait = { 0 };
    for (;;) {
        /* Read "all done" before draining: an empty drain after it means nothing is left. */
        bool all_done = atomic_load_explicit(&s->done, memory_order_acquire) == s->threads;
        if (ccf_drain(t, s))
            wl_backoff_reset(&wait);
        else if (all_done)
            return;
        else
            wl_backoff_wait(&wait);
    }
}

static void ccf_report(mh_run *run, void *shared)
{
    ccf *s = shared;
    uint64_t sent = atomic_load(&s->sent), local = atomic_load(&s->freed_here);
    mh_metric(run, "remote_fraction", sent + local ? (double)sent / (double)(sent + local) : 0);
    mh_metric(run, "blocks_sent", (double)sent);
    ccf_free_state(s);
}

const mh_workload mh_wl_cross_core_free = {
    .name = "cross-core-free",
    .summary = "each thread frees remote% of its blocks on other threads (ring|random|all)",
    .help =
        "Every thread allocates --batch blocks, hands the first remote% of them to other\n"
        "threads (lock-free SPSC rings; --pattern picks the receiver) and frees the rest\n"
        "itself, then frees what others sent it. All threads allocate and free, so unlike\n"
        "producer-consumer the load is symmetric; sweeping --remote=0..100 shows how the\n"
        "cost moves from the local to the remote free path (remote_fraction reports the\n"
        "fraction achieved; with one thread it is 0). ring sends to one neighbour, random\n"
        "and all spread blocks over every other thread, so each thread's heap receives\n"
        "frees from many CPUs (contention on the owner's side).\n"
        "A good allocator's ns/op grows little with --remote: remote frees are batched or\n"
        "lock-free, and freed memory is reused by its owner rather than piling up (RSS\n"
        "flat). rptest and mimalloc-bench's sh8 are the classics.",
    .params = ccf_params,
    .setup = ccf_setup,
    .thread = ccf_thread,
    .report = ccf_report,
};
