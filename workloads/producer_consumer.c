/*
 * producer-consumer: producers allocate, consumers free. Every producer has a
 * lock-free single-producer/single-consumer ring to every consumer and deals
 * its batches to the consumers in turn; each consumer drains its rings from
 * all producers. So every free is a remote free of a block that another core
 * allocated moments ago.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>

enum { PC_PRODUCER, PC_CONSUMER };
#define PC_MAX_BATCH 4096

typedef struct pc {
    wl_sizes sizes;
    int producers, consumers;
    size_t batch;
    int64_t objects;
    wl_ring *rings;                 /* [producer * consumers + consumer] */
    _Atomic int producers_done;
    /* The counters the threads bump while they run, a line each: next to the fields above,
       which a producer reads after every batch, a consumer's add cost the producer a
       miss, or not, as the allocator under test placed the struct (a review: 3%). The
       struct itself is the driver's, line-aligned (wl_zalloc_lines), for every allocator
       alike. */
    _Alignas(WL_LINE) _Atomic uint64_t producer_waits; /* pushes that found the ring full */
    _Alignas(WL_LINE) _Atomic uint64_t consumer_idle;  /* polls that found every ring empty */
} pc;

static const mh_param_def pc_params[] = {
    { "producers", MH_PARAM_INT, "0", 0, 4095, NULL,
      "producer threads (the first ones; 0: half the threads); the others consume, so "
      "producers < threads" },
    { "batch", MH_PARAM_INT, "64", 1, PC_MAX_BATCH, NULL,
      "blocks a producer allocates and pushes at once (one ring publication)" },
    { "queue-depth", MH_PARAM_INT, "1024", 1, 1 << 20, NULL,
      "capacity in blocks of each producer-to-consumer ring (rounded up to a power of two)" },
    WL_SIZE_PARAMS("power-law", "16", "1024"),
    { "objects", MH_PARAM_INT, "4000000", 1, 1e12, NULL,
      "blocks produced in total, split evenly across the producers" },
    { NULL },
};

static const char *const pc_role_names[] = { "producer", "consumer", NULL };

static int pc_producers(const mh_run *run)
{
    int producers = (int)mh_param_int(run, "producers");
    if (producers == 0)
        producers = mh_run_threads(run) > 1 ? mh_run_threads(run) / 2 : 1;
    return producers;
}

static int pc_role(const mh_run *run, int index, int nthreads)
{
    (void)nthreads;
    return index < pc_producers(run) ? PC_PRODUCER : PC_CONSUMER;
}

static void pc_free_state(pc *s)
{
    for (int i = 0; s->rings && i < s->producers * s->consumers; i++)
        wl_ring_destroy(&s->rings[i]);
    wl_free_lines(s->rings);
    wl_free_lines(s);
}

static void *pc_setup(mh_run *run)
{
    const char *name = "producer-consumer";
    pc *s = wl_zalloc_lines(sizeof *s);
    if (!s)
        return NULL;
    s->producers = pc_producers(run);
    s->consumers = mh_run_threads(run) - s->producers;
    s->batch = (size_t)mh_param_int(run, "batch");
    s->objects = mh_param_int(run, "objects");
    if (s->consumers < 1) {
        fprintf(stderr, "%s: --producers=%d leaves no consumer among %d threads; "
                "use --producers below --threads\n", name, s->producers, mh_run_threads(run));
        wl_free_lines(s);
        return NULL;
    }
    if (!wl_sizes_from_params(&s->sizes, run, name)) {
        wl_free_lines(s);
        return NULL;
    }
    size_t nrings = (size_t)s->producers * (size_t)s->consumers;
    bool ok = (s->rings = wl_rings_new(nrings)) != NULL;
    for (size_t i = 0; ok && i < nrings; i++)
        ok = wl_ring_init(&s->rings[i], (size_t)mh_param_int(run, "queue-depth"));
    if (!ok) {
        fprintf(stderr, "%s: out of memory for %zu rings; lower --queue-depth\n", name, nrings);
        pc_free_state(s);
        return NULL;
    }
    return s;
}

/* Push the whole batch, waiting (spin, then yield) while the consumer catches up. */
static void pc_push_all(pc *s, wl_ring *r, const wl_block *b, size_t n)
{
    wl_backoff wait = { 0 };
    while (n) {
        size_t pushed = wl_ring_push(r, b, n);
        b += pushed;
        n -= pushed;
        if (n) {
            atomic_fetch_add_explicit(&s->producer_waits, 1, memory_order_relaxed);
            wl_backoff_wait(&wait);
        }
    }
}

static void pc_produce(mh_thread *t, pc *s)
{
    int p = t->index;
    int64_t mine = s->objects / s->producers + (p < s->objects % s->producers);
    const wl_sizes sizes = s->sizes;   /* in locals: see workload.h */
    wl_block batch[PC_MAX_BATCH];
    for (int64_t made = 0, next = 0; made < mine; next++) {
        size_t n = (size_t)(mine - made) < s->batch ? (size_t)(mine - made) : s->batch;
        for (size_t i = 0; i < n; i++) {
            batch[i].n = wl_size_next(&sizes, t);
            batch[i].p = wl_alloc(t, batch[i].n);
        }
        pc_push_all(s, &s->rings[p * s->consumers + (int)(next % s->consumers)], batch, n);
        made += (int64_t)n;
    }
    atomic_fetch_add_explicit(&s->producers_done, 1, memory_order_release);
}

static void pc_consume(mh_thread *t, pc *s)
{
    int c = t->index - s->producers;
    wl_block got[PC_MAX_BATCH];
    wl_backoff wait = { 0 };
    for (;;) {
        /* Read "all done" before draining: an empty drain after it means nothing is left. */
        bool all_done = atomic_load_explicit(&s->producers_done, memory_order_acquire) == s->producers;
        size_t total = 0;
        for (int p = 0; p < s->producers; p++) {
            size_t n = wl_ring_pop(&s->rings[p * s->consumers + c], got, s->batch);
            for (size_t i = 0; i < n; i++)
                wl_free_remote(t, got[i].p, got[i].n);
            total += n;
        }
        if (total) {
            wl_backoff_reset(&wait);
        } else if (all_done) {
            return;
        } else {
            atomic_fetch_add_explicit(&s->consumer_idle, 1, memory_order_relaxed);
            wl_backoff_wait(&wait);
        }
    }
}

static void pc_thread(mh_thread *t)
{
    if (t->role == PC_PRODUCER)
        pc_produce(t, t->shared);
    else
        pc_consume(t, t->shared);
}

static void pc_report(mh_run *run, void *shared)
{
    pc *s = shared;
    mh_metric(run, "producers", s->producers);
    mh_metric(run, "consumers", s->consumers);
    mh_metric(run, "producer_full_waits", (double)atomic_load(&s->producer_waits));
    mh_metric(run, "consumer_empty_polls", (double)atomic_load(&s->consumer_idle));
    pc_free_state(s);
}

const mh_workload mh_wl_producer_consumer = {
    .name = "producer-consumer",
    .summary = "producers allocate, consumers free through SPSC rings: remote free at full rate",
    .help =
        "The first --producers threads (default: half of them) allocate blocks in batches\n"
        "and push each batch into a bounded lock-free single-producer/single-consumer ring\n"
        "(one ring per producer and consumer pair; a producer deals its batches to the\n"
        "consumers in turn); the other threads pop and free them. Every free is a remote\n"
        "free of a block allocated on another core moments before, so it stresses the\n"
        "remote-free path, the return of memory to its owner, and cache-line transfer of\n"
        "allocator metadata. A full ring makes the producer wait (spin, then yield): the\n"
        "figures producer_full_waits and consumer_empty_polls show which side was the\n"
        "bottleneck. Sweep --producers to change the ratio.\n"
        "A good allocator frees remotely without taking the owner's lock per block (batched\n"
        "or lock-free remote free lists), so consumers keep up and RSS stays near the bytes\n"
        "in flight (at most producers * consumers * queue-depth blocks). xmalloc-test and\n"
        "snmalloc's message-passing benchmark are the classics.",
    .params = pc_params,
    .role_names = pc_role_names,
    .role = pc_role,
    .setup = pc_setup,
    .thread = pc_thread,
    .report = pc_report,
};
