/* A kernel may list thousands of possible CPUs (hot-plug slots, a VM's maximum), and the
   front caches take 1 MiB of address space each: 4 GiB at 4096 CPUs, of which a process
   touches a few pages. Those tables are mapped without reserving commit charge, so the
   overcommit heuristic neither refuses them nor counts them (/proc/meminfo's
   Committed_AS would grow by 4 GiB, and a machine with less memory than that would have
   run without its front cache). open is wrapped (--wrap=open) to list 4096 possible
   CPUs. Skipped (77) under strict overcommit, which counts every mapping. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "mh_internal.h"
#include "mhunit.h"

#define POSSIBLE "0-4095\n"

int __real_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...) {
    if (strcmp(path, "/sys/devices/system/cpu/possible") == 0) {
        int fds[2];
        if (pipe(fds) != 0) return -1;
        CHECK(write(fds[1], POSSIBLE, strlen(POSSIBLE)) == (ssize_t)strlen(POSSIBLE));
        close(fds[1]);
        return fds[0];
    }
    va_list ap;
    va_start(ap, flags);
    mode_t mode = (flags & O_CREAT) ? va_arg(ap, mode_t) : 0;
    va_end(ap);
    return __real_open(path, flags, mode);
}

/* A number from /proc: the integer after key in the file, read without stdio (which
   would allocate). */
static long proc_number(const char *file, const char *key) {
    char buf[8192];
    int fd = __real_open(file, O_RDONLY);
    CHECK(fd >= 0);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    CHECK(n > 0);
    buf[n] = 0;
    const char *at = strstr(buf, key);
    CHECK(at != NULL);
    return strtol(at + strlen(key), NULL, 10);
}

int main(void) {
    if (proc_number("/proc/sys/vm/overcommit_memory", "") == 2) {
        printf("many_cpus: skipped, strict overcommit accounts every mapping\n");
        return 77;
    }
    long before_kib = proc_number("/proc/meminfo", "Committed_AS:");
    void *p = malloc(100);   /* initialises the library: heaps, caches for 4096 CPUs */
    CHECK(p != NULL);
    free(p);
    long after_kib = proc_number("/proc/meminfo", "Committed_AS:");
    mh_stats s = stats_now();
    printf("many_cpus: %u possible CPUs, %s; Committed_AS grew by %ld KiB at start-up\n",
           s.ncpus, mh_options(), after_kib - before_kib);
    CHECK(s.ncpus == 4096);
    CHECK(strstr(mh_options(), "cache=rseq") || strstr(mh_options(), "cache=off(no rseq)"));
    /* The caches' 4 GiB alone would have been counted; the rest is small. */
    CHECK(after_kib - before_kib < (1L << 20));
    for (int i = 0; i < 1000; i++) free(malloc(16 + (size_t)i));
    return 0;
}
