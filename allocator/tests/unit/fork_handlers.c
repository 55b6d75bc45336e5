/* A program that registers a fork handler which allocates before it first calls malloc
 * (pthread_atfork at the top of main) forks without deadlocking, and its child handler
 * may free. (alloc.sys.fork.early_handlers.* cover handlers that run while multiheap's
 * hold the locks.) An alarm turns a deadlock into a failure. */
#include <pthread.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mh_internal.h"
#include "mhunit.h"

static void *kept;
static void prepare(void) {
    kept = malloc(64);   /* a class the program has not used yet: the slow path, its locks */
    memset(kept, 1, 64);
}
static void after(void) { free(kept); }

int main(void) {
    alarm(30);
    /* the case that deadlocked: the program's handler comes before any allocation */
    CHECK(!__atomic_load_n(&mh_global.initialised, __ATOMIC_ACQUIRE));
    CHECK(pthread_atfork(prepare, after, after) == 0);
    for (int round = 0; round < 20; round++) {
        size_t n = 100 + 300 * (size_t)round;
        char *p = malloc(n);
        memset(p, 2, n);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            char *volatile q = malloc(10 + 50 * (size_t)round);   /* volatile: kept as a pair */
            q[0] = 1;
            free(q);
            _exit(p[n - 1] == 2 ? 0 : 1);
        }
        int status;
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        free(p);
    }
    puts("fork_handlers: 20 forks with an allocating fork handler registered before the first malloc");
    return 0;
}
