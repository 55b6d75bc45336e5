/*
 * The common interface between workload generators (one workloads/NAME.c each) and the
 * driver (runners/, program mhbench).
 *
 * A workload is a table entry (mh_workload): parameters, optional thread
 * roles, and three callbacks. The driver parses and validates the parameters,
 * creates and pins the threads, runs setup() unmeasured, releases every
 * thread into thread() at once, measures from that barrier until the last
 * thread returns (wall time, perf counters, RSS samples, latency samples),
 * then calls report() unmeasured.
 *
 * Workloads allocate only through wl_alloc / wl_free / wl_free_remote /
 * wl_realloc below, so that the driver can count operations, sample
 * latencies, track live bytes, check contents, and swap in a null allocation
 * path to measure its own cost. Everything else a workload needs (queues,
 * slot arrays) it allocates in setup() with wl_zalloc_lines (below), not from
 * the allocator under test.
 *
 * A thread's operation loop keeps the parameters it reads from the shared state
 * (sizes, counts) in locals. Read from the state, they are loaded again after every
 * call into the allocator, and such a load at the same offset in its 4 KiB page as a
 * word the allocator has just stored waits for that store (4K aliasing): every
 * wl_zalloc_lines array starts 64 bytes into a page, where threadtest's object size
 * met the count of multiheap's 32-byte class, 200 instead of 340 Mops/s at --size=32
 * (DEVELOPERS.md).
 */
#ifndef MH_WORKLOAD_H
#define MH_WORKLOAD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* ---- parameters: declared by the workload, parsed and recorded by the driver ---- */

typedef enum { MH_PARAM_INT, MH_PARAM_REAL, MH_PARAM_CHOICE } mh_param_kind;

typedef struct mh_param_def {
    const char *name;       /* on the command line: --name=VALUE */
    mh_param_kind kind;
    const char *dflt;       /* default, as text; defaults finish in seconds */
    double min, max;        /* inclusive range, INT and REAL */
    const char *choices;    /* CHOICE: '|'-separated, e.g. "ring|random|all" */
    const char *help;
} mh_param_def;             /* tables end with an entry whose name is NULL */

typedef struct mh_run mh_run;   /* one run of one workload: owned by the driver */

int64_t     mh_param_int(const mh_run *run, const char *name);
double      mh_param_real(const mh_run *run, const char *name);
const char *mh_param_choice(const mh_run *run, const char *name);
int         mh_run_threads(const mh_run *run);
bool        mh_run_checking(const mh_run *run);   /* content checks on? */

/* Extra results, recorded under "extra" in the result record. */
void mh_metric(mh_run *run, const char *name, double value);
void mh_series(mh_run *run, const char *name, const double *values, size_t n);

/* ---- per-thread context ---- */

enum { MH_LAT_MALLOC, MH_LAT_FREE_LOCAL, MH_LAT_FREE_REMOTE, MH_LAT_KINDS };

#define MH_T_CHECK 1u   /* fill on allocation, verify before free */
#define MH_T_NULL  2u   /* null allocation path: measures the harness alone */

/* Cache-line aligned, and allocated so by the driver: each thread writes rng, ops and
   live_bytes on every operation, and two threads' structs sharing a line would make the
   harness, not the allocator, the bottleneck. */
typedef struct mh_thread {
    _Alignas(64) int index; /* 0 .. threads-1 */
    int nthreads;
    int role;               /* from mh_workload.role, 0 if none */
    unsigned flags;         /* MH_T_*; constant during the run */
    void *shared;           /* what setup() returned */
    mh_run *run;
    uint64_t rng;           /* xorshift state, seeded per thread by the driver */
    uint64_t ops;           /* allocation + free operations done */
    _Atomic int64_t live_bytes;  /* bytes this thread allocated minus freed; read by the RSS sampler */
    uint32_t lat_countdown; /* ops until the next latency sample */
    struct mh_harness_thread *h;  /* driver internals */
} mh_thread;

/* Slow paths, in the driver: sampling, checking, the null path. */
void *wl_alloc_slow(mh_thread *t, size_t n);
/* The allocator returned NULL for n > 0 bytes: names it and the size, exits 5. A run
 * that went on would count operations that allocated nothing. */
_Noreturn void wl_alloc_failed(mh_thread *t, size_t n);
void  wl_free_slow(mh_thread *t, void *p, size_t n, int kind);
void *wl_realloc_slow(mh_thread *t, void *p, size_t old, size_t n);

static inline void wl_live_add(mh_thread *t, int64_t d)
{
    atomic_store_explicit(&t->live_bytes,
        atomic_load_explicit(&t->live_bytes, memory_order_relaxed) + d, memory_order_relaxed);
}

/* Writes one byte per 4 KiB of bytes [from, n) of a new block, as a program using it
 * would. RSS then counts the memory a program really uses: otherwise an allocator that
 * keeps its metadata apart from the objects (jemalloc, multiheap's bitmaps) looks
 * smaller than one that writes into them (free lists in tcmalloc and mimalloc), since
 * pages never written are never resident. */
static inline void wl_touch(void *p, size_t from, size_t n)
{
    for (size_t off = from; off < n; off += 4096)
        ((volatile char *)p)[off] = 0;
}

/* The fast path stays tiny so that the harness cost is small and measurable. */
static inline void *wl_alloc(mh_thread *t, size_t n)
{
    if (__builtin_expect(t->flags != 0 || --t->lat_countdown == 0, 0))
        return wl_alloc_slow(t, n);
    t->ops++;
    wl_live_add(t, (int64_t)n);
    void *p = malloc(n);
    if (__builtin_expect(p != NULL, 1))
        wl_touch(p, 0, n);
    else if (n)
        wl_alloc_failed(t, n);
    return p;
}

static inline void wl_free_kind(mh_thread *t, void *p, size_t n, int kind)
{
    if (__builtin_expect(t->flags != 0 || --t->lat_countdown == 0, 0)) {
        wl_free_slow(t, p, n, kind);
        return;
    }
    t->ops++;
    wl_live_add(t, -(int64_t)n);
    free(p);
}

/* Free a block this thread allocated (n: its requested size). */
static inline void wl_free(mh_thread *t, void *p, size_t n) { wl_free_kind(t, p, n, MH_LAT_FREE_LOCAL); }
/* Free a block another thread allocated: live bytes move to this thread's account. */
static inline void wl_free_remote(mh_thread *t, void *p, size_t n) { wl_free_kind(t, p, n, MH_LAT_FREE_REMOTE); }
/* realloc counted as one operation (sampled as a malloc). */
static inline void *wl_realloc(mh_thread *t, void *p, size_t old, size_t n) { return wl_realloc_slow(t, p, old, n); }

/* xorshift64*: per-thread, no locks. */
static inline uint64_t mh_rand(mh_thread *t)
{
    uint64_t x = t->rng;
    x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
    t->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}
/* Uniform in [lo, hi]. */
static inline uint64_t mh_rand_range(mh_thread *t, uint64_t lo, uint64_t hi)
{
    return lo + mh_rand(t) % (hi - lo + 1);
}

/* ---- services the driver gives workloads ---- */

#define WL_LINE 64
static inline size_t wl_round_to_line(size_t bytes) { return (bytes + WL_LINE - 1) & ~(size_t)(WL_LINE - 1); }

/* Zeroed and cache-line aligned, so that the harness's own arrays never false-share;
 * mapped from the OS, not taken from the allocator under test, and never written here,
 * so a page of them costs RSS only once the workload uses it (a growth storm's slot
 * array is 8 MiB, most of it never used: zeroed by hand, it put 8 MiB of the harness's
 * own into every allocator's "RSS after the last free"). Every workload's shared state
 * lives in such memory too, so that its placement, and any false sharing in it, is the
 * same under every allocator; so do the driver's own per-thread structs (mh_thread, which
 * every operation writes), which came from the allocator under test before: their offset
 * in a page followed the allocator, and 1-thread churn moved by up to 3% with it. Free
 * with wl_free_lines. */
void *wl_zalloc_lines(size_t bytes);
/* The same, every page made resident at once: for an array whose used extent follows the
 * allocator's speed (a ring's fill, xmalloc's backlog of batches), which would otherwise
 * add more of the driver's pages to a faster allocator's peak RSS (a review: up to 1 MiB
 * of xmalloc's 12). Resident from the start, it is the same for every allocator. */
void *wl_zalloc_lines_resident(size_t bytes);
void wl_free_lines(void *p);

uint64_t mh_now_ns(void);                 /* CLOCK_MONOTONIC */
uint64_t mh_rss_kib(void);                /* resident set size now */
void     mh_barrier(mh_thread *t);        /* all worker threads of the run meet */
/* Seconds since the measured phase began: for time-bounded loops. */
double   mh_elapsed_s(const mh_thread *t);
/* Run fn on a new thread placed like t, counted into t's figures, and wait for it
 * (larson-style thread hand-over: a successor inherits its predecessor's objects). */
void     mh_run_child(mh_thread *t, void (*fn)(mh_thread *child, void *arg), void *arg);
/* Report corrupted content: names allocator, size and address, then exits non-zero. */
_Noreturn void mh_corrupt(mh_thread *t, const void *p, size_t n, const char *what);

/* ---- the workload descriptor ---- */

typedef struct mh_workload {
    const char *name;           /* command-line name, e.g. "producer-consumer" */
    const char *summary;        /* one line for listings */
    const char *help;           /* what it stresses; what a good allocator does */
    const mh_param_def *params; /* NULL-name terminated */
    const char *const *role_names;  /* NULL: one role, "worker" */
    /* Role of thread `index` of `nthreads` (NULL: all 0). Placement may put roles apart. */
    int  (*role)(const mh_run *run, int index, int nthreads);
    /* Unmeasured set-up on the main thread; returns the shared state (NULL on error, after
     * printing one line saying why). */
    void *(*setup)(mh_run *run);
    /* The measured work, once per thread. */
    void (*thread)(mh_thread *t);
    /* Unmeasured: add metrics (mh_metric/mh_series), free the shared state. */
    void (*report)(mh_run *run, void *shared);
    /* Thread count when --threads is not given: 0 keeps the driver's usual default;
     * N > 0 asks for N threads per online CPU (oversubscribed runs many more threads
     * than cores with the same code as thread-local-churn). */
    int default_threads_per_cpu;
} mh_workload;

/* All workloads, NULL-terminated (workloads/registry.c). */
extern const mh_workload *const mh_workloads[];
const mh_workload *mh_workload_find(const char *name);

#endif /* MH_WORKLOAD_H */
