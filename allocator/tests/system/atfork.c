/* alloc.sys.fork.early_handlers.*: fork in a process where a library registered an
 * allocating fork handler before multiheap registered its own (atfork_lib.c), with
 * multiheap preloaded or linked statically. Both deadlocked: the handler ran after
 * multiheap's prepare handler had taken every lock, and the many registrations' first
 * malloc registered multiheap's handlers from inside glibc's pthread_atfork. The
 * watchdog turns a deadlock into a failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "systest.h"

int atfork_lib_prepared(void);   /* atfork_lib.c */

int main(int argc, char **argv) {
    (void)argc;
    st_init(argv[0]);
    st_watchdog(30, "fork with an allocating handler registered before multiheap's");
    for (int round = 0; round < 10; round++) {
        size_t n = 64 + 1000 * (size_t)round;
        char *p = malloc(n);
        st_fill(p, n);
        pid_t pid = fork();
        if (pid < 0) st_fail("fork failed in round %d", round);
        if (pid == 0) {
            st_watchdog(10, "the child's malloc after fork");
            free(malloc(100 + 10 * (size_t)round));
            st_check(p, n, "a block the child inherited");
            _exit(0);
        }
        int status;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            st_fail("the child of round %d failed (status %#x)", round, status);
        free(p);
    }
    if (atfork_lib_prepared() != 10) st_fail("the library's prepare handler ran %d times, not 10", atfork_lib_prepared());
    puts("fork with early allocating handlers: 10 forks");
    return 0;
}
