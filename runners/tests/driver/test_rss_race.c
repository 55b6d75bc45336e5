/* driver.rss_race: mh_rss_kib is called by the RSS sampler and, during the run, by
 * workloads (growth-storm's thread 0 after every fill and free): two threads calling it
 * at once must not race. Built with ThreadSanitizer, with memory.c compiled in; a race
 * report exits 66. Its page size was a lazily set static, written by whichever thread
 * came first and read by the other without synchronisation. */
#include "driver.h"

#include <pthread.h>
#include <stdio.h>
#include <time.h>

/* What memory.c uses of the harness, which this test does not link. */
uint64_t mh_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
uint64_t mh_run_wait_start(mh_run *run)
{
    (void)run;
    return mh_now_ns();
}

static void *reader(void *arg)
{
    uint64_t *kib = arg;
    for (int i = 0; i < 20; i++)
        *kib += mh_rss_kib();
    return NULL;
}

int main(void)
{
    pthread_t a, b;
    uint64_t ka = 0, kb = 0;
    pthread_create(&a, NULL, reader, &ka);
    pthread_create(&b, NULL, reader, &kb);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    if (!ka || !kb) {
        printf("FAIL: mh_rss_kib read 0 KiB\n");
        return 1;
    }
    printf("driver.rss_race: ok\n");
    return 0;
}
