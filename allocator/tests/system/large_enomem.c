/* alloc.sys.large_enomem: run under `ulimit -v` with multiheap preloaded. It fills the
 * address space with 300000-byte blocks, frees them all (into the large-block cache),
 * then asks for a bin's size and for 8 MiB at once: both must succeed, the cached blocks
 * going back to the OS first, and leave errno alone. Both used to fail with ENOMEM while
 * the cache held the freed memory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "systest.h"

#define MAX_BLOCKS 8192

int main(int argc, char **argv) {
    (void)argc;
    st_init(argv[0]);
    static void *keep[MAX_BLOCKS];
    int n = 0;
    while (n < MAX_BLOCKS && (keep[n] = malloc(300000)) != NULL) memset(keep[n++], 1, 4096);
    if (n == MAX_BLOCKS) st_fail("%d blocks fit: run it under ulimit -v", n);
    for (int i = 0; i < n; i++) free(keep[i]);
    static const size_t sizes[] = { 200000, 8 << 20 };
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        errno = 0;
        char *p = malloc(sizes[i]);
        if (!p) st_fail("malloc(%zu) failed (errno %d) after %d blocks of 300000 bytes were freed", sizes[i], errno, n);
        if (errno != 0) st_fail("malloc(%zu) succeeded but set errno to %d", sizes[i], errno);
        memset(p, 2, sizes[i]);
        free(p);
    }
    printf("large blocks after the address space ran out: %d freed, then blocks of 200000 bytes and 8 MiB\n", n);
    return 0;
}
