/* alloc.sys.free_all_enomem: run under `ulimit -v` with multiheap preloaded. THREADS
 * threads fill the address space with small blocks (1 to 1000 bytes) until malloc keeps
 * failing, all free everything, then each asks for one block of every kind (small, big
 * slab, large): every one must succeed, three rounds over. A malloc of 9000 bytes used to
 * fail here with ENOMEM in 5 runs of 5 at 4 threads: its growth failed, it waited for the
 * purger's pass to purge every heap's empty pages, found none left to purge (the pass
 * had just purged them) and gave up without growing again. usage: free_all_enomem THREADS */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "systest.h"

#define MAX_BLOCKS 100000
#define MAX_THREADS 16
#define GIVE_UP 200           /* failed mallocs in a row that end a thread's fill */
#define ROUNDS 3

static int nthreads;
static pthread_barrier_t step;
static _Atomic int ran_out;   /* fills that ended on failures: the address space was used up */
static void *blocks[MAX_THREADS][MAX_BLOCKS];   /* static: the fills must not compete with it */

static void *filler(void *arg) {
    int index = (int)(uintptr_t)arg;
    st_rng rng = { 0x5eed + (uint64_t)index };
    void **v = blocks[index];
    static const size_t probe[] = { 16, 1000, 9000, 12000, 18704, 18705, 65536, 300000, 1 << 20 };
    for (int round = 0; round < ROUNDS; round++) {
        size_t n = 0;
        int fails = 0;
        while (n < MAX_BLOCKS && fails < GIVE_UP) {
            size_t size = st_rng_range(&rng, 1, 1000);
            errno = 0;
            void *p = malloc(size);
            if (!p) {
                if (errno != ENOMEM) st_fail("malloc(%zu) failed with errno %d, not ENOMEM", size, errno);
                fails++;
                continue;
            }
            memset(p, 0x77, size);
            v[n++] = p;
        }
        ran_out += fails == GIVE_UP;
        pthread_barrier_wait(&step);
        if (ran_out == 0) st_fail("every thread fit %d blocks: run it under ulimit -v", MAX_BLOCKS);
        for (size_t i = 0; i < n; i++) free(v[i]);
        pthread_barrier_wait(&step);
        for (size_t i = 0; i < sizeof probe / sizeof *probe; i++) {
            errno = 0;
            char *p = malloc(probe[i]);
            if (!p) st_fail("round %d, thread %d: malloc(%zu) failed (errno %d) after every thread freed everything",
                            round, index, probe[i], errno);
            p[probe[i] - 1] = 1;
            free(p);
        }
        pthread_barrier_wait(&step);
    }
    return NULL;
}

int main(int argc, char **argv) {
    st_init(argv[0]);
    if (argc != 2) st_usage_error("usage: %s THREADS", argv[0]);
    nthreads = (int)st_parse_count("THREADS", argv[1], 1, MAX_THREADS);
    st_watchdog(50, "the fills");
    pthread_barrier_init(&step, NULL, (unsigned)nthreads);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 << 10);   /* address space for the fills */
    pthread_t tid[MAX_THREADS];
    for (int i = 0; i < nthreads; i++)
        if (pthread_create(&tid[i], &attr, filler, (void *)(uintptr_t)i) != 0) st_fail("cannot create thread %d", i);
    for (int i = 0; i < nthreads; i++) pthread_join(tid[i], NULL);
    printf("%d threads filled the address space and freed it %d times; every kind of block fit after each\n",
           nthreads, ROUNDS);
    return 0;
}
