/*
 * A stand-in allocator for the allocator_stats test: glibc's malloc behind
 * multiheap's statistics API, with known values, so the test does not depend
 * on the state of libmultiheap.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "multiheap.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void  __libc_free(void *);

void *malloc(size_t n) { return __libc_malloc(n); }
void *calloc(size_t n, size_t m) { return __libc_calloc(n, m); }
void *realloc(void *p, size_t n) { return __libc_realloc(p, n); }
void  free(void *p) { __libc_free(p); }

const char *mh_version(void) { return "fake-stats 1"; }

int mh_stats_get(mh_stats *out)
{
    memset(out, 0, sizeof *out);
    out->key_policy = "cpu";
    out->nheaps = 2;
    out->nheaps_active = 2;
    out->ncpus = 2;
    out->allocs = 7;
    return 0;
}

int mh_heap_stats_get(unsigned heap, mh_heap_stats *out)
{
    memset(out, 0, sizeof *out);
    out->allocs = heap + 3;
    return heap < 2 ? 0 : -1;
}

uint64_t mh_remote_frees(unsigned cpu, unsigned heap) { return cpu * 10 + heap; }
