/* mh_stats_get while objects cross CPUs: a producer pinned to one CPU allocates, a
   consumer pinned to the other frees, and the main thread reads the statistics for a
   second. No read may count more frees than allocs, small or large, beyond SLACK, nor a
   large_live or large_live_bytes that wrapped round: the counters were read one CPU
   after another, so an object allocated on a CPU already read and freed on one read later
   counted as a free without an alloc (a review saw large_live = 2^64 - 27950 in about one
   read in 40000; with a queue of 1024 objects in flight the excess reached hundreds to
   tens of thousands). SLACK allows for the front cache's restarted sequences, each of
   which counts its operation twice (cache.h): a free ahead by 1 under a loaded test run.
   Small objects and large blocks of a bin take turns. Skipped (77) where only one CPU is
   allowed. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>

#include "mhunit.h"

#define QUEUE 1024
#define SLACK 64

static void *_Atomic queue[QUEUE];
static atomic_bool stop;
static int producer_cpu, consumer_cpu;

static size_t size_of(unsigned i) { return i % 2 ? 100 : 30000; }

static void *produce(void *arg) {
    (void)arg;
    pin_to_cpu(producer_cpu);
    for (unsigned i = 0; !atomic_load(&stop); i++) {
        char *p = malloc(size_of(i));
        CHECK(p != NULL);
        p[0] = 1;
        void *empty = NULL;
        while (!atomic_compare_exchange_weak(&queue[i % QUEUE], &empty, p)) {
            empty = NULL;
            if (atomic_load(&stop)) {
                free(p);
                return NULL;
            }
        }
    }
    return NULL;
}

static void *consume(void *arg) {
    (void)arg;
    pin_to_cpu(consumer_cpu);
    for (unsigned i = 0; !atomic_load(&stop);) {
        void *p = atomic_exchange(&queue[i % QUEUE], NULL);
        if (p) {
            free(p);
            i++;
        }
    }
    return NULL;
}

int main(void) {
    if (!two_allowed_cpus(&producer_cpu, &consumer_cpu)) return 77;
    free(malloc(1));   /* initialised before the threads */
    pthread_t prod, cons;
    CHECK(pthread_create(&prod, NULL, produce, NULL) == 0);
    CHECK(pthread_create(&cons, NULL, consume, NULL) == 0);
    long reads = 0;
    for (double end = seconds_now() + 1.0; seconds_now() < end; reads++) {
        mh_stats s = stats_now();
        if (s.frees > s.allocs + SLACK || s.large_frees > s.large_allocs + SLACK || s.large_live > (1ull << 40) ||
            s.large_live_bytes > (1ull << 50)) {
            fprintf(stderr, "read %ld: allocs %llu frees %llu, large allocs %llu frees %llu live %llu (%llu bytes)\n",
                    reads, (unsigned long long)s.allocs, (unsigned long long)s.frees,
                    (unsigned long long)s.large_allocs, (unsigned long long)s.large_frees,
                    (unsigned long long)s.large_live, (unsigned long long)s.large_live_bytes);
            return 1;
        }
    }
    atomic_store(&stop, true);
    pthread_join(prod, NULL);
    pthread_join(cons, NULL);
    for (unsigned i = 0; i < QUEUE; i++) free(atomic_exchange(&queue[i], NULL));
    mh_stats s = stats_now();
    CHECK(s.large_allocs > 0 && s.large_live == 0);
    printf("alloc.unit.stats_live: %ld reads while objects crossed CPUs, none counted a free before its alloc\n", reads);
    return 0;
}
