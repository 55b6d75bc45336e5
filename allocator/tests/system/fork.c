/*
 * Fork from a multithreaded parent: threads keep allocating and freeing while the
 * main thread forks again and again. Each child checks and frees blocks it inherited,
 * allocates and frees on its own and from a new thread, then exits 0. A heap lock
 * held by a parent thread at the fork would hang the child: the watchdogs turn that
 * into a failure. Linked with the library, so malloc and free are multiheap's.
 */
#define _GNU_SOURCE
#include "multiheap.h"
#include "systest.h"

#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PARENT_WATCHDOG_S 100
#define CHILD_WATCHDOG_S 20
#define CHURN_SLOTS 32
#define INHERITED_BLOCKS 64

typedef struct block { void *p; size_t size; } block;

static atomic_bool stop_threads;
static atomic_uint_fast64_t parent_rounds;

static size_t random_size(st_rng *r)
{
    uint64_t pick = st_rng_below(r, 1000);
    if (pick < 900) return st_rng_range(r, 1, 512);
    if (pick < 995) return st_rng_range(r, 513, 65536);
    return st_rng_range(r, 65537, 1 << 20);
}

static block allocate(st_rng *r)
{
    size_t size = random_size(r);
    void *p = malloc(size);
    if (!p) st_fail("malloc(%zu) returned NULL", size);
    st_fill(p, size);
    return (block){p, size};
}

static void release(block *b, const char *what)
{
    st_check(b->p, b->size, what);
    free(b->p);
    b->p = NULL;
}

/* Random allocations and frees over a few live blocks; leaves nothing live. */
static void churn(st_rng *r, unsigned rounds, const char *what)
{
    block live[CHURN_SLOTS] = {0};
    for (unsigned i = 0; i < rounds; i++) {
        block *b = &live[st_rng_below(r, CHURN_SLOTS)];
        if (b->p) release(b, what);
        else *b = allocate(r);
    }
    for (unsigned i = 0; i < CHURN_SLOTS; i++)
        if (live[i].p) release(&live[i], what);
}

static void *parent_thread(void *arg)
{
    st_rng r = {(uintptr_t)arg};
    while (!atomic_load_explicit(&stop_threads, memory_order_relaxed)) {
        churn(&r, 64, "parent thread block");
        atomic_fetch_add_explicit(&parent_rounds, 1, memory_order_relaxed);
    }
    return NULL;
}

/* In the child: free blocks the child's main thread allocated, and churn. */
static void *child_thread(void *arg)
{
    block *given = arg;
    st_rng r = {(uintptr_t)given};
    for (unsigned i = 0; i < INHERITED_BLOCKS; i++)
        release(&given[i], "child block freed by the child's second thread");
    churn(&r, 1000, "child second thread block");
    return NULL;
}

static void child_main(unsigned child, block *inherited)
{
    st_watchdog(CHILD_WATCHDOG_S, "forked child");
    st_rng r = {child * 7919 + 1};
    for (unsigned i = 0; i < INHERITED_BLOCKS; i += 2)
        release(&inherited[i], "block inherited from the parent");
    churn(&r, 1000, "child main thread block");

    block *given = malloc(INHERITED_BLOCKS * sizeof *given);
    if (!given) st_fail("child %u: malloc of the handover array failed", child);
    for (unsigned i = 0; i < INHERITED_BLOCKS; i++)
        given[i] = allocate(&r);
    pthread_t t;
    if (pthread_create(&t, NULL, child_thread, given) != 0) st_fail("child %u: pthread_create failed", child);
    pthread_join(t, NULL);
    free(given);
    exit(0);
}

static void check_child(unsigned child, pid_t pid)
{
    int status;
    if (waitpid(pid, &status, 0) != pid) st_fail("waitpid for child %u failed", child);
    if (WIFSIGNALED(status))
        st_fail("child %u was killed by signal %d (%s)", child, WTERMSIG(status), strsignal(WTERMSIG(status)));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        st_fail("child %u exited with status %d", child, WEXITSTATUS(status));
}

int main(int argc, char **argv)
{
    st_init(argv[0]);
    unsigned forks = 60, threads = 3;
    static const struct option longs[] = {
        {"forks", required_argument, 0, 'f'}, {"threads", required_argument, 0, 't'}, {0, 0, 0, 0}};
    int c;
    opterr = 0;     /* our own one-line message instead of getopt's */
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        if (c == 'f') forks = st_parse_count("--forks", optarg, 1, 100000);
        else if (c == 't') threads = st_parse_count("--threads", optarg, 1, 64);
        else st_usage_error("bad option '%s'; usage: fork [--forks N] [--threads N]", argv[optind - 1]);
    }
    if (optind < argc) st_usage_error("unexpected argument '%s'; usage: fork [--forks N] [--threads N]", argv[optind]);
    st_watchdog(PARENT_WATCHDOG_S, "multithreaded parent forking");

    st_rng r = {42};
    block inherited[INHERITED_BLOCKS];
    for (unsigned i = 0; i < INHERITED_BLOCKS; i++)
        inherited[i] = allocate(&r);

    pthread_t workers[64];
    for (unsigned i = 0; i < threads; i++)
        if (pthread_create(&workers[i], NULL, parent_thread, (void *)(uintptr_t)(i + 1)) != 0)
            st_fail("pthread_create failed");
    for (unsigned child = 0; child < forks; child++) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) st_fail("fork %u failed", child);
        if (pid == 0) child_main(child, inherited);
        churn(&r, 200, "parent main thread block");
        check_child(child, pid);
    }
    atomic_store(&stop_threads, true);
    for (unsigned i = 0; i < threads; i++)
        pthread_join(workers[i], NULL);
    for (unsigned i = 0; i < INHERITED_BLOCKS; i++)
        release(&inherited[i], "parent block kept across the forks");

    mh_stats s;
    if (mh_stats_get(&s) != 0 || s.allocs + s.large_allocs < INHERITED_BLOCKS)
        st_fail("malloc was not served by multiheap (its statistics show no allocations)");
    printf("fork: %u children exited 0; parent threads ran %" PRIu64 " rounds meanwhile; key %s\n",
           forks, (uint64_t)atomic_load(&parent_rounds), s.key_policy);
    return 0;
}
