/*
 * micro.boundary: mhmicro's pair sizes must hold every small class of the library
 * this tree builds (linked statically) and straddle its small/large boundary, i.e.
 * list pair/size:MAX and pair/size:MAX+1 where MAX is the largest small class.
 *   test_micro_boundary MHMICRO
 */
#include "multiheap.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: test_micro_boundary MHMICRO\n");
        return 2;
    }
    mh_free(mh_malloc(1));      /* statistics exist from the first allocation on */
    mh_heap_stats hs;
    if (mh_heap_stats_get(0, &hs) != 0 || hs.nclasses == 0) {
        fprintf(stderr, "micro.boundary: mh_heap_stats_get(0) failed\n");
        return 1;
    }
    unsigned max = hs.cls[hs.nclasses - 1].object_size;

    char cmd[4200], line[256], want_small[64], want_large[64];
    snprintf(cmd, sizeof cmd, "'%s' --allocator=glibc --benchmark_list_tests "
                              "--benchmark_filter='^pair/size:'", argv[1]);
    snprintf(want_small, sizeof want_small, "pair/size:%u\n", max);
    snprintf(want_large, sizeof want_large, "pair/size:%u\n", max + 1);
    FILE *p = popen(cmd, "r");
    int found = 0;
    bool listed[MH_MAX_CLASSES] = {false};
    while (p && fgets(line, sizeof line, p)) {
        found |= (strcmp(line, want_small) == 0) | (strcmp(line, want_large) == 0) << 1;
        unsigned size;
        if (sscanf(line, "pair/size:%u", &size) == 1)
            for (unsigned c = 0; c < hs.nclasses; c++) listed[c] |= hs.cls[c].object_size == size;
    }
    if (!p || pclose(p) != 0) {
        fprintf(stderr, "micro.boundary: '%s' failed\n", cmd);
        return 1;
    }
    if (max != MH_SMALL_MAX_BYTES) {
        fprintf(stderr, "micro.boundary: multiheap's largest small object is %u bytes but multiheap.h "
                        "says MH_SMALL_MAX_BYTES %d; make them agree\n", max, MH_SMALL_MAX_BYTES);
        return 1;
    }
    if (found != 3) {
        fprintf(stderr, "micro.boundary: multiheap's largest small object is %u bytes but mhmicro "
                        "does not list pair/size:%u and pair/size:%u; pair_sizes in runners/micro.c "
                        "must hold MH_SMALL_MAX_BYTES and one more\n", max, max, max + 1);
        return 1;
    }
    for (unsigned c = 0; c < hs.nclasses; c++)
        if (!listed[c]) {
            fprintf(stderr, "micro.boundary: mhmicro has no pair/size:%u for multiheap's size class "
                            "%u; pair_sizes in runners/micro.c must list every class\n",
                    hs.cls[c].object_size, c);
            return 1;
        }
    printf("micro.boundary: pair/size:%u and pair/size:%u straddle the boundary, and every one of "
           "the %u classes has its pair\n", max, max + 1, hs.nclasses);
    return 0;
}
