/*
 * mhmicro: allocator microbenchmarks on Google Benchmark (through gbshim.h).
 *
 * One binary, run once per allocator under LD_PRELOAD (runners/micro.sh does
 * that): `mhmicro --allocator=NAME [--benchmark_* flags]`. It preloads NAME
 * itself when needed (re-exec), checks from inside the process that NAME's
 * library serves malloc (exit 3 if not), writes what it found into the JSON
 * "context" for mhmicro_convert, and runs the benchmarks. Every benchmark
 * reports items per second (one item = the operation named in its comment
 * below), perf counters per item and memory.
 */
#define _GNU_SOURCE
#include "gbshim.h"
#include "driver.h"
#include "multiheap.h"

#include <linux/perf_event.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>



/* Keeps the compiler from proving an allocation unused and deleting a malloc/free pair. */
static inline void escape(void *p) { __asm__ volatile("" : : "g"(p) : "memory"); }

/* ------------------------------------------------------------------------------------
 * What every benchmark reports besides time. Debian's libbenchmark 1.7.1 is built
 * without libpfm, so --benchmark_perf_counters is unsupported: each benchmark thread
 * counts with the driver's perf module (driver.h) around its timed loop instead, and
 * reports user counters NAME (total over threads) and NAME_per_op (per item, averaged
 * over threads). Counters the kernel refuses are probed once in main and named in the
 * context with the reason, so the converter writes them as null. Memory: the peak RSS
 * mark is reset before the loop, and peak and end RSS are read after it; a refused
 * reset is named in the context too (the peak is then the process's).
 */

typedef struct measure {
    mh_perf_thread perf;
    mh_counts counts;
} measure;

/* Names each counter that cannot be opened, and why, in the JSON context; and whether
   the peak RSS mark cannot be reset. */
static void probe_counters(void) {
    mh_perf_thread p;
    mh_counts c = {0};
    mh_perf_open(&p);
    for (int i = 0; i < MH_CTR_COUNT; i++) {
        if (!p.err[i]) continue;
        char key[64], why[160];
        snprintf(key, sizeof key, "mh.counter_unavailable.%s", mh_counter_names[i]);
        mh_perf_reason(p.err[i], i, why, sizeof why);
        gb_add_context(key, why);
    }
    mh_perf_collect(&p, &c);
    char why[160];
    if (!mh_peak_rss_reset(why, sizeof why)) gb_add_context("mh.peak_rss_reason", why);
}

static void measure_start(measure *m) {
    memset(&m->counts, 0, sizeof m->counts);
    mh_peak_rss_reset(NULL, 0);   /* the peak read at the end is this benchmark's */
    mh_perf_open(&m->perf);
    mh_perf_enable(&m->perf);
}

/* Stops or restarts every open counter (remote_free, around each hand-off): one
 * ioctl per counter, far cheaper than closing and reopening the groups. */
static void measure_pause(measure *m, bool pause) {
    for (int i = 0; i < MH_CTR_COUNT; i++)
        if (m->perf.fd[i] >= 0)
            ioctl(m->perf.fd[i], pause ? PERF_EVENT_IOC_DISABLE : PERF_EVENT_IOC_ENABLE, 0);
}

/* Every benchmark ends the same way: items for items_per_second, counters per item,
 * memory, and the most bytes it held live at once. */
static void finish(gb_state *st, measure *m, int64_t items_per_iteration, double live_bytes) {
    int64_t items = gb_iterations(st) * items_per_iteration;
    mh_perf_collect(&m->perf, &m->counts);
    for (int i = 0; i < MH_CTR_COUNT; i++) {
        if (m->counts.err[i]) continue;
        char key[64];
        gb_counter(st, mh_counter_names[i], m->counts.value[i], GB_COUNTER_DEFAULT);
        snprintf(key, sizeof key, "%s_per_op", mh_counter_names[i]);
        gb_counter(st, key, items > 0 ? m->counts.value[i] / (double)items : 0.0,
                   GB_COUNTER_AVG_THREADS);
        /* the driver's flags, as fractions of threads: multiplexed, user space only */
        snprintf(key, sizeof key, "%s_scaled", mh_counter_names[i]);
        gb_counter(st, key, m->counts.scaled[i], GB_COUNTER_AVG_THREADS);
        snprintf(key, sizeof key, "%s_user_only", mh_counter_names[i]);
        gb_counter(st, key, m->counts.user_only[i], GB_COUNTER_AVG_THREADS);
    }
    uint64_t peak, now;
    if (mh_status_rss(&peak, &now)) {
        gb_counter(st, "peak_rss_kib", (double)peak, GB_COUNTER_AVG_THREADS);
        gb_counter(st, "end_rss_kib", (double)now, GB_COUNTER_AVG_THREADS);
    }
    gb_counter(st, "peak_live_kib", live_bytes / 1024, GB_COUNTER_DEFAULT);
    gb_set_items_processed(st, items);
}

/* Reports why a benchmark cannot run; Google Benchmark then skips its loop. */
static void cannot_run(gb_state *st, const char *why) {
    gb_skip_with_error(st, why);
    while (gb_keep_running(st)) {}
}

/* ------------------------------------------------------------------------------------
 * The benchmarks. range(0) is always the object size unless named otherwise.
 */

/* The shim's loop alone: what every other figure includes as harness cost. */
static void bm_empty(gb_state *st, void *arg) {
    (void)arg;
    measure m;
    measure_start(&m);
    while (gb_keep_running(st)) {}
    finish(st, &m, 1, 0);
}

/* One item: malloc then free of the same size (the fast path); also run on 1..N threads. */
static void bm_pair(gb_state *st, void *arg) {
    (void)arg;
    size_t size = (size_t)gb_range(st, 0);
    measure m;
    measure_start(&m);
    while (gb_keep_running(st)) {
        void *p = malloc(size);
        escape(p);
        free(p);
    }
    finish(st, &m, 1, (double)size);
}

/* One item: calloc then free. */
static void bm_calloc(gb_state *st, void *arg) {
    (void)arg;
    size_t size = (size_t)gb_range(st, 0);
    measure m;
    measure_start(&m);
    while (gb_keep_running(st)) {
        void *p = calloc(1, size);
        escape(p);
        free(p);
    }
    finish(st, &m, 1, (double)size);
}

/* One item: posix_memalign of 64 bytes at alignment range(0), then free. */
static void bm_aligned(gb_state *st, void *arg) {
    (void)arg;
    size_t align = (size_t)gb_range(st, 0);
    measure m;
    measure_start(&m);
    while (gb_keep_running(st)) {
        void *p;
        if (posix_memalign(&p, align, 64) != 0 || ((uintptr_t)p & (align - 1)) != 0) {
            gb_skip_with_error(st, "posix_memalign failed or returned a misaligned pointer");
            break;      /* leaving the loop is allowed after an error */
        }
        escape(p);
        free(p);
    }
    finish(st, &m, 1, 64);
}

/* One item: one realloc of a block doubling from 16 bytes to range(0) bytes, the
 * last byte written each time (as a growing buffer does); the first malloc and
 * the final free are part of the iteration. */
static void bm_realloc_grow(gb_state *st, void *arg) {
    (void)arg;
    size_t to = (size_t)gb_range(st, 0);
    int64_t steps = 0;
    for (size_t s = 32; s <= to; s *= 2) steps++;
    measure m;
    measure_start(&m);
    bool failed = false;
    while (!failed && gb_keep_running(st)) {
        char *p = malloc(16);
        size_t s = 32;
        for (; s <= to; s *= 2) {
            char *grown = realloc(p, s);
            if (!grown) break;
            p = grown;
            p[s - 1] = 1;
        }
        failed = s <= to;
        escape(p);
        free(p);
    }
    if (failed) gb_skip_with_error(st, "malloc or realloc failed");
    finish(st, &m, steps, (double)to);
}

enum { ORDER_LIFO, ORDER_FIFO };

/* One item: one malloc and its free, in batches of range(1) allocations followed
 * by their frees, newest first (LIFO) or oldest first (FIFO). */
static void bm_batch(gb_state *st, void *arg) {
    int order = *(const int *)arg;
    size_t size = (size_t)gb_range(st, 0), n = (size_t)gb_range(st, 1);
    void **slot = malloc(n * sizeof *slot);
    if (!slot) {
        cannot_run(st, "out of memory for the batch's pointers");
        return;
    }
    measure m;
    measure_start(&m);
    while (gb_keep_running(st)) {
        for (size_t i = 0; i < n; i++) slot[i] = malloc(size);
        escape(slot);
        for (size_t i = 0; i < n; i++) free(slot[order == ORDER_LIFO ? n - 1 - i : i]);
    }
    finish(st, &m, (int64_t)n, (double)(n * size));
    free(slot);
}

/* One item: a free of a random one of range(1) held blocks and a malloc of a size
 * uniform in 8..range(0) in its place, the new block's first byte written, as
 * mhbench's thread-local-churn does, but with nothing else in the loop: the generator
 * (xorshift64*) lives in a register and picks by multiply and shift, and there is no
 * per-operation accounting. mhbench's loop keeps its generator, counts and live bytes
 * in memory, and that traffic hid a 10% difference in free's fast path that this loop
 * shows (DEVELOPERS.md). The block array comes from the OS (wl_zalloc_lines), at the
 * same place under every allocator. */
static void bm_churn(gb_state *st, void *arg) {
    (void)arg;
    uint64_t max = (uint64_t)gb_range(st, 0), slots = (uint64_t)gb_range(st, 1);
    void **slot = wl_zalloc_lines(slots * sizeof *slot);
    if (!slot) {
        cannot_run(st, "out of memory for the churn's block array");
        return;
    }
    uint64_t x = 0x9e3779b97f4a7c15ull, sizes = max - 7;
    measure m;
    measure_start(&m);
    while (gb_keep_running(st)) {
        x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
        uint64_t r = x * 0x2545f4914f6cdd1dull;
        void **s = &slot[(r & 0xffffffffu) * slots >> 32];
        free(*s);
        char *p = malloc(8 + ((r >> 32) * sizes >> 32));
        if (p) *(volatile char *)p = 0;
        *s = p;
    }
    finish(st, &m, 1, (double)slots * (double)(8 + max) / 2);   /* the mean live */
    for (uint64_t i = 0; i < slots; i++) free(slot[i]);
    wl_free_lines(slot);
}

/* ---- frees of objects another thread allocated ---- */

#define REMOTE_BATCH 4096

typedef struct producer {
    pthread_t thread;
    sem_t go, done;
    size_t size;
    bool quit;
    void *slot[REMOTE_BATCH];
} producer;

/* Allocates a batch each time it is asked, touching each object as a real producer does. */
static void *producer_main(void *arg) {
    producer *pr = arg;
    for (;;) {
        sem_wait(&pr->go);
        if (pr->quit) return NULL;
        for (size_t i = 0; i < REMOTE_BATCH; i++) {
            pr->slot[i] = malloc(pr->size);
            if (pr->slot[i]) *(char *)pr->slot[i] = 1;
        }
        sem_post(&pr->done);
    }
}

/* The first two CPUs this thread may run on; *b == *a when there is only one. */
static bool two_cpus(const cpu_set_t *allowed, int *a, int *b) {
    *a = *b = -1;
    for (int c = 0; c < CPU_SETSIZE; c++) {
        if (!CPU_ISSET(c, allowed)) continue;
        if (*a < 0) *a = c;
        else { *b = c; return true; }
    }
    *b = *a;
    return false;
}

static bool pin_thread(pthread_t t, int cpu) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    return pthread_setaffinity_np(t, sizeof one, &one) == 0;
}

/* One item: one free, by this thread pinned to one CPU, of an object that a producer
 * thread allocated pinned to another CPU (range(1) = 1) or to the same CPU (0, the
 * local baseline with the same hand-off). Batches of REMOTE_BATCH are handed over
 * with the timer and counters paused: only the frees are measured. */
static void bm_remote_free(gb_state *st, void *arg) {
    (void)arg;
    bool remote = gb_range(st, 1) != 0;
    cpu_set_t allowed;
    int cpu_free, cpu_alloc;
    sched_getaffinity(0, sizeof allowed, &allowed);
    if (!two_cpus(&allowed, &cpu_free, &cpu_alloc) && remote) {
        cannot_run(st, "needs two CPUs");
        return;
    }
    if (!remote) cpu_alloc = cpu_free;

    producer pr = {.size = (size_t)gb_range(st, 0)};
    sem_init(&pr.go, 0, 0);
    sem_init(&pr.done, 0, 0);
    pthread_create(&pr.thread, NULL, producer_main, &pr);
    if (!pin_thread(pr.thread, cpu_alloc) || !pin_thread(pthread_self(), cpu_free)) {
        cannot_run(st, "cannot pin the two threads to their CPUs");
    } else {
        char label[64];
        snprintf(label, sizeof label, "free_cpu:%d alloc_cpu:%d", cpu_free, cpu_alloc);
        gb_set_label(st, label);
        measure m;
        measure_start(&m);
        while (gb_keep_running(st)) {
            gb_pause_timing(st);
            measure_pause(&m, true);
            sem_post(&pr.go);
            sem_wait(&pr.done);
            measure_pause(&m, false);
            gb_resume_timing(st);
            for (size_t i = 0; i < REMOTE_BATCH; i++) free(pr.slot[i]);
        }
        finish(st, &m, REMOTE_BATCH, (double)(REMOTE_BATCH * pr.size));
    }
    pr.quit = true;
    sem_post(&pr.go);
    pthread_join(pr.thread, NULL);
    sem_destroy(&pr.go);
    sem_destroy(&pr.done);
    pthread_setaffinity_np(pthread_self(), sizeof allowed, &allowed);
}

/* ------------------------------------------------------------------------------------
 * Registration: the sizes and shapes measured (names and arguments are the
 * result records' workload names and parameters, so change them knowingly).
 */

/* 8 bytes, then every small size class of multiheap exactly (8192 among them; its
 * largest is MH_SMALL_MAX_BYTES), so each class has a pair of its own; constants, so
 * that every allocator runs the same benchmarks (micro.boundary checks the list against
 * the library's classes); then the first large size. */
static const int64_t pair_sizes[] = {8,    16,   32,   48,   64,   80,   96,   112,
                                     128,  144,  160,  176,  192,  208,  224,  240,
                                     256,  288,  320,  352,  384,  416,  448,  496,
                                     512,  528,  576,  672,  736,  800,  896,  1008,
                                     1024, 1120, 1248, 1392, 1552, 1712, 1920, 2048,
                                     2096, 2336, 2608, 2832, 3104, 3440, 3840, 4080,
                                     4096, 4352, 4672, 5024, 5440, 5936, 6544, 7264,
                                     8176, 8192, 9344, 10912, 13088, 14544, 16368,
                                     MH_SMALL_MAX_BYTES, MH_SMALL_MAX_BYTES + 1};
static const int64_t batch_sizes[] = {16, 64, 512, 4096};
static const int64_t batch_counts[] = {100, 1000};
static const int64_t calloc_sizes[] = {16, 256, 4096, 65536};
static const int64_t realloc_to[] = {4096, 1 << 20};
static const int64_t remote_sizes[] = {16, 64, 512};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void register_benchmarks(void) {
    static const int lifo = ORDER_LIFO, fifo = ORDER_FIFO;
    int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);

    gb_register("empty", bm_empty, NULL);
    gb_arg_names(gb_args(gb_register("pair", bm_pair, NULL), pair_sizes, COUNT(pair_sizes)),
                 "size");
    gb_bench *lb = gb_register("batch_lifo", bm_batch, (void *)&lifo);
    gb_bench *fb = gb_register("batch_fifo", bm_batch, (void *)&fifo);
    for (size_t i = 0; i < COUNT(batch_sizes); i++)
        for (size_t j = 0; j < COUNT(batch_counts); j++) {
            gb_args_pair(lb, batch_sizes[i], batch_counts[j]);
            gb_args_pair(fb, batch_sizes[i], batch_counts[j]);
        }
    gb_arg_names(lb, "size,n");
    gb_arg_names(fb, "size,n");
    gb_bench *cb = gb_register("churn", bm_churn, NULL);
    gb_args_pair(cb, 512, 1024);
    gb_args_pair(cb, 512, 64);
    gb_arg_names(cb, "max,slots");
    gb_arg_names(gb_args(gb_register("calloc", bm_calloc, NULL), calloc_sizes, COUNT(calloc_sizes)),
                 "size");
    gb_arg_names(gb_args(gb_register("realloc_grow", bm_realloc_grow, NULL), realloc_to,
                         COUNT(realloc_to)),
                 "to");
    gb_arg_names(gb_args_range(gb_register("aligned", bm_aligned, NULL), 16, 4096, 2), "align");
    gb_bench *rf = gb_use_real_time(gb_register("remote_free", bm_remote_free, NULL));
    for (size_t i = 0; i < COUNT(remote_sizes); i++) {
        gb_args_pair(rf, remote_sizes[i], 0);
        gb_args_pair(rf, remote_sizes[i], 1);
    }
    gb_arg_names(rf, "size,remote");
    /* Oversubscribed up to twice the online CPUs: per-core heaps must cope with that. */
    gb_thread_range(gb_arg_names(gb_arg(gb_use_real_time(gb_register("pair_mt", bm_pair, NULL)), 64),
                                 "size"),
                    1, 2 * (ncpu > 0 ? ncpu : 1));
}

/* ------------------------------------------------------------------------------------ */

static void usage(FILE *f) {
    fprintf(f,
            "usage: mhmicro --allocator=NAME [--benchmark_* flags]\n"
            "  NAME: glibc tcmalloc jemalloc mimalloc multiheap multiheap-seed, NAME=/path/lib.so,\n"
            "  or a variant NAME=BASE+VAR=VALUE... (runners/preload.h).\n"
            "  mhmicro re-executes itself with LD_PRELOAD set, checks which library serves\n"
            "  malloc and exits 3 if it is not NAME's.\n"
            "  Google Benchmark's own flags follow (e.g. --benchmark_filter=REGEX,\n"
            "  --benchmark_repetitions=N, --benchmark_format=json, --benchmark_list_tests).\n");
}

/* Removes argv[i] from argv. */
static void drop_arg(int *argc, char **argv, int i) {
    memmove(&argv[i], &argv[i + 1], (size_t)(*argc - i) * sizeof *argv);
    (*argc)--;
}

/* Appends line to buf (used bytes off) after a newline, if it fits whole; the new off. */
static size_t append_line(char *buf, size_t size, size_t off, const char *line) {
    size_t need = strlen(line) + (off ? 1 : 0);
    if (strchr(line, '\n') || off + need >= size) return off;
    snprintf(buf + off, size - off, "%s%s", off ? "\n" : "", line);
    return off + need;
}

/* Puts what mh_preload_verify found into the JSON context, for the converter. */
static void add_allocator_context(const mh_allocator *a, const mh_served *s) {
    char small_max[16];
    snprintf(small_max, sizeof small_max, "%d", MH_SMALL_MAX_BYTES);
    gb_add_context("mh.allocator", a->name);
    gb_add_context("mh.requested", a->path);
    gb_add_context("mh.served_by", s->served_by);
    gb_add_context("mh.verified", s->verified ? "true" : "false");
    gb_add_context("mh.version", s->version);
    gb_add_context("mh.file_hash", s->file_hash);
    gb_add_context("mh.options", s->options);
    gb_add_context("mh.options_reason", s->options_reason);
    gb_add_context("mh.small_max", small_max);
    /* the spec's variables and the inherited tuning ones, a NAME=VALUE a line; one that
       does not fit whole is left out, not cut */
    char vars[4096] = "", inherited[4096] = "";
    size_t off = 0;
    for (int i = 0; i < a->nenv; i++) off = append_line(vars, sizeof vars, off, a->env[i]);
    off = 0;
    char *const *it = NULL;
    for (const char *e; (e = mh_inherited_tuning_next(a, &it));) off = append_line(inherited, sizeof inherited, off, e);
    gb_add_context("mh.env", vars);
    gb_add_context("mh.inherited_env", inherited);
    char now[32];
    time_t t = time(NULL);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    gb_add_context("mh.timestamp", now);
    gb_add_context("mh.counters_source",
                   "perf_event_open per benchmark thread around the timed loop (Debian's "
                   "libbenchmark has no libpfm: --benchmark_perf_counters unsupported)");
}

/* The Google Benchmark flags of this run, so the records say how it was measured. */
static void add_args_context(int argc, char **argv) {
    char args[1024] = "";
    size_t used = 0;
    for (int i = 1; i < argc && used < sizeof args; i++)
        used += (size_t)snprintf(args + used, sizeof args - used, "%s%s", i > 1 ? " " : "", argv[i]);
    gb_add_context("mh.gbench_args", args);
}

int main(int argc, char **argv) {
    int spec_at = 0;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--allocator=", 12) == 0) spec_at = i;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
    }
    if (!spec_at || !argv[spec_at][12]) {
        fprintf(stderr, "mhmicro: missing --allocator=NAME; see mhmicro --help\n");
        return 2;
    }
    mh_allocator a;
    mh_served s;
    mh_preload_or_exit("mhmicro", argv[spec_at] + 12, argv, &a, &s);
    drop_arg(&argc, argv, spec_at);
    add_allocator_context(&a, &s);
    add_args_context(argc, argv);
    probe_counters();
    register_benchmarks();
    return gb_main(argc, argv);
}
