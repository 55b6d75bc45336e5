/* Fork while other threads grow their heaps: in every child, each page the heaps' growth
   claimed from the small range is on a heap's lists, in a heap's fresh run, or purged and
   waiting in the table to be claimed again. Growth used to claim its run before it took
   its heap's lock, and a fork between the two left the run on no list in the child, for
   good. Immediate purging (MULTIHEAP_PURGE_MS=0) makes every round of the growers grow
   again, mostly from purged runs. The statistics report's range figures are checked
   against the same census. */
#define _GNU_SOURCE
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "mh_internal.h"
#include "mhunit.h"

#define GROWERS 2
#define FORKS 1000
#define ROUND_OBJECTS 3000

static const size_t sizes[] = {48, 208, 1100, 5000, 12000};   /* pages, slabs, big slabs */
static volatile int stop;

static void *grower(void *arg) {
    static void *objs[GROWERS][ROUND_OBJECTS];
    void **obj = objs[(uintptr_t)arg];
    while (!stop) {
        for (int i = 0; i < ROUND_OBJECTS; i++) {
            unsigned char *p = obj[i] = malloc(sizes[i % 5]);
            CHECK(p != NULL);
            p[0] = 1;
        }
        for (int i = 0; i < ROUND_OBJECTS; i++) free(obj[i]);
    }
    return NULL;
}

/* Pages the heaps hold, plus the purged ones, against the pages claimed: the pages that
   are neither. Called with no other thread in the allocator (a child, or the purger
   locked out and the growers joined). */
static long lost_pages(void) {
    size_t held = 0;
    for (unsigned i = 0; i < mh_active_heaps(); i++) {
        mh_heap *h = mh_active_heap(i);
        for (unsigned c = 0; c < MH_NCLASSES; c++)
            for (unsigned l = 0; l < MH_NLISTS; l++)
                held += (size_t)h->cls[c].list[l].count * mh_class_pages(c);
        held += h->nfresh;
    }
    size_t claimed = __atomic_load_n(&mh_global.small_used, __ATOMIC_RELAXED) / MH_PAGE_SIZE;
    return (long)claimed - (long)(held + mh_os_purged_pages());
}

int main(void) {
    free(malloc(1));
    if (mh_global.purge_ms != 0) {
        fprintf(stderr, "fork_growth: run it with MULTIHEAP_PURGE_MS=0 (ctest does)\n");
        return 1;
    }
    pthread_t t[GROWERS];
    for (uintptr_t i = 0; i < GROWERS; i++) CHECK(pthread_create(&t[i], NULL, grower, (void *)i) == 0);
    int failed = 0;
    long worst = 0;
    for (int f = 0; f < FORKS; f++) {
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            long lost = lost_pages();
            /* the child's heaps still serve: a round of its own */
            for (int i = 0; i < 100; i++) free(malloc(sizes[i % 5]));
            _exit(lost == 0 ? 0 : lost > 0 && lost < 250 ? (int)lost : 250);
        }
        int status;
        CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status));
        if (WEXITSTATUS(status)) {
            failed++;
            if (WEXITSTATUS(status) > worst) worst = WEXITSTATUS(status);
        }
    }
    stop = 1;
    for (int i = 0; i < GROWERS; i++) CHECK(pthread_join(t[i], NULL) == 0);
    mh_stats s = stats_now();
    mh_purger_lock();
    long lost_here = lost_pages();
    /* The report's view of the range: what the census counted. Read back through a
       memfd, with no stdio: a malloc here may grow a heap and change both figures. */
    static char report[65536];
    int fd = memfd_create("fork_growth", 0);
    CHECK(fd >= 0);
    mh_stats_print(fd);
    CHECK(pread(fd, report, sizeof report - 1, 0) > 0);
    close(fd);
    unsigned long long claimed = 0, purged = 0;
    const char *at = strstr(report, "range_claimed_bytes=");
    CHECK(at && sscanf(at, "range_claimed_bytes=%llu range_purged_bytes=%llu", &claimed, &purged) == 2);
    CHECK(claimed == mh_global.small_used && purged == mh_os_purged_pages() * MH_PAGE_SIZE);
    CHECK(purged > 0 && purged < claimed);
    mh_purger_unlock(false);
    printf("fork_growth: %d forks during %llu growths; %d children found claimed pages on no list "
           "(up to %ld); the parent %ld\n",
           FORKS, (unsigned long long)s.os_grow_calls, failed, worst, lost_here);
    CHECK(s.os_grow_calls > FORKS);
    CHECK(lost_here == 0);
    CHECK(failed == 0);
    return 0;
}
