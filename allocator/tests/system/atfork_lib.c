/* A library like a logging or RNG library: its constructor registers fork handlers
 * before multiheap's constructor has run (a library the program links is initialised
 * before a preloaded one, and every shared library before a program linking
 * libmultiheap.a), so its prepare handler, which allocates, runs after multiheap's has
 * taken every lock. Its child handler starts a thread that allocates while the child's
 * locks are still the fork's, and joins it after multiheap's child handler ran. And its
 * constructor, before it registers them, forks while a thread of its own allocates:
 * multiheap's constructor has not run then, so only its first malloc can have
 * registered its handlers. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

static int prepared;

/* malloc and free of n bytes that the compiler may not drop as a pair. */
static void use(size_t n) {
    char *volatile p = malloc(n);
    p[0] = 1;
    free(p);
}

/* How many times the allocating prepare handler ran: the test's proof that it did. */
int atfork_lib_prepared(void) { return prepared; }

static void allocate(void) {
    char *p = malloc(200);
    memset(p, 1, 200);
    char *big = malloc(300000);   /* a large block: the large path's locks too */
    memset(big, 2, 4096);
    free(big);
    free(p);
}

static void allocate_prepare(void) {
    allocate();
    prepared++;
}

static pthread_t helper;
static bool helping;

/* A size nothing else here asks for: its first malloc in the child takes heap locks. */
static void *help(void *arg) {
    (void)arg;
    use(12000);
    return NULL;
}

/* The pause gives the thread time to sleep on a lock the fork holds. */
static void start_helper(void) {
    helping = pthread_create(&helper, NULL, help, NULL) == 0;
    usleep(20000);
}

/* Called by the program in the child: the helper thread must have finished. */
int atfork_lib_join_helper(void) { return helping && pthread_join(helper, NULL) == 0; }

static volatile bool churning = true;
static int forked_early;   /* children forked in the constructor that exited cleanly */

static void *churn(void *arg) {
    (void)arg;
    while (churning) use(300000);
    return NULL;
}

/* How many of the constructor's 50 forks had a child that could allocate. */
int atfork_lib_forked_early(void) { return forked_early; }

__attribute__((constructor)) static void register_handlers(void) {
    pthread_t t;
    if (pthread_create(&t, NULL, churn, NULL) == 0) {
        usleep(1000);   /* the thread is allocating by now */
        for (int i = 0; i < 50; i++) {
            pid_t pid = fork();
            if (pid == 0) {
                alarm(5);   /* a child stuck on a lock the churning thread held dies */
                use(300000);
                _exit(0);
            }
            int status;
            forked_early += pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
                            WEXITSTATUS(status) == 0;
        }
        churning = false;
        pthread_join(t, NULL);
    }
    pthread_atfork(allocate_prepare, allocate, start_helper);
}
