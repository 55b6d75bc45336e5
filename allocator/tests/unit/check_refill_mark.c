/* Check mode (MULTIHEAP_CHECK=1): a refill marks the objects it takes from a page before
   their bits in the page's bitmap say they are taken. A stray free checks the bit, then
   the mark (cache.c, mh_cache_free_check): an object whose bit is set must carry the mark
   for as long as the refill runs, or a stray free in between would cache it and the
   refill push it a second time. The marks used to be written after the heap's unlock.
   One thread refills a page's worth of objects again and again (and clears their marks
   and frees them back between rounds); another watches the page while a refill runs and
   counts the slots it finds taken but unmarked. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>

#include "cache.h"
#include "mh_internal.h"
#include "mhunit.h"

#define ROUNDS 100000
#define SIZE 16

static volatile unsigned round_no;   /* odd while a refill runs */
static volatile int done;
static mh_page *volatile watched;
static unsigned long violations, looks;

static void *watcher(void *arg) {
    (void)arg;
    while (!done) {
        unsigned r1 = round_no;
        mh_page *pg = watched;
        if (!(r1 & 1) || !pg) continue;
        char *start = mh_page_start(pg);
        for (unsigned slot = 0; slot < pg->capacity; slot++) {
            uint64_t word = ((volatile uint64_t *)pg->bitmap)[slot / 64];
            if (!(word >> (slot % 64) & 1)) continue;
            uint64_t mark = *(volatile uint64_t *)mh_free_mark_word(start + (size_t)slot * SIZE);
            if (round_no != r1) break;
            looks++;
            if (mark != mh_global.free_mark) violations++;
        }
    }
    return NULL;
}

int main(void) {
    free(malloc(1));
    CHECK(mh_global.check);   /* ctest sets MULTIHEAP_CHECK=1 */
    cpu_set_t cpus;
    if (sched_getaffinity(0, sizeof cpus, &cpus) != 0 || CPU_COUNT(&cpus) < 2) {
        puts("check_refill_mark: skipped, the watcher needs a CPU of its own");
        return 77;
    }
    unsigned cls = mh_size_class(SIZE);
    CHECK(mh_class_size(cls) == SIZE);
    size_t n = mh_class_objects(cls);
    static void *objs[MH_BITMAP_WORDS * 64];
    mh_heap *h = mh_current_heap();
    pthread_t t;
    CHECK(pthread_create(&t, NULL, watcher, NULL) == 0);
    for (int r = 0; r < ROUNDS; r++) {
        __atomic_store_n(&round_no, round_no + 1, __ATOMIC_SEQ_CST);
        size_t got = mh_heap_alloc_batch(h, cls, objs, n, true);
        __atomic_store_n(&round_no, round_no + 1, __ATOMIC_SEQ_CST);
        CHECK(got == n);
        for (size_t i = 0; i < got; i++) CHECK(*mh_free_mark_word(objs[i]) == mh_global.free_mark);
        if (!watched) watched = mh_page_of(objs[0]);
        for (size_t i = 0; i < got; i++) *mh_free_mark_word(objs[i]) = 0;
        mh_small_free_batch(objs, got, MH_FREED_BY_PROGRAM);
    }
    done = 1;
    CHECK(pthread_join(t, NULL) == 0);
    printf("check_refill_mark: %d refills of %zu objects; %lu taken slots seen during them, "
           "%lu of them unmarked\n", ROUNDS, n, looks, violations);
    CHECK(looks > 0);
    CHECK(violations == 0);
    return 0;
}
