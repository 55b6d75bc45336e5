/* alloc.sys.fork.early_handlers.*: fork in a process where a library registered
 * allocating fork handlers before multiheap registered its own (atfork_lib.c), with
 * multiheap preloaded or linked statically. The prepare handler, which runs after
 * multiheap's has taken every lock, deadlocked; so did a thread the child handler
 * started, which slept on a lock the child's reset then freed without waking it; and
 * children forked before multiheap's constructor, with handlers registered only there.
 * The watchdog turns a deadlock into a failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "systest.h"

int atfork_lib_prepared(void);      /* atfork_lib.c */
int atfork_lib_join_helper(void);
int atfork_lib_forked_early(void);

int main(int argc, char **argv) {
    (void)argc;
    st_init(argv[0]);
    st_watchdog(30, "fork with an allocating handler registered before multiheap's");
    if (atfork_lib_forked_early() != 50)
        st_fail("%d of the 50 children the library forked before multiheap's constructor could allocate",
                atfork_lib_forked_early());
    for (int round = 0; round < 10; round++) {
        size_t n = 64 + 1000 * (size_t)round;
        char *p = malloc(n);
        st_fill(p, n);
        pid_t pid = fork();
        if (pid < 0) st_fail("fork failed in round %d", round);
        if (pid == 0) {
            st_watchdog(10, "the child's malloc after fork");
            size_t m = 100 + 10 * (size_t)round;
            char *q = malloc(m);
            st_fill(q, m);
            free(q);
            st_check(p, n, "a block the child inherited");
            if (!atfork_lib_join_helper()) st_fail("the child handler's thread did not run");
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
