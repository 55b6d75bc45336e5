/* MULTIHEAP_KEY policies (the test runs once per policy, with the policy in its
   environment): the heap count, which heap a thread gets, remote frees counted in the
   CPU x heap matrix, thread slots reclaimed after threads exit, and heaps costing no
   memory before use. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mh_internal.h"
#include "mhunit.h"

static const char *policy;

static unsigned heap_index(void) { return (unsigned)(mh_current_heap() - mh_global.heaps); }

typedef struct { unsigned heap; void *obj; int tid; } thread_result;

static void *allocate(void *arg) {
    thread_result *r = arg;
    r->obj = malloc(100);
    r->heap = heap_index();
    r->tid = gettid();
    return NULL;
}

static thread_result run_thread(void) {
    thread_result r;
    pthread_t t;
    CHECK(pthread_create(&t, NULL, allocate, &r) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    return r;
}

/* Runs the calling thread on the nth CPU of set; false if there is no such CPU. (Of the
   set the thread started with: after a first pin its own affinity holds one CPU, and a
   second pin to its second CPU never ran.) */
static bool pin_to(const cpu_set_t *set, int nth) {
    for (int cpu = 0, seen = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, set) || seen++ != nth) continue;
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        CHECK(sched_setaffinity(0, sizeof one, &one) == 0);
        return true;
    }
    return false;
}

static void test_cpu(void) {
    mh_stats s = stats_now();
    CHECK(strcmp(s.key_policy, "cpu") == 0 && s.nheaps == s.ncpus);
    CHECK(s.ncpus >= (unsigned)sysconf(_SC_NPROCESSORS_ONLN));
    cpu_set_t all;
    CHECK(sched_getaffinity(0, sizeof all, &all) == 0);
    CHECK(pin_to(&all, 0));
    char *p = malloc(100);
    unsigned owner = heap_index();
    CHECK(owner == (unsigned)sched_getcpu() && mh_page_of(p)->heap == owner);
    if (pin_to(&all, 1)) {   /* a second CPU: the free there is remote, counted in the matrix */
        int cpu = sched_getcpu();
        CHECK(heap_index() == (unsigned)cpu && (unsigned)cpu != owner);
        CHECK(mh_cache_drain((unsigned)cpu, NULL) == 1);   /* remote frees of objects cached before, counted now */
        uint64_t cell = mh_remote_frees((unsigned)cpu, owner);
        uint64_t remote = heap_stats_now(owner).remote_frees;
        free(p);
        /* the front cache counts a remote free when it flushes the object to its owner */
        CHECK(mh_cache_drain((unsigned)cpu, NULL) == 1);
        CHECK(mh_remote_frees((unsigned)cpu, owner) == cell + 1);
        CHECK(heap_stats_now(owner).remote_frees == remote + 1);
    } else {
        free(p);
    }
    CHECK(sched_setaffinity(0, sizeof all, &all) == 0);
}

static void test_thread(void) {
    mh_stats s = stats_now();
    CHECK(strcmp(s.key_policy, "thread") == 0 && s.nheaps >= 64);
    unsigned main_heap = heap_index();

    /* Heaps cost nothing until used: the memory of a heap far from ours (the only
       one in use) was never touched. */
    CHECK(s.nheaps_active == 1);
    long page = sysconf(_SC_PAGESIZE);
    mh_heap *unused = &mh_global.heaps[(main_heap + s.nheaps / 2) % s.nheaps];
    uintptr_t last = (uintptr_t)unused & ~(uintptr_t)(page - 1);
    unsigned char resident = 1;
    CHECK(mincore((void *)last, (size_t)page, &resident) == 0);
    CHECK((resident & 1) == 0);

    /* Another thread gets its own heap; its free of our object is remote. */
    thread_result r = run_thread();
    CHECK(r.heap != main_heap);
    uint64_t remote = heap_stats_now(r.heap).remote_frees;
    free(r.obj);   /* main thread frees the other heap's object */
    CHECK(heap_stats_now(r.heap).remote_frees == remote + 1);
    CHECK(mh_remote_frees((unsigned)sched_getcpu(), r.heap) >= 1);

    /* More threads than slots, one after another: exited owners' slots are reclaimed,
       so every thread still owns its slot (no sharing). */
    for (unsigned i = 0; i < 2 * s.nheaps; i++) {
        r = run_thread();
        CHECK(mh_global.thread_owner[r.heap] == (uint32_t)r.tid);
        free(r.obj);
    }
    CHECK(stats_now().nheaps_active <= s.nheaps);
}

static void test_global(void) {
    mh_stats s = stats_now();
    CHECK(strcmp(s.key_policy, "global") == 0 && s.nheaps == 1);
    thread_result r = run_thread();
    CHECK(r.heap == 0 && heap_index() == 0);
    uint64_t remote = s.remote_frees;
    free(r.obj);
    CHECK(stats_now().remote_frees == remote && stats_now().nheaps_active == 1);
}

int main(int argc, char **argv) {
    CHECK(argc == 2);
    policy = argv[1];
    mh_free(mh_malloc(1));
    if (strcmp(policy, "cpu") == 0) test_cpu();
    else if (strcmp(policy, "thread") == 0) test_thread();
    else if (strcmp(policy, "global") == 0) test_global();
    else CHECK(!"policy must be cpu, thread or global");
    printf("key policy %s ok\n", policy);
    return 0;
}
