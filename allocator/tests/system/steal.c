/*
 * The ways a heap gets pages, seen in the statistics (run with MULTIHEAP_KEY=thread,
 * so each thread has a heap of its own):
 *   1. the main thread fills and empties many pages of one class: its heap grew from
 *      the OS, more than 2 pages per call;
 *   2. it then allocates another class: its own empty pages serve it, no growth and no
 *      stealing;
 *   3. a second thread allocates while the main heap holds many empty pages: the new
 *      heap steals them, and the main heap keeps some.
 */
#define _GNU_SOURCE
#include "multiheap.h"
#include "systest.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define PAGE_BYTES 8192
#define BIG_OBJECT 1000     /* a few objects per page: many pages for few calls */
#define BIG_COUNT 4000      /* about 4 MiB */
#define SMALL_OBJECT 100
#define SMALL_COUNT 4000    /* about 400 KiB: less than phase 1 left empty */

typedef struct snapshot { uint32_t nheaps; mh_heap_stats *heap; } snapshot;

static snapshot take_snapshot(void)
{
    mh_stats s;
    if (mh_stats_get(&s) != 0) st_fail("mh_stats_get failed after allocations");
    snapshot snap = {s.nheaps, calloc(s.nheaps, sizeof(mh_heap_stats))};
    if (!snap.heap) st_fail("cannot allocate a snapshot of %u heaps", s.nheaps);
    for (unsigned h = 0; h < s.nheaps; h++)
        if (mh_heap_stats_get(h, &snap.heap[h]) != 0) st_fail("mh_heap_stats_get(%u) failed", h);
    return snap;
}

static uint64_t empty_pages(const mh_heap_stats *hs)
{
    uint64_t n = 0;
    for (unsigned c = 0; c < hs->nclasses; c++) n += hs->cls[c].pages_empty;
    return n;
}

/* The heap that made at least `count` allocations between two snapshots. */
static unsigned heap_that_allocated(const snapshot *before, const snapshot *after, uint64_t count,
                                    const char *who)
{
    for (unsigned h = 0; h < after->nheaps; h++)
        if (after->heap[h].allocs - before->heap[h].allocs >= count) return h;
    st_fail("no heap counts the %" PRIu64 " allocations %s made", count, who);
}

static void allocate_and_free(size_t size, unsigned count)
{
    void **p = malloc(count * sizeof *p);
    if (!p) st_fail("cannot allocate the pointer array");
    for (unsigned i = 0; i < count; i++) {
        p[i] = mh_malloc(size);
        if (!p[i]) st_fail("mh_malloc(%zu) returned NULL", size);
        st_fill(p[i], size);
    }
    for (unsigned i = 0; i < count; i++) {
        st_check(p[i], size, "block of the steal test");
        mh_free(p[i]);
    }
    free(p);
}

static void *second_thread(void *arg)
{
    (void)arg;
    allocate_and_free(BIG_OBJECT, BIG_COUNT / 2);
    return NULL;
}

int main(int argc, char **argv)
{
    st_init(argv[0]);
    if (argc != 1) st_usage_error("steal takes no arguments; run it with MULTIHEAP_KEY=thread");
    mh_free(mh_malloc(1));
    mh_stats s;
    if (mh_stats_get(&s) != 0) st_fail("mh_stats_get failed after an allocation");
    if (strcmp(s.key_policy, "thread") != 0)
        st_usage_error("the key policy is '%s': run steal with MULTIHEAP_KEY=thread", s.key_policy);

    snapshot start = take_snapshot();
    allocate_and_free(BIG_OBJECT, BIG_COUNT);
    snapshot filled = take_snapshot();
    unsigned mine = heap_that_allocated(&start, &filled, BIG_COUNT, "the main thread");
    const mh_heap_stats *m0 = &start.heap[mine], *m1 = &filled.heap[mine];
    uint64_t calls = m1->os_grow_calls - m0->os_grow_calls, bytes = m1->os_grow_bytes - m0->os_grow_bytes;
    if (calls == 0 || bytes < (uint64_t)BIG_OBJECT * BIG_COUNT)
        st_fail("phase 1: heap %u grew %" PRIu64 " times by %" PRIu64 " bytes for %d blocks of %d bytes",
                mine, calls, bytes, BIG_COUNT, BIG_OBJECT);
    if (bytes / calls <= 2 * PAGE_BYTES)
        st_fail("phase 1: heap %u grew by %" PRIu64 " bytes per OS call: not more than 2 pages", mine, bytes / calls);

    allocate_and_free(SMALL_OBJECT, SMALL_COUNT);
    snapshot reused = take_snapshot();
    const mh_heap_stats *m2 = &reused.heap[mine];
    if (m2->os_grow_calls != m1->os_grow_calls || m2->pages_stolen != m1->pages_stolen)
        st_fail("phase 2: heap %u had %" PRIu64 " empty pages, yet grew %" PRIu64 " times and stole %" PRIu64
                " pages for another class", mine, empty_pages(m1), m2->os_grow_calls - m1->os_grow_calls,
                m2->pages_stolen - m1->pages_stolen);

    pthread_t t;
    if (pthread_create(&t, NULL, second_thread, NULL) != 0) st_fail("pthread_create failed");
    pthread_join(t, NULL);
    snapshot stolen = take_snapshot();
    unsigned theirs = heap_that_allocated(&reused, &stolen, BIG_COUNT / 2, "the second thread");
    const mh_heap_stats *m3 = &stolen.heap[mine], *t3 = &stolen.heap[theirs], *t2 = &reused.heap[theirs];
    if (theirs == mine) st_fail("phase 3: the second thread allocated from the main thread's heap %u", mine);
    if (t3->pages_stolen == t2->pages_stolen || m3->pages_given == m2->pages_given)
        st_fail("phase 3: heap %u (%" PRIu64 " empty pages) gave %" PRIu64 " pages, heap %u stole %" PRIu64,
                mine, empty_pages(m2), m3->pages_given - m2->pages_given, theirs,
                t3->pages_stolen - t2->pages_stolen);
    if (empty_pages(m3) == 0) st_fail("phase 3: heap %u was left with no empty page", mine);
    uint64_t given = 0, taken = 0;
    for (unsigned h = 0; h < stolen.nheaps; h++) {
        given += stolen.heap[h].pages_given;
        taken += stolen.heap[h].pages_stolen;
    }
    if (given != taken) st_fail("pages given (%" PRIu64 ") and stolen (%" PRIu64 ") do not match", given, taken);

    printf("steal: heap %u grew %" PRIu64 " times (%" PRIu64 " KiB), served another class from its own pages, "
           "gave %" PRIu64 " pages to heap %u and kept %" PRIu64 " empty\n",
           mine, calls, bytes / 1024, m3->pages_given - m2->pages_given, theirs, empty_pages(m3));
    free(start.heap); free(filled.heap); free(reused.heap); free(stolen.heap);
    return 0;
}
