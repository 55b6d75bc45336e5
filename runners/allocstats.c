/*
 * multiheap's own statistics for the result record, read when libmultiheap
 * serves malloc. Reached through dlsym, so that mhbench runs under any
 * allocator without linking libmultiheap.
 */
#define _GNU_SOURCE
#include "json.h"
#include "multiheap.h"

#include <dlfcn.h>
#include <stdlib.h>

void mh_allocator_stats_write(mh_jw *w, const char *key);

/* multiheap's own statistics, looked up at run time: present only when it serves malloc. */
void mh_allocator_stats_write(mh_jw *w, const char *key)
{
    int (*stats_get)(mh_stats *) = (int (*)(mh_stats *))dlsym(RTLD_DEFAULT, "mh_stats_get");
    int (*heap_get)(unsigned, mh_heap_stats *) = (int (*)(unsigned, mh_heap_stats *))dlsym(RTLD_DEFAULT, "mh_heap_stats_get");
    uint64_t (*remote)(unsigned, unsigned) = (uint64_t (*)(unsigned, unsigned))dlsym(RTLD_DEFAULT, "mh_remote_frees");
    unsigned (*remote_cpus)(void) = (unsigned (*)(void))dlsym(RTLD_DEFAULT, "mh_remote_free_cpus");
    mh_stats s = {0};   /* a library older than the header leaves its newer fields zero */
    if (!stats_get || !heap_get || !remote || stats_get(&s) != 0) {
        mh_jw_null(w, key);
        return;
    }
    mh_jw_obj_begin(w, key);
    mh_jw_str(w, "key_policy", s.key_policy);
    mh_jw_int(w, "nheaps", s.nheaps);
    mh_jw_int(w, "nheaps_active", s.nheaps_active);
    mh_jw_int(w, "allocs", (long long)s.allocs);
    mh_jw_int(w, "frees", (long long)s.frees);
    mh_jw_int(w, "remote_frees", (long long)s.remote_frees);
    mh_jw_int(w, "pages_stolen", (long long)s.pages_stolen);
    mh_jw_int(w, "os_grow_calls", (long long)s.os_grow_calls);
    mh_jw_int(w, "os_grow_bytes", (long long)s.os_grow_bytes);
    mh_jw_int(w, "purge_calls", (long long)s.purge_calls);
    mh_jw_int(w, "purge_bytes", (long long)s.purge_bytes);
    mh_jw_int(w, "cache_refills", (long long)s.cache_refills);
    mh_jw_int(w, "cache_flushes", (long long)s.cache_flushes);
    mh_jw_int(w, "cached_bytes", (long long)s.cached_bytes);
    mh_jw_int(w, "stashed_bytes", (long long)s.stashed_bytes);
    mh_jw_int(w, "large_allocs", (long long)s.large_allocs);
    mh_jw_int(w, "large_frees", (long long)s.large_frees);
    mh_jw_int(w, "large_live_bytes", (long long)s.large_live_bytes);
    mh_jw_int(w, "large_os_calls", (long long)s.large_os_calls);
    mh_jw_arr_begin(w, "heaps");
    mh_heap_stats *hs = calloc(1, sizeof *hs);
    for (unsigned h = 0; hs && h < s.nheaps; h++) {
        if (heap_get(h, hs) != 0 || (hs->allocs == 0 && hs->frees == 0))
            continue;
        mh_jw_obj_begin(w, NULL);
        mh_jw_int(w, "heap", h);
        mh_jw_int(w, "allocs", (long long)hs->allocs);
        mh_jw_int(w, "frees", (long long)hs->frees);
        mh_jw_int(w, "remote_frees", (long long)hs->remote_frees);
        mh_jw_int(w, "pages_stolen", (long long)hs->pages_stolen);
        mh_jw_int(w, "pages_given", (long long)hs->pages_given);
        mh_jw_int(w, "os_grow_calls", (long long)hs->os_grow_calls);
        mh_jw_int(w, "os_grow_bytes", (long long)hs->os_grow_bytes);
        mh_jw_int(w, "purge_calls", (long long)hs->purge_calls);
        mh_jw_int(w, "purge_bytes", (long long)hs->purge_bytes);
        mh_jw_int(w, "cache_refills", (long long)hs->cache_refills);
        mh_jw_int(w, "cache_flushes", (long long)hs->cache_flushes);
        mh_jw_int(w, "cached_bytes", (long long)hs->cached_bytes);
        mh_jw_int(w, "stashed_bytes", (long long)hs->stashed_bytes);
        mh_jw_obj_end(w);
    }
    free(hs);
    mh_jw_arr_end(w);
    /* rows: the CPU the free ran on; columns: the heap that owned the object; up to the
       last row and column that hold a count: a kernel may list thousands of possible
       CPUs, and 4096 x 4096 zeros made a record of tens of megabytes. Only the rows of
       CPUs that counted one are read (mh_remote_free_cpus): reading every row faulted
       the matrix's zero pages in. */
    unsigned rows = 0, cols = 0, cpus = s.ncpus;
    if (remote_cpus) cpus = remote_cpus();   /* else a library before it: every row is read */
    for (unsigned cpu = 0; cpu < cpus; cpu++)
        for (unsigned h = 0; h < s.nheaps; h++)
            if (remote(cpu, h)) {
                rows = cpu + 1;
                if (h >= cols) cols = h + 1;
            }
    mh_jw_arr_begin(w, "remote_free_matrix");
    for (unsigned cpu = 0; cpu < rows; cpu++) {
        mh_jw_arr_begin(w, NULL);
        for (unsigned h = 0; h < cols; h++)
            mh_jw_int(w, NULL, (long long)remote(cpu, h));
        mh_jw_arr_end(w);
    }
    mh_jw_arr_end(w);
    mh_jw_obj_end(w);
}

