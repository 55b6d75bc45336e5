/* For the tests that look inside a heap: walk its page lists and check every
   invariant stated in mh_internal.h. Needs mh_internal.h. */
#ifndef MHUNIT_LISTS_H
#define MHUNIT_LISTS_H

#include "mh_internal.h"
#include "mhunit.h"

static inline void check_heap_lists(mh_heap *h) {
    mh_lock_acquire(&h->lock);
    unsigned nempty = 0;
    for (unsigned c = 0; c < MH_NCLASSES; c++)
        for (unsigned l = 0; l < MH_NLISTS; l++) {
            unsigned n = 0;
            mh_page *prev = NULL;
            for (mh_page *pg = h->cls[c].list[l].head; pg; prev = pg, pg = pg->next, n++) {
                CHECK(pg->prev == prev);
                CHECK((unsigned)pg->cls == c && (unsigned)pg->list == l);
                CHECK(pg->heap == (uint32_t)(h - mh_global.heaps));
                CHECK(pg->capacity == mh_class_objects(c));
                unsigned bits = 0;
                for (unsigned w = 0; w < MH_BITMAP_WORDS; w++)
                    bits += (unsigned)__builtin_popcountll(pg->bitmap[w]);
                CHECK(bits == (unsigned)pg->used + MH_BITMAP_WORDS * 64u - pg->capacity);
                CHECK(l != MH_LIST_EMPTY || pg->used == 0);
                CHECK(l != MH_LIST_FULL || pg->used == pg->capacity);
                CHECK(l != MH_LIST_PARTIAL || (pg->used > 0 && pg->used < pg->capacity));
                /* newest empty page first: the purge walks from the tail, the oldest */
                CHECK(l != MH_LIST_EMPTY || !prev || mh_global.purge_ms < 0 ||
                      (int32_t)(prev->empty_since_ms - pg->empty_since_ms) >= 0);
            }
            CHECK(n == h->cls[c].list[l].count);
            CHECK(h->cls[c].list[l].tail == prev);
            if (l == MH_LIST_EMPTY) nempty += n * mh_class_pages(c);   /* nempty counts pages */
        }
    CHECK(nempty == h->nempty);
    mh_lock_release(&h->lock);
}

#endif
