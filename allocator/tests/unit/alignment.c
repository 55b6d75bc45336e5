/* Every power-of-two alignment from 1 to 2 MiB succeeds, for small and large sizes,
   through each aligned entry point; other alignments fail with EINVAL. */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "mh_internal.h"
#include "mhunit.h"

static const size_t sizes[] = {0, 1, 8, 24, 100, 1000, 4000, 8000, MH_SMALL_MAX,
                               MH_SMALL_MAX + 1, 20000, 300000};

static void check_block(void *p, size_t align, size_t size) {
    CHECK(p != NULL);
    CHECK((uintptr_t)p % align == 0);
    CHECK(malloc_usable_size(p) >= size);
    fill(p, size, (unsigned)size);
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
    /* Cache-line aligned objects are packed: memalign(64, 1000) takes a 1920-byte slot of
       a class whose every slot is aligned, instead of the one aligned slot in 4 KiB of
       its own class. Counted as distinct pages among many at once. */
    enum { PACKED = 1000 };
    static uintptr_t packed[PACKED];
    for (int i = 0; i < PACKED; i++) {
        packed[i] = (uintptr_t)memalign(64, 1000);
        check_block((void *)packed[i], 64, 1000);
    }
    size_t pages = 0;
    for (int i = 0; i < PACKED; i++) {
        bool seen = false;
        for (int j = 0; j < i && !seen; j++) seen = packed[j] / MH_PAGE_SIZE == packed[i] / MH_PAGE_SIZE;
        pages += !seen;
    }
    printf("alignment: %d objects of memalign(64, 1000) on %zu pages of 8 KiB\n", PACKED, pages);
    CHECK(pages <= PACKED * 1920 / MH_PAGE_SIZE * 3 / 2 + 16);
    for (int i = 0; i < PACKED; i++) free((void *)packed[i]);

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
