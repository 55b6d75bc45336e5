/*
 * Log-linear latency histograms (driver.h): each worker adds to its own, the
 * driver merges them after the run, so sampling never shares a cache line.
 */
#include "driver.h"

void mh_hist_merge(mh_hist *into, const mh_hist *from)
{
    into->count += from->count;
    if (from->max > into->max)
        into->max = from->max;
    for (unsigned i = 0; i < MH_LAT_BUCKETS; i++)
        into->bucket[i] += from->bucket[i];
}

static uint64_t bucket_upper(unsigned i)
{
    if (i < (1u << MH_LAT_SUB_BITS))
        return i;
    unsigned msb = (i >> MH_LAT_SUB_BITS) + MH_LAT_SUB_BITS - 1;
    unsigned shift = msb - MH_LAT_SUB_BITS;
    uint64_t sub = i & ((1u << MH_LAT_SUB_BITS) - 1);
    uint64_t lower = ((1ull << MH_LAT_SUB_BITS) + sub) << shift;
    return lower + ((1ull << shift) - 1);
}

uint64_t mh_hist_quantile(const mh_hist *h, double q)
{
    if (h->count == 0)
        return 0;
    /* rank of the sample at quantile q, 1-based, nearest-rank definition */
    uint64_t rank = (uint64_t)(q * (double)h->count);
    if ((double)rank < q * (double)h->count || rank == 0)
        rank++;
    uint64_t seen = 0;
    for (unsigned i = 0; i < MH_LAT_BUCKETS; i++) {
        seen += h->bucket[i];
        if (seen >= rank) {
            uint64_t up = bucket_upper(i);
            return up < h->max ? up : h->max;
        }
    }
    return h->max;
}
