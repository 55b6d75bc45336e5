#include "common.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *wl_per_thread_new(const mh_run *run, const char *workload, size_t per_thread, size_t size)
{
    size_t threads = (size_t)mh_run_threads(run);
    void *p = wl_zalloc_lines(threads * wl_round_to_line(per_thread * size));
    if (!p)
        fprintf(stderr, "%s: out of memory for %zu x %zu per-thread slots; lower the slot or object count\n",
                workload, threads, per_thread);
    return p;
}

void wl_blocks_free_local(mh_thread *t, wl_block *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (b[i].p) {
            wl_free(t, b[i].p, b[i].n);
            b[i].p = NULL;
        }
    }
}

bool wl_sizes_from_params(wl_sizes *s, const mh_run *run, const char *workload)
{
    const char *dist = mh_param_choice(run, "size-dist");
    int64_t min = mh_param_int(run, "size-min"), max = mh_param_int(run, "size-max");
    s->kind = !strcmp(dist, "fixed")   ? WL_SIZE_FIXED
            : !strcmp(dist, "uniform") ? WL_SIZE_UNIFORM
                                       : WL_SIZE_POWER_LAW;
    s->min = (size_t)min;
    s->max = (size_t)max;
    s->octaves = 1;
    while ((s->min << s->octaves) <= s->max)
        s->octaves++;
    /* the top octave [min << (octaves - 1), max] weighs log2((max + 1) / its start) */
    if (s->kind == WL_SIZE_POWER_LAW && s->min <= s->max) {
        double top = log2(((double)s->max + 1) / (double)(s->min << (s->octaves - 1)));
        uint32_t top_weight = (uint32_t)(top * 65536 + 0.5);
        s->weight = (s->octaves - 1) * 65536u + (top_weight ? top_weight : 1);
    }
    return s->kind == WL_SIZE_FIXED || wl_check_le(workload, "size-min", min, "size-max", max);
}

bool wl_ring_init(wl_ring *r, size_t depth)
{
    size_t cap = 1;
    while (cap < depth)
        cap <<= 1;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    r->mask = cap - 1;
    r->slots = wl_zalloc_lines_resident(cap * sizeof *r->slots);
    return r->slots != NULL;
}

void wl_ring_destroy(wl_ring *r)
{
    wl_free_lines(r->slots);
    r->slots = NULL;
}

size_t wl_ring_push(wl_ring *r, const wl_block *b, size_t n)
{
    size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    size_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    size_t room = r->mask + 1 - (tail - head);
    if (n > room)
        n = room;
    for (size_t i = 0; i < n; i++)
        r->slots[(tail + i) & r->mask] = b[i];
    atomic_store_explicit(&r->tail, tail + n, memory_order_release);
    return n;
}

size_t wl_ring_pop(wl_ring *r, wl_block *out, size_t max)
{
    size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    size_t n = tail - head;
    if (n > max)
        n = max;
    for (size_t i = 0; i < n; i++)
        out[i] = r->slots[(head + i) & r->mask];
    atomic_store_explicit(&r->head, head + n, memory_order_release);
    return n;
}

bool wl_check_le(const char *workload, const char *lo_name, int64_t lo,
                 const char *hi_name, int64_t hi)
{
    if (lo <= hi)
        return true;
    fprintf(stderr, "%s: --%s (%lld) is larger than --%s (%lld); make %s <= %s\n", workload,
            lo_name, (long long)lo, hi_name, (long long)hi, lo_name, hi_name);
    return false;
}

bool wl_check_threads(const mh_run *run, const char *workload, int min)
{
    if (mh_run_threads(run) >= min)
        return true;
    fprintf(stderr, "%s: needs at least %d threads, got %d; run with --threads=%d or more\n",
            workload, min, mh_run_threads(run), min);
    return false;
}
