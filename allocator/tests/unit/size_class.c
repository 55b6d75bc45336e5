/* Size classes: every size maps to the smallest class that holds it, the table is
   well formed, and what malloc returns is at least as big as asked. */
#include <malloc.h>
#include <stdint.h>
#include <string.h>

#include "mh_internal.h"
#include "mhunit.h"

int main(void) {
    /* Most likely the process's first allocation: it must not see an empty class table. */
    char *first = malloc(1000);
    CHECK(malloc_usable_size(first) >= 1000);
    memset(first, 1, 1000);
    free(first);
    for (unsigned c = 0; c < MH_NCLASSES; c++) {
        size_t size = mh_class_size(c), usable = mh_class_unit(c) - MH_PAGE_META;
        CHECK(c == 0 || size > mh_class_size(c - 1));
        CHECK(size % 16 == 0);
        CHECK(mh_class_objects(c) * size <= usable);
        CHECK(mh_class_objects(c) <= MH_BITMAP_WORDS * 64);
        /* No class could be bigger and still fit as many objects in its unit, but the
           powers of two from 512 to 8192, which are classes for their alignment. */
        bool power_of_two = (size & (size - 1)) == 0;
        CHECK((size >= 512 && power_of_two) || mh_class_objects(c) * (size + 16) > usable);
        /* Pages below 1 KiB, slabs from 1 KiB, big slabs above 9344 bytes. In slabs a
           class is at most 12.5% (and one 16-byte step) over the one before, so an
           object wastes at most that much; the last (9344, after 8192) is 14% over. In
           big slabs, which hold 12 objects or fewer, at most 20%. */
        CHECK(mh_class_pages(c) == (size <= 1008   ? 1
                                    : size <= 9344 ? MH_SLAB_PAGES
                                                   : MH_BIG_SLAB_PAGES));
        CHECK((c >= MH_FIRST_BIG_SLAB_CLASS) == (size > 9344));
        if (size > 1008 && size < 9344)
            CHECK(size <= mh_class_size(c - 1) + mh_class_size(c - 1) / 8 + 16);
        if (size > 9344) CHECK(size <= mh_class_size(c - 1) + mh_class_size(c - 1) / 5);
    }
    CHECK(mh_class_size(MH_NCLASSES - 1) == MH_SMALL_MAX);
    for (size_t size = 512; size <= 8192; size *= 2) CHECK(mh_class_size(mh_size_class(size)) == size);

    /* Free's one-compare check: every offset in a unit (at a made-up unit-aligned address)
       is an object start exactly when it is slot k < capacity, whose slot is k; class
       "0" (a page without objects) takes nothing. */
    const uintptr_t unit_base = (uintptr_t)1 << 40;
    for (unsigned c = 0; c < MH_NCLASSES; c++) {
        size_t size = mh_class_size(c);
        for (uintptr_t off = 0; off < mh_class_unit(c); off++) {
            const void *p = (const void *)(unit_base + off);
            bool start = off % size == 0 && off / size < mh_class_objects(c);
            CHECK(mh_is_object_start1(p, c + 1) == start);
            CHECK(!start || mh_slot_of(p, c) == off / size);
            CHECK(!mh_is_object_start1(p, 0));
        }
    }

    for (size_t size = 0; size <= MH_SMALL_MAX; size++) {
        unsigned c = mh_size_class(size);
        CHECK(c < MH_NCLASSES);
        CHECK(mh_class_size(c) >= size);
        CHECK(c == 0 || mh_class_size(c - 1) < size);
        CHECK(size > 16 || c == 0);
        /* Between 128 bytes and 1 KiB an object wastes at most ~14% (an eighth, plus
           one 16-byte step where the page rounding raised the class). */
        if (size > 128 && size <= 1024) CHECK(mh_class_size(c) - size <= mh_class_size(c) / 8 + 16);
    }

    for (size_t size = 0; size <= MH_SMALL_MAX + 100; size += 1 + size / 64) {
        char *p = malloc(size);
        CHECK(p != NULL);
        CHECK(malloc_usable_size(p) >= size);
        /* Every size up to the boundary is a small object, its usable size its class's. */
        CHECK(mh_is_small(p) == (size <= MH_SMALL_MAX));
        CHECK(size > MH_SMALL_MAX || malloc_usable_size(p) == mh_class_size(mh_size_class(size)));
        CHECK((uintptr_t)p % 16 == 0);   /* even for tiny sizes: C++ new relies on it */
        memset(p, 0xab, malloc_usable_size(p));
        free(p);
    }
    puts("size classes ok");
    return 0;
}
