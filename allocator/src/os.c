/*
 * Everything that talks to the kernel: the reserved range for object pages, mappings
 * for large blocks, the possible-CPU count, and the fatal-error line. No stdio here:
 * all of it runs inside malloc.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "mh_internal.h"

/* Room for 256 CPUs x 256 MiB of small objects; the kernel charges nothing for it. */
#define MH_RESERVE_BYTES ((size_t)64 << 30)
#define MH_RESERVE_MIN   ((size_t)16 << 20)

/* Under an address-space limit (ulimit -v) the range takes at most half of it, so that
   large blocks, thread stacks and the program's own mappings keep the rest: with the
   largest range that fitted, a 2 GB limit left a 1.2 GB malloc no room. */
static size_t reserve_limit(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return MH_RESERVE_BYTES;
    return (size_t)rl.rlim_cur / 2;
}

bool mh_os_reserve_small(void) {
    /* Over-reserve by one big slab so the range can start aligned to every unit. Where
       the address space is limited, settle for less. */
    size_t limit = reserve_limit();
    for (size_t size = MH_RESERVE_BYTES; size >= MH_RESERVE_MIN; size /= 2) {
        if (size > limit) continue;
        void *p = mmap(NULL, size + MH_BIG_SLAB_SIZE, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) continue;
        /* The two per-page maps: untouched, so they cost memory only where pages are used. */
        size_t pages = size / MH_PAGE_SIZE;
        void *map = mmap(NULL, MH_PAGE_CLASS_SKEW + pages * (sizeof(uint32_t) + sizeof(uint16_t)),
                         PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (map == MAP_FAILED) {   /* out of address space (ulimit -v): try a smaller range */
            munmap(p, size + MH_BIG_SLAB_SIZE);
            continue;
        }
        mh_global.small_base =
            (char *)(((uintptr_t)p + MH_BIG_SLAB_SIZE - 1) & ~(uintptr_t)(MH_BIG_SLAB_SIZE - 1));
        mh_global.small_size = size;
        mh_global.page_class = (uint32_t *)((char *)map + MH_PAGE_CLASS_SKEW);
        mh_global.page_owner = (uint16_t *)(mh_global.page_class + pages);
        return true;
    }
    return false;
}

/*
 * Purged object pages: runs of the reserved range given back with MADV_DONTNEED. They
 * stay mapped read-write (the kernel refills them with zeros on touch), so growth takes
 * them before fresh range. Sorted by address, neighbours merged; a full table refuses
 * a purge rather than lose track of the pages. Room for a badly fragmented heap: 4096
 * runs filled up when a program freed all but one object on every other page (20000
 * separate empty pages), which then stayed resident. In .bss: only the entries in use
 * cost memory.
 */
#define MH_PURGED_RUNS 65536

typedef struct purged_run {
    char *start;
    size_t npages;
} purged_run;

static struct {
    mh_lock lock;
    unsigned n;
    size_t pages;                      /* in the table (atomic: the statistics read it) */
    purged_run run[MH_PURGED_RUNS];
} purged;

/* purged.n changes under the lock and is read without it (mh_os_purge_room, on the heaps'
   slow paths): atomic stores and loads. */
static void purged_count(int delta) {
    __atomic_store_n(&purged.n, purged.n + (unsigned)delta, __ATOMIC_RELAXED);
}

static void purged_add_pages(size_t delta) {
    __atomic_store_n(&purged.pages, purged.pages + delta, __ATOMIC_RELAXED);
}

size_t mh_os_purged_pages(void) {
    return __atomic_load_n(&purged.pages, __ATOMIC_RELAXED);
}

/* The first run that starts at or after p (binary search: the table may be long). */
static unsigned purged_position(const char *p) {
    unsigned lo = 0, hi = purged.n;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (purged.run[mid].start < p) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Inserts [p, p + npages) keeping the table sorted and merged; false when full. */
static bool purged_insert(char *p, size_t npages) {
    unsigned i = purged_position(p);
    bool joins_prev = i > 0 && purged.run[i - 1].start + purged.run[i - 1].npages * MH_PAGE_SIZE == p;
    bool joins_next = i < purged.n && p + npages * MH_PAGE_SIZE == purged.run[i].start;
    if (joins_prev && joins_next) {
        purged.run[i - 1].npages += npages + purged.run[i].npages;
        purged_count(-1);
        memmove(&purged.run[i], &purged.run[i + 1], (purged.n - i) * sizeof(purged_run));
    } else if (joins_prev) {
        purged.run[i - 1].npages += npages;
    } else if (joins_next) {
        purged.run[i].start = p;
        purged.run[i].npages += npages;
    } else {
        if (purged.n == MH_PURGED_RUNS) return false;
        memmove(&purged.run[i + 1], &purged.run[i], (purged.n - i) * sizeof(purged_run));
        purged_count(1);
        purged.run[i] = (purged_run){p, npages};
    }
    return true;
}

/* Up to *npages pages from the first purged run that holds a whole unit of unit_pages
   pages aligned to its size (any page otherwise: short runs must be reused too, or they
   would pile up), from its first aligned unit on; *npages becomes how many, a multiple
   of unit_pages; NULL when there is none. The pages before that unit stay in the table,
   and so do those after what was taken: a run that would need one more entry for them
   is passed over while the table is full. */
static char *purged_take(size_t *npages, unsigned unit_pages) {
    size_t unit = (size_t)unit_pages * MH_PAGE_SIZE;
    for (unsigned i = 0; i < purged.n; i++) {
        purged_run *r = &purged.run[i];
        size_t off = (size_t)(r->start - mh_global.small_base);
        size_t head = (((off + unit - 1) & ~(unit - 1)) - off) / MH_PAGE_SIZE;
        if (r->npages < head + unit_pages) continue;
        size_t n = r->npages - head < *npages ? r->npages - head : *npages;
        n -= n % unit_pages;
        size_t tail = r->npages - head - n;
        if (head && tail && purged.n == MH_PURGED_RUNS) continue;
        char *p = r->start + head * MH_PAGE_SIZE;
        if (head) {
            r->npages = head;
            if (tail) purged_insert(p + n * MH_PAGE_SIZE, tail);
        } else if (tail) {
            r->start += n * MH_PAGE_SIZE;
            r->npages = tail;
        } else {
            purged_count(-1);
            memmove(r, r + 1, (purged.n - i) * sizeof(purged_run));
        }
        *npages = n;
        purged_add_pages(-n);
        return p;
    }
    return NULL;
}

bool mh_os_release(void *p, size_t bytes) {
    int saved = errno;
    bool ok = madvise(p, bytes, MADV_DONTNEED) == 0;
    errno = saved;
    return ok;
}

/* Without the lock: every heap's slow path asks while it holds empty pages, and one
   lock for all of them would be a line every CPU fights over in a storm of frees. */
bool mh_os_purge_room(void) {
    return __atomic_load_n(&purged.n, __ATOMIC_RELAXED) < MH_PURGED_RUNS;
}

/* The pages are recorded only after madvise: once in the table, growth may take and
   format them. A table that fills up meanwhile leaves the run unrecorded: zeroed,
   mapped, costing address space only. */
bool mh_os_purge_pages(char *p, size_t npages) {
    if (!mh_os_purge_room()) return false;
    if (!mh_os_release(p, npages * MH_PAGE_SIZE)) return false;
    mh_lock_acquire(&purged.lock);
    if (purged_insert(p, npages)) purged_add_pages(npages);
    mh_lock_release(&purged.lock);
    return true;
}

/*
 * The writable part of the range: [small_base, small_base + committed). It grows by
 * MH_COMMIT_STEP at a time because every mprotect takes the address space's lock for
 * writing and flushes TLBs on every CPU running the process: growing 1 MiB at a time,
 * a storm of allocating threads spent more time waiting on that lock than faulting
 * pages in. The step is still small next to the reservation, so a system with strict
 * overcommit is charged little ahead of use.
 */
#define MH_COMMIT_STEP ((size_t)16 << 20)

static struct {
    mh_lock lock;
    size_t bytes;                      /* writable from small_base (atomic) */
} committed;

/* Makes [0, end) of the range writable; false if the kernel refuses. */
static bool commit_to(size_t end) {
    if (end <= __atomic_load_n(&committed.bytes, __ATOMIC_ACQUIRE)) return true;
    mh_lock_acquire(&committed.lock);
    size_t have = committed.bytes, want = (end + MH_COMMIT_STEP - 1) & ~(MH_COMMIT_STEP - 1);
    if (want > mh_global.small_size) want = mh_global.small_size;
    bool ok = end <= have ||
              mprotect(mh_global.small_base + have, want - have, PROT_READ | PROT_WRITE) == 0 ||
              mprotect(mh_global.small_base + have, (want = end) - have,
                       PROT_READ | PROT_WRITE) == 0;
    if (ok && want > have) __atomic_store_n(&committed.bytes, want, __ATOMIC_RELEASE);
    mh_lock_release(&committed.lock);
    return ok;
}

void mh_os_lock(void) {
    mh_lock_acquire(&committed.lock);
    mh_lock_acquire(&purged.lock);
}

void mh_os_unlock(bool child) {
    if (child) {
        mh_lock_reset(&purged.lock);
        mh_lock_reset(&committed.lock);
    } else {
        mh_lock_release(&purged.lock);
        mh_lock_release(&committed.lock);
    }
}

bool mh_os_commit_ahead(size_t bytes) {
    size_t end = __atomic_load_n(&mh_global.small_used, __ATOMIC_RELAXED) + bytes;
    if (end > mh_global.small_size) {
        errno = ENOMEM;
        return false;
    }
    return commit_to(end);
}

char *mh_os_claim_pages(size_t *npages, unsigned unit_pages, mh_claim *how) {
    mh_lock_acquire(&purged.lock);
    char *p = purged_take(npages, unit_pages);
    mh_lock_release(&purged.lock);
    if (p) {
        *how = MH_CLAIM_PURGED;
        return p;
    }
    size_t bytes = *npages * MH_PAGE_SIZE;
    size_t off = __atomic_load_n(&mh_global.small_used, __ATOMIC_RELAXED);
    /* Only what is writable is claimed, so small_used never covers pages that are not. */
    do {
        if (off + bytes > mh_global.small_size) {
            *how = MH_CLAIM_EXHAUSTED;
            return NULL;
        }
        if (off + bytes > __atomic_load_n(&committed.bytes, __ATOMIC_ACQUIRE)) {
            *how = MH_CLAIM_UNCOMMITTED;
            return NULL;
        }
    } while (!__atomic_compare_exchange_n(&mh_global.small_used, &off, off + bytes, true,
                                          __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    *how = MH_CLAIM_FRESH;
    return mh_global.small_base + off;
}

uint32_t mh_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

static void *map_with(size_t size, int flags) {
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void *mh_os_map(size_t size) {
    return map_with(size, 0);
}

void *mh_os_map_sparse(size_t size) {
    return map_with(size, MAP_NORESERVE);
}

/* An munmap that would split a mapping fails (ENOMEM) once the process has as many
   mappings as vm.max_map_count allows: the memory at least goes back (MADV_DONTNEED
   splits nothing), and only the address range stays behind. It used to stay resident. */
void mh_os_unmap(void *p, size_t size) {
    int saved = errno;
    if (munmap(p, size) != 0) madvise(p, size, MADV_DONTNEED);
    errno = saved;
}

/* "0-255" or "0,2-5,8": the highest CPU number plus one. */
static unsigned parse_cpu_list(const char *s) {
    unsigned highest = 0, n = 0;
    bool in_number = false;
    for (; *s; s++) {
        if (*s >= '0' && *s <= '9') {
            n = n * 10 + (unsigned)(*s - '0');
            in_number = true;
        } else {
            if (in_number && n > highest) highest = n;
            n = 0;
            in_number = false;
        }
    }
    if (in_number && n > highest) highest = n;
    return highest + 1;
}

unsigned mh_os_possible_cpus(void) {
    char buf[256];
    int fd = open("/sys/devices/system/cpu/possible", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    if (fd >= 0) close(fd);
    if (n > 0) {
        buf[n] = 0;
        return parse_cpu_list(buf);
    }
    long conf = sysconf(_SC_NPROCESSORS_CONF);
    return conf > 0 ? (unsigned)conf : 1;
}

MH_TLS const void *mh_realloc_freeing;

void mh_fatal(const char *what, const void *p) {
    char line[256];
    size_t n = 0;
    for (const char *s = "multiheap: "; *s; s++) line[n++] = *s;
    if (p && p == mh_realloc_freeing)
        for (const char *s = "realloc of a freed pointer, found by its free: "; *s; s++) line[n++] = *s;
    for (const char *s = what; *s && n < sizeof line - 24; s++) line[n++] = *s;
    if (p) {   /* the start-up failures have no pointer to name */
        line[n++] = ' ';
        line[n++] = '0';
        line[n++] = 'x';
        for (int shift = 60; shift >= 0; shift -= 4)
            line[n++] = "0123456789abcdef"[((uintptr_t)p >> shift) & 15];
    }
    line[n++] = '\n';
    ssize_t unused = write(STDERR_FILENO, line, n);
    (void)unused;
    abort();
}
