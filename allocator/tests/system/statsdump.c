/*
 * Preloaded after libmultiheap.so by realprog.sh for programs that close stderr at
 * exit (GNU coreutils' close_stdout does, before any library destructor runs, so the
 * MULTIHEAP_STATS=1 report is lost): keeps a private copy of stderr from start-up and
 * writes multiheap's statistics report to it at exit.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static int saved_stderr = -1;

__attribute__((constructor)) static void keep_stderr(void)
{
    saved_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 100);
}

/* Looked up at exit, not linked: the report then says which library is missing. */
__attribute__((destructor)) static void print_report(void)
{
    static const char missing[] =
        "statsdump: mh_stats_print not found: libmultiheap.so is not loaded or does not export it\n";
    if (saved_stderr < 0) return;
    void (*stats_print)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, "mh_stats_print");
    if (stats_print) stats_print(saved_stderr);
    else if (write(saved_stderr, missing, strlen(missing)) < 0) return;
}
