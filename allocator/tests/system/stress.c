/*
 * Multithreaded stress test of the mh_* API: random sizes (mostly small, some large,
 * a few over-aligned), every block patterned and checked before it is freed, a good
 * share of blocks freed by another thread, reallocs that must keep their contents.
 * With --stats-reader a thread reads the statistics all along (what TSan watches);
 * with --migrate N each thread moves to another CPU every N operations; with --signals
 * USEC every worker takes a signal every USEC microseconds, so that some land inside
 * the front cache's restartable sequences and restart them (cache.h).
 * It calls mh_* directly so it runs the same against every library variant, with or
 * without the malloc overrides.
 */
#define _GNU_SOURCE
#include "multiheap.h"
#include "systest.h"

#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LIVE_SLOTS 512      /* blocks a thread keeps live at once */
#define INBOX_SLOTS 256     /* blocks waiting to be freed by a thread */
#define DRAIN_EVERY 32      /* operations between two looks at the inbox */

typedef struct options {
    unsigned threads;
    uint64_t ops;           /* operations per thread and round */
    unsigned rounds;        /* generations of threads; live blocks pass to the next one */
    uint64_t seed;
    unsigned cpus;          /* 0: keep the inherited affinity */
    uint64_t migrate;       /* 0: stay; else hop to another CPU every migrate operations */
    uint64_t signal_us;     /* 0: none; else signal every worker every signal_us microseconds */
    size_t max_large;
    bool stats_reader;
    const char *expect_options;     /* --expect-options: mh_options() must contain it */
} options;

typedef struct block { void *p; size_t size; } block;

/* Blocks other threads hand over for this thread to check and free. */
typedef struct inbox {
    pthread_mutex_t lock;
    unsigned count;
    block slot[INBOX_SLOTS];
} inbox;

typedef struct tally { uint64_t allocs, frees, reallocs, handed, received; } tally;

typedef struct worker {
    struct stress *run;
    unsigned index;
    pthread_t thread;
    st_rng rng;
    tally done;
    block live[LIVE_SLOTS];
    inbox in;
} __attribute__((aligned(64))) worker;

typedef struct stress {
    options opt;
    cpu_set_t allowed;      /* the CPUs --migrate hops between */
    worker *workers;
    pthread_barrier_t all_done_handing;
    bool last_round;
    atomic_bool stop_reader;
    atomic_uint working;    /* workers of this round still in their operations */
} stress;

static atomic_uint_fast64_t signals_taken;

/* ---- sizes and allocation ---- */

/* Mostly small, some medium around the largest small class, a few large. */
static size_t random_size(st_rng *r, size_t max_large)
{
    uint64_t pick = st_rng_below(r, 1000);
    if (pick < 800) return st_rng_range(r, 1, 256);
    if (pick < 970) return st_rng_range(r, 257, 9000);
    if (pick < 997 || max_large <= 65536) return st_rng_range(r, 9001, 65536);
    return st_rng_range(r, 65537, max_large);
}

static bool is_aligned(const void *p, size_t alignment)
{
    return ((uintptr_t)p & (alignment - 1)) == 0;
}

/* Over-aligned: 16 B to 2 MiB, through each of the three aligned entry points. */
static void *allocate_aligned(st_rng *r, size_t size)
{
    size_t alignment = (size_t)1 << st_rng_range(r, 4, 21);
    void *p = NULL;
    switch (st_rng_below(r, 3)) {
    case 0:
        p = mh_aligned_alloc(alignment, (size + alignment - 1) & ~(alignment - 1));
        break;
    case 1: {
        int err = mh_posix_memalign(&p, alignment, size);
        if (err) st_fail("mh_posix_memalign(%zu, %zu) failed: %s", alignment, size, strerror(err));
        break;
    }
    default:
        p = mh_memalign(alignment, size);
    }
    if (p && !is_aligned(p, alignment))
        st_fail("aligned allocation of %zu bytes at %zu: got %p", size, alignment, p);
    return p;
}

static void *zeroed_allocation(size_t size)
{
    unsigned char *p = mh_calloc(1, size);
    if (!p) return NULL;
    for (size_t i = 0; i < size; i++)
        if (p[i]) st_fail("mh_calloc(1, %zu) = %p: byte %zu is 0x%02x, not 0", size, (void *)p, i, p[i]);
    return p;
}

static void allocate_into(worker *w, block *b)
{
    size_t size = random_size(&w->rng, w->run->opt.max_large);
    uint64_t how = st_rng_below(&w->rng, 100);
    const char *call = how == 0 ? "an aligned allocation" : how < 4 ? "mh_calloc" : "mh_malloc";
    void *p = how == 0 ? allocate_aligned(&w->rng, size)
            : how < 4 ? zeroed_allocation(size)
            : mh_malloc(size);
    if (!p) st_fail("thread %u: %s of %zu bytes returned NULL", w->index, call, size);
    if (mh_malloc_usable_size(p) < size)
        st_fail("%s of %zu bytes returned %p, whose mh_malloc_usable_size is only %zu",
                call, size, p, mh_malloc_usable_size(p));
    st_fill(p, size);
    *b = (block){p, size};
    w->done.allocs++;
}

static void check_and_free(worker *w, block *b, const char *what)
{
    st_check(b->p, b->size, what);
    mh_free(b->p);
    b->p = NULL;
    w->done.frees++;
}

/* The old contents must survive up to the smaller size, wherever the block went. */
static void reallocate(worker *w, block *b)
{
    size_t size = random_size(&w->rng, w->run->opt.max_large);
    uint64_t old_seed = st_pattern_seed(b->p, b->size);
    st_check(b->p, b->size, "before mh_realloc");
    void *p = mh_realloc(b->p, size);
    if (!p) st_fail("mh_realloc(%p, %zu) returned NULL", b->p, size);
    st_pattern_check(p, size < b->size ? size : b->size, old_seed, "contents kept by mh_realloc");
    st_fill(p, size);
    *b = (block){p, size};
    w->done.reallocs++;
}

/* ---- handing blocks to other threads ---- */

static bool hand_over(worker *to, block b)
{
    bool taken = false;
    pthread_mutex_lock(&to->in.lock);
    if (to->in.count < INBOX_SLOTS) {
        to->in.slot[to->in.count++] = b;
        taken = true;
    }
    pthread_mutex_unlock(&to->in.lock);
    return taken;
}

/* Free everything others handed to us; the checks run outside the inbox lock. */
static void drain_inbox(worker *w)
{
    block got[INBOX_SLOTS];
    pthread_mutex_lock(&w->in.lock);
    unsigned n = w->in.count;
    memcpy(got, w->in.slot, n * sizeof got[0]);
    w->in.count = 0;
    pthread_mutex_unlock(&w->in.lock);
    for (unsigned i = 0; i < n; i++)
        check_and_free(w, &got[i], "block freed by another thread");
    w->done.received += n;
}

static void retire(worker *w, block *b)
{
    unsigned threads = w->run->opt.threads;
    uint64_t how = st_rng_below(&w->rng, 10);
    if (how < 4 && threads > 1) {
        unsigned to = (w->index + 1 + (unsigned)st_rng_below(&w->rng, threads - 1)) % threads;
        if (hand_over(&w->run->workers[to], *b)) {
            b->p = NULL;
            w->done.handed++;
            return;
        }
    }
    if (how >= 8) reallocate(w, b);
    else check_and_free(w, b, "block freed by its allocating thread");
}

/* --migrate: pins the thread to the next CPU it may use, so that its fast paths find
   it bound to the CPU's cache it left (cache.h) again and again. */
static void hop(worker *w, uint64_t op)
{
    const cpu_set_t *allowed = &w->run->allowed;
    unsigned k = (unsigned)((op / w->run->opt.migrate + w->index) % (uint64_t)CPU_COUNT(allowed));
    for (unsigned cpu = 0; cpu < CPU_SETSIZE; cpu++)
        if (CPU_ISSET(cpu, allowed) && k-- == 0) {
            cpu_set_t one;
            CPU_ZERO(&one);
            CPU_SET(cpu, &one);
            if (sched_setaffinity(0, sizeof one, &one) != 0) st_fail("sched_setaffinity failed");
            return;
        }
}

static void *work(void *arg)
{
    worker *w = arg;
    for (uint64_t op = 0; op < w->run->opt.ops; op++) {
        if (w->run->opt.migrate && op % w->run->opt.migrate == 0) hop(w, op);
        block *b = &w->live[st_rng_below(&w->rng, LIVE_SLOTS)];
        if (b->p) retire(w, b);
        else allocate_into(w, b);
        if (op % DRAIN_EVERY == 0) drain_inbox(w);
    }
    if (w->run->last_round)
        for (unsigned i = 0; i < LIVE_SLOTS; i++)
            if (w->live[i].p) check_and_free(w, &w->live[i], "block freed at the end");
    atomic_fetch_sub(&w->run->working, 1);
    pthread_barrier_wait(&w->run->all_done_handing);
    drain_inbox(w);
    return NULL;
}

/* ---- --signals ---- */

/* Async-signal-safe: a lock-free atomic. The allocator is not called here, since a
   signal may land while the worker holds one of its locks. */
static void on_signal(int sig)
{
    (void)sig;
    atomic_fetch_add_explicit(&signals_taken, 1, memory_order_relaxed);
}

/* Signals every worker of the round until all have finished their operations (before
   any is joined, so that every thread id stays valid). */
static void *send_signals(void *arg)
{
    stress *run = arg;
    while (atomic_load(&run->working) > 0) {
        for (unsigned i = 0; i < run->opt.threads; i++) pthread_kill(run->workers[i].thread, SIGUSR1);
        usleep((useconds_t)run->opt.signal_us);
    }
    return NULL;
}

/* ---- statistics ---- */

static const char *expected_policy(void)
{
    const char *key = getenv("MULTIHEAP_KEY");
    return key && *key ? key : "cpu";
}

/* Read everything the API offers, concurrently with the workers; counters never go back. */
static void *read_stats(void *arg)
{
    stress *run = arg;
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (devnull < 0) st_fail("cannot open /dev/null");
    uint64_t last_allocs = 0, last_frees = 0, reads = 0;
    while (!atomic_load(&run->stop_reader)) {
        mh_stats s;
        if (mh_stats_get(&s) != 0) st_fail("mh_stats_get failed after the first allocation");
        if (s.allocs < last_allocs || s.frees < last_frees)
            st_fail("statistics went back: allocs %" PRIu64 " -> %" PRIu64 ", frees %" PRIu64 " -> %" PRIu64,
                    last_allocs, s.allocs, last_frees, s.frees);
        last_allocs = s.allocs;
        last_frees = s.frees;
        for (unsigned h = 0; h < s.nheaps; h++) {
            mh_heap_stats hs;
            if (mh_heap_stats_get(h, &hs) != 0) st_fail("mh_heap_stats_get(%u) failed, nheaps %u", h, s.nheaps);
            for (unsigned cpu = 0; cpu < s.ncpus; cpu++)
                (void)mh_remote_frees(cpu, h);
        }
        if (++reads % 64 == 0) mh_stats_print(devnull);
        sched_yield();
    }
    close(devnull);
    return NULL;
}

static mh_stats stats_now(void)
{
    mh_stats s;
    if (mh_stats_get(&s) != 0) st_fail("mh_stats_get failed after the first allocation");
    return s;
}

/* The heaps' counters summed, every class checked to be consistent. */
static mh_stats sum_of_heaps(unsigned nheaps)
{
    mh_stats sum = {0};
    for (unsigned h = 0; h < nheaps; h++) {
        mh_heap_stats hs;
        if (mh_heap_stats_get(h, &hs) != 0) st_fail("mh_heap_stats_get(%u) failed, nheaps %u", h, nheaps);
        sum.allocs += hs.allocs;
        sum.frees += hs.frees;
        sum.remote_frees += hs.remote_frees;
        if (hs.nclasses > MH_MAX_CLASSES) st_fail("heap %u: nclasses %u > MH_MAX_CLASSES", h, hs.nclasses);
        for (unsigned c = 0; c < hs.nclasses; c++) {
            const mh_class_stats *cs = &hs.cls[c];
            if (cs->pages_empty + cs->pages_full > cs->pages_owned)
                st_fail("heap %u class %u: %" PRIu64 " empty + %" PRIu64 " full pages > %" PRIu64 " owned",
                        h, cs->object_size, cs->pages_empty, cs->pages_full, cs->pages_owned);
        }
    }
    mh_heap_stats beyond;
    if (mh_heap_stats_get(nheaps, &beyond) != -1)
        st_fail("mh_heap_stats_get(%u) succeeded for a heap out of range", nheaps);
    return sum;
}

static bool same_counts(const mh_stats *a, const mh_stats *b)
{
    return a->allocs == b->allocs && a->frees == b->frees && a->remote_frees == b->remote_frees;
}

/* The threads are done: the heaps must add up to the totals. The purger may still drain
   a quiet CPU's cache, which counts the remote frees it finds there (1 run in 292 of the
   soak read the totals and the heaps either side of a drain): compare a sum of the
   heaps with totals read before and after it that agree. */
static void check_heaps_add_up(void)
{
    for (int tries = 0; tries < 100; tries++) {
        mh_stats before = stats_now(), sum = sum_of_heaps(before.nheaps), after = stats_now();
        if (!same_counts(&before, &after))
            continue;
        if (!same_counts(&sum, &after))
            st_fail("heap statistics do not add up: allocs %" PRIu64 "/%" PRIu64 ", frees %" PRIu64 "/%" PRIu64
                    ", remote frees %" PRIu64 "/%" PRIu64 " (sum of heaps/total)",
                    sum.allocs, after.allocs, sum.frees, after.frees, sum.remote_frees, after.remote_frees);
        return;
    }
    st_fail("the statistics kept moving after the threads were done (100 reads)");
}

static void check_final_stats(const mh_stats *before, const mh_stats *after, const tally *t)
{
    if (strcmp(after->key_policy, expected_policy()) != 0)
        st_fail("key policy is '%s', MULTIHEAP_KEY asked for '%s'", after->key_policy, expected_policy());
    uint64_t allocs = after->allocs + after->large_allocs - before->allocs - before->large_allocs;
    uint64_t frees = after->frees + after->large_frees - before->frees - before->large_frees;
    if (allocs < t->allocs || frees < t->frees)
        st_fail("statistics count %" PRIu64 " allocations and %" PRIu64 " frees, the threads made %" PRIu64
                " and %" PRIu64, allocs, frees, t->allocs, t->frees);
    if (after->large_live != before->large_live || after->large_live_bytes != before->large_live_bytes)
        st_fail("large blocks live: %" PRIu64 " (%" PRIu64 " bytes) before, %" PRIu64 " (%" PRIu64
                " bytes) after every block was freed", before->large_live, before->large_live_bytes,
                after->large_live, after->large_live_bytes);
    check_heaps_add_up();
}

/* ---- the run ---- */

static void confine_to_cpus(unsigned cpus)
{
    cpu_set_t allowed, chosen;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) st_fail("sched_getaffinity failed");
    CPU_ZERO(&chosen);
    for (unsigned cpu = 0, n = 0; cpu < CPU_SETSIZE && n < cpus; cpu++)
        if (CPU_ISSET(cpu, &allowed)) { CPU_SET(cpu, &chosen); n++; }
    if (sched_setaffinity(0, sizeof chosen, &chosen) != 0) st_fail("sched_setaffinity failed");
}

static tally run_workers(stress *run)
{
    unsigned n = run->opt.threads;
    tally total = {0};
    pthread_barrier_init(&run->all_done_handing, NULL, n);
    /* Every inbox is ready before any thread can hand a block to it. */
    for (unsigned i = 0; i < n; i++) {
        worker *w = &run->workers[i];
        w->run = run;
        w->index = i;
        w->rng.state = run->opt.seed * 1000003 + i;
        pthread_mutex_init(&w->in.lock, NULL);
    }
    /* Each round's threads are new: they free blocks allocated by threads that exited
       (whose heaps the thread key recycles). */
    for (unsigned round = 0; round < run->opt.rounds; round++) {
        run->last_round = round + 1 == run->opt.rounds;
        atomic_store(&run->working, n);
        for (unsigned i = 0; i < n; i++)
            if (pthread_create(&run->workers[i].thread, NULL, work, &run->workers[i]) != 0)
                st_fail("pthread_create failed");
        if (run->opt.signal_us) {
            pthread_t signaller;
            if (pthread_create(&signaller, NULL, send_signals, run) != 0) st_fail("pthread_create failed");
            pthread_join(signaller, NULL);
        }
        for (unsigned i = 0; i < n; i++)
            pthread_join(run->workers[i].thread, NULL);
    }
    for (unsigned i = 0; i < n; i++) {
        worker *w = &run->workers[i];
        pthread_mutex_destroy(&w->in.lock);
        total.allocs += w->done.allocs;
        total.frees += w->done.frees;
        total.reallocs += w->done.reallocs;
        total.handed += w->done.handed;
        total.received += w->done.received;
    }
    pthread_barrier_destroy(&run->all_done_handing);
    return total;
}

static options parse_options(int argc, char **argv)
{
    options o = {.threads = 6, .ops = 100000, .rounds = 1, .seed = 1, .max_large = 4 << 20};
    static const struct option longs[] = {
        {"threads", required_argument, 0, 't'}, {"ops", required_argument, 0, 'o'},
        {"seed", required_argument, 0, 's'},    {"cpus", required_argument, 0, 'c'},
        {"max-large", required_argument, 0, 'l'}, {"stats-reader", no_argument, 0, 'r'},
        {"rounds", required_argument, 0, 'n'}, {"expect-options", required_argument, 0, 'e'},
        {"migrate", required_argument, 0, 'm'}, {"signals", required_argument, 0, 'g'},
        {0, 0, 0, 0}};
    int c;
    opterr = 0;     /* our own one-line message instead of getopt's */
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 't': o.threads = st_parse_count("--threads", optarg, 1, 256); break;
        case 'o': o.ops = st_parse_count("--ops", optarg, 1, UINT64_MAX / 2); break;
        case 's': o.seed = st_parse_count("--seed", optarg, 0, UINT64_MAX / 2); break;
        case 'c': o.cpus = st_parse_count("--cpus", optarg, 1, CPU_SETSIZE); break;
        case 'l': o.max_large = st_parse_count("--max-large", optarg, 65537, 1 << 30); break;
        case 'r': o.stats_reader = true; break;
        case 'n': o.rounds = st_parse_count("--rounds", optarg, 1, 100000); break;
        case 'e': o.expect_options = optarg; break;
        case 'm': o.migrate = st_parse_count("--migrate", optarg, 1, UINT64_MAX / 2); break;
        case 'g': o.signal_us = st_parse_count("--signals", optarg, 1, 1000000); break;
        default:
            st_usage_error("bad option '%s'; usage: stress [--threads N] [--ops N] [--rounds N] [--seed N] [--cpus N] "
                           "[--max-large BYTES] [--stats-reader] [--expect-options TEXT] [--migrate N] "
                           "[--signals USEC]", argv[optind - 1]);
        }
    }
    if (optind < argc) st_usage_error("unexpected argument '%s'; see the options in stress.c", argv[optind]);
    return o;
}

int main(int argc, char **argv)
{
    st_init(argv[0]);
    stress run = {.opt = parse_options(argc, argv)};
    if (run.opt.cpus) confine_to_cpus(run.opt.cpus);
    if (sched_getaffinity(0, sizeof run.allowed, &run.allowed) != 0) st_fail("sched_getaffinity failed");

    struct sigaction on_usr1 = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
    if (run.opt.signal_us && sigaction(SIGUSR1, &on_usr1, NULL) != 0) st_fail("sigaction failed");
    mh_free(mh_malloc(1));      /* the statistics exist from the first allocation on */
    /* The run-time options under test (front cache, seed design, no rseq) took effect. */
    if (run.opt.expect_options && !strstr(mh_options(), run.opt.expect_options))
        st_fail("options are '%s', expected them to contain '%s'", mh_options(), run.opt.expect_options);
    mh_stats before = stats_now();
    run.workers = mh_aligned_alloc(64, run.opt.threads * sizeof(worker));
    if (!run.workers) st_fail("cannot allocate the workers");
    memset(run.workers, 0, run.opt.threads * sizeof(worker));

    pthread_t reader;
    if (run.opt.stats_reader && pthread_create(&reader, NULL, read_stats, &run) != 0)
        st_fail("pthread_create failed");
    tally t = run_workers(&run);
    if (run.opt.stats_reader) {
        atomic_store(&run.stop_reader, true);
        pthread_join(reader, NULL);
    }
    mh_free(run.workers);
    t.frees++;

    if (t.received != t.handed) st_fail("%" PRIu64 " blocks handed over, %" PRIu64 " freed by the receivers", t.handed, t.received);
    if (run.opt.threads > 1 && t.handed == 0) st_fail("no block was freed by another thread");
    if (run.opt.signal_us && atomic_load(&signals_taken) == 0) st_fail("no worker took a signal");
    mh_stats after = stats_now();
    check_final_stats(&before, &after, &t);
    printf("stress: key %s, %u threads x %u rounds, %" PRIu64 " allocations, %" PRIu64 " reallocs, %" PRIu64
           " frees (%" PRIu64 " by another thread), %" PRIu64 " signals taken; heaps active %u, remote frees %" PRIu64
           ", pages stolen %" PRIu64 ", OS growth calls %" PRIu64 ", large OS calls %" PRIu64 "\n",
           after.key_policy, run.opt.threads, run.opt.rounds, t.allocs, t.reallocs, t.frees, t.handed,
           (uint64_t)atomic_load(&signals_taken),
           after.nheaps_active, after.remote_frees, after.pages_stolen, after.os_grow_calls,
           after.large_os_calls);
    return 0;
}
