/* Empty pages go back to the OS (issue 6): a burst of small objects freed at once is
   purged while the frees run (more than MH_PURGE_RETAIN empty pages), RSS falls, and
   the purged pages are reused, zeroed and reformatted, by the next burst; with
   MULTIHEAP_PURGE_MS=off nothing is purged. Single-threaded, so one CPU's front
   cache and heap see every object. Run as "purge on" or "purge off". */
#include <string.h>
#include <unistd.h>

#include "mhunit.h"

#define BURST_BYTES ((size_t)64 << 20)
#define OBJ 256
#define NOBJ (BURST_BYTES / OBJ)

static size_t rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, resident = 0;
    CHECK(f && fscanf(f, "%lu %lu", &size, &resident) == 2);
    fclose(f);
    return resident * (size_t)sysconf(_SC_PAGESIZE);
}

static void burst(void **obj, unsigned seed) {
    for (size_t i = 0; i < NOBJ; i++) {
        obj[i] = mh_malloc(OBJ);
        CHECK(obj[i]);
        fill(obj[i], OBJ, seed + (unsigned)i);
    }
    for (size_t i = 0; i < NOBJ; i++) CHECK(filled(obj[i], OBJ, seed + (unsigned)i));
}

int main(int argc, char **argv) {
    CHECK(argc == 2);
    int purge = strcmp(argv[1], "on") == 0;
    void **obj = mh_malloc(NOBJ * sizeof *obj);   /* large: not in the small pages */
    CHECK(obj);
    burst(obj, 1);
    size_t peak = rss_bytes();
    uint64_t purged_before = stats_now().purge_bytes;
    for (size_t i = 0; i < NOBJ; i++) mh_free(obj[i]);
    size_t after = rss_bytes();
    uint64_t purged = stats_now().purge_bytes - purged_before;
    printf("peak %zu KiB, after free %zu KiB, purged %llu KiB\n", peak >> 10, after >> 10,
           (unsigned long long)(purged >> 10));
    if (!purge) {
        CHECK(purged == 0 && after > peak - BURST_BYTES / 4);
    } else {
        /* All but what the heap keeps (MH_PURGE_RETAIN pages) and the cache holds. */
        CHECK(purged >= BURST_BYTES / 2);
        CHECK(after < peak - BURST_BYTES / 2);
    }
    burst(obj, 2);   /* reuses the purged pages */
    for (size_t i = 0; i < NOBJ; i++) mh_free(obj[i]);
    mh_free(obj);
    puts("purge ok");
    return 0;
}
