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

void mh_lock_wait(mh_lock *l) {
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
