/* The fast paths take the row from the thread's binding to a CPU's cache (cache.h) and
   must never use it on another CPU.
   1. What they rely on (fast_x86_64.S), on the running kernel: a thread's rseq_cs holds
      the fast paths' descriptor from its binding on, and the kernel clears it when the
      thread moves to another CPU (checked at each move of part 2); a forked child starts
      without it (init.c's handler), and a new thread that finds it in its rseq_cs before
      it ever bound takes the slow path, not a row of no CPU's.
   2. A thread pinned to CPU a, then b, then a again runs N malloc+free pairs on each:
      every free must land in the row of the CPU it runs on (exactly N pushes there,
      none anywhere else), and the mallocs too, but the first after a move, which may be
      a refill. A stale binding would count them on the CPU the thread left.
   Skipped (77) where the cache cannot run; part 2 also where only one CPU is allowed. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache.h"
#include "mhunit.h"

#define N 1000

static void pin(int cpu) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    CHECK(sched_setaffinity(0, sizeof one, &one) == 0);
    CHECK(sched_getcpu() == cpu);
}

#if MH_ASM_FAST
static uint64_t rseq_cs(void) {
    return __atomic_load_n(&mh_rseq_area()->rseq_cs, __ATOMIC_RELAXED);
}

/* A malloc+free leaves the thread bound, unless the kernel cleared it again right
   after (a preemption between the free and the check): a few tries. */
static bool binds(void) {
    for (int i = 0; i < 100; i++) {
        free(malloc(64));
        if (rseq_cs() == (uintptr_t)mh_fast_cs) return true;
    }
    return false;
}

static void fork_starts_unbound(void) {
    CHECK(binds());
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) _exit(rseq_cs() == 0 && binds() ? 0 : 1);
    int status;
    CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* A new thread may find the descriptor in its rseq_cs before it ever bound: left there by
   a dead thread whose stack glibc reuses. Its binding (mh_unbound_cache) must send the
   fast paths to C, which binds it for real. */
static void *stale_descriptor_thread(void *arg) {
    (void)arg;
    CHECK(mh_bound_cache == &mh_unbound_cache);
    __atomic_store_n(&mh_rseq_area()->rseq_cs, (uintptr_t)mh_fast_cs, __ATOMIC_RELAXED);
    char *p = malloc(64);
    CHECK(p != NULL);
    memset(p, 1, 64);
    free(p);
    CHECK(mh_bound_cache != &mh_unbound_cache);
    return NULL;
}

static void new_thread_with_stale_descriptor(void) {
    pthread_t t;
    CHECK(pthread_create(&t, NULL, stale_descriptor_thread, NULL) == 0);
    CHECK(pthread_join(t, NULL) == 0);
}
#endif

/* N pairs on cpu; the other CPU's tally must not move. */
static void pairs_on(int cpu, int other) {
#if MH_ASM_FAST
    CHECK(binds());
    int before = sched_getcpu();
    pin(cpu);   /* the thread moves inside the call, unless it ran on cpu already */
    if (before != cpu) CHECK(rseq_cs() == 0);
#else
    pin(cpu);
#endif
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
    cpu_set_t allowed;
    CHECK(sched_getaffinity(0, sizeof allowed, &allowed) == 0);
    int a = -1, b = -1;
    for (int cpu = 0; cpu < CPU_SETSIZE && b < 0; cpu++)
        if (CPU_ISSET(cpu, &allowed)) *(a < 0 ? &a : &b) = cpu;
    if (!strstr(mh_options(), "cache=rseq")) {
        printf("cache_binding: skipped, needs the front cache (%s)\n", mh_options());
        return 77;
    }
#if MH_ASM_FAST
    fork_starts_unbound();
    new_thread_with_stale_descriptor();
    printf("cache_binding: rseq_cs held the fast paths' descriptor after a malloc, a "
           "forked child started without it, a new thread that found it stale bound\n");
#endif
    if (b < 0) {
        printf("cache_binding: moves skipped, needs two CPUs\n");
        return 77;
    }
    pairs_on(a, b);
    pairs_on(b, a);
    pairs_on(a, b);   /* back to a CPU the thread was bound to before */
    return 0;
}
