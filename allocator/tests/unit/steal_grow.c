/* Running dry, made deterministic with MULTIHEAP_KEY=thread (one heap per thread):
   OS growth in growing steps, then a new thread's heap stealing the first thread's
   spare empty pages before it grows, and never taking the last MH_STEAL_KEEP. */
#include <pthread.h>

#include "mhunit_lists.h"

#define SIZE 1000
#define MANY 4000

static unsigned heap_index(void) { return (unsigned)(mh_current_heap() - mh_global.heaps); }

static uint64_t empty_pages(unsigned heap) {
    mh_heap_stats s = heap_stats_now(heap);
    uint64_t n = 0;
    for (unsigned c = 0; c < s.nclasses; c++) n += s.cls[c].pages_empty;
    return n;
}

static unsigned first_heap;

static void *second_thread(void *arg) {
    (void)arg;
    void *p = malloc(SIZE);
    unsigned me = heap_index();
    CHECK(me != first_heap);
    mh_heap_stats mine = heap_stats_now(me);
    CHECK(mine.pages_stolen >= 1 && mine.pages_stolen <= MH_STEAL_BATCH);
    CHECK(mine.os_grow_calls == 0);
    CHECK(heap_stats_now(first_heap).pages_given == mine.pages_stolen);
    check_heap_lists(mh_current_heap());

    /* Keep allocating: the first heap gives until it has MH_STEAL_KEEP left, then
       this heap grows from the OS. */
    static void *more[3 * MANY];
    for (int i = 0; i < 3 * MANY; i++) CHECK((more[i] = malloc(SIZE)) != NULL);
    mine = heap_stats_now(me);
    CHECK(mine.os_grow_calls > 0);
    CHECK(empty_pages(first_heap) == MH_STEAL_KEEP);
    CHECK(heap_stats_now(first_heap).pages_given == mine.pages_stolen);
    mh_stats all = stats_now();
    CHECK(all.pages_stolen == mine.pages_stolen);
    for (int i = 0; i < 3 * MANY; i++) free(more[i]);
    free(p);
    check_heap_lists(mh_current_heap());
    return NULL;
}

int main(void) {
    mh_free(mh_malloc(1));
    first_heap = heap_index();
    mh_heap_stats before = heap_stats_now(first_heap);

    /* Growth: several steps, each bigger than the last, none of 2 pages or fewer. */
    static void *obj[MANY];
    for (int i = 0; i < MANY; i++) CHECK((obj[i] = malloc(SIZE)) != NULL);
    mh_heap_stats grown = heap_stats_now(first_heap);
    uint64_t calls = grown.os_grow_calls - before.os_grow_calls;
    uint64_t bytes = grown.os_grow_bytes - before.os_grow_bytes;
    CHECK(calls >= 3);
    /* Nothing was stolen, so every page the objects occupy came from growth. */
    uint64_t pages_needed = MANY / mh_class_objects(mh_size_class(SIZE));
    CHECK(grown.os_grow_bytes >= pages_needed * MH_PAGE_SIZE);
    CHECK(bytes / calls > 2 * MH_PAGE_SIZE);
    CHECK(calls < bytes / (MH_GROW_MIN_PAGES * MH_PAGE_SIZE));   /* the steps grew */
    mh_stats all = stats_now();
    CHECK(all.os_grow_calls >= calls && all.pages_stolen == 0);

    for (int i = 0; i < MANY; i++) free(obj[i]);
    CHECK(empty_pages(first_heap) > MH_STEAL_KEEP + MH_STEAL_BATCH);
    check_heap_lists(mh_current_heap());

    pthread_t t;
    CHECK(pthread_create(&t, NULL, second_thread, NULL) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    puts("steal and growth ok");
    return 0;
}
