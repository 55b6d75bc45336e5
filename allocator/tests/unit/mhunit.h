/* The unit tests' one assertion macro and a few shared helpers. */
#ifndef MHUNIT_H
#define MHUNIT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "multiheap.h"

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
            exit(1);                                                                    \
        }                                                                               \
    } while (0)

static inline mh_stats stats_now(void) {
    mh_stats s;
    CHECK(mh_stats_get(&s) == 0);
    return s;
}

static inline mh_heap_stats heap_stats_now(unsigned heap) {
    mh_heap_stats s;
    CHECK(mh_heap_stats_get(heap, &s) == 0);
    return s;
}

/* This process's resident memory (/proc/self/statm), in KiB. */
static inline long rss_kib(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, resident = 0;
    CHECK(f && fscanf(f, "%ld %ld", &size, &resident) == 2);
    fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Sizes the compiler cannot see through, for the overflow tests. */
static volatile size_t mhunit_size_max = SIZE_MAX;
#define HUGE_SIZE(div, sub) (mhunit_size_max / (div) - (sub))

/* Fill n bytes with a pattern derived from seed, or check that pattern. */
static inline void fill(void *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) ((unsigned char *)p)[i] = (unsigned char)(seed + i * 7);
}
static inline int filled(const void *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++)
        if (((const unsigned char *)p)[i] != (unsigned char)(seed + i * 7)) return 0;
    return 1;
}

#endif
