/* The purger drains a row of a CPU's front cache that served nothing for a period even
   while the CPU stays busy with other classes: here one pinned thread caches objects
   of one class, then keeps allocating and freeing another; the first class's row must
   empty (it used to stay full for as long as the CPU was busy, a whole CPU having to be
   quiet), and the busy row must keep its objects. alloc.unit.stale_rows.4096cpus runs it
   as on a kernel that lists 4096 possible CPUs (MHUNIT_LAST_CPU, mhunit.h), where the
   purger's affinity masks of 1024 were refused and it drained nothing. Skipped (77)
   without the front cache or the purger. */
#define _GNU_SOURCE
#include <sched.h>
#include <string.h>
#include <time.h>

#include "mh_internal.h"
#include "mhunit.h"

#define IDLE_SIZE 3000
#define BUSY_SIZE 100
#define WAIT_MS_MAX 10000

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int main(void) {
    int cpu = pin_to_this_cpu();
    /* A heap's growth past MH_PURGE_KEEP pages starts the purger. */
    static void *p[256];
    for (int i = 0; i < 256; i++) CHECK((p[i] = malloc(IDLE_SIZE)) != NULL);
    for (int i = 0; i < 256; i++) free(p[i]);
    if (!strstr(mh_options(), "cache=rseq") || !purger_running()) {
        printf("stale_rows: skipped, needs the front cache and the purger thread (%s)\n", mh_options());
        return 77;
    }
    const mh_cache_row *idle = &mh_cache_of_cpu((unsigned)cpu)->row[mh_size_class(IDLE_SIZE)];
    const mh_cache_row *busy = &mh_cache_of_cpu((unsigned)cpu)->row[mh_size_class(BUSY_SIZE)];
    uint32_t cached = __atomic_load_n(&idle->count, __ATOMIC_RELAXED);
    CHECK(cached > 0);
    /* Busy on this CPU, another class only, no stdio meanwhile (its buffers are mallocs);
       the busy row must keep what each round frees into it. */
    uint64_t start = now_ms(), waited;
    int busy_drained = 0;
    while (__atomic_load_n(&idle->count, __ATOMIC_RELAXED) != 0 &&
           (waited = now_ms() - start) < WAIT_MS_MAX) {
        for (int i = 0; i < 64; i++) CHECK((p[i] = malloc(BUSY_SIZE)) != NULL);
        for (int i = 0; i < 64; i++) free(p[i]);
        busy_drained += __atomic_load_n(&busy->count, __ATOMIC_RELAXED) < 64;
    }
    waited = now_ms() - start;
    uint32_t left = __atomic_load_n(&idle->count, __ATOMIC_RELAXED),
             busy_count = __atomic_load_n(&busy->count, __ATOMIC_RELAXED);
    printf("stale_rows: CPU %d busy with %d-byte blocks; its row of %d-byte blocks went from %u "
           "objects to %u in %llu ms (purge period %d ms); the busy row holds %u\n", cpu,
           BUSY_SIZE, IDLE_SIZE, cached, left, (unsigned long long)waited, mh_global.purge_ms,
           busy_count);
    CHECK(left == 0);
    CHECK(busy_count >= 64 && busy_drained == 0);
    return 0;
}
