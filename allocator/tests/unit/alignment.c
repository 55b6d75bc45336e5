/* Every power-of-two alignment from 1 to 2 MiB succeeds, for small and large sizes,
   through each aligned entry point; other alignments fail with EINVAL. */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "mh_internal.h"
#include "mhunit.h"

static const size_t sizes[] = {0, 1, 8, 24, 100, 1000, 4000, 8000, 9344, 9345, 16384,
                               MH_SMALL_MAX, MH_SMALL_MAX + 1, 20000, 300000};

static void check_block(void *p, size_t align, size_t size) {
    CHECK(p != NULL);
    CHECK((uintptr_t)p % align == 0);
    CHECK(malloc_usable_size(p) >= size);
    fill(p, size, (unsigned)size);
}

/* PACKED objects of memalign(align, size) lie on at most 1.5 times the regions of
   `region` bytes (8 KiB pages or 64 KiB slabs) that slot_bytes each (their class's size
   and its share of the unit's tail) would fill. */
static void packs(size_t align, size_t size, size_t slot_bytes, size_t region) {
    enum { PACKED = 1000 };
    static uintptr_t packed[PACKED];
    for (int i = 0; i < PACKED; i++) {
        packed[i] = (uintptr_t)memalign(align, size);
        check_block((void *)packed[i], align, size);
    }
    size_t regions = 0;
    for (int i = 0; i < PACKED; i++) {
        bool seen = false;
        for (int j = 0; j < i && !seen; j++) seen = packed[j] / region == packed[i] / region;
        regions += !seen;
    }
    printf("alignment: %d objects of memalign(%zu, %zu) in %zu regions of %zu KiB\n", PACKED,
           align, size, regions, region >> 10);
    CHECK(regions <= PACKED * slot_bytes / region * 3 / 2 + 16);
    for (int i = 0; i < PACKED; i++) free((void *)packed[i]);
}

int main(void) {
    enum { KEEP = 8 };
    void *kept[KEEP * 4];
    for (size_t align = 1; align <= ((size_t)2 << 20); align *= 2) {
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            size_t size = sizes[s];
            /* Several at once, so aligned slots are searched in pages already in use. */
            for (int k = 0; k < KEEP; k++) {
                kept[k * 4 + 0] = aligned_alloc(align, size);
                kept[k * 4 + 1] = memalign(align, size);
                CHECK(posix_memalign(&kept[k * 4 + 2],
                                     align < sizeof(void *) ? sizeof(void *) : align, size) == 0);
                kept[k * 4 + 3] = mh_aligned_alloc(align, size);
                for (int j = 0; j < 4; j++) check_block(kept[k * 4 + j], align, size);
            }
            for (int k = 0; k < KEEP * 4; k++) {
                CHECK(filled(kept[k], size, (unsigned)size));
                free(kept[k]);
            }
        }
    }
    /* Aligned objects are packed into classes whose every slot is aligned, instead of
       the one aligned slot in a page (or a large block) of their own class: counted as
       distinct 8 KiB pages (64 KiB slabs for 5000 bytes) among many at once, within
       half as much again as their class's share. memalign(64, 1000) takes a slot of
       the 1024-byte class (1920 bytes before it existed, about 4 KiB before that);
       memalign(512, 512) and memalign(4096, 4096) took 8 KiB each before the
       power-of-two classes, and memalign(4096, 5000) a slab of its own (64 KiB, 12 KiB
       of it resident). */
    packs(64, 1000, 1024 * 64 / 63, MH_PAGE_SIZE);
    packs(512, 512, 512 * 16 / 15, MH_PAGE_SIZE);
    packs(4096, 4096, 4096 * 16 / 15, MH_PAGE_SIZE);
    packs(4096, 5000, MH_SLAB_SIZE / 7, MH_SLAB_SIZE);
    /* Above 9344 bytes (the big slabs) only a unit's first slot is sure to be aligned
       beyond 16 bytes: such a request gets a mapping of its own, not a 128 KiB unit. */
    void *a16 = memalign(16, 16384), *a32 = memalign(32, 9345), *a4k = memalign(4096, 16384),
         *slab = memalign(64, 9344);
    CHECK(mh_is_small(a16) && !mh_is_small(a32) && !mh_is_small(a4k) && mh_is_small(slab));
    free(a16);
    free(a32);
    free(a4k);
    free(slab);
    /* The class: the smallest whose slots are all aligned and hold the size, at least
       align bytes (memalign(64, 8) a 64-byte slot), so that the front cache serves it. */
    void *tiny = memalign(64, 8), *kib = memalign(64, 1000);
    CHECK(malloc_usable_size(tiny) == 64 && malloc_usable_size(kib) == 1024);
    free(tiny);
    free(kib);

    long page = sysconf(_SC_PAGESIZE);
    void *v = valloc(100), *pv = pvalloc(100);
    CHECK(v && (uintptr_t)v % (uintptr_t)page == 0);
    CHECK(pv && (uintptr_t)pv % (uintptr_t)page == 0 && malloc_usable_size(pv) >= (size_t)page);
    free(v);
    free(pv);

    errno = 0;
    CHECK(aligned_alloc(24, 100) == NULL && errno == EINVAL);
    errno = 0;
    CHECK(memalign(0, 100) == NULL && errno == EINVAL);
    void *untouched = &untouched;
    CHECK(posix_memalign(&untouched, 4, 100) == EINVAL && untouched == &untouched);
    CHECK(posix_memalign(&untouched, 48, 100) == EINVAL);
    errno = 0;
    CHECK(aligned_alloc((size_t)1 << 62, 100) == NULL && errno == ENOMEM);
    puts("alignment ok");
    return 0;
}
