/* Page state and list moves inside one heap (MULTIHEAP_KEY=global: heap 0):
   empty -> partial -> full -> partial -> empty, batches across pages, an empty page
   moving to another class of the same heap before the heap grows, and the same for a
   64 KiB slab, whose objects span its eight pages and all find its one metadata, and
   for a 128 KiB big slab. */
#include <string.h>

#include "mhunit_lists.h"

static mh_heap_stats snap(void) { return heap_stats_now(0); }

static uint64_t pages_owned_all(void) {
    mh_heap_stats s = snap();
    uint64_t n = 0;
    for (unsigned c = 0; c < s.nclasses; c++) n += s.cls[c].pages_owned;
    return n;
}

/* Fills one unit of slab class cls (pages pages, cap objects), checks that it is aligned
   to its size and that its objects reach its last page, and frees them all: the unit,
   empty. */
static mh_page *fill_and_empty_unit(mh_heap *h, unsigned cls, unsigned pages, unsigned cap) {
    void *obj[16];
    CHECK(mh_class_pages(cls) == pages && mh_class_objects(cls) == cap && cap <= 16);
    for (unsigned i = 0; i < cap; i++) {
        obj[i] = mh_heap_alloc(h, cls, 1);
        memset(obj[i], 0x5a, mh_class_size(cls));
        CHECK(mh_is_object_start1(obj[i], cls + 1) && mh_slot_of(obj[i], cls) == i);
        CHECK(mh_page_of(obj[i]) == mh_page_of(obj[0]));
    }
    mh_page *unit = mh_page_of(obj[0]);
    size_t unit_bytes = (size_t)pages * MH_PAGE_SIZE;
    CHECK((uintptr_t)mh_page_start(unit) % unit_bytes == 0 && (char *)obj[0] == mh_page_start(unit));
    CHECK((char *)obj[cap - 1] + mh_class_size(cls) - (char *)obj[0] > (ptrdiff_t)(unit_bytes - MH_PAGE_SIZE));
    CHECK(unit->list == MH_LIST_FULL && snap().cls[cls].pages_full == 1);
    CHECK(snap().cls[cls].objects_per_page == cap);
    check_heap_lists(h);
    for (unsigned i = 0; i < cap; i++) mh_free(obj[i]);
    CHECK(unit->list == MH_LIST_EMPTY);
    return unit;
}

int main(void) {
    mh_free(mh_malloc(1));   /* initialises the library (GCC may drop free(malloc(1))) */
    mh_heap *h = mh_current_heap();
    CHECK(h == &mh_global.heaps[0]);
    unsigned a = mh_size_class(1000), b = mh_size_class(500);
    unsigned cap = mh_class_objects(a);
    CHECK(cap == 8);
    CHECK(snap().cls[a].pages_owned == 0 && snap().cls[b].pages_owned == 0);

    /* The first object takes an empty page (from another class or from the OS). */
    void *obj[64];
    obj[0] = mh_heap_alloc(h, a, 1);
    mh_page *pg = mh_page_of(obj[0]);
    CHECK(pg->list == MH_LIST_PARTIAL && pg->used == 1);
    uint64_t owned = snap().cls[a].pages_owned;
    CHECK(snap().cls[a].pages_empty == owned - 1);
    check_heap_lists(h);

    /* Filling it moves it to the full list. */
    for (unsigned i = 1; i < cap; i++) {
        obj[i] = mh_heap_alloc(h, a, 1);
        CHECK(mh_page_of(obj[i]) == pg);
    }
    CHECK(pg->list == MH_LIST_FULL && snap().cls[a].pages_full == 1);
    check_heap_lists(h);

    /* One free: back to partial; the next allocation reuses exactly that slot. */
    mh_free(obj[3]);
    CHECK(pg->list == MH_LIST_PARTIAL && snap().cls[a].pages_full == 0);
    void *again = mh_heap_alloc(h, a, 1);
    CHECK(again == obj[3] && pg->list == MH_LIST_FULL);

    /* Freeing everything leaves an empty page. */
    for (unsigned i = 0; i < cap; i++) mh_free(obj[i]);
    CHECK(pg->list == MH_LIST_EMPTY && pg->used == 0);
    CHECK(snap().cls[a].pages_empty == owned);
    check_heap_lists(h);

    /* A batch spans pages: 2 full pages and one partial; freed as a batch. */
    size_t n = mh_heap_alloc_batch(h, a, obj, 2 * cap + 3, false);
    CHECK(n == 2 * cap + 3);
    CHECK(snap().cls[a].pages_full == 2);
    check_heap_lists(h);
    uint64_t frees = snap().frees;
    mh_small_free_batch(obj, n, MH_FREED_BY_PROGRAM);
    CHECK(snap().frees == frees + n);
    CHECK(snap().cls[a].pages_empty == snap().cls[a].pages_owned);
    check_heap_lists(h);

    /* Class b has no page: it takes an empty page of another class, no growth. */
    uint64_t grows_before = snap().os_grow_calls, total = pages_owned_all();
    void *q = mh_heap_alloc(h, b, 1);
    CHECK(mh_page_of(q)->cls == b);
    CHECK(snap().os_grow_calls == grows_before);
    CHECK(snap().cls[b].pages_owned == 1);
    CHECK(pages_owned_all() == total);
    check_heap_lists(h);
    mh_free(q);
    check_heap_lists(h);

    /* A slab class: one unit of 64 KiB, 64 KiB aligned, its objects in all its pages. */
    unsigned c = mh_size_class(5000), d = mh_size_class(3000);
    CHECK(mh_class_pages(d) == MH_SLAB_PAGES);
    mh_page *slab = fill_and_empty_unit(h, c, MH_SLAB_PAGES, 13);
    /* Another slab class reuses the empty slab; a page class never takes it. */
    grows_before = snap().os_grow_calls;
    void *r = mh_heap_alloc(h, d, 1);
    CHECK(mh_page_of(r) == slab && slab->cls == d && snap().os_grow_calls == grows_before);
    check_heap_lists(h);
    mh_free(r);

    /* The same for a big slab class, 128 KiB; an empty big slab goes to another big slab
       class, and neither a slab class nor a page class takes it. */
    unsigned e = mh_size_class(16384), f = mh_size_class(12000);
    CHECK(mh_class_size(e) == 18704 && mh_class_pages(f) == MH_BIG_SLAB_PAGES);
    mh_page *big = fill_and_empty_unit(h, e, MH_BIG_SLAB_PAGES, 7);
    grows_before = snap().os_grow_calls;
    void *s1 = mh_heap_alloc(h, c, 1), *p1 = mh_heap_alloc(h, a, 1);
    CHECK(mh_page_of(s1) != big && mh_page_of(p1) != big && big->cls == e);
    void *t = mh_heap_alloc(h, f, 1);
    CHECK(mh_page_of(t) == big && big->cls == f && snap().os_grow_calls == grows_before);
    check_heap_lists(h);
    mh_free(t);
    mh_free(s1);
    mh_free(p1);
    check_heap_lists(h);
    puts("page lists ok");
    return 0;
}
