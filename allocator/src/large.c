/*
 * Large objects (> MH_SMALL_MAX): one private mapping each, returned at its start.
 *
 * A registry (a radix map over the address space, in mmap'd memory, read without a
 * lock) holds an entry at the first page of every block: its size, and whether the
 * program holds it (live) or a cache does (cached). free tells a large block from a bad
 * pointer or a second free by that entry, without trusting the pointer.
 *
 * Blocks of a large bin's size (mh_large_bin_of: up to 256 KiB, rounded up to four sizes
 * a doubling) go through the CPUs' large rows, as small objects go through theirs: a
 * free pushes the block on its CPU's row of the bin, a malloc pops it, inside a
 * restartable sequence (cache.h), and only a row's refill or flush (cache.c) reaches the
 * shared cache below, half a row at a time. The one lock the large path had made
 * size-sweep's 2-thread cells of 18705 to 65536 bytes take 200 ns to 58 us an operation.
 *
 * The shared cache keeps recently freed blocks mapped so that repeated large alloc/free
 * of similar sizes makes no system call: in shards (see shard), each of at most
 * MH_LARGE_CACHE_SLOTS blocks, no block over MH_LARGE_CACHE_MAX_BLOCK; when full, a
 * shard's oldest blocks are unmapped first (a few at a time: a block that would need more
 * evictions is unmapped itself). A cached block serves a request needing up to 25% less,
 * so the waste it brings is bounded; a request that none fits grows the largest smaller
 * one (mremap) rather than mapping anew. The purger thread unmaps blocks that stayed in
 * the shared cache for MULTIHEAP_PURGE_MS since a pass first saw them, and drains the
 * rows that served nothing for that long into it.
 * A lock for each shard guards it and its counters; mmap, munmap and mremap of blocks are
 * made without them. A block's registry entry is cleared before it is unmapped, and
 * set only once it is mapped: another thread's new block may take its address at once.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "cache.h"

#define OS_PAGE          ((size_t)4096)
/* The helpers that take or return a large_block by value are inlined: called, the
   block travels through the stack in differently sized pieces, and store-to-load
   forwarding failed on it (a few nanoseconds of a cached alloc/free pair). */
#define BLOCK_INLINE     static inline __attribute__((always_inline))

typedef struct large_block {
    uintptr_t addr;
    size_t size;                       /* bytes mapped, a multiple of OS_PAGE */
    uint64_t cached_ms;                /* in the cache: 0 when it went in, then (mh_now_ms()
                                          | 1) at the first purge pass that saw it (as wide
                                          as the other fields: see BLOCK_INLINE) */
} large_block;

/* The shared cache is split in shards, each under its own lock. Shard 0 holds the blocks
   that are of no bin (above 256 KiB, or of other sizes: realloc's, aligned ones) within
   MH_LARGE_CACHE_BYTES. The bins' blocks that the rows let go go to the shard of the CPU
   they are on, one per CPU (up to MAX_SHARDS), within MH_LARGE_SHARD_BYTES each; a refill
   takes from its CPU's shard first, then from the others (a producer on one CPU and a
   consumer on another would otherwise map and unmap every block). With one lock for all,
   two threads that allocated and freed blocks of 18705 bytes in batches of 64 took 48 ns
   an operation against tcmalloc's 15, spinning on it; with a count of the bytes in all
   shards, one atomic add a lock hold, 38 against 21 without. */
#define MAX_SHARDS 256
typedef struct __attribute__((aligned(MH_CACHE_LINE))) shard {
    unsigned ncached;                  /* written under the lock with set_ncached: the
                                          purge pass and the searches across shards skip
                                          the empty ones unlocked (a bitmap of the shards
                                          that hold blocks, which every CPU's shard wrote,
                                          took a 2-thread batch loop from 21 to 40 ns an
                                          operation) */
    size_t cached_bytes;
    /* What the shared path did here; the large rows count their own (mh_large_stats). */
    uint64_t allocs, frees, live_bytes, os_calls;
    large_block cache[MH_LARGE_CACHE_SLOTS];   /* oldest first */
} shard;

static struct {
    size_t max_bytes;                  /* the largest block ever registered (atomic) */
    unsigned nshards;                  /* 0 until the first shard_count(), then fixed */
    unsigned nlocked;                  /* the shards fork's prepare handler locked */
    uint32_t inline_pass_ms;           /* mh_now_ms() of the last purge_inline pass */
} L;

/* ---- the registry ------------------------------------------------------------------- */

/* A leaf maps 2^REG_LEAF_BITS pages (1 GiB of addresses) in 2 MiB, of which a page is
   touched for each 2 MiB of addresses that holds a block's start; the root maps the
   47-bit user address space of x86-64 (a mapping above it is refused: the block fails
   with ENOMEM). */
#define REG_ADDR_BITS   47
#define REG_LEAF_BITS   18
#define REG_LEAF_BYTES  (((size_t)1 << REG_LEAF_BITS) * sizeof(uint64_t))
#define REG_ROOT_SLOTS  ((size_t)1 << (REG_ADDR_BITS - 12 - REG_LEAF_BITS))
/* An entry: the block's size (a multiple of OS_PAGE) | 1 + its bin (0: of no bin) at
   REG_BIN_SHIFT, so that free finds its row without arithmetic on the size | its state;
   0: no block starts there. */
#define REG_LIVE        ((uint64_t)1)
#define REG_CACHED      ((uint64_t)2)
#define REG_BIN_SHIFT   2
#define REG_BIN_PLUS1(e) ((unsigned)((e) >> REG_BIN_SHIFT) & 31)
#define REG_SIZE(e)     ((size_t)((e) & ~(uint64_t)(OS_PAGE - 1)))

static uint64_t **reg_root;            /* NULL until the first block; then never changes */

/* The entry of the page at addr, if its leaf exists. */
static inline uint64_t *reg_slot(uintptr_t addr) {
    uint64_t **root = __atomic_load_n(&reg_root, __ATOMIC_ACQUIRE);
    if (!root || addr >> REG_ADDR_BITS) return NULL;
    uint64_t *leaf = __atomic_load_n(&root[addr >> (12 + REG_LEAF_BITS)], __ATOMIC_ACQUIRE);
    return leaf ? &leaf[(addr >> 12) & (((size_t)1 << REG_LEAF_BITS) - 1)] : NULL;
}

static inline uint64_t reg_get(uintptr_t addr) {
    uint64_t *e = reg_slot(addr);
    return e ? __atomic_load_n(e, __ATOMIC_RELAXED) : 0;
}

/* For a block whose leaf exists (reg_cover): every block that was ever registered. */
static inline void reg_set(uintptr_t addr, uint64_t entry) {
    __atomic_store_n(reg_slot(addr), entry, __ATOMIC_RELAXED);
}

/* Puts zeroed memory at *slot once: *own if the caller has it (then NULL: used), else
   a new mapping; false if none can be had. */
static bool map_once(void **slot, size_t bytes, void **own) {
    if (__atomic_load_n(slot, __ATOMIC_ACQUIRE)) return true;
    int saved = errno;   /* a free keeps errno, and a malloc that succeeds too */
    void *fresh = own && *own ? *own : mh_os_map_sparse(bytes), *none = NULL;
    errno = saved;
    if (!fresh) return false;
    if (__atomic_compare_exchange_n(slot, &none, fresh, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        if (own && fresh == *own) *own = NULL;
    } else if (!own || fresh != *own) {
        mh_os_unmap(fresh, bytes);   /* another thread's came first */
    }
    return true;
}

/* Makes the entry of a block at addr settable, with the leaf *own if one is missing
   and the caller has it; false if it cannot be. */
static bool reg_cover(uintptr_t addr, uint64_t **own) {
    if (addr >> REG_ADDR_BITS ||
        !map_once((void **)&reg_root, REG_ROOT_SLOTS * sizeof(void *), NULL))
        return false;
    return map_once((void **)&reg_root[addr >> (12 + REG_LEAF_BITS)], REG_LEAF_BYTES,
                    (void **)own);
}

/* A block that mremap moves lands where the kernel finds room, maybe where no leaf is
   yet, and it cannot be given back if no leaf can be mapped then: a move holds a leaf of
   its own beforehand, a spare (kept for the next moves if not used), or a new one. A few
   spares, so that concurrent moves do not map and unmap a leaf each (one spare: 3452
   leaf mappings where 2 threads grew blocks, 2 with one thread). */
#define SPARE_LEAVES 4
static uint64_t *spare_leaves[SPARE_LEAVES];

static uint64_t *leaf_take(void) {
    for (unsigned i = 0; i < SPARE_LEAVES; i++) {
        uint64_t *leaf = __atomic_exchange_n(&spare_leaves[i], NULL, __ATOMIC_ACQ_REL);
        if (leaf) return leaf;
    }
    int saved = errno;
    uint64_t *leaf = mh_os_map_sparse(REG_LEAF_BYTES);
    errno = saved;
    return leaf;
}

static void leaf_give_back(uint64_t *leaf) {
    for (unsigned i = 0; leaf && i < SPARE_LEAVES; i++) {
        uint64_t *none = NULL;
        if (__atomic_compare_exchange_n(&spare_leaves[i], &none, leaf, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED))
            return;
    }
    if (leaf) mh_os_unmap(leaf, REG_LEAF_BYTES);
}

/* Unmaps blocks no cache or program holds any more, their entries cleared first. */
static void unmap_blocks(const large_block *b, unsigned n) {
    for (unsigned i = 0; i < n; i++) {
        reg_set(b[i].addr, 0);
        mh_os_unmap((void *)b[i].addr, b[i].size);
    }
}

/* ---- the shared cache of freed blocks ----------------------------------------------- */

/* Shard 0 is static; the CPUs' are mapped at the first call of shard_count(). */
static shard big_shard;
static shard *cpu_shards;

/* Each shard's lock, on a line of its own but not in the shard: a shard is 24 KiB, so
   fork, which takes every lock, wrote a page a shard (257 on a machine of 256 CPUs: a
   program that only ever made 64-byte mallocs took 264 copy-on-write faults a fork and
   1.3 MiB more RSS, a review). 16 KiB here, untouched until used. */
static struct __attribute__((aligned(MH_CACHE_LINE))) { mh_lock lock; } shard_locks[1 + MAX_SHARDS];

/* The shards there are: 1 + one per CPU (up to MAX_SHARDS), or 1 if the CPUs' could not
   be mapped at the first call (for good: a count that changed would unbalance fork's
   locks, and a mapping retried at every call would cost a system call each). */
static unsigned shard_count(void) {
    unsigned n = __atomic_load_n(&L.nshards, __ATOMIC_ACQUIRE);
    if (MH_LIKELY(n)) return n;
    /* Fork's prepare handler, before the first malloc: no CPU count yet, and no block
       either. It holds the initialisation lock, so nothing maps the shards meanwhile. */
    if (!__atomic_load_n(&mh_global.initialised, __ATOMIC_ACQUIRE)) return 1;
    n = mh_global.ncpus < MAX_SHARDS ? mh_global.ncpus : MAX_SHARDS;
    n = map_once((void **)&cpu_shards, n * sizeof(shard), NULL) ? 1 + n : 1;
    unsigned none = 0;
    __atomic_compare_exchange_n(&L.nshards, &none, n, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
    return __atomic_load_n(&L.nshards, __ATOMIC_ACQUIRE);
}

/* Shard i < shard_count(). */
static shard *shard_at(unsigned i) {
    return i ? &__atomic_load_n(&cpu_shards, __ATOMIC_ACQUIRE)[i - 1] : &big_shard;
}

/* The index of the k-th CPU shard from CPU cpu's, k < cpu_shards_count(): the shards of
   the bins' blocks, or shard 0 alone if there are no CPU shards. */
static unsigned cpu_shard_from(unsigned cpu, unsigned k) {
    unsigned n = shard_count();
    return n > 1 ? 1 + (cpu + k) % (n - 1) : 0;
}

static unsigned cpu_shards_count(void) {
    unsigned n = shard_count();
    return n > 1 ? n - 1 : 1;
}

static shard *cpu_shard(unsigned cpu) { return shard_at(cpu_shard_from(cpu, 0)); }

static shard *cpu_shard_here(void) { return cpu_shard((unsigned)mh_current_cpu()); }

/* Is a block of size bytes one of a bin's (which the rows and the CPU shards keep)? */
static bool bin_block(size_t size) {
    size_t pages = size / OS_PAGE;
    return pages >= MH_LARGE_BIN_MIN_PAGES && pages <= MH_LARGE_BIN_MAX_PAGES &&
           mh_large_bin_bytes(mh_large_bin_of(pages)) == size;
}

/* The entry of a block of size bytes, 1 + its bin (0: none), in state (REG_LIVE or
   REG_CACHED). */
static inline uint64_t reg_entry_of(size_t size, unsigned bin_plus1, uint64_t state) {
    return size | (uint64_t)bin_plus1 << REG_BIN_SHIFT | state;
}

static uint64_t reg_entry(size_t size, uint64_t state) {
    return reg_entry_of(size, bin_block(size) ? mh_large_bin_of(size / OS_PAGE) + 1 : 0, state);
}

/* Where a block of size bytes goes when no row takes it. */
static shard *shard_for(size_t size) { return bin_block(size) ? cpu_shard_here() : &big_shard; }

static size_t shard_limit(const shard *sh) {
    return sh == &big_shard ? MH_LARGE_CACHE_BYTES : MH_LARGE_SHARD_BYTES;
}

static void set_ncached(shard *sh, unsigned n) {
    __atomic_store_n(&sh->ncached, n, __ATOMIC_RELAXED);
}

static bool shard_holds(unsigned i) {
    return __atomic_load_n(&shard_at(i)->ncached, __ATOMIC_RELAXED) != 0;
}

static mh_lock *lock_of(const shard *sh) {
    return &shard_locks[sh == &big_shard ? 0 : 1 + (sh - __atomic_load_n(&cpu_shards, __ATOMIC_ACQUIRE))].lock;
}
static void shard_lock(shard *sh) { mh_lock_acquire(lock_of(sh)); }
static void shard_unlock(shard *sh) { mh_lock_release(lock_of(sh)); }

/* Cache entry i of shard sh, taken out; an empty block for i < 0. */
BLOCK_INLINE large_block cache_remove(shard *sh, int i) {
    if (i < 0) return (large_block){.addr = 0};
    large_block b = sh->cache[i];
    sh->cached_bytes -= b.size;
    set_ncached(sh, sh->ncached - 1);
    memmove(&sh->cache[i], &sh->cache[i + 1], (sh->ncached - (unsigned)i) * sizeof b);
    return b;
}

/* The smallest cached block of need to most bytes at align (a power of two); the newest
   of the exact size at once (a program that frees and allocates one size again finds it
   near the end). Bigger blocks are not cut down: a program alternating two sizes keeps
   both cached. */
BLOCK_INLINE large_block cache_take(shard *sh, size_t need, size_t most, size_t align) {
    int best = -1;
    for (int i = (int)sh->ncached - 1; i >= 0; i--) {
        large_block b = sh->cache[i];
        if (b.size >= need && b.size <= most && (b.addr & (align - 1)) == 0 &&
            (best < 0 || b.size < sh->cache[best].size)) {
            best = i;
            if (b.size == need) break;
        }
    }
    return cache_remove(sh, best);
}

/* The largest cached block smaller than need (the newest of equals), for a request that
   no cached block fits, to be grown into it (remap_grow) rather than mapping anew: a
   program whose large sizes drift upwards (a sweep, growing buffers) then reuses the
   resident pages of the sizes it left, where it kept them beside the new ones until the
   purger unmapped them. */
BLOCK_INLINE large_block cache_take_below(shard *sh, size_t need) {
    int below = -1;
    for (int i = (int)sh->ncached - 1; i >= 0; i--)
        if (sh->cache[i].size < need && (below < 0 || sh->cache[i].size > sh->cache[below].size))
            below = i;
    return cache_remove(sh, below);
}

/* Is there no room in sh for one more block once its k oldest are gone, with bytes in
   it then? */
static inline bool no_room(const shard *sh, unsigned k, size_t bytes) {
    return sh->ncached - k == MH_LARGE_CACHE_SLOTS || bytes > shard_limit(sh);
}

/* Caches b in sh, pushing out up to MH_LARGE_EVICT_MAX of sh's oldest blocks to make room;
   what is to be unmapped (those, or b alone if they would not make room) goes into
   unmap[]; returns how many. */
BLOCK_INLINE unsigned cache_put(shard *sh, large_block b, large_block *unmap) {
    size_t bytes = sh->cached_bytes + b.size, freed = 0;
    unsigned k = 0;
    /* The oldest blocks that must go to make room, if a few can make it. */
    while (k < sh->ncached && k < MH_LARGE_EVICT_MAX && no_room(sh, k, bytes - freed))
        freed += sh->cache[k++].size;
    if (no_room(sh, k, bytes - freed)) {
        unmap[0] = b;
        return 1;
    }
    memcpy(unmap, sh->cache, k * sizeof b);
    set_ncached(sh, sh->ncached - k);
    sh->cached_bytes -= freed;
    memmove(&sh->cache[0], &sh->cache[k], sh->ncached * sizeof b);
    /* The purge pass stamps it: reading the clock here took a sixth of a cached large
       alloc/free pair (pair/size:9345, 31 ns). */
    b.cached_ms = 0;
    sh->cache[sh->ncached] = b;
    set_ncached(sh, sh->ncached + 1);
    sh->cached_bytes += b.size;
    return k;
}

/* Has cached block b been there for purge_ms at time now? Always, if purge_ms is 0
   (even when the pass's previous round stamped it now | 1, a millisecond ahead); never
   before a pass has stamped it (cached_ms 0), else. */
static bool aged(const large_block *b, uint32_t now) {
    return mh_global.purge_ms == 0 ||
           (b->cached_ms && (int32_t)(now - (uint32_t)b->cached_ms) >= mh_global.purge_ms);
}

/* One shard's part of the purge pass (every block, with all): true if blocks remain
   cached there. Adds the blocks it unmapped to *unmapped, unless that is NULL. */
static bool purge_shard(shard *sh, uint32_t now, bool all, unsigned *unmapped) {
    large_block unmap[MH_LARGE_EVICT_MAX];
    unsigned n;
    bool left;
    do {
        shard_lock(sh);
        /* Oldest first: the blocks old enough are a prefix, and those no pass has seen
           yet a suffix, which this one stamps. */
        for (n = 0; n < MH_LARGE_EVICT_MAX && n < sh->ncached && (all || aged(&sh->cache[n], now)); n++) {
            unmap[n] = sh->cache[n];
            sh->cached_bytes -= unmap[n].size;
        }
        set_ncached(sh, sh->ncached - n);
        memmove(&sh->cache[0], &sh->cache[n], sh->ncached * sizeof sh->cache[0]);
        for (unsigned i = sh->ncached; i-- > 0 && !sh->cache[i].cached_ms;) sh->cache[i].cached_ms = now | 1;
        MH_STAT_ADD(sh->os_calls, n);
        left = sh->ncached > 0;
        shard_unlock(sh);
        unmap_blocks(unmap, n);
        if (unmapped) *unmapped += n;
    } while (n == MH_LARGE_EVICT_MAX);
    return left;
}

bool mh_large_purge_pass(uint32_t now) {
    bool left = false;
    for (unsigned i = 0, n = shard_count(); i < n; i++)
        if (shard_holds(i)) left |= purge_shard(shard_at(i), now, false, NULL);
    return left;
}

/* Blocks that aged in the shared cache go back from the purger; where none runs
   (switched off, or not created yet), from the calls that fill the cache, or they stayed
   resident for good. Under the purger's lock, like its passes, so that fork never finds
   blocks between the cache and munmap. */
static void purge_inline(void) {
    if (mh_global.purge_ms < 0 || mh_purger_wake()) return;
    /* As often as the purger's passes, at most: a pass reads a line of every shard (with
       256 CPUs, a pass at every free of 300000 bytes took it from 55 to 262 ns). */
    uint32_t now = mh_now_ms(), last = __atomic_load_n(&L.inline_pass_ms, __ATOMIC_RELAXED);
    if (now - last < (uint32_t)mh_global.purge_ms / 4 || !mh_purger_try_lock()) return;
    __atomic_store_n(&L.inline_pass_ms, now, __ATOMIC_RELAXED);
    mh_large_purge_pass(now);
    mh_purger_unlock(false);
}

/* Caches b (its entry set cached already) in sh, or, when it is too big to keep (or the
   cache is off), puts it in unmap[] with whatever it evicts; how many went there. Under
   sh's lock. */
BLOCK_INLINE unsigned shared_put_locked(shard *sh, large_block b, large_block *unmap) {
    unsigned n = 1;
    unmap[0] = b;
    if (mh_global.large_cache && b.size <= MH_LARGE_CACHE_MAX_BLOCK) n = cache_put(sh, b, unmap);
    MH_STAT_ADD(sh->os_calls, n);
    return n;
}

/* shared_put_locked, on its shard, for one block that the program freed (frees 1) or
   that was taken out for it and not used (frees 0). */
static void shared_put(large_block b, unsigned frees) {
    large_block unmap[MH_LARGE_EVICT_MAX + 1];
    shard *sh = shard_for(b.size);
    shard_lock(sh);
    unsigned n = shared_put_locked(sh, b, unmap);
    MH_STAT_ADD(sh->frees, frees);
    MH_STAT_ADD(sh->live_bytes, -(uint64_t)frees * b.size);
    shard_unlock(sh);
    unmap_blocks(unmap, n);
    purge_inline();
}

/* Up to n blocks of exactly size bytes from sh into out[]: the newest first, then the
   entries above the lowest one taken close up. Counts out[0] as allocated. */
static size_t take_exact(shard *sh, size_t size, void **out, size_t n) {
    size_t got = 0;
    int lowest = -1;
    shard_lock(sh);
    for (int i = (int)sh->ncached - 1; i >= 0 && got < n; i--)
        if (sh->cache[i].size == size) {
            out[got++] = (void *)sh->cache[i].addr;
            sh->cache[i].addr = 0;
            lowest = i;
        }
    if (got) {
        unsigned to = (unsigned)lowest;
        for (unsigned i = to; i < sh->ncached; i++)
            if (sh->cache[i].addr) sh->cache[to++] = sh->cache[i];
        set_ncached(sh, to);
        sh->cached_bytes -= got * size;
        MH_STAT_ADD(sh->allocs, 1);
        MH_STAT_ADD(sh->live_bytes, size);
    }
    shard_unlock(sh);
    return got;
}

/* The CPU's own shard first, then the others (blocks freed on other CPUs: a producer on
   one and a consumer on another would otherwise map every block anew). */
size_t mh_large_take_cached(unsigned cpu, unsigned bin, void **out, size_t n) {
    size_t size = mh_large_bin_bytes(bin), got = 0;
    for (unsigned k = 0, count = cpu_shards_count(); k < count && !got; k++) {
        unsigned i = cpu_shard_from(cpu, k);
        if (shard_holds(i)) got = take_exact(shard_at(i), size, out, n);
    }
    return got;
}

/* Blocks a flush puts in the shared cache under one lock hold: unmap[] must have room
   for the most each may evict. */
#define PUT_BATCH 8

void mh_large_put_cached(unsigned cpu, void *const *blocks, size_t n) {
    large_block unmap[PUT_BATCH * (MH_LARGE_EVICT_MAX + 1)];
    shard *sh = cpu_shard(cpu);
    while (n > 0) {
        size_t k = n < PUT_BATCH ? n : PUT_BATCH;
        unsigned nunmap = 0;
        shard_lock(sh);
        for (size_t i = 0; i < k; i++) {
            uintptr_t addr = (uintptr_t)blocks[i];
            large_block b = {.addr = addr, .size = REG_SIZE(reg_get(addr))};
            nunmap += shared_put_locked(sh, b, unmap + nunmap);
        }
        shard_unlock(sh);
        unmap_blocks(unmap, nunmap);
        blocks += k;
        n -= k;
    }
    purge_inline();
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

/* A fresh mapping of need bytes at align whose registry entry can be set: NULL, with
   nothing left mapped, if the mapping or the leaf its entry needs cannot be made. A leaf
   is 2 MiB of address space: under `ulimit -v` a block that lands in a gigabyte without
   one needs that much more, and failed after its own mapping had succeeded
   (alloc.sys.rows_elsewhere, 1 run in 300). */
static void *map_registered(size_t need, size_t align, unsigned *calls) {
    void *p = map_aligned(need, align, calls);
    if (p && !reg_cover((uintptr_t)p, NULL)) {
        mh_os_unmap(p, need);
        (*calls)++;
        p = NULL;
    }
    return p;
}

/* The mapping at addr (old bytes, a registered block's: its entry cleared) grown to need
   bytes by mremap, in place when the pages after it are free, else moved (page table
   entries, never copied), with its new address's leaf in place; NULL, with the mapping
   as it was and errno kept, if it cannot be. Without a leaf to spare (no address space
   left for one), in place only. */
/* mremap, but in ThreadSanitizer's builds a fresh mapping, a copy and an munmap, which it
   sees (it does not see mremap, and kept the accesses to a block that moved as if they
   were made to the block mapped there later: alloc.sys.tsan.stress.cpu reported such a
   race once in about a dozen loaded test runs); in place is then never possible. */
static void *remap(void *p, size_t old, size_t need, int flags) {
#if defined(__SANITIZE_THREAD__)
    if (!(flags & MREMAP_MAYMOVE)) return MAP_FAILED;
    void *q = mmap(NULL, need, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (q == MAP_FAILED) return q;
    memcpy(q, p, old);
    munmap(p, old);
    return q;
#else
    return mremap(p, old, need, flags);
#endif
}

static void *remap_grow(uintptr_t addr, size_t old, size_t need, unsigned *calls) {
    int saved = errno;
    uint64_t *leaf = leaf_take();
    void *q = remap((void *)addr, old, need, leaf ? MREMAP_MAYMOVE : 0);
    (*calls)++;
    errno = saved;
    /* Linux places no mapping above 47 bits unless asked to with a hint. */
    if (q != MAP_FAILED && !reg_cover((uintptr_t)q, &leaf))
        mh_fatal("mremap moved a large block out of the registry's address space", q);
    leaf_give_back(leaf);
    return q == MAP_FAILED ? NULL : q;
}

/* Raises L.max_bytes to size. */
static void note_size(size_t size) {
    size_t seen = __atomic_load_n(&L.max_bytes, __ATOMIC_RELAXED);
    while (seen < size && !__atomic_compare_exchange_n(&L.max_bytes, &seen, size, true,
                                                      __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        continue;
}

/* Counts on sh the bytes a live block changed by (growth: calls system calls). */
static void count_on(shard *sh, uint64_t allocs, size_t old, size_t now, unsigned calls) {
    shard_lock(sh);
    MH_STAT_ADD(sh->allocs, allocs);
    MH_STAT_ADD(sh->live_bytes, now - old);
    MH_STAT_ADD(sh->os_calls, calls);
    shard_unlock(sh);
    note_size(now);
}

/* Registers a block mapped for the program (calls: system calls made for it) live and
   counts it; its leaf is in place (map_registered, remap_grow). */
static void hand_out(large_block b, unsigned calls) {
    reg_set(b.addr, reg_entry(b.size, REG_LIVE));
    count_on(cpu_shard_here(), 1, 0, b.size, calls);
}

static bool page_round(size_t size, size_t *out) {
    if (size > PTRDIFF_MAX - OS_PAGE) {
        errno = ENOMEM;
        return false;
    }
    *out = size ? (size + OS_PAGE - 1) & ~(OS_PAGE - 1) : OS_PAGE;   /* aligned_alloc(a, 0) */
    return true;
}

/* Is a request of need bytes (page-rounded) at align rounded up to a bin? Whether or not
   the rows run: the CPU shards keep the bins' blocks (with the front cache off, 36864
   bytes, no bin's size, took 751 ns an operation on shard 0's lock in a 2-thread loop, and
   40960 bytes 46 ns). */
static inline bool bin_request(size_t need, size_t align) {
    return need >= MH_LARGE_BIN_MIN_PAGES * OS_PAGE && need <= MH_LARGE_BIN_MAX_PAGES * OS_PAGE &&
           align <= OS_PAGE && mh_global.large_cache;
}

/* Do the large rows run (mh_global.large_rows), and has pthread_create not refused the
   purger, which alone empties them? */
static inline bool rows_on(void) {
    return mh_global.large_rows && !__atomic_load_n(&mh_global.purger_failed, __ATOMIC_RELAXED);
}

static inline size_t large_row(unsigned bin) { return mh_row_offset(MH_SMALL_ROWS + bin); }

/* From this CPU's shard of the shared cache, else a fresh mapping; registered live and
   counted. *used: the bytes that may hold a former block's data. */
/* A cached block of sh that fits (wasting at most 25%), counted as allocated there in the
   same critical section (a lock acquisition is an atomic exchange, a good part of what a
   cached alloc costs); addr 0 if none. */
static large_block take_fit(shard *sh, size_t need, size_t align) {
    shard_lock(sh);
    large_block b = cache_take(sh, need, need + need / 4, align);
    if (b.addr) {
        MH_STAT_ADD(sh->allocs, 1);
        MH_STAT_ADD(sh->live_bytes, b.size);
    }
    shard_unlock(sh);
    return b;
}

/* A cached block that fits: for a bin's size (no row took it: no front cache, or the
   rows' refill found none) from the CPU shards, this CPU's first; then from shard 0. */
static large_block take_any_fit(size_t need, size_t align) {
    large_block b = {.addr = 0};
    if (bin_block(need))
        for (unsigned k = 0, cpu = (unsigned)mh_current_cpu(), count = cpu_shards_count();
             k < count && !b.addr; k++) {
            unsigned i = cpu_shard_from(cpu, k);
            if (shard_holds(i)) b = take_fit(shard_at(i), need, align);
        }
    if (!b.addr && shard_holds(0)) b = take_fit(&big_shard, need, align);
    return b;
}

/* The largest cached block smaller than need: of shard 0 (the blocks of no bin, the larger
   ones), else of this CPU's shard (a smaller bin's, which a program moving up through the
   sizes has left there). Not only for a bin's size: size-sweep's 1 MiB blocks, mapped anew
   while its 64 KiB ones waited in the CPU shards, raised its peak RSS from 143.8 to 152.9
   MiB. */
static large_block take_below(size_t need) {
    large_block b = {.addr = 0};
    unsigned own = cpu_shard_from((unsigned)mh_current_cpu(), 0);
    for (unsigned i = 0; !b.addr; i = own) {
        if (shard_holds(i)) {
            shard_lock(shard_at(i));
            b = cache_take_below(shard_at(i), need);
            shard_unlock(shard_at(i));
        }
        if (i == own) break;
    }
    return b;
}

/* The bytes of the blocks every shard holds. */
static size_t cached_bytes(void) {
    size_t cached = 0;
    for (unsigned i = 0, n = shard_count(); i < n; i++)
        if (shard_holds(i)) {
            shard_lock(shard_at(i));
            cached += shard_at(i)->cached_bytes;
            shard_unlock(shard_at(i));
        }
    return cached;
}

/* Can need bytes be given back only with the blocks the large rows of other CPUs, those
   the purger visits, hold (racy reads)? What this CPU's rows and the shards hold is given
   back without them. */
static bool needs_other_rows(size_t need) {
    int here = mh_current_cpu();
    size_t own = cached_bytes(), others = 0;
    for (unsigned cpu = 0; cpu < mh_global.ncpus; cpu++)
        if ((int)cpu == here) own += mh_cache_tally_of(cpu).large_bytes;
        else if (mh_purger_may_visit(cpu)) others += mh_cache_tally_of(cpu).large_bytes;
    return own < need && own + others >= need;
}

/* A mapping or a growth of need bytes failed (address space used up, ulimit -v, the
   commit limit): the blocks the large rows and every shard hold go back to the OS,
   however young, if they are at least need bytes, so that one more try finds room (tcmalloc
   releases its free pages so, before it gives up). A hopeless request (1 << 47 bytes) leaves
   the shards as they were (this CPU's large rows go into them), and so does one that the
   cache could help only together with what is free (not known here). Another CPU's rows only that CPU's threads and the
   purger can empty: the purger is asked to when they hold enough to matter (up to 8 MiB
   a CPU; only those of the CPUs it visits). This CPU's rows and the shards are emptied
   under the purger's lock, like its passes. errno as it was. */
static void release_cached(size_t need) {
    int saved = errno;   /* munmap's */
    unsigned unmapped = 0;
    if (rows_on() && needs_other_rows(need)) mh_purger_drain_large_rows();
    mh_purger_lock();
    int cpu = mh_current_cpu();
    if (rows_on() && cpu >= 0) {
        uint64_t rows[MH_CACHE_ROW_WORDS];
        mh_cache_large_rows(rows);
        mh_cache_drain((unsigned)cpu, rows);
    }
    size_t cached = cached_bytes();
    for (unsigned i = 0, n = shard_count(); i < n && cached >= need; i++)
        if (shard_holds(i)) purge_shard(shard_at(i), mh_now_ms(), true, &unmapped);
    mh_purger_unlock(false);
    errno = saved;
}

/* A cached block that fits, else the largest smaller one grown (not for aligned
   requests), else a fresh mapping (again after release_cached if it fails); registered
   live and counted. *used: the bytes that may hold a former block's data. */
static void *shared_alloc(size_t need, size_t align, size_t *used) {
    large_block b = take_any_fit(need, align);
    if (b.addr) {
        reg_set(b.addr, reg_entry(b.size, REG_LIVE));
        *used = b.size;
        return (void *)b.addr;
    }
    if (align == OS_PAGE) b = take_below(need);
    unsigned calls = 0;
    void *p = NULL;
    *used = 0;
    if (b.addr) {   /* a smaller block, to grow */
        reg_set(b.addr, 0);
        p = remap_grow(b.addr, b.size, need, &calls);
        if (p) {
            *used = b.size;
        } else {
            reg_set(b.addr, reg_entry(b.size, REG_CACHED));
            shared_put(b, 0);
        }
    }
    if (!p) mh_purger_start();   /* a block of no bin: see mh_large_alloc */
    int saved = errno;   /* a malloc that succeeds on its second try leaves it alone */
    if (!p) p = map_registered(need, align, &calls);
    /* Again once the cache gave back what it holds, even if this call gave back nothing:
       the purger, whose lock it waited for, may just have (as for small growth, heap.c). */
    if (!p) {
        release_cached(need);
        errno = saved;
        p = map_registered(need, align, &calls);
    }
    if (!p) {
        errno = ENOMEM;
        return NULL;
    }
    hand_out((large_block){.addr = (uintptr_t)p, .size = need}, calls);
    return p;
}

void *mh_large_alloc(size_t size, size_t align, bool zero) {
    size_t need, used;
    if (!page_round(size, &need)) return NULL;
    if (align < OS_PAGE) align = OS_PAGE;
    void *p;
    if (bin_request(need, align)) {
        /* A bin's blocks are all of its size, so that each serves any request of it. */
        unsigned bin = mh_large_bin_of(need / OS_PAGE);
        need = mh_large_bin_bytes(bin);
        p = rows_on() ? mh_cache_pop(large_row(bin)) : NULL;
        /* The purger, which alone empties the rows, before a slow path (rows_on() says
           whether it could be created): a program of large blocks alone would never have
           started it (a heap's growth does), nor a forked child whose rows were ready, nor
           one without the front cache, whose blocks age in the shards. One relaxed load
           once it runs. */
        if (!p) mh_purger_start();
        if (!p && rows_on()) p = mh_cache_large_alloc_slow(bin);
        if (p) {
            reg_set((uintptr_t)p, reg_entry_of(need, bin + 1, REG_LIVE));
            if (zero) memset(p, 0, size);
            return p;
        }
    }
    p = shared_alloc(need, align, &used);
    if (p && zero) memset(p, 0, used);
    return p;
}

/* The entry of a block that starts at p; NULL for an address inside a page, whose page's
   entry belongs to the block starting there. */
static inline uint64_t *entry_of(const void *p) {
    return (uintptr_t)p & (OS_PAGE - 1) ? NULL : reg_slot((uintptr_t)p);
}

/* Marks a live block's entry e cached; false (with *entry as found) if it is not live.
   Any second free of a block finds it cached. Two frees of one block at the same time
   may both find it live, unless MULTIHEAP_CHECK=1 (as for small objects, the check that
   costs the fast path is check mode's): there a compare-and-swap makes one of them fail,
   at the cost of a locked instruction, which took a cached malloc+free pair of 18705
   bytes from 14 to 26 ns. */
static inline bool mark_cached(uint64_t *e, uint64_t *entry) {
    if (!(*entry & REG_LIVE)) return false;
    if (MH_UNLIKELY(mh_global.check))
        return __atomic_compare_exchange_n(e, entry, (*entry ^ REG_LIVE) | REG_CACHED, false,
                                           __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    __atomic_store_n(e, (*entry ^ REG_LIVE) | REG_CACHED, __ATOMIC_RELAXED);
    return true;
}

bool mh_large_free(void *p) {
    uint64_t *e = entry_of(p);
    uint64_t entry = e ? __atomic_load_n(e, __ATOMIC_RELAXED) : 0;
    if (!mark_cached(e, &entry)) {
        if (entry & REG_CACHED) mh_fatal("double free of a large block", p);
        return false;
    }
    unsigned bin_plus1 = REG_BIN_PLUS1(entry);
    if (bin_plus1 && rows_on() &&
        (mh_cache_push(large_row(bin_plus1 - 1), p) || mh_cache_large_free_slow(p, bin_plus1 - 1)))
        return true;
    shared_put((large_block){.addr = (uintptr_t)p, .size = REG_SIZE(entry)}, 1);
    return true;
}

bool mh_large_is_freed(const void *p) {
    uint64_t *e = entry_of(p);
    return e && __atomic_load_n(e, __ATOMIC_RELAXED) & REG_CACHED;
}

size_t mh_large_usable_size(const void *p) {
    uint64_t *e = entry_of(p);
    uint64_t entry = e ? __atomic_load_n(e, __ATOMIC_RELAXED) : 0;
    return entry & REG_LIVE ? REG_SIZE(entry) : 0;
}

/*
 * Grows a block of up to MH_LARGE_COPY_MAX bytes into a cached block when one fits (a
 * copy: cheaper than a system call for a block this small), else with mremap, in place
 * when the next pages are free and moving the pages (no copy) otherwise; a growing block
 * doubles (25% above MH_LARGE_DOUBLE_MAX) so a series of growths (a vector, a string
 * builder) makes few calls. A block shrinks (its tail unmapped) only when it would
 * otherwise waste more than a quarter of itself.
 */
void *mh_large_realloc(void *p, size_t size) {
    size_t need;
    if (!page_round(size, &need)) return NULL;
    uint64_t entry = reg_get((uintptr_t)p);
    if (!(entry & REG_LIVE)) mh_fatal("realloc of a large block freed meanwhile", p);
    size_t old = REG_SIZE(entry);
    if (need <= old && need >= old - old / 4) return p;
    shard *sh = cpu_shard_here();
    if (need < old) {
        reg_set((uintptr_t)p, reg_entry(need, REG_LIVE));
        count_on(sh, 0, old, need, 1);
        mh_os_unmap((char *)p + need, old - need);
        return p;
    }
    if (need <= MH_LARGE_COPY_MAX && mh_global.large_cache) {
        /* A growing block will use the room of a bigger one: take up to twice need, a
           bin's block from this CPU's shard, else one of shard 0. */
        large_block b = {.addr = 0};
        for (shard *from = sh;; from = &big_shard) {
            shard_lock(from);
            b = cache_take(from, need, 2 * need, OS_PAGE);
            if (b.addr) MH_STAT_ADD(from->live_bytes, b.size - old);
            shard_unlock(from);
            if (b.addr || from == &big_shard) break;
        }
        if (b.addr) {
            memcpy((void *)b.addr, p, old);
            reg_set(b.addr, reg_entry(b.size, REG_LIVE));
            reg_set((uintptr_t)p, reg_entry(old, REG_CACHED));
            shared_put((large_block){.addr = (uintptr_t)p, .size = old}, 0);
            return (void *)b.addr;
        }
    }
    /* Room to grow again without a call: untouched pages cost address space only. */
    size_t roomy = old < MH_LARGE_DOUBLE_MAX ? 2 * old : (old + old / 4 + OS_PAGE - 1) & ~(OS_PAGE - 1);
    if (roomy < need) roomy = need;
    unsigned calls = 0;
    reg_set((uintptr_t)p, 0);   /* a move releases p's address */
    void *q = remap_grow((uintptr_t)p, old, roomy, &calls);
    if (!q && roomy > need) q = remap_grow((uintptr_t)p, old, roomy = need, &calls);
    if (!q) {
        release_cached(need);
        q = remap_grow((uintptr_t)p, old, roomy = need, &calls);
    }
    reg_set((uintptr_t)(q ? q : p), reg_entry(q ? roomy : old, REG_LIVE));
    count_on(sh, 0, old, q ? roomy : old, calls);
    if (!q) errno = ENOMEM;
    return q;
}

/* The nearest block start at or below p decides: no block spans another's start. */
bool mh_large_contains(const void *p) {
    uintptr_t page = (uintptr_t)p & ~(OS_PAGE - 1);
    size_t most = __atomic_load_n(&L.max_bytes, __ATOMIC_RELAXED);
    for (size_t back = 0; back < most && back <= page; back += OS_PAGE) {
        uint64_t entry = reg_get(page - back);
        if (entry) return entry & REG_LIVE && (uintptr_t)p - (page - back) < REG_SIZE(entry);
    }
    return false;
}

void mh_large_stats(mh_stats *out) {
    uint64_t allocs = 0, frees = 0, live_bytes = 0, os_calls = 0;
    for (unsigned i = 0, n = shard_count(); i < n; i++) {
        const shard *sh = shard_at(i);
        allocs += MH_STAT_READ(sh->allocs);
        frees += MH_STAT_READ(sh->frees);
        live_bytes += MH_STAT_READ(sh->live_bytes);
        os_calls += MH_STAT_READ(sh->os_calls);
    }
    for (unsigned cpu = 0; cpu < mh_global.ncpus; cpu++) {
        mh_cache_tally t = mh_cache_tally_of(cpu);
        allocs += t.large_allocs;
        frees += t.large_frees;
        live_bytes += (uint64_t)t.large_net_bytes;
    }
    out->large_allocs = allocs;
    out->large_frees = frees;
    out->large_live = allocs > frees ? allocs - frees : 0;
    /* a sum of the rows' net bytes, which a free counted on one CPU and its alloc on
       another not yet read makes negative for a moment */
    out->large_live_bytes = (int64_t)live_bytes > 0 ? live_bytes : 0;
    out->large_os_calls = os_calls;
}

/* Fork: every shard, in order. */
void mh_large_lock(void) {
    unsigned n = shard_count();
    for (unsigned i = 0; i < n; i++) mh_lock_acquire(&shard_locks[i].lock);
    L.nlocked = n;
}

void mh_large_unlock(bool child) {
    for (unsigned i = 0, n = L.nlocked; i < n; i++) {
        if (child) mh_lock_reset(&shard_locks[i].lock);
        else mh_lock_release(&shard_locks[i].lock);
    }
}
