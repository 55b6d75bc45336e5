/* Seed weakness 1: in a class with one object per page, a page taken from the empty
   list must go straight to the full list. The seed left it on the partial list, so
   the "full" counter stayed 0, partial pages piled up and a free corrupted a list. */
#include "mhunit_lists.h"

#define N 100

int main(void) {
    mh_free(mh_malloc(1));   /* initialises the library (GCC may drop free(malloc(1))) */
    mh_heap *h = mh_current_heap();
    unsigned heap = (unsigned)(h - mh_global.heaps);
    unsigned cls = mh_size_class(8000);
    CHECK(mh_class_objects(cls) == 1);

    void *obj[N];
    for (int i = 0; i < N; i++) {
        obj[i] = mh_heap_alloc(h, cls, 1);
        CHECK(obj[i] != NULL);
        CHECK(mh_page_of(obj[i])->list == MH_LIST_FULL);
    }
    mh_heap_stats s = heap_stats_now(heap);
    CHECK(s.cls[cls].pages_full == N);
    CHECK(h->cls[cls].list[MH_LIST_PARTIAL].head == NULL);
    check_heap_lists(h);

    /* Free in an order that touches the middle and both ends of the full list. */
    for (int i = 0; i < N; i += 2) mh_free(obj[i]);
    for (int i = N - 1; i > 0; i -= 2) mh_free(obj[i]);
    s = heap_stats_now(heap);
    CHECK(s.cls[cls].pages_full == 0);
    CHECK(s.cls[cls].pages_empty == s.cls[cls].pages_owned);
    check_heap_lists(h);

    /* The same through malloc: a full page is never handed out twice. */
    void *p = malloc(8000), *q = malloc(8000);
    CHECK(p != q && mh_page_of(p) != mh_page_of(q));
    free(p);
    free(q);
    check_heap_lists(h);
    puts("one-object class ok");
    return 0;
}
