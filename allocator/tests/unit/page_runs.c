/* A page's two batch loops at their bounds (page.c), checked slot by slot against the
   bitmap. mh_page_free_slots frees runs of neighbours one size apart with one mask: a
   run must end at the batch's end though the array goes on with the run's next
   neighbour (a flush's objects are the front half of a row, a stash drain's the front
   of the stash: what follows them is objects still in use), at its bitmap word's end and
   at the capacity, upwards and downwards, for a run of one, of a few and of a whole word.
   mh_page_alloc_slots hands out a whole free word at once: only when 64 more are asked
   for, at out[got..got+64), and nothing past out[n). Classes whose capacity is a
   multiple of 64 or not (506, 253, 168, 126, 63 objects; a slab, a big slab).
   MULTIHEAP_KEY=global: every batch is heap 0's. */
#include "mhunit_lists.h"

#define MAXCAP 506
#define POISON ((void *)0x5a5a5a5a5a5a5a5aull)

static unsigned cls, cap;
static size_t size;
static char *base;
static mh_page *pg;
static void *slot_ptr[MAXCAP];
static bool in_use[MAXCAP];

static bool taken(unsigned s) { return pg->bitmap[s / 64] >> (s % 64) & 1; }

static void check_page(void) {
    unsigned used = 0;
    for (unsigned s = 0; s < cap; s++) {
        if (taken(s) != in_use[s]) {
            fprintf(stderr, "class %u (cap %u): slot %u %s\n", cls, cap, s,
                    in_use[s] ? "freed, but in use" : "taken, but freed");
            CHECK(taken(s) == in_use[s]);
        }
        used += in_use[s];
    }
    for (unsigned s = cap; s < MH_BITMAP_WORDS * 64; s++) CHECK(taken(s));
    CHECK(pg->used == used);
}

/* An empty page of cls: every slot allocated, in slot order. */
static void fill_page(void) {
    CHECK(mh_heap_alloc_batch(mh_current_heap(), cls, slot_ptr, cap, false) == cap);
    pg = mh_page_of(slot_ptr[0]);
    base = mh_page_start(pg);
    for (unsigned s = 0; s < cap; s++) {
        CHECK(slot_ptr[s] == base + (size_t)s * size);
        in_use[s] = true;
    }
    check_page();
}

/* Frees every slot still in use in one batch, lowest first, so that the page is whole
   again: long upward runs, whole words among them. */
static void empty_page(void) {
    static void *rest[MAXCAP];
    size_t n = 0;
    for (unsigned s = 0; s < cap; s++)
        if (in_use[s]) rest[n++] = slot_ptr[s], in_use[s] = false;
    if (n) mh_small_free_batch(rest, n, MH_FREED_BY_PROGRAM);
    check_page();
}

/* Frees len slots from first on, step +1 or -1, as one batch whose array goes on with
   the run's next neighbour (or the address where it would be): only the len go. */
static void free_run(int first, int step, int len) {
    int last = first + step * (len - 1);
    if (first < 0 || last < 0 || first >= (int)cap || last >= (int)cap) return;
    fill_page();
    void *batch[66];
    for (int i = 0; i <= len; i++)   /* the one after may lie outside the page: an address only */
        batch[i] = (void *)((uintptr_t)base + (uintptr_t)((ptrdiff_t)(first + step * i) * (ptrdiff_t)size));
    mh_small_free_batch(batch, (size_t)len, MH_FREED_BY_PROGRAM);
    for (int i = 0; i < len; i++) in_use[first + step * i] = false;
    check_page();
    empty_page();
}

/* n objects from a page whose slots below pre are taken: lowest first, one page, and
   out[n] (and beyond) left alone. */
static void alloc_batch(unsigned pre, unsigned n) {
    if (pre + n > cap) return;
    static void *out[MAXCAP + 2];
    fill_page();
    empty_page();   /* on the empty list, whole: the next batches take it again */
    if (pre) CHECK(mh_heap_alloc_batch(mh_current_heap(), cls, slot_ptr, pre, false) == pre);
    for (unsigned s = 0; s < pre; s++) {
        CHECK(slot_ptr[s] == base + (size_t)s * size);
        in_use[s] = true;
    }
    for (unsigned i = 0; i < MAXCAP + 2; i++) out[i] = POISON;
    CHECK(mh_heap_alloc_batch(mh_current_heap(), cls, out, n, false) == n);
    for (unsigned i = 0; i < n; i++) {
        if (out[i] != base + (size_t)(pre + i) * size)
            fprintf(stderr, "class %u (cap %u), %u after %u: out[%u] = %p, not slot %u\n", cls, cap,
                    n, pre, i, out[i], pre + i);
        CHECK(out[i] == base + (size_t)(pre + i) * size);
        slot_ptr[pre + i] = out[i];
        in_use[pre + i] = true;
    }
    CHECK(out[n] == POISON && out[n + 1] == POISON);
    check_page();
    empty_page();
}

int main(void) {
    mh_free(mh_malloc(1));
    static const size_t sizes[] = {16, 32, 48, 64, 128, 1024, 10912};
    for (size_t c = 0; c < sizeof sizes / sizeof sizes[0]; c++) {
        cls = mh_size_class(sizes[c]);
        cap = mh_class_objects(cls);
        size = mh_class_size(cls);
        CHECK(size == sizes[c] && cap <= MAXCAP);
        unsigned lastw = (cap - 1) / 64 * 64;   /* the first slot of the last word */
        /* first, step, len: within a word; at a word's end and start; a whole word;
           at the capacity; from slot 0. */
        const int runs[][3] = {
            {10, 1, 1}, {10, -1, 1}, {10, 1, 2}, {11, -1, 2}, {10, 1, 4}, {20, -1, 4},
            {0, 1, 1}, {0, 1, 5}, {4, -1, 5}, {3, -1, 1}, {1, 1, 1}, {1, -1, 1},
            {60, 1, 4}, {67, -1, 4}, {63, 1, 1}, {64, -1, 1}, {63, -1, 1}, {64, 1, 1},
            {62, 1, 2}, {65, -1, 2}, {61, 1, 4}, {66, -1, 4},
            {63, -1, 64}, {0, 1, 64}, {64, 1, 64}, {127, -1, 64},
            {0, 1, 63}, {63, -1, 63}, {1, 1, 63}, {62, -1, 63},
            {(int)cap - 4, 1, 4}, {(int)cap - 1, -1, 4}, {(int)cap - 1, 1, 1},
            {(int)cap - 1, -1, 1}, {(int)lastw, 1, (int)(cap - lastw)},
            {(int)cap - 1, -1, (int)(cap - lastw)}, {(int)lastw + 1, 1, 3},
        };
        for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++)
            free_run(runs[r][0], runs[r][1], runs[r][2]);
        const unsigned allocs[][2] = {
            {0, 1}, {0, 63}, {0, 64}, {0, 65}, {0, 127}, {0, 128}, {0, 129}, {0, cap}, {0, cap - 1},
            {5, 59}, {5, 122}, {5, 123}, {5, 124}, {1, 63}, {1, 126}, {1, 127}, {64, 63}, {64, 64},
        };
        for (size_t a = 0; a < sizeof allocs / sizeof allocs[0]; a++)
            alloc_batch(allocs[a][0], allocs[a][1]);
        check_heap_lists(mh_current_heap());
    }
    puts("page runs ok");
    return 0;
}
