/* The page-class map's skew (MH_PAGE_CLASS_SKEW in mh_internal.h): the entries of the
   first 4 MiB of the small range never share a line offset within 4 KiB (address bits
   11..6) with the line of counts of a class row below 1120 bytes, which free stores to
   just before it loads the next entry. Read from the real addresses of the map and of a
   CPU's cache; without the skew, the 16-byte class's counts share the line of the first
   16 pages' entries. Skipped (77) where the front cache cannot run. */
#include <string.h>

#include "mh_internal.h"
#include "mhunit.h"

static unsigned line_in_os_page(const void *p) { return (unsigned)((uintptr_t)p >> 6 & 63); }

int main(void) {
    free(malloc(1));   /* initialises the library */
    if (!strstr(mh_options(), "cache=rseq")) {
        printf("page_map_skew: skipped, the front cache is off here (%s)\n", mh_options());
        return 77;
    }
    unsigned small_rows = 0;
    for (unsigned cls = 0; cls < MH_NCLASSES && mh_class_size(cls) < 1120; cls++, small_rows++) {
        const void *counts = (const char *)mh_cache_of_cpu(0) + mh_cache_row_of(cls);
        for (size_t page = 0; page < ((size_t)4 << 20) / MH_PAGE_SIZE; page++)
            CHECK(line_in_os_page(&mh_global.page_class[page]) != line_in_os_page(counts));
    }
    CHECK(small_rows == 32);
    printf("page_map_skew: the first 512 pages' entries share no line offset with the counts of %u class rows\n",
           small_rows);
    return 0;
}
