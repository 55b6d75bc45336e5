/* calloc: overflow fails with ENOMEM, memory reads as zero even where it reuses dirty
   small slots and cached large blocks; free keeps errno; usable sizes. */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <string.h>

#include "mh_internal.h"
#include "mhunit.h"

static int all_zero(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

int main(void) {
    errno = 0;
    CHECK(calloc(HUGE_SIZE(2, 0), 3) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(calloc(HUGE_SIZE(1, 0) >> 31, (size_t)1 << 33) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(malloc(HUGE_SIZE(1, 0)) == NULL && errno == ENOMEM);

    static const size_t sizes[] = {1, 16, 200, 4000, MH_SMALL_MAX, 20000, 1 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        /* Dirty a block, free it, and calloc the same size: small slots and cached
           large blocks are reused, so this sees any missing zeroing. */
        for (int round = 0; round < 3; round++) {
            unsigned char *d = malloc(n);
            memset(d, 0xff, malloc_usable_size(d));
            free(d);
            unsigned char *z = calloc(1, n);
            CHECK(z != NULL && all_zero(z, n));
            free(z);
        }
    }

    /* Usable size: at least the request, at most the class or the mapped pages. */
    for (size_t n = 1; n < 100000; n = n * 3 / 2 + 1) {
        void *p = malloc(n);
        size_t u = malloc_usable_size(p);
        CHECK(u >= n);
        CHECK(n <= MH_SMALL_MAX ? u == mh_class_size(mh_size_class(n)) : u < n + n / 4 + 4096);
        CHECK(mh_malloc_usable_size(p) == u);
        free(p);
    }
    CHECK(malloc_usable_size(NULL) == 0);

    /* free keeps errno, for small and large blocks. */
    void *a = malloc(10), *b = malloc(100000);
    errno = 1234;
    free(a);
    free(b);
    free(NULL);
    CHECK(errno == 1234);
    puts("calloc and usable size ok");
    return 0;
}
