/*
 * growth-storm: in waves, all threads allocate a large volume at once, hold
 * it, and free everything. Thread 0 times each phase between barriers, so a
 * wave's time is the slowest thread's. After the last wave, report() watches
 * RSS for a while: does the memory go back to the OS, and how fast?
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define GS_SETTLE_STEP_MS 10

typedef struct gs {
    wl_sizes sizes;
    int waves;
    size_t wave_bytes;          /* per thread */
    size_t slots;               /* per thread: enough for wave_bytes of size-min blocks */
    int hold_ms, settle_ms;
    uint64_t last_free_ns;      /* when the last wave's frees were all done (thread 0) */
    wl_block *blocks;
    double *alloc_ms, *free_ms, *rss_full_kib, *rss_after_kib;   /* per wave, written by thread 0 */
} gs;

static const mh_param_def gs_params[] = {
    { "waves", MH_PARAM_INT, "5", 1, 10000, NULL, "allocate / hold / free cycles" },
    { "wave-mib", MH_PARAM_INT, "48", 1, 1 << 20, NULL, "MiB each thread allocates per wave" },
    WL_SIZE_PARAMS("uniform", "256", "8192"),
    { "hold-ms", MH_PARAM_INT, "20", 0, 60000, NULL,
      "milliseconds the full volume is held before the frees (RSS is sampled meanwhile)" },
    { "settle-ms", MH_PARAM_INT, "1000", 0, 60000, NULL,
      "after the run, milliseconds RSS is sampled every 10 ms to see memory go back" },
    { NULL },
};

static void gs_free_state(gs *s)
{
    wl_free_lines(s->blocks);
    wl_free_lines(s->alloc_ms);
    wl_free_lines(s->free_ms);
    wl_free_lines(s->rss_full_kib);
    wl_free_lines(s->rss_after_kib);
    wl_free_lines(s);
}

static void *gs_setup(mh_run *run)
{
    const char *name = "growth-storm";
    gs *s = wl_zalloc_lines(sizeof *s);
    if (!s)
        return NULL;
    s->waves = (int)mh_param_int(run, "waves");
    s->wave_bytes = (size_t)mh_param_int(run, "wave-mib") << 20;
    s->hold_ms = (int)mh_param_int(run, "hold-ms");
    s->settle_ms = (int)mh_param_int(run, "settle-ms");
    if (!wl_sizes_from_params(&s->sizes, run, name)) {
        wl_free_lines(s);
        return NULL;
    }
    s->slots = s->wave_bytes / s->sizes.min + 1;
    s->alloc_ms = wl_zalloc_lines((size_t)s->waves * sizeof(double));
    s->free_ms = wl_zalloc_lines((size_t)s->waves * sizeof(double));
    s->rss_full_kib = wl_zalloc_lines((size_t)s->waves * sizeof(double));
    s->rss_after_kib = wl_zalloc_lines((size_t)s->waves * sizeof(double));
    s->blocks = wl_blocks_new(run, name, s->slots);
    if (!s->alloc_ms || !s->free_ms || !s->rss_full_kib || !s->rss_after_kib || !s->blocks) {
        gs_free_state(s);
        return NULL;
    }
    return s;
}

static void gs_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0)
        continue;
}

/* Allocates until the wave's volume is reached; returns the blocks used. */
static size_t gs_fill(mh_thread *t, const gs *s, wl_block *b)
{
    const wl_sizes sizes = s->sizes;   /* in locals: see workload.h */
    const size_t wave_bytes = s->wave_bytes, slots = s->slots;
    size_t used = 0, bytes = 0;
    while (bytes < wave_bytes && used < slots) {
        b[used].n = wl_size_next(&sizes, t);
        b[used].p = wl_alloc(t, b[used].n);
        bytes += b[used++].n;
    }
    return used;
}

static double gs_ms_since(uint64_t t0) { return (double)(mh_now_ns() - t0) / 1e6; }

static void gs_thread(mh_thread *t)
{
    gs *s = t->shared;
    wl_block *b = wl_blocks_of(s->blocks, s->slots, t->index);
    bool timer = t->index == 0;
    for (int w = 0; w < s->waves; w++) {
        mh_barrier(t);
        uint64_t t0 = mh_now_ns();
        size_t used = gs_fill(t, s, b);
        mh_barrier(t);
        if (timer) {
            s->alloc_ms[w] = gs_ms_since(t0);
            s->rss_full_kib[w] = (double)mh_rss_kib();
            gs_sleep_ms(s->hold_ms);
        }
        mh_barrier(t);
        t0 = mh_now_ns();
        wl_blocks_free_local(t, b, used);
        mh_barrier(t);
        if (timer) {
            s->last_free_ns = mh_now_ns();
            s->free_ms[w] = (double)(s->last_free_ns - t0) / 1e6;
            s->rss_after_kib[w] = (double)mh_rss_kib();
        }
    }
}

/* RSS every 10 ms until settle-ms after the last free: the memory-return curve,
 * timed from the last free itself (the joins and the driver's wrap-up come first,
 * so the first sample is a few ms late). The target reads the first sample
 * at 1 s or later; with settle-ms under 1000 there is none, and no number is made up. */
static void gs_report_settling(mh_run *run, const gs *s)
{
    size_t cap = (size_t)s->settle_ms / GS_SETTLE_STEP_MS + 2, n = 0;
    double *rss = malloc(cap * sizeof *rss), *t_ms = malloc(cap * sizeof *t_ms);
    double rss_1s = -1;
    for (; rss && t_ms && n < cap; n++) {
        if (n)
            gs_sleep_ms(GS_SETTLE_STEP_MS);
        t_ms[n] = gs_ms_since(s->last_free_ns);
        rss[n] = (double)mh_rss_kib();
        /* the last sample may land past 1 s when settle-ms is just under it */
        if (rss_1s < 0 && s->settle_ms >= 1000 && t_ms[n] >= 1000)
            rss_1s = rss[n];
        if (t_ms[n] >= s->settle_ms) {
            n++;
            break;
        }
    }
    if (n) {
        mh_series(run, "rss_after_free_kib", rss, n);
        mh_series(run, "rss_after_free_t_ms", t_ms, n);
    }
    mh_metric(run, "rss_after_free_step_ms", GS_SETTLE_STEP_MS);
    if (rss_1s >= 0)
        mh_metric(run, "rss_1s_after_free_kib", rss_1s);
    free(rss);
    free(t_ms);
}

static void gs_report(mh_run *run, void *shared)
{
    gs *s = shared;
    size_t n = (size_t)s->waves;
    double *wave_ms = malloc(n * sizeof *wave_ms);
    for (size_t w = 0; wave_ms && w < n; w++)
        wave_ms[w] = s->alloc_ms[w] + s->free_ms[w];
    if (wave_ms)
        mh_series(run, "wave_ms", wave_ms, n);
    free(wave_ms);
    mh_series(run, "wave_alloc_ms", s->alloc_ms, n);
    mh_series(run, "wave_free_ms", s->free_ms, n);
    mh_series(run, "rss_full_kib", s->rss_full_kib, n);
    mh_series(run, "rss_after_wave_kib", s->rss_after_kib, n);
    mh_metric(run, "wave_volume_kib", (double)(s->wave_bytes >> 10) * mh_run_threads(run));
    gs_report_settling(run, s);
    gs_free_state(s);
}

const mh_workload mh_wl_growth_storm = {
    .name = "growth-storm",
    .summary = "all threads allocate a large volume at once, hold, free all; in waves",
    .help =
        "In each of --waves waves every thread allocates --wave-mib MiB as fast as it can\n"
        "(the driver writes one byte per 4 KiB, so the memory is resident), all hold it for --hold-ms,\n"
        "then each frees its own blocks. The first wave forces heap growth from the OS on\n"
        "every CPU at once (global growth locks, page faults, mmap); later waves show\n"
        "whether freed memory is reused (and stolen across heaps) or grown again. Per wave it\n"
        "records alloc and free time (slowest thread), RSS while full and RSS after the frees;\n"
        "after the run it samples RSS every 10 ms until --settle-ms after the last free\n"
        "(rss_after_free_kib at rss_after_free_t_ms, timed from the last free), and\n"
        "rss_1s_after_free_kib, the first sample 1 s or more after it (absent when\n"
        "--settle-ms < 1000). The wall time includes the holds.\n"
        "A good allocator grows in large steps without a global lock, reuses the first\n"
        "wave's memory in later waves (flat wave times, RSS not climbing), and returns most\n"
        "of it to the OS soon after the last free (rss_1s_after_free_kib near the start-up\n"
        "RSS). Classic analogs: malloc-large, mstress's retention phases.",
    .params = gs_params,
    .setup = gs_setup,
    .thread = gs_thread,
    .report = gs_report,
};
