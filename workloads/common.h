/*
 * What several workloads share: per-thread block arrays, size distributions,
 * a bounded single-producer/single-consumer ring, a spin-then-yield wait, and
 * the one-line error for parameters that are wrong together.
 */
#ifndef WL_COMMON_H
#define WL_COMMON_H

#include "workload.h"

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A block as the driver needs it back: the pointer and the size asked for. */
typedef struct wl_block {
    void *p;
    size_t n;
} wl_block;

/* ---- per-thread arrays, allocated in setup() ---- */

/* `per_thread` elements of `size` bytes for each of the run's threads, each thread's part
 * on its own cache lines; NULL after an error line. */
void *wl_per_thread_new(const mh_run *run, const char *workload, size_t per_thread, size_t size);
static inline void *wl_per_thread_of(void *all, size_t per_thread, size_t size, int index)
{
    return (char *)all + (size_t)index * wl_round_to_line(per_thread * size);
}

static inline wl_block *wl_blocks_new(const mh_run *run, const char *workload, size_t per_thread)
{
    return wl_per_thread_new(run, workload, per_thread, sizeof(wl_block));
}
static inline wl_block *wl_blocks_of(wl_block *all, size_t per_thread, int index)
{
    return wl_per_thread_of(all, per_thread, sizeof(wl_block), index);
}
/* Frees the blocks still held (p != NULL) as local frees and empties the slots. */
void wl_blocks_free_local(mh_thread *t, wl_block *b, size_t n);

/* ---- size distributions: parameters size-dist, size-min, size-max ---- */

typedef enum { WL_SIZE_FIXED, WL_SIZE_UNIFORM, WL_SIZE_POWER_LAW } wl_size_kind;

typedef struct wl_sizes {
    wl_size_kind kind;
    size_t min, max;
    unsigned octaves;   /* power-law: power-of-two octaves from min up to max */
    uint32_t weight;    /* power-law: the octaves' total weight, 65536 a whole octave and
                           the top one's share of its log-width (a top octave of one size
                           took 1/octaves of the draws, 14% of 16..1024 at 1024) */
} wl_sizes;

/* The three parameter-table entries, with per-workload defaults (text). */
#define WL_SIZE_PARAMS(dist, min, max)                                                     \
    { "size-dist", MH_PARAM_CHOICE, dist, 0, 0, "fixed|uniform|power-law",                 \
      "fixed: every block is size-min; uniform: uniform in [size-min, size-max]; "         \
      "power-law: each whole power-of-two octave of [size-min, size-max] equally likely, " \
      "a partial top octave in proportion to its width on a log scale "                    \
      "(density ~ 1/size, small sizes dominate by count)" },                               \
    { "size-min", MH_PARAM_INT, min, 1, 1 << 26, NULL, "smallest block size in bytes" },   \
    { "size-max", MH_PARAM_INT, max, 1, 1 << 26, NULL, "largest block size in bytes" }

/* Reads the three parameters; false after an error line if size-min > size-max. */
bool wl_sizes_from_params(wl_sizes *s, const mh_run *run, const char *workload);

static inline size_t wl_size_next(const wl_sizes *s, mh_thread *t)
{
    if (s->kind == WL_SIZE_FIXED)
        return s->min;
    uint64_t r = mh_rand(t);
    if (s->kind == WL_SIZE_UNIFORM)
        return s->min + r % (s->max - s->min + 1);
    /* One draw serves both choices: the low bits pick the octave by weight, the high bits
       the size in it. */
    unsigned k = (unsigned)(((r & 0xffffffffu) * s->weight) >> 32) >> 16;
    size_t lo = s->min << k;
    size_t hi = (lo << 1) - 1;
    if (hi > s->max)
        hi = s->max;
    return lo + (r >> 32) % (hi - lo + 1);
}

/* ---- waiting: spin briefly, then give the CPU away (many threads share few cores) ---- */

typedef struct wl_backoff {
    unsigned spins;
} wl_backoff;

static inline void wl_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

static inline void wl_backoff_wait(wl_backoff *b)
{
    if (b->spins < 64) {
        b->spins++;
        wl_cpu_relax();
    } else {
        sched_yield();
    }
}

static inline void wl_backoff_reset(wl_backoff *b) { b->spins = 0; }

/* ---- bounded lock-free single-producer/single-consumer ring of blocks ---- */

typedef struct wl_ring {
    _Alignas(WL_LINE) _Atomic size_t head;  /* next slot to pop: written by the consumer only */
    _Alignas(WL_LINE) _Atomic size_t tail;  /* next slot to push: written by the producer only */
    _Alignas(WL_LINE) size_t mask;          /* capacity - 1, capacity a power of two */
    wl_block *slots;
} wl_ring;

/* n rings, zeroed and cache-line aligned (then wl_ring_init each one used). */
static inline wl_ring *wl_rings_new(size_t n) { return wl_zalloc_lines(n * sizeof(wl_ring)); }

/* Capacity: `depth` rounded up to a power of two. False on out of memory. */
bool   wl_ring_init(wl_ring *r, size_t depth);
void   wl_ring_destroy(wl_ring *r);
/* Push up to n blocks, published together; returns how many fit. */
size_t wl_ring_push(wl_ring *r, const wl_block *b, size_t n);
/* Pop up to max blocks; returns how many. */
size_t wl_ring_pop(wl_ring *r, wl_block *out, size_t max);

/* ---- parameters that are wrong together ---- */

/* Prints "workload: --lo_name (lo) is larger than --hi_name (hi); ..." and returns false. */
bool wl_check_le(const char *workload, const char *lo_name, int64_t lo,
                 const char *hi_name, int64_t hi);
/* Prints "workload: needs at least `min` threads; run with --threads=min or more". */
bool wl_check_threads(const mh_run *run, const char *workload, int min);

/* Objects may be written only when they are real (not the null path). */
static inline bool wl_objects_real(const mh_thread *t) { return !(t->flags & MH_T_NULL); }

#endif /* WL_COMMON_H */
