/*
 * Statistics: per-heap counters (kept by heap.c under each heap's lock, read here
 * with relaxed atomic loads, so reading never blocks an allocation), the CPU x heap
 * matrix of remote frees, and the report, formatted without stdio or malloc.
 */
#include <errno.h>
#include <unistd.h>

#include "mh_internal.h"

/* ---- the remote-free matrix: ncpus rows x nheaps columns, mapped on first need ------ */

/* A CPU's row starts on a cache line of its own: with rows of 2 heaps, two CPUs' flushes
   added to one line, which moved between them at every flush (cross-core-free). */
static size_t matrix_row_words(void) {
    size_t per_line = MH_CACHE_LINE / sizeof(uint64_t);
    return (mh_global.nheaps + per_line - 1) / per_line * per_line;
}

/* After the rows, a bit per CPU that counted a remote free: the report reads those rows
   alone, where reading every row of every possible CPU took 43 ms with 4096 of them and
   faulted 260 KiB of page tables in (a review). A CPU's bit is written once. */
static uint64_t *counted_cpus(uint64_t *m) {
    return m + (size_t)mh_global.ncpus * matrix_row_words();
}

/* Called from free, which keeps errno: a failed mapping only leaves the matrix off. */
void mh_remote_matrix_ensure(void) {
    if (__atomic_load_n(&mh_global.remote_matrix, __ATOMIC_ACQUIRE)) return;
    size_t bytes = (mh_global.ncpus * matrix_row_words() + (mh_global.ncpus + 63) / 64) * sizeof(uint64_t);
    int saved = errno;
    uint64_t *m = mh_os_map_sparse(bytes), *none = NULL;
    errno = saved;
    if (m && !__atomic_compare_exchange_n(&mh_global.remote_matrix, &none, m, false,
                                          __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        mh_os_unmap(m, bytes);
}

/* An atomic add: two threads of one CPU may be counting frees to one heap, each under
   the lock of a different stash. The row's lines are the CPU's own, so they rarely move. */
void mh_count_remote_free(unsigned owner_heap, int cpu, uint64_t n) {
    uint64_t *m = __atomic_load_n(&mh_global.remote_matrix, __ATOMIC_ACQUIRE);
    if (!m || (unsigned)cpu >= mh_global.ncpus) return;
    __atomic_fetch_add(&m[(size_t)cpu * matrix_row_words() + owner_heap], n, __ATOMIC_RELAXED);
    uint64_t *word = &counted_cpus(m)[cpu / 64], bit = (uint64_t)1 << (cpu % 64);
    if (!(__atomic_load_n(word, __ATOMIC_RELAXED) & bit)) __atomic_fetch_or(word, bit, __ATOMIC_RELEASE);
}

MH_API unsigned mh_remote_free_cpus(void) {
    uint64_t *m = __atomic_load_n(&mh_global.remote_matrix, __ATOMIC_ACQUIRE);
    for (unsigned w = m ? (mh_global.ncpus + 63) / 64 : 0; w-- > 0;) {
        uint64_t cpus = __atomic_load_n(&counted_cpus(m)[w], __ATOMIC_ACQUIRE);
        if (cpus) return w * 64 + 64 - (unsigned)__builtin_clzll(cpus);
    }
    return 0;
}

MH_API uint64_t mh_remote_frees(unsigned cpu, unsigned heap) {
    uint64_t *m = __atomic_load_n(&mh_global.remote_matrix, __ATOMIC_ACQUIRE);
    if (!m || cpu >= mh_global.ncpus || heap >= mh_global.nheaps) return 0;
    return MH_STAT_READ(m[(size_t)cpu * matrix_row_words() + heap]);
}

/* ---- reading the counters ------------------------------------------------------------ */

static bool ready(void) {
    return __atomic_load_n(&mh_global.initialised, __ATOMIC_ACQUIRE);
}

MH_API int mh_heap_stats_get(unsigned heap, mh_heap_stats *out) {
    if (!ready() || heap >= mh_global.nheaps) return -1;
    mh_heap *h = &mh_global.heaps[heap];
    /* With the cpu key, heap i and CPU i's front cache serve the same CPU. */
    mh_cache_tally t = mh_cache_tally_of(heap);
    mh_heap_counters c = mh_heap_counters_read(h);
    *out = (mh_heap_stats){
        .allocs = c.allocs + t.allocs,
        .frees = c.frees + t.frees,
        .remote_frees = c.remote_frees,
        .pages_stolen = c.pages_stolen,
        .pages_given = c.pages_given,
        .os_grow_calls = c.os_grow_calls,
        .os_grow_bytes = c.os_grow_bytes,
        .purge_calls = c.purge_calls,
        .purge_bytes = c.purge_bytes,
        .cache_refills = c.cache_refills,
        .cache_flushes = c.cache_flushes,
        .cached_bytes = t.bytes,
        .stashed_bytes = mh_heap_stashed_bytes(h),
        .nclasses = MH_NCLASSES,
    };
    for (unsigned c = 0; c < MH_NCLASSES; c++) {
        mh_class_stats *cs = &out->cls[c];
        cs->object_size = (uint32_t)mh_class_size(c);
        cs->objects_per_page = mh_class_objects(c);
        cs->pages_empty = MH_STAT_READ(h->cls[c].list[MH_LIST_EMPTY].count);
        cs->pages_full = MH_STAT_READ(h->cls[c].list[MH_LIST_FULL].count);
        cs->pages_owned = cs->pages_empty + cs->pages_full +
                          MH_STAT_READ(h->cls[c].list[MH_LIST_PARTIAL].count);
    }
    return 0;
}

/* Every counter once, each CPU's and heap's in turn. */
static void read_all(mh_stats *out) {
    *out = (mh_stats){
        .key_policy = mh_key_name(mh_global.key_policy),
        .nheaps = mh_global.nheaps,
        .nheaps_active = mh_active_heaps(),
        .ncpus = mh_global.ncpus,
        .nclasses = MH_NCLASSES,
    };
    for (unsigned i = 0; i < out->nheaps_active; i++) {
        mh_heap_counters c = mh_heap_counters_read(mh_active_heap(i));
        out->allocs += c.allocs;
        out->frees += c.frees;
        out->remote_frees += c.remote_frees;
        out->pages_stolen += c.pages_stolen;
        out->os_grow_calls += c.os_grow_calls;
        out->os_grow_bytes += c.os_grow_bytes;
        out->purge_calls += c.purge_calls;
        out->purge_bytes += c.purge_bytes;
        out->cache_refills += c.cache_refills;
        out->cache_flushes += c.cache_flushes;
        out->stashed_bytes += mh_heap_stashed_bytes(mh_active_heap(i));
    }
    for (unsigned cpu = 0; cpu < mh_global.ncpus; cpu++) {
        mh_cache_tally t = mh_cache_tally_of(cpu);
        out->allocs += t.allocs;
        out->frees += t.frees;
        out->cached_bytes += t.bytes;
    }
    mh_large_stats(out);
}

/* The counters are read one CPU and one heap at a time while threads run: an object
   allocated on a CPU already read and freed on one read later counted as a free without
   an alloc, so that frees passed allocs and large_live wrapped round (a review saw
   2^64 - 27950). So every free count is read first, then every alloc count: an object's
   alloc is counted before its free, and on x86-64, whose loads are not reordered and whose
   stores become visible in one order to all, a reader that has seen a free sees its alloc.
   The live figures are clamped at zero all the same. */
MH_API int mh_stats_get(mh_stats *out) {
    if (!ready()) return -1;
    mh_stats first;
    read_all(&first);
    read_all(out);
    out->frees = first.frees;
    out->large_frees = first.large_frees;
    out->large_live = out->large_allocs > out->large_frees ? out->large_allocs - out->large_frees : 0;
    return 0;
}

/* ---- the report: a stack buffer, integer formatting of our own, write(2) ------------ */

typedef struct report {
    int fd;
    size_t len;
    char buf[2048];
} report;

static void flush(report *r) {
    for (size_t done = 0; done < r->len;) {
        ssize_t n = write(r->fd, r->buf + done, r->len - done);
        if (n <= 0) break;
        done += (size_t)n;
    }
    r->len = 0;
}

static void put(report *r, const char *s) {
    for (; *s; s++) {
        if (r->len == sizeof r->buf) flush(r);
        r->buf[r->len++] = *s;
    }
}

static void put_u64(report *r, uint64_t v) {
    char digits[21];
    int i = sizeof digits - 1;
    digits[i] = 0;
    do digits[--i] = (char)('0' + v % 10);
    while (v /= 10);
    put(r, digits + i);
}

/* " key=value" */
static void put_kv(report *r, const char *key, uint64_t v) {
    put(r, " ");
    put(r, key);
    put(r, "=");
    put_u64(r, v);
}

static void put_heap(report *r, unsigned i, const mh_heap_stats *hs) {
    put(r, "multiheap: heap ");
    put_u64(r, i);
    put_kv(r, "allocs", hs->allocs);
    put_kv(r, "frees", hs->frees);
    put_kv(r, "remote_frees", hs->remote_frees);
    put_kv(r, "stolen", hs->pages_stolen);
    put_kv(r, "given", hs->pages_given);
    put_kv(r, "grow_calls", hs->os_grow_calls);
    put_kv(r, "grow_bytes", hs->os_grow_bytes);
    put_kv(r, "purge_calls", hs->purge_calls);
    put_kv(r, "purge_bytes", hs->purge_bytes);
    put_kv(r, "cache_refills", hs->cache_refills);
    put_kv(r, "cache_flushes", hs->cache_flushes);
    put_kv(r, "cached_bytes", hs->cached_bytes);
    put_kv(r, "stashed_bytes", hs->stashed_bytes);
    put(r, "\n");
    for (unsigned c = 0; c < hs->nclasses; c++) {
        const mh_class_stats *cs = &hs->cls[c];
        if (!cs->pages_owned) continue;
        put(r, "multiheap:   class");
        put_kv(r, "size", cs->object_size);
        put_kv(r, "pages", cs->pages_owned);
        put_kv(r, "empty", cs->pages_empty);
        put_kv(r, "full", cs->pages_full);
        put(r, "\n");
    }
}

MH_API void mh_stats_print(int fd) {
    report r = {.fd = fd};
    mh_stats s;
    if (mh_stats_get(&s) != 0) {
        put(&r, "multiheap: no allocation yet\n");
        flush(&r);
        return;
    }
    put(&r, mh_version());
    put(&r, "\nmultiheap: ");
    put(&r, mh_global.options);
    put_kv(&r, "heaps", s.nheaps);
    put_kv(&r, "active", s.nheaps_active);
    put_kv(&r, "cpus", s.ncpus);
    put_kv(&r, "classes", s.nclasses);
    put(&r, "\nmultiheap: small");
    put_kv(&r, "allocs", s.allocs);
    put_kv(&r, "frees", s.frees);
    put_kv(&r, "remote_frees", s.remote_frees);
    put_kv(&r, "pages_stolen", s.pages_stolen);
    put_kv(&r, "os_grow_calls", s.os_grow_calls);
    put_kv(&r, "os_grow_bytes", s.os_grow_bytes);
    put_kv(&r, "purge_calls", s.purge_calls);
    put_kv(&r, "purge_bytes", s.purge_bytes);
    put_kv(&r, "cache_refills", s.cache_refills);
    put_kv(&r, "cache_flushes", s.cache_flushes);
    put_kv(&r, "cached_bytes", s.cached_bytes);
    put_kv(&r, "stashed_bytes", s.stashed_bytes);
    /* Not in mh_stats: a program built against a shorter struct would be overrun. */
    put_kv(&r, "range_claimed_bytes", __atomic_load_n(&mh_global.small_used, __ATOMIC_RELAXED));
    put_kv(&r, "range_purged_bytes", (uint64_t)mh_os_purged_pages() * MH_PAGE_SIZE);
    put(&r, "\nmultiheap: large");
    put_kv(&r, "allocs", s.large_allocs);
    put_kv(&r, "frees", s.large_frees);
    put_kv(&r, "live", s.large_live);
    put_kv(&r, "live_bytes", s.large_live_bytes);
    put_kv(&r, "os_calls", s.large_os_calls);
    put(&r, "\n");
    mh_heap_stats hs;
    for (unsigned i = 0; i < s.nheaps_active; i++) {
        unsigned id = mh_global.active_ids[i];
        if (mh_heap_stats_get(id, &hs) == 0) put_heap(&r, id, &hs);
    }
    uint64_t *m = __atomic_load_n(&mh_global.remote_matrix, __ATOMIC_ACQUIRE);
    for (unsigned w = 0; m && w < (s.ncpus + 63) / 64; w++)
        for (uint64_t cpus = __atomic_load_n(&counted_cpus(m)[w], __ATOMIC_ACQUIRE); cpus; cpus &= cpus - 1) {
            unsigned cpu = w * 64 + (unsigned)__builtin_ctzll(cpus);
            for (unsigned heap = 0; heap < s.nheaps; heap++) {
                uint64_t n = mh_remote_frees(cpu, heap);
                if (!n) continue;
                put(&r, "multiheap: remote frees");
                put_kv(&r, "cpu", cpu);
                put_kv(&r, "heap", heap);
                put_kv(&r, "count", n);
                put(&r, "\n");
            }
        }
    flush(&r);
}
