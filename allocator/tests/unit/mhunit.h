/* The unit tests' one assertion macro and a few shared helpers. */
#ifndef MHUNIT_H
#define MHUNIT_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "multiheap.h"

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
            exit(1);                                                                    \
        }                                                                               \
    } while (0)

/* Runs this program again as `argv[0] limited` under an address-space limit of limit_kib
   (a new process, whose allocator reserves its range under the limit); never returns. */
static inline void rerun_limited(char **argv, unsigned long limit_kib) {
    struct rlimit rl = {(rlim_t)limit_kib << 10, (rlim_t)limit_kib << 10};
    CHECK(setrlimit(RLIMIT_AS, &rl) == 0);
    fflush(stdout);
    execl("/proc/self/exe", argv[0], "limited", (char *)NULL);
    CHECK(!"execl /proc/self/exe");
    exit(1);
}

static inline mh_stats stats_now(void) {
    mh_stats s;
    CHECK(mh_stats_get(&s) == 0);
    return s;
}

static inline mh_heap_stats heap_stats_now(unsigned heap) {
    mh_heap_stats s;
    CHECK(mh_heap_stats_get(heap, &s) == 0);
    return s;
}

/* A test linked with -Wl,--wrap=open,--wrap=sched_getaffinity that defines
   MHUNIT_LAST_CPU (a number) before including this file runs as on a kernel that lists
   CPUs 0..MHUNIT_LAST_CPU as possible (/sys/devices/system/cpu/possible: how many heaps
   and caches there are), though only the machine's own are online, as hot-plug slots
   are; that kernel refuses an affinity mask shorter than its possible CPUs. */
#ifdef MHUNIT_LAST_CPU
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <string.h>
#define MHUNIT_STR(x) MHUNIT_STR2(x)
#define MHUNIT_STR2(x) #x
int __real_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...) {
    if (strcmp(path, "/sys/devices/system/cpu/possible") == 0) {
        static const char list[] = "0-" MHUNIT_STR(MHUNIT_LAST_CPU) "\n";
        int fds[2];
        if (pipe(fds) != 0) return -1;
        CHECK(write(fds[1], list, sizeof list - 1) == (ssize_t)(sizeof list - 1));
        close(fds[1]);
        return fds[0];
    }
    va_list ap;
    va_start(ap, flags);
    mode_t mode = (flags & O_CREAT) ? va_arg(ap, mode_t) : 0;
    va_end(ap);
    return __real_open(path, flags, mode);
}
int __real_sched_getaffinity(pid_t pid, size_t size, cpu_set_t *set);
int __wrap_sched_getaffinity(pid_t pid, size_t size, cpu_set_t *set) {
    if (size * 8 < (size_t)MHUNIT_LAST_CPU + 1) {
        errno = EINVAL;
        return -1;
    }
    return __real_sched_getaffinity(pid, size, set);
}
#endif

/* The monotonic clock, in seconds. */
#include <time.h>
static inline double seconds_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* This process's resident memory (/proc/self/statm), in KiB. Read without stdio: a
   malloc here may take a slow path (after a migration, say), and a slow path may purge,
   which a test that watches RSS while the program is quiet would take for the
   allocator's doing (alloc.unit.purge.inline failed so once in a full test run). */
static inline long rss_kib(void) {
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    CHECK(n > 0);
    buf[n] = 0;
    long size = 0, resident = 0;
    CHECK(sscanf(buf, "%ld %ld", &size, &resident) == 2);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

#ifdef _GNU_SOURCE
#include <sched.h>
#include <stdbool.h>
/* Pins the calling thread to CPU cpu (for the tests that watch one CPU's front cache or
   heap). Needs _GNU_SOURCE before the first include, as do the two below. */
static inline void pin_to_cpu(int cpu) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    CHECK(sched_setaffinity(0, sizeof one, &one) == 0);
    CHECK(sched_getcpu() == cpu);
}

/* Pins the calling thread to the CPU it runs on; returns that CPU. */
static inline int pin_to_this_cpu(void) {
    int cpu = sched_getcpu();
    CHECK(cpu >= 0);
    pin_to_cpu(cpu);
    return cpu;
}

/* The first two CPUs the process may run on; false if it may run on one only. */
static inline bool two_allowed_cpus(int *a, int *b) {
    static cpu_set_t allowed[8];   /* 8192 CPUs: a kernel refuses a mask shorter than its possible CPUs */
    CHECK(sched_getaffinity(0, sizeof allowed, allowed) == 0);
    *a = *b = -1;
    for (int cpu = 0; cpu < (int)(8 * sizeof allowed) && *b < 0; cpu++)
        if (CPU_ISSET_S(cpu, sizeof allowed, allowed)) *(*a < 0 ? a : b) = cpu;
    return *b >= 0;
}

#if defined(MHUNIT_LAST_CPU) && defined(MH_INTERNAL_H)
/* Three heaps on a machine of two (MHUNIT_LAST_CPU 3 or more): *a and *b the first two
   CPUs the process may run on, the caller pinned to a with a's heap active and the front
   cache on, and the heap of neither CPU activated as a thread on a third CPU would have;
   that heap. Exits 77 (skipped) where this cannot be. */
static inline mh_heap *third_heap(const char *test, int *a, int *b) {
    if (!two_allowed_cpus(a, b) || *b > MHUNIT_LAST_CPU) {
        printf("%s: skipped, needs two CPUs among the %d it lists as possible\n", test, MHUNIT_LAST_CPU + 1);
        exit(77);
    }
    /* Before the first malloc, which activates the heap of the CPU it runs on. */
    pin_to_cpu(*a);
    free(malloc(1));
    if (!strstr(mh_options(), "cache=rseq")) {
        printf("%s: skipped, needs the front cache (%s)\n", test, mh_options());
        exit(77);
    }
    unsigned y = 0;
    while (y == (unsigned)*a || y == (unsigned)*b) y++;
    mh_heap *hy = &mh_global.heaps[y];
    mh_heap_activate(hy);
    return hy;
}
#endif
#endif

/* Is the purger thread (mh-purge) running in this process? It starts once a heap has
   grown past MH_PURGE_KEEP pages; this waits up to 5 s for it. */
#include <dirent.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
static inline bool purger_running(void) {
    for (int ms = 0; ms < 5000; ms += 10) {
        DIR *tasks = opendir("/proc/self/task");
        CHECK(tasks != NULL);
        bool found = false;
        for (struct dirent *t; !found && (t = readdir(tasks));) {
            char path[64], name[32] = "";
            snprintf(path, sizeof path, "/proc/self/task/%s/comm", t->d_name);
            FILE *f = fopen(path, "r");
            if (f && fgets(name, sizeof name, f)) found = strncmp(name, "mh-purge", 8) == 0;
            if (f) fclose(f);
        }
        closedir(tasks);
        if (found) return true;
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    return false;
}

/* Sizes the compiler cannot see through, for the overflow tests. */
static volatile size_t mhunit_size_max = SIZE_MAX;
#define HUGE_SIZE(div, sub) (mhunit_size_max / (div) - (sub))

/* Fill n bytes with a pattern derived from seed, or check that pattern. */
static inline void fill(void *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) ((unsigned char *)p)[i] = (unsigned char)(seed + i * 7);
}
static inline int filled(const void *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++)
        if (((const unsigned char *)p)[i] != (unsigned char)(seed + i * 7)) return 0;
    return 1;
}

#endif
