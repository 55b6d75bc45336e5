/* Empty pages scattered among used ones go back to the OS however many separate runs
   they make: every other page of a burst keeps one object, the rest is freed, and the
   purger gives back nearly every freed page, 5000 runs, more than the purged-page table
   once held (4096: the pages past it stayed resident, and the purger passed again and
   again over them). Single thread pinned to one CPU, so one heap holds the burst. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "mh_internal.h"
#include "mhunit.h"

#define OBJ 1000                   /* a class with one-page slabs */
#define RUNS 5000                  /* freed pages, each between two kept ones */
#define NOBJ (2 * RUNS * (MH_PAGE_SIZE / OBJ) + 1000)
#define WAIT_MS_MAX 5000

static int by_address(const void *a, const void *b) {
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return (x > y) - (x < y);
}

int main(void) {
    pin_to_this_cpu();
    CHECK(mh_class_pages(mh_size_class(OBJ)) == 1);
    static uintptr_t obj[NOBJ];
    for (size_t i = 0; i < NOBJ; i++) {
        obj[i] = (uintptr_t)malloc(OBJ);
        CHECK(obj[i]);
        memset((void *)obj[i], 1, OBJ);
    }
    qsort(obj, NOBJ, sizeof *obj, by_address);
    /* pages in address order: even ones keep their first object, odd ones are freed */
    size_t page = 0, freed_pages = 0;
    uintptr_t last_page = obj[0] / MH_PAGE_SIZE;
    for (size_t i = 0; i < NOBJ; i++) {
        bool first_of_page = i == 0 || obj[i] / MH_PAGE_SIZE != last_page;
        if (i > 0 && first_of_page) page++;
        last_page = obj[i] / MH_PAGE_SIZE;
        if (page % 2 == 1 && first_of_page) freed_pages++;
        if (page % 2 == 0 && first_of_page) continue;
        free((void *)obj[i]);
        obj[i] = 0;
    }
    CHECK(freed_pages >= RUNS - 2);
    uint64_t before = stats_now().purge_bytes, want = (freed_pages - MH_PURGE_KEEP) * MH_PAGE_SIZE * 9 / 10;
    int waited = 0;
    while (stats_now().purge_bytes - before < want && waited < WAIT_MS_MAX) {
        nanosleep(&(struct timespec){0, 50 * 1000000L}, NULL);
        waited += 50;
    }
    uint64_t purged = stats_now().purge_bytes - before;
    printf("purge_runs: %zu pages freed between kept ones, %llu KiB given back in %d ms\n", freed_pages,
           (unsigned long long)(purged >> 10), waited);
    CHECK(purged >= want);
    for (size_t i = 0; i < NOBJ; i++) {
        if (!obj[i]) continue;
        CHECK(((unsigned char *)obj[i])[OBJ - 1] == 1);   /* the kept objects are intact */
        free((void *)obj[i]);
    }
    return 0;
}
