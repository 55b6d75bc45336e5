/*
 * Thread placement with hwloc (driver.h). A plan gives each thread a cpuset
 * of one PU (or none); threads beyond the PUs in the plan wrap around.
 *
 *   none     no binding
 *   compact  PUs in hwloc's logical order: the PUs of a core, then the cores
 *            of a cache / package, so threads share as much as possible
 *   scatter  hwloc_distrib over the whole machine: threads as far apart as
 *            packages / NUMA nodes / caches / cores allow
 *   split    role 0 on the first half of the cores, other roles on the other
 *            half (producers and consumers on different cores and caches)
 *   LIST     explicit OS CPU numbers, e.g. 0,1,4-7
 */
#define _GNU_SOURCE
#include "driver.h"

#include <hwloc.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mh_placement {
    char policy[64];
    int nthreads;
    bool none;
    int npus;                   /* PUs the policy draws from */
    hwloc_bitmap_t cpus;        /* their union */
    hwloc_bitmap_t *bind;       /* per thread; NULL entries for none */
};

static hwloc_bitmap_t allowed_pus(hwloc_topology_t topo)
{
    return hwloc_bitmap_dup(hwloc_topology_get_allowed_cpuset(topo));
}

/* The i-th PU (logical order) inside set, wrapping around. */
static hwloc_bitmap_t nth_pu(hwloc_topology_t topo, hwloc_const_bitmap_t set, int i)
{
    int n = hwloc_get_nbobjs_inside_cpuset_by_type(topo, set, HWLOC_OBJ_PU);
    hwloc_obj_t pu = hwloc_get_obj_inside_cpuset_by_type(topo, set, HWLOC_OBJ_PU, (unsigned)(i % n));
    return hwloc_bitmap_dup(pu->cpuset);
}

static void plan_compact(mh_placement *pl, hwloc_topology_t topo)
{
    for (int i = 0; i < pl->nthreads; i++)
        pl->bind[i] = nth_pu(topo, pl->cpus, i);
}

static void plan_scatter(mh_placement *pl, hwloc_topology_t topo)
{
    int n = pl->nthreads < pl->npus ? pl->nthreads : pl->npus;
    hwloc_bitmap_t *sets = calloc((size_t)n, sizeof *sets);
    hwloc_obj_t root = hwloc_get_root_obj(topo);
    hwloc_distrib(topo, &root, 1, sets, (unsigned)n, INT_MAX, 0);
    for (int i = 0; i < n; i++)
        hwloc_bitmap_singlify(sets[i]);
    for (int i = 0; i < pl->nthreads; i++)
        pl->bind[i] = hwloc_bitmap_dup(sets[i % n]);
    for (int i = 0; i < n; i++)
        hwloc_bitmap_free(sets[i]);
    free(sets);
}

/* Halves by cores; a single core is split by PUs; a single PU serves both. */
static void plan_split(mh_placement *pl, hwloc_topology_t topo, const int *roles)
{
    hwloc_obj_type_t unit = hwloc_get_nbobjs_inside_cpuset_by_type(topo, pl->cpus, HWLOC_OBJ_CORE) >= 2
                          ? HWLOC_OBJ_CORE : HWLOC_OBJ_PU;
    int nunits = hwloc_get_nbobjs_inside_cpuset_by_type(topo, pl->cpus, unit);
    hwloc_bitmap_t half[2] = { hwloc_bitmap_alloc(), hwloc_bitmap_alloc() };
    for (int u = 0; u < nunits; u++) {
        hwloc_obj_t o = hwloc_get_obj_inside_cpuset_by_type(topo, pl->cpus, unit, (unsigned)u);
        hwloc_bitmap_or(half[nunits >= 2 && u >= nunits / 2], half[nunits >= 2 && u >= nunits / 2], o->cpuset);
    }
    if (nunits < 2)
        hwloc_bitmap_copy(half[1], half[0]);
    int seen[2] = { 0, 0 };
    for (int i = 0; i < pl->nthreads; i++) {
        int side = roles[i] != 0;
        pl->bind[i] = nth_pu(topo, half[side], seen[side]++);
    }
    hwloc_bitmap_free(half[0]);
    hwloc_bitmap_free(half[1]);
}

static size_t digits(const char *s)
{
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9')
        n++;
    return n;
}

/* N or N-M, separated by commas: hwloc alone would take "1-" for "1 and every CPU after". */
static bool valid_list_syntax(const char *s)
{
    for (;;) {
        size_t n = digits(s);
        if (!n)
            return false;
        s += n;
        if (*s == '-') {
            if (!(n = digits(++s)))
                return false;
            s += n;
        }
        if (!*s)
            return true;
        if (*s++ != ',')
            return false;
    }
}

/* Explicit OS CPU numbers: every one must be usable. */
static bool plan_list(mh_placement *pl, const char *text, char *err, size_t errlen)
{
    char allowed[256];
    hwloc_bitmap_list_snprintf(allowed, sizeof allowed, pl->cpus);
    hwloc_bitmap_t want = hwloc_bitmap_alloc();
    if (!valid_list_syntax(text) || hwloc_bitmap_list_sscanf(want, text) != 0 || hwloc_bitmap_iszero(want)) {
        snprintf(err, errlen, "placement '%.60s' is not a policy or a CPU list; use none, compact, scatter, split "
                 "or a list like 0,1,4-7 (CPUs here: %s)", text, allowed);
        hwloc_bitmap_free(want);
        return false;
    }
    if (!hwloc_bitmap_isincluded(want, pl->cpus)) {
        hwloc_bitmap_andnot(want, want, pl->cpus);
        char bad[256];
        hwloc_bitmap_list_snprintf(bad, sizeof bad, want);
        snprintf(err, errlen, "placement: CPU %s not available; choose from %s", bad, allowed);
        hwloc_bitmap_free(want);
        return false;
    }
    hwloc_bitmap_copy(pl->cpus, want);
    hwloc_bitmap_free(want);
    pl->npus = hwloc_bitmap_weight(pl->cpus);
    /* OS order, as the user wrote the numbers */
    for (int i = 0; i < pl->nthreads; i++) {
        int k = i % pl->npus, cpu = hwloc_bitmap_first(pl->cpus);
        while (k-- > 0)
            cpu = hwloc_bitmap_next(pl->cpus, cpu);
        pl->bind[i] = hwloc_bitmap_alloc();
        hwloc_bitmap_only(pl->bind[i], (unsigned)cpu);
    }
    return true;
}

mh_placement *mh_placement_plan(const char *policy, int nthreads, const int *roles, char *err, size_t errlen)
{
    hwloc_topology_t topo = mh_topology();
    mh_placement *pl = calloc(1, sizeof *pl);
    snprintf(pl->policy, sizeof pl->policy, "%s", policy);
    pl->nthreads = nthreads;
    pl->bind = calloc((size_t)nthreads, sizeof *pl->bind);
    pl->cpus = allowed_pus(topo);
    pl->npus = hwloc_get_nbobjs_inside_cpuset_by_type(topo, pl->cpus, HWLOC_OBJ_PU);
    if (strcmp(policy, "none") == 0)
        pl->none = true;
    else if (strcmp(policy, "compact") == 0)
        plan_compact(pl, topo);
    else if (strcmp(policy, "scatter") == 0)
        plan_scatter(pl, topo);
    else if (strcmp(policy, "split") == 0)
        plan_split(pl, topo, roles);
    else if (!plan_list(pl, policy, err, errlen)) {
        mh_placement_free(pl);
        return NULL;
    }
    return pl;
}

void mh_placement_free(mh_placement *pl)
{
    if (!pl)
        return;
    for (int i = 0; i < pl->nthreads; i++)
        hwloc_bitmap_free(pl->bind[i]);
    free(pl->bind);
    hwloc_bitmap_free(pl->cpus);
    free(pl);
}

bool mh_placement_bind(const mh_placement *pl, int index)
{
    if (pl->none)
        return true;
    return hwloc_set_cpubind(mh_topology(), pl->bind[index], HWLOC_CPUBIND_THREAD) == 0;
}

static void write_cpus(mh_jw *w, const char *key, hwloc_const_bitmap_t set)
{
    unsigned cpu;
    mh_jw_arr_begin(w, key);
    hwloc_bitmap_foreach_begin(cpu, set)
        mh_jw_int(w, NULL, cpu);
    hwloc_bitmap_foreach_end();
    mh_jw_arr_end(w);
}

void mh_placement_write(const mh_placement *pl, mh_jw *w, const mh_run *run)
{
    mh_jw_obj_begin(w, "placement");
    mh_jw_str(w, "policy", pl->none ? "none" : pl->policy);
    write_cpus(w, "cpus", pl->cpus);
    mh_jw_bool(w, "wrapped", !pl->none && pl->nthreads > pl->npus);
    mh_jw_arr_begin(w, "threads");
    for (int i = 0; i < pl->nthreads; i++) {
        const struct mh_harness_thread *h = &run->h[i];
        mh_jw_obj_begin(w, NULL);
        mh_jw_int(w, "index", i);
        int role = run->roles[i];
        mh_jw_str(w, "role", run->wl->role_names ? run->wl->role_names[role] : "worker");
        if (pl->none)
            mh_jw_null(w, "bound");
        else
            write_cpus(w, "bound", pl->bind[i]);
        mh_jw_bool(w, "bind_ok", h->bind_ok);
        mh_jw_arr_begin(w, "ran_on");
        for (int cpu = 0; cpu < 64 * MH_CPU_WORDS; cpu++)
            if (h->ran_on[cpu / 64] >> (cpu % 64) & 1)
                mh_jw_int(w, NULL, cpu);
        mh_jw_arr_end(w);
        mh_jw_obj_end(w);
    }
    mh_jw_arr_end(w);
    mh_jw_obj_end(w);
}
