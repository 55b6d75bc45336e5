#include "workload.h"

#include <string.h>

extern const mh_workload mh_wl_producer_consumer, mh_wl_cross_core_free, mh_wl_growth_storm,
    mh_wl_thread_local_churn, mh_wl_larson, mh_wl_xmalloc, mh_wl_false_sharing_passive,
    mh_wl_false_sharing_active, mh_wl_threadtest, mh_wl_shbench, mh_wl_size_sweep,
    mh_wl_realloc_growth, mh_wl_oversubscribed;

/* In the order of workloads/README.md. */
const mh_workload *const mh_workloads[] = {
    &mh_wl_producer_consumer,
    &mh_wl_cross_core_free,
    &mh_wl_growth_storm,
    &mh_wl_thread_local_churn,
    &mh_wl_larson,
    &mh_wl_xmalloc,
    &mh_wl_false_sharing_passive,
    &mh_wl_false_sharing_active,
    &mh_wl_threadtest,
    &mh_wl_shbench,
    &mh_wl_size_sweep,
    &mh_wl_realloc_growth,
    &mh_wl_oversubscribed,
    NULL,
};

const mh_workload *mh_workload_find(const char *name)
{
    for (const mh_workload *const *w = mh_workloads; *w; w++)
        if (!strcmp((*w)->name, name))
            return *w;
    return NULL;
}
