/*
 * The per-CPU front cache's slow paths: readying a CPU's cache at its first use,
 * refilling an empty row from the CPU's heap and flushing a full one back to the
 * objects' owner heaps, in batches, one lock acquisition per owner (remote frees
 * batched per owner, as jemalloc's bins flush). The fast paths are in cache.h.
 *
 * A CPU's class rows hold its own heap's objects, its remote rows any other heap's: a
 * free on CPU 1 of CPU 0's object is a push on CPU 1's remote row, and CPU 0's heap gets
 * it back with that row's next flush (mh_cpu_cache says why). Rows change only in
 * sequences on their own CPU, but for their capacity (ready_row, grow_row: a
 * compare-and-swap), the check's copy (ready_row) and the history of their slow paths
 * (note_slow_path), which a thread that moved since it chose its cache may write from
 * another CPU; other CPUs read them (the search of a double free, the statistics).
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>

#include "cache.h"

MH_TLS mh_cache_binding mh_bound = {NULL, MH_CPU_UNBOUND, MH_OWNER_TAG_NONE};

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
    /* Free's fast path compares the CPU number with an owner tag (mh_page_entry_of). */
    if (mh_global.ncpus > MH_OWNER_TAG_NONE) return "off(over 8191 CPUs)";
    if (rseq_cpu() < 0) return "off(no rseq)";
    return NULL;
}

const char *mh_cache_setup(void) {
    const char *why = cache_unavailable();
    if (why) return why;
    /* One cache per possible CPU at a fixed stride, so the bulk sequences and the
       binding compute a CPU's cache from its number (the single-object ones load it
       from the binding); untouched, a row costs nothing until a slow path on its CPU
       readies it (below). */
    size_t bytes = (size_t)mh_global.ncpus << MH_CACHE_STRIDE_SHIFT;
    mh_global.caches = mh_os_map_sparse(bytes);
    /* Small pages only: with transparent huge pages "always", the first row written
       faulted in 2 MiB, four CPUs' caches (huge pages under the caches were level on
       churn, DEVELOPERS.md). */
    if (mh_global.caches) madvise(mh_global.caches, bytes, MADV_NOHUGEPAGE);
    size_t rows_bytes = mh_global.ncpus * MH_CACHE_ROW_WORDS * sizeof *mh_global.cache_rows;
    mh_global.cache_rows = mh_os_map(rows_bytes);
    mh_global.rseq_offset = __rseq_offset;
    if (mh_global.caches && mh_global.cache_rows) return NULL;
    /* Both or neither: the readers test caches alone. */
    if (mh_global.caches) mh_os_unmap(mh_global.caches, bytes);
    if (mh_global.cache_rows) mh_os_unmap(mh_global.cache_rows, rows_bytes);
    mh_global.caches = NULL;
    mh_global.cache_rows = NULL;
    return "off(out of memory)";
}

/* Is row r of CPU cpu's cache one that was ever readied? false without a front cache,
   for no such CPU (rseq_cpu()'s -1) or a CPU that never ran a slow path. Readers of
   every row read these alone: reading a row never used would map its page (the zero
   page: no memory, but a page table entry and a fault for each). */
static bool row_used(unsigned cpu, unsigned r) {
    if (!mh_global.caches || cpu >= mh_global.ncpus) return false;
    const uint64_t *words = &mh_global.cache_rows[(size_t)cpu * MH_CACHE_ROW_WORDS];
    return __atomic_load_n(&words[r / 64], __ATOMIC_ACQUIRE) >> (r % 64) & 1;
}

/* A refill or flush moves half a row. Two threads on a CPU may both be raising its
   capacity: read it atomically. */
static size_t half_row(mh_cpu_cache *c, unsigned r) {
    return __atomic_load_n(&mh_cache_row_at(c, r)->cap, __ATOMIC_RELAXED) / 2;
}

/* The most objects row r holds unless it seesaws (note_slow_path). */
static uint32_t row_capacity(unsigned r) {
    return mh_row_is_large(r) ? mh_large_row_capacity(r - MH_SMALL_ROWS)
                              : mh_cache_capacity(mh_row_class(r));
}

/* The most objects row r may hold once it seesaws: a class row grows up to its class's
   burst maximum; remote rows are only ever flushed, and large rows have no slots for
   more. */
static uint32_t row_burst_capacity(unsigned r) {
    return r < MH_NCLASSES ? mh_cache_burst_capacity(r) : row_capacity(r);
}

/* Raises the capacity of row r from `from` (0: not readied) to `to`, unless another
   thread of the CPU (or one that ran there) has already raised it. Never lowers it: the
   bulk push computes its room as cap - count. */
static void raise_row(mh_cpu_cache *c, unsigned r, uint32_t from, uint32_t to) {
    __atomic_compare_exchange_n(&mh_cache_row_at(c, r)->cap, &from, to, false, __ATOMIC_RELEASE,
                                __ATOMIC_RELAXED);
}

/* Readies row r of CPU cpu's cache c at its first slow path there. A row's capacity is
   0 until then, which fails both fast paths (the row is empty, and full), so a CPU's
   cache touches only the rows in use on it: readying all of them at the CPU's first
   slow path wrote a page each, 58 pages (232 KiB) when there were no remote rows.
   true: the row was not ready, and now is. */
static bool ready_row(mh_cpu_cache *c, unsigned cpu, unsigned r) {
    if (__atomic_load_n(&mh_cache_row_at(c, r)->cap, __ATOMIC_RELAXED) != 0) return false;
    /* The bit first: a fork between the two must not leave a child with a row in use
       that the tally and the drain never look at (a listed row at capacity 0 reads as
       empty). */
    __atomic_fetch_or(&mh_global.cache_rows[(size_t)cpu * MH_CACHE_ROW_WORDS + r / 64],
                      (uint64_t)1 << (r % 64), __ATOMIC_RELEASE);
    if (!mh_row_is_large(r)) {
        /* Before the capacity, which free's push reads first (cache.h): this thread may
           have moved to another CPU since it chose c, and pushes on c's CPU run while it
           writes. The limit last all the same: a limit of 0 passes no pointer. Two
           threads readying the row at once write the same values. */
        mh_cache_row *row = mh_cache_row_at(c, r);
        const mh_class_check *check = &mh_class_checks[mh_row_class(r) + 1];
        __atomic_store_n(&row->check_divisibility, check->divisibility, __ATOMIC_RELAXED);
        __atomic_store_n(&row->check_unit_mask, check->unit_mask, __ATOMIC_RELAXED);
        __atomic_store_n(&row->check_limit, check->limit, __ATOMIC_RELEASE);
    }
    uint32_t max = row_capacity(r);
    raise_row(c, r, 0, max < MH_CACHE_START_SLOTS ? max : MH_CACHE_START_SLOTS);
    return true;
}

/* What a class row's slow path found: the row empty (a refill) or full (a flush, or
   growth instead of one). */
enum { ROW_RAN_EMPTY = 0, ROW_RAN_FULL = 1 };

/* A row's slow_history: bit 0 the kind of its last slow path, bit HISTORY_SHORT_BIT
   whether the run of one kind before the current run was short, the current run's
   length (up to RUN_LIMIT) from HISTORY_RUN_SHIFT, and the row's operation count at its
   last slow path from HISTORY_OPS_SHIFT on (modulo 2^56). */
#define HISTORY_SHORT_BIT 1
#define HISTORY_RUN_SHIFT 2
#define RUN_LIMIT         15
#define HISTORY_OPS_SHIFT 8
_Static_assert((RUN_LIMIT & (RUN_LIMIT + 1)) == 0 &&
                   RUN_LIMIT << HISTORY_RUN_SHIFT < 1 << HISTORY_OPS_SHIFT,
               "a run's length is a mask-wide field below the operation count");

/* The longest run of one kind that makes a seesaw. A refill or flush moves half a row,
   so a round of a burst of B objects makes runs of about 2B / cap slow paths: with 4,
   bursts of up to two rows or a little more grow the row (rounds of 64 blocks grow a row
   of 32, rounds of 96 do not: alloc.unit.cache_growth). Longer rounds would need a row
   many times as large to stop refilling, and a larger row would only hold more. */
#define SHORT_RUN 4

/*
 * Records a slow path of class row r, which found the row empty or full (kind); true if
 * it turns a seesaw: the row went from one end to the other and back, in runs of at
 * most SHORT_RUN slow paths of one kind, each within two rows' worth of the row's own
 * operations of the one before. Within a run the slow paths are half a row apart and a
 * turn at most a row and a half after the last one, while a random mix of mallocs and
 * frees takes about a quarter of the capacity squared operations to go from half full
 * to an end, so it turns within that window rarely: a row of a few dozen now and then
 * (DEVELOPERS.md), a larger one hardly ever. Threadtest's 100000 objects allocated,
 * then freed, make runs of hundreds. A program that allocates a burst of the class and
 * frees it again, round after round, seesaws when its bursts are over a row, or over
 * half a row in the cycles that refill and flush in every round; a row of twice the
 * burst serves it without a slow path.
 */
static bool note_slow_path(mh_cpu_cache *c, unsigned r, unsigned kind) {
    mh_cache_row *row = mh_cache_row_at(c, r);
    uint64_t ops = __atomic_load_n(&row->allocs, __ATOMIC_RELAXED) +
                   __atomic_load_n(&row->frees, __ATOMIC_RELAXED);
    uint64_t last = __atomic_load_n(&row->slow_history, __ATOMIC_RELAXED);
    uint64_t cap = __atomic_load_n(&row->cap, __ATOMIC_RELAXED);
    uint64_t since = (ops - (last >> HISTORY_OPS_SHIFT)) << HISTORY_OPS_SHIFT >>
                     HISTORY_OPS_SHIFT;
    uint64_t run = last >> HISTORY_RUN_SHIFT & RUN_LIMIT;
    uint64_t short_before = last >> HISTORY_SHORT_BIT & 1;
    bool seesaw = false;
    if (last == 0 || since > 2 * cap) {
        run = 1;   /* the first, or one after a while: a new start */
        short_before = 0;
    } else if ((last & 1) == kind) {
        run += run < RUN_LIMIT;
    } else {
        seesaw = short_before && run <= SHORT_RUN;
        short_before = run <= SHORT_RUN;
        run = 1;
    }
    __atomic_store_n(&row->slow_history,
                     ops << HISTORY_OPS_SHIFT | run << HISTORY_RUN_SHIFT |
                         short_before << HISTORY_SHORT_BIT | kind,
                     __ATOMIC_RELAXED);
    return seesaw;
}

/* Row r ran empty or full: it is in use on this CPU, so it may hold twice as much, up
   to its maximum, or to its burst maximum when it seesaws. false: it is at that
   maximum. */
static bool grow_row(mh_cpu_cache *c, unsigned r, bool seesaw) {
    uint32_t cap = __atomic_load_n(&mh_cache_row_at(c, r)->cap, __ATOMIC_RELAXED);
    uint32_t max = seesaw ? row_burst_capacity(r) : row_capacity(r);
    if (cap >= max) return false;
    raise_row(c, r, cap, 2 * cap < max ? 2 * cap : max);
    return true;
}

/* The cache of the CPU this thread is bound to, and that CPU in *cpu, binding the thread
   to the CPU it runs on first if need be; NULL when the thread has no registered rseq
   area. *rebound: the binding (cache.h) was stale and has been renewed, so the fast path
   may have failed for that alone: the caller tries it once more (which checks the
   binding again). The single-object sequences use the bound CPU's rows only, and the
   bulk ones the rows of *cpu only. */
static mh_cpu_cache *current_cache(unsigned *cpu, bool *rebound) {
    int on = rseq_cpu();
    *rebound = false;
    if (on < 0 || (unsigned)on >= mh_global.ncpus) return NULL;
    *cpu = (unsigned)on;
    /* The thread may have moved again before the binding: it binds where it runs. */
    if (mh_bound.cpu != *cpu && (*rebound = mh_cache_bind())) *cpu = mh_bound.cpu;
    return mh_cache_of_cpu(*cpu);
}

/* Do CPU cpu's remote rows hold objects of one heap only? They hold other heaps'
   objects only (a free's push picks a remote row when the unit's owner tag is not its
   binding's, and such a unit keeps its owner while the object is out), so with cpu's
   heap and one other in use, that other's: no lookup of every object's owner, which
   took a fifth of xmalloc's freer (a flush of 512 objects, 10 instructions each). A
   heap that became active since the objects were pushed cannot own any of them. cpu's
   own flag is read first: the count only grows, so a heap activated between the two
   reads errs towards grouping. Read the other way round, a signal handler's first
   malloc on cpu between them made 2 <= 1 + 1 of two other heaps (a review, under gdb:
   255 objects in the wrong stash). */
static bool one_remote_owner(unsigned cpu) {
    const mh_heap *mine = &mh_global.heaps[mh_current_heap_index((int)cpu)];
    unsigned mine_active = __atomic_load_n(&mine->active, __ATOMIC_ACQUIRE);
    return mh_active_heaps() <= 1 + mine_active;
}

/* Objects popped from row r of CPU cpu go back: small ones to their owner heaps, a lock
   acquisition per owner, large blocks to the shared large cache. With remote bins a
   class row holds its CPU's heap's objects only (a free's push picks the class row only
   when the unit's owner tag is that of the binding the sequence uses,
   mh_cache_push_freed; a refill brings the heap's own; a unit keeps its owner while any
   of its objects is out of it), so only remote rows need grouping: looking up every
   owner of a class row's flush took 6% of threadtest's samples. */
static void release_batch(unsigned cpu, unsigned r, void **batch, size_t n, mh_free_source why) {
    if (mh_row_is_large(r)) {
        mh_large_put_cached(cpu, batch, n);
        return;
    }
    if (r >= MH_NCLASSES ? !one_remote_owner(cpu) : !mh_global.remote_bins)
        mh_group_by_owner(batch, n);
    mh_small_free_batch(batch, n, why);
}

/* Pops up to n objects (at most MH_CACHE_SLOTS / 2) of row r of CPU cpu into batch, if
   the thread still runs there, and releases them; how many. The caller lends the batch:
   a 4 KiB array in each of two frames on one path (malloc's refill flushing the remote
   row), with the grouping's own, overflowed a thread stack of PTHREAD_STACK_MIN (a
   review). */
static size_t flush_row(unsigned cpu, unsigned r, size_t n, void **batch, mh_free_source why) {
    n = mh_cache_pop_many(mh_row_offset(r), batch, n, cpu);
    release_batch(cpu, r, batch, n, why);
    return n;
}

void *mh_cache_alloc_slow(unsigned cls) {
    bool rebound;
    unsigned cpu;
    mh_cpu_cache *c = current_cache(&cpu, &rebound);
    if (!c) return mh_heap_alloc(mh_current_heap(), cls, 1);
    /* A row readied now starts at its start capacity, not twice that: the first malloc
       of a class of 18704-byte blocks fetched 16 of them (292 KiB). */
    bool fresh = ready_row(c, cpu, cls);
    void *p;
    if (rebound && (p = mh_cache_pop(mh_cache_row_of(cls)))) return p;
    mh_heap *h = mh_heap_of_cpu(cpu);
    mh_heap_stash_ensure(h);
    if (!fresh) grow_row(c, cls, note_slow_path(c, cls, ROW_RAN_EMPTY));
    void *batch[MH_CACHE_SLOTS / 2];
    /* Other heaps' objects freed here wait in the class's remote row until it fills, and
       keep their pages in use meanwhile; before there were remote rows this CPU's
       mallocs would have reused them. A refill sends them all home. */
    unsigned remote = MH_NCLASSES + cls;
    if (row_used(cpu, remote))
        while (__atomic_load_n(&mh_cache_row_at(c, remote)->count, __ATOMIC_RELAXED) &&
               flush_row(cpu, remote, MH_CACHE_SLOTS / 2, batch, MH_FREED_BY_FLUSH))
            continue;
    size_t n = mh_heap_alloc_batch(h, cls, batch, half_row(c, cls), true);
    if (n == 0) return NULL;
    /* Only onto cpu's row (if the thread moved since, none): what does not fit goes
       back. */
    size_t pushed = mh_cache_push_many(mh_cache_row_of(cls), batch + 1, n - 1, cpu);
    if (1 + pushed < n) mh_small_free_batch(batch + 1 + pushed, n - 1 - pushed, MH_FREED_BY_FLUSH);
    mh_heap_maybe_purge(h);
    return batch[0];
}

/* Groups objs[0..n) by the byte of their owner heap's id at shift, then each group by
   the bytes below: an American flag sort (McIlroy, Bostic and McIlroy, 1993), in place
   and one pass per byte, reading the owners from the page-owner map. For flushes that
   hold many owners; its 256 buckets cost more than a list of a few. */
static void group_by_owner_byte(void **objs, size_t n, unsigned shift) {
    uint16_t count[256] = {0}, next[256], end[256];
    for (size_t i = 0; i < n; i++) count[mh_page_owner(objs[i]) >> shift & 255]++;
    for (unsigned b = 0, at = 0; b < 256; b++) {
        next[b] = (uint16_t)at;
        end[b] = (uint16_t)(at += count[b]);
    }
    for (unsigned b = 0; b < 256; b++)
        while (next[b] < end[b]) {
            void *o = objs[next[b]];
            unsigned d = mh_page_owner(o) >> shift & 255;
            if (d == b) {
                next[b]++;
            } else {
                objs[next[b]] = objs[next[d]];
                objs[next[d]++] = o;
            }
        }
    if (shift == 0) return;
    for (unsigned b = 0, at = 0; b < 256; at += count[b++])
        if (count[b] > 1) group_by_owner_byte(objs + at, count[b], shift - 8);
}

/* mh_page_owner(p) with the map and the range's base in registers. */
static inline unsigned owner_in(const uint16_t *map, uintptr_t base, const void *p) {
    return __atomic_load_n(&map[((uintptr_t)p - base) >> MH_PAGE_SHIFT], __ATOMIC_RELAXED);
}

/* Does one heap own all of objs[0..n)? Every object's owner is looked up, without a
   branch: skipping the lookup for an object in the page of the one before it mispredicted
   whenever a flush's pages alternated (cross-core-free: 10% of its samples). Four
   running tests, and the map and range base held in registers (mh_page_owner's atomic
   load made GCC reload the base for each object): 7 instructions an object, not 10. */
static bool one_owner(void *const *objs, size_t n) {
    const uint16_t *map = mh_global.page_owner;
    uintptr_t base = (uintptr_t)mh_global.small_base;
    unsigned owner = owner_in(map, base, objs[0]), d0 = 0, d1 = 0, d2 = 0, d3 = 0;
    size_t i = 1;
    for (; i + 4 <= n; i += 4) {
        d0 |= owner_in(map, base, objs[i]) ^ owner;
        d1 |= owner_in(map, base, objs[i + 1]) ^ owner;
        d2 |= owner_in(map, base, objs[i + 2]) ^ owner;
        d3 |= owner_in(map, base, objs[i + 3]) ^ owner;
    }
    for (; i < n; i++) d0 |= owner_in(map, base, objs[i]) ^ owner;
    return (d0 | d1 | d2 | d3) == 0;
}

/* Owners a flush lists one by one before it falls back to the 256 buckets. */
#define FEW_OWNERS 32

/* Groups objs[0..n) by owner if they have at most FEW_OWNERS of them (else false, and
   objs unchanged): the owners are listed in order of appearance, each object is
   counted against its owner's entry, and a counting pass gives each its place, where
   a walk of the permutation's cycles puts it. In place and stable (a flush's runs of
   neighbours stay runs for the pages' bitmaps): a copy through a second 4 KiB array
   was part of the stack that overflowed (flush_row). */
static bool group_few_owners(void **objs, size_t n) {
    uint16_t owner[FEW_OWNERS], start[FEW_OWNERS + 1] = {0};
    uint16_t entry[MH_CACHE_SLOTS / 2];   /* objs[i]'s owner entry, then its place */
    unsigned nowners = 0, e = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned id = mh_page_owner(objs[i]);
        if (nowners == 0 || owner[e] != id) {
            for (e = 0; e < nowners && owner[e] != id; e++) continue;
            if (e == nowners) {
                if (nowners == FEW_OWNERS) return false;
                owner[nowners++] = (uint16_t)id;
            }
        }
        entry[i] = (uint16_t)e;
        start[e + 1]++;
    }
    for (unsigned k = 1; k < nowners; k++) start[k + 1] += start[k];
    for (size_t i = 0; i < n; i++) entry[i] = start[entry[i]]++;
    for (size_t i = 0; i < n; i++)
        while (entry[i] != i) {
            size_t to = entry[i];
            void *o = objs[to];
            objs[to] = objs[i];
            objs[i] = o;
            entry[i] = entry[to];
            entry[to] = (uint16_t)to;
        }
    return true;
}

/* mh_small_free_batch then takes each owner's lock once. Usually one heap owns them all.
   A shellsort on owner keys, before, cost more than the locks it saved when a flush held
   a few owners' objects (producer-consumer on 16 CPUs: 15% of all samples). */
void mh_group_by_owner(void **objs, size_t n) {
    if (n < 2 || one_owner(objs, n) || group_few_owners(objs, n)) return;
    group_by_owner_byte(objs, n, mh_global.nheaps > 256 ? 8 : 0);
}

/* A push refused p: a double free if p is the top of row r of the CPU the thread runs
   on now (the push may have run on another). */
static void fatal_if_on_top(mh_cpu_cache *c, unsigned r, void *p) {
    uint32_t top = __atomic_load_n(&mh_cache_row_at(c, r)->count, __ATOMIC_RELAXED);
    if (top > 0 && __atomic_load_n(&mh_cache_row_at(c, r)->slot[top - 1], __ATOMIC_RELAXED) == p)
        mh_fatal("double free (object is already in a free cache)", p);
}

void mh_cache_free_slow(void *p, unsigned cls) {
    bool rebound;
    unsigned cpu;
    mh_cpu_cache *c = current_cache(&cpu, &rebound);
    if (!c) {
        mh_small_free(p);
        return;
    }
    /* r is the row the push picks (mh_cache_push_freed) while the thread stays bound to
       cpu; a push after a rebind (a signal handler's malloc) picks for the new binding,
       whose row may refuse it. */
    unsigned r = !mh_global.remote_bins || mh_page_owner(p) == cpu ? cls : MH_NCLASSES + cls;
    uint32_t entry = mh_page_entry(p);
    bool fresh = ready_row(c, cpu, r);
    if ((rebound || fresh) && mh_cache_push_freed(entry, p)) return;
    fatal_if_on_top(c, r, p);
    /* A full row that may grow takes p without a flush. */
    bool seesaw = r < MH_NCLASSES && note_slow_path(c, r, ROW_RAN_FULL);
    if (grow_row(c, r, seesaw) && mh_cache_push_freed(entry, p)) return;
    /* p goes on top of the flushed row, so that a second free of it is caught. The push
       fails again if p is now the top of the row (a double free), or if the thread moved
       to another CPU whose row is full: then the heap takes p (and counts the free). */
    void *batch[MH_CACHE_SLOTS / 2];
    flush_row(cpu, r, half_row(c, r), batch, MH_FREED_BY_FLUSH);
    if (!mh_cache_push_freed(entry, p)) {
        fatal_if_on_top(c, r, p);
        mh_small_free(p);
    }
}

/* The large rows' slow paths start here: the cache of the CPU the thread is bound to
   (NULL: none), that CPU in *cpu, bin's row readied there (*fresh: just now), and whether
   the binding was renewed (current_cache). */
static mh_cpu_cache *large_slow_start(unsigned bin, unsigned *cpu, bool *rebound, bool *fresh) {
    mh_cpu_cache *c = current_cache(cpu, rebound);
    if (c) *fresh = ready_row(c, *cpu, MH_SMALL_ROWS + bin);
    return c;
}

void *mh_cache_large_alloc_slow(unsigned bin) {
    bool rebound, fresh;
    unsigned cpu, r = MH_SMALL_ROWS + bin;
    size_t row = mh_row_offset(r);
    mh_cpu_cache *c = large_slow_start(bin, &cpu, &rebound, &fresh);
    void *p;
    if (!c) return NULL;
    if (rebound && (p = mh_cache_pop(row))) return p;
    if (!fresh) grow_row(c, r, false);
    void *batch[MH_LARGE_ROW_SLOTS / 2 + 1];
    size_t n = mh_large_take_cached(cpu, bin, batch, half_row(c, r) + 1);
    if (n == 0) return NULL;
    size_t pushed = mh_cache_push_many(row, batch + 1, n - 1, cpu);
    if (1 + pushed < n) mh_large_put_cached(cpu, batch + 1 + pushed, n - 1 - pushed);
    return batch[0];
}

bool mh_cache_large_free_slow(void *p, unsigned bin) {
    bool rebound, fresh;
    unsigned cpu, r = MH_SMALL_ROWS + bin;
    size_t row = mh_row_offset(r);
    mh_cpu_cache *c = large_slow_start(bin, &cpu, &rebound, &fresh);
    if (!c) return false;
    if ((rebound || fresh) && mh_cache_push(row, p)) return true;
    if (grow_row(c, r, false) && mh_cache_push(row, p)) return true;
    void *batch[MH_LARGE_ROW_SLOTS / 2];
    flush_row(cpu, r, half_row(c, r), batch, MH_FREED_BY_FLUSH);
    return mh_cache_push(row, p);
}

void mh_cache_large_rows(uint64_t *rows) {
    memset(rows, 0, MH_CACHE_ROW_WORDS * sizeof *rows);
    for (unsigned r = MH_SMALL_ROWS; r < MH_CACHE_ROWS; r++) rows[r / 64] |= (uint64_t)1 << (r % 64);
}

int mh_cache_drain(unsigned cpu, const uint64_t *rows) {
    void *batch[MH_CACHE_SLOTS / 2];
    int on = rseq_cpu();
    if (on < 0) return -1;
    if ((unsigned)on != cpu) return 0;
    /* Only the rows ever readied, which a pop (it stores the count even when it takes
       nothing) would otherwise touch; one readied meanwhile waits for the next drain.
       The pops take nothing once the thread has left cpu. */
    for (unsigned r = 0; r < MH_CACHE_ROWS; r++) {
        if (!row_used(cpu, r) || (rows && !(rows[r / 64] >> (r % 64) & 1))) continue;
        while (flush_row(cpu, r, MH_CACHE_SLOTS / 2, batch, MH_FREED_BY_DRAIN))
            continue;
    }
    return 1;
}

/* Is p on any CPU's cache? A racy read-only search: only a misuse report relies on it. */
static bool in_some_cache(void *p, unsigned cls) {
    for (unsigned cpu = 0; cpu < mh_global.ncpus; cpu++)
        for (unsigned r = cls; r < MH_SMALL_ROWS; r += MH_NCLASSES) {
            if (!row_used(cpu, r)) continue;
            const mh_cache_row *row = mh_cache_row_at(mh_cache_of_cpu(cpu), r);
            uint32_t n = __atomic_load_n(&row->count, __ATOMIC_RELAXED);
            for (uint32_t i = 0; i < n && i < MH_CACHE_SLOTS; i++)
                if (__atomic_load_n(&row->slot[i], __ATOMIC_RELAXED) == p) return true;
        }
    return false;
}

bool mh_cache_holds_freed(void *p) {
    return in_some_cache(p, mh_page_class_plus1(p) - 1) || mh_heap_stash_holds(p);
}

/* How long a free that found the mark waits for the object to show up in a cache: the
   free that marked it may be on its way there (two threads freeing it at once; the first
   free of a row goes through the slow path, microseconds), and then the search found
   nothing and the bitmap, where a cached object is taken, let the second free through.
   Longer than a preemption: with 2 ms, 1 of 300 such races in a clean-clone test run
   went unreported (alloc.sys.check_race.bins beside the other tests on 2 CPUs, where a
   thread can wait several milliseconds for its CPU). Only a free that found the mark
   waits: a double free, reported at the end of the wait at the latest. */
#define MARKED_WAIT_US 100000
#define MARKED_STEP_US 50

void mh_cache_free_marked(void *p) {
    for (int waited = 0; waited <= MARKED_WAIT_US; waited += MARKED_STEP_US) {
        if (mh_cache_holds_freed(p)) mh_fatal("double free (object is already in a free cache)", p);
        nanosleep(&(struct timespec){0, MARKED_STEP_US * 1000}, NULL);
    }
    /* Not cached: the heap's bitmap tells a double free from a coincidence. */
    *mh_free_mark_word(p) = 0;
    mh_small_free(p);
}

/* A slot free in its page was never handed out since it went back there: cached, it
   would be handed out by the cache and again by the page (a review's
   free(p + 2 * malloc_usable_size(p)), which the mark alone cannot catch, since a slot in
   its page carries none). Every object a program holds has its bit set: taken under the
   heap's lock before any malloc returned it, and cleared only after it is freed. A racy
   read suffices: the purge's window sets bits, never clears one a program's object
   needs. The heap writes the word with plain stores under its lock (atomics there would
   cost every path), so ThreadSanitizer is not shown this read: an atomic load next to
   those stores was reported as a race in check mode's TSan stress. */
__attribute__((no_sanitize_thread)) bool mh_slot_free_in_page(const void *p, unsigned cls) {
    const mh_page *pg = mh_page_of(p);
    unsigned slot = mh_slot_of(p, cls);
    return !(*(const volatile uint64_t *)&pg->bitmap[slot / 64] >> (slot % 64) & 1);
}

bool mh_cache_free_check(void *p, unsigned cls) {
    if (mh_slot_free_in_page(p, cls)) mh_fatal("double free (object is not allocated)", p);
    /* One exchange, not a read and a write: two threads freeing p at once both found it
       unmarked, and both cached it (a review's fuzzer, 2% of such races). */
    if (__atomic_exchange_n(mh_free_mark_word(p), mh_global.free_mark, __ATOMIC_RELAXED) != mh_global.free_mark)
        return true;
    mh_cache_free_marked(p);
    return false;
}

bool mh_cache_row_state(unsigned cpu, unsigned r, uint64_t *ops, uint32_t *count) {
    if (!row_used(cpu, r)) return false;
    const mh_cache_row *row = mh_cache_row_at(mh_cache_of_cpu(cpu), r);
    *ops = __atomic_load_n(&row->allocs, __ATOMIC_RELAXED) + __atomic_load_n(&row->frees, __ATOMIC_RELAXED);
    *count = __atomic_load_n(&row->count, __ATOMIC_RELAXED);
    return true;
}

/* The rows by the words of the bitmap of those ever readied: the statistics tally every
   possible CPU, and testing each of 142 rows of each one took mh_stats_get 1.5 ms with
   4096 possible CPUs (a review), nearly all of them never used. */
mh_cache_tally mh_cache_tally_of(unsigned cpu) {
    mh_cache_tally t = {0};
    if (!mh_global.caches || cpu >= mh_global.ncpus) return t;
    const uint64_t *words = &mh_global.cache_rows[(size_t)cpu * MH_CACHE_ROW_WORDS];
    for (unsigned w = 0; w < MH_CACHE_ROW_WORDS; w++) {
        for (uint64_t used = __atomic_load_n(&words[w], __ATOMIC_ACQUIRE); used; used &= used - 1) {
            unsigned r = w * 64 + (unsigned)__builtin_ctzll(used);
            const mh_cache_row *row = mh_cache_row_at(mh_cache_of_cpu(cpu), r);
            uint64_t allocs = __atomic_load_n(&row->allocs, __ATOMIC_RELAXED);
            uint64_t frees = __atomic_load_n(&row->frees, __ATOMIC_RELAXED);
            uint32_t count = __atomic_load_n(&row->count, __ATOMIC_RELAXED);
            if (mh_row_is_large(r)) {
                size_t block = mh_large_bin_bytes(r - MH_SMALL_ROWS);
                t.large_allocs += allocs;
                t.large_frees += frees;
                t.large_net_bytes += (int64_t)((allocs - frees) * block);
                t.large_bytes += (uint64_t)count * block;
            } else {
                t.allocs += allocs;
                t.frees += frees;
                t.bytes += (uint64_t)count * mh_class_size(mh_row_class(r));
            }
        }
    }
    return t;
}
