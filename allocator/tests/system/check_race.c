/* alloc.sys.check_race: with MULTIHEAP_CHECK=1 (and multiheap preloaded), two threads
 * on two CPUs free one small object at the same moment; the second free must be reported
 * (the process aborts) in every run. The mark was read, then written: both threads could
 * find the object unmarked and cache it, and two later mallocs got the same object (a
 * review's fuzzer: about 2% of runs). Each run is a child process.
 * usage: check_race RUNS */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>

#include "systest.h"

static void *volatile object;
static atomic_int ready, go;
static int cpus[2];

static void pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
}

static void *free_at_once(void *arg) {
    pin(cpus[(long)arg]);
    atomic_fetch_add(&ready, 1);
    while (!atomic_load(&go)) continue;
    free(object);
    return NULL;
}

/* The child's run: exits 0 if both frees passed unreported. */
static void one_run(void) {
    object = malloc(64);
    pthread_t a, b;
    if (pthread_create(&a, NULL, free_at_once, (void *)0L) || pthread_create(&b, NULL, free_at_once, (void *)1L))
        _exit(3);
    while (atomic_load(&ready) < 2) continue;
    atomic_store(&go, 1);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    _exit(0);
}

int main(int argc, char **argv) {
    st_init(argv[0]);
    if (argc != 2) st_usage_error("usage: check_race RUNS");
    long runs = (long)st_parse_count("RUNS", argv[1], 1, 100000);
    /* Two CPUs the process may use, or the one it has twice (the frees then race only
       through preemption, and must still be caught). */
    cpu_set_t allowed;
    sched_getaffinity(0, sizeof allowed, &allowed);
    int n = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE && n < 2; cpu++)
        if (CPU_ISSET(cpu, &allowed)) cpus[n++] = cpu;
    if (n == 1) cpus[1] = cpus[0];
    long missed = 0;
    for (long r = 0; r < runs; r++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) st_fail("fork failed");
        if (pid == 0) {
            /* the report goes to stderr: one line per run would drown the test's output */
            if (!freopen("/dev/null", "w", stderr)) _exit(4);
            one_run();
        }
        int status;
        if (waitpid(pid, &status, 0) != pid) st_fail("waitpid failed");
        if (WIFEXITED(status) && WEXITSTATUS(status) != 0) st_fail("run %ld: the child failed (%d)", r, WEXITSTATUS(status));
        missed += WIFEXITED(status);
        if (WIFSIGNALED(status) && WTERMSIG(status) != SIGABRT)
            st_fail("run %ld: the child died of signal %d, not the report's abort", r, WTERMSIG(status));
    }
    if (missed) st_fail("%ld of %ld double frees made at once by two threads went unreported", missed, runs);
    printf("check mode: %ld of %ld double frees made at once by two threads reported\n", runs, runs);
    return 0;
}
