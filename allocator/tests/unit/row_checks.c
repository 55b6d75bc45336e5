/* Free's fast path checks that a pointer starts a slot against its row's copy of its
   class's check (mh_cache_row, cache.h), so every small row readied on a CPU must hold
   exactly its class's entry of mh_class_checks: a row with another class's copy would
   pass interior pointers of this class (or send every free of it to the slow path).
   That a push reads the copy only after the row's capacity, so never half of one, is
   argued in cache.h, not tested: no test can time a push between two stores.
   A thread pinned to CPU a readies the class row of every class there (one malloc and
   free each); a second thread frees objects of a on CPU b, which readies b's remote
   rows; and a large row, readied by a large block's free, holds no check. The misuse
   tests (misuse.c) check that the copies reject what they must.
   Skipped (77) where the cache cannot run. */
#define _GNU_SOURCE
#include <pthread.h>
#include <string.h>

#include "mh_internal.h"
#include "mhunit.h"

static void *objects[MH_NCLASSES];
static int cpu_b;

static bool row_holds_check_of(const mh_cache_row *row, unsigned cls) {
    const mh_class_check *k = &mh_class_checks[cls + 1];
    return __atomic_load_n(&row->check_divisibility, __ATOMIC_RELAXED) == k->divisibility &&
           __atomic_load_n(&row->check_limit, __ATOMIC_RELAXED) == k->limit &&
           __atomic_load_n(&row->check_unit_mask, __ATOMIC_RELAXED) == k->unit_mask && k->limit != 0;
}

static void *free_on_b(void *arg) {
    (void)arg;
    pin_to_cpu(cpu_b);
    for (unsigned c = 0; c < MH_NCLASSES; c++) free(objects[c]);
    return NULL;
}

int main(void) {
    free(malloc(1));
    if (!strstr(mh_options(), "cache=rseq")) {
        printf("row_checks: skipped, the front cache is off here (%s)\n", mh_options());
        return 77;
    }
    int first, second;
    bool two = two_allowed_cpus(&first, &second);   /* before the pinning narrows them */
    int a = pin_to_this_cpu();
    const mh_cpu_cache *cache_a = mh_cache_of_cpu((unsigned)a);
    for (unsigned c = 0; c < MH_NCLASSES; c++) {
        free(malloc(mh_class_size(c)));
        CHECK(row_holds_check_of(&cache_a->row[c], c));
    }
    printf("row_checks: CPU %d's class rows of all %d classes hold their class's check\n", a,
           MH_NCLASSES);

    void *large = malloc(MH_SMALL_MAX + 1);
    free(large);
    unsigned large_rows = 0;
    for (unsigned r = MH_SMALL_ROWS; r < MH_CACHE_ROWS; r++) {
        const mh_cache_row *row = mh_cache_row_at((mh_cpu_cache *)cache_a, r);
        if (!__atomic_load_n(&row->cap, __ATOMIC_RELAXED)) continue;
        large_rows++;
        CHECK(__atomic_load_n(&row->check_limit, __ATOMIC_RELAXED) == 0);
    }
    CHECK(large_rows > 0);
    printf("row_checks: %u large row(s) readied, with no check\n", large_rows);

    if (!two) {
        printf("row_checks: one CPU allowed, remote rows not checked\n");
        return 0;
    }
    cpu_b = first == a ? second : first;
    for (unsigned c = 0; c < MH_NCLASSES; c++) CHECK((objects[c] = malloc(mh_class_size(c))) != NULL);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, free_on_b, NULL) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    const mh_cpu_cache *cache_b = mh_cache_of_cpu((unsigned)cpu_b);
    for (unsigned c = 0; c < MH_NCLASSES; c++)
        CHECK(row_holds_check_of(&cache_b->row[MH_NCLASSES + c], c));
    printf("row_checks: CPU %d's remote rows of all %d classes hold their class's check\n", cpu_b,
           MH_NCLASSES);
    return 0;
}
