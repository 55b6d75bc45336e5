/*
 * Tiny workloads for the driver's own tests (linked into mhbench_test instead
 * of workloads/): they exercise every service of workload.h with known
 * operation counts, independent of the real workloads.
 */
#include "workload.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- t-churn: per-thread alloc/free of fixed-size blocks; ops known exactly ---- */

static const mh_param_def churn_params[] = {
    { "iters", MH_PARAM_INT, "20000", 1, 1e9, NULL, "alloc+free pairs per thread" },
    { "size", MH_PARAM_INT, "64", 1, 1 << 24, NULL, "block size" },
    { "hold", MH_PARAM_INT, "16", 1, 4096, NULL, "blocks held per thread" },
    { "scale", MH_PARAM_REAL, "1.5", 0, 10, NULL, "unused real parameter, recorded" },
    { "mode", MH_PARAM_CHOICE, "plain", 0, 0, "plain|touch", "touch: write into each block" },
    { "setup-mib", MH_PARAM_INT, "0", 0, 1 << 20, NULL,
      "MiB written and freed in setup, before the measured phase (a peak it must not count)" },
    { NULL },
};

static void *churn_setup(mh_run *run)
{
    size_t bytes = (size_t)mh_param_int(run, "setup-mib") << 20;
    if (bytes) {
        volatile char *p = malloc(bytes);   /* volatile: a memset before free is dead to gcc */
        if (!p)
            return NULL;
        for (size_t i = 0; i < bytes; i += 4096)
            p[i] = 1;
        free((void *)p);
    }
    return run;
}

static void churn_thread(mh_thread *t)
{
    mh_run *run = t->shared;
    int64_t iters = mh_param_int(run, "iters"), hold = mh_param_int(run, "hold");
    size_t size = (size_t)mh_param_int(run, "size");
    bool touch = strcmp(mh_param_choice(run, "mode"), "touch") == 0 && !(t->flags & MH_T_NULL) && !mh_run_checking(run);
    void *held[4096] = { 0 };
    for (int64_t i = 0; i < iters; i++) {
        int64_t k = i % hold;
        if (held[k])
            wl_free(t, held[k], size);
        held[k] = wl_alloc(t, size);
        if (touch)
            memset(held[k], (int)i, size);
    }
    for (int64_t k = 0; k < hold; k++)
        if (held[k])
            wl_free(t, held[k], size);
}

static void churn_report(mh_run *run, void *shared)
{
    (void)shared;
    double per_thread[] = { (double)mh_param_int(run, "iters"), 2.0 };
    mh_metric(run, "iters", (double)mh_param_int(run, "iters"));
    mh_series(run, "pair", per_thread, 2);
}

static const mh_workload t_churn = {
    .name = "t-churn", .summary = "test: fixed-size alloc/free per thread", .help = "Driver test workload.",
    .params = churn_params, .setup = churn_setup, .thread = churn_thread, .report = churn_report,
};

/* ---- t-pass: producers (role 0) hand blocks to consumers (role 1), who free them remotely ---- */

typedef struct pass {
    pthread_mutex_t lock;
    void **q;
    size_t head, tail, cap;
    int64_t per_producer, producers_left;
    size_t size;
} pass;

static const mh_param_def pass_params[] = {
    { "objects", MH_PARAM_INT, "20000", 1, 1e9, NULL, "blocks per producer" },
    { NULL },
};
static const char *const pass_roles[] = { "producer", "consumer", NULL };

static int pass_role(const mh_run *run, int index, int nthreads) { (void)run; return index >= nthreads / 2; }

static void *pass_setup(mh_run *run)
{
    if (mh_run_threads(run) < 2) {
        fprintf(stderr, "t-pass: needs at least 2 threads; run with --threads=2\n");
        return NULL;
    }
    pass *p = calloc(1, sizeof *p);
    int producers = mh_run_threads(run) / 2;
    p->per_producer = mh_param_int(run, "objects");
    p->cap = (size_t)(p->per_producer * producers);
    p->q = calloc(p->cap, sizeof *p->q);
    p->size = 48;
    p->producers_left = producers;
    pthread_mutex_init(&p->lock, NULL);
    return p;
}

static void pass_thread(mh_thread *t)
{
    pass *p = t->shared;
    if (t->role == 0) {
        for (int64_t i = 0; i < p->per_producer; i++) {
            void *b = wl_alloc(t, p->size);
            pthread_mutex_lock(&p->lock);
            p->q[p->tail++] = b;
            pthread_mutex_unlock(&p->lock);
        }
        pthread_mutex_lock(&p->lock);
        p->producers_left--;
        pthread_mutex_unlock(&p->lock);
        return;
    }
    for (;;) {
        pthread_mutex_lock(&p->lock);
        void *b = p->head < p->tail ? p->q[p->head++] : NULL;
        bool done = !b && p->producers_left == 0;
        pthread_mutex_unlock(&p->lock);
        if (b)
            wl_free_remote(t, b, p->size);
        else if (done)
            return;
    }
}

static void pass_report(mh_run *run, void *shared)
{
    (void)run;
    pass *p = shared;
    free(p->q);
    free(p);
}

static const mh_workload t_pass = {
    .name = "t-pass", .summary = "test: producer/consumer hand-over", .help = "Driver test workload.",
    .params = pass_params, .role_names = pass_roles, .role = pass_role,
    .setup = pass_setup, .thread = pass_thread, .report = pass_report,
};

/* ---- t-child: realloc growth, a barrier, and mh_run_child hand-over ---- */

static const mh_param_def child_params[] = {
    { "generations", MH_PARAM_INT, "3", 1, 100, NULL, "successive child threads per worker" },
    { NULL },
};

typedef struct inherit {
    void *blocks[64];
    size_t sizes[64];
} inherit;

/* A child frees what its predecessor left and leaves blocks of its own. */
static void child_step(mh_thread *c, void *arg)
{
    inherit *in = arg;
    for (int i = 0; i < 64; i++) {
        if (in->blocks[i])
            wl_free(c, in->blocks[i], in->sizes[i]);
        in->sizes[i] = 16 + (size_t)i * 8;
        in->blocks[i] = wl_alloc(c, in->sizes[i]);
    }
}

static void *child_setup(mh_run *run) { return run; }

static void child_thread(mh_thread *t)
{
    mh_run *run = t->shared;
    size_t n = 8;
    void *p = wl_alloc(t, n);
    for (; n < 65536; n *= 2)
        p = wl_realloc(t, p, n, n * 2);
    mh_barrier(t);
    inherit in = { { 0 }, { 0 } };
    for (int64_t g = 0; g < mh_param_int(run, "generations"); g++)
        mh_run_child(t, child_step, &in);
    for (int i = 0; i < 64; i++)
        wl_free(t, in.blocks[i], in.sizes[i]);
    wl_free(t, p, n);
}

static const mh_workload t_child = {
    .name = "t-child", .summary = "test: realloc, barrier, child threads", .help = "Driver test workload.",
    .params = child_params, .setup = child_setup, .thread = child_thread,
};

const mh_workload *const mh_workloads[] = { &t_churn, &t_pass, &t_child, NULL };

const mh_workload *mh_workload_find(const char *name)
{
    for (const mh_workload *const *w = mh_workloads; *w; w++)
        if (strcmp((*w)->name, name) == 0)
            return *w;
    return NULL;
}
