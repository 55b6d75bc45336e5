/*
 * Large objects (> MH_SMALL_MAX): one private mapping each, returned at its start.
 *
 * A hash table (open addressing, linear probing, backward-shift deletion; in mmap'd
 * memory) records every live block by address, so free can tell a large block from a
 * bad pointer without trusting the pointer. A cache keeps recently freed blocks
 * mapped so that repeated large alloc/free of similar sizes makes no system call: at
 * most MH_LARGE_CACHE_SLOTS blocks and MH_LARGE_CACHE_BYTES in all, no block over
 * MH_LARGE_CACHE_MAX_BLOCK; when full, the oldest blocks are unmapped first (a few at a
 * time: a block that would need more evictions is unmapped itself). A cached
 * block serves a request needing up to 25% less, so the waste it brings is bounded; a
 * request that none fits grows the largest smaller one (mremap) rather than mapping anew.
 * The purger thread unmaps blocks that stayed in the cache for MULTIHEAP_PURGE_MS since a
 * pass first saw them.
 * One lock guards the table, the cache and the counters; mmap, munmap and mremap of
 * blocks are made without it.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "mh_internal.h"

#define OS_PAGE          ((size_t)4096)
/* The helpers that take or return a large_block by value are inlined: called, the
   block travels through the stack in differently sized pieces, and store-to-load
   forwarding failed on it (a few nanoseconds of a cached alloc/free pair). */
#define BLOCK_INLINE     static inline __attribute__((always_inline))
#define TABLE_MIN_SLOTS  256

typedef struct large_block {
    uintptr_t addr;                    /* 0: a free table slot */
    size_t size;                       /* bytes mapped, a multiple of OS_PAGE */
    uint64_t cached_ms;                /* in the cache: 0 when it went in, then (mh_now_ms()
                                          | 1) at the first purge pass that saw it (as wide
                                          as the other fields: see BLOCK_INLINE) */
} large_block;

static struct {
    mh_lock lock;
    large_block *table;                /* cap slots, at most half used */
    size_t cap, count;
    large_block cache[MH_LARGE_CACHE_SLOTS];   /* oldest first */
    unsigned ncached;
    size_t cached_bytes;
    uint64_t allocs, frees, live, live_bytes, os_calls;
} L;

/* ---- the table --------------------------------------------------------------------- */

static size_t slot_of(uintptr_t addr, size_t cap) {
    return (size_t)(((addr >> 12) * 0x9E3779B97F4A7C15ull) >> 32) & (cap - 1);
}

static large_block *table_find(uintptr_t addr) {
    if (!L.table) return NULL;
    for (size_t i = slot_of(addr, L.cap);; i = (i + 1) & (L.cap - 1)) {
        if (L.table[i].addr == addr) return &L.table[i];
        if (L.table[i].addr == 0) return NULL;
    }
}

BLOCK_INLINE void table_put(large_block *table, size_t cap, large_block b) {
    size_t i = slot_of(b.addr, cap);
    while (table[i].addr) i = (i + 1) & (cap - 1);
    table[i] = b;
}

/* Keeps every probe chain unbroken without tombstones. */
static void table_remove(large_block *hole) {
    size_t mask = L.cap - 1, i = (size_t)(hole - L.table), j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (L.table[j].addr == 0) break;
        size_t home = slot_of(L.table[j].addr, L.cap);
        /* Move j back into the hole i unless its home lies cyclically in (i, j]. */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            L.table[i] = L.table[j];
            i = j;
        }
    }
    L.table[i].addr = 0;
    L.count--;
}

/* Room for one more entry; the table doubles at half full (rare: it only grows). */
static bool table_make_room(void) {
    if ((L.count + 1) * 2 <= L.cap) return true;
    size_t cap = L.cap ? L.cap * 2 : TABLE_MIN_SLOTS;
    large_block *t = mh_os_map(cap * sizeof *t);
    if (!t) return false;
    for (size_t i = 0; i < L.cap; i++)
        if (L.table[i].addr) table_put(t, cap, L.table[i]);
    if (L.table) mh_os_unmap(L.table, L.cap * sizeof *t);
    L.table = t;
    L.cap = cap;
    return true;
}

/* ---- the cache of freed blocks ----------------------------------------------------- */

/* Cache entry i, taken out; an empty block for i < 0. */
BLOCK_INLINE large_block cache_remove(int i) {
    if (i < 0) return (large_block){.addr = 0};
    large_block b = L.cache[i];
    L.cached_bytes -= b.size;
    L.ncached--;
    memmove(&L.cache[i], &L.cache[i + 1], (L.ncached - (unsigned)i) * sizeof b);
    return b;
}

/* The smallest cached block of need to most bytes at align (a power of two); the newest
   of the exact size at once (a program that frees and allocates one size again finds it
   near the end). With grow, a request that no cached block fits takes the largest one
   smaller than need instead (found in the same pass; the newest of equals), to be grown
   into it (grow_block) rather than mapping anew: a program whose large sizes drift
   upwards (a sweep, growing buffers) then reuses the resident pages of the sizes it left,
   where it kept them beside the new ones until the purger unmapped them. Bigger blocks
   are not cut down: a program alternating two sizes keeps both cached. */
BLOCK_INLINE large_block cache_take(size_t need, size_t most, size_t align, bool grow) {
    int best = -1, below = -1;
    for (int i = (int)L.ncached - 1; i >= 0; i--) {
        large_block b = L.cache[i];
        if (b.size < need) {
            if (below < 0 || b.size > L.cache[below].size) below = i;
        } else if (b.size <= most && (b.addr & (align - 1)) == 0 &&
                   (best < 0 || b.size < L.cache[best].size)) {
            best = i;
            if (b.size == need) break;
        }
    }
    return cache_remove(best >= 0 || !grow ? best : below);
}

/* Caches b, pushing out up to MH_LARGE_EVICT_MAX of the oldest blocks to make room;
   what is to be unmapped (those, or b alone if they would not make room) goes into
   unmap[]; returns how many. */
BLOCK_INLINE unsigned cache_put(large_block b, large_block *unmap) {
    /* The oldest blocks that must go to make room, if a few can make it. */
    size_t freed = 0;
    unsigned k = 0;
    while (k < L.ncached && k < MH_LARGE_EVICT_MAX &&
           (L.ncached - k == MH_LARGE_CACHE_SLOTS ||
            L.cached_bytes - freed + b.size > MH_LARGE_CACHE_BYTES))
        freed += L.cache[k++].size;
    if (L.ncached - k == MH_LARGE_CACHE_SLOTS || L.cached_bytes - freed + b.size > MH_LARGE_CACHE_BYTES) {
        unmap[0] = b;
        return 1;
    }
    memcpy(unmap, L.cache, k * sizeof b);
    L.ncached -= k;
    L.cached_bytes -= freed;
    memmove(&L.cache[0], &L.cache[k], L.ncached * sizeof b);
    /* The purge pass stamps it: reading the clock here took a sixth of a cached large
       alloc/free pair (pair/size:9345, 31 ns). */
    b.cached_ms = 0;
    L.cache[L.ncached++] = b;
    L.cached_bytes += b.size;
    return k;
}

/* Has cached block b been there for purge_ms at time now? Always, if purge_ms is 0
   (even when the pass's previous round stamped it now | 1, a millisecond ahead); never
   before a pass has stamped it (cached_ms 0), else. */
static bool aged(const large_block *b, uint32_t now) {
    return mh_global.purge_ms == 0 ||
           (b->cached_ms && (int32_t)(now - (uint32_t)b->cached_ms) >= mh_global.purge_ms);
}

bool mh_large_purge_pass(uint32_t now) {
    large_block unmap[MH_LARGE_EVICT_MAX];
    unsigned n;
    bool left;
    do {
        mh_lock_acquire(&L.lock);
        /* Oldest first: the blocks old enough are a prefix, and those no pass has seen
           yet a suffix, which this one stamps. */
        for (n = 0; n < MH_LARGE_EVICT_MAX && n < L.ncached && aged(&L.cache[n], now); n++) {
            unmap[n] = L.cache[n];
            L.cached_bytes -= unmap[n].size;
        }
        L.ncached -= n;
        memmove(&L.cache[0], &L.cache[n], L.ncached * sizeof L.cache[0]);
        for (unsigned i = L.ncached; i-- > 0 && !L.cache[i].cached_ms;) L.cache[i].cached_ms = now | 1;
        MH_STAT_ADD(L.os_calls, n);
        left = L.ncached > 0;
        mh_lock_release(&L.lock);
        for (unsigned i = 0; i < n; i++) mh_os_unmap((void *)unmap[i].addr, unmap[i].size);
    } while (n == MH_LARGE_EVICT_MAX);
    return left;
}

/* ---- blocks -------------------------------------------------------------------------- */

/* A fresh mapping of size bytes aligned to align (> OS_PAGE: over-map, trim both ends). */
static void *map_aligned(size_t size, size_t align, unsigned *calls) {
    if (align <= OS_PAGE) {
        (*calls)++;
        return mh_os_map(size);
    }
    if (size + align < size) return NULL;
    char *raw = mh_os_map(size + align);
    (*calls)++;
    if (!raw) return NULL;
    char *p = (char *)(((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1));
    size_t head = (size_t)(p - raw), tail = align - head;
    if (head) { mh_os_unmap(raw, head); (*calls)++; }
    if (tail) { mh_os_unmap(p + size, tail); (*calls)++; }
    return p;
}

/* Block b (out of the cache) grown to need bytes by mremap, which moves page table
   entries and never copies; NULL if it failed, with b back in the cache and errno kept
   (the caller maps anew and may well succeed). */
static void *grow_block(large_block b, size_t need, unsigned *calls) {
    int saved = errno;
    void *q = mremap((void *)b.addr, b.size, need, MREMAP_MAYMOVE);
    (*calls)++;
    if (q != MAP_FAILED) return q;
    errno = saved;
    large_block evicted[MH_LARGE_EVICT_MAX + 1];
    mh_lock_acquire(&L.lock);
    unsigned n = cache_put(b, evicted);
    MH_STAT_ADD(L.os_calls, n);
    mh_lock_release(&L.lock);
    for (unsigned i = 0; i < n; i++) mh_os_unmap((void *)evicted[i].addr, evicted[i].size);
    return NULL;
}

/* Records live block b, got with `calls` system calls; false if the table cannot grow.
   Under L.lock. */
BLOCK_INLINE bool record_locked(large_block b, unsigned calls) {
    bool ok = table_make_room();
    if (ok) {
        table_put(L.table, L.cap, b);
        L.count++;
        MH_STAT_ADD(L.allocs, 1);
        MH_STAT_ADD(L.live, 1);
        MH_STAT_ADD(L.live_bytes, b.size);
    }
    MH_STAT_ADD(L.os_calls, calls);
    return ok;
}

static bool page_round(size_t size, size_t *out) {
    if (size > PTRDIFF_MAX - OS_PAGE) {
        errno = ENOMEM;
        return false;
    }
    *out = size ? (size + OS_PAGE - 1) & ~(OS_PAGE - 1) : OS_PAGE;   /* aligned_alloc(a, 0) */
    return true;
}

void *mh_large_alloc(size_t size, size_t align, bool zero) {
    size_t need;
    if (!page_round(size, &need)) return NULL;
    if (align < OS_PAGE) align = OS_PAGE;
    /* A cached block is recorded in the same critical section: a lock acquisition is
       an atomic exchange, a good part of what a cached alloc costs. */
    mh_lock_acquire(&L.lock);
    /* A fit wastes at most 25%; a block smaller than need is grown (not aligned ones). */
    large_block b = cache_take(need, need + need / 4, align, align == OS_PAGE);
    large_block smaller = {.addr = 0};
    if (b.size < need) {
        smaller = b;
        b = (large_block){.addr = 0};
    }
    bool recorded = b.addr && record_locked(b, 0);
    mh_lock_release(&L.lock);
    unsigned calls = 0;
    size_t used = b.size;   /* bytes that may hold a former block's data */
    if (!b.addr) {
        void *p = smaller.addr ? grow_block(smaller, need, &calls) : NULL;
        used = p ? smaller.size : 0;
        if (!p) p = map_aligned(need, align, &calls);
        b = (large_block){.addr = (uintptr_t)p, .size = need};
        if (!b.addr) {
            errno = ENOMEM;
            return NULL;
        }
        mh_lock_acquire(&L.lock);
        recorded = record_locked(b, calls);
        mh_lock_release(&L.lock);
    }
    if (!recorded) {
        mh_os_unmap((void *)b.addr, b.size);
        errno = ENOMEM;
        return NULL;
    }
    if (zero) memset((void *)b.addr, 0, used);
    return (void *)b.addr;
}

bool mh_large_free(void *p) {
    large_block unmap[MH_LARGE_EVICT_MAX + 1];
    unsigned nunmap = 0;
    mh_lock_acquire(&L.lock);
    large_block *e = table_find((uintptr_t)p);
    if (!e) {
        mh_lock_release(&L.lock);
        return false;
    }
    large_block b = *e;
    table_remove(e);
    MH_STAT_ADD(L.frees, 1);
    MH_STAT_ADD(L.live, -1);
    MH_STAT_ADD(L.live_bytes, -b.size);
    if (mh_global.large_cache && b.size <= MH_LARGE_CACHE_MAX_BLOCK) nunmap = cache_put(b, unmap);
    else unmap[nunmap++] = b;
    MH_STAT_ADD(L.os_calls, nunmap);
    mh_lock_release(&L.lock);
    for (unsigned i = 0; i < nunmap; i++) mh_os_unmap((void *)unmap[i].addr, unmap[i].size);
    /* Blocks that aged in the cache go back from the purger; where none runs (switched
       off, or not created: a program of large blocks only), from the frees themselves,
       or they stayed resident for good. Under the purger's lock, like its passes, so
       that fork never finds blocks between the cache and munmap. */
    if (mh_global.purge_ms >= 0 && !mh_purger_wake() && mh_purger_try_lock()) {
        mh_large_purge_pass(mh_now_ms());
        mh_purger_unlock(false);
    }
    return true;
}

size_t mh_large_usable_size(const void *p) {
    mh_lock_acquire(&L.lock);
    large_block *e = table_find((uintptr_t)p);
    size_t size = e ? e->size : 0;
    mh_lock_release(&L.lock);
    return size;
}

/* Moves live block p (old bytes) into b, a block just taken from the cache, and caches p:
   a copy is cheaper than a system call for a block this small. */
static void *realloc_by_copy(void *p, size_t old, large_block b) {
    memcpy((void *)b.addr, p, old);
    large_block evicted[MH_LARGE_EVICT_MAX + 1];
    mh_lock_acquire(&L.lock);
    table_remove(table_find((uintptr_t)p));
    table_put(L.table, L.cap, b);   /* no room check: it replaces the entry removed */
    L.count++;
    MH_STAT_ADD(L.live_bytes, b.size - old);
    unsigned nevicted = cache_put((large_block){.addr = (uintptr_t)p, .size = old}, evicted);
    MH_STAT_ADD(L.os_calls, nevicted);
    mh_lock_release(&L.lock);
    for (unsigned i = 0; i < nevicted; i++) mh_os_unmap((void *)evicted[i].addr, evicted[i].size);
    return (void *)b.addr;
}

/*
 * Grows a block of up to MH_LARGE_COPY_MAX bytes into a cached block when one fits (a
 * copy), else with mremap, which extends in place when the next pages are free and moves
 * the pages (no copy) otherwise; a growing block doubles (25% above
 * MH_LARGE_DOUBLE_MAX) so a series of growths (a vector, a string builder) makes few
 * calls. A block shrinks (its
 * tail unmapped) only when it would otherwise waste more than a quarter of itself.
 * The table never lists pages that are unmapped: a moving mremap releases the old
 * address, and another thread's new mapping may land there at once.
 */
void *mh_large_realloc(void *p, size_t size) {
    size_t need;
    if (!page_round(size, &need)) return NULL;
    mh_lock_acquire(&L.lock);
    large_block *e = table_find((uintptr_t)p);
    if (!e) mh_fatal("realloc of a large block freed meanwhile", p);
    size_t old = e->size;
    if (need <= old && need >= old - old / 4) {
        mh_lock_release(&L.lock);
        return p;
    }
    MH_STAT_ADD(L.os_calls, 1);
    if (need < old) {
        e->size = need;
        MH_STAT_ADD(L.live_bytes, need - old);
        mh_lock_release(&L.lock);
        mh_os_unmap((char *)p + need, old - need);
        return p;
    }
    if (need <= MH_LARGE_COPY_MAX && mh_global.large_cache) {
        /* A growing block will use the room of a bigger one: take up to twice need. */
        large_block b = cache_take(need, 2 * need, OS_PAGE, false);
        if (b.addr) {
            MH_STAT_ADD(L.os_calls, -1);
            mh_lock_release(&L.lock);
            return realloc_by_copy(p, old, b);
        }
    }
    table_remove(e);
    mh_lock_release(&L.lock);
    /* Room to grow again without a call: untouched pages cost address space only. */
    size_t roomy = old < MH_LARGE_DOUBLE_MAX ? 2 * old : (old + old / 4 + OS_PAGE - 1) & ~(OS_PAGE - 1);
    size_t exact = need;   /* what to ask for when the room cannot be had */
    if (roomy > need) need = roomy;
    void *q = mremap(p, old, need, MREMAP_MAYMOVE);
    if (q == MAP_FAILED && need > exact) q = mremap(p, old, need = exact, MREMAP_MAYMOVE);
    bool ok = q != MAP_FAILED;
    mh_lock_acquire(&L.lock);
    large_block now = {.addr = (uintptr_t)(ok ? q : p), .size = ok ? need : old};
    table_put(L.table, L.cap, now);   /* no room check: it replaces the entry removed above */
    L.count++;
    if (ok) MH_STAT_ADD(L.live_bytes, need - old);
    mh_lock_release(&L.lock);
    if (!ok) {
        errno = ENOMEM;
        return NULL;
    }
    return q;
}

bool mh_large_contains(const void *p) {
    bool found = false;
    mh_lock_acquire(&L.lock);
    for (size_t i = 0; i < L.cap && !found; i++)
        found = L.table[i].addr && (uintptr_t)p - L.table[i].addr < L.table[i].size;
    mh_lock_release(&L.lock);
    return found;
}

void mh_large_stats(mh_stats *out) {
    out->large_allocs = MH_STAT_READ(L.allocs);
    out->large_frees = MH_STAT_READ(L.frees);
    out->large_live = MH_STAT_READ(L.live);
    out->large_live_bytes = MH_STAT_READ(L.live_bytes);
    out->large_os_calls = MH_STAT_READ(L.os_calls);
}

void mh_large_lock(void) { mh_lock_acquire(&L.lock); }

void mh_large_unlock(bool child) {
    if (child) mh_lock_reset(&L.lock);
    else mh_lock_release(&L.lock);
}
