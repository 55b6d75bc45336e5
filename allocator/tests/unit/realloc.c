/* realloc: shrink and grow in place or not, small <-> large, large growth by mremap,
   contents kept; realloc(NULL, n) and realloc(p, 0); reallocarray overflow. */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <string.h>

#include "mh_internal.h"
#include "mhunit.h"

/* Grows or shrinks p through the given sizes, checking the kept prefix each time. */
static void *walk(void *p, size_t have, const size_t *sizes, size_t n) {
    for (size_t i = 0; i < n; i++) {
        size_t keep = have < sizes[i] ? have : sizes[i];
        void *q = realloc(p, sizes[i]);
        CHECK(q != NULL);
        CHECK(filled(q, keep, 42));
        CHECK(malloc_usable_size(q) >= sizes[i]);
        /* a large block shrunk to a small size becomes a small object, and back */
        CHECK(mh_is_small(q) == (sizes[i] <= MH_SMALL_MAX));
        fill(q, sizes[i], 42);
        p = q;
        have = sizes[i];
    }
    return p;
}

int main(void) {
    static const size_t sizes[] = {1,     7,     17,      100,     1000,    8000,   MH_SMALL_MAX,
                                   9000,  65536, 1 << 20, 3 << 20, 100000, 5000, 64,
                                   MH_SMALL_MAX + 1, 16, 5 << 20, 1};
    void *p = malloc(1);
    fill(p, 1, 42);
    p = walk(p, 1, sizes, sizeof sizes / sizeof sizes[0]);
    free(p);

    /* A small shrink stays in place; a shrink to less than half moves. */
    char *s = malloc(1000);
    char *same = realloc(s, 900);
    CHECK(same == s);
    fill(same, 900, 42);
    char *t = realloc(same, 100);
    CHECK(t != NULL && filled(t, 100, 42));
    free(t);

    /* Large growth goes through mremap: no copy, and the table follows the block. */
    mh_stats before = stats_now();
    char *big = malloc(1 << 20);
    fill(big, 1 << 20, 42);
    big = realloc(big, 8 << 20);
    CHECK(big != NULL && filled(big, 1 << 20, 42));
    CHECK(malloc_usable_size(big) >= (8u << 20));
    mh_stats after = stats_now();
    CHECK(after.large_live == before.large_live + 1);
    CHECK(after.large_os_calls > before.large_os_calls);
    free(big);
    CHECK(stats_now().large_live == before.large_live);

    /* realloc(NULL, n) is malloc; realloc(p, 0) frees p and returns NULL (glibc). */
    void *m = realloc(NULL, 50);
    CHECK(m != NULL && malloc_usable_size(m) >= 50);
    uint64_t frees = stats_now().frees;
    CHECK(realloc(m, 0) == NULL);
    CHECK(stats_now().frees == frees + 1);

    errno = 0;
    void *r = malloc(10);
    CHECK(reallocarray(r, HUGE_SIZE(2, 0), 3) == NULL && errno == ENOMEM);
    r = reallocarray(r, 10, 10);
    CHECK(r != NULL && malloc_usable_size(r) >= 100);
    free(r);
    errno = 0;
    CHECK(realloc(NULL, HUGE_SIZE(1, 100)) == NULL && errno == ENOMEM);
    puts("realloc ok");
    return 0;
}
