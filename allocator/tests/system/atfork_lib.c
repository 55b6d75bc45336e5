/* A library like a logging or RNG library: its constructor registers fork handlers
 * before multiheap's constructor has run (a library the program links is initialised
 * before a preloaded one, and every shared library before a program linking
 * libmultiheap.a). First enough no-op handlers that glibc's list of handlers grows,
 * which it does with malloc while it holds its own lock; then a prepare handler that
 * allocates, which therefore runs after multiheap's has taken every lock. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static void nothing(void) {}

static int prepared;

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

__attribute__((constructor)) static void register_handlers(void) {
    for (int i = 0; i < 64; i++) pthread_atfork(nothing, nothing, nothing);
    pthread_atfork(allocate_prepare, allocate, allocate);
}
