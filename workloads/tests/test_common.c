/* workloads.common: the helpers of common.c and the driver that need no run. wl_zalloc_lines_resident
 * must leave every page of the array resident (a stride of 4096 from its start, a line
 * into the mapping, once missed the last page whenever the size was a multiple of 4096),
 * and wl_zalloc_lines none but the first (its header line holds the mapping's length),
 * until the workload writes. */
#include "common.h"

#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

static int failed;

/* Resident pages of [p, p + bytes), and the pages that range spans. */
static size_t resident(const char *p, size_t bytes, size_t *spanned) {
    uintptr_t first = (uintptr_t)p & ~(uintptr_t)4095, end = ((uintptr_t)p + bytes + 4095) & ~(uintptr_t)4095;
    unsigned char vec[4096];
    *spanned = (end - first) / 4096;
    if (*spanned > sizeof vec || mincore((void *)first, end - first, vec) != 0) return SIZE_MAX;
    size_t n = 0;
    for (size_t i = 0; i < *spanned; i++) n += vec[i] & 1;
    return n;
}

int main(void) {
    const size_t sizes[] = { 1, 4032, 4033, 4096, 16384, 1179648 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t spanned = 0, got = 0;
        char *p = wl_zalloc_lines_resident(sizes[i]);
        if (!p || (got = resident(p, sizes[i], &spanned)) != spanned) {
            printf("FAIL: wl_zalloc_lines_resident(%zu): %zu of the %zu pages resident\n", sizes[i], got, spanned);
            failed = 1;
        }
        wl_free_lines(p);
        p = wl_zalloc_lines(sizes[i]);
        if (!p || (got = resident(p, sizes[i], &spanned)) > 1) {
            printf("FAIL: wl_zalloc_lines(%zu): %zu of the %zu pages resident before any write\n", sizes[i], got, spanned);
            failed = 1;
        }
        wl_free_lines(p);
    }
    if (!failed) printf("workloads.common: ok\n");
    return failed;
}
