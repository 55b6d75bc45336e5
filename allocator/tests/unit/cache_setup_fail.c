/* The front cache's set-up maps the caches and then words per CPU (cache_rows, its
   rows in use); when the second mapping fails, the cache is off and neither is left
   behind: the statistics, which read the caches when they exist, read those words too,
   and crashed on the missing ones. mmap is wrapped (linked with --wrap=mmap) to fail
   just that mapping. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "mh_internal.h"
#include "mhunit.h"

void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
    if (mh_global.caches && !mh_global.cache_rows && len == mh_global.ncpus * MH_CACHE_ROW_WORDS * sizeof(uint64_t)) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    return __real_mmap(addr, len, prot, flags, fd, off);
}

int main(void) {
    void *p[100];
    for (int i = 0; i < 100; i++) CHECK((p[i] = malloc(16 + 8 * i)) != NULL);
    printf("cache_setup_fail: %s\n", mh_options());
    if (!strstr(mh_options(), "cache=off(out of memory)")) {
        printf("cache_setup_fail: skipped, the front cache could not start here anyway\n");
        return 77;
    }
    CHECK(mh_global.caches == NULL && mh_global.cache_rows == NULL);
    mh_stats s = stats_now();
    CHECK(s.cached_bytes == 0);
    for (int i = 0; i < 100; i++) free(p[i]);
    CHECK(stats_now().frees >= 100);
    return 0;
}
