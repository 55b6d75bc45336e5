/* Large blocks that aged in the large cache go back to the OS while the program goes on
   freeing, also where no purger thread runs (MULTIHEAP_PURGE_THREAD=0, or a program of
   large blocks only, which never creates one): 60 MiB of freed 100 KB blocks used to stay
   resident for good there. */
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
        free(malloc(200000));
    }
    long left = rss_mib() - before;
    printf("large_trim: %ld MiB resident after the frees, %ld MiB 0.4 s later\n", cached, left);
    CHECK(cached >= 40 && left < 10);
    return 0;
}
