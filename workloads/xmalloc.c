/*
 * xmalloc: asymmetric. Even-numbered threads only allocate, odd-numbered
 * threads only free. Full batches go through one shared stack guarded by a
 * mutex and condition variables (as in xmalloc-test), so any freer may free
 * any allocator's batch.
 */
#include "common.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

enum { XM_ALLOCATOR, XM_FREER };

typedef struct xm {
    wl_sizes sizes;
    size_t batch;
    int64_t batches;            /* per allocating thread */
    int allocators;
    pthread_mutex_t lock;
    pthread_cond_t have_full, have_empty;
    wl_block **empty, **full;   /* stacks of batch buffers */
    size_t nempty, nfull, nbuffers;
    int allocators_done;
    wl_block *buffers;
} xm;

static const mh_param_def xm_params[] = {
    WL_SIZE_PARAMS("fixed", "64", "64"),
    { "batch", MH_PARAM_INT, "4096", 1, 1 << 20, NULL, "blocks per batch handed to a freer" },
    { "batches", MH_PARAM_INT, "1200", 1, 1e12, NULL, "batches each allocating thread makes" },
    { "queue-depth", MH_PARAM_INT, "16", 1, 1 << 16, NULL,
      "full batches that may wait for a freer before the allocators block" },
    { NULL },
};

static const char *const xm_role_names[] = { "allocator", "freer", NULL };

static int xm_role(const mh_run *run, int index, int nthreads)
{
    (void)run, (void)nthreads;
    return index % 2 ? XM_FREER : XM_ALLOCATOR;
}

static void xm_free_state(xm *s)
{
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->have_full);
    pthread_cond_destroy(&s->have_empty);
    wl_free_lines(s->empty);
    wl_free_lines(s->full);
    wl_free_lines(s->buffers);
    wl_free_lines(s);
}

static void *xm_setup(mh_run *run)
{
    const char *name = "xmalloc";
    if (!wl_check_threads(run, name, 2))
        return NULL;
    xm *s = wl_zalloc_lines(sizeof *s);
    if (!s)
        return NULL;
    int threads = mh_run_threads(run);
    s->batch = (size_t)mh_param_int(run, "batch");
    s->batches = mh_param_int(run, "batches");
    s->allocators = (threads + 1) / 2;
    /* Every thread may hold one buffer while queue-depth wait in the full stack. */
    s->nbuffers = (size_t)mh_param_int(run, "queue-depth") + (size_t)threads;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->have_full, NULL);
    pthread_cond_init(&s->have_empty, NULL);
    /* The driver's own arrays, not from the allocator under test. The batches (1.15 MiB
       at 2 threads) are resident from the start: the stack of empty ones is LIFO, so the
       run touches as many as its deepest backlog, which follows the allocator's speed. */
    s->empty = wl_zalloc_lines(s->nbuffers * sizeof *s->empty);
    s->full = wl_zalloc_lines(s->nbuffers * sizeof *s->full);
    s->buffers = wl_zalloc_lines_resident(s->nbuffers * s->batch * sizeof *s->buffers);
    if (!s->empty || !s->full || !s->buffers) {
        fprintf(stderr, "%s: out of memory for %zu batches of %zu; lower --batch or --queue-depth\n",
                name, s->nbuffers, s->batch);
        xm_free_state(s);
        return NULL;
    }
    for (size_t i = 0; i < s->nbuffers; i++)
        s->empty[s->nempty++] = s->buffers + i * s->batch;
    if (!wl_sizes_from_params(&s->sizes, run, name)) {
        xm_free_state(s);
        return NULL;
    }
    return s;
}

static void xm_allocate(mh_thread *t, xm *s)
{
    const wl_sizes sizes = s->sizes;   /* in locals: see workload.h */
    const size_t batch = s->batch;
    for (int64_t k = 0; k < s->batches; k++) {
        pthread_mutex_lock(&s->lock);
        while (s->nempty == 0)
            pthread_cond_wait(&s->have_empty, &s->lock);
        wl_block *b = s->empty[--s->nempty];
        pthread_mutex_unlock(&s->lock);

        for (size_t i = 0; i < batch; i++) {
            b[i].n = wl_size_next(&sizes, t);
            b[i].p = wl_alloc(t, b[i].n);
        }

        pthread_mutex_lock(&s->lock);
        s->full[s->nfull++] = b;
        pthread_cond_signal(&s->have_full);
        pthread_mutex_unlock(&s->lock);
    }
    pthread_mutex_lock(&s->lock);
    if (++s->allocators_done == s->allocators)
        pthread_cond_broadcast(&s->have_full);
    pthread_mutex_unlock(&s->lock);
}

static void xm_free(mh_thread *t, xm *s)
{
    const size_t batch = s->batch;
    for (;;) {
        pthread_mutex_lock(&s->lock);
        while (s->nfull == 0 && s->allocators_done < s->allocators)
            pthread_cond_wait(&s->have_full, &s->lock);
        if (s->nfull == 0) {
            pthread_mutex_unlock(&s->lock);
            return;
        }
        wl_block *b = s->full[--s->nfull];
        pthread_mutex_unlock(&s->lock);

        for (size_t i = 0; i < batch; i++)
            wl_free_remote(t, b[i].p, b[i].n);

        pthread_mutex_lock(&s->lock);
        s->empty[s->nempty++] = b;
        pthread_cond_signal(&s->have_empty);
        pthread_mutex_unlock(&s->lock);
    }
}

static void xm_thread(mh_thread *t)
{
    if (t->role == XM_ALLOCATOR)
        xm_allocate(t, t->shared);
    else
        xm_free(t, t->shared);
}

static void xm_report(mh_run *run, void *shared)
{
    xm *s = shared;
    mh_metric(run, "allocating_threads", s->allocators);
    mh_metric(run, "freeing_threads", mh_run_threads(run) - s->allocators);
    xm_free_state(s);
}

const mh_workload mh_wl_xmalloc = {
    .name = "xmalloc",
    .summary = "asymmetric: half the threads only allocate, half only free, in batches",
    .help =
        "Even-numbered threads only allocate: they fill batches of --batch blocks and push\n"
        "each onto one shared stack (a mutex and two condition variables; at most about\n"
        "--queue-depth full batches wait). Odd-numbered threads only free: they pop any batch\n"
        "and free all of it. So all memory flows one way, from the allocating threads' heaps\n"
        "through remote frees, and a freer frees blocks of every allocator. Needs at least 2\n"
        "threads (an odd count has one more allocator). Analog of xmalloc-test (64-byte\n"
        "blocks, batches of 4096).\n"
        "A good allocator returns remotely freed memory to the allocating side cheaply\n"
        "(batched remote free lists) so allocators keep reusing it: RSS stays bounded near\n"
        "(queue-depth + threads) * batch blocks. A poor one lets freed memory pile up in the\n"
        "freers' caches (RSS grows without bound) or serialises on the owner's lock.",
    .params = xm_params,
    .role_names = xm_role_names,
    .role = xm_role,
    .setup = xm_setup,
    .thread = xm_thread,
    .report = xm_report,
};
