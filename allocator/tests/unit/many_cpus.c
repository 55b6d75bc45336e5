/* A kernel may list thousands of possible CPUs (hot-plug slots, a VM's maximum), and the
   front caches take 1 MiB of address space each: 4 GiB at 4096 CPUs, of which a process
   touches a few pages. That mapping must not reserve commit charge ("nr" in its
   VmFlags): the overcommit heuristic refuses a mapping larger than the machine's memory
   (and the front cache then runs off), and counts the rest in Committed_AS (4 GiB more at
   start-up, seen before the change); no more must the heaps' stashes (127 MiB with 256
   heaps in use); and a fork must not write a page per CPU. open is
   wrapped (--wrap=open) to list 4096 possible CPUs. */
#define _GNU_SOURCE
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "mh_internal.h"
#define MHUNIT_LAST_CPU 4095
#include "mhunit.h"

static char smaps[1 << 20];

/* vm.overcommit_memory: 0, 1 or 2. */
static int overcommit_mode(void) {
    char c = '0';
    int fd = __real_open("/proc/sys/vm/overcommit_memory", O_RDONLY);
    if (fd >= 0 && read(fd, &c, 1) != 1) c = '0';
    if (fd >= 0) close(fd);
    return c - '0';
}

/* VmPTE of /proc/self/status, in KiB (read without stdio, which would allocate). */
static long vm_pte_kib(void) {
    static char status[8192];
    int fd = __real_open("/proc/self/status", O_RDONLY);
    CHECK(fd >= 0);
    ssize_t n = read(fd, status, sizeof status - 1);
    close(fd);
    CHECK(n > 0);
    status[n] = 0;
    const char *line = strstr(status, "VmPTE:");
    CHECK(line != NULL);
    return strtol(line + 6, NULL, 10);
}

/* The VmFlags line of the mapping that holds address p, in /proc/self/smaps (read
   without stdio, which would allocate). */
static const char *vmflags_of(const void *p) {
    int fd = __real_open("/proc/self/smaps", O_RDONLY);
    CHECK(fd >= 0);
    size_t len = 0;
    ssize_t n;
    while (len < sizeof smaps - 1 && (n = read(fd, smaps + len, sizeof smaps - 1 - len)) > 0)
        len += (size_t)n;
    close(fd);
    smaps[len] = 0;
    for (char *line = smaps; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        char *dash;
        uintptr_t start = strtoull(line, &dash, 16), end;
        if (*dash != '-') continue;
        end = strtoull(dash + 1, NULL, 16);
        if ((uintptr_t)p < start || (uintptr_t)p >= end) continue;
        const char *flags = strstr(line, "VmFlags:");
        CHECK(flags != NULL);
        *strchrnul(flags, '\n') = 0;
        return flags;
    }
    CHECK(!"no mapping holds the caches");
    return NULL;
}

int main(void) {
    void *p = malloc(100);   /* initialises the library: heaps, caches for 4096 CPUs */
    CHECK(p != NULL);
    free(p);
    mh_stats s = stats_now();
    printf("many_cpus: %u possible CPUs, %s\n", s.ncpus, mh_options());
    CHECK(s.ncpus == 4096);
    if (!mh_global.caches) {
        printf("many_cpus: skipped, the front cache cannot run here\n");
        return 77;
    }
    /* Under vm.overcommit_memory=2 the kernel charges every mapping, MAP_NORESERVE or not. */
    bool charged = overcommit_mode() == 2;
    const char *flags = vmflags_of(mh_global.caches);
    printf("many_cpus: the caches' mapping: %s%s\n", flags, charged ? " (overcommit 2: not checked)" : "");
    CHECK(charged || strstr(flags, " nr") != NULL);
    /* and neither must a heap's stashes (387 KiB each, most of it never touched) */
    mh_heap *h = &mh_global.heaps[mh_current_heap_index(sched_getcpu())];
    mh_heap_stash_ensure(h);
    CHECK(h->stash != NULL);
    flags = vmflags_of(h->stash);
    printf("many_cpus: a heap's stashes' mapping: %s\n", flags);
    CHECK(charged || strstr(flags, " nr") != NULL);
    for (int i = 0; i < 1000; i++) free(malloc(16 + (size_t)i));
    /* The report reads the remote-free matrix's rows of the CPUs that counted one: reading
       all 4096 rows of 4096 heaps mapped 128 MiB of zero pages, 260 KiB of page tables,
       which later forks copied. Remote frees, which map the matrix, need two CPUs. */
    int a, b;
    if (two_allowed_cpus(&a, &b)) {
        static void *objs[2000];
        pin_to_cpu(a);
        for (int i = 0; i < 2000; i++) CHECK((objs[i] = malloc(48)) != NULL);
        pin_to_cpu(b);
        for (int i = 0; i < 2000; i++) free(objs[i]);
        CHECK(mh_global.remote_matrix != NULL && mh_remote_free_cpus() == (unsigned)b + 1);
        long pte_before = vm_pte_kib();
        int devnull = __real_open("/dev/null", O_WRONLY);
        CHECK(devnull >= 0);
        mh_stats_print(devnull);
        close(devnull);
        long pte_grew = vm_pte_kib() - pte_before;
        printf("many_cpus: CPU %d freed CPU %d's objects; the statistics' report grew the page "
               "tables by %ld KiB\n", b, a, pte_grew);
        CHECK(pte_grew < 64);
    }
    /* Fork takes every lock of the large cache's shards (257 here): each lock sat in its
       24 KiB shard, so each fork wrote 257 pages the previous fork had shared, 264
       copy-on-write faults in the parent against 12 with the locks on lines of their own. */
    long faults = 0;
    for (int k = 0; k < 3; k++) {
        struct rusage before, after;
        getrusage(RUSAGE_SELF, &before);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) _exit(0);
        CHECK(waitpid(pid, NULL, 0) == pid);
        getrusage(RUSAGE_SELF, &after);
        faults = after.ru_minflt - before.ru_minflt;
    }
    printf("many_cpus: %ld page faults in the parent of a fork\n", faults);
    CHECK(faults < 100);
    return 0;
}
