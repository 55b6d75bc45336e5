/* alloc.sys.rows_elsewhere: run under `ulimit -v` with multiheap preloaded and
 * MULTIHEAP_PURGE_MS long enough that no row goes stale during the run. A thread on CPU 1
 * frees large blocks that its CPU's large rows keep; the main thread, on CPU 0, has filled
 * the address space with live blocks, and then asks for 1.5 MiB: only CPU 1's rows hold
 * that much, and only the purger can empty another CPU's rows. The malloc must succeed
 * and leave errno alone. Before, it failed with ENOMEM until the purger found the rows
 * stale. Exits 77 (skipped) with fewer than 2 CPUs. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "systest.h"

#define MAX_BLOCKS 8192
#define FILL_BLOCK 300000            /* of no large bin: never kept in a row */
#define LAST_REQUEST ((size_t)3 << 19)

/* Sizes of eight large bins (20 to 64 pages) and how many blocks each bin's row keeps:
   512 KiB of blocks, at least 2; 3.7 MiB in all. The request needs its own 1.5 MiB and,
   when it lands in a gigabyte of addresses whose registry leaf is not mapped yet, 2 MiB
   more for the leaf: with four bins' rows (1.8 MiB) the malloc failed so in 1 run of 300. */
static const size_t row_sizes[] = { 20 << 12, 24 << 12, 28 << 12, 32 << 12,
                                    40 << 12, 48 << 12, 56 << 12, 64 << 12 };
static const int row_blocks[] = { 6, 5, 4, 4, 3, 2, 2, 2 };
#define NSIZES (sizeof row_sizes / sizeof *row_sizes)
#define MAX_ROW_BLOCKS 6

static pthread_barrier_t step;

static void pin(int cpu) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    int err = pthread_setaffinity_np(pthread_self(), sizeof one, &one);
    if (err) st_fail("cannot run on CPU %d: %s", cpu, strerror(err));
}

/* Waits until a thread of this process is named mh-purge; fails after 20 s. */
static void wait_for_purger(void) {
    for (int tries = 0; tries < 2000; tries++) {
        DIR *tasks = opendir("/proc/self/task");
        struct dirent *e;
        bool found = false;
        while (tasks && !found && (e = readdir(tasks))) {
            char path[300], name[32] = "";
            snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
            int fd = open(path, O_RDONLY);
            if (fd < 0) continue;
            ssize_t n = read(fd, name, sizeof name - 1);
            close(fd);
            found = n > 0 && strncmp(name, "mh-purge", 8) == 0;
        }
        if (tasks) closedir(tasks);
        if (found) return;
        usleep(10000);
    }
    st_fail("no thread named mh-purge after 20 s: the purger did not start");
}

/* On CPU 1: allocates the blocks, waits while the main thread fills the address space,
   then frees them into CPU 1's large rows. */
static void *row_filler(void *unused) {
    (void)unused;
    void *blocks[NSIZES][MAX_ROW_BLOCKS];
    pin(1);
    for (size_t s = 0; s < NSIZES; s++)
        for (int i = 0; i < row_blocks[s]; i++) {
            if (!(blocks[s][i] = malloc(row_sizes[s]))) st_fail("malloc(%zu) failed on CPU 1", row_sizes[s]);
            memset(blocks[s][i], 1, row_sizes[s]);
        }
    pthread_barrier_wait(&step);   /* allocated */
    pthread_barrier_wait(&step);   /* the address space is full */
    for (size_t s = 0; s < NSIZES; s++)
        for (int i = 0; i < row_blocks[s]; i++) free(blocks[s][i]);
    pthread_barrier_wait(&step);   /* freed */
    return NULL;
}

int main(int argc, char **argv) {
    (void)argc;
    st_init(argv[0]);
    st_watchdog(50, "the test");
    cpu_set_t mine;
    if (sched_getaffinity(0, sizeof mine, &mine) != 0 || !CPU_ISSET(0, &mine) || !CPU_ISSET(1, &mine)) {
        printf("skipped: needs CPUs 0 and 1\n");
        return 77;
    }
    /* The purger starts at the first block of no bin and takes the main thread's CPUs as
       the ones it may visit: it must have them before the main thread pins itself to
       CPU 0. It is named once it has them (a loaded machine once ran it after the pin). */
    char *volatile first = malloc(FILL_BLOCK);   /* volatile: GCC drops a malloc/free pair */
    if (!first) st_fail("malloc(%d) failed", FILL_BLOCK);
    first[0] = 1;
    free(first);
    wait_for_purger();
    pthread_barrier_init(&step, NULL, 2);
    pthread_t filler;
    if (pthread_create(&filler, NULL, row_filler, NULL) != 0) st_fail("cannot create a thread");
    pin(0);
    pthread_barrier_wait(&step);
    static void *keep[MAX_BLOCKS];
    int n = 0;
    while (n < MAX_BLOCKS && (keep[n] = malloc(FILL_BLOCK)) != NULL) memset(keep[n++], 1, 4096);
    if (n == MAX_BLOCKS) st_fail("%d blocks fit: run it under ulimit -v", n);
    pthread_barrier_wait(&step);
    pthread_barrier_wait(&step);
    pthread_join(filler, NULL);
    errno = 0;
    char *p = malloc(LAST_REQUEST);
    if (!p) st_fail("malloc(%zu) failed (errno %d) while CPU 1's large rows held 3.7 MiB", LAST_REQUEST, errno);
    if (errno != 0) st_fail("malloc(%zu) succeeded but set errno to %d", LAST_REQUEST, errno);
    memset(p, 2, LAST_REQUEST);
    free(p);
    for (int i = 0; i < n; i++) free(keep[i]);
    printf("address space full, CPU 1's large rows emptied for a block of %zu bytes\n", LAST_REQUEST);
    return 0;
}
