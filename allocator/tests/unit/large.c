/* Large blocks: a request rounded up to its bin, the registry under many live blocks,
   the cache of freed blocks (repeated alloc/free of similar sizes makes no system call),
   its bounds, and a request no cached block fits growing a smaller cached one. Run with
   the front cache (large rows) and without (alloc.unit.large.norows). */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <string.h>

#include "mh_internal.h"
#include "mhunit.h"

#define LIVE 3000

static uint64_t os_calls(void) { return stats_now().large_os_calls; }

int main(void) {
    mh_free(mh_malloc(1));

    /* A grow that fails loses nothing: the only cached block (300 KiB) cannot become 128
       TiB, goes back to the cache, and serves the next request of its size. */
    free(malloc(300 << 10));
    errno = 0;
    CHECK(malloc((size_t)1 << 47) == NULL && errno == ENOMEM);
    uint64_t calls = os_calls();
    free(malloc(300 << 10));
    CHECK(os_calls() == calls);

    /* Requests of 5 to 64 pages round up to their bin, with or without the front cache. */
    void *binned = malloc(36864);
    CHECK(binned != NULL && malloc_usable_size(binned) == 40960);
    free(binned);

    mh_stats base = stats_now();

    /* Many live blocks: the table grows, and deletions in random order keep it whole. */
    static void *blk[LIVE];
    static size_t len[LIVE];
    unsigned seed = 1;
    for (int i = 0; i < LIVE; i++) {
        seed = seed * 1103515245 + 12345;
        len[i] = MH_SMALL_MAX + 1 + (seed >> 8) % 100000;
        blk[i] = malloc(len[i]);
        CHECK(blk[i] != NULL && (uintptr_t)blk[i] % 4096 == 0);
        CHECK(malloc_usable_size(blk[i]) >= len[i]);
        fill(blk[i], 64, (unsigned)i);
    }
    CHECK(stats_now().large_live == base.large_live + LIVE);
    for (int i = 0; i < LIVE; i++) {
        seed = seed * 1103515245 + 12345;
        int j = (int)((seed >> 8) % LIVE);
        void *t = blk[i]; blk[i] = blk[j]; blk[j] = t;
        size_t l = len[i]; len[i] = len[j]; len[j] = l;
    }
    for (int i = 0; i < LIVE; i++) {
        CHECK(malloc_usable_size(blk[i]) >= len[i]);
        free(blk[i]);
        if (i % 500 == 0)
            for (int k = i + 1; k < LIVE; k++) CHECK(malloc_usable_size(blk[k]) >= len[k]);
    }
    mh_stats after = stats_now();
    CHECK(after.large_live == base.large_live && after.large_live_bytes == base.large_live_bytes);
    CHECK(after.large_allocs - base.large_allocs == LIVE);
    CHECK(after.large_frees - base.large_frees == LIVE);

    /* Repeated alloc/free of similar sizes is served by the cache: no new system call. */
    calls = 0;
    for (int i = 0; i < 1010; i++) {
        if (i == 10) calls = os_calls();   /* the first ten sizes fill the cache */
        char *p = malloc(100000 + (size_t)(i % 10) * 1000);
        CHECK(p != NULL);
        p[0] = p[99999] = 1;
        free(p);
    }
    CHECK(os_calls() == calls);

    /* The cache is bounded: 20 freed 8 MiB blocks cannot all stay mapped (64 MiB). */
    void *big[20];
    for (int i = 0; i < 20; i++) big[i] = malloc(8 << 20);
    calls = os_calls();
    for (int i = 0; i < 20; i++) free(big[i]);
    CHECK(os_calls() - calls >= 20 - MH_LARGE_CACHE_BYTES / (8 << 20));
    calls = os_calls();
    for (int i = 0; i < 20; i++) big[i] = malloc(8 << 20);
    CHECK(os_calls() - calls >= 20 - MH_LARGE_CACHE_BYTES / (8 << 20));
    for (int i = 0; i < 20; i++) free(big[i]);

    /* A request that no cached block fits grows the largest smaller one, here 300 KiB (the
       others are the ~100 KB blocks above): one call, the old data zeroed for calloc, and
       the 300 KiB block no longer cached, so asking for it again costs a call. */
    char *s = malloc(300 << 10);
    memset(s, 0xab, 300 << 10);
    free(s);
    calls = os_calls();
    char *grown = calloc(1, 5 << 20);
    CHECK(grown != NULL && os_calls() == calls + 1);
    for (size_t i = 0; i < (5 << 20); i += 512) CHECK(grown[i] == 0 && grown[i + 511] == 0);
    calls = os_calls();
    s = malloc(300 << 10);
    CHECK(s != NULL && os_calls() == calls + 1);
    free(s);
    free(grown);

    /* Blocks over MH_LARGE_CACHE_MAX_BLOCK are unmapped at once. */
    calls = os_calls();
    free(malloc(MH_LARGE_CACHE_MAX_BLOCK + 4096));
    free(malloc(MH_LARGE_CACHE_MAX_BLOCK + 4096));
    CHECK(os_calls() == calls + 4);
    puts("large blocks ok");
    return 0;
}
