/*
 * Heaps: size classes, each with empty / partial / full page lists; small allocation
 * and free; empty pages moving between the classes of a heap, then between heaps
 * (steal), then fresh pages from the OS (growth).
 *
 * Lock order: a thread waits for at most one heap lock: steal holds its own and only
 * tries the victim's. Growth makes its system call holding none, and claims its pages
 * under its heap's lock (which may take the purged-page table's).
 * A stash's lock (one per heap and class) may be held while its heap's lock is taken
 * (draining, fork), never the other way round.
 */
#include <errno.h>
#include <string.h>

#include "cache.h"
#include "mh_internal.h"

/*
 * Size classes. Every class is a multiple of 16 bytes: malloc must return 16-byte
 * aligned memory on x86-64 even for tiny requests (C++ operator new relies on it, and
 * an 8-byte class with 8-byte alignment crashed gcc's cc1). Up to 128 bytes the classes
 * are 16 apart; from 128 to 1 KiB there are eight per doubling, so an object wastes at
 * most ~14% of its size. Each candidate is then raised to the largest multiple of 16
 * that still fits as many objects in a page (8096 usable bytes), so no class leaves a
 * needlessly large tail in its page; candidates that end up equal are merged. From
 * 1 KiB on a page would hold only a few objects (the seed's classes there were "n per
 * page": a 4.1 KiB request took 8 KiB), so those classes live in 64 KiB slabs (65440
 * usable bytes) and are "n per slab", n picked so that each class is at most 12.5%
 * above the one before, from 63 objects of 1024 bytes down to 7 of 9344 (14% above 8
 * of 8176: there is no n between). Above that a slab holds 6 objects or fewer, so the
 * last five classes live in 128 KiB big slabs (130976 usable bytes), n per big slab from
 * 12 (10912 bytes, 17% above 9344) down to 7 (18704, the largest small class). The
 * common 16 KiB buffer takes a slot of 18704, 14% above its size: a class of exactly
 * 16384 bytes would fit only 7 to a big slab too (the metadata takes 96 of 131072).
 *   size:  16  32  48  64  80  96 112 128 144 160 176 192 208 224 240 256 288 320 352
 *   /page: 506 253 168 126 101 84 72  63  56  50  46  42  38  36  33  31  28  25  23
 *   size:  384 416 448 496 512 528 576 672 736 800 896 1008
 *   /page: 21  19  18  16  15  15  14  12  11  10   9    8
 *   size:  1024 1120 1248 1392 1552 1712 1920 2048 2096 2336 2608 2832 3104 3440 3840 4080
 *   /slab:   63   58   52   47   42   38   34   31   31   28   25   23   21   19   17   16
 *   size:  4096 4352 4672 5024 5440 5936 6544 7264 8176 8192 9344
 *   /slab:   15   15   14   13   12   11   10    9    8    7    7
 *   size:  10912 13088 14544 16368 18704
 *   /big:     12    10     9     8     7
 * Five powers of two break the rule of the largest fitting multiple: 512 .. 8192 are
 * classes of their own, so that every slot of theirs is aligned to its size (a page or
 * slab starts at a multiple of 8 or 64 KiB) and an aligned request up to 8 KiB finds a
 * class whose every slot is aligned (malloc.c). memalign(4096, 4096), an O_DIRECT
 * buffer, took a slot in 8 KiB before, and memalign(512, 512) one in 8 KiB of its own;
 * malloc(1024) took 1120 bytes, 63 per slab now instead of 58.
 */
const uint16_t mh_class_size_table[MH_NCLASSES] = {
    16,   32,   48,   64,   80,   96,   112,  128,  144,  160,  176,  192,  208,  224,
    240,  256,  288,  320,  352,  384,  416,  448,  496,  512,  528,  576,  672,  736,
    800,  896,  1008, 1024, 1120, 1248, 1392, 1552, 1712, 1920, 2048, 2096, 2336, 2608,
    2832, 3104, 3440, 3840, 4080, 4096, 4352, 4672, 5024, 5440, 5936, 6544, 7264, 8176,
    8192, 9344, 10912, 13088, 14544, 16368, 18704,
};
_Static_assert(MH_NCLASSES <= MH_MAX_CLASSES, "the public statistics hold every class");

uint32_t mh_size_row_table[MH_SMALL_MAX / 16 + 1];
mh_class_check mh_class_checks[MH_PAGE_ENTRY_CLASS + 1];   /* [0] and past the classes: zeros */

void mh_size_classes_init(void) {
    for (unsigned c = 0; c < MH_NCLASSES; c++) {
        uint64_t size = mh_class_size_table[c];
        /* floor(2^64 / size) + 1, which for a power of two is one more than 2^64 / size:
           then a slot's offset k * size leaves k * size, not 0, and the limit can tell
           the slots from the multiples past them. */
        uint64_t d = (uint64_t)(((unsigned __int128)1 << 64) / size) + 1;
        mh_class_checks[c + 1] = (mh_class_check){
            .divisibility = d,
            .limit = (uint64_t)mh_class_objects(c) * (size * d),
            .unit_mask = mh_class_unit(c) - 1,
        };
    }
    unsigned cls = 0;
    for (size_t i = 0; i <= MH_SMALL_MAX / 16; i++) {
        while (mh_class_size_table[cls] < i * 16) cls++;
        mh_size_row_table[i] = (uint32_t)mh_cache_row_of(cls);
    }
}

/* ---- list moves: the only places a page changes list, keeping nempty right ---------- */

static mh_page_list *list_of(mh_heap *h, mh_page *pg) {
    return &h->cls[pg->cls].list[pg->list];
}

static void page_link(mh_heap *h, mh_page *pg, unsigned list) {
    pg->list = (uint8_t)list;
    mh_list_push(list_of(h, pg), pg);
    if (list == MH_LIST_PARTIAL && mh_class_pages(pg->cls) > 1) MH_STAT_ADD(h->npartial_slabs, 1);
    if (list != MH_LIST_EMPTY) return;
    MH_STAT_ADD(h->nempty, mh_class_pages(pg->cls));
    if (mh_global.purge_ms >= 0) pg->empty_since_ms = mh_now_ms();
}

static void page_unlink(mh_heap *h, mh_page *pg) {
    mh_list_remove(list_of(h, pg), pg);
    if (pg->list == MH_LIST_EMPTY) {
        MH_STAT_ADD(h->nempty, -mh_class_pages(pg->cls));
        pg->empty_since_ms = 0;   /* shares its word with releasing, 0 off the empty list */
    }
    if (pg->list == MH_LIST_PARTIAL && mh_class_pages(pg->cls) > 1) MH_STAT_ADD(h->npartial_slabs, -1);
}

/* Put a page on the list its fill level calls for. */
static void page_relist(mh_heap *h, mh_page *pg) {
    unsigned want = pg->used == 0               ? MH_LIST_EMPTY
                    : pg->used == pg->capacity ? MH_LIST_FULL
                                               : MH_LIST_PARTIAL;
    if (want == pg->list) return;
    page_unlink(h, pg);
    page_link(h, pg, want);
}

/* A never-used unit for class cls from h's fresh run, or NULL: pages are taken from its
   start, slabs from its end, where a run the OS gave is aligned to every unit (a big
   slab finds none there once a slab was cut from that end). */
static char *take_fresh_unit(mh_heap *h, unsigned cls) {
    unsigned pages = mh_class_pages(cls);
    if (h->nfresh < pages) return NULL;
    if (pages == 1) {
        char *base = h->fresh;
        h->fresh += MH_PAGE_SIZE;
        h->nfresh--;
        return base;
    }
    char *end = h->fresh + (size_t)h->nfresh * MH_PAGE_SIZE;
    if ((uintptr_t)end % mh_class_unit(cls)) return NULL;
    h->nfresh -= pages;
    return end - mh_class_unit(cls);
}

/* An empty unit of class cls: this class's own, else one from the class of its kind
   (page or slab) with the most empty units in this heap (reformatted), else a fresh one,
   else NULL. */
static mh_page *take_empty_page(mh_heap *h, unsigned cls) {
    mh_page *pg = h->cls[cls].list[MH_LIST_EMPTY].head;
    if (pg) return pg;
    unsigned donor = cls;
    for (unsigned c = 0; c < MH_NCLASSES; c++)
        if (mh_class_pages(c) == mh_class_pages(cls) &&
            h->cls[c].list[MH_LIST_EMPTY].count > h->cls[donor].list[MH_LIST_EMPTY].count)
            donor = c;
    pg = h->cls[donor].list[MH_LIST_EMPTY].head;
    if (pg) {
        page_unlink(h, pg);
    } else {
        /* Formatting is the unit's first touch: a fresh unit costs no memory before. */
        char *base = take_fresh_unit(h, cls);
        if (!base) return NULL;
        pg = mh_unit_meta(base, cls);
    }
    mh_page_format(pg, (unsigned)(h - mh_global.heaps), cls);
    page_link(h, pg, MH_LIST_EMPTY);
    return pg;
}

/* ---- running dry: steal, then grow ----------------------------------------------------- */

/* Take a few empty units that class cls can use (pages for a page class, slabs for a
   slab class) from the first other heap that has more than MH_STEAL_KEEP empty pages.
   Under h's lock and the victim's, so that the units are on one list or the other
   whenever a fork can take place (lock_all takes every heap's lock): moved after the
   victim's release, a fork between left the child up to MH_STEAL_BATCH units on no list,
   never reused (a review). The victim's lock is only tried, so two heaps stealing from
   each other cannot wait on each other. */
static bool steal(mh_heap *h, unsigned cls) {
    unsigned self = (unsigned)(h - mh_global.heaps), n = mh_active_heaps();
    unsigned ngot = 0;
    mh_lock_acquire(&h->lock);
    /* Start at a different victim for each heap, so thieves spread over the donors. */
    for (unsigned k = 0; k < n && ngot == 0; k++) {
        mh_heap *v = mh_active_heap((self + k) % n);
        if (v == h || MH_STAT_READ(v->nempty) <= MH_STEAL_KEEP || !mh_lock_try(&v->lock))
            continue;
        for (unsigned c = 0; c < MH_NCLASSES && ngot < MH_STEAL_BATCH &&
                             v->nempty > MH_STEAL_KEEP; c++) {
            mh_page *pg;
            while (mh_class_pages(c) == mh_class_pages(cls) && ngot < MH_STEAL_BATCH &&
                   v->nempty > MH_STEAL_KEEP && (pg = v->cls[c].list[MH_LIST_EMPTY].head)) {
                page_unlink(v, pg);
                /* Under v's lock: a racing free re-checks the owner once it holds v. */
                mh_page_set_owner(pg, self);
                page_link(h, pg, MH_LIST_EMPTY);
                ngot++;
            }
        }
        MH_STAT_ADD(v->stat.pages_given, ngot);
        mh_lock_release(&v->lock);
    }
    MH_STAT_ADD(h->stat.pages_stolen, ngot);
    mh_lock_release(&h->lock);
    return ngot > 0;
}

/* Claim a run of fresh pages, formatted unit by unit as the heap takes them; steps grow
   from 128 KiB to 1 MiB. A slab or big slab class asks for a run of whole, aligned units.
   The claim is made under h's lock, so that a fork (which takes every heap's lock) never
   finds a claimed run on no heap's list: claimed before the lock, such a run was lost to
   the child. The mprotect that makes the range writable is made without it. */
static bool grow(mh_heap *h, unsigned cls) {
    size_t npages = __atomic_load_n(&h->grow_pages, __ATOMIC_RELAXED);
    if (npages == 0) npages = MH_GROW_MIN_PAGES;
    unsigned unit_pages = mh_class_pages(cls);
    mh_claim how;
    char *mem;
    for (;;) {
        mh_lock_acquire(&h->lock);
        mem = mh_os_claim_pages(&npages, unit_pages, &how);
        if (mem || how != MH_CLAIM_UNCOMMITTED) break;
        mh_lock_release(&h->lock);
        if (!mh_os_commit_ahead(npages * MH_PAGE_SIZE)) return false;
    }
    if (!mem) {
        mh_lock_release(&h->lock);
        return false;
    }
    if (h->nfresh == 0) {
        h->fresh = mem;
        h->nfresh = (uint32_t)npages;
    } else {
        /* Another thread of this heap grew meanwhile (or the fresh run has no aligned
           slab left): these units go on the list now. */
        for (size_t i = 0; i + unit_pages <= npages; i += unit_pages) {
            mh_page *pg = mh_unit_meta(mem + i * MH_PAGE_SIZE, cls);
            mh_page_format(pg, (unsigned)(h - mh_global.heaps), cls);
            page_link(h, pg, MH_LIST_EMPTY);
        }
    }
    MH_STAT_ADD(h->stat.os_grow_calls, 1);
    MH_STAT_ADD(h->stat.os_grow_bytes, (uint64_t)npages * MH_PAGE_SIZE);
    /* Fresh range doubles the next step; purged runs come in whatever size they are. */
    if (how == MH_CLAIM_FRESH) {
        size_t next = npages * 2 > MH_GROW_MAX_PAGES ? MH_GROW_MAX_PAGES : npages * 2;
        __atomic_store_n(&h->grow_pages, (uint32_t)next, __ATOMIC_RELAXED);
    }
    bool purgeable = h->stat.os_grow_bytes > (uint64_t)MH_PURGE_KEEP * MH_PAGE_SIZE;
    mh_lock_release(&h->lock);
    if (purgeable) mh_purger_start();
    return true;
}

static void purge_for_growth(void);

/* Growth that fails (the range used up, `ulimit -v`) is tried once more after every
   heap's empty units went back to the OS: units of the other kind (pages for a slab
   class, slabs for a page class) serve growth only as purged runs, and were out of
   reach until the purger took them, for good without one. Once more even when this
   purge found nothing: the purger's pass, which it waited for, may just have purged them
   (a review's 4 threads that freed everything got ENOMEM in 5 runs of 5). A malloc that
   succeeds so leaves errno as it was. */
static bool refill(mh_heap *h, unsigned cls) {
    int saved = errno;
    if (steal(h, cls) || grow(h, cls) || (purge_for_growth(), grow(h, cls))) {
        errno = saved;
        return true;
    }
    errno = ENOMEM;
    return false;
}

/* ---- allocation and free ------------------------------------------------------------- */

/* In the fork window (lock.h) the forking thread takes the locks of a heap or stash it
   makes there before any other thread can see it, as the fork's lock-all took the rest:
   another thread must not take them meanwhile (the parent handler releases, and the child
   handler resets, every active heap's and stash's lock). */
static void hold_in_fork_window(mh_lock *l) {
    if (mh_lock_fork_window) mh_lock_acquire(l);
}

/* Slots of the stashes of the classes below cls, each class's on lines of its own: a
   flush into one class's stash and a refill from its neighbour's do not share a line. */
static size_t stash_slots_below(unsigned cls) {
    size_t n = 0, line = MH_CACHE_LINE / sizeof(void *);
    for (unsigned c = 0; c < cls; c++) n += (mh_stash_capacity(c) + line - 1) / line * line;
    return n;
}

/* A heap's stash mapping: the heads, then every class's slots (387 KiB). */
static size_t stash_map_bytes(void) {
    return MH_STASH_HEADS_BYTES + stash_slots_below(MH_NCLASSES) * sizeof(void *);
}

/* The stashes appear under activate_lock, which a fork holds throughout (with every
   stash's lock that exists then): none can appear, locked, in the fork's window, but one
   the forking thread installs there. */
void mh_heap_stash_ensure(mh_heap *h) {
    if (__atomic_load_n(&h->stash, __ATOMIC_ACQUIRE)) return;
    int saved = errno;
    /* Sparse: mostly never touched, counted against the commit limit otherwise (127 MiB
       with 256 heaps in use when the map was 508 KiB, a review). */
    size_t bytes = stash_map_bytes();
    mh_stash *st = mh_os_map_sparse(bytes);
    errno = saved;
    if (!st) return;
    void **slots = (void **)((char *)st + MH_STASH_HEADS_BYTES);
    for (unsigned cls = 0; cls < MH_NCLASSES; cls++) st[cls].slot = slots + stash_slots_below(cls);
    mh_lock_acquire(&mh_global.activate_lock);
    bool installed = !h->stash;
    if (installed) {
        for (unsigned cls = 0; cls < MH_NCLASSES; cls++) hold_in_fork_window(&st[cls].lock);
        __atomic_store_n(&h->stash, st, __ATOMIC_RELEASE);
    }
    mh_lock_release(&mh_global.activate_lock);
    if (!installed) mh_os_unmap(st, bytes);
}

/* h's stashes, one per class, or NULL if h has none. A loop over the classes loads
   this once: each load may be the first to see a stash installed. */
static mh_stash *stashes_of(mh_heap *h) {
    return __atomic_load_n(&h->stash, __ATOMIC_ACQUIRE);
}

/* The stash of class cls of h, or NULL if h has none. */
static mh_stash *stash_of(mh_heap *h, unsigned cls) {
    mh_stash *st = stashes_of(h);
    return st ? &st[cls] : NULL;
}

/* Up to n objects from h's stash of class cls into out, under the stash's lock; a
   refill it serves in full is counted there. */
static size_t stash_take(mh_heap *h, unsigned cls, void **out, size_t n) {
    mh_stash *st = stash_of(h, cls);
    if (!st) return 0;
    mh_lock_acquire(&st->lock);
    size_t take = st->count < n ? st->count : n, left = st->count - take;
    memcpy(out, &st->slot[left], take * sizeof *out);
    __atomic_store_n(&st->count, (uint32_t)left, __ATOMIC_RELAXED);   /* the purger peeks */
    if (take == n) MH_STAT_ADD(st->refills, 1);
    mh_lock_release(&st->lock);
    return take;
}

/* objs[0..n), flushed objects of class cls that h owns, into h's stash of that class as
   room allows, under the stash's lock; how many. A flush it takes in full is counted
   there, and so are the remote frees among what it takes. */
static size_t stash_put(mh_heap *h, unsigned cls, void *const *objs, size_t n, bool remote) {
    mh_stash *st = stash_of(h, cls);
    if (!st) return 0;
    mh_lock_acquire(&st->lock);
    size_t room = mh_stash_capacity(cls) - st->count, put = n < room ? n : room;
    memcpy(&st->slot[st->count], objs, put * sizeof *objs);
    __atomic_store_n(&st->count, st->count + (uint32_t)put, __ATOMIC_RELAXED);
    if (put == n) MH_STAT_ADD(st->flushes, 1);
    if (remote) MH_STAT_ADD(st->remote_frees, put);
    mh_lock_release(&st->lock);
    return put;
}

size_t mh_heap_alloc_batch(mh_heap *h, unsigned cls, void **out, size_t n, bool for_cache) {
    mh_purger_restart_in_child();
    size_t got = for_cache ? stash_take(h, cls, out, n) : 0;
    if (got == n) return got;
    /* Check mode: objects a refill takes from their pages enter a front cache without a
       free, so they get the free mark (cache.h); the one the malloc takes has it cleared
       by that malloc. Unmarked, a stray free of one (the start of another slot, say
       p + 2 * malloc_usable_size(p)) pushed it a second time, and two mallocs got it (a
       review). */
    uint64_t mark = MH_UNLIKELY(mh_global.check) && for_cache ? mh_global.free_mark : 0;
    int saved = errno;
    mh_lock_acquire(&h->lock);
    while (got < n) {
        mh_page *pg = h->cls[cls].list[MH_LIST_PARTIAL].head;
        if (!pg) pg = take_empty_page(h, cls);
        if (!pg) {
            mh_lock_release(&h->lock);
            /* A part of the batch is a malloc that succeeds: it leaves errno alone (a
               review found calloc and memalign setting ENOMEM on success). */
            if (!refill(h, cls)) {
                if (got) errno = saved;
                return got;
            }
            mh_lock_acquire(&h->lock);
            continue;
        }
        got += mark ? mh_page_alloc_marked_slots(pg, out + got, n - got, mark)
                    : mh_page_alloc_slots(pg, out + got, n - got);
        page_relist(h, pg);
    }
    /* A front cache counts the mallocs it serves; the first object of a refill goes
       straight to the malloc that asked for it. A refill the stash served in full is
       counted in the stash. */
    if (for_cache && got > 0) MH_STAT_ADD(h->stat.cache_refills, 1);
    MH_STAT_ADD(h->stat.allocs, for_cache ? got > 0 : got);
    mh_lock_release(&h->lock);
    return got;
}

/* How many partial pages an aligned request searches before it takes an empty page,
   whose first slot is always aligned. */
#define MH_ALIGNED_SEARCH_PAGES 4

static void *alloc_aligned(mh_heap *h, unsigned cls, size_t align) {
    for (;;) {
        mh_lock_acquire(&h->lock);
        void *p = NULL;
        mh_page *pg = h->cls[cls].list[MH_LIST_PARTIAL].head;
        for (int i = 0; pg && i < MH_ALIGNED_SEARCH_PAGES; i++, pg = pg->next)
            if ((p = mh_page_alloc_aligned_slot(pg, align))) break;
        if (!p && (pg = take_empty_page(h, cls))) p = mh_page_alloc_aligned_slot(pg, align);
        if (p) {
            page_relist(h, pg);
            MH_STAT_ADD(h->stat.allocs, 1);
        }
        mh_lock_release(&h->lock);
        if (p || !refill(h, cls)) return p;
    }
}

void *mh_heap_alloc(mh_heap *h, unsigned cls, size_t align) {
    size_t size = mh_class_size(cls);
    if (align > (size & -size)) return alloc_aligned(h, cls, align);
    void *p;
    return mh_heap_alloc_batch(h, cls, &p, 1, false) ? p : NULL;
}

/* Lock the heap that owns p's unit. The owner changes only while the unit is empty
   (steal, under the old owner's lock), so it is read again once locked. Both reads go
   to the page-owner map, not to the unit's metadata, whose line the owner's own
   allocations keep writing: a flush locks a remote heap for each of its owners. */
static mh_heap *lock_owner(const void *p) {
    for (;;) {
        unsigned id = mh_page_owner(p);
        if (id >= mh_global.nheaps) mh_fatal("free of a pointer with corrupt page metadata", p);
        mh_heap *h = &mh_global.heaps[id];
        mh_lock_acquire(&h->lock);
        if (mh_page_owner(p) == id) return h;
        mh_lock_release(&h->lock);
    }
}

static void check_committed(const void *p) {
    if ((const char *)p >= mh_global.small_base + __atomic_load_n(&mh_global.small_used,
                                                                  __ATOMIC_RELAXED))
        mh_fatal("free of a pointer multiheap never returned", p);
}

/* The page of p, after checking that p lies in the committed part of the range. */
static mh_page *committed_page(const void *p) {
    check_committed(p);
    return mh_page_of(p);
}

/* Under h's lock, which owns every objs[i]: back to their pages. A page changes list
   once per run of its objects, not once per object. */
static void free_locked(mh_heap *h, void *const *objs, size_t n, bool program) {
    for (size_t i = 0; i < n;) {
        mh_page *pg = committed_page(objs[i]);
        if (pg->capacity == 0) mh_fatal("free of a pointer multiheap never returned", objs[i]);
        i += mh_page_free_slots(pg, objs + i, n - i);
        page_relist(h, pg);
    }
    if (program) MH_STAT_ADD(h->stat.frees, n);
}

/* The owner heap of p's unit, after checking that p lies in the committed range. */
static unsigned owner_of(const void *p) {
    check_committed(p);
    unsigned id = mh_page_owner(p);
    if (id >= mh_global.nheaps) mh_fatal("free of a pointer with corrupt page metadata", p);
    return id;
}

/* The end of the run of objects from objs[i] on that belong to heap owner. A front
   cache's objects come grouped by owner (flush, drain) or all of one heap (a refill's
   surplus): their run ends where a search by halves says, without looking up every
   object's owner. */
static size_t owner_run_end(void *const *objs, size_t i, size_t n, unsigned owner, bool grouped) {
    if (!grouped) {
        while (++i < n && owner_of(objs[i]) == owner) continue;
        return i;
    }
    size_t lo = i + 1, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (owner_of(objs[mid]) == owner) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

void mh_small_free_batch(void *const *objs, size_t n, mh_free_source src) {
    int cpu = mh_current_cpu();
    unsigned mine = mh_current_heap_index(cpu);
    bool drain = src == MH_FREED_BY_DRAIN, flush = src == MH_FREED_BY_FLUSH;
    bool grouped = src != MH_FREED_BY_PROGRAM;
    for (size_t i = 0, end; i < n; i = end) {
        unsigned owner = owner_of(objs[i]);
        end = owner_run_end(objs, i, n, owner, grouped);
        /* A drain (the purger, pinned to the CPU) counts too: the program freed
           these objects on that CPU, and a cache that never fills would otherwise hide
           every remote free it took. */
        bool remote = owner != mine;
        if (remote) {
            mh_remote_matrix_ensure();
            mh_count_remote_free(owner, cpu, end - i);
        }
        /* A flush (all of one class) goes to the owner's stash first. Its objects are
           allocated in their units, which therefore cannot change owner (only empty
           units are stolen): the stash's lock is enough. */
        unsigned class_plus1 = mh_page_class_plus1(objs[i]);
        size_t j = i + (flush && class_plus1 ? stash_put(&mh_global.heaps[owner], class_plus1 - 1,
                                                          objs + i, end - i, remote)
                                             : 0);
        mh_heap *h = &mh_global.heaps[owner];
        if (j < end) {
            /* The rest of the run goes back to its pages under one acquisition of the
               owner's lock. A unit that holds an object in use never changes owner;
               one that did was empty, so the object had been freed already. */
            if (lock_owner(objs[j]) != h) mh_fatal("double free (its page was empty and changed heaps)", objs[j]);
            free_locked(h, objs + j, end - j, src == MH_FREED_BY_PROGRAM);
            if (remote) MH_STAT_ADD(h->stat.remote_frees, end - j);
            if (flush) MH_STAT_ADD(h->stat.cache_flushes, 1);
            mh_lock_release(&h->lock);
        }
        if (!drain) mh_heap_maybe_purge(h);
    }
}

void mh_small_free(void *p) {
    mh_small_free_batch(&p, 1, MH_FREED_BY_PROGRAM);
}

size_t mh_small_usable_size(const void *p) {
    return mh_class_size(mh_page_of(p)->cls);
}

bool mh_heap_stash_holds(void *p) {
    unsigned class_plus1 = mh_page_class_plus1(p);
    mh_stash *st = class_plus1 ? stash_of(&mh_global.heaps[owner_of(p)], class_plus1 - 1) : NULL;
    if (!st) return false;
    mh_lock_acquire(&st->lock);
    bool found = false;
    for (uint32_t i = 0; i < st->count && !found; i++) found = st->slot[i] == p;
    mh_lock_release(&st->lock);
    return found;
}

mh_heap_counters mh_heap_counters_read(mh_heap *h) {
    mh_heap_counters c = {
        .allocs = MH_STAT_READ(h->stat.allocs),
        .frees = MH_STAT_READ(h->stat.frees),
        .remote_frees = MH_STAT_READ(h->stat.remote_frees),
        .pages_stolen = MH_STAT_READ(h->stat.pages_stolen),
        .pages_given = MH_STAT_READ(h->stat.pages_given),
        .os_grow_calls = MH_STAT_READ(h->stat.os_grow_calls),
        .os_grow_bytes = MH_STAT_READ(h->stat.os_grow_bytes),
        .purge_calls = MH_STAT_READ(h->stat.purge_calls),
        .purge_bytes = MH_STAT_READ(h->stat.purge_bytes),
        .cache_refills = MH_STAT_READ(h->stat.cache_refills),
        .cache_flushes = MH_STAT_READ(h->stat.cache_flushes),
    };
    mh_stash *stashes = stashes_of(h);
    for (unsigned cls = 0; stashes && cls < MH_NCLASSES; cls++) {
        mh_stash *st = &stashes[cls];
        uint64_t refills = MH_STAT_READ(st->refills);
        c.allocs += refills;
        c.cache_refills += refills;
        c.cache_flushes += MH_STAT_READ(st->flushes);
        c.remote_frees += MH_STAT_READ(st->remote_frees);
    }
    return c;
}

uint64_t mh_heap_stashed_bytes(mh_heap *h) {
    uint64_t bytes = 0;
    mh_stash *stashes = stashes_of(h);
    for (unsigned cls = 0; stashes && cls < MH_NCLASSES; cls++)
        bytes += (uint64_t)__atomic_load_n(&stashes[cls].count, __ATOMIC_RELAXED) * mh_class_size(cls);
    return bytes;
}

/* ---- giving empty pages back to the OS ------------------------------------------------ */

/* Sorts a NULL-terminated list of pages (linked by next) by address: merge sort, no
   allocation, O(n log n) for the thousands of pages a storm may free at once. */
static mh_page *sort_pages(mh_page *list) {
    if (!list || !list->next) return list;
    mh_page *slow = list, *fast = list->next;
    while (fast && fast->next) {
        slow = slow->next;
        fast = fast->next->next;
    }
    mh_page *second = slow->next;
    slow->next = NULL;
    mh_page *a = sort_pages(list), *b = sort_pages(second), head = {0}, *tail = &head;
    while (a && b) {
        mh_page **least = a < b ? &a : &b;
        tail = tail->next = *least;
        *least = (*least)->next;
    }
    tail->next = a ? a : b;
    return head.next;
}

/* Unlinks, under h's lock, the empty pages a purge takes: those empty for purge_ms,
   and any while h holds more than retain; never the last MH_PURGE_KEEP. Each
   empty list is walked from its oldest page and only as far as pages qualify, so a
   pass over a heap holding thousands of young empty pages costs a look per class. */
static mh_page *take_purgeable(mh_heap *h, uint32_t now, uint32_t retain) {
    mh_page *taken = NULL;
    for (unsigned c = 0; c < MH_NCLASSES && h->nempty > MH_PURGE_KEEP; c++) {
        mh_page *pg = h->cls[c].list[MH_LIST_EMPTY].tail;
        while (pg && h->nempty > MH_PURGE_KEEP &&
               (h->nempty > retain ||
                (int32_t)(now - pg->empty_since_ms) >= mh_global.purge_ms)) {
            mh_page *newer = pg->prev;
            page_unlink(h, pg);
            pg->next = taken;
            taken = pg;
            pg = newer;
        }
    }
    return taken;
}

/* The stashed objects back to their pages, so that a shrinking heap's pages can empty:
   each stash's lock, then h's. */
static void stash_drain(mh_heap *h) {
    mh_stash *stashes = stashes_of(h);
    for (unsigned c = 0; stashes && c < MH_NCLASSES; c++) {
        mh_stash *st = &stashes[c];
        if (!__atomic_load_n(&st->count, __ATOMIC_RELAXED)) continue;
        mh_lock_acquire(&st->lock);
        if (st->count) {
            mh_lock_acquire(&h->lock);
            free_locked(h, st->slot, st->count, false);
            mh_lock_release(&h->lock);
            __atomic_store_n(&st->count, 0, __ATOMIC_RELAXED);
        }
        mh_lock_release(&st->lock);
    }
}

/* Hands sorted pages to the OS in runs of neighbours; a run that could not be purged
   goes back on h's empty list. true if any went. */
static bool purge_pages(mh_heap *h, mh_page *sorted) {
    uint64_t calls = 0, bytes = 0;
    mh_page *kept = NULL;
    while (sorted) {
        mh_page *last = sorted;
        size_t npages = mh_class_pages(last->cls);
        while (last->next &&
               mh_page_start(last->next) == mh_page_start(last) + mh_class_unit(last->cls)) {
            last = last->next;
            npages += mh_class_pages(last->cls);
        }
        mh_page *rest = last->next;
        /* Out of the map before the madvise: a stale free meanwhile is reported. */
        for (mh_page *pg = sorted; pg != rest; pg = pg->next) mh_page_publish_class(pg, false);
        if (mh_os_purge_pages(mh_page_start(sorted), npages)) {
            calls++;
            bytes += npages * MH_PAGE_SIZE;
        } else {
            for (mh_page *pg = sorted; pg != rest; pg = pg->next) mh_page_publish_class(pg, true);
            last->next = kept;
            kept = sorted;
        }
        sorted = rest;
    }
    mh_lock_acquire(&h->lock);
    for (mh_page *pg = kept, *next; pg; pg = next) {
        next = pg->next;
        page_link(h, pg, MH_LIST_EMPTY);
    }
    MH_STAT_ADD(h->stat.purge_calls, calls);
    MH_STAT_ADD(h->stat.purge_bytes, bytes);
    mh_lock_release(&h->lock);
    return calls > 0;
}

/* Under no lock: drains h's stashes if asked, then purges what take_purgeable picks;
   true if pages went to the OS. */
static bool purge_scan(mh_heap *h, uint32_t now, uint32_t retain, bool drain) {
    if (drain) stash_drain(h);
    mh_lock_acquire(&h->lock);
    mh_page *taken = take_purgeable(h, now, retain);
    mh_lock_release(&h->lock);
    return taken && purge_pages(h, sort_pages(taken));
}

/* refill's last resort: every heap's empty units but the last MH_PURGE_KEEP, however
   young, under the purger's lock like its passes, and whatever MULTIHEAP_PURGE_MS says
   (the alternative is ENOMEM). Called with no lock held. */
static void purge_for_growth(void) {
    mh_purger_lock();
    for (unsigned i = 0, n = mh_active_heaps(); i < n; i++) purge_scan(mh_active_heap(i), mh_now_ms(), 0, true);
    mh_purger_unlock(false);
}

void mh_heap_maybe_purge(mh_heap *h) {
    if (mh_global.purge_ms < 0) return;
    bool empty_pages = MH_STAT_READ(h->nempty) > MH_PURGE_KEEP && mh_os_purge_room();
    if (!empty_pages && MH_STAT_READ(h->npartial_slabs) <= MH_PARTIAL_SLABS_WAKE) return;
    if (mh_purger_wake() || !empty_pages) return;
    uint32_t now = mh_now_ms();
    uint32_t interval = mh_global.purge_ms / 4 + 1;
    bool surplus = MH_STAT_READ(h->nempty) > MH_PURGE_TRIGGER;
    if (!surplus && now - __atomic_load_n(&h->purge_scan_ms, __ATOMIC_RELAXED) < interval) return;
    if (!mh_purger_try_lock()) return;   /* a pass or a fork is under way */
    __atomic_store_n(&h->purge_scan_ms, now, __ATOMIC_RELAXED);
    purge_scan(h, now, surplus ? MH_PURGE_RETAIN : UINT32_MAX, surplus);
    mh_purger_unlock(false);
}

/* What moves while h is in use. Not its CPU's front cache: a program served by the
   cache alone uses neither the heap's stashes nor its partial slabs, and a program that
   calls malloc now and then must not keep them from ever going back. */
static uint64_t heap_activity(mh_heap *h) {
    mh_heap_counters c = mh_heap_counters_read(h);
    return c.allocs + c.frees + c.cache_flushes;
}

/* Slabs purged per lock hold, per class. */
#define MH_PARTIAL_PURGE_BATCH 32

/* One batch of purge_partial_slabs: up to MH_PARTIAL_PURGE_BATCH partial slabs of class
   c not looked at since their slots last changed; returns how many it found. */
static unsigned purge_partial_batch(mh_heap *h, unsigned c, uint64_t *calls, uint64_t *bytes) {
    struct {
        mh_page *pg;
        uint32_t pages;
        uint64_t taken[MH_BITMAP_WORDS];
    } got[MH_PARTIAL_PURGE_BATCH];
    unsigned n = 0;
    mh_lock_acquire(&h->lock);
    for (mh_page *pg = h->cls[c].list[MH_LIST_PARTIAL].head; pg && n < MH_PARTIAL_PURGE_BATCH;
         pg = pg->next)
        if ((got[n].pages = mh_page_take_free_os_pages(pg, got[n].taken))) got[n++].pg = pg;
    for (unsigned i = 0; i < n; i++) page_relist(h, got[i].pg);   /* may be full now */
    mh_lock_release(&h->lock);
    for (unsigned i = 0; i < n; i++) {
        char *start = mh_page_start(got[i].pg);
        for (uint32_t m = got[i].pages; m;) {
            unsigned j = (unsigned)__builtin_ctz(m), k = j;
            while (m >> k & 1) k++;
            if (mh_os_release(start + j * MH_OS_PAGE, (k - j) * MH_OS_PAGE)) {
                (*calls)++;
                *bytes += (k - j) * MH_OS_PAGE;
            }
            m &= ~(((1u << (k - j)) - 1) << j);
        }
    }
    mh_lock_acquire(&h->lock);
    for (unsigned i = 0; i < n; i++) {
        mh_page_return_slots(got[i].pg, got[i].taken);
        page_relist(h, got[i].pg);
    }
    mh_lock_release(&h->lock);
    return n;
}

/* The 4 KiB pages of h's partial slabs that hold only free slots go back to the OS: a
   few long-lived objects would otherwise keep whole 64 KiB slabs resident after the
   rest went (in a growth storm, the driver's own few objects kept 4 MiB). The slots are
   taken while the system calls run without the lock; a slab is looked at again only
   once its slots have changed. */
static void purge_partial_slabs(mh_heap *h) {
    uint64_t calls = 0, bytes = 0;
    for (unsigned c = MH_FIRST_SLAB_CLASS; c < MH_NCLASSES && heap_activity(h) == h->purge_activity;
         c++) {
        /* At most as many batches as the list had slabs: a slab whose slots change meanwhile
           is not chased, and a heap that wakes up stops the work. */
        uint32_t batches = MH_STAT_READ(h->cls[c].list[MH_LIST_PARTIAL].count) / MH_PARTIAL_PURGE_BATCH + 1;
        while (batches-- && heap_activity(h) == h->purge_activity &&
               purge_partial_batch(h, c, &calls, &bytes) == MH_PARTIAL_PURGE_BATCH)
            continue;
    }
    mh_lock_acquire(&h->lock);
    MH_STAT_ADD(h->stat.purge_calls, calls);
    MH_STAT_ADD(h->stat.purge_bytes, bytes);
    mh_lock_release(&h->lock);
}

bool mh_heap_purge_pass(mh_heap *h, uint32_t now) {
    /* Quiet: no malloc, free, refill or flush reached h during a whole period. Its
       stashes are then only keeping pages from emptying: they go back to the pages,
       its empty pages, young or not, go back to the OS (but MH_PURGE_KEEP), and so do
       the free pages inside its partial slabs, once per quiet period. */
    uint64_t activity = heap_activity(h);
    if (activity != h->purge_activity) {
        h->purge_activity = activity;
        h->purge_quiet_since_ms = now;
        h->purge_partial_done = false;
    }
    bool quiet = now - h->purge_quiet_since_ms >= (uint32_t)mh_global.purge_ms;
    bool stashed = mh_heap_stashed_bytes(h) != 0;
    purge_scan(h, now, quiet ? MH_PURGE_KEEP : UINT32_MAX, quiet && stashed);
    if (quiet && !h->purge_partial_done) {
        /* Not in check mode: a purged slot reads as zeros, which erases its free mark, and
           a second free of it would then pass. */
        if (!mh_global.check) purge_partial_slabs(h);
        h->purge_partial_done = true;
    }
    return stashed || (MH_STAT_READ(h->nempty) > MH_PURGE_KEEP && mh_os_purge_room()) ||
           (!h->purge_partial_done && MH_STAT_READ(h->npartial_slabs) > 0);
}

/* ---- heap activation and fork ------------------------------------------------------- */

void mh_heap_activate(mh_heap *h) {
    mh_lock_acquire(&mh_global.activate_lock);
    if (!h->active) {
        hold_in_fork_window(&h->lock);
        unsigned n = mh_global.nheaps_active;
        mh_global.active_ids[n] = (uint32_t)(h - mh_global.heaps);
        __atomic_store_n(&mh_global.nheaps_active, n + 1, __ATOMIC_RELEASE);
        __atomic_store_n(&h->active, 1, __ATOMIC_RELEASE);
    }
    mh_lock_release(&mh_global.activate_lock);
}

/* Holding activate_lock keeps the active set and their stashes fixed; inactive heaps
   have no lock holder. Each heap's stashes are locked before the heap (the lock order). */
void mh_heap_lock_all(void) {
    mh_lock_acquire(&mh_global.activate_lock);
    for (unsigned i = 0; i < mh_active_heaps(); i++) {
        mh_heap *h = mh_active_heap(i);
        mh_stash *stashes = stashes_of(h);
        for (unsigned c = 0; stashes && c < MH_NCLASSES; c++) mh_lock_acquire(&stashes[c].lock);
        mh_lock_acquire(&h->lock);
    }
}

static void unlock(mh_lock *l, bool child) {
    if (child) mh_lock_reset(l);
    else mh_lock_release(l);
}

void mh_heap_unlock_all(bool child) {
    for (unsigned i = 0; i < mh_active_heaps(); i++) {
        mh_heap *h = mh_active_heap(i);
        unlock(&h->lock, child);
        mh_stash *stashes = stashes_of(h);
        for (unsigned c = 0; stashes && c < MH_NCLASSES; c++) unlock(&stashes[c].lock, child);
    }
    unlock(&mh_global.activate_lock, child);
}
