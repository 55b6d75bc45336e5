/* A CPU's mallocs never hand out objects freed there that another CPU's heap owns (the
   remote rows, mh_cpu_cache): such an object shares its cache lines with its neighbours,
   which may be in use on their own CPU (passive false sharing). One thread allocates
   N objects on CPU a and frees them on CPU b; then every one of N mallocs on b must come
   from b's own heap and share no line with a's objects. Back on a, a's mallocs get
   objects of its own back: the remote rows' flushes returned them. With one row per
   class, b's mallocs popped a's objects, last freed first. Skipped (77) where the cache
   cannot run or only one CPU is allowed. */
#define _GNU_SOURCE
#include <string.h>

#include "mh_internal.h"
#include "mhunit.h"

#define N 2000
#define SIZE 48   /* lines shared between neighbours */

static uintptr_t line_of(const void *p) { return (uintptr_t)p / MH_CACHE_LINE; }

static int by_address(const void *x, const void *y) {
    uintptr_t a = (uintptr_t)*(void *const *)x, b = (uintptr_t)*(void *const *)y;
    return a < b ? -1 : a > b;
}

/* Does any object of sorted[0..N) share a line with p? */
static bool shares_a_line(void *const *sorted, const void *p) {
    size_t lo = 0, hi = N;
    while (lo < hi) {   /* the first object at or after p's line */
        size_t mid = (lo + hi) / 2;
        if (line_of(sorted[mid]) < line_of(p)) lo = mid + 1;
        else hi = mid;
    }
    return (lo < N && line_of(sorted[lo]) == line_of(p)) ||
           (lo > 0 && line_of((char *)sorted[lo - 1] + SIZE - 1) == line_of(p));
}

static void *from_a[N], *on_b[N], *back_on_a[N];

int main(void) {
    free(malloc(1));   /* initialises the library, for mh_options() */
    int a, b;
    if (!two_allowed_cpus(&a, &b) || !strstr(mh_options(), "cache=rseq")) {
        printf("remote_rows: skipped, needs the front cache and two CPUs (%s)\n", mh_options());
        return 77;
    }
    pin_to_cpu(a);
    for (int i = 0; i < N; i++) CHECK((from_a[i] = malloc(SIZE)) != NULL);
    pin_to_cpu(b);
    for (int i = 0; i < N; i++) free(from_a[i]);
    int foreign = 0, sharing = 0;
    qsort(from_a, N, sizeof *from_a, by_address);
    for (int i = 0; i < N; i++) {
        CHECK((on_b[i] = malloc(SIZE)) != NULL);
        foreign += mh_page_owner(on_b[i]) != (unsigned)b;
        sharing += shares_a_line(from_a, on_b[i]);
    }
    pin_to_cpu(a);
    int returned = 0;
    for (int i = 0; i < N; i++) {
        CHECK((back_on_a[i] = malloc(SIZE)) != NULL);
        returned += bsearch(&back_on_a[i], from_a, N, sizeof *from_a, by_address) != NULL;
    }
    printf("remote_rows: of %d mallocs on CPU %d after it freed CPU %d's objects, %d from "
           "another heap, %d sharing a line with those objects; back on CPU %d, %d of its "
           "mallocs got them back\n", N, b, a, foreign, sharing, a, returned);
    CHECK(foreign == 0 && sharing == 0);
    /* The remote row's flushes (half a row each, of up to 1024 objects) sent most back. */
    CHECK(returned >= N / 2);
    for (int i = 0; i < N; i++) {
        free(on_b[i]);
        free(back_on_a[i]);
    }
    return 0;
}
