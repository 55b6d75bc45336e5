/*
 * realloc-growth: blocks grown step by step by realloc, as a growing vector
 * or string does, from small to large; several blocks grow in turn so that
 * a block cannot always grow in place.
 */
#include "common.h"

#include <stdlib.h>
#include <string.h>

typedef struct rg {
    size_t start, max;
    double factor;
    size_t blocks;
    int64_t rounds;
    wl_block *all;          /* [thread][blocks] */
} rg;

static const mh_param_def rg_params[] = {
    { "size-start", MH_PARAM_INT, "16", 8, 1 << 26, NULL, "size of a new block in bytes" },
    { "size-max", MH_PARAM_INT, "65536", 8, 1 << 30, NULL, "size a block grows to before it is freed" },
    { "growth", MH_PARAM_REAL, "1.5", 1.01, 16, NULL, "factor per realloc step (at least one byte more)" },
    { "blocks", MH_PARAM_INT, "4", 1, 1 << 16, NULL, "blocks per thread grown in turn, one step each" },
    { "rounds", MH_PARAM_INT, "400", 1, 1e12, NULL, "grow-all-then-free rounds per thread" },
    { NULL },
};

static void *rg_setup(mh_run *run)
{
    const char *name = "realloc-growth";
    rg *s = wl_zalloc_lines(sizeof *s);
    if (!s)
        return NULL;
    s->start = (size_t)mh_param_int(run, "size-start");
    s->max = (size_t)mh_param_int(run, "size-max");
    s->factor = mh_param_real(run, "growth");
    s->blocks = (size_t)mh_param_int(run, "blocks");
    s->rounds = mh_param_int(run, "rounds");
    if (!wl_check_le(name, "size-start", (int64_t)s->start, "size-max", (int64_t)s->max) ||
        !(s->all = wl_blocks_new(run, name, s->blocks))) {
        wl_free_lines(s);
        return NULL;
    }
    return s;
}

/* Without --check the block's first word carries its address at allocation:
 * a realloc that loses the old contents is caught here. With --check the
 * driver verifies every byte instead (and owns them). */
static bool rg_signs(const mh_thread *t)
{
    return wl_objects_real(t) && !(t->flags & MH_T_CHECK);
}

static void rg_grow(mh_thread *t, const rg *s, wl_block *b)
{
    uintptr_t sig = 0;
    if (rg_signs(t))
        memcpy(&sig, b->p, sizeof sig);
    size_t n = (size_t)((double)b->n * s->factor);
    n = n <= b->n ? b->n + 1 : n > s->max ? s->max : n;
    b->p = wl_realloc(t, b->p, b->n, n);
    b->n = n;
    if (rg_signs(t) && memcmp(&sig, b->p, sizeof sig))
        mh_corrupt(t, b->p, n, "realloc lost the block's first bytes");
}

static void rg_thread(mh_thread *t)
{
    const rg params = *(const rg *)t->shared, *s = &params;   /* in locals: see workload.h */
    wl_block *b = wl_blocks_of(s->all, s->blocks, t->index);
    for (int64_t r = 0; r < s->rounds; r++) {
        for (size_t i = 0; i < s->blocks; i++) {
            b[i].n = s->start;
            b[i].p = wl_alloc(t, s->start);
            if (rg_signs(t))
                memcpy(b[i].p, &b[i].p, sizeof b[i].p);
        }
        /* All blocks start and end at the same sizes, so they reach max together. */
        while (b[0].n < s->max)
            for (size_t i = 0; i < s->blocks; i++)
                rg_grow(t, s, &b[i]);
        wl_blocks_free_local(t, b, s->blocks);
    }
}

static void rg_report(mh_run *run, void *shared)
{
    rg *s = shared;
    size_t steps = 0;
    for (size_t n = s->start; n < s->max; steps++) {
        size_t next = (size_t)((double)n * s->factor);
        n = next <= n ? n + 1 : next;
    }
    mh_metric(run, "reallocs_per_block", (double)steps);
    wl_free_lines(s->all);
    wl_free_lines(s);
}

const mh_workload mh_wl_realloc_growth = {
    .name = "realloc-growth",
    .summary = "blocks grown by realloc from small to large, several in turn, contents kept",
    .help =
        "Each thread allocates --blocks blocks of --size-start bytes, then grows them in\n"
        "turn, one realloc step each (new size = old * --growth), until they reach\n"
        "--size-max, and frees them; --rounds times. A realloc counts as one operation.\n"
        "Growing several blocks in turn means a neighbour often sits right after the block,\n"
        "so the allocator must choose between moving (copying) and growing in place, and\n"
        "the block crosses every size class and the small/large boundary on the way.\n"
        "Contents must survive: with --check the driver verifies every byte; without it the\n"
        "workload checks each block's first word after every step.\n"
        "A good allocator grows in place when the class has room, moves large blocks with\n"
        "mremap rather than copying, and does not leave the smaller classes' pages behind\n"
        "as fragmentation. The analog of mstress's realloc phase and of vector growth.",
    .params = rg_params,
    .setup = rg_setup,
    .thread = rg_thread,
    .report = rg_report,
};
