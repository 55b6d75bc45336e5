/* A remote row's flush skips looking up every object's owner when one heap must own
   them all (one_remote_owner in cache.c: the CPU's own heap and one other in use). With
   three heaps in use of which the CPU's own is not one, the row holds two heaps'
   objects, and each must still reach its own heap's stash. open is wrapped
   (--wrap=open) to list 4 possible CPUs, so that a third heap exists on a machine of
   two: heap a (a thread's mallocs on CPU a), heap y (neither CPU's, activated and
   allocated from here), and heap b, never used, whose CPU frees both heaps' objects in
   turn. Skipped (77) where the cache cannot run or only one CPU is allowed. */
#define _GNU_SOURCE
#include <string.h>

#include "mh_internal.h"
#define MHUNIT_LAST_CPU 3
#include "mhunit.h"

#define N 3000
#define SIZE 48


static void *of_a[N], *of_y[N];

/* Objects in heap h's stash of cls that another heap owns; *held: how many it holds. */
static unsigned foreign_in_stash(unsigned h, unsigned cls, unsigned *held) {
    const mh_stash *st = &__atomic_load_n(&mh_global.heaps[h].stash, __ATOMIC_ACQUIRE)[cls];
    unsigned foreign = 0;
    *held = st->count;
    for (unsigned i = 0; i < st->count; i++) foreign += mh_page_owner(st->slot[i]) != h;
    return foreign;
}

int main(void) {
    int a, b;
    mh_heap *hy = third_heap("remote_owners", &a, &b);
    unsigned y = (unsigned)(hy - mh_global.heaps);
    CHECK(mh_global.nheaps == 4 && mh_current_heap_index(b) == (unsigned)b);
    unsigned cls = mh_size_class(SIZE);
    mh_heap_stash_ensure(hy);
    for (int i = 0; i < N; i++) {
        CHECK((of_a[i] = malloc(SIZE)) != NULL && mh_page_owner(of_a[i]) == (unsigned)a);
        CHECK((of_y[i] = mh_heap_alloc(hy, cls, 1)) != NULL && mh_page_owner(of_y[i]) == y);
    }
    pin_to_cpu(b);
    for (int i = 0; i < N; i++) {
        free(of_a[i]);
        free(of_y[i]);
    }
    CHECK(!__atomic_load_n(&mh_global.heaps[b].active, __ATOMIC_ACQUIRE));
    unsigned held_a, held_y;
    unsigned foreign = foreign_in_stash((unsigned)a, cls, &held_a) + foreign_in_stash(y, cls, &held_y);
    printf("remote_owners: CPU %d freed %d objects each of heaps %d and %u, its own heap unused: "
           "heap %d's stash holds %u, heap %u's %u, %u of them another heap's\n",
           b, N, a, y, a, held_a, y, held_y, foreign);
    CHECK(held_a > 0 && held_y > 0 && foreign == 0);
    return 0;
}
