/* Large blocks are one mapping each, so a program that keeps many with holes between
   them reaches the kernel's mapping limit (vm.max_map_count, 65530 by default): an
   munmap that would split a mapping then fails. Freed blocks must still give their
   memory back (it used to stay resident, about 50 MiB here) and the program must get
   NULL, not a crash, from the mallocs that find no mapping left. */
#include <string.h>
#include <unistd.h>

#include "mhunit.h"

#define N 140000            /* blocks: 70000 holes, past the default limit */
#define SIZE (MH_SMALL_MAX_BYTES + 1)

int main(void) {
    /* past a raised limit the old code passed too: nothing to prove there */
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    long limit = 0;
    CHECK(f && fscanf(f, "%ld", &limit) == 1);
    fclose(f);
    if (limit > N / 2 + 10000) {
        printf("large_map_limit: vm.max_map_count is %ld, beyond what %d blocks reach; skipped\n", limit, N);
        return 77;
    }
    static char *block[N];
    long before = rss_kib();
    int failed = 0;
    for (int i = 0; i < N; i++) {
        block[i] = malloc(SIZE);
        if (block[i]) memset(block[i], 1, 64);
        else failed++;
    }
    for (int i = 0; i < N; i += 2) free(block[i]);     /* holes: the mappings split */
    for (int i = 1; i < N; i += 2) {
        CHECK(!block[i] || block[i][63] == 1);
        free(block[i]);
    }
    sleep(1);   /* the large cache gives its blocks back after a period */
    long left = rss_kib() - before;
    printf("large_map_limit: %d blocks of %d bytes (%d mallocs failed), %ld KiB still resident after "
           "freeing them all\n", N, SIZE, failed, left);
    CHECK(left < 20 * 1024);
    return 0;
}
