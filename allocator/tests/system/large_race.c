/*
 * Reproducer of a race between a realloc that moves a large block and another
 * thread's new large block. mremap releases the old address range before the table
 * of large blocks forgets the old address; a fresh mapping can land at that address
 * meanwhile, and the table then holds two entries for it, the stale one first: the new
 * block reports the old block's size, and freeing it then would unmap the wrong length.
 *
 * The layout makes the fresh mapping land exactly there: under a fence block, a gap
 * block is freed (unmapped: over 16 MiB, too big for the cache) above the block that
 * then moves, so the hole it leaves fits the mappers' size exactly. Timing-dependent:
 * it runs for a few seconds, and a fixed library never fails it.
 *
 * usage: large_race [SECONDS]
 */
#define _GNU_SOURCE
#include "multiheap.h"
#include "systest.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#define MIB ((size_t)1 << 20)
#define MOVED_SIZE (17 * MIB)
#define HOLE_SIZE (2 * MOVED_SIZE)     /* the moved block and the gap above it */
#define PAIRS 4                        /* mover and mapper threads, each */

static atomic_bool stop;
static atomic_uint_fast64_t moves, mappings;

static void *checked(void *p, size_t size)
{
    if (!p) st_fail("allocation of %zu bytes returned NULL", size);
    return p;
}

static void *mover(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        char *fence = checked(mh_malloc(MOVED_SIZE), MOVED_SIZE);
        char *gap = checked(mh_malloc(MOVED_SIZE), MOVED_SIZE);
        char *block = checked(mh_malloc(MOVED_SIZE), MOVED_SIZE);
        mh_free(gap);
        char *moved = checked(mh_realloc(block, 4 * MOVED_SIZE), 4 * MOVED_SIZE);
        if (moved != block) atomic_fetch_add_explicit(&moves, 1, memory_order_relaxed);
        mh_free(moved);
        mh_free(fence);
    }
    return NULL;
}

static void *mapper(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        void *p = checked(mh_malloc(HOLE_SIZE), HOLE_SIZE);
        size_t usable = mh_malloc_usable_size(p);
        if (usable < HOLE_SIZE)
            st_fail("a new %zu-byte block at %p reports %zu usable bytes: the table of large blocks "
                    "still holds a block that a concurrent realloc moved away from there",
                    HOLE_SIZE, p, usable);
        mh_free(p);
        atomic_fetch_add_explicit(&mappings, 1, memory_order_relaxed);
    }
    return NULL;
}

static mh_stats stats_now(void)
{
    mh_stats s;
    if (mh_stats_get(&s) != 0) st_fail("mh_stats_get failed after allocations");
    return s;
}

int main(int argc, char **argv)
{
    st_init(argv[0]);
    if (argc > 2) st_usage_error("usage: large_race [SECONDS]");
    unsigned seconds = argc == 2 ? st_parse_count("SECONDS", argv[1], 1, 3600) : 3;
    mh_free(mh_malloc(1));
    mh_stats before = stats_now();

    pthread_t threads[2 * PAIRS];
    for (unsigned i = 0; i < 2 * PAIRS; i++)
        if (pthread_create(&threads[i], NULL, i % 2 ? mapper : mover, NULL) != 0)
            st_fail("pthread_create failed");
    nanosleep(&(struct timespec){.tv_sec = seconds}, NULL);
    atomic_store(&stop, true);
    for (unsigned i = 0; i < 2 * PAIRS; i++)
        pthread_join(threads[i], NULL);

    mh_stats after = stats_now();
    if (after.large_live != before.large_live || after.large_live_bytes != before.large_live_bytes)
        st_fail("large blocks live: %" PRIu64 " (%" PRIu64 " bytes) before, %" PRIu64 " (%" PRIu64
                " bytes) after all were freed", before.large_live, before.large_live_bytes,
                after.large_live, after.large_live_bytes);
    if (atomic_load(&moves) == 0) st_fail("no realloc moved its block: the race was never set up");
    printf("large_race: %" PRIu64 " moving reallocs, %" PRIu64 " new blocks beside them, no stale entry seen\n",
           (uint64_t)atomic_load(&moves), (uint64_t)atomic_load(&mappings));
    return 0;
}
