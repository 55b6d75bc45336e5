/*
 * multiheap internals: the data structures every module shares, their
 * invariants, and the functions one module offers another.
 *
 * Memory map:
 *   small objects   one reserved virtual range (PROT_NONE, MAP_NORESERVE),
 *                   committed in chunks from its start; every 8 KiB page in it
 *                   holds objects of one size class and ends with its mh_page.
 *   large objects   (> MH_SMALL_MAX; above 9344 bytes, also aligned beyond 16 or
 *                   with the range full) one mmap each, recorded in a hash table
 *                   (mmap'd, no malloc) keyed by the returned address.
 *   heaps           a dense array of mh_heap, one per key (CPU, thread slot or
 *                   the single global heap), mmap'd untouched: a heap costs
 *                   memory only once something uses it.
 *   front caches    with the cpu key: an array of mh_cpu_cache, one per CPU,
 *                   mmap'd untouched; malloc pops and free pushes inside a
 *                   restartable sequence (cache.h), the heaps see only batches.
 */
#ifndef MH_INTERNAL_H
#define MH_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lock.h"
#include "multiheap.h"

#if defined(__GNUC__)
#define MH_LIKELY(x)   __builtin_expect(!!(x), 1)
#define MH_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define MH_INTERNAL    __attribute__((visibility("hidden")))
#define MH_API         __attribute__((visibility("default")))   /* multiheap.h */
#define MH_TLS         __thread __attribute__((tls_model("initial-exec")))
/* The old block while realloc frees it: a misuse found there of that very block is a
   realloc of a freed pointer, whatever free calls it (mh_fatal says so); not one found of
   another object, which that free's flush may come across. */
MH_INTERNAL extern MH_TLS const void *mh_realloc_freeing;
#endif

#define MH_CACHE_LINE 64

/* ---- pages and slabs ------------------------------------------------------------------ */

/* Object memory comes in units of one 8 KiB page (classes up to 1008 bytes, as in the
   seed), of one 64 KiB slab of eight pages (the classes up to 9344 bytes: an 8 KiB page
   holds only a few such objects, and a request just above a class's size wasted up to
   half of its slot), or of one 128 KiB big slab of sixteen pages (the classes up to
   18704 bytes, which a 64 KiB slab holds only 2 to 6 of: in one mapping each they took
   a global lock, a hash table and 22-23 ns a malloc+free pair, against 6 for tcmalloc);
   every unit is aligned to its size and ends with its mh_page. */
#define MH_PAGE_SHIFT   13
#define MH_PAGE_SIZE    ((size_t)1 << MH_PAGE_SHIFT)      /* 8 KiB, as in the seed */
#define MH_SLAB_PAGES   8
#define MH_SLAB_SIZE    (MH_SLAB_PAGES * MH_PAGE_SIZE)     /* 64 KiB */
#define MH_BIG_SLAB_PAGES 16
#define MH_BIG_SLAB_SIZE  (MH_BIG_SLAB_PAGES * MH_PAGE_SIZE) /* 128 KiB, the largest unit */
#define MH_BITMAP_WORDS 8                                  /* 512 bits >= 8096 / 16 slots */
#define MH_PAGE_META    (32 + 8 * MH_BITMAP_WORDS)         /* sizeof(mh_page): 96 */
#define MH_PAGE_USABLE  (MH_PAGE_SIZE - MH_PAGE_META)      /* 8096 bytes for objects */
#define MH_SLAB_USABLE  (MH_SLAB_SIZE - MH_PAGE_META)      /* 65440 */
#define MH_SMALL_MAX    18704                              /* 7 per big slab; larger: "large" */
_Static_assert(MH_SMALL_MAX == MH_SMALL_MAX_BYTES, "multiheap.h states the boundary");
#define MH_NCLASSES     63                                 /* see the table in heap.c */
#define MH_FIRST_SLAB_CLASS 31                             /* 1024 bytes */
#define MH_FIRST_BIG_SLAB_CLASS 58                         /* 10912 bytes */

/* Which of its class's three lists a page is on. */
enum { MH_LIST_EMPTY = 0, MH_LIST_PARTIAL = 1, MH_LIST_FULL = 2, MH_NLISTS = 3 };

/*
 * The metadata at the end of every object page (the last MH_PAGE_META bytes).
 * Invariants, all under the owner heap's lock:
 *   used == number of set bits below capacity in bitmap;
 *   bits at and above capacity are set, so a free-slot search never needs a bound;
 *   list == EMPTY iff used == 0, FULL iff used == capacity, else PARTIAL
 *   (a one-object class goes straight from EMPTY to FULL: seed weakness 1);
 *   the page is linked on heaps[heap].cls[cls].list[list] and nowhere else;
 *   capacity == 0 only for a page that was never formatted (no object was ever in it).
 */
typedef struct mh_page {
    struct mh_page *next;              /* neighbours on the list, NULL-terminated */
    struct mh_page *prev;
    uint32_t heap;                     /* owner heap; rewritten only while the page is empty
                                          (steal), read without the lock by free (atomic) */
    uint8_t cls;                       /* size class of every slot */
    uint8_t list;                      /* MH_LIST_* the page is on */
    uint8_t hint;                      /* bitmap words below this one are all ones */
    uint8_t released;                  /* its free 4 KiB pages went back to the OS (or it
                                          had none) and no slot changed since */
    union {
        uint32_t empty_since_ms;       /* empty: mh_now_ms() when it last became empty */
        uint32_t releasing;            /* partial, while a purge gives its free 4 KiB pages
                                          back without the heap lock: their mask (their
                                          slots count as taken; a free into one is a
                                          double free); 0 otherwise */
    };
    uint16_t used;                     /* objects out of the page (live or in a front cache) */
    uint16_t capacity;                 /* slots: mh_class_objects(cls) */
    uint64_t bitmap[MH_BITMAP_WORDS];  /* bit set: slot allocated (or past capacity) */
} mh_page;

_Static_assert(sizeof(mh_page) == MH_PAGE_META, "page metadata size");

static inline uintptr_t mh_page_base(const void *p) {
    return (uintptr_t)p & ~(uintptr_t)(MH_PAGE_SIZE - 1);
}

/* ---- size classes (heap.c) ---------------------------------------------------------- */

MH_INTERNAL extern const uint16_t mh_class_size_table[MH_NCLASSES];
/* Slots per class in a CPU's front cache (cache.c). A class's row there is one line of
   counts and then its slots: classes are named by their row's offset where the fast
   paths need an address, cls * MH_CACHE_ROW_BYTES. */
#define MH_CACHE_SLOTS     1024
#define MH_CACHE_ROW_BYTES (MH_CACHE_LINE + MH_CACHE_SLOTS * sizeof(void *))

/* Indexed by (size + 15) / 16: the row offset of the smallest class that holds size, so
   malloc's fast path has the address of its row in one load. */
MH_INTERNAL extern uint32_t mh_size_row_table[MH_SMALL_MAX / 16 + 1];
/* The low bits of a page-class map entry (below). */
#define MH_PAGE_ENTRY_CLASS ((uint32_t)MH_CACHE_LINE - 1)

/* What free needs to check a pointer against a class, in one place: 24 bytes, aligned to
   32 so that no class's entry straddles two lines. Indexed by class + 1, as the page-class
   map's entries name a class: entry 0, for pages that hold no objects, takes no pointer
   (limit 0). There is an entry, zeros past the last class, for every value the entry's
   class bits can take, so that even a corrupted map entry cannot make a slow path read
   past the table. Free's fast path tests the class bits itself and checks against its
   row's copy of the entry (mh_cache_row). */
typedef struct __attribute__((aligned(32))) mh_class_check {
    uint64_t divisibility;             /* floor(2^64 / size) + 1 */
    uint64_t limit;                    /* objects_per_unit * (size * divisibility mod 2^64) */
    uint64_t unit_mask;                /* unit bytes - 1: p & unit_mask is p's offset */
} mh_class_check;
MH_INTERNAL extern mh_class_check mh_class_checks[MH_PAGE_ENTRY_CLASS + 1];

static inline size_t mh_cache_row_of(unsigned row) { return row * MH_CACHE_ROW_BYTES; }

/* An entry of the page-class map (mh_global.page_class): class + 1 in the low bits (0: the
   page holds no objects), above them the class's row offset, a multiple of a line, and
   above that a tag of the unit's owner heap. Free's fast path gets all three from one
   load: the row without a second, dependent one, and whether the object is the freeing
   CPU's own (its heap's index is the CPU number). Owners from MH_OWNER_TAG_NONE on share
   that tag, which no CPU number matches (mh_cache_setup keeps the front cache off with
   more CPUs), and so do all owners without remote bins (mh_global.remote_bins), which
   every binding's owner_tag then matches. Steal, format and purge rewrite the entries of empty units only, so the tag
   of a live object's unit never changes. */
#define MH_PAGE_ENTRY_OWNER_SHIFT 19
#define MH_OWNER_TAG_NONE ((uint32_t)UINT32_MAX >> MH_PAGE_ENTRY_OWNER_SHIFT)
#define MH_PAGE_ENTRY_ROW (((uint32_t)1 << MH_PAGE_ENTRY_OWNER_SHIFT) - MH_CACHE_LINE)
_Static_assert(MH_NCLASSES <= MH_PAGE_ENTRY_CLASS && MH_CACHE_ROW_BYTES % MH_CACHE_LINE == 0 &&
                   (uint64_t)MH_NCLASSES * MH_CACHE_ROW_BYTES <= MH_PAGE_ENTRY_ROW,
               "a page entry holds class + 1 below its row offset, below the owner's tag");
static inline uint32_t mh_page_entry_of(unsigned cls, uint32_t owner_tag) {
    return owner_tag << MH_PAGE_ENTRY_OWNER_SHIFT | (uint32_t)mh_cache_row_of(cls) | (cls + 1);
}
static inline unsigned mh_page_entry_class_plus1(uint32_t e) { return e & MH_PAGE_ENTRY_CLASS; }
static inline size_t mh_page_entry_row(uint32_t e) { return e & MH_PAGE_ENTRY_ROW; }
static inline unsigned mh_page_entry_owner_tag(uint32_t e) { return e >> MH_PAGE_ENTRY_OWNER_SHIFT; }
static inline unsigned mh_class_of_row(size_t row) { return (unsigned)(row / MH_CACHE_ROW_BYTES); }

/* The row offset and the class of the smallest class whose objects hold `size` bytes
   (size <= MH_SMALL_MAX). The table is filled at initialisation: call them after
   mh_ensure_init(). */
static inline size_t mh_size_row(size_t size) {
    return mh_size_row_table[(size + 15) >> 4];
}
static inline unsigned mh_size_class(size_t size) {
    return mh_class_of_row(mh_size_row(size));
}
static inline size_t mh_class_size(unsigned cls) { return mh_class_size_table[cls]; }
/* Pages in one unit of class cls: 1, MH_SLAB_PAGES or MH_BIG_SLAB_PAGES. */
static inline unsigned mh_class_pages(unsigned cls) {
    return cls >= MH_FIRST_BIG_SLAB_CLASS ? MH_BIG_SLAB_PAGES
           : cls >= MH_FIRST_SLAB_CLASS   ? MH_SLAB_PAGES
                                          : 1;
}
static inline size_t mh_class_unit(unsigned cls) {
    return (size_t)mh_class_pages(cls) << MH_PAGE_SHIFT;
}
static inline unsigned mh_class_objects(unsigned cls) {
    return (unsigned)((mh_class_unit(cls) - MH_PAGE_META) / mh_class_size_table[cls]);
}
MH_INTERNAL void mh_size_classes_init(void);

/* Is p the start of one of the slots of a unit of class class_plus1 - 1 (0: no class,
   never)? Multiplies instead of divisions (Lemire et al., "Faster remainder by direct
   computation"): with d = floor(2^64 / size) + 1, offset * d mod 2^64 is k * (size * d
   mod 2^64), small, for the offset of slot k, and at least d for an offset that is no
   multiple of the size; the limit also keeps out the multiples that fall in the tail or
   the metadata. One compare, no test of the class. */
static inline bool mh_is_object_start1(const void *p, unsigned class_plus1) {
    const mh_class_check *c = &mh_class_checks[class_plus1];
    return ((uintptr_t)p & c->unit_mask) * c->divisibility < c->limit;
}
/* The slot of object p of class cls: the high half of the same product. */
static inline unsigned mh_slot_of(const void *p, unsigned cls) {
    const mh_class_check *c = &mh_class_checks[cls + 1];
    return (unsigned)(((unsigned __int128)((uintptr_t)p & c->unit_mask) * c->divisibility) >> 64);
}

/* The metadata of the unit of class cls that starts at base, and the start of pg's unit. */
static inline mh_page *mh_unit_meta(char *base, unsigned cls) {
    return (mh_page *)(base + mh_class_unit(cls) - MH_PAGE_META);
}
static inline char *mh_page_start(const mh_page *pg) {
    return (char *)pg + MH_PAGE_META - mh_class_unit(pg->cls);
}

/* ---- page.c: one page's slots and the intrusive lists ------------------------------- */

/* A page list; count is read without the lock by the statistics (atomic). Pages are
   pushed at the head, so an empty list runs from the newest empty page to the oldest. */
typedef struct mh_page_list {
    mh_page *head;
    mh_page *tail;
    uint32_t count;
} mh_page_list;

MH_INTERNAL void mh_page_format(mh_page *pg, unsigned heap, unsigned cls);
/* pg's owner heap, in its metadata and in the page-owner map; pg is empty (steal) or
   being formatted, under the lock of the heap it leaves. */
MH_INTERNAL void mh_page_set_owner(mh_page *pg, unsigned heap);
/* The page-class map's entries for pg: its class and owner (an object page), or 0 (not
   one: a free into it is reported, never cached). */
MH_INTERNAL void mh_page_publish_class(mh_page *pg, bool object_page);
/* Takes up to n free slots of pg into out; how many it took. The marked form stores mark
   in word 1 of each (check mode's free mark, cache.h) before its bit is set. */
MH_INTERNAL size_t mh_page_alloc_slots(mh_page *pg, void **out, size_t n);
MH_INTERNAL size_t mh_page_alloc_marked_slots(mh_page *pg, void **out, size_t n, uint64_t mark);
MH_INTERNAL void *mh_page_alloc_aligned_slot(mh_page *pg, size_t align);
/* Frees the leading objects of objs[0..n) that lie in pg's unit: validates each
   (interior pointer, double free: both fatal) and clears its bit; how many it freed. */
MH_INTERNAL size_t mh_page_free_slots(mh_page *pg, void *const *objs, size_t n);
/* The 4 KiB pages of unit pg that hold only free slots, as a mask (bit j: its j-th
   4 KiB page; never the last, which holds the metadata), their slots taken into taken[]
   and marked allocated so that nothing hands them out while the pages go back to the
   OS; mh_page_return_slots frees them again. A purged page reads as zeros when a slot
   in it is next used, which a slot's contents may be. */
#define MH_OS_PAGE ((size_t)4096)
MH_INTERNAL uint32_t mh_page_take_free_os_pages(mh_page *pg, uint64_t taken[MH_BITMAP_WORDS]);
MH_INTERNAL void mh_page_return_slots(mh_page *pg, const uint64_t taken[MH_BITMAP_WORDS]);
MH_INTERNAL void mh_list_push(mh_page_list *l, mh_page *pg);
MH_INTERNAL void mh_list_remove(mh_page_list *l, mh_page *pg);

/* ---- heap.c ------------------------------------------------------------------------- */

/* Empty pages are purged (given back to the OS) once empty for purge_ms, by the purger
   thread (purge.c), in runs of neighbours; a heap always keeps MH_PURGE_KEEP of them for
   the next burst. Without the thread a heap purges on its own slow paths, and one that
   holds more than MH_PURGE_TRIGGER empty pages (it is shrinking fast) purges at once down
   to MH_PURGE_RETAIN, since nothing may come back later to do it. */
#define MH_PURGE_TRIGGER 1024              /* 8 MiB */
#define MH_PURGE_RETAIN  512               /* 4 MiB */
#define MH_PURGE_KEEP    16

/* Objects a heap keeps as pointers between its pages and the front caches, per class:
   a flush puts them here and a refill takes them back without touching a page (as
   tcmalloc's transfer cache does), so a producer's objects that a consumer frees come
   back to the producer in whole batches. They count as used in their pages. Only the
   front cache uses them: a heap's stashes are mapped at its first refill for a cache.
   Each class's stash has its own lock, so that flushes and refills of different classes,
   and the heap's page work, do not queue behind one another: with 16 threads of
   producer-consumer, eight consumers flushed into each producer's heap. Lock order: a
   stash's lock may be held while its heap's lock is taken, never the other way round. */
#define MH_STASH_SLOTS 4096
#define MH_STASH_BYTES ((size_t)256 << 10)

typedef struct __attribute__((aligned(MH_CACHE_LINE))) mh_stash {
    mh_lock lock;                      /* guards everything below, and the slots */
    uint32_t count;                    /* objects in slot[0..count), at most
                                          mh_stash_capacity(cls) */
    /* Counters of the batches that only the stash served; a batch the heap's pages
       served in part is counted in the heap's counters (mh_heap_counters_read adds
       both). Read atomically. */
    uint64_t refills;                  /* refills, each also one malloc */
    uint64_t flushes;                  /* flushed batches */
    uint64_t remote_frees;             /* objects of those flushed on another CPU */
    void **slot;                       /* mh_stash_capacity(cls) of them, set once */
} mh_stash;

/* A heap's stashes are one mapping: the MH_NCLASSES stashes side by side on its first
   page, then each class's slots, on lines of their own. A fork locks every stash, and
   the purger and the statistics read every count: with the slots inline each stash had
   a page of its own, and a fork made 58 of them resident per heap. */
#define MH_STASH_HEADS_BYTES \
    ((MH_NCLASSES * sizeof(mh_stash) + MH_OS_PAGE - 1) & ~(size_t)(MH_OS_PAGE - 1))

/* One size class of one heap. */
typedef struct mh_class_lists {
    mh_page_list list[MH_NLISTS];      /* indexed by MH_LIST_* */
} mh_class_lists;

/* Counters of one heap, written under its lock, read atomically by mh_stats_get. */
typedef struct mh_heap_counters {
    uint64_t allocs, frees, remote_frees;
    uint64_t pages_stolen, pages_given;
    uint64_t os_grow_calls, os_grow_bytes;
    uint64_t purge_calls, purge_bytes;
    uint64_t cache_refills, cache_flushes;
} mh_heap_counters;

/*
 * One heap. An all-zero heap is a valid heap with no pages, so the array needs no
 * initialisation. Everything below `lock` is guarded by it, except `active` and the
 * stashes, which have locks of their own.
 */
typedef struct __attribute__((aligned(MH_CACHE_LINE))) mh_heap {
    mh_lock lock;
    uint32_t active;                   /* set once, under mh_global.activate_lock, before the
                                          heap's first use; listed in mh_global.active_ids */
    uint32_t nempty;                   /* empty pages over all classes (steal threshold) */
    uint32_t grow_pages;               /* pages the next OS growth asks for; 0: initial */
    uint32_t nfresh;                   /* pages left in the run at fresh: committed, never
                                          touched, on no list (not counted in nempty) */
    uint32_t npartial_slabs;           /* slabs on partial lists (purger wake-up) */
    char *fresh;
    uint32_t purge_scan_ms;            /* mh_now_ms() of the last purge scan (atomic) */
    uint32_t purge_quiet_since_ms;     /* the purger's: when it last saw h's counters move */
    uint64_t purge_activity;           /* the purger's: allocs + frees + flushes then */
    bool purge_partial_done;           /* the purger's: this quiet period's partial slabs
                                          have given their free pages back */
    mh_stash *stash;                   /* MH_NCLASSES of them, or NULL (set once, atomic) */
    mh_heap_counters stat;
    mh_class_lists cls[MH_NCLASSES];
} mh_heap;

/* Partial slabs that make a free wake the purger: their free pages may go back. */
#define MH_PARTIAL_SLABS_WAKE 16

/* Empty pages a heap keeps before others may take from it, and how many one steal takes. */
#define MH_STEAL_KEEP   16
#define MH_STEAL_BATCH  8
/* OS growth: pages per step start here and double up to the maximum (128 KiB .. 1 MiB). */
#define MH_GROW_MIN_PAGES 16
#define MH_GROW_MAX_PAGES 128
_Static_assert(MH_GROW_MIN_PAGES % MH_BIG_SLAB_PAGES == 0 && MH_BIG_SLAB_PAGES % MH_SLAB_PAGES == 0,
               "growth keeps the range aligned to every unit");

MH_INTERNAL void *mh_heap_alloc(mh_heap *h, unsigned cls, size_t align);
/* Fills out[0..n) with objects of class cls; returns how many (0: out of memory). */
MH_INTERNAL size_t mh_heap_alloc_batch(mh_heap *h, unsigned cls, void **out, size_t n,
                                       bool for_cache);
MH_INTERNAL void mh_small_free(void *p);
/* Who frees a batch: the program (counted as frees), a front cache's flush (objects the
   cache counted already; the stash takes them first), or the purger draining a quiet
   CPU's cache (counted nowhere, so the heap stays quiet; straight to the pages). */
typedef enum { MH_FREED_BY_PROGRAM, MH_FREED_BY_FLUSH, MH_FREED_BY_DRAIN } mh_free_source;
/* Frees objs[0..n), all inside the small range, each validated; consecutive objects of
   one owner heap share one lock acquisition. A flush or a drain must come grouped by
   owner heap (mh_group_by_owner), a refill's surplus is all of one heap. */
MH_INTERNAL void mh_small_free_batch(void *const *objs, size_t n, mh_free_source src);
/* After a free batch: wakes the purger thread if h holds empty pages, or without one
   gives h's surplus and long-empty pages back to the OS when a scan is due; takes and
   drops h's lock, makes its system calls holding none. */
MH_INTERNAL void mh_heap_maybe_purge(mh_heap *h);
/* The purger thread's pass over h at time now: pages empty for purge_ms go back to the
   OS, and the stashes of a heap quiet for purge_ms go back to their pages first. Returns
   whether h holds anything a later pass may give back. */
MH_INTERNAL bool mh_heap_purge_pass(mh_heap *h, uint32_t now);
/* Is p in its owner heap's stash? (A double-free check; takes that stash's lock.) */
MH_INTERNAL bool mh_heap_stash_holds(void *p);
/* h's counters, those its stashes keep added in. */
MH_INTERNAL mh_heap_counters mh_heap_counters_read(mh_heap *h);
/* The bytes of the objects in h's stashes now (a racy look). */
MH_INTERNAL uint64_t mh_heap_stashed_bytes(mh_heap *h);
/* Maps h's stashes if need be; call it holding no lock. Without them h works unstashed. */
MH_INTERNAL void mh_heap_stash_ensure(mh_heap *h);
MH_INTERNAL size_t mh_small_usable_size(const void *p);
MH_INTERNAL void mh_heap_activate(mh_heap *h);
MH_INTERNAL void mh_heap_lock_all(void);
MH_INTERNAL void mh_heap_unlock_all(bool child);

/* ---- purge.c: the purger thread ------------------------------------------------------ */

/* A heap holds empty pages to give back: wake the purger. false: no purger runs
   (switched off, not created yet, or it could not be created). Never creates it. */
MH_INTERNAL bool mh_purger_wake(void);
/* Creates the purger if it should run and does not yet. Only from malloc's paths,
   holding no lock of ours (see purge.c for why not from free's). */
MH_INTERNAL void mh_purger_start(void);
/* Fork: waits for a pass to end; the child has no purger. */
MH_INTERNAL void mh_purger_lock(void);
/* A purge on a heap's slow path takes the same lock, or skips (false): fork must not
   find pages half purged, which its child would lose. */
MH_INTERNAL bool mh_purger_try_lock(void);
MH_INTERNAL void mh_purger_unlock(bool child);
/* In a forked child whose parent had a purger, starts the child's own; from malloc's
   slow paths, like mh_purger_start. One relaxed load otherwise. */
MH_INTERNAL void mh_purger_restart_in_child(void);
/* A large mapping failed: asks the purger to empty the large rows of every CPU it may
   visit, young or not, into the shared cache, and waits until it has, or for
   MH_DRAIN_WAIT_MS. Returns at once without a purger, in the fork window or with no front
   cache. From malloc's paths holding no lock of ours. */
MH_INTERNAL void mh_purger_drain_large_rows(void);
#define MH_DRAIN_WAIT_MS 500
/* Does the purger visit cpu (the CPUs of the main thread when it started)? false before
   it has started. */
MH_INTERNAL bool mh_purger_may_visit(unsigned cpu);

/* ---- cache.c: the per-CPU front cache (fast paths in cache.h) ------------------------- */

/* A row caches at most MH_CACHE_BYTES of objects, within MH_CACHE_SLOTS and at least
   MH_CACHE_MIN_SLOTS of them, whatever their size, until it seesaws (below): with 8, a
   program that allocates a few dozen blocks of 3 to 18 KiB and frees them (size-sweep's
   batches of 64) went to its heap every 4 to 8 operations, 8-17 ns an operation against
   5-6 with 32 (tcmalloc 4-12); such a row may hold up to 585 KiB (32 of 18704 bytes),
   and its heap's stash twice that (all rows and stashes full: 34.9 MiB a CPU, 16.1 with
   8; with rows grown to their burst maximum, 69.8). A refill or flush moves half a row's
   capacity, which starts at MH_CACHE_START_SLOTS and doubles at each of the row's later
   refills and flushes up to the maximum: a class the program uses a little holds a
   little (its first malloc fetches 8 objects; half the maximum, before rows grew, was up
   to 32 KiB for one malloc), a class it churns grows to the full row within a few slow
   paths. */
#define MH_CACHE_MIN_SLOTS   32
#define MH_CACHE_START_SLOTS 16
#define MH_CACHE_BYTES       ((size_t)64 << 10)

/* A class row that seesaws (cache.c, note_slow_path: a program allocating and freeing
   bursts of its class, each over a row, or over half a row when the rounds fall into a
   cycle that refills and flushes in every one) grows past that, up to
   MH_CACHE_BURST_BYTES within MH_CACHE_SLOTS, and never shrinks: with rows of 64 KiB,
   size-sweep's rounds of 64 blocks of 768 to 2048 bytes took 2.9-3.9 ns an operation
   against 2.3-2.8 for the sizes whose row holds 128 (tcmalloc, whose lists grow with
   such use, 2.2-2.6; medians of 3 runs in each of two sets). A set comparing the burst
   maximum of 512 KiB with 1 MiB: 768 to 4096 bytes took 2.5-2.7 ns against 2.4-2.5, and
   6144 to 18704 (but 8192, 4.7-5.2 either way) 3.4-4.7 against 2.7-4.1. With every
   class row at its burst maximum (and remote rows and stashes full), a CPU's cache and
   heap would hold 69.8 MiB of free objects, against 34.9. */
#define MH_CACHE_BURST_BYTES ((size_t)1 << 20)

/* The slots of a row of class cls that holds about `bytes` of objects: within
   MH_CACHE_SLOTS, and at least MH_CACHE_MIN_SLOTS (so more than `bytes` for the largest
   classes). */
static inline unsigned mh_cache_slots_for(unsigned cls, size_t bytes) {
    size_t n = bytes / mh_class_size(cls);
    return n > MH_CACHE_SLOTS ? MH_CACHE_SLOTS : n < MH_CACHE_MIN_SLOTS ? MH_CACHE_MIN_SLOTS
                                                                       : (unsigned)n;
}
/* Objects a row of class cls holds at most unless it seesaws. */
static inline unsigned mh_cache_capacity(unsigned cls) {
    return mh_cache_slots_for(cls, MH_CACHE_BYTES);
}
/* Objects a class row of class cls may grow to by seesawing. */
static inline unsigned mh_cache_burst_capacity(unsigned cls) {
    return mh_cache_slots_for(cls, MH_CACHE_BURST_BYTES);
}
_Static_assert(MH_CACHE_START_SLOTS <= MH_CACHE_MIN_SLOTS, "a row starts within its maximum");
/* A heap's stash of class cls holds MH_STASH_BYTES of objects, at least two rows' worth
   (of a row that has not seesawed: a grown row's flush may overflow it into the pages),
   within MH_STASH_SLOTS. A cap of 1024 slots (one row of 64-byte objects) was two
   flushes: xmalloc's freer, whose flushes outran its producer's refills for a while,
   then freed into the pages, under the lock that the producer's refills from the pages
   took too (DEVELOPERS.md). */
static inline unsigned mh_stash_capacity(unsigned cls) {
    size_t rows = 2 * (size_t)mh_cache_capacity(cls), bytes = MH_STASH_BYTES / mh_class_size(cls);
    size_t n = bytes > rows ? bytes : rows;
    return n > MH_STASH_SLOTS ? MH_STASH_SLOTS : (unsigned)n;
}

/* One row of one CPU's cache: a line of counts, then the slots. count is written only
   inside a restartable sequence on that CPU (the commit is the store to count); cap is
   0 (which fails both fast paths) until the first slow path for that CPU's cache sets
   it, and raised by later ones, which may run on another CPU by then (compare-and-swap:
   it never falls, so count never exceeds it; a sequence that read an older cap only
   takes its slow path early); the double-free checks read count and the slots from
   outside, racily. A row is a line longer than its slots, so the tops of the
   rows (the hot lines) do not all fall into one L1 set, as rows 8 KiB apart would. */
typedef struct mh_cache_row {
    uint32_t count;                    /* objects in slot[0..count), top last */
    uint32_t cap;                      /* slots the row may use: 0 until its first slow
                                          path for the CPU's cache, then only grows
                                          (slow paths), never past
                                          mh_cache_capacity(cls), or
                                          mh_cache_burst_capacity(cls) once the
                                          row has seesawed */
    /* mallocs and frees served by this row: one add each, inside the sequence just
       before its commit (an abort between the two counts an operation twice, which
       needs a preemption on that one instruction). */
    uint64_t allocs, frees;
    /* A small row's copy of its class's pointer check (mh_class_checks[cls + 1]), for
       free's push, which loads it from this line inside its sequence instead of
       indexing the table by the class after the page entry: three instructions fewer,
       2% of mhmicro's churn step (DEVELOPERS.md). Written when the row is readied,
       before its capacity, which the push reads first; zeros (before, and in large
       rows) pass no pointer. */
    uint64_t check_divisibility, check_limit, check_unit_mask;
    /* A class row's recent slow paths, for note_slow_path (cache.c, which gives the
       layout); slow paths alone read and write it, racily (a heuristic); 0 before the
       first. */
    uint64_t slow_history;
    /* Read by a push as slot[-1] when the row is empty, to compare with the object it
       pushes: zero, never written, never an object. */
    const void *below_slot0;
    void *slot[MH_CACHE_SLOTS];
} mh_cache_row;
_Static_assert(sizeof(mh_cache_row) == MH_CACHE_ROW_BYTES &&
                   offsetof(mh_cache_row, count) == 0 && offsetof(mh_cache_row, cap) == 4 &&
                   offsetof(mh_cache_row, slot) == MH_CACHE_LINE &&
                   offsetof(mh_cache_row, below_slot0) + sizeof(void *) == MH_CACHE_LINE,
               "a row is its line of counts, then its slots; the sequences address count "
               "at 0, cap at 4 and slot[-1] just below the slots");

/* A CPU's cache has two rows per class. Malloc pops the class row, which holds only
   objects of the CPU's own heap: a free of one of those pushes there, a refill fills
   it. A free of another heap's object pushes its class's remote row, which nothing pops
   but a flush (or the purger's drain), back to the owners: an object freed on this CPU
   is never handed out here while its neighbours may be in use on their own CPU (passive
   false sharing, Hoard's cache-scratch: with one row, two threads were given two
   halves of one cache line in 6 runs of 16 of false-sharing-active). Rows are named by
   an index, class rows first, or by their offset in the cache.
   After the small objects' rows come the large rows, one per large bin (large.c):
   recently freed large blocks of that bin's size, for the same pop and push. */
#define MH_SMALL_ROWS  (2 * MH_NCLASSES)
#define MH_LARGE_BINS  16
#define MH_CACHE_ROWS  (MH_SMALL_ROWS + MH_LARGE_BINS)
/* A large row is a row's line of counts and MH_LARGE_ROW_SLOTS slots: its capacity never
   exceeds them (mh_large_row_capacity), so the sequences never address past them. */
#define MH_LARGE_ROW_SLOTS     32
#define MH_LARGE_ROW_SIZE      (MH_CACHE_LINE + MH_LARGE_ROW_SLOTS * sizeof(void *))
typedef struct mh_cpu_cache {
    mh_cache_row row[MH_SMALL_ROWS];   /* row r at mh_cache_row_of(r): class cls's class row
                                          at r = cls, its remote row at MH_NCLASSES + cls */
    /* Large bin b's row, row MH_SMALL_ROWS + b: read through mh_cache_row_at. */
    _Alignas(MH_CACHE_LINE) unsigned char large_rows[MH_LARGE_BINS][MH_LARGE_ROW_SIZE];
} mh_cpu_cache;
/* Row r's offset in a CPU's cache, any row (the fast paths' class rows: mh_cache_row_of). */
static inline size_t mh_row_offset(unsigned r) {
    return r < MH_SMALL_ROWS ? mh_cache_row_of(r)
                             : offsetof(mh_cpu_cache, large_rows) + (r - MH_SMALL_ROWS) * MH_LARGE_ROW_SIZE;
}
/* Row r of cache c; a large row's slots end at its capacity's maximum. */
static inline mh_cache_row *mh_cache_row_at(mh_cpu_cache *c, unsigned r) {
    return (mh_cache_row *)((char *)c + mh_row_offset(r));
}
/* The offset of the remote rows from the class rows, which free's fast path adds. */
#define MH_REMOTE_ROWS (MH_NCLASSES * MH_CACHE_ROW_BYTES)
static inline bool mh_row_is_large(unsigned row) { return row >= MH_SMALL_ROWS; }
/* The class of a small object row. */
static inline unsigned mh_row_class(unsigned row) {
    return row < MH_NCLASSES ? row : row - MH_NCLASSES;
}
/* The words of mh_global.cache_rows per CPU: a bit per row. */
#define MH_CACHE_ROW_WORDS ((MH_CACHE_ROWS + 63) / 64)

/* CPU n's cache starts n strides after CPU 0's: a power of two, so the sequences find it
   with a shift (the tail of each stride is never touched). */
#define MH_CACHE_STRIDE_SHIFT 20
_Static_assert(sizeof(mh_cpu_cache) <= (1u << MH_CACHE_STRIDE_SHIFT), "cache stride");

/* At initialisation: NULL when the front cache runs, else why not ("off(no rseq)"). */
MH_INTERNAL const char *mh_cache_setup(void);
MH_INTERNAL void *mh_cache_alloc_slow(unsigned cls);
MH_INTERNAL void mh_cache_free_slow(void *p, unsigned cls);
/* The large rows' slow paths: a block of bin's size, from the shared cache through the
   row (NULL: none there, or no front cache); p (a block of bin's size) into the row
   (false: it did not go in). */
MH_INTERNAL void *mh_cache_large_alloc_slow(unsigned bin);
MH_INTERNAL bool mh_cache_large_free_slow(void *p, unsigned bin);
/* Reorders objs[0..n) (objects of the small range, n at most MH_CACHE_SLOTS / 2) so that
   each owner heap's objects are next to each other. */
MH_INTERNAL void mh_group_by_owner(void **objs, size_t n);
/* A free of an object whose word 1 holds the free mark: reports the double free, or
   (the program stored the mark's value itself) frees it through the heap. */
MH_INTERNAL void mh_cache_free_marked(void *p);
/* Check mode's part of a small free of p (class cls, the start of a slot): marks it;
   false when the free is done already (p was marked: mh_cache_free_marked). Reports a
   free of a slot that its page holds free. */
MH_INTERNAL bool mh_cache_free_check(void *p, unsigned cls);
/* Is the slot of p (class cls, the start of a slot) free in its page's bitmap? A racy
   read, for check mode's reports. */
MH_INTERNAL bool mh_slot_free_in_page(const void *p, unsigned cls);
/* Is small object p in some CPU's front cache or its heap's stash, i.e. free? A racy
   search for misuse reports (check mode). */
MH_INTERNAL bool mh_cache_holds_freed(void *p);
/* Empties into the heaps the rows of CPU cpu's cache whose bits are set in
   rows[MH_CACHE_ROW_WORDS] (NULL: every row), if the caller runs on cpu: 1 done, 0 it
   does not (run there and try again), -1 the calling thread has no rseq area (never).
   The purger calls it pinned to cpu: the sequences keep it safe even if the CPU's own
   threads run meanwhile. */
MH_INTERNAL int mh_cache_drain(unsigned cpu, const uint64_t *rows);
/* rows[MH_CACHE_ROW_WORDS] for mh_cache_drain: the large rows alone. */
MH_INTERNAL void mh_cache_large_rows(uint64_t *rows);
/* What row r of CPU cpu's cache has served (mallocs + frees) and the objects it holds
   now (racy reads); false for a row the CPU never readied. */
MH_INTERNAL bool mh_cache_row_state(unsigned cpu, unsigned r, uint64_t *ops, uint32_t *count);
/* What CPU cpu's front cache served, and the bytes of the objects it holds now (racy
   reads; zeros without a cache). */
typedef struct mh_cache_tally {
    uint64_t allocs, frees, bytes;     /* small objects */
    uint64_t large_allocs, large_frees;
    uint64_t large_bytes;              /* bytes of the large blocks its rows hold */
    int64_t large_net_bytes;           /* bytes of the large rows' allocs less their frees */
} mh_cache_tally;
MH_INTERNAL mh_cache_tally mh_cache_tally_of(unsigned cpu);

/* ---- large.c ------------------------------------------------------------------------ */

/* A shard's slots (large.c), for the many blocks just above MH_SMALL_MAX that a storm frees
   at once: each would otherwise be an munmap, with a TLB shootdown on every CPU. */
#define MH_LARGE_CACHE_SLOTS     1024
#define MH_LARGE_EVICT_MAX       8                    /* evictions one free makes at most */
#define MH_LARGE_CACHE_BYTES     ((size_t)64 << 20)   /* bytes of blocks of no bin kept */
#define MH_LARGE_SHARD_BYTES     ((size_t)8 << 20)    /* ... of the bins' blocks, a CPU */
#define MH_LARGE_CACHE_MAX_BLOCK ((size_t)16 << 20)   /* bigger blocks are always unmapped */
#define MH_LARGE_COPY_MAX        ((size_t)128 << 10)  /* realloc copies into a cached block */
#define MH_LARGE_DOUBLE_MAX      ((size_t)64 << 20)   /* mremap doubles blocks below this */

/* The large bins: blocks of MH_LARGE_BIN_MIN_PAGES to MH_LARGE_BIN_MAX_PAGES 4 KiB
   pages, rounded up to four sizes a doubling (5, 6, 7, 8, 10, 12, ..., 56, 64 pages: at
   most 25% more), which the CPUs' large rows keep (cache.c) as their rows keep small
   objects: a block of a bin's size freed and allocated again makes no system call and
   takes no lock. tcmalloc's per-CPU caches reach 256 KiB too. */
#define MH_LARGE_BIN_MIN_PAGES ((MH_SMALL_MAX + MH_OS_PAGE) / MH_OS_PAGE)
#define MH_LARGE_BIN_MAX_PAGES 64
/* A large row holds at most MH_LARGE_ROW_BYTES, and 2 to MH_LARGE_ROW_SLOTS blocks. */
#define MH_LARGE_ROW_BYTES     ((size_t)512 << 10)
_Static_assert(MH_LARGE_BIN_MIN_PAGES == 5 && MH_LARGE_BINS == 16,
               "the bin arithmetic below starts at 5 pages, four bins a doubling to 64");
static inline unsigned mh_large_bin_of(size_t pages) {
    size_t m = pages - 1;
    unsigned step_shift = (unsigned)(63 - __builtin_clzll(m)) - 2;
    size_t rounded = (m | (((size_t)1 << step_shift) - 1)) + 1;
    return 4 * step_shift + (unsigned)(rounded >> step_shift) - 5;
}
static inline size_t mh_large_bin_bytes(unsigned bin) {
    return ((size_t)(5 + bin % 4) << (bin / 4)) * MH_OS_PAGE;
}
static inline unsigned mh_large_row_capacity(unsigned bin) {
    size_t n = MH_LARGE_ROW_BYTES / mh_large_bin_bytes(bin);
    return n > MH_LARGE_ROW_SLOTS ? MH_LARGE_ROW_SLOTS : n < 2 ? 2 : (unsigned)n;
}
/* For cache.c's large rows: up to n blocks of bin's size from the shared cache into
   out[], how many (out[0] is for the caller's malloc, and counted as allocated); blocks
   a row held (their frees counted by the row) into the shared cache. */
MH_INTERNAL size_t mh_large_take_cached(unsigned cpu, unsigned bin, void **out, size_t n);
MH_INTERNAL void mh_large_put_cached(unsigned cpu, void *const *blocks, size_t n);

/* zero: the block must read as zeros (calloc). */
MH_INTERNAL void *mh_large_alloc(size_t size, size_t align, bool zero);
/* false: p is not a live large block (nothing was done). */
MH_INTERNAL bool mh_large_free(void *p);
MH_INTERNAL size_t mh_large_usable_size(const void *p);   /* 0: not a large block */
MH_INTERNAL void *mh_large_realloc(void *p, size_t size);  /* p is a live large block */
MH_INTERNAL bool mh_large_contains(const void *p);         /* p inside a live large block */
MH_INTERNAL bool mh_large_is_freed(const void *p);         /* p starts a freed, cached block */
/* The purger's pass: unmaps blocks cached for purge_ms; true if blocks remain cached. */
MH_INTERNAL bool mh_large_purge_pass(uint32_t now);
MH_INTERNAL void mh_large_stats(mh_stats *out);
MH_INTERNAL void mh_large_lock(void);
MH_INTERNAL void mh_large_unlock(bool child);

/* ---- os.c --------------------------------------------------------------------------- */

MH_INTERNAL bool mh_os_reserve_small(void);
/* How mh_os_claim_pages answered. */
typedef enum mh_claim {
    MH_CLAIM_PURGED,        /* a run of purged pages, reused */
    MH_CLAIM_FRESH,         /* fresh pages from the range */
    MH_CLAIM_UNCOMMITTED,   /* none: the range's writable part must grow first
                               (mh_os_commit_ahead), then ask again */
    MH_CLAIM_EXHAUSTED,     /* none: the range is used up */
} mh_claim;
/* Up to *npages zeroed, writable object pages, in whole units of unit_pages pages
   aligned to their size: a run of purged ones if there is one (*npages may shrink to
   its length), else fresh from the range (*npages must then be a multiple of
   MH_BIG_SLAB_PAGES, which keeps the range's claims aligned to every unit); NULL when
   there are none (*how says why). Changes no mapping (no mprotect), so that growth can claim under
   its heap's lock: claimed pages are then on a heap's lists, or still in the range or
   the purged table, whenever a fork takes every heap's lock. */
MH_INTERNAL char *mh_os_claim_pages(size_t *npages, unsigned unit_pages, mh_claim *how);
/* Makes the range writable for `bytes` more than is claimed now (the mprotect growth
   needs, made holding no heap lock); false with errno ENOMEM when the range or the
   kernel refuses. */
MH_INTERNAL bool mh_os_commit_ahead(size_t bytes);
/* Pages purged and waiting in the table to be claimed again. */
MH_INTERNAL size_t mh_os_purged_pages(void);
/* Gives bytes at p (4 KiB aligned) back to the OS; they stay mapped and read as zeros. */
MH_INTERNAL bool mh_os_release(void *p, size_t bytes);
/* Gives a run of empty object pages back to the OS (their metadata too); they are kept
   for a later mh_os_claim_pages. false: the run was not purged. */
MH_INTERNAL bool mh_os_purge_pages(char *p, size_t npages);
/* Can mh_os_purge_pages take another run? While it cannot, empty pages stay where they
   are and the purger does not wait for them (growth that reuses purged runs makes room). */
MH_INTERNAL bool mh_os_purge_room(void);
MH_INTERNAL uint32_t mh_now_ms(void);           /* coarse monotonic clock */
MH_INTERNAL void mh_os_lock(void);              /* fork: the purged-page table, the commit */
MH_INTERNAL void mh_os_unlock(bool child);
MH_INTERNAL void *mh_os_map(size_t size);
/* For tables sized by the possible CPUs, of which a process touches a few pages: the
   front caches take 1 MiB a CPU, and a kernel may list thousands of possible CPUs, more
   than the overcommit heuristic lets one mapping reserve. */
MH_INTERNAL void *mh_os_map_sparse(size_t size);
MH_INTERNAL void mh_os_unmap(void *p, size_t size);
MH_INTERNAL unsigned mh_os_possible_cpus(void);
/* One line "multiheap: <what> <address>" to stderr, then abort(). */
MH_INTERNAL __attribute__((noreturn)) void mh_fatal(const char *what, const void *p);

/* ---- key.c -------------------------------------------------------------------------- */

enum { MH_KEY_CPU = 0, MH_KEY_THREAD = 1, MH_KEY_GLOBAL = 2 };
MH_INTERNAL int mh_current_cpu(void);
/* The heap this thread allocates from now (activated). */
MH_INTERNAL mh_heap *mh_current_heap(void);
/* The heap of CPU cpu under the cpu key (activated); initialised already. */
MH_INTERNAL mh_heap *mh_heap_of_cpu(unsigned cpu);
/* The heap this thread uses on CPU cpu, without assigning one: UINT32_MAX if none yet. */
MH_INTERNAL unsigned mh_current_heap_index(int cpu);
MH_INTERNAL void mh_key_after_fork_child(void);
MH_INTERNAL const char *mh_key_name(int policy);

/* ---- stats.c ------------------------------------------------------------------------ */

/* Maps the CPU x heap matrix if needed; call it holding no heap lock. */
MH_INTERNAL void mh_remote_matrix_ensure(void);
MH_INTERNAL void mh_count_remote_free(unsigned owner_heap, int cpu, uint64_t n);

/* Statistics counters: written only under the lock that guards them, read anywhere. */
#define MH_STAT_ADD(field, n) __atomic_store_n(&(field), (field) + (n), __ATOMIC_RELAXED)
#define MH_STAT_READ(field)   __atomic_load_n(&(field), __ATOMIC_RELAXED)

/* ---- init.c: the process-wide state ------------------------------------------------- */

typedef struct mh_global_state {
    uint32_t initialised;              /* 1 once mh_init_slow has finished (release/acquire) */
    int key_policy;                    /* MH_KEY_* */
    int stats_fd;                      /* MULTIHEAP_STATS=1: a copy of stderr for the exit
                                          report; -1: no report */
    dev_t stats_dev;                   /* the file stats_fd was a copy of (fstat) */
    ino_t stats_ino;
    unsigned ncpus;                    /* possible CPUs */
    unsigned nheaps;                   /* entries in heaps[] */
    mh_heap *heaps;
    uint32_t *thread_owner;            /* MH_KEY_THREAD: tid owning each heap slot, 0 free */
    uint64_t *remote_matrix;           /* ncpus rows of nheaps, each row on lines of its own
                                          (stats.c), mapped at the first remote free */
    uint32_t *active_ids;              /* heaps in activation order, nheaps_active of them:
                                          walks over heaps touch only these (release/acquire) */
    uint32_t nheaps_active;
    mh_lock init_lock;
    mh_lock activate_lock;             /* heap activation vs. fork */
    char *small_base;                  /* the reserved range: [small_base, small_base+size) */
    size_t small_size;
    size_t small_used;                 /* bytes handed out from its start (atomic) */
    uint16_t *page_owner;              /* per page of the range: its unit's owner heap, written
                                          with mh_page.heap: the owner of an object without a
                                          read of its page's metadata (valid for object pages) */
    uint32_t *page_class;              /* per page of the range: mh_page_entry_of(), 0
                                          if none; written when a page is formatted or
                                          purged, read by free: one dense word instead of a
                                          metadata line, and the row's offset without a
                                          second load */
    /* Run-time options (multiheap.h), fixed at initialisation. */
    bool cache;                        /* the front cache runs: caches != NULL */
    bool remote_batch;                 /* other heaps' objects may enter a front cache */
    bool remote_bins;                  /* ... its remote rows only (MULTIHEAP_REMOTE_BINS; else
                                          every owner tag is MH_OWNER_TAG_NONE, which every
                                          binding's owner_tag matches); fixed before the
                                          first page is formatted */
    bool large_cache;
    int purge_ms;                      /* < 0: never purge */
    bool purge_thread;                 /* the purger thread may run (purge.c) */
    bool purger_failed;                /* pthread_create refused it (atomic; reset in a
                                          forked child, which tries again) */
    bool large_rows;                   /* large blocks of the bins go through the front
                                          cache (large.c): it runs, the large cache is on,
                                          and the purger, which alone empties those rows,
                                          may run (or purging is off); set with cache */
    mh_cpu_cache *caches;              /* CPU 0's; ncpus of them MH_CACHE_STRIDE_SHIFT apart,
                                          each row touched from its first use on that CPU */
    uint64_t *cache_rows;              /* per CPU, MH_CACHE_ROW_WORDS words: bit r set once
                                          its cache's row r is readied (cache.c;
                                          release/acquire) */
    ptrdiff_t rseq_offset;             /* glibc's __rseq_offset: the thread's rseq area */
    bool check;                        /* MULTIHEAP_CHECK: mark freed objects (cache.h) */
    /* malloc.c's shortest paths apply (cache && remote_batch && !check) to sizes below
       fast_size_limit and to pointers less than fast_range_size past small_base; both are
       0 until then, so each fast path tests one bound. Set last. */
    size_t fast_size_limit;            /* MH_SMALL_MAX + 1, or 0 */
    size_t fast_range_size;            /* small_size, or 0 */
    uint64_t free_mark;                /* word 1 of a freed object in check mode (random) */
    char options[192];                 /* mh_options() */
} mh_global_state;

MH_INTERNAL extern mh_global_state mh_global;
MH_INTERNAL void mh_init_slow(void);

static inline void mh_ensure_init(void) {
    if (MH_UNLIKELY(!__atomic_load_n(&mh_global.initialised, __ATOMIC_ACQUIRE))) mh_init_slow();
}

/* Heaps in use so far, and the i-th of them (i < mh_active_heaps()). */
static inline unsigned mh_active_heaps(void) {
    return __atomic_load_n(&mh_global.nheaps_active, __ATOMIC_ACQUIRE);
}
static inline mh_heap *mh_active_heap(unsigned i) {
    return &mh_global.heaps[mh_global.active_ids[i]];
}

static inline bool mh_is_small(const void *p) {
    return (uintptr_t)p - (uintptr_t)mh_global.small_base < mh_global.small_size;
}

/* CPU cpu's front cache. */
static inline mh_cpu_cache *mh_cache_of_cpu(unsigned cpu) {
    return (mh_cpu_cache *)((char *)mh_global.caches + ((size_t)cpu << MH_CACHE_STRIDE_SHIFT));
}

/* The page-class map starts half an OS page into its mapping. Free loads a page's entry
   just after the previous operation stored to its row's line of counts, and the CPU holds
   back a load whose address matches an older store's in its low 12 bits (4K aliasing;
   bits 11..2 in AMD's older guides; on this Zen 5 the stall follows the map's offset): with the
   map at a page boundary the entries of the range's first 16 pages shared the line offset
   of the 16-byte class's counts (page 0's entry the count's own bits), and a malloc+free
   loop of 16 bytes took 3.7-4.0 ns instead of 3.3 in a small program (DEVELOPERS.md).
   Skewed, the entries of the first 4 MiB of the range share a line offset only with the
   counts of the class rows of 1120 bytes and up and of the remote rows of 16 bytes and of
   1248 bytes and up (alloc.unit.page_map_skew). */
#define MH_PAGE_CLASS_SKEW ((size_t)2048)

/* The page-class map's entry of the page of p (mh_is_small(p)). */
static inline uint32_t mh_page_entry(const void *p) {
    return __atomic_load_n(
        &mh_global.page_class[((uintptr_t)p - (uintptr_t)mh_global.small_base) >> MH_PAGE_SHIFT],
        __ATOMIC_RELAXED);
}

/* The class of the page of p (mh_is_small(p)) plus one from the page-class map; 0 for a
   page that holds no objects (never formatted, or purged). */
static inline unsigned mh_page_class_plus1(const void *p) {
    return mh_page_entry_class_plus1(mh_page_entry(p));
}

/* The heap that owns the unit holding object p (mh_is_small(p), an object page). */
static inline unsigned mh_page_owner(const void *p) {
    return __atomic_load_n(
        &mh_global.page_owner[((uintptr_t)p - (uintptr_t)mh_global.small_base) >> MH_PAGE_SHIFT],
        __ATOMIC_RELAXED);
}

/* The metadata of the unit holding p (mh_is_small(p)), found through the page-class map;
   for a page that holds no objects, the end of p's 8 KiB page (never formatted or purged:
   it reads as zeros, capacity 0, which the callers report). */
static inline mh_page *mh_page_of(const void *p) {
    unsigned c1 = mh_page_class_plus1(p);
    size_t unit = c1 ? mh_class_unit(c1 - 1) : MH_PAGE_SIZE;
    return (mh_page *)(((uintptr_t)p & ~(uintptr_t)(unit - 1)) + unit - MH_PAGE_META);
}

#endif /* MH_INTERNAL_H */
