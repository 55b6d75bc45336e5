/*
 * Process-wide state: lazy, thread-safe initialisation at the first allocation (other
 * libraries' constructors may call malloc before ours runs), the environment, fork
 * handlers, and the MULTIHEAP_STATS report at exit.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mh_internal.h"

mh_global_state mh_global;

/* Heap slots for MULTIHEAP_KEY=thread: room for short-lived threads to come and go
   without sharing, bounded so the slot scan stays short. */
#define THREAD_HEAPS_PER_CPU 4
#define THREAD_HEAPS_MIN     64
#define THREAD_HEAPS_MAX     4096
/* Where the copy of stderr for the exit report goes: clear of the descriptors that
   programs number from 0 up. */
#define STATS_FD_MIN 100

static void warn(const char *line) {
    ssize_t unused = write(STDERR_FILENO, line, strlen(line));
    (void)unused;
}

static int key_policy_from_env(void) {
    const char *key = getenv("MULTIHEAP_KEY");
    if (!key || !*key || strcmp(key, "cpu") == 0) return MH_KEY_CPU;
    if (strcmp(key, "thread") == 0) return MH_KEY_THREAD;
    if (strcmp(key, "global") == 0) return MH_KEY_GLOBAL;
    /* A library must not exit its host program: say so once and use the default. */
    warn("multiheap: MULTIHEAP_KEY must be cpu, thread or global; using cpu\n");
    return MH_KEY_CPU;
}

static unsigned heap_count(int policy, unsigned ncpus) {
    if (policy == MH_KEY_GLOBAL) return 1;
    if (policy == MH_KEY_CPU) return ncpus;
    unsigned n = ncpus * THREAD_HEAPS_PER_CPU;
    return n < THREAD_HEAPS_MIN ? THREAD_HEAPS_MIN : n > THREAD_HEAPS_MAX ? THREAD_HEAPS_MAX : n;
}

/* Fork: every lock is taken before, so the child inherits consistent heaps, and then
   released (parent) or reset (child, whose only thread is the one that forked). */
static void fork_prepare(void) {
    mh_heap_lock_all();
    mh_large_lock();
}
static void fork_parent(void) {
    mh_large_unlock(false);
    mh_heap_unlock_all(false);
}
static void fork_child(void) {
    mh_large_unlock(true);
    mh_heap_unlock_all(true);
    mh_key_after_fork_child();
}

static void initialise(void) {
    mh_global.key_policy = key_policy_from_env();
    const char *stats = getenv("MULTIHEAP_STATS");
    /* A private copy of stderr: programs such as GNU coreutils close fd 2 at exit,
       before library destructors run. */
    mh_global.stats_fd = stats && strcmp(stats, "1") == 0
                             ? fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, STATS_FD_MIN)
                             : -1;
    mh_global.ncpus = mh_os_possible_cpus();
    mh_global.nheaps = heap_count(mh_global.key_policy, mh_global.ncpus);
    /* Untouched anonymous memory: a heap costs nothing until it is used. */
    mh_global.heaps = mh_os_map(mh_global.nheaps * sizeof(mh_heap));
    mh_global.active_ids = mh_os_map(mh_global.nheaps * sizeof(uint32_t));
    if (mh_global.key_policy == MH_KEY_THREAD)
        mh_global.thread_owner = mh_os_map(mh_global.nheaps * sizeof(uint32_t));
    bool mapped = mh_global.heaps && mh_global.active_ids &&
                  (mh_global.key_policy != MH_KEY_THREAD || mh_global.thread_owner);
    if (!mapped || !mh_os_reserve_small())
        mh_fatal("cannot map its heaps or reserve address space at start-up (ulimit -v?)", NULL);
    mh_size_classes_init();
    /* Registered at the first malloc, before most libraries register theirs: prepare
       handlers run in reverse order, so ours runs last and theirs may still allocate. */
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

void mh_init_slow(void) {
    mh_lock_acquire(&mh_global.init_lock);
    if (!mh_global.initialised) {
        initialise();
        __atomic_store_n(&mh_global.initialised, 1, __ATOMIC_RELEASE);
    }
    mh_lock_release(&mh_global.init_lock);
}

__attribute__((destructor)) static void print_stats_at_exit(void) {
    if (__atomic_load_n(&mh_global.initialised, __ATOMIC_ACQUIRE) && mh_global.stats_fd >= 0)
        mh_stats_print(mh_global.stats_fd);
}
