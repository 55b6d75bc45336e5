/* A flush's objects grouped by owner heap (mh_group_by_owner): the result is a
   permutation of the input in which each owner's objects are next to each other, for
   a few owners (keeping each owner's order) and for many, with owner ids of one byte and of two (machines with more
   than 256 CPUs), a batch of one owner keeps its order, and one object of another owner
   is found wherever it lies in a batch. The owners are written into the page-owner map by hand
   (MULTIHEAP_KEY=global: every page is heap 0's), and put back before the frees. */
#include <string.h>

#include "mh_internal.h"
#include "mhunit.h"

#define NOBJ 512

static void *objs[NOBJ];

static size_t page_index(const void *p) {
    return ((uintptr_t)p - (uintptr_t)mh_global.small_base) >> MH_PAGE_SHIFT;
}

static int by_address(const void *a, const void *b) {
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

/* Gives the k-th page of objs the owner low_mod and high_mod make of k: the id's low
   byte k % low_mod, its high byte k * 13 % high_mod, so that many owners share a low byte
   when high_mod > 1. */
static void set_owners(unsigned low_mod, unsigned high_mod) {
    size_t first = page_index(objs[0]);
    for (size_t i = 0; i < NOBJ; i++) {
        size_t k = page_index(objs[i]) - first;
        mh_global.page_owner[page_index(objs[i])] = (uint16_t)(k % low_mod + 256 * (k * 13 % high_mod));
    }
}

/* Where p is in in[0..NOBJ). */
static size_t position_in(void *const *in, const void *p) {
    size_t i = 0;
    while (in[i] != p) i++;
    return i;
}

/* Groups a shuffled copy of objs and checks the grouping and the permutation; stable:
   also that each owner's objects keep their order (a few owners, listed one by one: a
   flush's runs of neighbours must stay runs for the pages' bitmaps). */
static void check_grouping(unsigned nheaps, bool stable) {
    void *batch[NOBJ], *shuffled[NOBJ], *sorted_in[NOBJ];
    unsigned seed = nheaps;
    memcpy(batch, objs, sizeof batch);
    for (size_t i = NOBJ - 1; i > 0; i--) {   /* Fisher-Yates with a fixed LCG */
        seed = seed * 1103515245u + 12345u;
        size_t j = (seed >> 8) % (i + 1);
        void *t = batch[i];
        batch[i] = batch[j];
        batch[j] = t;
    }
    memcpy(shuffled, batch, sizeof shuffled);
    unsigned saved = mh_global.nheaps;
    mh_global.nheaps = nheaps;
    mh_group_by_owner(batch, NOBJ);
    mh_global.nheaps = saved;
    for (size_t i = 1; stable && i < NOBJ; i++)
        if (mh_page_owner(batch[i]) == mh_page_owner(batch[i - 1]))
            CHECK(position_in(shuffled, batch[i - 1]) < position_in(shuffled, batch[i]));

    static unsigned char seen[65536];
    memset(seen, 0, sizeof seen);
    unsigned groups = 0;
    for (size_t i = 0; i < NOBJ; i++) {
        unsigned owner = mh_page_owner(batch[i]);
        if (i > 0 && owner == mh_page_owner(batch[i - 1])) continue;
        CHECK(!seen[owner]);   /* a group that started before must have ended for good */
        seen[owner] = 1;
        groups++;
    }
    CHECK(groups > 1);
    memcpy(sorted_in, objs, sizeof sorted_in);
    qsort(sorted_in, NOBJ, sizeof *sorted_in, by_address);
    qsort(batch, NOBJ, sizeof *batch, by_address);
    CHECK(memcmp(sorted_in, batch, sizeof batch) == 0);
}

int main(void) {
    /* 1 KiB objects: 8 to a page, so 64 pages, each with its own owner below. */
    for (size_t i = 0; i < NOBJ; i++) CHECK((objs[i] = malloc(1000)) != NULL);

    /* A few owners (listed one by one), then more than 32 (the 256 buckets). */
    set_owners(4, 1);        /* ids of one byte */
    check_grouping(200, true);
    set_owners(2, 3);        /* ids of two bytes, six owners */
    check_grouping(256 * 3, true);
    set_owners(200, 1);      /* 64 owners of one byte */
    check_grouping(200, false);
    set_owners(5, 7);        /* ids of two bytes, below 256 * 7 */
    check_grouping(256 * 7, false);
    set_owners(3, 200);      /* below 256 * 200 */
    check_grouping(256 * 200, false);

    /* One owner: the order stays as it was. */
    set_owners(1, 1);
    void *batch[NOBJ];
    memcpy(batch, objs, sizeof batch);
    mh_group_by_owner(batch, NOBJ);
    CHECK(memcmp(batch, objs, sizeof batch) == 0);

    /* One object of another owner, at each place of a batch of one object a page (63
       after the first: every lane of one_owner's four running tests and its tail),
       must be grouped after the others. */
    void *one_a_page[NOBJ / 8];
    size_t npages = 0;
    for (size_t i = 0; i < NOBJ && npages < NOBJ / 8; i++)
        if (npages == 0 || page_index(objs[i]) != page_index(one_a_page[npages - 1]))
            one_a_page[npages++] = objs[i];
    CHECK(npages == NOBJ / 8);
    for (size_t k = 1; k + 1 < npages; k++) {
        memcpy(batch, one_a_page, npages * sizeof *batch);
        mh_global.page_owner[page_index(batch[k])] = 1;
        mh_group_by_owner(batch, npages);
        mh_global.page_owner[page_index(one_a_page[k])] = 0;
        CHECK(batch[npages - 1] == one_a_page[k]);
    }

    set_owners(1, 1);        /* heap 0 again, as the pages really are */
    for (size_t i = 0; i < NOBJ; i++) free(objs[i]);
    printf("flush_group: %d objects grouped by owner for 200, 1792 and 51200 heaps\n", NOBJ);
    return 0;
}
