/* The big slabs (128 KiB units, sizes 9345 to 18704) in the small range:
   - a purged run that does not start on a 128 KiB boundary but holds an aligned unit
     serves big slabs from that unit on, and keeps the pages around it for later (growth
     used to pass such runs over, and a range fragmented so held 7 objects of 16 KiB
     instead of 26825);
   - under an address-space limit the range is half of it, and once the range is full
     the big slabs' sizes go on in mappings of their own, as they did when they were
     large blocks (they used to fail there: 223 MiB of 16 KiB blocks under
     `ulimit -v 700000`, 420 MiB before the big slabs). */
#include <errno.h>
#include <malloc.h>
#include <string.h>
#include <sys/resource.h>

#include "mh_internal.h"
#include "mhunit.h"

#define LIMIT_KIB 700000
#define BLOCK 16384
#define MAX_BLOCKS 60000

static void purged_runs_split(void) {
    bool reused;
    size_t n = 64;
    char *run = mh_os_commit_pages(&n, MH_BIG_SLAB_PAGES, &reused);
    CHECK(run && !reused && n == 64 && (uintptr_t)run % MH_BIG_SLAB_SIZE == 0);
    /* pages 1..47: unaligned, with the aligned units 16..31 and 32..47 inside */
    CHECK(mh_os_purge_pages(run + MH_PAGE_SIZE, 47));
    char *at[3];
    size_t got[3];
    for (int i = 0; i < 2; i++) {
        got[i] = MH_BIG_SLAB_PAGES;
        at[i] = mh_os_commit_pages(&got[i], MH_BIG_SLAB_PAGES, &reused);
        CHECK(reused && got[i] == MH_BIG_SLAB_PAGES);
    }
    CHECK(at[0] == run + 16 * MH_PAGE_SIZE && at[1] == run + 32 * MH_PAGE_SIZE);
    /* the 15 pages before the first unit are still there, for a page class */
    got[2] = 64;
    at[2] = mh_os_commit_pages(&got[2], 1, &reused);
    CHECK(reused && at[2] == run + MH_PAGE_SIZE && got[2] == 15);
    printf("big_slab_range: a purged run of pages 1..47 served big slabs at pages 16 and 32, "
           "then 15 pages from page 1\n");
}

/* In a child with the limit: the range is reserved at its first allocation. */
static void past_the_range(void) {
    static void *block[MAX_BLOCKS];
    int n = 0, errno_changed = 0;
    for (; n < MAX_BLOCKS; n++) {
        errno = 0;
        if (!(block[n] = malloc(BLOCK))) break;
        errno_changed += errno != 0;   /* a success leaves errno alone */
    }
    size_t small = 0;
    for (int i = 0; i < n; i++) small += mh_is_small(block[i]);
    bool first_small = n > 0 && mh_is_small(block[0]);
    /* calloc and an aligned request of those sizes fall back the same way */
    free(block[--n]);
    free(block[--n]);
    unsigned char *zeroed = calloc(1, 12000);
    void *aligned = memalign(16, 15000);
    CHECK(zeroed && aligned && !mh_is_small(zeroed) && !mh_is_small(aligned));
    for (size_t i = 0; i < 12000; i++) CHECK(zeroed[i] == 0);
    free(zeroed);
    free(aligned);
    for (int i = 0; i < n; i++) free(block[i]);
    printf("big_slab_range: under ulimit -v %d, %d blocks of %d bytes (%zu MiB; %zu in the %zu MiB "
           "small range)\n", LIMIT_KIB, n, BLOCK, (size_t)n * BLOCK >> 20, small,
           mh_global.small_size >> 20);
    CHECK(first_small && small > 0 && errno_changed == 0);
    CHECK((size_t)n * BLOCK > mh_global.small_size + ((size_t)64 << 20));
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "limited") == 0) {
        past_the_range();
        return 0;
    }
    free(malloc(1));
    purged_runs_split();
    struct rlimit rl = {(rlim_t)LIMIT_KIB << 10, (rlim_t)LIMIT_KIB << 10};
    CHECK(setrlimit(RLIMIT_AS, &rl) == 0);
    fflush(stdout);
    execl("/proc/self/exe", argv[0], "limited", (char *)NULL);
    CHECK(!"execl /proc/self/exe");
    return 1;
}
