/* The shared library exports the whole public API (linked against libmultiheap.so,
   not the static library), mh_version names the version, and the report holds the
   counters a reader parses. With "close-stderr" it closes fd 2 before exiting, as
   GNU coreutils do: the MULTIHEAP_STATS=1 report must still appear. With "reuse-fds" a
   child closes every descriptor above 2 and opens a file of its own until it holds all
   the numbers up to 299, as a daemon might: the report must not land in that file. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mhunit.h"

static void report_not_in_reused_fd(void) {
    char path[] = "/tmp/mhunit-statsfd-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        closefrom(3);
        int got;
        while ((got = open(path, O_WRONLY | O_APPEND)) >= 0 && got < 300) continue;
        exit(0);   /* the destructors run: the report is due now */
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char buf[256];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    unlink(path);
    CHECK(n == 0);
    puts("the report stayed out of a file that took its descriptor's number");
}

int main(int argc, char **argv) {
    CHECK(strncmp(mh_version(), "multiheap 0.1.0 ", 16) == 0);
    void *p = mh_malloc(100), *big = mh_calloc(1, 100000);
    CHECK(p && big && mh_malloc_usable_size(p) >= 100);
    p = mh_realloc(p, 200);
    p = mh_reallocarray(p, 3, 100);
    void *a = mh_aligned_alloc(64, 64), *m = mh_memalign(128, 10), *v = mh_valloc(10),
         *pv = mh_pvalloc(10), *pm = NULL;
    CHECK(mh_posix_memalign(&pm, 256, 10) == 0);
    CHECK(a && m && v && pv && pm);

    mh_stats s = stats_now();
    CHECK(s.allocs >= 6 && s.large_allocs >= 1 && s.nclasses > 0 && s.nheaps >= 1);
    mh_heap_stats hs;
    CHECK(mh_heap_stats_get(0, &hs) == 0 && hs.nclasses == s.nclasses);
    CHECK(mh_heap_stats_get(s.nheaps, &hs) == -1);
    CHECK(mh_remote_frees(s.ncpus, 0) == 0 && mh_remote_free_cpus() <= s.ncpus);

    int fds[2];
    CHECK(pipe(fds) == 0);
    mh_stats_print(fds[1]);
    close(fds[1]);
    char report[65536];
    ssize_t n = read(fds[0], report, sizeof report - 1);
    CHECK(n > 0);
    report[n] = 0;
    CHECK(strstr(report, "multiheap: small allocs=") && strstr(report, "multiheap: large allocs="));
    CHECK(strstr(report, "multiheap: heap ") && strstr(report, "class size="));

    void *all[] = {p, big, a, m, v, pv, pm};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) mh_free(all[i]);
    CHECK(stats_now().frees >= s.frees + 6);
    puts("shared library API ok");
    if (argc > 1 && strcmp(argv[1], "reuse-fds") == 0) report_not_in_reused_fd();
    if (argc > 1 && strcmp(argv[1], "close-stderr") == 0) {
        fflush(stdout);
        close(STDERR_FILENO);
    }
    return 0;
}
