/*
 * Process-wide state: lazy, thread-safe initialisation at the first allocation (other
 * libraries' constructors may call malloc before ours runs), the environment, fork
 * handlers, and the MULTIHEAP_STATS report at exit.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mh_internal.h"
#include "multiheap_env.h"

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

/* Switch s from the environment (its meaning, mh_env_parse), or dflt when unset or when
   the allocator does not take the value: a library must not exit its host program, so it
   says so once and goes on. */
static long switch_from_env(mh_env_switch s, long dflt) {
    const char *v = getenv(mh_env_defs[s].name);
    if (!v || !*v) return dflt;
    long value = mh_env_parse(s, v);
    if (value != MH_ENV_INVALID) return value;
    warn("multiheap: ");
    warn(mh_env_defs[s].name);
    warn(" must be one of ");
    warn(mh_env_defs[s].values);
    warn("; using the default\n");
    return dflt;
}

/* MULTIHEAP_KEY's values mean their index in mh_env_defs. */
_Static_assert(MH_KEY_CPU == 0 && MH_KEY_THREAD == 1 && MH_KEY_GLOBAL == 2, "MULTIHEAP_KEY's order");

#define PURGE_MS_DEFAULT 250

/* mh_options(): " key=value" appended without stdio. */
static void option_text(const char *key, const char *value) {
    char *o = mh_global.options;
    size_t n = strlen(o);
    size_t need = (n ? 1 : 0) + strlen(key) + 1 + strlen(value);
    if (n + need >= sizeof mh_global.options) return;
    if (n) o[n++] = ' ';
    strcpy(o + n, key);
    strcat(o, "=");
    strcat(o, value);
}

/* The check-mode mark: from the kernel's 16 random bytes (AT_RANDOM), mixed, because
   glibc's stack canary is their first 8 bytes and the mark is written into every freed
   object; odd, so it is never a pointer a program stores in a freed object. */
static uint64_t free_mark(void) {
    uint64_t word[2] = {(uint64_t)(uintptr_t)&mh_global, 0};
    const void *random = (const void *)getauxval(AT_RANDOM);   /* unaligned */
    if (random) memcpy(word, random, sizeof word);
    uint64_t z = word[0] ^ (word[1] * 0x9E3779B97F4A7C15ull);   /* splitmix64's finaliser */
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (z ^ (z >> 31)) | 1;
}

static void options_from_env(void) {
    bool seed = switch_from_env(MH_ENV_SEED, false);
    bool cache = switch_from_env(MH_ENV_CACHE, !seed);
    bool remote_batch = switch_from_env(MH_ENV_REMOTE_BATCH, !seed);
    mh_global.purge_ms = (int)switch_from_env(MH_ENV_PURGE_MS, seed ? -1 : PURGE_MS_DEFAULT);
    mh_global.purge_thread = mh_global.purge_ms >= 0 && switch_from_env(MH_ENV_PURGE_THREAD, true);
    mh_global.large_cache = switch_from_env(MH_ENV_LARGE_CACHE, true);
    bool check = switch_from_env(MH_ENV_CHECK, false);
    bool remote_bins = switch_from_env(MH_ENV_REMOTE_BINS, true);
    const char *no_cache = cache ? mh_cache_setup() : "off";
    /* Remote batching is the front cache taking other heaps' objects, and only the front
       cache keeps freed objects outside the heap's bitmaps: nothing without it. */
    mh_global.remote_batch = !no_cache && remote_batch;
    mh_global.remote_bins = mh_global.remote_batch && remote_bins;
    mh_global.check = !no_cache && check;
    mh_global.free_mark = free_mark();
    mh_global.large_rows = !no_cache && mh_global.large_cache &&
                           (mh_global.purge_thread || mh_global.purge_ms < 0);
    /* Last: malloc reads the rest once it sees the cache on. */
    __atomic_store_n(&mh_global.cache, !no_cache, __ATOMIC_RELEASE);

    char ms[12], *d = ms + sizeof ms - 1;
    *d = 0;
    unsigned v = (unsigned)mh_global.purge_ms;
    do *--d = (char)('0' + v % 10);
    while (v /= 10);
    option_text("key", mh_key_name(mh_global.key_policy));
    option_text("cache", no_cache ? no_cache : "rseq");
    option_text("remote_batch", mh_global.remote_batch ? "on" : "off");
    option_text("purge_ms", mh_global.purge_ms < 0 ? "off" : d);
    option_text("purge_thread", mh_global.purge_thread ? "on" : "off");
    option_text("large_cache", mh_global.large_cache ? "on" : "off");
    option_text("check", mh_global.check ? "on" : "off");
    option_text("remote_bins", mh_global.remote_bins ? "on" : "off");
}

static unsigned heap_count(int policy, unsigned ncpus) {
    if (policy == MH_KEY_GLOBAL) return 1;
    if (policy == MH_KEY_CPU) return ncpus;
    unsigned n = ncpus * THREAD_HEAPS_PER_CPU;
    return n < THREAD_HEAPS_MIN ? THREAD_HEAPS_MIN : n > THREAD_HEAPS_MAX ? THREAD_HEAPS_MAX : n;
}

/* Fork: every lock is taken before, so the child inherits consistent heaps, and then
   released (parent) or reset (child, whose only thread is the one that forked). Between
   the two the forking thread may allocate (the fork window, lock.h). */
static void fork_prepare(void) {
    mh_lock_acquire(&mh_global.init_lock);   /* no initialisation half done in the child */
    mh_purger_lock();
    mh_heap_lock_all();
    mh_large_lock();
    mh_os_lock();
    mh_lock_fork_window_set(true);
}
static void fork_parent(void) {
    mh_lock_fork_window_set(false);
    mh_os_unlock(false);
    mh_large_unlock(false);
    mh_heap_unlock_all(false);
    mh_purger_unlock(false);
    mh_lock_release(&mh_global.init_lock);
}
static void fork_child(void) {
    mh_lock_fork_window_set(false);
    mh_os_unlock(true);
    mh_large_unlock(true);
    mh_heap_unlock_all(true);
    mh_key_after_fork_child();
    mh_purger_unlock(true);
    mh_lock_reset(&mh_global.init_lock);
}

/* In our constructor, or at the first malloc if that comes first: a library initialised
   before us may start threads that allocate and fork before our constructor runs, and a
   child forked without our handlers can inherit a lock another thread held. The order
   among other libraries' handlers does not matter: handlers that run after our prepare
   handler, or before our parent and child handlers, allocate in the fork window (lock.h).
   The one case this deadlocks: glibc's pthread_atfork allocates while it holds its own
   lock once its list outgrows its first block (about 48 handlers), and if that is the
   process's first malloc, our registration calls pthread_atfork again. */
static void register_fork_handlers(void) {
    static int registered;
    if (!__atomic_exchange_n(&registered, 1, __ATOMIC_ACQ_REL))
        pthread_atfork(fork_prepare, fork_parent, fork_child);
}

__attribute__((constructor)) static void register_fork_handlers_at_load(void) {
    register_fork_handlers();
}

static void initialise(void) {
    mh_global.key_policy = (int)switch_from_env(MH_ENV_KEY, MH_KEY_CPU);
    /* A private copy of stderr: programs such as GNU coreutils close fd 2 at exit,
       before library destructors run. */
    mh_global.stats_fd = switch_from_env(MH_ENV_STATS, false)
                             ? fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, STATS_FD_MIN)
                             : -1;
    struct stat st;
    if (mh_global.stats_fd >= 0 && fstat(mh_global.stats_fd, &st) == 0) {
        mh_global.stats_dev = st.st_dev;
        mh_global.stats_ino = st.st_ino;
    }
    mh_global.ncpus = mh_os_possible_cpus();
    mh_global.nheaps = heap_count(mh_global.key_policy, mh_global.ncpus);
    if (mh_global.nheaps > UINT16_MAX)   /* the page-owner map holds 16 bits */
        mh_fatal("more than 65535 possible CPUs are not supported", NULL);
    /* Untouched anonymous memory: a heap costs nothing until it is used. */
    mh_global.heaps = mh_os_map_sparse(mh_global.nheaps * sizeof(mh_heap));
    mh_global.active_ids = mh_os_map(mh_global.nheaps * sizeof(uint32_t));
    if (mh_global.key_policy == MH_KEY_THREAD)
        mh_global.thread_owner = mh_os_map(mh_global.nheaps * sizeof(uint32_t));
    bool mapped = mh_global.heaps && mh_global.active_ids &&
                  (mh_global.key_policy != MH_KEY_THREAD || mh_global.thread_owner);
    if (!mapped || !mh_os_reserve_small())
        mh_fatal("cannot map its heaps or reserve address space at start-up (ulimit -v?)", NULL);
    mh_size_classes_init();
    options_from_env();
    register_fork_handlers();
}

void mh_init_slow(void) {
    mh_lock_acquire(&mh_global.init_lock);
    if (!mh_global.initialised) {
        initialise();
        __atomic_store_n(&mh_global.initialised, 1, __ATOMIC_RELEASE);
        if (mh_global.cache && mh_global.remote_batch && !mh_global.check) {
            __atomic_store_n(&mh_global.fast_range_size, mh_global.small_size, __ATOMIC_RELEASE);
            __atomic_store_n(&mh_global.fast_size_limit, MH_SMALL_MAX + 1, __ATOMIC_RELEASE);
        }
    }
    mh_lock_release(&mh_global.init_lock);
}

MH_API const char *mh_options(void) {
    mh_ensure_init();
    return mh_global.options;
}

/* Only to the file the copy was made of: a program that closed every descriptor
   (closefrom(3)) and opened a file of its own may hold that number now, and the report
   would land in its data. */
__attribute__((destructor)) static void print_stats_at_exit(void) {
    struct stat st;
    if (__atomic_load_n(&mh_global.initialised, __ATOMIC_ACQUIRE) && mh_global.stats_fd >= 0 &&
        fstat(mh_global.stats_fd, &st) == 0 && st.st_dev == mh_global.stats_dev &&
        st.st_ino == mh_global.stats_ino)
        mh_stats_print(mh_global.stats_fd);
}
