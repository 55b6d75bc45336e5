/*
 * Internals of the driver mhbench, shared by its modules:
 *   harness.c    workload.h implementation: threads, barrier, slow paths, parameters
 *   placement.c  hwloc binding policies
 *   perf.c       per-thread perf_event_open groups
 *   memory.c     RSS sampler thread
 *   latency.c    log-linear latency histograms
 *   env.c        machine and software environment
 *   record.c     the result record: write, CSV, validate
 *   mhbench.c    command line
 * Other tools may link target mhdriver for mh_env_write() and mh_record_validate().
 */
#ifndef MH_DRIVER_H
#define MH_DRIVER_H

#include "json.h"
#include "preload.h"
#include "workload.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* ---- latency histograms (latency.c) ---- */

/* Values below 16 ns are exact; above, 16 buckets per power of two (error <= 6.25%). */
#define MH_LAT_SUB_BITS 4
#define MH_LAT_BUCKETS ((64 - MH_LAT_SUB_BITS + 1) << MH_LAT_SUB_BITS)

typedef struct mh_hist {
    uint64_t count, max;
    uint64_t bucket[MH_LAT_BUCKETS];
} mh_hist;

static inline unsigned mh_hist_index(uint64_t v)
{
    if (v < (1u << MH_LAT_SUB_BITS))
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - MH_LAT_SUB_BITS;
    return ((msb - MH_LAT_SUB_BITS + 1) << MH_LAT_SUB_BITS) + (unsigned)((v >> shift) & ((1u << MH_LAT_SUB_BITS) - 1));
}

static inline void mh_hist_add(mh_hist *h, uint64_t v)
{
    h->count++;
    h->bucket[mh_hist_index(v)]++;
    if (v > h->max)
        h->max = v;
}

void     mh_hist_merge(mh_hist *into, const mh_hist *from);
/* Upper bound of the bucket holding quantile q (0..1), clipped to max; 0 if empty. */
uint64_t mh_hist_quantile(const mh_hist *h, double q);

/* ---- perf counters (perf.c) ---- */

enum {
    MH_CTR_CYCLES, MH_CTR_INSTRUCTIONS, MH_CTR_CACHE_MISSES, MH_CTR_DTLB_MISSES, MH_CTR_BRANCH_MISSES,
    MH_CTR_TASK_CLOCK, MH_CTR_PAGE_FAULTS, MH_CTR_CONTEXT_SWITCHES, MH_CTR_CPU_MIGRATIONS,
    MH_CTR_COUNT
};
extern const char *const mh_counter_names[MH_CTR_COUNT];   /* record keys: "cycles", "task_clock_ns", ... */

typedef struct mh_perf_thread {
    int fd[MH_CTR_COUNT];               /* -1: not open */
    int err[MH_CTR_COUNT];              /* errno of the failed open, 0 if open */
    bool user_only[MH_CTR_COUNT];       /* kernel counting refused: user space only */
} mh_perf_thread;

typedef struct mh_counts {
    double value[MH_CTR_COUNT];
    bool scaled[MH_CTR_COUNT];          /* multiplexed: value extrapolated from time running */
    int err[MH_CTR_COUNT];              /* first errno seen for the counter, 0 if none */
    bool user_only[MH_CTR_COUNT];       /* some thread counted user space only */
} mh_counts;

/* Open the groups for the calling thread, disabled. */
void mh_perf_open(mh_perf_thread *p);
void mh_perf_enable(mh_perf_thread *p);
/* Disable, read, add into c, close. */
void mh_perf_collect(mh_perf_thread *p, mh_counts *c);
/* Why counter i could not be read ("perf_event_open: ENOENT ..."). */
void mh_perf_reason(int err, int counter, char *out, size_t outlen);

/* ---- placement (placement.c) ---- */

typedef struct mh_placement mh_placement;

/* Parse and plan; NULL with one line in err for an unknown policy or a CPU that is not usable. */
mh_placement *mh_placement_plan(const char *policy, int nthreads, const int *roles, char *err, size_t errlen);
void mh_placement_free(mh_placement *pl);
/* Bind the calling thread as thread `index` (no-op for none); false if the bind failed. */
bool mh_placement_bind(const mh_placement *pl, int index);
/* Write the "placement" object (policy, cpus, threads with bound and ran_on). */
void mh_placement_write(const mh_placement *pl, mh_jw *w, const mh_run *run);

/* ---- memory sampler (memory.c) ---- */

typedef struct mh_memory mh_memory;

mh_memory *mh_memory_start(mh_run *run, unsigned interval_ms);
void       mh_memory_stop(mh_memory *m);       /* joins the sampler, takes the last sample */
/* Resets the kernel's high-water mark of this process's resident set (VmHWM) to the
   current RSS; false, with why[len] (may be NULL, 0) saying why, if the kernel refused. */
bool       mh_peak_rss_reset(char *why, size_t len);
/* VmHWM and VmRSS in KiB from /proc/self/status; false if unreadable. */
bool       mh_status_rss(uint64_t *peak_kib, uint64_t *now_kib);
void       mh_memory_write(const mh_memory *m, mh_jw *w);
void       mh_memory_free(mh_memory *m);

/* ---- environment (env.c) ---- */

/* Write the "env" object under key. */
void mh_env_write(mh_jw *w, const char *key);
/* hwloc topology loaded once for the whole process (placement and env). */
struct hwloc_topology *mh_topology(void);

/* ---- the run (harness.c) ---- */

typedef struct mh_run_options {
    const char *workload;
    const char *allocator;      /* spec as given */
    int threads;                /* 0: the workload's default */
    const char *placement;
    bool check, null_alloc;
    uint32_t lat_every;         /* 0: latency sampling off */
    unsigned rss_interval_ms;
    const char *out;            /* NULL: pretty record on stdout */
    const char *perf_record;    /* perf record -g output file, or NULL */
    const char *run_id, *cell;
    int rep;
    bool warmup;
    uint64_t seed;              /* per-thread random streams derive from it */
} mh_run_options;

typedef struct mh_param_value {
    const mh_param_def *def;
    char text[64];              /* as given or the default */
    int64_t i;
    double r;
} mh_param_value;

typedef struct mh_metric_entry {
    char *name;
    double *values;             /* one value for mh_metric, n for mh_series */
    size_t n;
    bool series;
} mh_metric_entry;

#define MH_MAX_CHILD_DEPTH 16
#define MH_CPU_WORDS 16                 /* ran_on bitmap: CPUs 0..1023 */

/* Note the CPU the calling thread is on in a ran_on bitmap (CPUs past the bitmap are not noted). */
void mh_note_cpu(uint64_t *ran_on);

/* Per worker slot; a child run by mh_run_child uses its parent's slot. */
struct mh_harness_thread {
    _Alignas(64) pthread_t tid;      /* aligned: one thread's samples never share its line */
    mh_hist lat[MH_LAT_KINDS];
    mh_counts counts;
    _Atomic(mh_thread *) live_src;   /* whose live_bytes stand for this slot now */
    void *scratch;                   /* null path: the one block handed out */
    size_t scratch_size;
    uint64_t ran_on[MH_CPU_WORDS];   /* CPUs seen by sched_getcpu(): at start, at each latency sample, at end */
    bool bind_ok;
    uint64_t t_end_ns;
    uint64_t children;               /* threads run by mh_run_child */
    uint64_t lat_rng;                /* latency-sampling gaps: apart from the workload's stream */
    mh_thread *nest[MH_MAX_CHILD_DEPTH];  /* child structs by nesting depth */
    int depth;
};

struct mh_run {
    const mh_workload *wl;
    const mh_run_options *opt;
    const mh_allocator *alloc;
    mh_param_value *params;
    int nparams;
    int threads;
    unsigned flags;                   /* MH_T_* for every thread */
    mh_thread *thr;
    struct mh_harness_thread *h;
    int *roles;
    mh_placement *placement;
    pthread_barrier_t start_barrier, user_barrier;
    _Atomic uint64_t t_start_ns;      /* measured phase: from the start barrier ... */
    uint64_t t_end_ns;                /* ... until the last thread returned */
    void *shared;
    mh_metric_entry *metrics;
    size_t nmetrics;
    mh_counts counts;                 /* summed over threads */
    mh_hist lat[MH_LAT_KINDS];        /* merged */
    double sample_cost_ns;            /* measured cost of one latency sample */
    double clock_read_ns;             /* measured cost of one clock read */
    mh_memory *memory;
    bool started;                     /* barriers made, workers created */
};

/* Parse the workload parameters from argv entries of the form --name=value and
 * plan the threads and their placement. On error prints one line naming the
 * problem and returns -1. */
int  mh_run_init(mh_run *run, const mh_workload *wl, const mh_run_options *opt, const mh_allocator *alloc,
                 int nparam_args, char **param_args);
/* Wait at the start barrier with the workers; the start stamp (the first thread out sets it). */
uint64_t mh_run_wait_start(mh_run *run);
/* Set up, run the measured phase, report; returns 0, or 2 when setup failed. */
int  mh_run_execute(mh_run *run);
void mh_run_destroy(mh_run *run);
/* "an integer in [1, 1024]", "one of a|b|c": for help and error lines. */
void mh_param_range(const mh_param_def *d, char *out, size_t len);

/* ---- the record (record.c) ---- */

/* multiheap's statistics under key when it serves malloc, else null (allocstats.c). */
void mh_allocator_stats_write(mh_jw *w, const char *key);

void mh_record_write(const mh_run *run, const mh_served *served, mh_jw *w);
/* allocator.env: the variables a's spec sets (what tells a variant from its base). */
void mh_record_allocator_env(mh_jw *w, const mh_allocator *a);
/* One problem per record, or NULL when valid (text kept in buf). */
const char *mh_record_validate(const mh_jv *rec, char *buf, size_t buflen);
/* Check every record of the files, one line per invalid record on stdout; 0 all valid,
 * 1 some invalid or none found, 2 unreadable file. */
int mh_record_validate_files(int nfiles, char **files);
/* Print the CSV header and one row per record in the JSONL files; 2 on unreadable input. */
int mh_record_csv(int nfiles, char **files, FILE *out);

#endif /* MH_DRIVER_H */
