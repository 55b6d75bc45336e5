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
#define MAX_BLOCKS 40000

/* Growth's claim: purged pages, or fresh ones once the range is writable for them. */
static char *claim(size_t *npages, unsigned unit_pages, mh_claim *how) {
    char *p;
    while (!(p = mh_os_claim_pages(npages, unit_pages, how)) && *how == MH_CLAIM_UNCOMMITTED)
        CHECK(mh_os_commit_ahead(*npages * MH_PAGE_SIZE));
    return p;
}

static void purged_runs_split(void) {
    mh_claim how;
    size_t n = 64;
    char *run = claim(&n, MH_BIG_SLAB_PAGES, &how);
    CHECK(run && how == MH_CLAIM_FRESH && n == 64 && (uintptr_t)run % MH_BIG_SLAB_SIZE == 0);
    /* pages 1..47: unaligned, with the aligned units 16..31 and 32..47 inside */
    CHECK(mh_os_purge_pages(run + MH_PAGE_SIZE, 47));
    char *at[3];
    size_t got[3];
    for (int i = 0; i < 2; i++) {
        got[i] = MH_BIG_SLAB_PAGES;
        at[i] = claim(&got[i], MH_BIG_SLAB_PAGES, &how);
        CHECK(how == MH_CLAIM_PURGED && got[i] == MH_BIG_SLAB_PAGES);
    }
    CHECK(at[0] == run + 16 * MH_PAGE_SIZE && at[1] == run + 32 * MH_PAGE_SIZE);
    /* the 15 pages before the first unit are still there, for a page class */
    got[2] = 64;
    at[2] = claim(&got[2], 1, &how);
    CHECK(how == MH_CLAIM_PURGED && at[2] == run + MH_PAGE_SIZE && got[2] == 15);
    printf("big_slab_range: a purged run of pages 1..47 served big slabs at pages 16 and 32, "
           "then 15 pages from page 1\n");
}

/* The first of up to `most` blocks of alloc(size) that is not a small object (NULL if
   none), every one checked to read as zeros if zeroed; *count gets how many it made,
   *errno_changed how many successes changed errno. */
static void *first_large(void *(*alloc)(size_t), size_t size, bool zeroed, void **block,
                         int most, int *count, int *errno_changed) {
    for (int n = 0; n < most; n++) {
        errno = 0;
        unsigned char *p = block[n] = alloc(size);
        *count = n + (p != NULL);
        if (!p) return NULL;
        *errno_changed += errno != 0;   /* a success leaves errno alone */
        for (size_t i = 0; zeroed && i < size; i++) CHECK(p[i] == 0);
        if (!mh_is_small(p)) return p;
    }
    return NULL;
}

static void *calloc_one(size_t size) { return calloc(1, size); }
static void *memalign_16(size_t size) { return memalign(16, size); }

/* In a child with the limit: the range is reserved at its first allocation. Blocks of
   16 KiB fill it, and then 64 MiB more go on in mappings; then calloc and an aligned
   request of those sizes, which must also fall back once their class finds no room
   (another heap's free units may serve a few first). */
static void past_the_range(void) {
    static void *block[MAX_BLOCKS], *more[2][MAX_BLOCKS];
    int n = 0, errno_changed = 0, large = 0;
    while (n < MAX_BLOCKS && (size_t)large * BLOCK < ((size_t)64 << 20)) {
        errno = 0;
        if (!(block[n] = malloc(BLOCK))) break;
        errno_changed += errno != 0;
        large += !mh_is_small(block[n++]);
    }
    bool first_small = n > 0 && mh_is_small(block[0]);
    int nmore[2] = {0, 0};
    void *c = first_large(calloc_one, 12000, true, more[0], MAX_BLOCKS, &nmore[0], &errno_changed);
    void *m = first_large(memalign_16, 15000, false, more[1], MAX_BLOCKS, &nmore[1], &errno_changed);
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < nmore[k]; i++) free(more[k][i]);
    for (int i = 0; i < n; i++) free(block[i]);
    printf("big_slab_range: under ulimit -v %d, %d blocks of %d bytes (%zu MiB), %d of them in the "
           "%zu MiB small range; then %d callocs and %d memaligns to the first mapping\n", LIMIT_KIB,
           n, BLOCK, (size_t)n * BLOCK >> 20, n - large, mh_global.small_size >> 20, nmore[0], nmore[1]);
    CHECK(first_small && (size_t)(n - large) * BLOCK > mh_global.small_size / 2);
    CHECK((size_t)large * BLOCK >= ((size_t)64 << 20));
    CHECK(c && m && errno_changed == 0);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "limited") == 0) {
        past_the_range();
        return 0;
    }
    free(malloc(1));
    purged_runs_split();
    /* the range is reserved at the first allocation, in the limited process */
    rerun_limited(argv, LIMIT_KIB);
}
