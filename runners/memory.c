/*
 * Memory over time (driver.h): a sampler thread reads the resident set size
 * from /proc/self/statm and the workers' live bytes every interval during the
 * measured phase. The sampler sleeps between samples, so on a machine with
 * fewer CPUs than workers it costs a wake-up per interval, not a core.
 *
 * The peak RSS is the kernel's high-water mark (VmHWM), reset when the measured
 * phase starts: a peak shorter than the interval (size-sweep's 1 MiB step lasts a
 * few milliseconds) falls between samples, and which allocator's peak a sample
 * happened to catch would otherwise decide the comparison. Where the reset is
 * refused, the peak is the largest sample and the record says why.
 */
#define _GNU_SOURCE
#include "driver.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct sample {
    double t_ms;
    uint64_t rss_kib;
    int64_t live_kib;
} sample;

struct mh_memory {
    mh_run *run;
    unsigned interval_ms;
    pthread_t tid;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
    uint64_t t0_ns;             /* the start barrier: t_ms counts from it */
    sample *s;
    size_t n, cap;
    uint64_t peak_rss_kib, end_rss_kib;   /* largest and last sample */
    int64_t peak_live_bytes;
    bool hwm_reset;                        /* mh_peak_rss_reset() at the start; if not, */
    char hwm_why[160];                     /* why */
    uint64_t hwm_kib;                      /* VmHWM at the end; 0: not read */
    int64_t file_rss_kib;                  /* RssFile + RssShmem at the end; -1: not read */
};

bool mh_peak_rss_reset(char *why, size_t len)
{
    /* "5": clear_refs resets the peak RSS only (Linux >= 4.0); 1-4 would touch page bits. */
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    int err = fd < 0 ? errno : write(fd, "5", 1) == 1 ? 0 : errno ? errno : EIO;
    if (fd >= 0)
        close(fd);
    if (err)
        snprintf(why, len, "/proc/self/clear_refs: %s (cannot reset VmHWM)", strerror(err));
    return !err;
}

bool mh_status_rss(uint64_t *peak_kib, uint64_t *now_kib)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[128];
    int found = 0;
    if (!f)
        return false;
    while (fgets(line, sizeof line, f))
        found += sscanf(line, "VmHWM: %" SCNu64, peak_kib) + sscanf(line, "VmRSS: %" SCNu64, now_kib);
    fclose(f);
    return found == 2;
}

/* The resident pages that are no allocator's: the binary, the libraries, shared memory
   (RssFile + RssShmem); -1 where the kernel does not say (before 4.5). */
static int64_t file_rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[128];
    uint64_t file = 0, shmem = 0;
    int found = 0;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        found += sscanf(line, "RssFile: %" SCNu64, &file) + sscanf(line, "RssShmem: %" SCNu64, &shmem);
    fclose(f);
    return found == 2 ? (int64_t)(file + shmem) : -1;
}

uint64_t mh_rss_kib(void)
{
    /* Not a lazily set static: the sampler and a workload (growth-storm's thread 0) call
       this at once, and the first call's store raced with the other's load (TSan). */
    long page_kib = sysconf(_SC_PAGESIZE) / 1024;
    char buf[128];
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, resident = 0;
    if (f) {
        if (!fgets(buf, sizeof buf, f) || sscanf(buf, "%lu %lu", &size, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return (uint64_t)resident * (uint64_t)page_kib;
}

/* Children of mh_run_child count in their parent's slot (live_src). */
static int64_t run_live_bytes(const mh_run *run)
{
    int64_t sum = 0;
    for (int i = 0; i < run->threads; i++) {
        mh_thread *src = atomic_load_explicit(&run->h[i].live_src, memory_order_acquire);
        sum += atomic_load_explicit(&src->live_bytes, memory_order_relaxed);
    }
    return sum;
}

static void take_sample(mh_memory *m)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 1024;
        sample *s = realloc(m->s, cap * sizeof *s);
        if (!s)
            return;
        m->s = s;
        m->cap = cap;
    }
    int64_t live = run_live_bytes(m->run);
    sample *s = &m->s[m->n++];
    s->t_ms = (double)(mh_now_ns() - m->t0_ns) / 1e6;
    s->rss_kib = mh_rss_kib();
    s->live_kib = live / 1024;
    if (s->rss_kib > m->peak_rss_kib)
        m->peak_rss_kib = s->rss_kib;
    if (live > m->peak_live_bytes)
        m->peak_live_bytes = live;
}

static void *sampler(void *arg)
{
    mh_memory *m = arg;
    /* Before the barrier: no worker starts until the mark is reset. */
    m->hwm_reset = mh_peak_rss_reset(m->hwm_why, sizeof m->hwm_why);
    m->t0_ns = mh_run_wait_start(m->run);
    struct timespec next = { (time_t)(m->t0_ns / 1000000000u), (long)(m->t0_ns % 1000000000u) };
    pthread_mutex_lock(&m->lock);
    while (!m->stop) {
        take_sample(m);
        next.tv_nsec += (long)m->interval_ms * 1000000L;
        while (next.tv_nsec >= 1000000000L) {
            next.tv_nsec -= 1000000000L;
            next.tv_sec++;
        }
        while (!m->stop && pthread_cond_timedwait(&m->wake, &m->lock, &next) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

mh_memory *mh_memory_start(mh_run *run, unsigned interval_ms)
{
    mh_memory *m = calloc(1, sizeof *m);
    m->run = run;
    m->interval_ms = interval_ms ? interval_ms : 10;
    pthread_mutex_init(&m->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&m->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&m->tid, NULL, sampler, m) != 0) {
        fprintf(stderr, "mhbench: cannot start the RSS sampler thread: %s\n", strerror(errno));
        exit(1);
    }
    return m;
}

void mh_memory_stop(mh_memory *m)
{
    pthread_mutex_lock(&m->lock);
    m->stop = true;
    pthread_cond_signal(&m->wake);
    pthread_mutex_unlock(&m->lock);
    pthread_join(m->tid, NULL);
    take_sample(m);
    m->end_rss_kib = m->n ? m->s[m->n - 1].rss_kib : 0;
    m->file_rss_kib = file_rss_kib();
    uint64_t hwm, now;
    if (m->hwm_reset && mh_status_rss(&hwm, &now))
        m->hwm_kib = hwm;
    else if (m->hwm_reset)
        snprintf(m->hwm_why, sizeof m->hwm_why, "VmHWM unreadable in /proc/self/status");
}

void mh_memory_write(const mh_memory *m, mh_jw *w)
{
    mh_jw_obj_begin(w, "memory");
    mh_jw_int(w, "sample_interval_ms", m->interval_ms);
    mh_jw_obj_begin(w, "rss_series");
    mh_jw_arr_begin(w, "t_ms");
    for (size_t i = 0; i < m->n; i++)
        mh_jw_num(w, NULL, (double)(int64_t)(m->s[i].t_ms * 1000) / 1000);
    mh_jw_arr_end(w);
    mh_jw_arr_begin(w, "rss_kib");
    for (size_t i = 0; i < m->n; i++)
        mh_jw_int(w, NULL, (long long)m->s[i].rss_kib);
    mh_jw_arr_end(w);
    mh_jw_arr_begin(w, "live_kib");
    for (size_t i = 0; i < m->n; i++)
        mh_jw_int(w, NULL, m->s[i].live_kib);
    mh_jw_arr_end(w);
    mh_jw_obj_end(w);
    /* The kernel's counters are per-CPU approximations: never report less than a sample saw. */
    uint64_t peak = m->hwm_kib > m->peak_rss_kib ? m->hwm_kib : m->peak_rss_kib;
    mh_jw_int(w, "peak_rss_kib", (long long)peak);
    mh_jw_str(w, "peak_rss_source", m->hwm_kib ? "VmHWM" : "samples");
    mh_jw_str(w, "peak_rss_reason", m->hwm_kib ? NULL : m->hwm_why);
    mh_jw_int(w, "sampled_peak_rss_kib", (long long)m->peak_rss_kib);
    mh_jw_int(w, "end_rss_kib", (long long)m->end_rss_kib);
    /* in every RSS figure, allocator or not: what the report takes off to compare the
       allocators' own memory */
    if (m->file_rss_kib >= 0)
        mh_jw_int(w, "file_rss_kib", m->file_rss_kib);
    else
        mh_jw_null(w, "file_rss_kib");
    mh_jw_int(w, "peak_live_kib", m->peak_live_bytes / 1024);
    /* RSS per live byte: fragmentation plus the allocator's caches; undefined without live
       bytes. Both peaks are samples, so that a short peak of one is not set against the
       other's sampled one. */
    if (m->peak_live_bytes > 0)
        mh_jw_num(w, "rss_over_live", (double)m->peak_rss_kib * 1024.0 / (double)m->peak_live_bytes);
    else
        mh_jw_null(w, "rss_over_live");
    mh_jw_str(w, "rss_over_live_reason", m->peak_live_bytes > 0 ? NULL
              : "the workload held no live bytes (null path, or nothing tracked)");
    mh_jw_obj_end(w);
}

void mh_memory_free(mh_memory *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->lock);
    pthread_cond_destroy(&m->wake);
    free(m->s);
    free(m);
}
