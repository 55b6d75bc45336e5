/* driver.latency: the log-linear histogram's buckets, quantiles and merge. */
#include "driver.h"

#include <stdio.h>
#include <stdlib.h>

static int failures;

#define CHECK(cond, ...) do { if (!(cond)) { fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, #cond); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); failures++; } } while (0)

/* A quantile is the upper bound of its bucket: never below the true value, at most 1/16 above. */
static void check_quantile(const mh_hist *h, double q, uint64_t truth)
{
    uint64_t got = mh_hist_quantile(h, q);
    CHECK(got >= truth && (double)got <= (double)truth * (1.0 + 1.0 / 16) + 1, "q=%g: %llu for true %llu",
          q, (unsigned long long)got, (unsigned long long)truth);
}

int main(void)
{
    mh_hist *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);

    /* bucket indexes grow with the value and stay in range up to the largest value */
    unsigned prev = 0;
    for (uint64_t v = 0; v < 1u << 20; v++) {
        unsigned i = mh_hist_index(v);
        CHECK(i >= prev && i - prev <= 1, "index of %llu jumps from %u to %u", (unsigned long long)v, prev, i);
        prev = i;
    }
    CHECK(mh_hist_index(UINT64_MAX) == MH_LAT_BUCKETS - 1, "last bucket %u", mh_hist_index(UINT64_MAX));
    for (uint64_t v = 0; v < 16; v++)
        CHECK(mh_hist_index(v) == v, "small values are exact");

    CHECK(mh_hist_quantile(a, 0.5) == 0, "empty histogram");
    for (uint64_t v = 1; v <= 1000; v++)
        mh_hist_add(v % 2 ? a : b, v);
    mh_hist_merge(a, b);
    CHECK(a->count == 1000 && a->max == 1000, "merge: count %llu max %llu", (unsigned long long)a->count,
          (unsigned long long)a->max);
    check_quantile(a, 0.5, 500);
    check_quantile(a, 0.9, 900);
    check_quantile(a, 0.99, 990);
    check_quantile(a, 0.999, 999);
    CHECK(mh_hist_quantile(a, 1.0) == 1000, "p100 is the max");

    /* one outlier: p99.9 of 10000 samples reaches it only when more than 0.1% are outliers */
    mh_hist *c = calloc(1, sizeof *c);
    for (int i = 0; i < 9990; i++)
        mh_hist_add(c, 20);
    for (int i = 0; i < 10; i++)
        mh_hist_add(c, 1000000);
    CHECK(mh_hist_quantile(c, 0.99) == 20, "p99 %llu", (unsigned long long)mh_hist_quantile(c, 0.99));
    CHECK(mh_hist_quantile(c, 0.999) == 20, "p99.9 %llu", (unsigned long long)mh_hist_quantile(c, 0.999));
    CHECK(mh_hist_quantile(c, 0.9995) == 1000000, "p99.95 is clipped to max: %llu",
          (unsigned long long)mh_hist_quantile(c, 0.9995));
    free(a);
    free(b);
    free(c);
    if (failures)
        fprintf(stderr, "%d check(s) failed\n", failures);
    return failures != 0;
}
