/* A heap's stashes filled to the brim, every class at once: flushes of each class's
   objects (MH_FREED_BY_FLUSH, as a front cache's) go into its stash until it holds
   mh_stash_capacity(cls) of them, MH_STASH_BYTES of objects or at least two rows' worth,
   and the rest back to the pages. Each class's slots have room for its whole capacity:
   every stash, read back after all of them were filled, holds exactly the objects put
   into it (slots that overlapped a neighbour's would hold that neighbour's objects).
   MULTIHEAP_KEY=global: one heap, which the test fills by hand; MULTIHEAP_PURGE_MS=off: no
   purge drains a stash meanwhile. */
#include <string.h>

#include "mh_internal.h"
#include "mhunit.h"

static void **objs[MH_NCLASSES];
static unsigned nobjs[MH_NCLASSES];

/* Half a row of cls, what a front cache's flush moves at most while the row has not
   grown by seesawing (this test's rows do not). */
static unsigned flush_size(unsigned cls) { return mh_cache_capacity(cls) / 2; }

int main(void) {
    free(malloc(1));   /* initialises the library */
    mh_heap *h = mh_current_heap();
    mh_heap_stash_ensure(h);
    CHECK(h->stash != NULL);
    /* Every array first: no malloc of the test's may take from a stash once filled. */
    for (unsigned cls = 0; cls < MH_NCLASSES; cls++) {
        /* One flush more than the stash holds: that one must go back to the pages. */
        nobjs[cls] = mh_stash_capacity(cls) + flush_size(cls);
        CHECK((objs[cls] = malloc(nobjs[cls] * sizeof(void *))) != NULL);
    }
    for (unsigned cls = 0; cls < MH_NCLASSES; cls++) {
        unsigned cap = mh_stash_capacity(cls);
        size_t size = mh_class_size(cls);
        CHECK(cap <= MH_STASH_SLOTS && cap >= 2 * mh_cache_capacity(cls));
        CHECK(cap == MH_STASH_SLOTS || (size_t)(cap + 1) * size > MH_STASH_BYTES);
        for (unsigned i = 0; i < nobjs[cls]; i++) CHECK((objs[cls][i] = mh_heap_alloc(h, cls, 1)) != NULL);
        for (unsigned i = 0; i < nobjs[cls]; i += flush_size(cls)) {
            unsigned n = nobjs[cls] - i < flush_size(cls) ? nobjs[cls] - i : flush_size(cls);
            mh_small_free_batch(objs[cls] + i, n, MH_FREED_BY_FLUSH);
        }
        CHECK(h->stash[cls].count == cap);
    }
    for (unsigned cls = 0; cls < MH_NCLASSES; cls++) {
        const mh_stash *st = &h->stash[cls];
        /* Still full, holding what the flushes put there, in order, until it was. */
        CHECK(st->count == mh_stash_capacity(cls));
        CHECK(memcmp(st->slot, objs[cls], st->count * sizeof(void *)) == 0);
        for (unsigned i = 0; i < st->count; i++) CHECK(mh_page_class_plus1(st->slot[i]) == cls + 1);
    }
    printf("stash_fill: %u classes; a stash of 16 bytes holds %u objects, of 64 %u, of 18704 %u\n",
           MH_NCLASSES, mh_stash_capacity(mh_size_class(16)), mh_stash_capacity(mh_size_class(64)),
           mh_stash_capacity(MH_NCLASSES - 1));
    return 0;
}
