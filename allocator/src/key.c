/*
 * Which heap a thread allocates from: the key policy (MULTIHEAP_KEY).
 *   cpu     the CPU the thread runs on: glibc's rseq area, else sched_getcpu()
 *   thread  one heap slot per thread; a thread that finds no free slot reclaims the
 *           slot of a thread that has exited (no pthread keys: they allocate), and
 *           when every owner is alive it shares a slot chosen by hashing its tid
 *   global  heap 0 for everybody
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mh_internal.h"

static MH_TLS uint32_t thread_slot_plus1;  /* MH_KEY_THREAD: this thread's slot + 1, 0: none */

int mh_current_cpu(void) {
    if (__rseq_size > 0) {
        struct rseq *rs = (struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
        int cpu = (int)__atomic_load_n(&rs->cpu_id, __ATOMIC_RELAXED);
        if (cpu >= 0) return cpu;
    }
    int cpu = sched_getcpu();
    return cpu < 0 ? 0 : cpu;
}

static bool thread_is_gone(uint32_t tid) {
    int saved = errno;
    bool gone = syscall(SYS_tgkill, getpid(), (pid_t)tid, 0) != 0 && errno == ESRCH;
    errno = saved;
    return gone;
}

static unsigned claim_thread_slot(void) {
    uint32_t *owner = mh_global.thread_owner;
    uint32_t tid = (uint32_t)gettid();
    unsigned n = mh_global.nheaps, start = tid % n;
    for (unsigned k = 0; k < n; k++) {
        unsigned i = (start + k) % n;
        uint32_t free_slot = 0;
        if (__atomic_load_n(&owner[i], __ATOMIC_RELAXED) == 0 &&
            __atomic_compare_exchange_n(&owner[i], &free_slot, tid, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED))
            return i;
    }
    for (unsigned k = 0; k < n; k++) {
        unsigned i = (start + k) % n;
        uint32_t old = __atomic_load_n(&owner[i], __ATOMIC_RELAXED);
        if (old != tid && thread_is_gone(old) &&
            __atomic_compare_exchange_n(&owner[i], &old, tid, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED))
            return i;
    }
    return start;   /* every owner is alive: share (heaps are locked) */
}

unsigned mh_current_heap_index(int cpu) {
    switch (mh_global.key_policy) {
    case MH_KEY_CPU:
        return (unsigned)cpu < mh_global.nheaps ? (unsigned)cpu : (unsigned)cpu % mh_global.nheaps;
    case MH_KEY_THREAD:
        return thread_slot_plus1 ? thread_slot_plus1 - 1 : UINT32_MAX;
    default:
        return 0;
    }
}

static mh_heap *activated(mh_heap *h) {
    if (MH_UNLIKELY(!__atomic_load_n(&h->active, __ATOMIC_ACQUIRE))) mh_heap_activate(h);
    return h;
}

mh_heap *mh_current_heap(void) {
    mh_ensure_init();
    if (mh_global.key_policy == MH_KEY_THREAD && MH_UNLIKELY(thread_slot_plus1 == 0))
        thread_slot_plus1 = claim_thread_slot() + 1;
    return activated(&mh_global.heaps[mh_current_heap_index(mh_current_cpu())]);
}

mh_heap *mh_heap_of_cpu(unsigned cpu) {
    return activated(&mh_global.heaps[mh_current_heap_index((int)cpu)]);
}

/* The child's thread has a new tid: record it, so the slot is not taken for abandoned. */
void mh_key_after_fork_child(void) {
    if (thread_slot_plus1)
        __atomic_store_n(&mh_global.thread_owner[thread_slot_plus1 - 1], (uint32_t)gettid(),
                         __ATOMIC_RELAXED);
}

const char *mh_key_name(int policy) {
    return policy == MH_KEY_THREAD ? "thread" : policy == MH_KEY_GLOBAL ? "global" : "cpu";
}
