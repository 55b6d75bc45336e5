/* With MULTIHEAP_PURGE_MS=0 a purge pass gives back every cached large block, whether or
   not a pass has stamped its time in the cache yet (large.c). A pass evicts 8 blocks a
   round; it used to stamp the rest after the first round with now | 1, which at an even
   `now` made them 1 ms too young for the next round, so 12 of 20 blocks stayed mapped.
   The frees run under the purger's lock, so that their own inline passes skip, and the
   cache holds all 20 when the pass runs. The blocks are above the large bins, which the
   CPUs' rows would keep. */
#include "mh_internal.h"
#include "mhunit.h"

#define N 20

int main(void) {
    void *b[N];
    for (int i = 0; i < N; i++) CHECK((b[i] = malloc(300000)) != NULL);
    mh_purger_lock();
    for (int i = 0; i < N; i++) free(b[i]);
    mh_purger_unlock(false);
    uint64_t calls = stats_now().large_os_calls;
    bool left = mh_large_purge_pass(1000);   /* an even millisecond */
    uint64_t unmapped = stats_now().large_os_calls - calls;
    printf("large_purge_now: %s; one pass unmapped %llu blocks, %s left cached\n", mh_options(),
           (unsigned long long)unmapped, left ? "some" : "none");
    CHECK(unmapped == N && !left);
    return 0;
}
