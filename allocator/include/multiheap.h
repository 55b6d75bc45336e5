/*
 * multiheap: a per-core slab allocator (a userspace port of the Theseus OS
 * per-core heaps). Use it as a drop-in malloc (LD_PRELOAD=libmultiheap.so, or
 * link it), or call the mh_-prefixed functions below directly.
 *
 * Environment (read once, at the first allocation):
 *   MULTIHEAP_KEY=cpu|thread|global   which heap a thread uses (default cpu)
 *   MULTIHEAP_STATS=1                 print the statistics to stderr at exit
 *   MULTIHEAP_SEED=1                  the seed design: every operation under the owning
 *                                     heap's lock, no front cache, no remote batching, no
 *                                     return to the OS; the switches below override it
 *   MULTIHEAP_CACHE=0|1               per-CPU front cache on restartable sequences (default
 *                                     1; only with MULTIHEAP_KEY=cpu and a kernel/glibc
 *                                     with rseq, else off)
 *   MULTIHEAP_REMOTE_BATCH=0|1        frees of another heap's objects go through the front
 *                                     cache and reach their owner in batches (default 1);
 *                                     0: one lock of the owner heap per such free
 *   MULTIHEAP_PURGE_MS=N|off          empty object pages go back to the OS once empty for
 *                                     N ms (default 250), at once past a retained amount
 *   MULTIHEAP_REMOTE_BINS=0|1         such frees go to the freeing CPU's remote bins, which
 *                                     only flush to the owners (default 1); 0: to its
 *                                     bins that malloc pops (faster reuse; passive false
 *                                     sharing). Only with remote batching
 *   MULTIHEAP_LARGE_CACHE=0|1         keep freed large blocks mapped for reuse (default 1)
 *   MULTIHEAP_CHECK=0|1               catch a double free of a small object at the second
 *                                     free (default 0: only a second free in a row on one
 *                                     CPU at once, others when the object goes back to its
 *                                     page, after it may have been handed out twice); it
 *                                     writes a mark into each freed object
 */
#ifndef MULTIHEAP_H
#define MULTIHEAP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the malloc family: same contracts as the C / POSIX / glibc functions ---- */
void  *mh_malloc(size_t size);
void   mh_free(void *ptr);
void  *mh_calloc(size_t nmemb, size_t size);
void  *mh_realloc(void *ptr, size_t size);
void  *mh_reallocarray(void *ptr, size_t nmemb, size_t size);
void  *mh_aligned_alloc(size_t alignment, size_t size);
int    mh_posix_memalign(void **out, size_t alignment, size_t size);
void  *mh_memalign(size_t alignment, size_t size);
void  *mh_valloc(size_t size);
void  *mh_pvalloc(size_t size);
size_t mh_malloc_usable_size(void *ptr);

/* "multiheap 0.1.0" plus the build's options; a static string. */
const char *mh_version(void);
/* The run-time options in force, as "key=cpu cache=rseq remote_batch=on purge_ms=250
   large_cache=on check=off" (cache=off(reason) when the front cache is not running); a
   static string. Initialises the library if nothing has allocated yet. */
const char *mh_options(void);

/* Requests above this many bytes are large objects (one mapping each), and so are
   requests above 9344 bytes aligned to more than 16, and those above 9344 bytes that
   find the small objects' address range full. */
#define MH_SMALL_MAX_BYTES 18704

/* ---- statistics: counters kept per heap, read without allocating ---- */

#define MH_MAX_CLASSES 64

typedef struct mh_class_stats {
    uint32_t object_size;       /* bytes per object in this size class */
    uint32_t objects_per_page;  /* slots in one unit: an 8 KiB page, a 64 KiB slab from
                                   1 KiB, a 128 KiB big slab above 9344 bytes */
    uint64_t pages_owned;       /* units (8 KiB pages; 64 or 128 KiB slabs from 1 KiB) of
                                   this class in the heap (empty + partial + full) */
    uint64_t pages_empty;       /* of those, units with no live object */
    uint64_t pages_full;        /* of those, units with no free slot */
} mh_class_stats;

typedef struct mh_heap_stats {
    uint64_t allocs;            /* small allocations served by this heap */
    uint64_t frees;             /* small frees returned to this heap, from any CPU */
    uint64_t remote_frees;      /* of those, frees that ran on a CPU other than the owner's */
    uint64_t pages_stolen;      /* empty pages this heap took from other heaps */
    uint64_t pages_given;       /* empty pages other heaps took from this heap */
    uint64_t os_grow_calls;     /* times this heap grew from the OS */
    uint64_t os_grow_bytes;     /* bytes it got that way */
    uint64_t purge_calls;       /* madvise calls that gave empty pages back to the OS */
    uint64_t purge_bytes;       /* bytes given back that way */
    uint64_t cache_refills;     /* batches of objects this heap handed to a front cache */
    uint64_t cache_flushes;     /* batches of frees it took back from front caches */
    uint32_t nclasses;          /* entries used in cls[] */
    mh_class_stats cls[MH_MAX_CLASSES];
    /* Added after the rest, so that a reader built against this header and an older
       library finds the older fields where they were. */
    uint64_t cached_bytes;      /* bytes of the objects now in the front cache of the CPU
                                   of the same number (cpu key), free but out of the pages */
    uint64_t stashed_bytes;     /* bytes of the objects now in this heap's stashes */
} mh_heap_stats;

typedef struct mh_stats {
    const char *key_policy;     /* "cpu", "thread" or "global" */
    uint32_t nheaps;            /* heap slots (possible CPUs for the cpu key) */
    uint32_t nheaps_active;     /* heaps that have allocated at least once */
    uint32_t ncpus;             /* possible CPUs: rows of the remote-free matrix */
    uint32_t nclasses;          /* small size classes */
    uint64_t allocs, frees, remote_frees;          /* small objects, all heaps */
    uint64_t pages_stolen;                         /* all heaps */
    uint64_t os_grow_calls, os_grow_bytes;         /* small-object growth, all heaps */
    uint64_t purge_calls, purge_bytes;             /* empty pages given back, all heaps */
    uint64_t cache_refills, cache_flushes;         /* front-cache batches, all heaps */
    uint64_t large_allocs, large_frees;            /* blocks mapped one by one (see
                                                      MH_SMALL_MAX_BYTES) */
    uint64_t large_live, large_live_bytes;         /* large blocks live now */
    uint64_t large_os_calls;                       /* mmap/munmap/mremap made for large blocks */
    /* Free small objects held back from their pages now, in bytes: in the CPUs' front
       caches and in the heaps' stashes (what keeps their pages resident). */
    uint64_t cached_bytes, stashed_bytes;
} mh_stats;

/* 0 on success, -1 before the first allocation or for a heap out of range. */
int mh_stats_get(mh_stats *out);
int mh_heap_stats_get(unsigned heap, mh_heap_stats *out);
/* Frees that ran on CPU `cpu` of objects owned by heap `heap` (cpu != owner). */
uint64_t mh_remote_frees(unsigned cpu, unsigned heap);
/* 1 + the highest CPU that counted a remote free, 0 for none: the rows of the matrix
   above worth reading where a kernel lists thousands of possible CPUs. */
unsigned mh_remote_free_cpus(void);
/* Write the human-readable statistics report (what MULTIHEAP_STATS=1 prints) to fd. */
void mh_stats_print(int fd);

#ifdef __cplusplus
}
#endif
#endif /* MULTIHEAP_H */
