/* A row of a CPU's front cache starts small and grows with use (cache.c): the first
   malloc of a class fetches a batch of a small row, not half of the largest one (which
   for 208-byte objects was 157 objects, 32 KiB, for one malloc); rounds of 2000 mallocs
   and frees then take the row to its maximum, and never past it. A class never used on
   the CPU leaves its row untouched: the cache's resident pages are those of the rows
   in use (all 58 rows' pages were written at the CPU's first slow path, and the
   purger's tally, which may run meanwhile, read every row). A row of large objects holds
   a few dozen of them all the same, and a row that rounds of bursts refill and flush
   each time grows past its maximum. Pinned to one CPU.
   Skipped (77) where the cache cannot run. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>

#include "mh_internal.h"
#include "mhunit.h"

#define SIZE   200
#define ROUNDS 3
#define N      2000
#define BURST     64   /* blocks a round of a burst allocates */
#define BURST_MAX 96

static uint32_t row_cap(int cpu, unsigned cls) {
    return __atomic_load_n(&mh_cache_of_cpu((unsigned)cpu)->row[cls].cap, __ATOMIC_RELAXED);
}

static uint64_t slow_paths(void) {
    mh_stats s = stats_now();
    return s.cache_refills + s.cache_flushes;
}

/* Rounds of `blocks` mallocs of size bytes, then `pairs` mallocs each freed at once, then
   frees of the blocks in the order they came; the refills and flushes of the rounds from
   `counted` on. */
static uint64_t rounds_of(size_t size, int blocks, int pairs, int rounds, int counted) {
    static void *p[BURST_MAX];
    uint64_t slow = 0;
    for (int r = 0; r < rounds; r++) {
        uint64_t before = slow_paths();
        for (int i = 0; i < blocks; i++) CHECK((p[i] = malloc(size)) != NULL);
        for (int i = 0; i < pairs; i++) {
            void *volatile q = malloc(size);
            CHECK(q != NULL);
            free(q);
        }
        for (int i = 0; i < blocks; i++) free(p[i]);
        if (r >= counted) slow += slow_paths() - before;
    }
    return slow;
}

/* A row's capacity after rounds of size bytes, printed with the two maxima. */
static uint32_t cap_after(int cpu, const char *what, size_t size, uint64_t slow) {
    unsigned cls = mh_size_class(size);
    uint32_t cap = row_cap(cpu, cls);
    printf("cache_growth: %s of %zu bytes: row capacity %u (maximum %u, burst maximum %u), "
           "%" PRIu64 " slow paths in the last rounds\n",
           what, size, cap, mh_cache_capacity(cls), mh_cache_burst_capacity(cls), slow);
    return cap;
}

int main(void) {
    free(malloc(1));   /* initialises the library, for mh_options() */
    if (!strstr(mh_options(), "cache=rseq")) {
        printf("cache_growth: skipped, the front cache is off here (%s)\n", mh_options());
        return 77;
    }
    int cpu = pin_to_this_cpu();

    unsigned cls = mh_size_class(SIZE), max = mh_cache_capacity(cls);
    const mh_cache_row *row = &mh_cache_of_cpu((unsigned)cpu)->row[cls];
    CHECK(max >= 8 * MH_CACHE_START_SLOTS);
    CHECK(__atomic_load_n(&row->count, __ATOMIC_RELAXED) == 0);

    void *first = malloc(SIZE);
    uint32_t cap = __atomic_load_n(&row->cap, __ATOMIC_RELAXED),
             count = __atomic_load_n(&row->count, __ATOMIC_RELAXED);
    printf("cache_growth: after the first malloc of %d bytes: row capacity %u (max %u), %u cached\n",
           SIZE, cap, max, count);
    CHECK(cap == MH_CACHE_START_SLOTS && count < cap);   /* it grows from its next slow path on */

    static void *p[N];
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < N; i++) CHECK((p[i] = malloc(SIZE)) != NULL);
        for (int i = 0; i < N; i++) free(p[i]);
        cap = __atomic_load_n(&row->cap, __ATOMIC_RELAXED);
        count = __atomic_load_n(&row->count, __ATOMIC_RELAXED);
        printf("cache_growth: after round %d: row capacity %u, %u cached\n", r + 1, cap, count);
        CHECK(cap <= max && count <= cap);
    }
    CHECK(cap == max);
    free(first);

    /* A row of objects of several KiB holds a few dozen of them: rounds of 16 mallocs
       and frees of 8192 or 18704 bytes (half a row of 32, so the refills and flushes of
       half a row settle on a count that serves a whole round), once the row has grown,
       make no slow path (with 8 objects a row, each round made 4 or more). */
    static const size_t big[] = {8192, 18704};
    for (int b = 0; b < 2; b++) {
        uint64_t slow = rounds_of(big[b], 16, 0, 4 + 30, 4);   /* the first 4 grow the row */
        cap_after(cpu, "rounds of 16 blocks", big[b], slow);
        CHECK(slow == 0);
    }

    /* A row seesaws when every round allocates and frees more than it holds: rounds of
       64 blocks of 1536 or 3072 bytes, whose rows hold 42 and 32, refilled and flushed
       in every round. It then grows past its maximum until a round fits. The rounds of
       2000 above, longer than any row, left theirs at its maximum. */
    static const size_t burst[] = {1536, 3072};
    uint64_t slow;
    for (int b = 0; b < 2; b++) {
        unsigned bcls = mh_size_class(burst[b]);
        slow = rounds_of(burst[b], BURST, 0, 20 + 30, 20);
        cap = cap_after(cpu, "rounds of 64 blocks", burst[b], slow);
        CHECK(slow == 0 && cap > mh_cache_capacity(bcls));
        CHECK(cap <= mh_cache_burst_capacity(bcls));
    }
    /* ... and no further than its burst maximum, which MH_CACHE_BURST_BYTES bounds: 56
       blocks of 18704 bytes, fewer than a round needs. */
    unsigned big_cls = mh_size_class(18704);
    slow = rounds_of(18704, BURST, 0, 20 + 10, 20);
    cap = cap_after(cpu, "rounds of 64 blocks", 18704, slow);
    CHECK(cap == mh_cache_burst_capacity(big_cls) && cap > mh_cache_capacity(big_cls));
    CHECK(cap < BURST && slow > 0);

    /* Not a seesaw: rounds of 96 blocks of a row of 32 make runs of 6 refills, then of 6
       flushes; and rounds of 64 blocks with 64 pairs of a malloc and a free between the
       mallocs and the frees (more than two rows' worth of the row's operations between
       its refills and its flushes) turn too late. Both rows stay at their maximum. */
    slow = rounds_of(4096, BURST_MAX, 0, 20 + 10, 20);
    cap = cap_after(cpu, "rounds of 96 blocks", 4096, slow);
    CHECK(cap == mh_cache_capacity(mh_size_class(4096)) && slow > 0);
    slow = rounds_of(5000, BURST, 64, 20 + 10, 20);
    cap = cap_after(cpu, "rounds of 64 blocks and 64 pairs", 5000, slow);
    CHECK(cap == mh_cache_capacity(mh_size_class(5000)) && slow > 0);

    /* Rows of classes this process never used here stay untouched (looked at after
       mincore: reading a row maps a page, which mincore counts as resident). */
    const mh_cpu_cache *cache = mh_cache_of_cpu((unsigned)cpu);
    static unsigned char resident[sizeof(mh_cpu_cache) / MH_OS_PAGE + 1];
    size_t span = (sizeof(mh_cpu_cache) + MH_OS_PAGE - 1) & ~(MH_OS_PAGE - 1), pages = 0;
    CHECK(mincore((void *)cache, span, resident) == 0);
    for (size_t i = 0; i < span / MH_OS_PAGE; i++) pages += resident[i] & 1;
    unsigned rows_used = 0;
    for (unsigned c = 0; c < MH_NCLASSES; c++)
        rows_used += __atomic_load_n(&cache->row[c].cap, __ATOMIC_RELAXED) != 0;
    printf("cache_growth: %u of %u rows in use on CPU %d, %zu pages of its cache resident\n",
           rows_used, MH_NCLASSES, cpu, pages);
    CHECK(__atomic_load_n(&cache->row[mh_size_class(6544)].cap, __ATOMIC_RELAXED) == 0);
    CHECK(pages <= 3 * rows_used + 1);
    return 0;
}
