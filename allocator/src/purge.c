/*
 * The purger: a background thread that gives empty pages (and cached large blocks) back
 * to the OS once they have been unused for MULTIHEAP_PURGE_MS, whether or not the
 * program still calls malloc.
 *
 * Why a thread: memory can only go back "after a delay" if something acts once the
 * delay is over. Without one a heap can purge only on its own slow paths, so a program
 * that frees a lot and goes quiet keeps it all, and a program that frees in waves must
 * purge eagerly while freeing, then fault the same pages in again on the next wave (the
 * growth storm: twice the time). With the thread, the free path never makes a system
 * call for purging; it only wakes the thread when a heap first holds more than a few
 * empty pages. The heaps' own purge on their slow paths (heap.c) remains the fallback
 * when the thread is switched off (MULTIHEAP_PURGE_THREAD=0) or cannot be created.
 *
 * Besides aged empty pages, a pass gives back what a quiet program would otherwise keep
 * for ever: the objects in the front caches' rows that served nothing for a period and
 * in a quiet heap's stashes (back to their pages), a quiet heap's empty pages whatever their age, the free 4 KiB pages
 * inside its partial slabs, and large blocks cached for a period. A large malloc whose
 * mapping failed may also ask it to empty every CPU's large rows at once
 * (mh_purger_drain_large_rows): no other thread can empty another CPU's rows.
 *
 * The thread is created lazily, once a heap has grown past MH_PURGE_KEEP pages (less it
 * could never give back), with every signal blocked (a signal meant for the program
 * must never run its handler on our thread), normal scheduling, the main thread's CPUs,
 * and the name "mh-purge". It sleeps on a futex while no heap holds anything to give
 * back. After fork the child has no purger; its first heap growth creates one.
 *
 * Only malloc's paths create it, never free's: glibc calls free while it holds the lock
 * of its stack cache (a join or a thread's exit trims that cache and frees the TLS of
 * the stacks it drops), and pthread_create takes that lock. A free that created the
 * thread there deadlocked its own thread: seen in a forked child, whose first join freed
 * the TLS of the parent's threads' stacks (alloc.sys.fork with 16 threads, once in 12
 * runs on 16 CPUs and once in 60 on 2). I know of no glibc path that calls malloc
 * holding a lock pthread_create takes (the loader's, which dlopen may hold, are
 * recursive).
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mh_internal.h"

/* ThreadSanitizer does not model fences and says so; every access they order is atomic,
   so it has nothing to misreport. */
#pragma GCC diagnostic ignored "-Wtsan"

enum {
    PURGER_NONE = 0,    /* not created (yet, or since fork): the heaps purge on their slow paths */
    PURGER_STARTING,    /* one thread is creating it */
    PURGER_AWAKE,       /* running passes; wake-ups are not needed */
    PURGER_IDLE,        /* asleep on the futex until a wake-up */
    PURGER_FAILED,      /* could not be created: the heaps purge on their slow paths */
};

/* Address space only; glibc carves the static TLS of every library from it too. */
#define PURGER_STACK ((size_t)256 << 10)

/* Alone on its line: every free batch of a shrinking heap reads it. */
static _Alignas(MH_CACHE_LINE) uint32_t purger_state;

/* A forked child whose parent had a purger, until its first malloc slow path starts the
   child's own (atomic). */
static bool restart_in_child;

/* Held by fork, by a pass's work on the heaps and the large cache, and by each drain of
   a CPU's cache rows: they hold objects, slots and pages between their lock holds, which
   a child forked in the middle would lose for good. */
static mh_lock pass_lock;

/* Requests to empty every CPU's large rows (mh_purger_drain_large_rows): tickets and the
   last ticket served, each a futex word: a request wakes a purger between passes, and
   the end of the drain wakes the requesters. */
static _Alignas(MH_CACHE_LINE) uint32_t drain_asked;
static _Alignas(MH_CACHE_LINE) uint32_t drain_served;

static bool drain_pending(void) {
    return __atomic_load_n(&drain_asked, __ATOMIC_ACQUIRE) != __atomic_load_n(&drain_served, __ATOMIC_RELAXED);
}

/* An idle purger still looks once a second: a wake-up missed because the waker read
   the state before the thread's sleep was visible costs at most that (on x86 the heap
   lock's release, a locked exchange just before the read, rules it out). */
#define PURGER_IDLE_CHECK_S 1

static void futex(uint32_t *addr, int op, uint32_t val, const struct timespec *timeout) {
    syscall(SYS_futex, addr, op, val, timeout, NULL, 0);
}

/* The wait between two passes, cut short by a request to drain the rows. */
static void nap(unsigned ms) {
    uint32_t asked = __atomic_load_n(&drain_asked, __ATOMIC_ACQUIRE);
    if (asked != __atomic_load_n(&drain_served, __ATOMIC_RELAXED)) return;
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    futex(&drain_asked, FUTEX_WAIT_PRIVATE, asked, &ts);
}

/* Did a free make pages empty while the thread was deciding to sleep? Read without the
   locks: the waker changes nempty before it reads the state, the thread the other way
   round, so one of them sees the other. */
static bool heaps_hold_empty_pages(void) {
    if (!mh_os_purge_room()) return false;
    for (unsigned i = 0; i < mh_active_heaps(); i++)
        if (MH_STAT_READ(mh_active_heap(i)->nempty) > MH_PURGE_KEEP) return true;
    return false;
}

/* What the purger knows of each row of each CPU's front cache: the row's malloc + free
   count when it last changed, and when that was. Mapped at the thread's start, address
   space for every possible CPU (pages only for those it looks at); NULL: no caches. */
typedef struct row_watch {
    uint64_t ops;
    uint32_t quiet_since_ms;
    uint32_t count;                    /* objects it held then: a refill counts no operation */
} row_watch;

static row_watch *watch;

/* Has row r of CPU cpu been used since the purger last looked (w)? A refill adds
   objects without an operation; a drain only takes them. Updates w. */
static bool row_used_since(unsigned cpu, unsigned r, row_watch *w, uint32_t now, uint32_t *count) {
    uint64_t ops;
    if (!mh_cache_row_state(cpu, r, &ops, count)) return false;
    bool used = ops != w->ops || *count > w->count;
    if (used) *w = (row_watch){ops, now, *count};
    else w->count = *count;
    return used;
}

/* Where the purger runs: the CPUs the program's main thread may use (what taskset or
   the program set), not the affinity of whichever thread happened to create it. It
   visits only those CPUs. home_known: home is set (release), for other threads. The sets
   are as large as the possible CPUs need (set_bytes, mapped by the purger): the kernel
   refuses a mask shorter than its count of possible CPUs, and a cpu_set_t holds 1024, so
   on a kernel that listed more the purger read no home and visited no CPU (a review). */
static cpu_set_t *home, *one_cpu;
static size_t set_bytes;
static bool home_known;

bool mh_purger_may_visit(unsigned cpu) {
    return __atomic_load_n(&home_known, __ATOMIC_ACQUIRE) && cpu < 8 * set_bytes && CPU_ISSET_S(cpu, set_bytes, home);
}

/* Reads home; false if the sets cannot be mapped or the kernel says no. */
static bool find_home(void) {
    unsigned cpus = mh_global.ncpus > CPU_SETSIZE ? mh_global.ncpus : CPU_SETSIZE;
    set_bytes = CPU_ALLOC_SIZE(cpus);
    if (!home && !(home = mh_os_map(2 * set_bytes))) return false;   /* a forked child's purger has them */
    one_cpu = (cpu_set_t *)((char *)home + set_bytes);
    return sched_getaffinity(getpid(), set_bytes, home) == 0 || sched_getaffinity(0, set_bytes, home) == 0;
}

static void go_home(void) {
    sched_setaffinity(0, set_bytes, home);
}

/* Moves the thread to cpu alone; false if it may not run there. */
static bool run_on(unsigned cpu) {
    CPU_ZERO_S(set_bytes, one_cpu);
    CPU_SET_S(cpu, set_bytes, one_cpu);
    return sched_setaffinity(0, set_bytes, one_cpu) == 0;
}

/* Empties the rows in rows (NULL: every row) of cpu's cache, where the thread now runs
   (mh_cache_drain), holding the pass lock, which fork waits for, only while objects are
   in flight. */
static int drain_here(unsigned cpu, const uint64_t *rows) {
    mh_lock_acquire(&pass_lock);
    int drained = mh_cache_drain(cpu, rows);
    mh_lock_release(&pass_lock);
    return drained;
}

/* The objects in a row of a CPU's cache count as used in their pages, so a row the
   program stopped using would keep those pages for ever. A row that served nothing for
   a whole period is emptied by the purger itself, pinned to that CPU for the moment,
   however busy the CPU's other rows are: the sequences make this safe even if one of the
   CPU's threads uses the row meanwhile. (The whole CPU used to have to be quiet: in the
   growth storm, one CPU's cache still held 3.8 MB of classes the waves had left, 1 s
   after the last free.) The pass lock, which fork waits for, is held only while objects
   are in flight, once the thread runs on that CPU: a real-time thread that keeps the CPU
   busy delays this pass, not a fork. Returns whether a row still holds objects it may
   drain later. */
static bool drain_stale_rows(uint32_t now) {
    if (!watch) return false;
    bool pending = false, moved = false;
    for (unsigned cpu = 0; cpu < mh_global.ncpus && watch; cpu++) {
        if (!mh_purger_may_visit(cpu)) continue;
        uint64_t stale[MH_CACHE_ROW_WORDS] = {0};
        bool any = false;
        for (unsigned r = 0; r < MH_CACHE_ROWS; r++) {
            row_watch *w = &watch[(size_t)cpu * MH_CACHE_ROWS + r];
            uint32_t count = 0;
            if (row_used_since(cpu, r, w, now, &count) ||
                (count && (int32_t)(now - w->quiet_since_ms) < mh_global.purge_ms)) {
                pending = true;
            } else if (count) {
                stale[r / 64] |= (uint64_t)1 << (r % 64);
                any = true;
            }
        }
        if (!any || !run_on(cpu)) continue;
        moved = true;
        /* On the CPU now: a row its threads took up again meanwhile stays. */
        for (unsigned r = 0; r < MH_CACHE_ROWS; r++) {
            uint32_t count;
            if (stale[r / 64] >> (r % 64) & 1 &&
                row_used_since(cpu, r, &watch[(size_t)cpu * MH_CACHE_ROWS + r], now, &count))
                stale[r / 64] &= ~((uint64_t)1 << (r % 64));
        }
        int drained = drain_here(cpu, stale);
        if (drained == 0) pending = true;   /* not on cpu after all (going offline?) */
        if (drained < 0) watch = NULL;      /* this thread has no rseq area: it never can */
    }
    if (moved) go_home();
    return pending;
}

/* Serves the requests made so far: the large rows of every CPU the thread may use that
   hold blocks, however young, go back to the shared cache, for the requester to unmap
   and map anew. Only the large rows: small objects go back into the reserved small range,
   which frees no address space, and emptying every cache on 256 CPUs would spend the
   requester's wait. A thread without an rseq area can drain nothing: it stops at once. */
static void serve_drain_requests(void) {
    uint32_t asked = __atomic_load_n(&drain_asked, __ATOMIC_ACQUIRE);
    if (asked == __atomic_load_n(&drain_served, __ATOMIC_RELAXED)) return;
    uint64_t large[MH_CACHE_ROW_WORDS];
    mh_cache_large_rows(large);
    bool moved = false;
    for (unsigned cpu = 0; cpu < mh_global.ncpus; cpu++) {
        if (!mh_purger_may_visit(cpu) || mh_cache_tally_of(cpu).large_bytes == 0 || !run_on(cpu)) continue;
        moved = true;
        if (drain_here(cpu, large) < 0) break;
    }
    if (moved) go_home();
    __atomic_store_n(&drain_served, asked, __ATOMIC_RELEASE);
    futex(&drain_served, FUTEX_WAKE_PRIVATE, INT_MAX, NULL);
}

static void *purger_main(void *unused) {
    (void)unused;
    /* Without its home it visits no CPU: it still gives pages and large blocks back. */
    bool at_home = find_home();
    __atomic_store_n(&home_known, at_home, __ATOMIC_RELEASE);
    /* Named once it knows its CPUs: a program (alloc.sys.rows_elsewhere) that changes the
       main thread's affinity after the name appears leaves the purger's as they were. */
    prctl(PR_SET_NAME, "mh-purge");
    if (at_home) go_home();
    if (mh_global.cache) watch = mh_os_map_sparse((size_t)mh_global.ncpus * MH_CACHE_ROWS * sizeof *watch);
    /* Passes every quarter of the period: a page goes back at most 1.25 periods after
       it became empty, or after its heap (or CPU cache) went quiet. */
    unsigned interval = (unsigned)mh_global.purge_ms / 4 + 1;
    for (;;) {
        serve_drain_requests();
        uint32_t now = mh_now_ms();
        bool pending = drain_stale_rows(now);
        mh_lock_acquire(&pass_lock);
        pending |= mh_large_purge_pass(now);
        for (unsigned i = 0; i < mh_active_heaps(); i++)
            pending |= mh_heap_purge_pass(mh_active_heap(i), now);
        mh_lock_release(&pass_lock);
        if (pending) {
            nap(interval);
            continue;
        }
        uint32_t awake = PURGER_AWAKE;
        if (!__atomic_compare_exchange_n(&purger_state, &awake, PURGER_IDLE, false,
                                         __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
            nap(interval);   /* still STARTING: the creator has not returned */
            continue;
        }
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        uint32_t idle = PURGER_IDLE;
        if ((heaps_hold_empty_pages() || drain_pending()) &&
            __atomic_compare_exchange_n(&purger_state, &idle, PURGER_AWAKE, false,
                                        __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
            continue;
        struct timespec timeout = {PURGER_IDLE_CHECK_S, 0};
        futex(&purger_state, FUTEX_WAIT_PRIVATE, PURGER_IDLE, &timeout);
        idle = PURGER_IDLE;
        __atomic_compare_exchange_n(&purger_state, &idle, PURGER_AWAKE, false,
                                    __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
    }
    return NULL;
}

/* Creates the thread; false if it cannot be (the heaps then purge for themselves). */
static bool purger_start(void) {
    pthread_attr_t attr;
    sigset_t all, saved;
    pthread_t tid;
    if (pthread_attr_init(&attr) != 0) return false;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, PURGER_STACK);
    /* An ordinary thread, whatever the policy of the real-time thread whose malloc may
       have created it. */
    struct sched_param normal = {0};
    pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
    pthread_attr_setschedpolicy(&attr, SCHED_OTHER);
    pthread_attr_setschedparam(&attr, &normal);
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);   /* the new thread inherits the mask */
    int err = pthread_create(&tid, &attr, purger_main, NULL);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    pthread_attr_destroy(&attr);
    return err == 0;
}

bool mh_purger_wake(void) {
    if (!mh_global.purge_thread) return false;
    /* Awake, it will see the pages: the common case during a storm of frees costs one
       load. Any other state is rare enough for the fence that pairs with the thread's
       going to sleep. */
    uint32_t state = __atomic_load_n(&purger_state, __ATOMIC_RELAXED);
    if (state == PURGER_AWAKE) return true;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    state = __atomic_load_n(&purger_state, __ATOMIC_ACQUIRE);
    if (state == PURGER_AWAKE || state == PURGER_STARTING) return true;
    if (state != PURGER_IDLE) return false;
    if (__atomic_compare_exchange_n(&purger_state, &state, PURGER_AWAKE, false,
                                    __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
        int saved = errno;
        futex(&purger_state, FUTEX_WAKE_PRIVATE, 1, NULL);
        errno = saved;
    }
    return true;
}

void mh_purger_start(void) {
    uint32_t none = PURGER_NONE;
    /* Not from the fork window (lock.h): a purger made in the child's window would sleep
       on the pass lock the child then resets, beside the one its first growth makes. */
    if (!mh_global.purge_thread || mh_lock_fork_window ||
        __atomic_load_n(&purger_state, __ATOMIC_RELAXED) != none ||
        !__atomic_compare_exchange_n(&purger_state, &none, PURGER_STARTING, false,
                                     __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
        return;
    /* pthread_create calls malloc: we hold no lock here, so that is an ordinary call. */
    int saved = errno;
    bool started = purger_start();
    errno = saved;
    if (!started) __atomic_store_n(&mh_global.purger_failed, true, __ATOMIC_RELAXED);
    uint32_t starting = PURGER_STARTING;
    __atomic_compare_exchange_n(&purger_state, &starting,
                                started ? PURGER_AWAKE : PURGER_FAILED, false,
                                __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
}

void mh_purger_lock(void) {
    mh_lock_acquire(&pass_lock);
}

bool mh_purger_try_lock(void) {
    return mh_lock_try(&pass_lock);
}

void mh_purger_unlock(bool child) {
    if (!child) {
        mh_lock_release(&pass_lock);
        return;
    }
    /* The child has no purger. Its first heap growth creates one, as in any process;
       if the parent had one, so does its first malloc slow path: a child served by the
       memory it inherited may never grow, and kept its freed pages for good. */
    mh_lock_reset(&pass_lock);
    /* A parent that was itself such a child and had not restarted its purger yet passes
       the wish on (a daemon's double fork). */
    uint32_t parent = __atomic_load_n(&purger_state, __ATOMIC_RELAXED);
    if (parent != PURGER_NONE && parent != PURGER_FAILED)
        __atomic_store_n(&restart_in_child, true, __ATOMIC_RELAXED);
    __atomic_store_n(&mh_global.purger_failed, false, __ATOMIC_RELAXED);
    __atomic_store_n(&purger_state, PURGER_NONE, __ATOMIC_RELEASE);
}

void mh_purger_restart_in_child(void) {
    if (__builtin_expect(__atomic_load_n(&restart_in_child, __ATOMIC_RELAXED), 0) && !mh_lock_fork_window) {
        __atomic_store_n(&restart_in_child, false, __ATOMIC_RELAXED);
        mh_purger_start();
    }
}

void mh_purger_drain_large_rows(void) {
    if (!mh_global.caches || mh_lock_fork_window) return;
    uint32_t state = __atomic_load_n(&purger_state, __ATOMIC_ACQUIRE);
    if (state != PURGER_AWAKE && state != PURGER_IDLE) return;
    int saved = errno;
    /* The ticket before the wake, whose fence pairs with the thread's check of the
       requests between its going idle and its sleep. */
    uint32_t ticket = __atomic_add_fetch(&drain_asked, 1, __ATOMIC_SEQ_CST);
    futex(&drain_asked, FUTEX_WAKE_PRIVATE, 1, NULL);
    mh_purger_wake();
    uint32_t start = mh_now_ms();
    uint32_t served;
    while ((int32_t)((served = __atomic_load_n(&drain_served, __ATOMIC_ACQUIRE)) - ticket) < 0 &&
           mh_now_ms() - start < MH_DRAIN_WAIT_MS) {
        struct timespec step = {0, 10 * 1000000L};
        futex(&drain_served, FUTEX_WAIT_PRIVATE, served, &step);
    }
    errno = saved;
}
