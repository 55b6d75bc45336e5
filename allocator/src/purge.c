/*
 * The purger: a background thread that gives empty pages back to the OS once they have
 * been empty for MULTIHEAP_PURGE_MS, whether or not the program still calls malloc.
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
 * The thread is created lazily, on the first such wake-up, with every signal blocked (a
 * signal meant for the program must never run its handler on our thread), a small
 * stack, and the name "mh-purge". It sleeps on a futex while no heap holds anything to
 * give back. After fork the child has no purger; the first wake-up there creates one.
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mh_internal.h"

/* ThreadSanitizer does not model fences and says so; every access they order is atomic,
   so it has nothing to misreport. */
#pragma GCC diagnostic ignored "-Wtsan"

enum {
    PURGER_NONE = 0,    /* not created (yet, or since fork) */
    PURGER_STARTING,    /* one thread is creating it */
    PURGER_AWAKE,       /* running passes; wake-ups are not needed */
    PURGER_IDLE,        /* asleep on the futex until a wake-up */
    PURGER_FAILED,      /* could not be created: the heaps purge on their slow paths */
};

#define PURGER_STACK ((size_t)64 << 10)

static uint32_t purger_state;

static void futex(uint32_t *addr, int op, uint32_t val) {
    syscall(SYS_futex, addr, op, val, NULL, NULL, 0);
}

static void sleep_ms(unsigned ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) continue;
}

/* Is there anything a pass could give back now or later? Read without the locks: the
   wake-up side changes nempty before it looks at the state, and the thread the other
   way round, so a free that races with the thread going to sleep is seen by one. */
static bool heaps_hold_empty_pages(void) {
    for (unsigned i = 0; i < mh_active_heaps(); i++)
        if (MH_STAT_READ(mh_active_heap(i)->nempty) > MH_PURGE_KEEP) return true;
    return false;
}

static void *purger_main(void *unused) {
    (void)unused;
    prctl(PR_SET_NAME, "mh-purge");
    /* Passes every quarter of the period: a page goes back at most 1.25 periods after
       it became empty (2.5 if it was held in a quiet heap's stash). */
    unsigned interval = (unsigned)mh_global.purge_ms / 4 + 1;
    for (;;) {
        uint32_t now = mh_now_ms();
        bool pending = false;
        for (unsigned i = 0; i < mh_active_heaps(); i++)
            pending |= mh_heap_purge_pass(mh_active_heap(i), now);
        if (pending) {
            sleep_ms(interval);
            continue;
        }
        uint32_t awake = PURGER_AWAKE;
        if (!__atomic_compare_exchange_n(&purger_state, &awake, PURGER_IDLE, false,
                                         __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
            sleep_ms(interval);   /* still STARTING: the creator has not returned */
            continue;
        }
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        uint32_t idle = PURGER_IDLE;
        if (heaps_hold_empty_pages() &&
            __atomic_compare_exchange_n(&purger_state, &idle, PURGER_AWAKE, false,
                                        __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
            continue;
        while (__atomic_load_n(&purger_state, __ATOMIC_ACQUIRE) == PURGER_IDLE)
            futex(&purger_state, FUTEX_WAIT_PRIVATE, PURGER_IDLE);
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
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);   /* the new thread inherits the mask */
    int err = pthread_create(&tid, &attr, purger_main, NULL);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    pthread_attr_destroy(&attr);
    return err == 0;
}

bool mh_purger_wake(void) {
    if (!mh_global.purge_thread) return false;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    uint32_t state = __atomic_load_n(&purger_state, __ATOMIC_ACQUIRE);
    if (state == PURGER_AWAKE || state == PURGER_STARTING) return true;
    if (state == PURGER_FAILED) return false;
    if (state == PURGER_IDLE) {
        if (__atomic_compare_exchange_n(&purger_state, &state, PURGER_AWAKE, false,
                                        __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
            int saved = errno;
            futex(&purger_state, FUTEX_WAKE_PRIVATE, 1);
            errno = saved;
        }
        return true;
    }
    if (!__atomic_compare_exchange_n(&purger_state, &state, PURGER_STARTING, false,
                                     __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
        return true;   /* another thread is creating it */
    /* pthread_create may call malloc: we hold no lock here, so that is an ordinary call. */
    int saved = errno;
    bool started = purger_start();
    errno = saved;
    uint32_t starting = PURGER_STARTING;
    __atomic_compare_exchange_n(&purger_state, &starting,
                                started ? PURGER_AWAKE : PURGER_FAILED, false,
                                __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
    return started;
}

void mh_purger_after_fork_child(void) {
    __atomic_store_n(&purger_state, PURGER_NONE, __ATOMIC_RELEASE);
}
