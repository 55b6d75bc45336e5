/*
 * The public malloc family (mh_*) and, unless built with MH_OVERRIDE_MALLOC=0, the
 * standard names as aliases of it, so the library replaces malloc when preloaded
 * or linked.
 *
 * Choices where the standards leave room (documented in README.md):
 *   malloc(0)          a unique pointer to a 16-byte object
 *   realloc(p, 0)      frees p and returns NULL, as glibc does
 *   alignment          any power of two; anything else, and 0, fails with EINVAL
 *   free               keeps errno; every failure sets it (ENOMEM or EINVAL)
 */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"

#define OS_PAGE ((size_t)4096)

static bool is_pow2(size_t x) { return x && !(x & (x - 1)); }

/* Is the front cache running? Set once at initialisation, after everything it reads. */
static inline bool cache_on(void) {
    return __atomic_load_n(&mh_global.cache, __ATOMIC_ACQUIRE);
}

/* The common case, with the shortest paths: the front cache runs, takes every heap's
   objects, and frees are not marked. One bound each (0 otherwise, mh_global). */
static inline bool fast_malloc_size(size_t size) {
    return size < __atomic_load_n(&mh_global.fast_size_limit, __ATOMIC_ACQUIRE);
}
static inline size_t fast_range_size(void) {
    return __atomic_load_n(&mh_global.fast_range_size, __ATOMIC_ACQUIRE);
}

static size_t natural_alignment(unsigned cls) { return mh_class_size(cls) & -mh_class_size(cls); }

/* The class for size bytes aligned to align. Slots sit at multiples of the class size
   from a page or slab start, so every slot of a class whose size is a multiple of align
   is aligned: the smallest such class up to twice the size, else size's own class, in
   whose pages the heap looks for a slot that happens to be aligned (often one a page:
   memalign(64, 1000) took about 4 KiB that way, 1024 bytes now). A class up to align
   bytes is taken whatever the size: memalign(64, 8) gets a 64-byte slot. */
static unsigned aligned_class(size_t size, size_t align) {
    unsigned own = mh_size_class(size);
    size_t limit = 2 * size > align ? 2 * size : align;
    for (unsigned c = own; c < MH_NCLASSES && mh_class_size(c) <= limit; c++)
        if (natural_alignment(c) >= align) return c;
    return own;
}

/* A small object aligned to align: from the front cache when every slot of its class is
   aligned enough, else from the heap, which finds an aligned slot. */
static void *small_alloc(size_t size, size_t align) {
    mh_heap *h = cache_on() ? NULL : mh_current_heap();   /* initialises the class table */
    unsigned cls = aligned_class(size, align);
    size_t row = mh_cache_row_of(cls);
    if (h == NULL && align <= natural_alignment(cls)) return mh_cache_malloc(row);
    if (h == NULL) h = mh_current_heap();
    void *p = mh_heap_alloc(h, cls, align);
    if (p && mh_global.check) *mh_free_mark_word(p) = 0;
    return p;
}

static bool big_slab_size(size_t size) {
    return size > mh_class_size(MH_FIRST_BIG_SLAB_CLASS - 1);
}

/* Does an aligned request go to the small objects? In a big slab only the first slot is
   sure to be aligned beyond 16 bytes (the classes there are odd multiples of 16 or 32),
   and a unit of 128 KiB per object is worse than a mapping of its own. */
static bool small_request(size_t size, size_t align) {
    return size <= MH_SMALL_MAX && align <= (big_slab_size(size) ? 16 : MH_PAGE_SIZE);
}

/* A request the small range could not serve: a big slab's size gets a mapping of its
   own, as every size above 9344 bytes did before the big slabs, so that the range's
   limit (half the address space under ulimit -v) does not cap them; errno as the caller
   found it then. Smaller sizes fail. */
static void *small_exhausted(size_t size, size_t align, bool zero, int caller_errno) {
    if (!big_slab_size(size)) return NULL;
    errno = caller_errno;
    return mh_large_alloc(size, align, zero);
}

static void *alloc(size_t size, size_t align, bool zero) {
    if (small_request(size, align)) {
        int caller_errno = errno;
        void *p = small_alloc(size, align);
        if (!p) return small_exhausted(size, align, zero, caller_errno);
        if (zero) memset(p, 0, size);
        return p;
    }
    mh_ensure_init();
    return mh_large_alloc(size, align, zero);
}

/* The usable size of a block this library returned; anything else is fatal: a large
   block freed before (still cached) as `freed`, the rest as `foreign`. */
static size_t checked_usable_size(void *p, const char *foreign, const char *freed) {
    if (mh_is_small(p)) {
        if ((char *)p < mh_global.small_base + __atomic_load_n(&mh_global.small_used,
                                                               __ATOMIC_RELAXED) &&
            mh_is_object_start1(p, mh_page_entry_class_plus1(mh_page_entry(p))))
            return mh_small_usable_size(p);
    } else {
        size_t size = mh_large_usable_size(p);
        if (size) return size;
        if (mh_large_is_freed(p)) mh_fatal(freed, p);
    }
    mh_fatal(foreign, p);
}

/* The two fast paths start on a line: where the linker happened to put mh_malloc 16 bytes
   before one, its 22 instructions spanned three lines instead of two and the pair
   microbenchmark took 10% longer (6.2 vs 5.6 ns), whatever the change that moved it. */
#define MH_FAST_ENTRY MH_API __attribute__((aligned(MH_CACHE_LINE)))

/* malloc's fast path found its bin empty. A refill that got only part of its batch set
   ENOMEM and still returned an object: errno is the caller's again then. */
static __attribute__((noinline)) void *malloc_slow(size_t size, size_t row) {
    int caller_errno = errno;
    void *p = mh_cache_alloc_slow(mh_class_of_row(row));
    if (!p) return small_exhausted(size, 1, false, caller_errno);
    errno = caller_errno;
    return p;
}

MH_FAST_ENTRY void *mh_malloc(size_t size) {
    if (MH_LIKELY(fast_malloc_size(size))) {
        size_t row = mh_size_row(size);
        void *p = mh_cache_pop(row);
        return MH_LIKELY(p != NULL) ? p : malloc_slow(size, row);
    }
    return alloc(size, 1, false);
}

/* Every free the fast path does not finish: NULL, large blocks, a small free that needs
   checking or a slow path (mh_cache_free validates again and reports the misuse), and
   the small frees of the other designs (check mode, no remote batching, no cache). */
static __attribute__((noinline)) void free_general(void *p) {
    if (!p) return;
    if (mh_is_small(p)) {
        if (cache_on()) mh_cache_free(p);
        else mh_small_free(p);
    } else if (!mh_large_free(p)) {
        mh_fatal(mh_large_contains(p) ? "free of an interior pointer of a large block"
                                      : "free of a pointer multiheap never returned",
                 p);
    }
}

MH_FAST_ENTRY void mh_free(void *p) {
    /* NULL is not small: the reserved range never starts at 0. The bound is read first,
       so the offset is computed once, after it. */
    size_t range = fast_range_size();
    uintptr_t off = (uintptr_t)p - (uintptr_t)mh_global.small_base;
    if (MH_LIKELY(off < range)) {
        uint32_t entry = mh_global.page_class[off >> MH_PAGE_SHIFT];
        /* The push checks that p starts a slot, against its row's copy of the check. */
        if (MH_LIKELY(mh_page_entry_class_plus1(entry) != 0 && mh_cache_push_freed(entry, p)))
            return;
    }
    free_general(p);
}

MH_API void *mh_calloc(size_t nmemb, size_t size) {
    size_t bytes;
    if (__builtin_mul_overflow(nmemb, size, &bytes)) {
        errno = ENOMEM;
        return NULL;
    }
    return alloc(bytes, 1, true);
}

MH_API void *mh_realloc(void *p, size_t size) {
    if (!p) return mh_malloc(size);
    if (size == 0) {
        mh_free(p);
        return NULL;
    }
    size_t old = checked_usable_size(p, "realloc of a pointer multiheap never returned",
                                     "realloc of a freed large block");
    bool small = mh_is_small(p);
    /* Check mode: a freed object in a cache carries the free mark (cache.h); one in its
       page has its bit clear. */
    if (MH_UNLIKELY(mh_global.check) && small) {
        if (*mh_free_mark_word(p) == mh_global.free_mark && mh_cache_holds_freed(p))
            mh_fatal("realloc of a freed pointer (object is in a free cache)", p);
        if (mh_slot_free_in_page(p, mh_page_class_plus1(p) - 1))
            mh_fatal("realloc of a freed pointer (object is free in its page)", p);
    }
    /* A small object keeps its place unless it would waste over half of it. */
    if (small && size <= old && size > old / 2) return p;
    if (!small && size > MH_SMALL_MAX) return mh_large_realloc(p, size);
    int caller_errno = errno;
    void *q = mh_malloc(size);
    if (!q) {
        /* glibc's realloc fails only to make a block bigger, and programs shrink without
           checking: with the small range full, p itself serves a shrink (a large block
           cut down to its first pages), where NULL was returned. */
        if (size > old) return NULL;
        errno = caller_errno;
        return small ? p : mh_large_realloc(p, size);
    }
    /* malloc never returns a live block: p had been freed, and is q's now. */
    if (MH_UNLIKELY(q == p)) mh_fatal("realloc of a freed pointer (malloc handed it out again)", p);
    memcpy(q, p, old < size ? old : size);
    mh_realloc_freeing = p;
    mh_free(p);
    mh_realloc_freeing = NULL;
    return q;
}

MH_API void *mh_reallocarray(void *p, size_t nmemb, size_t size) {
    size_t bytes;
    if (__builtin_mul_overflow(nmemb, size, &bytes)) {
        errno = ENOMEM;
        return NULL;
    }
    return mh_realloc(p, bytes);
}

MH_API void *mh_memalign(size_t alignment, size_t size) {
    if (!is_pow2(alignment)) {
        errno = EINVAL;
        return NULL;
    }
    return alloc(size, alignment, false);
}

MH_API void *mh_aligned_alloc(size_t alignment, size_t size) {
    return mh_memalign(alignment, size);
}

MH_API int mh_posix_memalign(void **out, size_t alignment, size_t size) {
    if (!is_pow2(alignment) || alignment % sizeof(void *) != 0) return EINVAL;
    int saved = errno;
    void *p = alloc(size, alignment, false);
    int err = p ? 0 : errno;
    errno = saved;
    if (p) *out = p;
    return err;
}

MH_API void *mh_valloc(size_t size) {
    return alloc(size, OS_PAGE, false);
}

MH_API void *mh_pvalloc(size_t size) {
    if (size > SIZE_MAX - OS_PAGE) {
        errno = ENOMEM;
        return NULL;
    }
    size_t rounded = size ? (size + OS_PAGE - 1) & ~(OS_PAGE - 1) : OS_PAGE;
    return alloc(rounded, OS_PAGE, false);
}

MH_API size_t mh_malloc_usable_size(void *p) {
    return p ? checked_usable_size(p, "malloc_usable_size of a pointer multiheap never returned",
                                   "malloc_usable_size of a freed large block")
             : 0;
}

#define MH_STR2(x) #x
#define MH_STR(x) MH_STR2(x)

MH_API const char *mh_version(void) {
    return "multiheap " MH_VERSION " (8 KiB pages, 64 and 128 KiB slabs, " MH_STR(MH_NCLASSES) " size classes, "
#if MH_OVERRIDE_MALLOC
           "replaces malloc)";
#else
           "mh_ API only)";
#endif
}

#if MH_OVERRIDE_MALLOC
#define MH_ALIAS(target) __attribute__((alias(#target), visibility("default")))
void *malloc(size_t size) MH_ALIAS(mh_malloc);
void free(void *p) MH_ALIAS(mh_free);
void *calloc(size_t nmemb, size_t size) MH_ALIAS(mh_calloc);
void *realloc(void *p, size_t size) MH_ALIAS(mh_realloc);
void *reallocarray(void *p, size_t nmemb, size_t size) MH_ALIAS(mh_reallocarray);
void *aligned_alloc(size_t alignment, size_t size) MH_ALIAS(mh_aligned_alloc);
int posix_memalign(void **out, size_t alignment, size_t size) MH_ALIAS(mh_posix_memalign);
void *memalign(size_t alignment, size_t size) MH_ALIAS(mh_memalign);
void *valloc(size_t size) MH_ALIAS(mh_valloc);
void *pvalloc(size_t size) MH_ALIAS(mh_pvalloc);
size_t malloc_usable_size(void *p) MH_ALIAS(mh_malloc_usable_size);
#endif
