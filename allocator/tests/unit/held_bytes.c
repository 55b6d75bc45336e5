/* The statistics' cached_bytes and stashed_bytes: free objects held back from their
   pages. Pinned to one CPU with the purger off, 100 frees of 64-byte objects add exactly
   6400 bytes to what the CPU's cache and its heap's stashes hold (a flush moves objects
   from the one to the other; the stash has room for it), both in the totals and in the
   heap of that CPU; with the front cache off (MULTIHEAP_CACHE=0, the second run) nothing
   is ever held. Skipped (77) where the cache cannot run (no rseq, not x86-64). */
#define _GNU_SOURCE
#include <sched.h>
#include <stdbool.h>
#include <string.h>

#include "mhunit.h"

#define N 100

static uint64_t held(const mh_stats *s) { return s->cached_bytes + s->stashed_bytes; }
static uint64_t heap_held(const mh_heap_stats *h) { return h->cached_bytes + h->stashed_bytes; }

int main(int argc, char **argv) {
    bool cache_off = argc > 1 && strcmp(argv[1], "off") == 0;
    free(malloc(1));   /* initialises the library, for mh_options() */
    if (!cache_off && !strstr(mh_options(), "cache=rseq")) {
        printf("held_bytes: skipped, the front cache is off here (%s)\n", mh_options());
        return 77;
    }
    int cpu = pin_to_this_cpu();

    void *p[N];
    for (int i = 0; i < N; i++) CHECK((p[i] = malloc(64)) != NULL);
    mh_stats before = stats_now();
    mh_heap_stats heap_before = heap_stats_now((unsigned)cpu);
    for (int i = 0; i < N; i++) free(p[i]);
    mh_stats after = stats_now();
    mh_heap_stats heap_after = heap_stats_now((unsigned)cpu);

    if (cache_off) {
        CHECK(after.cached_bytes == 0 && after.stashed_bytes == 0);
        CHECK(heap_held(&heap_after) == 0);
    } else {
        CHECK(held(&after) - held(&before) == N * 64);
        CHECK(heap_held(&heap_after) - heap_held(&heap_before) == N * 64);
        CHECK(after.cached_bytes >= N * 64);
    }
    printf("held_bytes (%s): cached %llu, stashed %llu bytes after %d frees of 64 bytes\n",
           cache_off ? "no cache" : "cache", (unsigned long long)after.cached_bytes,
           (unsigned long long)after.stashed_bytes, N);
    return 0;
}
