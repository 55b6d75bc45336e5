/* A CPU's mallocs never hand out objects freed there that another CPU's heap owns (the
   remote rows, mh_cpu_cache): such an object shares its cache lines with its neighbours,
   which may be in use on their own CPU (passive false sharing). A thread allocates N
   objects on CPU a and frees them on CPU b; then every one of N mallocs on b must come
   from b's own heap and share no line with a's objects. Back on a, a's mallocs get
   objects of its own back: the remote rows' flushes returned them. With one row per
   class, b's mallocs popped a's objects, last freed first. Last, b frees a's new
   objects and goes quiet: the purger must drain b's cache, remote rows included. The
   work runs on a second thread, so that the purger's CPUs (the main thread's) are all.
   With MULTIHEAP_REMOTE_BINS=0 (alloc.unit.remote_rows.off) b's mallocs must reuse a's
   objects instead: the switch brings back the one row per class. With remote rows a
   class row must hold its CPU's heap's objects only: a flush of one hands them to that
   heap without looking up their owners (release_batch in cache.c).
   Skipped (77) where the cache cannot run or only one CPU is allowed. */
#define _GNU_SOURCE
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "mh_internal.h"
#include "mhunit.h"

#define N 2000
#define SIZE 48   /* lines shared between neighbours */

static int a, b;
static void *from_a[N], *on_b[N], *back_on_a[N];

static uintptr_t line_of(const void *p) { return (uintptr_t)p / MH_CACHE_LINE; }

static int by_address(const void *x, const void *y) {
    uintptr_t p = (uintptr_t)*(void *const *)x, q = (uintptr_t)*(void *const *)y;
    return p < q ? -1 : p > q;
}

/* Does any object of sorted[0..N) share a line with p? */
static bool shares_a_line(void *const *sorted, const void *p) {
    size_t lo = 0, hi = N;
    while (lo < hi) {   /* the first object at or after p's line */
        size_t mid = (lo + hi) / 2;
        if (line_of(sorted[mid]) < line_of(p)) lo = mid + 1;
        else hi = mid;
    }
    return (lo < N && line_of(sorted[lo]) == line_of(p)) ||
           (lo > 0 && line_of((char *)sorted[lo - 1] + SIZE - 1) == line_of(p));
}

static uint64_t stolen_by_b(void) {
    mh_heap_stats st;
    CHECK(mh_heap_stats_get((unsigned)b, &st) == 0);
    return st.pages_stolen;
}

static const mh_cache_row *remote_row_of_b(void) {
    return &mh_cache_of_cpu((unsigned)b)->row[MH_NCLASSES + mh_size_class(SIZE)];
}

/* Objects in CPU cpu's class rows that another heap owns. */
static int foreign_in_class_rows(unsigned cpu) {
    const mh_cpu_cache *c = mh_cache_of_cpu(cpu);
    int n = 0;
    for (unsigned cls = 0; cls < MH_NCLASSES; cls++) {
        uint32_t count = __atomic_load_n(&c->row[cls].count, __ATOMIC_RELAXED);
        for (uint32_t i = 0; i < count && i < MH_CACHE_SLOTS; i++)
            n += mh_page_owner(__atomic_load_n(&c->row[cls].slot[i], __ATOMIC_RELAXED)) != cpu;
    }
    return n;
}

static void *worker(void *unused) {
    (void)unused;
    pin_to_cpu(a);
    for (int i = 0; i < N; i++) CHECK((from_a[i] = malloc(SIZE)) != NULL);
    pin_to_cpu(b);
    for (int i = 0; i < N; i++) free(from_a[i]);
    int foreign = 0, sharing = 0;
    qsort(from_a, N, sizeof *from_a, by_address);
    uint64_t stolen = stolen_by_b();
    for (int i = 0; i < N; i++) {
        CHECK((on_b[i] = malloc(SIZE)) != NULL);
        foreign += mh_page_owner(on_b[i]) != (unsigned)b;
        sharing += shares_a_line(from_a, on_b[i]);
    }
    stolen = stolen_by_b() - stolen;
    pin_to_cpu(a);
    int returned = 0;
    for (int i = 0; i < N; i++) {
        CHECK((back_on_a[i] = malloc(SIZE)) != NULL);
        returned += bsearch(&back_on_a[i], from_a, N, sizeof *from_a, by_address) != NULL;
    }
    printf("remote_rows: of %d mallocs on CPU %d after it freed CPU %d's objects, %d from "
           "another heap, %d sharing a line with those objects (%llu pages stolen meanwhile); "
           "back on CPU %d, %d of its mallocs got them back\n", N, b, a, foreign, sharing,
           (unsigned long long)stolen, a, returned);
    if (!strstr(mh_options(), "remote_bins=on")) {
        CHECK(foreign > 0);
        return NULL;
    }
    /* b's heap may steal a's pages once they are empty (the purger drains a quiet heap's
       stash back to its pages): then b's objects lie where a's were, all of them free.
       Without a steal, a shared line is a neighbour of a's still in a's page. Under load
       that steal happened in 3 runs of 80 (800 objects "sharing"). */
    CHECK(foreign == 0 && (sharing == 0 || stolen > 0));
    int misplaced = foreign_in_class_rows((unsigned)a) + foreign_in_class_rows((unsigned)b);
    printf("remote_rows: %d objects of another heap in CPU %d's and %d's class rows\n", misplaced, a, b);
    CHECK(misplaced == 0);
    /* b's refills sent back most of what its remote row's flushes had not (1816 came
       back here). */
    CHECK(returned >= N / 2);
    pin_to_cpu(b);
    for (int i = 0; i < N; i++) {
        free(on_b[i]);
        free(back_on_a[i]);
    }
    CHECK(__atomic_load_n(&remote_row_of_b()->count, __ATOMIC_RELAXED) > 0);
    return NULL;
}

int main(void) {
    /* A heap's growth past MH_PURGE_KEEP pages starts the purger, from this unpinned
       thread: it drains only the CPUs its creator's thread may use. */
    void *grow[64];
    for (int i = 0; i < 64; i++) CHECK((grow[i] = malloc(4000)) != NULL);
    for (int i = 0; i < 64; i++) free(grow[i]);
    if (!two_allowed_cpus(&a, &b) || !strstr(mh_options(), "cache=rseq") ||
        !strstr(mh_options(), "purge_thread=on")) {
        printf("remote_rows: skipped, needs the front cache, the purger and two CPUs (%s)\n",
               mh_options());
        return 77;
    }
    CHECK(purger_running());
    pthread_t t;
    CHECK(pthread_create(&t, NULL, worker, NULL) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    /* No stdio while waiting: its buffers are mallocs, which would keep a CPU busy. */
    int waited_ms = 0;
    while ((mh_cache_tally_of((unsigned)b).bytes != 0 ||
            __atomic_load_n(&remote_row_of_b()->count, __ATOMIC_RELAXED) != 0) &&
           waited_ms < 10000) {
        nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
        waited_ms += 50;
    }
    if (!strstr(mh_options(), "remote_bins=on")) return 0;
    printf("remote_rows: CPU %d's cache drained by the purger after %d ms, remote row %u "
           "objects\n", b, waited_ms, __atomic_load_n(&remote_row_of_b()->count, __ATOMIC_RELAXED));
    CHECK(mh_cache_tally_of((unsigned)b).bytes == 0 && remote_row_of_b()->count == 0);
    return 0;
}
