/*
 * shbench: SmartHeap's benchmark as Theseus ran it. Each thread walks a ring
 * of slots: every pass fills the empty slots, then frees all but a window of
 * consecutive slots, which survive into the next pass; the window moves on
 * each pass. Frees alternate between LIFO and allocation order.
 */
#include "common.h"

#include <stdlib.h>

typedef struct sh {
    wl_sizes sizes;
    size_t slots, window;
    int64_t passes;
    wl_block *blocks;
} sh;

static const mh_param_def sh_params[] = {
    WL_SIZE_PARAMS("power-law", "1", "1000"),
    { "slots", MH_PARAM_INT, "2000", 1, 1 << 24, NULL, "slots in each thread's ring" },
    { "window", MH_PARAM_INT, "200", 0, 1 << 24, NULL,
      "consecutive slots whose blocks survive each pass (longer-lived blocks); at most --slots" },
    { "passes", MH_PARAM_INT, "6000", 1, 1e12, NULL, "fill-and-free passes over the ring per thread" },
    { NULL },
};

static void *sh_setup(mh_run *run)
{
    const char *name = "shbench";
    sh *s = wl_zalloc_lines(sizeof *s);
    if (!s)
        return NULL;
    s->slots = (size_t)mh_param_int(run, "slots");
    s->window = (size_t)mh_param_int(run, "window");
    s->passes = mh_param_int(run, "passes");
    if (!wl_sizes_from_params(&s->sizes, run, name) ||
        !wl_check_le(name, "window", (int64_t)s->window, "slots", (int64_t)s->slots) ||
        !(s->blocks = wl_blocks_new(run, name, s->slots))) {
        wl_free_lines(s);
        return NULL;
    }
    return s;
}

static bool sh_survives(const sh *s, size_t i, size_t window_start)
{
    return (i + s->slots - window_start) % s->slots < s->window;
}

static void sh_free_except_window(mh_thread *t, const sh *s, wl_block *b, size_t start, bool lifo)
{
    for (size_t k = 0; k < s->slots; k++) {
        size_t i = lifo ? s->slots - 1 - k : k;
        if (!sh_survives(s, i, start)) {
            wl_free(t, b[i].p, b[i].n);
            b[i].p = NULL;
        }
    }
}

static void sh_thread(mh_thread *t)
{
    const sh params = *(const sh *)t->shared, *s = &params;   /* in locals: see workload.h */
    wl_block *b = wl_blocks_of(s->blocks, s->slots, t->index);
    size_t start = 0;
    for (int64_t pass = 0; pass < s->passes; pass++) {
        for (size_t i = 0; i < s->slots; i++) {
            if (!b[i].p) {
                b[i].n = wl_size_next(&s->sizes, t);
                b[i].p = wl_alloc(t, b[i].n);
            }
        }
        sh_free_except_window(t, s, b, start, pass % 2 == 0);
        start = (start + s->window) % s->slots;
    }
    wl_blocks_free_local(t, b, s->slots);
}

static void sh_report(mh_run *run, void *shared)
{
    (void)run;
    sh *s = shared;
    wl_free_lines(s->blocks);
    wl_free_lines(s);
}

const mh_workload mh_wl_shbench = {
    .name = "shbench",
    .summary = "SmartHeap's shbench: a ring of slots, sizes 1..1000 biased small, a surviving window",
    .help =
        "Each thread owns a ring of --slots slots. Every pass allocates a block for each empty\n"
        "slot (sizes from the distribution: by default 1..1000 bytes, each power-of-two octave\n"
        "equally likely, so small sizes are repeated most), then frees every block except\n"
        "those in a window of --window consecutive slots, which survive into the next pass;\n"
        "the window moves on by its length each pass. Frees go in LIFO order on even passes\n"
        "and in allocation order on odd ones. So short-lived and longer-lived blocks of many\n"
        "sizes interleave in the same pages: it stresses many size classes at once and\n"
        "fragmentation from survivors. This is the SmartHeap benchmark the Theseus evaluation\n"
        "used; all frees are local (see cross-core-free for sh8's remote frees).\n"
        "A good allocator keeps ns/op flat across sizes and passes and RSS near live bytes\n"
        "despite the survivors pinning pages.",
    .params = sh_params,
    .setup = sh_setup,
    .thread = sh_thread,
    .report = sh_report,
};
