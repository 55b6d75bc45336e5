/* The fast paths take the row from the thread's binding to a CPU's cache (cache.h) and
   must never use it on another CPU. A thread pinned to CPU a, then b, then a again runs
   N malloc+free pairs on each: every free must land in the row of the CPU it runs on
   (exactly N pushes there, none anywhere else), and the mallocs too, but the first
   after a move, which may be a refill. A stale binding would count them on the CPU the
   thread left. Skipped (77) where the cache cannot run or only one CPU is allowed. */
#define _GNU_SOURCE
#include <string.h>

#include "mh_internal.h"
#include "mhunit.h"

#define N 1000

/* N pairs on cpu; the other CPU's tally must not move. */
static void pairs_on(int cpu, int other) {
    pin_to_cpu(cpu);
    mh_cache_tally here = mh_cache_tally_of((unsigned)cpu), there = mh_cache_tally_of((unsigned)other);
    for (int i = 0; i < N; i++) free(malloc(64));
    mh_cache_tally here_after = mh_cache_tally_of((unsigned)cpu),
                   there_after = mh_cache_tally_of((unsigned)other);
    printf("cache_binding: on CPU %d, %llu allocs and %llu frees in its cache, %llu and %llu in CPU %d's\n",
           cpu, (unsigned long long)(here_after.allocs - here.allocs),
           (unsigned long long)(here_after.frees - here.frees),
           (unsigned long long)(there_after.allocs - there.allocs),
           (unsigned long long)(there_after.frees - there.frees), other);
    CHECK(here_after.frees - here.frees == N);
    CHECK(here_after.allocs - here.allocs >= N - 1);
    CHECK(there_after.allocs == there.allocs && there_after.frees == there.frees);
}

int main(void) {
    free(malloc(1));   /* initialises the library, for mh_options() */
    int a, b;
    if (!two_allowed_cpus(&a, &b) || !strstr(mh_options(), "cache=rseq")) {
        printf("cache_binding: skipped, needs the front cache and two CPUs (%s)\n", mh_options());
        return 77;
    }
    pairs_on(a, b);
    pairs_on(b, a);
    pairs_on(a, b);   /* back to a CPU the thread was bound to before */
    return 0;
}
