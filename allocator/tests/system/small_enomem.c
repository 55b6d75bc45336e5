/* alloc.sys.small_enomem: run under `ulimit -v` with multiheap preloaded. It fills the
 * address space with small objects of one size until malloc fails, frees them all, then
 * does the same with a size whose units are of the other kind (64-byte objects live in
 * 8 KiB pages, 4000-byte ones in 64 KiB slabs), and back. Each fill after the first must
 * get at least half the bytes of the first: the freed units serve the other kind once
 * they went back to the OS. Before, the second fill got nothing (ENOMEM with every page
 * empty) until the purger had run, and for good without one (MULTIHEAP_PURGE_MS=off, the
 * seed design). Every allocation that succeeds must leave errno alone. usage: small_enomem
 * SIZE_A SIZE_B */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "systest.h"

#define MAX_OBJECTS (4u << 20)

static void **held;   /* mapped, not malloc'd: the fills must not compete with it */

/* Object i of the fill: malloc, calloc and memalign take turns (calloc and memalign
   once set errno on success when the range ran out, where a refill got part of its
   batch). */
static void *alloc_one(size_t size, size_t i) {
    return i % 3 == 0 ? malloc(size) : i % 3 == 1 ? calloc(1, size) : memalign(16, size);
}

/* Allocates objects of size until an allocation fails; frees them; returns the bytes it
   got. A success leaves errno alone, a failure sets ENOMEM. */
static size_t fill_and_free(size_t size) {
    size_t n = 0;
    for (; n < MAX_OBJECTS; n++) {
        errno = 0;
        if (!(held[n] = alloc_one(size, n))) break;
        if (errno) st_fail("allocation %zu of %zu bytes succeeded but set errno to %d", n, size, errno);
        memset(held[n], 1, size);
    }
    if (n == MAX_OBJECTS) st_fail("%u objects of %zu bytes fit: run it under ulimit -v", MAX_OBJECTS, size);
    if (errno != ENOMEM) st_fail("allocation %zu of %zu bytes failed with errno %d, not ENOMEM", n, size, errno);
    for (size_t i = 0; i < n; i++) free(held[i]);
    return n * size;
}

int main(int argc, char **argv) {
    st_init(argv[0]);
    if (argc != 3) st_usage_error("usage: small_enomem SIZE_A SIZE_B");
    size_t a = st_parse_count("SIZE_A", argv[1], 1, 8192), b = st_parse_count("SIZE_B", argv[2], 1, 8192);
    held = mmap(NULL, MAX_OBJECTS * sizeof *held, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (held == MAP_FAILED) st_fail("cannot map the object table");
    size_t first = fill_and_free(a), second = fill_and_free(b), third = fill_and_free(a);
    if (second < first / 2 || third < first / 2)
        st_fail("%zu-byte objects got %zu MiB, then %zu-byte ones %zu MiB, then %zu-byte ones %zu MiB: "
                "the freed units did not serve the other kind", a, first >> 20, b, second >> 20, a, third >> 20);
    printf("small objects after the address space ran out: %zu MiB of %zu bytes, then %zu MiB of %zu, then %zu MiB of %zu\n",
           first >> 20, a, second >> 20, b, third >> 20, a);
    return 0;
}
