/*
 * The per-CPU front cache's slow paths: mapping a CPU's cache at its first use,
 * refilling an empty bin from the CPU's heap and flushing a full one back to the
 * objects' owner heaps, in batches, one lock acquisition per owner (remote frees
 * batched per owner, as jemalloc's bins flush). The fast paths are in cache.h.
 *
 * Objects of any heap may sit in any CPU's cache: a free on CPU 1 of CPU 0's object
 * is a push on CPU 1, and CPU 0's heap gets it back with the next flush. No code ever
 * touches another CPU's bins, except the read-only search of a double free.
 */
#include <errno.h>

#include "cache.h"

/* The calling thread's CPU from its rseq area; -1 when the area is not registered. */
static int rseq_cpu(void) {
#if MH_HAVE_RSEQ_CACHE
    if (__rseq_size > 0) return (int)__atomic_load_n(&mh_rseq_area()->cpu_id, __ATOMIC_RELAXED);
#endif
    return -1;
}

/* The start-up check: the front cache runs with the cpu key on x86-64 when glibc has
   registered an rseq area for this thread. The reason it does not, else NULL. */
static const char *cache_unavailable(void) {
    if (!MH_HAVE_RSEQ_CACHE) return "off(not x86-64)";
    if (mh_global.key_policy != MH_KEY_CPU) return "off(key not cpu)";
    if (rseq_cpu() < 0) return "off(no rseq)";
    return NULL;
}

const char *mh_cache_setup(void) {
    const char *why = cache_unavailable();
    if (why) return why;
    mh_global.caches = mh_os_map(mh_global.ncpus * sizeof(mh_cpu_cache *));
    return mh_global.caches ? NULL : "off(out of memory)";
}

static unsigned class_capacity(unsigned cls) {
    size_t n = MH_CACHE_BYTES / mh_class_size(cls);
    return n > MH_CACHE_SLOTS ? MH_CACHE_SLOTS : n < MH_CACHE_MIN_SLOTS ? MH_CACHE_MIN_SLOTS
                                                                       : (unsigned)n;
}

/* CPU cpu's cache, mapped on first use; NULL if it cannot be mapped. */
static mh_cpu_cache *cache_of(int cpu) {
    mh_cpu_cache **slot = &mh_global.caches[cpu];
    mh_cpu_cache *c = __atomic_load_n(slot, __ATOMIC_ACQUIRE), *none = NULL;
    if (c) return c;
    int saved = errno;
    c = mh_os_map(sizeof *c);
    errno = saved;
    if (!c) return NULL;
    for (unsigned cls = 0; cls < MH_NCLASSES; cls++) c->bin[cls].cap = class_capacity(cls);
    if (!__atomic_compare_exchange_n(slot, &none, c, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        mh_os_unmap(c, sizeof *c);
        c = none;
    }
    return c;
}

/* The cache of the CPU this thread runs on, or NULL: no rseq area, or out of memory. */
static mh_cpu_cache *current_cache(void) {
    int cpu = rseq_cpu();
    return cpu >= 0 && (unsigned)cpu < mh_global.ncpus ? cache_of(cpu) : NULL;
}

void *mh_cache_alloc_slow(unsigned cls) {
    mh_cpu_cache *c = current_cache();
    mh_heap *h = mh_current_heap();
    if (!c) return mh_heap_alloc(h, cls, 1);
    void *batch[MH_CACHE_SLOTS / 2];
    size_t n = mh_heap_alloc_batch(h, cls, batch, c->bin[cls].cap / 2, true);
    if (n == 0) return NULL;
    /* If the thread moved since, the objects land in its new CPU's cache: any cache
       may hold any heap's objects. What does not fit goes back. */
    for (size_t i = 1; i < n; i++)
        if (!mh_cache_push(cls, batch[i], offsetof(mh_cpu_cache, refilled))) {
            mh_small_free_batch(batch + i, n - i, true);
            break;
        }
    mh_heap_maybe_purge(h);
    return batch[0];
}

/* Insertion sort by owner heap, so that mh_small_free_batch takes each owner's lock
   once; a batch is at most MH_CACHE_SLOTS / 2 + 1 objects. */
static void sort_by_owner(void **objs, size_t n) {
    for (size_t i = 1; i < n; i++) {
        void *p = objs[i];
        uint32_t owner = __atomic_load_n(&mh_page_of(p)->heap, __ATOMIC_RELAXED);
        size_t j = i;
        for (; j > 0 && __atomic_load_n(&mh_page_of(objs[j - 1])->heap, __ATOMIC_RELAXED) > owner;
             j--)
            objs[j] = objs[j - 1];
        objs[j] = p;
    }
}

void mh_cache_free_slow(void *p, mh_page *pg) {
    mh_cpu_cache *c = current_cache();
    if (!c) {
        mh_small_free(p);
        return;
    }
    unsigned cls = pg->cls;
    void *batch[MH_CACHE_SLOTS / 2 + 1];
    size_t n = 0, want = c->bin[cls].cap / 2;
    while (n < want && (batch[n] = mh_cache_pop(cls))) n++;
    if (!mh_cache_push(cls, p, offsetof(mh_cpu_cache, frees))) batch[n++] = p;
    sort_by_owner(batch, n);
    mh_small_free_batch(batch, n, true);
}

/* Is p on any CPU's cache? A racy read-only search: only a misuse report relies on it. */
static bool in_some_cache(void *p, unsigned cls) {
    for (unsigned cpu = 0; cpu < mh_global.ncpus; cpu++) {
        mh_cpu_cache *c = __atomic_load_n(&mh_global.caches[cpu], __ATOMIC_ACQUIRE);
        if (!c) continue;
        uint32_t n = __atomic_load_n(&c->bin[cls].count, __ATOMIC_RELAXED);
        for (uint32_t i = 0; i < n && i < MH_CACHE_SLOTS; i++)
            if (__atomic_load_n(&c->slot[cls][i], __ATOMIC_RELAXED) == p) return true;
    }
    return false;
}

void mh_cache_free_marked(void *p) {
    if (in_some_cache(p, mh_page_of(p)->cls))
        mh_fatal("double free (object is already in a free cache)", p);
    /* Not cached: the heap's bitmap tells a double free from a coincidence. */
    *mh_free_mark_word(p) = 0;
    mh_small_free(p);
}

void mh_cache_counts(unsigned cpu, uint64_t *allocs, uint64_t *frees) {
    mh_cpu_cache *c = mh_global.caches && cpu < mh_global.ncpus
                          ? __atomic_load_n(&mh_global.caches[cpu], __ATOMIC_ACQUIRE)
                          : NULL;
    *allocs = c ? __atomic_load_n(&c->allocs, __ATOMIC_RELAXED) : 0;
    *frees = c ? __atomic_load_n(&c->frees, __ATOMIC_RELAXED) : 0;
}
