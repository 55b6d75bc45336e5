/* The slow paths of mh_lock (lock.h): the bounded spin and the futex sleep. */
#include "lock.h"

#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

/* About 1 us of pause instructions: longer than a malloc critical section. */
#define MH_LOCK_SPINS 100

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

/* free() must preserve errno, and a futex call sets it (EAGAIN) routinely. */
static void futex(uint32_t *addr, int op, uint32_t val) {
    int saved = errno;
    syscall(SYS_futex, addr, op, val, NULL, NULL, 0);
    errno = saved;
}

__thread bool mh_lock_fork_window __attribute__((tls_model("initial-exec")));

/* The locks the forking thread passed in the window although the fork held them (lock.h),
   innermost last. The allocator nests at most three (a stash's, its heap's, the os
   lists'); a deeper nesting means a lock taken twice, which would deadlock anyway. */
#define WINDOW_MAX 8
static __thread mh_lock *window_passed[WINDOW_MAX] __attribute__((tls_model("initial-exec")));
static __thread unsigned window_npassed __attribute__((tls_model("initial-exec")));

/* In the window a lock that is held is one the fork holds: the lock-all took every lock
   that exists, and no other thread can make one while it holds the activation lock.
   (A fork before the first malloc, whose window's malloc initialises the allocator while
   another thread allocates a large block, is the exception this cannot see.) */
static bool pass_in_window(mh_lock *l) {
    if (!mh_lock_fork_window) return false;
    if (window_npassed == WINDOW_MAX) __builtin_trap();
    window_passed[window_npassed++] = l;
    return true;
}

void mh_lock_fork_window_set(bool open) {
    mh_lock_fork_window = open;
    window_npassed = 0;
}

bool mh_lock_release_in_window(mh_lock *l) {
    for (unsigned i = window_npassed; i-- > 0;)
        if (window_passed[i] == l) {
            window_passed[i] = window_passed[--window_npassed];
            return true;
        }
    return false;
}

void mh_lock_wait(mh_lock *l) {
    if (pass_in_window(l)) return;
    for (int i = 0; i < MH_LOCK_SPINS; i++) {
        cpu_relax();
        if (__atomic_load_n(&l->state, __ATOMIC_RELAXED) == 0 && mh_lock_try(l)) return;
    }
    /* Announce a sleeper (state 2) and sleep until the lock is seen free. */
    while (__atomic_exchange_n(&l->state, 2, __ATOMIC_ACQUIRE) != 0)
        futex(&l->state, FUTEX_WAIT_PRIVATE, 2);
}

void mh_lock_wake(mh_lock *l) {
    futex(&l->state, FUTEX_WAKE_PRIVATE, 1);
}
