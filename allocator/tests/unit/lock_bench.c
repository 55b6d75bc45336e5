/* The heap lock under oversubscription: 8 threads on 2 CPUs, each taking the lock
   ITERS times around a short critical section, for a plain spin lock, pthread_mutex
   and mh_lock. A functional test: it asserts every increment happened under mutual
   exclusion and prints the timings (no speed threshold; the machine is shared). */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include "lock.h"
#include "mhunit.h"

#define THREADS 8
#define ITERS 100000

typedef struct { uint32_t locked; } spin_lock;

static void spin_acquire(spin_lock *l) {
    while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED)) __builtin_ia32_pause();
}
static void spin_release(spin_lock *l) { __atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE); }

static struct {
    spin_lock spin;
    pthread_mutex_t mutex;
    mh_lock mh;
    uint64_t counter;
    uint64_t data[32];            /* the critical section touches 4 cache lines, as malloc does */
} shared = {.mutex = PTHREAD_MUTEX_INITIALIZER};

enum kind { SPIN, MUTEX, MH };
static const char *const names[] = {"spin lock", "pthread_mutex", "mh_lock (spin+futex)"};

static void critical_section(void) {
    uint64_t c = shared.counter;
    for (int i = 0; i < 32; i++) shared.data[i] += c;
    shared.counter = c + 1;
}

/* Work between two locks, as a program does between two mallocs. */
static void outside_work(void) {
    volatile uint64_t x = 0;
    for (int i = 0; i < 50; i++) x += (uint64_t)i;
}

static void *worker(void *arg) {
    enum kind k = (enum kind)(intptr_t)arg;
    for (int i = 0; i < ITERS; i++) {
        outside_work();
        switch (k) {
        case SPIN:
            spin_acquire(&shared.spin);
            critical_section();
            spin_release(&shared.spin);
            break;
        case MUTEX:
            pthread_mutex_lock(&shared.mutex);
            critical_section();
            pthread_mutex_unlock(&shared.mutex);
            break;
        case MH:
            mh_lock_acquire(&shared.mh);
            critical_section();
            mh_lock_release(&shared.mh);
            break;
        }
    }
    return NULL;
}

int main(void) {
    /* Two CPUs of the allowed set (one if that is all there is). */
    cpu_set_t allowed, two;
    CHECK(sched_getaffinity(0, sizeof allowed, &allowed) == 0);
    CPU_ZERO(&two);
    for (int cpu = 0, n = 0; cpu < CPU_SETSIZE && n < 2; cpu++)
        if (CPU_ISSET(cpu, &allowed)) { CPU_SET(cpu, &two); n++; }
    CHECK(sched_setaffinity(0, sizeof two, &two) == 0);
    printf("%d threads on %d CPU(s), %d lock/unlock each\n", THREADS, CPU_COUNT(&two), ITERS);
    for (int k = SPIN; k <= MH; k++) {
        shared.counter = 0;
        pthread_t t[THREADS];
        double start = seconds_now();
        for (int i = 0; i < THREADS; i++)
            CHECK(pthread_create(&t[i], NULL, worker, (void *)(intptr_t)k) == 0);
        for (int i = 0; i < THREADS; i++) CHECK(pthread_join(t[i], NULL) == 0);
        double secs = seconds_now() - start;
        CHECK(shared.counter == (uint64_t)THREADS * ITERS);
        printf("  %-22s %8.1f ms  %8.1f ns per lock/unlock\n", names[k], secs * 1e3,
               secs * 1e9 / ((double)THREADS * ITERS));
    }
    CHECK(shared.mh.state == 0);
    return 0;
}
