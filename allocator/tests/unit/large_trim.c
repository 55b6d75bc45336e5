/* Large blocks that aged in the large cache go back to the OS while the program goes on
   freeing, also where no purger thread runs (MULTIHEAP_PURGE_THREAD=0): 60 MiB of freed
   100 KB blocks used to stay resident for good there. The frees that go on are of a size above the large bins:
   a bin's blocks go to the CPU's large row and reach the shared cache only in batches
   (the rows, like the small objects' rows, are drained by the purger thread alone). */
#include <string.h>
#include <unistd.h>

#include "mhunit.h"

#define N 600

static long rss_mib(void) { return rss_kib() / 1024; }

int main(void) {
    static char *p[N];
    long before = rss_mib();
    for (int i = 0; i < N; i++) {
        p[i] = malloc(100000 + (size_t)i * 16);
        memset(p[i], 1, 100000);
    }
    for (int i = 0; i < N; i++) free(p[i]);
    long cached = rss_mib() - before;
    for (int k = 0; k < 20; k++) {   /* still active: a large free now and then */
        usleep(20000);
        free(malloc(300000));
    }
    long left = rss_mib() - before;
    printf("large_trim: %ld MiB resident after the frees, %ld MiB 0.4 s later\n", cached, left);
    /* A CPU's shard of the cache keeps 8 MiB or more (32 on 2 CPUs). */
    CHECK(cached >= 6 && left * 4 < cached);
    return 0;
}
