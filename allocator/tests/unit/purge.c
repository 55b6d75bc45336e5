/* Empty pages go back to the OS (issue 6). A burst of small objects is freed at once, then:
     thread  the program goes quiet; the purger thread ("mh-purge") gives the pages back
             within a few periods, RSS falls, and it empties the quiet CPU cache and
             stash, so no page of the burst's class stays in use; slabs left with one
             object each give their free 4 KiB pages back; a forked child, which has
             no purger, gets its own at its first burst and its RSS falls too, as does
             that of a child that frees the burst it inherited and mallocs a little;
     inline  MULTIHEAP_PURGE_THREAD=0: the heap purges on its slow paths while the frees
             run (past MH_PURGE_RETAIN empty pages), and nothing happens once it is quiet;
     off     MULTIHEAP_PURGE_MS=off: nothing is purged.
   Each time, the next burst reuses the purged pages (zeroed and reformatted). Single
   allocating thread, so one CPU's front cache and heap see every object.
   Linked with --wrap=pthread_create, the test also sees where the purger is created: never
   inside a free (glibc frees while it holds a lock that pthread_create takes, purge.c),
   and in thread mode once in the parent and once in the child. */
#include <dirent.h>
#include <pthread.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mhunit.h"

#define BURST_BYTES ((size_t)64 << 20)
#define OBJ 256
#define NOBJ (BURST_BYTES / OBJ)
#define WAIT_MS_MAX 5000   /* the default period is 250 ms: a pass needs at most ~3 */

static size_t rss_bytes(void) { return (size_t)rss_kib() * 1024; }

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Is one of this process's threads called "mh-purge"? */
static int purger_exists(void) {
    DIR *d = opendir("/proc/self/task");
    CHECK(d);
    int found = 0;
    for (struct dirent *e; !found && (e = readdir(d));) {
        char path[300], name[32] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        found = fgets(name, sizeof name, f) && strcmp(name, "mh-purge\n") == 0;
        fclose(f);
    }
    closedir(d);
    return found;
}

/* Set while the test frees; the purger's creations seen, and those inside a free. */
static int freeing, creations, creations_in_free;

int __real_pthread_create(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
                          void *arg) {
    creations++;
    creations_in_free += freeing;
    return __real_pthread_create(t, attr, fn, arg);
}

static void burst(void **obj, unsigned seed) {
    for (size_t i = 0; i < NOBJ; i++) {
        obj[i] = mh_malloc(OBJ);
        CHECK(obj[i]);
        fill(obj[i], OBJ, seed + (unsigned)i);
    }
    for (size_t i = 0; i < NOBJ; i++) CHECK(filled(obj[i], OBJ, seed + (unsigned)i));
}

/* Milliseconds until RSS falls below rss_target and the statistics count purge_target
   more bytes purged (the purger counts a pass's bytes after its system calls), or -1
   after WAIT_MS_MAX. */
static long wait_for_purge(size_t rss_target, uint64_t purge_target) {
    for (long ms = 0; ms <= WAIT_MS_MAX; ms += 10) {
        if (rss_bytes() < rss_target && stats_now().purge_bytes >= purge_target) return ms;
        sleep_ms(10);
    }
    return -1;
}

/* Pages of the burst's class that still hold an object (live, or in a cache or stash). */
static uint64_t burst_pages_in_use(void) {
    mh_stats all = stats_now();
    uint64_t n = 0;
    for (unsigned h = 0; h < all.nheaps; h++) {
        mh_heap_stats hs;
        if (mh_heap_stats_get(h, &hs) != 0) continue;
        for (unsigned c = 0; c < hs.nclasses; c++)
            if (hs.cls[c].object_size == OBJ) n += hs.cls[c].pages_owned - hs.cls[c].pages_empty;
    }
    return n;
}

/* Milliseconds until no page of the burst's class is in use, or -1. */
static long wait_for_caches_drained(void) {
    for (long ms = 0; ms <= WAIT_MS_MAX; ms += 10) {
        if (burst_pages_in_use() == 0) return ms;
        sleep_ms(10);
    }
    return -1;
}

/* Frees the burst, noting any purger created meanwhile (never from a free). */
static void free_burst(void **obj) {
    freeing = 1;
    for (size_t i = 0; i < NOBJ; i++) mh_free(obj[i]);
    freeing = 0;
    CHECK(creations_in_free == 0);
}

/* One burst, freed; checks what the mode promises; returns the bytes purged. */
static uint64_t burst_and_free(void **obj, unsigned seed, const char *mode, const char *who) {
    burst(obj, seed);
    size_t peak = rss_bytes();
    uint64_t purged_before = stats_now().purge_bytes;
    free_burst(obj);
    CHECK(creations == (strcmp(mode, "thread") == 0));
    size_t after_free = rss_bytes();
    long quiet_ms = strcmp(mode, "thread") == 0
                        ? wait_for_purge(peak - BURST_BYTES / 2, purged_before + BURST_BYTES / 2)
                        : 0;
    if (strcmp(mode, "inline") == 0) sleep_ms(1000);   /* quiet: nothing more may happen */
    size_t after = rss_bytes();
    uint64_t purged = stats_now().purge_bytes - purged_before;
    printf("%s %s: peak %zu KiB, after the frees %zu KiB, %ld ms later %zu KiB, purged %llu KiB\n",
           who, mode, peak >> 10, after_free >> 10, quiet_ms, after >> 10,
           (unsigned long long)(purged >> 10));
    if (strcmp(mode, "off") == 0) {
        CHECK(purged == 0 && after > peak - BURST_BYTES / 4);
    } else if (strcmp(mode, "inline") == 0) {
        /* All but what the heap retains (MH_PURGE_RETAIN pages) and the cache holds,
           during the frees themselves; none later. */
        CHECK(purged >= BURST_BYTES / 2 && after_free < peak - BURST_BYTES / 2);
        CHECK(after >= after_free - BURST_BYTES / 16);
        CHECK(!purger_exists());
    } else {
        CHECK(quiet_ms >= 0);
        CHECK(purged >= BURST_BYTES / 2);
        CHECK(purger_exists());
        /* The purger empties the quiet CPU's front cache and the heap's stash too. */
        long drained_ms = wait_for_caches_drained();
        printf("%s %s: no page of the burst's class in use %ld ms later\n", who, mode, drained_ms);
        CHECK(drained_ms >= 0);
    }
    return purged;
}

/* Thread mode: slabs of one slab class, filled, then all but the first object of each
   freed: the purger gives back the 4 KiB pages of those partial slabs that hold no object
   once the heap is quiet; the survivors keep their contents. */
#define SLAB_OBJ 5000
#define SLAB_NOBJ (BURST_BYTES / 2 / SLAB_OBJ)
static void partial_slabs(void **obj) {
    unsigned per_slab = 65440 / SLAB_OBJ;   /* 13 */
    for (size_t i = 0; i < SLAB_NOBJ; i++) {
        obj[i] = mh_malloc(SLAB_OBJ);
        CHECK(obj[i]);
        fill(obj[i], SLAB_OBJ, (unsigned)i);
    }
    size_t peak = rss_bytes();
    uint64_t purged_before = stats_now().purge_bytes;
    for (size_t i = 0; i < SLAB_NOBJ; i++)
        if (((uintptr_t)obj[i] & 0xffff) != 0) mh_free(obj[i]);   /* keep each slab's first */
    long ms = wait_for_purge(peak - BURST_BYTES / 4, purged_before + BURST_BYTES / 4);
    printf("partial slabs: peak %zu KiB, %ld ms after freeing %u of every %u objects %zu KiB\n",
           peak >> 10, ms, per_slab - 1, per_slab, rss_bytes() >> 10);
    CHECK(ms >= 0);
    for (size_t i = 0; i < SLAB_NOBJ; i++)
        if (((uintptr_t)obj[i] & 0xffff) == 0) {
            CHECK(filled(obj[i], SLAB_OBJ, (unsigned)i));
            mh_free(obj[i]);
        }
}

/* The exit status of a child that ran fn in a fork of this process. */
static int in_child(void (*fn)(void **), void **obj) {
    fflush(stdout);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        fn(obj);
        fflush(stdout);
        _exit(0);
    }
    int status;
    CHECK(waitpid(child, &status, 0) == child);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Thread mode: a child's own burst; burst_and_free checks that it has its own purger. */
static void burst_in_child(void **obj) {
    creations = 0;
    burst_and_free(obj, 3, "thread", "child");
}

/* Thread mode: a child that frees the burst it inherited and then mallocs a little,
   which its inherited memory serves without growing: its first malloc slow path starts
   its purger (its frees must not), and its RSS falls. Before, only growth started one,
   and such a child kept the burst's pages for good. */
static void free_inherited(void **obj) {
    creations = 0;
    size_t peak = rss_bytes();
    uint64_t purged_before = stats_now().purge_bytes;
    free_burst(obj);
    CHECK(creations == 0);
    void *q = mh_malloc(3000);   /* a class of its own: the front cache's slow path */
    CHECK(q && creations == 1);
    /* The frees' own slow paths purge much of it; emptying the quiet CPU's cache and
       the stash, so that no page of the burst stays in use, is the purger's work. */
    long ms = wait_for_purge(peak - BURST_BYTES / 2, purged_before + BURST_BYTES / 2);
    long drained_ms = wait_for_caches_drained();
    printf("child of the burst: peak %zu KiB, %ld ms after freeing it %zu KiB, no page of it in use "
           "%ld ms later\n", peak >> 10, ms, rss_bytes() >> 10, drained_ms);
    CHECK(ms >= 0 && drained_ms >= 0);
    mh_free(q);
}

/* The same in a grandchild whose parent forked before any malloc of its own (a daemon's
   double fork): the child's wish for a purger passes on. */
static void fork_again(void **obj) {
    CHECK(in_child(free_inherited, obj) == 0);
}

static void inherited_burst(void **obj) {
    burst(obj, 4);
    CHECK(in_child(free_inherited, obj) == 0);
    CHECK(in_child(fork_again, obj) == 0);
    for (size_t i = 0; i < NOBJ; i++) mh_free(obj[i]);
}

int main(int argc, char **argv) {
    CHECK(argc == 2);
    const char *mode = argv[1];
    CHECK(strcmp(mode, "thread") == 0 || strcmp(mode, "inline") == 0 || strcmp(mode, "off") == 0);
    void **obj = mh_malloc(NOBJ * sizeof *obj);   /* large: not in the small pages */
    CHECK(obj);
    burst_and_free(obj, 1, mode, "parent");
    burst_and_free(obj, 2, mode, "parent");   /* reuses the purged pages */
    if (strcmp(mode, "thread") == 0) {
        partial_slabs(obj);
        CHECK(in_child(burst_in_child, obj) == 0);
        inherited_burst(obj);
    }
    mh_free(obj);
    puts("purge ok");
    return 0;
}
