/*
 * A stand-in allocator for the allocator_stats and variant tests: glibc's
 * malloc behind multiheap's statistics API and mh_options(), with known
 * values, so the tests do not depend on the state of libmultiheap.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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
    out->nheaps = 64;            /* possible CPUs: the driver writes the matrix up to its */
    out->nheaps_active = 2;      /* last row and column that hold a count */
    out->ncpus = 64;
    out->allocs = 7;
    out->purge_calls = 5;
    out->purge_bytes = 40960;
    out->cache_refills = 6;
    out->cache_flushes = 9;
    return 0;
}

int mh_heap_stats_get(unsigned heap, mh_heap_stats *out)
{
    memset(out, 0, sizeof *out);
    out->allocs = heap + 3;
    out->cache_refills = heap + 1;
    return heap < 2 ? 0 : -1;
}

uint64_t mh_remote_frees(unsigned cpu, unsigned heap) { return cpu < 3 && heap < 2 ? cpu * 10 + heap : 0; }

static bool switch_on(const char *var, bool dflt)
{
    const char *v = getenv(var);
    return v ? strcmp(v, "1") == 0 : dflt;
}

/* The switches as multiheap reads them, except that purging is always on: the
 * tests need a library that ignores a switch, to see the driver refuse it. */
const char *mh_options(void)
{
    static char buf[192];
    bool seed = switch_on("MULTIHEAP_SEED", false);
    const char *key = getenv("MULTIHEAP_KEY");
    snprintf(buf, sizeof buf, "key=%s cache=%s remote_batch=%s purge_ms=250 large_cache=%s", key ? key : "cpu",
             switch_on("MULTIHEAP_CACHE", !seed) ? "rseq" : "off(switched off)",
             switch_on("MULTIHEAP_REMOTE_BATCH", !seed) ? "on" : "off",
             switch_on("MULTIHEAP_LARGE_CACHE", true) ? "on" : "off");
    return buf;
}
