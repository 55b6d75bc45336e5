/* Large blocks of the large bins (up to 256 KiB) through the CPUs' large rows: their
   sizes rounded up to the bins, a repeated alloc/free that makes no system call, the
   counts the rows keep for the statistics, calloc zeroing a block a row handed back, a
   block freed on another thread, and the purger emptying a row the program stopped
   using, into the shared cache and from there to the OS. Skipped (77) without the
   front cache or the purger. */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "mh_internal.h"
#include "mhunit.h"

#define IDLE_SIZE 100000   /* bin of 28 pages: a row of 4 */
#define WAIT_MS_MAX 10000

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void *blocks[64];

static void *allocate_64(void *size) {
    for (int i = 0; i < 64; i++) {
        blocks[i] = malloc((size_t)size);
        if (blocks[i]) fill(blocks[i], 4096, (unsigned)i);
    }
    return NULL;
}

int main(void) {
    int cpu = pin_to_this_cpu();
    mh_free(mh_malloc(1));
    if (!strstr(mh_options(), "cache=rseq")) {
        printf("large_rows: skipped, needs the front cache (%s)\n", mh_options());
        return 77;
    }

    /* Sizes: the bins' four steps a doubling, up to 64 pages; above, whole pages. */
    static const size_t asked[] = {MH_SMALL_MAX + 1, 24577, 32768, 32769, 100000, 262144, 262145};
    static const size_t usable[] = {20480, 28672, 32768, 40960, 114688, 262144, 266240};
    for (size_t i = 0; i < sizeof asked / sizeof asked[0]; i++) {
        void *p = malloc(asked[i]);
        CHECK(p != NULL && (uintptr_t)p % 4096 == 0 && malloc_usable_size(p) == usable[i]);
        free(p);
    }

    /* A bin's block freed and allocated again: the row's, no system call; each counted. */
    free(malloc(50000));
    mh_stats base = stats_now();
    for (int i = 0; i < 10000; i++) {
        char *p = malloc(50000);
        CHECK(p != NULL);
        p[0] = p[49999] = 1;
        free(p);
    }
    mh_stats after = stats_now();
    CHECK(after.large_os_calls == base.large_os_calls);
    CHECK(after.large_allocs - base.large_allocs == 10000 && after.large_frees - base.large_frees == 10000);
    CHECK(after.large_live == base.large_live && after.large_live_bytes == base.large_live_bytes);

    /* calloc of the block the row hands back (the one just freed) reads as zeros. */
    char *dirty = malloc(40000);
    memset(dirty, 0xff, 40000);
    free(dirty);
    char *zeroed = calloc(1, 40000);
    CHECK(zeroed == dirty);
    for (size_t i = 0; i < 40000; i++) CHECK(zeroed[i] == 0);
    free(zeroed);

    /* Blocks allocated on one thread and freed on this one: counted once each, and
       their bytes back. */
    base = stats_now();
    pthread_t t;
    CHECK(pthread_create(&t, NULL, allocate_64, (void *)70000) == 0 && pthread_join(t, NULL) == 0);
    CHECK(stats_now().large_live_bytes - base.large_live_bytes == 64 * (size_t)81920);
    for (int i = 0; i < 64; i++) {
        CHECK(blocks[i] != NULL && filled(blocks[i], 4096, (unsigned)i));
        free(blocks[i]);
    }
    after = stats_now();
    CHECK(after.large_live == base.large_live && after.large_live_bytes == base.large_live_bytes);

    /* A row the program stopped using: the purger takes its blocks to the shared cache,
       and unmaps them there once they aged (os_calls counts the munmaps). */
    if (!purger_running()) {
        printf("large_rows: purger part skipped, no purger thread (%s)\n", mh_options());
        return 0;
    }
    const mh_cache_row *row =
        mh_cache_row_at(mh_cache_of_cpu((unsigned)cpu), MH_SMALL_ROWS + mh_large_bin_of(IDLE_SIZE / 4096 + 1));
    for (int i = 0; i < 4; i++) CHECK((blocks[i] = malloc(IDLE_SIZE)) != NULL);
    for (int i = 0; i < 4; i++) free(blocks[i]);
    uint32_t cached = __atomic_load_n(&row->count, __ATOMIC_RELAXED);
    uint64_t calls = stats_now().large_os_calls, start = now_ms();
    while ((__atomic_load_n(&row->count, __ATOMIC_RELAXED) != 0 ||
            stats_now().large_os_calls < calls + cached) &&
           now_ms() - start < WAIT_MS_MAX)
        free(malloc(100));   /* busy with something else */
    uint32_t left = __atomic_load_n(&row->count, __ATOMIC_RELAXED);
    uint64_t unmapped = stats_now().large_os_calls - calls;
    printf("large_rows: CPU %d's row of %d-byte blocks went from %u to %u blocks in %llu ms "
           "(purge period %d ms); %llu munmaps since\n",
           cpu, IDLE_SIZE, cached, left, (unsigned long long)(now_ms() - start),
           mh_global.purge_ms, (unsigned long long)unmapped);
    CHECK(cached == 4 && left == 0 && unmapped >= cached);
    return 0;
}
