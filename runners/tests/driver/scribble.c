/*
 * A broken allocator for the content-check test: it forwards to glibc but, on
 * each malloc, writes one byte into the block it handed out last (as an
 * allocator that corrupts a live block with its metadata would). The driver's
 * --check must catch it when that block is freed. Only blocks of SCRIBBLE_SIZE
 * bytes, the size the test asks for, are hit, so the process itself survives.
 */
#include <stddef.h>
#include <stdint.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void  __libc_free(void *);

#define SCRIBBLE_SIZE 3333

static __thread unsigned char *last;
static __thread size_t last_size;

void *malloc(size_t n)
{
    if (last && last_size == SCRIBBLE_SIZE)
        last[last_size / 2] ^= 0x5a;
    last = __libc_malloc(n);
    last_size = n;
    return last;
}

void free(void *p)
{
    if (p == last)
        last = NULL;
    __libc_free(p);
}

void *calloc(size_t n, size_t m) { return __libc_calloc(n, m); }

void *realloc(void *p, size_t n)
{
    if (p == last)
        last = NULL;
    return __libc_realloc(p, n);
}
