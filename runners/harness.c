/*
 * The harness: implements workload.h for the workloads (parameters, metrics,
 * the allocation slow paths, services) and runs one measured phase.
 *
 * Measured phase: every worker binds itself, opens its perf counters and
 * waits at the start barrier with the main thread; the first thread out of
 * the barrier stamps the start time, each worker enables its counters and
 * runs the workload, then stamps its end time and reads its counters. The
 * phase lasts from the start stamp until the last worker's end stamp, so
 * thread creation, setup(), joins and report() are outside it.
 *
 * Latency: the inline fast path in workload.h falls into the slow path when
 * the per-thread countdown hits zero; the slow path times that one operation
 * with two CLOCK_MONOTONIC reads (vDSO, no syscall) and draws the next
 * countdown uniformly in [1, 2N-1] (mean N) so that sampling cannot lock onto
 * a periodic pattern in the workload.
 */
#define _GNU_SOURCE
#include "driver.h"

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>

/* ------------------------------------------------------------- services */

/* The mapping's length sits in the line before the array. */
void *wl_zalloc_lines(size_t bytes)
{
    size_t len = WL_LINE + wl_round_to_line(bytes ? bytes : 1);
    char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    *(size_t *)m = len;
    return m + WL_LINE;
}

void *wl_zalloc_lines_resident(size_t bytes)
{
    char *p = wl_zalloc_lines(bytes);
    /* by page, not by offset: the array starts a line into its mapping, so a stride of
       4096 from p missed its last page whenever bytes was a multiple of 4096 (a review) */
    for (char *at = p; p && at < p + bytes; at = (char *)(((uintptr_t)at | 4095) + 1))
        *(volatile char *)at = 0;
    return p;
}

void wl_free_lines(void *p)
{
    if (p) {
        char *m = (char *)p - WL_LINE;
        munmap(m, *(size_t *)m);
    }
}

uint64_t mh_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double mh_elapsed_s(const mh_thread *t)
{
    return (double)(mh_now_ns() - atomic_load_explicit(&t->run->t_start_ns, memory_order_relaxed)) / 1e9;
}

void mh_barrier(mh_thread *t)
{
    pthread_barrier_wait(&t->run->user_barrier);
}

int  mh_run_threads(const mh_run *run) { return run->threads; }
bool mh_run_checking(const mh_run *run) { return (run->flags & MH_T_CHECK) != 0; }

_Noreturn void mh_corrupt(mh_thread *t, const void *p, size_t n, const char *what)
{
    fprintf(stderr, "mhbench: corrupted content: allocator %s, size %zu, address %p, thread %d: %s\n",
            t->run->alloc->name, n, p, t->index, what);
    fflush(stderr);
    _exit(4);
}

_Noreturn void wl_alloc_failed(mh_thread *t, size_t n)
{
    fprintf(stderr, "mhbench: allocation failed: allocator %s returned NULL for %zu bytes, thread %d (out of "
            "memory: lower the workload's sizes or counts, or raise the memory limit)\n", t->run->alloc->name, n,
            t->index);
    fflush(stderr);
    _exit(5);
}

static bool prepare_threads(mh_run *run);
static int default_threads(const mh_workload *wl);

/* ------------------------------------------------------------- parameters */

static const mh_param_value *param_find(const mh_run *run, const char *name, mh_param_kind kind)
{
    for (int i = 0; i < run->nparams; i++)
        if (strcmp(run->params[i].def->name, name) == 0 && run->params[i].def->kind == kind)
            return &run->params[i];
    /* a workload asking for a parameter it did not declare is a bug in the workload */
    fprintf(stderr, "mhbench: workload %s reads undeclared parameter '%s' (or with the wrong kind)\n",
            run->wl->name, name);
    abort();
}

int64_t     mh_param_int(const mh_run *run, const char *name) { return param_find(run, name, MH_PARAM_INT)->i; }
double      mh_param_real(const mh_run *run, const char *name) { return param_find(run, name, MH_PARAM_REAL)->r; }
const char *mh_param_choice(const mh_run *run, const char *name) { return param_find(run, name, MH_PARAM_CHOICE)->text; }

static bool choice_ok(const char *choices, const char *v)
{
    size_t n = strlen(v);
    for (const char *c = choices; c && *c;) {
        const char *bar = strchr(c, '|');
        size_t len = bar ? (size_t)(bar - c) : strlen(c);
        if (len == n && strncmp(c, v, n) == 0)
            return true;
        c = bar ? bar + 1 : NULL;
    }
    return false;
}

/* Integers accept plain or scientific notation (8e6) if the value is whole. Decimal only,
   with no space around it: strtod also reads hex (--ops=0x10 ran 16 operations), leading
   spaces, inf and nan. */
static bool param_set(const mh_run *run, mh_param_value *pv, const char *text)
{
    const mh_param_def *d = pv->def;
    const char *wl = run->wl->name;
    if (strlen(text) >= sizeof pv->text) {
        fprintf(stderr, "%s: --%s value is too long\n", wl, d->name);
        return false;
    }
    snprintf(pv->text, sizeof pv->text, "%s", text);
    if (d->kind == MH_PARAM_CHOICE) {
        if (!choice_ok(d->choices, text)) {
            fprintf(stderr, "%s: --%s=%s is not a valid choice; use one of %s\n", wl, d->name, text, d->choices);
            return false;
        }
        return true;
    }
    char *end, range[128];
    errno = 0;
    double v = strtod(text, &end);
    bool whole = d->kind == MH_PARAM_REAL || v == floor(v);
    mh_param_range(d, range, sizeof range);
    if (!*text || *end || strspn(text, "0123456789.eE+-") != strlen(text) || errno || !isfinite(v) || !whole) {
        fprintf(stderr, "%s: --%s=%s is not %s; give %s\n", wl, d->name, text,
                d->kind == MH_PARAM_INT ? "an integer" : "a number", range);
        return false;
    }
    if (v < d->min || v > d->max) {
        fprintf(stderr, "%s: --%s=%s is out of range; give %s\n", wl, d->name, text, range);
        return false;
    }
    pv->r = v;
    pv->i = (int64_t)v;
    return true;
}

void mh_param_range(const mh_param_def *d, char *out, size_t len)
{
    if (d->kind == MH_PARAM_CHOICE)
        snprintf(out, len, "one of %s", d->choices);
    else if (d->kind == MH_PARAM_INT)
        snprintf(out, len, "an integer in [%.0f, %.0f]", d->min, d->max);
    else
        snprintf(out, len, "a number in [%g, %g]", d->min, d->max);
}

static void print_param_names(const mh_workload *wl, FILE *f)
{
    for (const mh_param_def *d = wl->params; d && d->name; d++)
        fprintf(f, " --%s", d->name);
}

static mh_param_value *param_by_name(mh_run *run, const char *name, size_t len)
{
    for (int i = 0; i < run->nparams; i++)
        if (strlen(run->params[i].def->name) == len && strncmp(run->params[i].def->name, name, len) == 0)
            return &run->params[i];
    return NULL;
}

int mh_run_init(mh_run *run, const mh_workload *wl, const mh_run_options *opt, const mh_allocator *alloc,
                int nparam_args, char **param_args)
{
    memset(run, 0, sizeof *run);
    run->wl = wl;
    run->opt = opt;
    run->alloc = alloc;
    for (const mh_param_def *d = wl->params; d && d->name; d++)
        run->nparams++;
    run->params = calloc((size_t)run->nparams + 1, sizeof *run->params);
    for (int i = 0; i < run->nparams; i++) {
        run->params[i].def = &wl->params[i];
        if (!param_set(run, &run->params[i], wl->params[i].dflt)) {
            fprintf(stderr, "mhbench: the default of --%s in workload %s is invalid (a bug in the workload)\n",
                    wl->params[i].name, wl->name);
            return -1;
        }
    }
    for (int a = 0; a < nparam_args; a++) {
        const char *arg = param_args[a];
        const char *eq = strchr(arg, '=');
        mh_param_value *pv = strncmp(arg, "--", 2) == 0 && eq ? param_by_name(run, arg + 2, (size_t)(eq - arg - 2)) : NULL;
        if (!pv) {
            fprintf(stderr, "%s: unknown parameter '%s'; parameters are --name=value with name one of:",
                    wl->name, arg);
            print_param_names(wl, stderr);
            fprintf(stderr, " (see mhbench help %s)\n", wl->name);
            return -1;
        }
        /* The last would win silently: a matrix line with --remote=0,100 --remote=50 ran
           remote=50 in cells named remote=0 and remote=100 (a review). */
        for (int b = 0; b < a; b++)
            if (strncmp(param_args[b], arg, (size_t)(eq - arg + 1)) == 0) {
                fprintf(stderr, "%s: --%.*s is given twice; give each parameter once\n", wl->name,
                        (int)(eq - arg - 2), arg + 2);
                return -1;
            }
        if (!param_set(run, pv, eq + 1))
            return -1;
    }
    run->threads = opt->threads > 0 ? opt->threads : default_threads(wl);
    run->flags = (opt->null_alloc ? MH_T_NULL : 0) | (opt->check && !opt->null_alloc ? MH_T_CHECK : 0);
    return prepare_threads(run) ? 0 : -1;
}

/* Threads when --threads is not given. */
static int default_threads(const mh_workload *wl)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1)
        cpus = 1;
    if (wl->default_threads_per_cpu > 0)
        return (int)(cpus * wl->default_threads_per_cpu);
    return cpus < 2 ? 2 : (int)cpus;
}

/* ------------------------------------------------------------- metrics */

static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;

static void metric_add(mh_run *run, const char *name, const double *values, size_t n, bool series)
{
    pthread_mutex_lock(&metrics_lock);
    mh_metric_entry *m = realloc(run->metrics, (run->nmetrics + 1) * sizeof *m);
    if (m) {
        run->metrics = m;
        m = &run->metrics[run->nmetrics++];
        m->name = strdup(name);
        m->values = malloc((n ? n : 1) * sizeof *values);
        memcpy(m->values, values, n * sizeof *values);
        m->n = n;
        m->series = series;
    }
    pthread_mutex_unlock(&metrics_lock);
}

void mh_metric(mh_run *run, const char *name, double value) { metric_add(run, name, &value, 1, false); }
void mh_series(mh_run *run, const char *name, const double *values, size_t n) { metric_add(run, name, values, n, true); }

/* ------------------------------------------------------------- content checks */

/* A pattern from the block's address and size: a block handed out twice, or
 * written by the allocator, or moved without its contents, shows up. */
static inline uint64_t pattern_word(uintptr_t addr, size_t n, size_t i)
{
    return (addr ^ (n * 0x9E3779B97F4A7C15ull)) + i * 0xD6E8FEB86659FD93ull;
}

static void pattern_fill(void *p, size_t n)
{
    unsigned char *b = p;
    size_t words = n / 8;
    for (size_t i = 0; i < words; i++) {
        uint64_t w = pattern_word((uintptr_t)p, n, i);
        memcpy(b + 8 * i, &w, 8);
    }
    uint64_t last = pattern_word((uintptr_t)p, n, words);
    memcpy(b + 8 * words, &last, n % 8);
}

/* First `len` bytes of p against the pattern a block at addr of size n had; offset of the first
 * difference, or -1. */
static ptrdiff_t pattern_check(const void *p, uintptr_t addr, size_t n, size_t len)
{
    const unsigned char *b = p;
    for (size_t off = 0; off < len; off += 8) {
        uint64_t w = pattern_word(addr, n, off / 8);
        size_t k = len - off < 8 ? len - off : 8;
        if (memcmp(b + off, &w, k) != 0) {
            for (size_t j = 0; j < k; j++)
                if (b[off + j] != ((const unsigned char *)&w)[j])
                    return (ptrdiff_t)(off + j);
        }
    }
    return -1;
}

static void verify_or_die(mh_thread *t, const void *p, uintptr_t addr, size_t n, size_t len, const char *when)
{
    ptrdiff_t off = pattern_check(p, addr, n, len);
    if (off >= 0) {
        char what[128];
        snprintf(what, sizeof what, "byte %td changed %s", off, when);
        mh_corrupt(t, p, n, what);
    }
}

/* ------------------------------------------------------------- slow paths */

/* Sampling draws from its own stream (xorshift64 in the slot), not the
 * workload's t->rng, so the workload does the same operations whatever N is. */
static uint32_t next_countdown(mh_thread *t)
{
    uint32_t every = t->run->opt->lat_every;
    if (every == 0)
        return UINT32_MAX;
    uint64_t x = t->h->lat_rng;
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    t->h->lat_rng = x;
    return 1 + (uint32_t)(x % (2ull * every - 1));
}

/* The inline path decrements the countdown only when no flag is set. */
static bool sample_due(mh_thread *t)
{
    if (t->flags != 0 && --t->lat_countdown != 0)
        return false;
    if (t->flags == 0 && t->lat_countdown != 0)
        return false;
    t->lat_countdown = next_countdown(t);
    return t->run->opt->lat_every != 0;
}

void mh_note_cpu(uint64_t *ran_on)
{
    int cpu = sched_getcpu();
    if (cpu >= 0 && cpu < 64 * MH_CPU_WORDS)
        ran_on[cpu / 64] |= 1ull << (cpu % 64);
}

/* The operation began at t0. Samples also note the CPU, so ran_on shows
 * migrations during the run, not only where a thread started and ended. */
static inline void record_sample(mh_thread *t, int kind, uint64_t t0)
{
    mh_hist_add(&t->h->lat[kind], mh_now_ns() - t0);
    mh_note_cpu(t->h->ran_on);
}

/* Null path: one per-thread block, grown when a larger size is asked for. */
static void *scratch(mh_thread *t, size_t n)
{
    struct mh_harness_thread *h = t->h;
    if (n > h->scratch_size) {
        free(h->scratch);
        h->scratch_size = n < 4096 ? 4096 : n;
        h->scratch = malloc(h->scratch_size);
    }
    return h->scratch;
}

void *wl_alloc_slow(mh_thread *t, size_t n)
{
    bool sample = sample_due(t);
    bool null = t->flags & MH_T_NULL;
    uint64_t t0 = sample ? mh_now_ns() : 0;
    void *p = null ? scratch(t, n) : malloc(n);
    if (sample)
        record_sample(t, MH_LAT_MALLOC, t0);
    t->ops++;
    if (null)
        return p;
    if (!p && n)
        wl_alloc_failed(t, n);
    wl_live_add(t, (int64_t)n);
    if ((t->flags & MH_T_CHECK) && p)
        pattern_fill(p, n);
    else if (p)
        wl_touch(p, 0, n);
    return p;
}

void wl_free_slow(mh_thread *t, void *p, size_t n, int kind)
{
    bool sample = sample_due(t);
    bool null = t->flags & MH_T_NULL;
    if ((t->flags & MH_T_CHECK) && p)
        verify_or_die(t, p, (uintptr_t)p, n, n, "between allocation and free");
    uint64_t t0 = sample ? mh_now_ns() : 0;
    if (!null)
        free(p);
    if (sample)
        record_sample(t, kind, t0);
    t->ops++;
    if (!null)
        wl_live_add(t, -(int64_t)n);
}

void *wl_realloc_slow(mh_thread *t, void *p, size_t old, size_t n)
{
    if (t->flags == 0)
        t->lat_countdown--;
    bool sample = sample_due(t);
    t->ops++;
    if (t->flags & MH_T_NULL)
        return scratch(t, n);
    bool check = (t->flags & MH_T_CHECK) && p;
    if (check)
        verify_or_die(t, p, (uintptr_t)p, old, old, "before realloc");
    uintptr_t old_addr = (uintptr_t)p;  /* the pattern's seed; p itself is gone after realloc */
    uint64_t t0 = sample ? mh_now_ns() : 0;
    void *q = realloc(p, n);
    if (sample)
        record_sample(t, MH_LAT_MALLOC, t0);
    if (!q && n)
        wl_alloc_failed(t, n);
    if (check)
        verify_or_die(t, q, old_addr, old, old < n ? old : n, "by realloc (contents not kept)");
    if (t->flags & MH_T_CHECK)
        pattern_fill(q, n);
    else
        wl_touch(q, old, n);   /* the part that grew */
    wl_live_add(t, (int64_t)n - (int64_t)old);
    return q;
}

/* ------------------------------------------------------------- threads */

uint64_t mh_run_wait_start(mh_run *run)
{
    pthread_barrier_wait(&run->start_barrier);
    uint64_t zero = 0;
    atomic_compare_exchange_strong(&run->t_start_ns, &zero, mh_now_ns());
    return atomic_load(&run->t_start_ns);
}

/* "w1 freer": perf's reports (./run.sh profile) then tell the roles of an asymmetric
   workload apart, where every worker was "mhbench" (xmalloc's freer spends its time
   elsewhere than its allocator). A name is at most 15 characters. */
static void name_worker(const mh_thread *t)
{
    const char *const *roles = t->run->wl->role_names;
    char name[16];
    snprintf(name, sizeof name, "w%d %s", t->index, roles && t->role >= 0 ? roles[t->role] : "worker");
    pthread_setname_np(pthread_self(), name);
}

static void *worker_main(void *arg)
{
    mh_thread *t = arg;
    mh_run *run = t->run;
    struct mh_harness_thread *h = t->h;
    mh_perf_thread perf;
    name_worker(t);
    h->bind_ok = mh_placement_bind(run->placement, t->index);
    mh_perf_open(&perf);
    mh_note_cpu(h->ran_on);
    mh_run_wait_start(run);
    mh_perf_enable(&perf);
    run->wl->thread(t);
    h->t_end_ns = mh_now_ns();
    mh_perf_collect(&perf, &h->counts);
    mh_note_cpu(h->ran_on);
    return NULL;
}

typedef struct child_start {
    mh_thread *child;
    void (*fn)(mh_thread *, void *);
    void *arg;
} child_start;

static void *child_main(void *arg)
{
    child_start *cs = arg;
    mh_thread *c = cs->child;
    mh_perf_thread perf;
    mh_placement_bind(c->run->placement, c->index);
    mh_perf_open(&perf);
    mh_perf_enable(&perf);
    cs->fn(c, cs->arg);
    /* the parent waits in pthread_join, so the slot's figures have one writer */
    mh_perf_collect(&perf, &c->h->counts);
    return NULL;
}

/* The child takes over its parent's slot (live bytes, histograms, counters)
 * while the parent waits; its struct is reused by the next child at the same
 * depth and kept until the run ends, since the RSS sampler may still hold it. */
void mh_run_child(mh_thread *t, void (*fn)(mh_thread *child, void *arg), void *arg)
{
    struct mh_harness_thread *h = t->h;
    if (h->depth >= MH_MAX_CHILD_DEPTH) {
        fprintf(stderr, "mhbench: workload %s nests mh_run_child deeper than %d\n", t->run->wl->name, MH_MAX_CHILD_DEPTH);
        exit(1);
    }
    if (!h->nest[h->depth] && !(h->nest[h->depth] = wl_zalloc_lines(sizeof(mh_thread)))) {
        fprintf(stderr, "mhbench: out of memory for a child thread\n");
        exit(1);
    }
    mh_thread *c = h->nest[h->depth++];
    c->index = t->index;
    c->nthreads = t->nthreads;
    c->role = t->role;
    c->flags = t->flags;
    c->shared = t->shared;
    c->run = t->run;
    c->rng = mh_rand(t) | 1;
    c->ops = 0;
    c->lat_countdown = t->lat_countdown;
    c->h = h;
    atomic_store_explicit(&c->live_bytes, atomic_load_explicit(&t->live_bytes, memory_order_relaxed), memory_order_relaxed);
    atomic_store_explicit(&h->live_src, c, memory_order_release);
    child_start cs = { c, fn, arg };
    pthread_t tid;
    int err = pthread_create(&tid, NULL, child_main, &cs);
    if (err) {
        fprintf(stderr, "mhbench: cannot create a child thread: %s\n", strerror(err));
        exit(1);
    }
    pthread_join(tid, NULL);
    t->ops += c->ops;
    t->lat_countdown = c->lat_countdown;
    atomic_store_explicit(&t->live_bytes, atomic_load_explicit(&c->live_bytes, memory_order_relaxed), memory_order_relaxed);
    atomic_store_explicit(&h->live_src, t, memory_order_release);
    h->depth--;
    h->children++;
}

/* ------------------------------------------------------------- the run */

/* splitmix64: distinct, never-zero xorshift seeds per thread. */
static uint64_t seed_for(uint64_t base, int index)
{
    uint64_t z = base + 0x9E3779B97F4A7C15ull * (uint64_t)(index + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return z ? z : 1;
}

/* What one latency sample costs: two clock reads, a histogram update and a CPU note,
 * measured here so the record can show the share of run time it takes. The
 * fastest of several rounds is kept: on a shared machine a round can be
 * preempted, and that would not be the cost of sampling. */
static void calibrate_sampling(mh_run *run)
{
    enum { ROUNDS = 5, N = 4000 };
    mh_hist *tmp = calloc(1, sizeof *tmp);
    uint64_t ran_on[MH_CPU_WORDS] = { 0 };
    run->sample_cost_ns = run->clock_read_ns = INFINITY;
    for (int r = 0; r < ROUNDS && tmp; r++) {
        uint64_t t0 = mh_now_ns();
        for (int i = 0; i < N; i++) {
            uint64_t a = mh_now_ns();
            mh_hist_add(tmp, mh_now_ns() - a);
            mh_note_cpu(ran_on);
        }
        uint64_t t1 = mh_now_ns();
        for (int i = 0; i < N; i++)
            (void)mh_now_ns();
        uint64_t t2 = mh_now_ns();
        run->sample_cost_ns = fmin(run->sample_cost_ns, (double)(t1 - t0) / N);
        run->clock_read_ns = fmin(run->clock_read_ns, (double)(t2 - t1) / N);
    }
    free(tmp);
}

static bool prepare_threads(mh_run *run)
{
    int n = run->threads;
    run->roles = calloc((size_t)n, sizeof *run->roles);
    for (int i = 0; i < n; i++)
        run->roles[i] = run->wl->role ? run->wl->role(run, i, n) : 0;
    char err[512];
    run->placement = mh_placement_plan(run->opt->placement, n, run->roles, err, sizeof err);
    if (!run->placement) {
        fprintf(stderr, "mhbench: %s\n", err);
        return false;
    }
    run->thr = wl_zalloc_lines((size_t)n * sizeof *run->thr);
    run->h = wl_zalloc_lines((size_t)n * sizeof *run->h);
    if (!run->thr || !run->h) {
        fprintf(stderr, "mhbench: out of memory for %d threads; use fewer --threads\n", n);
        return false;
    }
    for (int i = 0; i < n; i++) {
        mh_thread *t = &run->thr[i];
        t->index = i;
        t->nthreads = n;
        t->role = run->roles[i];
        t->flags = run->flags;
        t->run = run;
        t->rng = seed_for(run->opt->seed, i);
        t->h = &run->h[i];
        run->h[i].lat_rng = seed_for(~run->opt->seed, i);
        t->lat_countdown = next_countdown(t);
        atomic_init(&run->h[i].live_src, t);
    }
    return true;
}

static void start_workers(mh_run *run)
{
    for (int i = 0; i < run->threads; i++) {
        int err = pthread_create(&run->h[i].tid, NULL, worker_main, &run->thr[i]);
        if (err) {
            fprintf(stderr, "mhbench: cannot create thread %d of %d: %s; use fewer --threads\n",
                    i, run->threads, strerror(err));
            exit(1);
        }
    }
}

static void gather(mh_run *run)
{
    run->t_end_ns = 0;
    for (int i = 0; i < run->threads; i++) {
        struct mh_harness_thread *h = &run->h[i];
        if (h->t_end_ns > run->t_end_ns)
            run->t_end_ns = h->t_end_ns;
        for (int k = 0; k < MH_LAT_KINDS; k++)
            mh_hist_merge(&run->lat[k], &h->lat[k]);
        for (int c = 0; c < MH_CTR_COUNT; c++) {
            run->counts.value[c] += h->counts.value[c];
            run->counts.scaled[c] |= h->counts.scaled[c];
            run->counts.user_only[c] |= h->counts.user_only[c];
            if (!run->counts.err[c])
                run->counts.err[c] = h->counts.err[c];
        }
    }
}

int mh_run_execute(mh_run *run)
{
    run->shared = run->wl->setup ? run->wl->setup(run) : NULL;
    if (run->wl->setup && !run->shared)
        return 2;
    for (int i = 0; i < run->threads; i++)
        run->thr[i].shared = run->shared;
    calibrate_sampling(run);
    /* the RSS sampler waits at the start barrier with the workers: on a busy
     * machine a sampler started after it could miss the start of the run */
    pthread_barrier_init(&run->start_barrier, NULL, (unsigned)run->threads + 1);
    pthread_barrier_init(&run->user_barrier, NULL, (unsigned)run->threads);
    run->started = true;
    run->memory = mh_memory_start(run, run->opt->rss_interval_ms);
    start_workers(run);
    for (int i = 0; i < run->threads; i++)
        pthread_join(run->h[i].tid, NULL);
    mh_memory_stop(run->memory);
    gather(run);
    if (run->wl->report)
        run->wl->report(run, run->shared);
    return 0;
}

void mh_run_destroy(mh_run *run)
{
    for (int i = 0; run->h && i < run->threads; i++) {
        free(run->h[i].scratch);
        for (int d = 0; d < MH_MAX_CHILD_DEPTH; d++)
            wl_free_lines(run->h[i].nest[d]);
    }
    for (size_t i = 0; i < run->nmetrics; i++) {
        free(run->metrics[i].name);
        free(run->metrics[i].values);
    }
    if (run->started) {
        pthread_barrier_destroy(&run->start_barrier);
        pthread_barrier_destroy(&run->user_barrier);
    }
    mh_memory_free(run->memory);
    mh_placement_free(run->placement);
    free(run->metrics);
    free(run->params);
    free(run->roles);
    wl_free_lines(run->thr);
    wl_free_lines(run->h);
}
