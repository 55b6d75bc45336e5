/* The slow paths fit a thread stack of PTHREAD_STACK_MIN (16 KiB, of which glibc keeps
   some for the thread's TLS and control block) with room for a signal frame: malloc's refill flushing a remote row
   of two other heaps' objects, grouped by owner, once took about 13 KiB and crashed such
   a thread (a review). As remote_owners.c: open is wrapped to list 4 possible CPUs, heap
   y is activated from here as a thread on a third CPU would, and a thread on CPU b frees
   objects of heaps a and y, then mallocs the class. A second round frees enough that
   free's own flush of the remote row groups them. Skipped (77) where the cache cannot
   run or only one CPU is allowed. */
#define _GNU_SOURCE
#include <limits.h>
#include <pthread.h>
#include <string.h>

#include "mh_internal.h"
#define MHUNIT_LAST_CPU 3
#include "mhunit.h"

#define SIZE 48
#define N 1500   /* per heap: more than a remote row of 48-byte objects holds */

static int a, b;
static void *of_a[N], *of_y[N];

static void *on_cpu_b(void *arg) {
    size_t n = *(size_t *)arg;
    pin_to_cpu(b);
    for (size_t i = 0; i < n; i++) {
        free(of_a[i]);
        free(of_y[i]);
    }
    free(malloc(SIZE));
    return NULL;
}

/* What a round may use of its 16 KiB, glibc's TLS and thread block included (about 10
   KiB measured): a signal frame needs up to 3 KiB more. One more 4 KiB batch on the
   path (14 KiB) still ran, so the test measures rather than waits for a crash. */
#define SMALL_STACK (16 * 1024)   /* PTHREAD_STACK_MIN on x86-64 glibc */
#define STACK_BUDGET (12 * 1024)
#define PAINT 0xa5

/* Frees n objects of each heap and mallocs once, on CPU b, in a thread of the smallest
   stack, painted first; how many bytes of it the round touched. */
static size_t round_on_small_stack(size_t n) {
    static unsigned char stack[SMALL_STACK] __attribute__((aligned(4096)));
    pthread_attr_t attr;
    pthread_t t;
    memset(stack, PAINT, sizeof stack);
    CHECK(pthread_attr_init(&attr) == 0);
    CHECK(pthread_attr_setstack(&attr, stack, sizeof stack) == 0);
    CHECK(pthread_create(&t, &attr, on_cpu_b, &n) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    pthread_attr_destroy(&attr);
    size_t untouched = 0;
    while (untouched < sizeof stack && stack[untouched] == PAINT) untouched++;
    return sizeof stack - untouched;
}

int main(void) {
    CHECK(PTHREAD_STACK_MIN <= SMALL_STACK);
    mh_heap *hy = third_heap("small_stack", &a, &b);
    unsigned cls = mh_size_class(SIZE);
    for (int i = 0; i < N; i++) {
        CHECK((of_a[i] = malloc(SIZE)) != NULL);
        CHECK((of_y[i] = mh_heap_alloc(hy, cls, 1)) != NULL);
    }
    size_t refill = round_on_small_stack(20);   /* the refill flushes a remote row of two owners */
    memmove(of_a, of_a + 20, (N - 20) * sizeof *of_a);
    memmove(of_y, of_y + 20, (N - 20) * sizeof *of_y);
    size_t flush = round_on_small_stack(N - 20);   /* free's flushes of a full remote row */
    printf("small_stack: of a %d-byte stack, the refill's round used %zu bytes, the flushes' %zu "
           "(budget %d)\n", SMALL_STACK, refill, flush, STACK_BUDGET);
    CHECK(refill <= STACK_BUDGET && flush <= STACK_BUDGET);
    return 0;
}
