/*
 * The rules of a drop-in malloc, checked through the ordinary names from a program
 * that is either linked with libmultiheap.so or not linked and run with it in
 * LD_PRELOAD. Usage: dropin PATH_OF_LIBMULTIHEAP_SO. Built with -fno-builtin so the
 * compiler keeps every call as written.
 */
#define _GNU_SOURCE
#include "multiheap.h"
#include "systest.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Sizes no allocator can serve; volatile so no compiler folds the calls. */
static volatile size_t huge_sizes[] = {SIZE_MAX, SIZE_MAX - 4096, SIZE_MAX / 2 + 1, (size_t)PTRDIFF_MAX + 1};
static volatile size_t half_plus_one = SIZE_MAX / 2 + 1, two_pow_33 = 1ull << 33;

static const size_t sizes[] = {1, 7, 8, 9, 16, 24, 100, 255, 256, 1000, 4096, 8000, 8064, 8065,
                               8192, 12345, 65536, 100000, 1 << 20, (3 << 20) + 17};
#define NSIZES (sizeof sizes / sizeof sizes[0])

static const char *family[] = {"malloc", "free", "calloc", "realloc", "reallocarray", "aligned_alloc",
                               "posix_memalign", "memalign", "valloc", "pvalloc", "malloc_usable_size"};

static void expect_enomem(void *p, const char *call)
{
    if (p) st_fail("%s succeeded; it must fail with NULL and ENOMEM", call);
    if (errno != ENOMEM) st_fail("%s returned NULL with errno %d (%s), not ENOMEM", call, errno, strerror(errno));
}

static void *checked_malloc(size_t size)
{
    void *p = malloc(size);
    if (!p) st_fail("malloc(%zu) returned NULL", size);
    return p;
}

/*
 * Run first: the process's first allocation, which initialises the library, gets a
 * block of its full size that no later allocation overlaps.
 */
static void first_allocation_is_whole(void)
{
    enum { FIRST = 1000, LATER = 64 };
    void *first = malloc(FIRST), *later[LATER];
    if (!first) st_fail("the first malloc(%d) returned NULL", FIRST);
    if (malloc_usable_size(first) < FIRST)
        st_fail("the first malloc(%d) has only %zu usable bytes", FIRST, malloc_usable_size(first));
    st_fill(first, FIRST);
    for (int i = 0; i < LATER; i++) {
        later[i] = checked_malloc(1 + i);
        st_fill(later[i], 1 + i);
    }
    st_check(first, FIRST, "the first block, after later allocations");
    for (int i = 0; i < LATER; i++) free(later[i]);
    free(first);
}

/* dlsym(RTLD_DEFAULT) finds each name in libmultiheap.so, the object dladdr names. */
static void family_served_by(const char *library)
{
    char want[PATH_MAX], got[PATH_MAX];
    if (!realpath(library, want)) st_fail("cannot resolve the library path '%s'", library);
    for (size_t i = 0; i < sizeof family / sizeof family[0]; i++) {
        void *fn = dlsym(RTLD_DEFAULT, family[i]);
        Dl_info info;
        if (!fn || !dladdr(fn, &info) || !info.dli_fname)
            st_fail("dlsym/dladdr cannot find '%s'", family[i]);
        if (!realpath(info.dli_fname, got) || strcmp(got, want) != 0)
            st_fail("'%s' is served by %s, not by %s", family[i], info.dli_fname, want);
    }
}

/* The statistics of the library that serves malloc count the program's own calls. */
static void calls_are_counted(void)
{
    enum { N = 1000 };
    int (*stats_get)(mh_stats *) = (int (*)(mh_stats *))dlsym(RTLD_DEFAULT, "mh_stats_get");
    if (!stats_get) st_fail("mh_stats_get not found: libmultiheap.so is not loaded or does not export it");
    void *p[N];
    mh_stats before, after;
    free(checked_malloc(1));   /* the statistics exist from the first allocation on */
    if (stats_get(&before) != 0) st_fail("mh_stats_get failed after allocations");
    for (int i = 0; i < N; i++) p[i] = checked_malloc(32);
    for (int i = 0; i < N; i++) free(p[i]);
    if (stats_get(&after) != 0) st_fail("mh_stats_get failed after allocations");
    if (after.allocs - before.allocs < N || after.frees - before.frees < N)
        st_fail("%d malloc/free pairs counted as %llu allocations and %llu frees", N,
                (unsigned long long)(after.allocs - before.allocs), (unsigned long long)(after.frees - before.frees));
}

static void free_preserves_errno(void)
{
    for (size_t i = 0; i < NSIZES; i++) {
        void *p = checked_malloc(sizes[i]);
        errno = EILSEQ;
        free(p);
        if (errno != EILSEQ) st_fail("free of a %zu-byte block changed errno to %d", sizes[i], errno);
    }
    errno = EILSEQ;
    free(NULL);
    if (errno != EILSEQ) st_fail("free(NULL) changed errno to %d", errno);
}

static void impossible_requests_fail_with_enomem(void)
{
    char call[96];
    for (size_t i = 0; i < sizeof huge_sizes / sizeof huge_sizes[0]; i++) {
        size_t n = huge_sizes[i];
        snprintf(call, sizeof call, "malloc(%zu)", n);
        errno = 0; expect_enomem(malloc(n), call);
        snprintf(call, sizeof call, "realloc(NULL, %zu)", n);
        errno = 0; expect_enomem(realloc(NULL, n), call);
        snprintf(call, sizeof call, "aligned_alloc(64, %zu)", n);
        errno = 0; expect_enomem(aligned_alloc(64, n), call);
        void *p = NULL;
        int err = posix_memalign(&p, 4096, n);
        if (err != ENOMEM) st_fail("posix_memalign(4096, %zu) returned %d, not ENOMEM", n, err);
    }
    errno = 0; expect_enomem(calloc(half_plus_one, 2), "calloc(SIZE_MAX/2+1, 2) (overflow)");
    errno = 0; expect_enomem(calloc(two_pow_33, two_pow_33), "calloc(2^33, 2^33) (overflow)");

    /* volatile: the block stays valid after a failed resize, which the compiler cannot know */
    void *volatile kept = checked_malloc(100);
    st_fill(kept, 100);
    errno = 0; expect_enomem(reallocarray(kept, half_plus_one, 2), "reallocarray(p, SIZE_MAX/2+1, 2) (overflow)");
    errno = 0; expect_enomem(realloc(kept, huge_sizes[1]), "realloc(p, SIZE_MAX-4096)");
    st_check(kept, 100, "block left alone by a failed realloc");
    free(kept);
}

static void null_and_zero_cases(void)
{
    void *p = realloc(NULL, 200);
    if (!p) st_fail("realloc(NULL, 200) returned NULL");
    if (malloc_usable_size(p) < 200) st_fail("realloc(NULL, 200) gave only %zu usable bytes", malloc_usable_size(p));
    st_fill(p, 200);
    st_check(p, 200, "block from realloc(NULL, 200)");
    free(p);
    if (malloc_usable_size(NULL) != 0) st_fail("malloc_usable_size(NULL) = %zu, not 0", malloc_usable_size(NULL));
    /* glibc's contract, which programs rely on: a unique, freeable pointer. */
    void *a = malloc(0), *b = malloc(0);
    if (!a || !b || a == b) st_fail("malloc(0) twice gave %p and %p: not two unique pointers", a, b);
    free(a);
    free(b);
}

static void posix_memalign_rejects_bad_alignments(void)
{
    static const size_t bad[] = {0, 1, 3, 4, 12, 24, 48, 1000, 4097};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        void *p = NULL;
        int err = posix_memalign(&p, bad[i], 64);
        if (err != EINVAL) st_fail("posix_memalign(alignment %zu) returned %d, not EINVAL", bad[i], err);
    }
}

/* What C asks of malloc: the alignment of any type that fits in the block. */
static size_t fundamental_alignment(size_t size)
{
    size_t alignment = 16;
    while (alignment > size) alignment /= 2;
    return alignment;
}

static void check_block(void *p, size_t size, size_t alignment, const char *call)
{
    if (!p) st_fail("%s(%zu) with alignment %zu returned NULL", call, size, alignment);
    if ((uintptr_t)p & (alignment - 1)) st_fail("%s(%zu) = %p is not %zu-aligned", call, size, p, alignment);
    if (malloc_usable_size(p) < size)
        st_fail("%s(%zu): malloc_usable_size = %zu < the request", call, size, malloc_usable_size(p));
    st_fill(p, size);
}

static void every_entry_point_serves_its_request(void)
{
    long page = sysconf(_SC_PAGESIZE);
    for (size_t i = 0; i < NSIZES; i++) {
        size_t n = sizes[i];
        void *p[6];
        size_t natural = fundamental_alignment(n);
        p[0] = malloc(n); check_block(p[0], n, natural, "malloc");
        p[1] = calloc(n, 1); check_block(p[1], n, natural, "calloc");
        p[2] = valloc(n); check_block(p[2], n, page, "valloc");
        p[3] = pvalloc(n); check_block(p[3], (n + page - 1) & ~(page - 1), page, "pvalloc");
        p[4] = reallocarray(NULL, n, 3); check_block(p[4], 3 * n, fundamental_alignment(3 * n), "reallocarray");
        p[5] = realloc(NULL, n); check_block(p[5], n, natural, "realloc");
        for (size_t alignment = 16; alignment <= (2u << 20); alignment *= 2) {
            void *q = aligned_alloc(alignment, n); check_block(q, n, alignment, "aligned_alloc");
            void *r = memalign(alignment, n); check_block(r, n, alignment, "memalign");
            void *s = NULL;
            if (posix_memalign(&s, alignment, n) != 0) st_fail("posix_memalign(%zu, %zu) failed", alignment, n);
            check_block(s, n, alignment, "posix_memalign");
            st_check(q, n, "aligned_alloc block");
            free(q); free(r); free(s);
        }
        for (int j = 0; j < 6; j++) free(p[j]);
    }
}

/* calloc memory is zero even where a freed, dirty block was just reused. */
static void calloc_zeroes_reused_memory(void)
{
    for (size_t i = 0; i < NSIZES; i++) {
        size_t n = sizes[i];
        for (int round = 0; round < 4; round++) {
            unsigned char *dirty = checked_malloc(n);
            memset(dirty, 0xA5, n);
            free(dirty);
            unsigned char *z = calloc(1, n);
            if (!z) st_fail("calloc(1, %zu) returned NULL", n);
            for (size_t k = 0; k < n; k++)
                if (z[k]) st_fail("calloc(1, %zu): byte %zu is 0x%02x", n, k, z[k]);
            free(z);
        }
    }
}

/* Grow and shrink across the small/large boundary; the common prefix survives. */
static void realloc_keeps_contents(void)
{
    size_t size = sizes[0];
    unsigned char *p = checked_malloc(size);
    st_fill(p, size);
    for (size_t step = 1; step < 2 * NSIZES; step++) {
        size_t next = sizes[step < NSIZES ? step : 2 * NSIZES - 1 - step];
        uint64_t seed = st_pattern_seed(p, size);
        unsigned char *q = realloc(p, next);
        if (!q) st_fail("realloc(%p, %zu) returned NULL", (void *)p, next);
        st_pattern_check(q, next < size ? next : size, seed, "contents kept by realloc");
        st_fill(q, next);
        p = q;
        size = next;
    }
    free(p);
}

int main(int argc, char **argv)
{
    st_init(argv[0]);
    first_allocation_is_whole();
    if (argc != 2) st_usage_error("usage: dropin PATH_OF_LIBMULTIHEAP_SO (the library that must serve malloc)");
    family_served_by(argv[1]);
    calls_are_counted();
    free_preserves_errno();
    impossible_requests_fail_with_enomem();
    null_and_zero_cases();
    posix_memalign_rejects_bad_alignments();
    every_entry_point_serves_its_request();
    calloc_zeroes_reused_memory();
    realloc_keeps_contents();
    printf("dropin: every rule holds, malloc family served by %s\n", argv[1]);
    return 0;
}
