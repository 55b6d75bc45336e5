/* Preloadable libraries that break the process they are preloaded into, for the matrix
 * tests; they only fire in the re-executed, preloaded driver (MH_PRELOADED set), as a
 * broken allocator would.
 *   default         crashes at start-up: the run writes no record
 *   CRASH_AT_EXIT   aborts when the process exits, after the run wrote its record
 * Both serve glibc's malloc: a library without one is refused before it runs, and the
 * driver checks that the preloaded one serves it. */
#include <signal.h>
#include <stdlib.h>

extern void *__libc_malloc(size_t), *__libc_calloc(size_t, size_t), *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

void *malloc(size_t n) { return __libc_malloc(n); }
void *calloc(size_t n, size_t size) { return __libc_calloc(n, size); }
void *realloc(void *p, size_t n) { return __libc_realloc(p, n); }
void free(void *p) { __libc_free(p); }

#ifndef CRASH_AT_EXIT
__attribute__((constructor)) static void crash_when_preloaded(void)
{
    if (getenv("MH_PRELOADED")) raise(SIGSEGV);
}
#else
__attribute__((destructor)) static void crash_at_exit(void)
{
    if (getenv("MH_PRELOADED")) abort();
}
#endif
