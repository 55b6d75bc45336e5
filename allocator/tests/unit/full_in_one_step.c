/* Seed weakness 1: a page taken from the empty list and filled in one step must go
   straight to the full list. The seed left a one-object page on the partial list, so
   the "full" counter stayed 0, partial pages piled up and a free corrupted a list.
   multiheap has no one-object class; here a refill-sized batch fills whole slabs of the
   largest class (7 objects each) from empty in one step each. */
#include "mhunit_lists.h"

#define N 30

int main(void) {
    mh_free(mh_malloc(1));   /* initialises the library (GCC may drop free(malloc(1))) */
    mh_heap *h = mh_current_heap();
    unsigned heap = (unsigned)(h - mh_global.heaps);
    unsigned cls = mh_size_class(MH_SMALL_MAX);
    unsigned cap = mh_class_objects(cls);
    CHECK(cap == 7);

    void *obj[N][7];
    for (int i = 0; i < N; i++) {
        CHECK(mh_heap_alloc_batch(h, cls, obj[i], cap, false) == cap);
        mh_page *pg = mh_page_of(obj[i][0]);
        for (unsigned k = 0; k < cap; k++) CHECK(mh_page_of(obj[i][k]) == pg);
        CHECK(pg->list == MH_LIST_FULL);
    }
    mh_heap_stats s = heap_stats_now(heap);
    CHECK(s.cls[cls].pages_full == N);
    CHECK(h->cls[cls].list[MH_LIST_PARTIAL].head == NULL);
    check_heap_lists(h);

    /* Empty them in an order that touches the middle and both ends of the full list. */
    for (int i = 0; i < N; i += 2) mh_small_free_batch(obj[i], cap, MH_FREED_BY_PROGRAM);
    for (int i = N - 1; i > 0; i -= 2) mh_small_free_batch(obj[i], cap, MH_FREED_BY_PROGRAM);
    s = heap_stats_now(heap);
    CHECK(s.cls[cls].pages_full == 0);
    CHECK(s.cls[cls].pages_empty == s.cls[cls].pages_owned);
    check_heap_lists(h);

    /* The same through malloc: a full slot is never handed out twice. */
    void *p = malloc(MH_SMALL_MAX), *q = malloc(MH_SMALL_MAX);
    CHECK(p != q);
    free(p);
    free(q);
    check_heap_lists(h);
    puts("full in one step ok");
    return 0;
}
