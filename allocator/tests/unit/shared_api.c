/* The shared library exports the whole public API (linked against libmultiheap.so,
   not the static library), mh_version names the version, and the report holds the
   counters a reader parses. With "close-stderr" it closes fd 2 before exiting, as
   GNU coreutils do: the MULTIHEAP_STATS=1 report must still appear. */
#include <string.h>
#include <unistd.h>

#include "mhunit.h"

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
    CHECK(mh_remote_frees(s.ncpus, 0) == 0);

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
    if (argc > 1 && strcmp(argv[1], "close-stderr") == 0) {
        fflush(stdout);
        close(STDERR_FILENO);
    }
    return 0;
}
