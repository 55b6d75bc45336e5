/*
 * micro.shim: the gbshim C API end to end. C functions are registered with
 * arguments and threads, gb_main runs them writing JSON to a file, and the JSON
 * must show what the functions did: their iterations, user counters with each
 * flag, items per second, argument names, thread counts, the custom context,
 * and an error reported with gb_skip_with_error.
 */
#include "gbshim.h"
#include "json.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "micro.shim: %s:%d: ", __FILE__, __LINE__);        \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
            failures++;                                                        \
        }                                                                      \
    } while (0)

static atomic_int threads_seen;         /* bit i: thread index i ran */

typedef struct count_arg {
    int64_t k;                          /* the registered argument */
    atomic_llong last_n;                /* iterations of the last run, one thread's */
} count_arg;

/* Counts its own iterations and reports them three ways. */
static void bm_count(gb_state *st, void *arg) {
    count_arg *ca = arg;
    if (gb_range(st, 0) != ca->k) {
        while (gb_keep_running(st)) gb_skip_with_error(st, "gb_range(0) is not the registered arg");
        return;
    }
    atomic_fetch_or(&threads_seen, 1 << gb_thread_index(st));
    long long n = 0;
    while (gb_keep_running(st)) {
        n++;
        __asm__ volatile("" : : "g"(n) : "memory");
    }
    gb_counter(st, "loops", (double)n, GB_COUNTER_DEFAULT);
    gb_counter(st, "twice_per_iteration", 2.0 * (double)n, GB_COUNTER_AVG_ITERATIONS);
    gb_counter(st, "thread_avg", 5.0, GB_COUNTER_AVG_THREADS);
    gb_set_items_processed(st, 3 * n);
    atomic_store(&ca->last_n, n);
}

/* Must come out of the run with its error and no crash. */
static void bm_fails(gb_state *st, void *arg) {
    (void)arg;
    while (gb_keep_running(st)) gb_skip_with_error(st, "deliberate failure");
}

static const mh_jv *find_bench(const mh_jv *benchmarks, const char *name) {
    for (size_t i = 0; i < benchmarks->len; i++)
        if (strcmp(mh_json_str_or(mh_json_get(&benchmarks->items[i], "name"), ""), name) == 0)
            return &benchmarks->items[i];
    return NULL;
}

static double num(const mh_jv *e, const char *key) {
    return mh_json_num_or(mh_json_get(e, key), NAN);
}

static void check_single(const mh_jv *b, const count_arg *ca) {
    CHECK(b, "no entry named count/k:7 (gb_arg_names)");
    if (!b) return;
    double it = num(b, "iterations");
    CHECK(it >= 1, "iterations %g", it);
    CHECK(num(b, "loops") == it, "loops counter %g != iterations %g", num(b, "loops"), it);
    CHECK(it == (double)atomic_load(&ca->last_n), "the C loop ran %lld times, JSON says %g",
          (long long)atomic_load(&ca->last_n), it);
    CHECK(fabs(num(b, "twice_per_iteration") - 2.0) < 1e-9, "AVG_ITERATIONS counter %g != 2",
          num(b, "twice_per_iteration"));
    /* items/s is 3 items per iteration over the CPU time of the iterations */
    double expect = 3.0 / (num(b, "cpu_time") * 1e-9);
    CHECK(fabs(num(b, "items_per_second") / expect - 1) < 0.01, "items_per_second %g, expected %g",
          num(b, "items_per_second"), expect);
}

static void check_threads(const mh_jv *b) {
    CHECK(b, "no entry named count/k:9/threads:2 (gb_threads)");
    if (!b) return;
    CHECK(num(b, "threads") == 2, "threads %g", num(b, "threads"));
    CHECK(num(b, "loops") == num(b, "iterations"), "summed loops %g != total iterations %g",
          num(b, "loops"), num(b, "iterations"));
    CHECK(num(b, "thread_avg") == 5.0, "AVG_THREADS counter %g != 5", num(b, "thread_avg"));
    CHECK(atomic_load(&threads_seen) == 3, "thread indexes seen 0x%x, want 0x3",
          atomic_load(&threads_seen));
}

int main(void) {
    static count_arg k7 = {.k = 7}, k9 = {.k = 9};
    char out[] = "/tmp/micro_shim_XXXXXX";
    int fd = mkstemp(out);
    CHECK(fd >= 0, "mkstemp");
    close(fd);

    gb_arg_names(gb_arg(gb_register("count", bm_count, &k7), 7), "k");
    gb_threads(gb_arg_names(gb_arg(gb_register("count", bm_count, &k9), 9), "k"), 2);
    gb_register("fails", bm_fails, NULL);
    gb_add_context("shim.test", "yes");

    char out_flag[64];
    snprintf(out_flag, sizeof out_flag, "--benchmark_out=%s", out);
    char *argv[] = {"test_micro_shim", out_flag, "--benchmark_out_format=json",
                    "--benchmark_min_time=0.01", NULL};
    int rc = gb_main(4, argv);
    CHECK(rc == 0, "gb_main returned %d", rc);

    char err[256];
    mh_jv *root = mh_json_parse_file(out, err, sizeof err);
    CHECK(root, "JSON output: %s", err);
    if (root) {
        const mh_jv *benchmarks = mh_json_get(root, "benchmarks");
        CHECK(benchmarks && benchmarks->type == MH_JARR, "no benchmarks array");
        if (benchmarks && benchmarks->type == MH_JARR) {
            check_single(find_bench(benchmarks, "count/k:7"), &k7);
            check_threads(find_bench(benchmarks, "count/k:9/threads:2"));
            const mh_jv *f = find_bench(benchmarks, "fails");
            CHECK(f && mh_json_get(f, "error_occurred") && mh_json_get(f, "error_occurred")->b &&
                      strcmp(mh_json_str_or(mh_json_get(f, "error_message"), ""),
                             "deliberate failure") == 0,
                  "gb_skip_with_error did not reach the JSON");
        }
        CHECK(strcmp(mh_json_str_or(mh_json_get(mh_json_get(root, "context"), "shim.test"), ""),
                     "yes") == 0,
              "custom context shim.test missing");
        mh_json_free(root);
    }
    unlink(out);
    if (failures == 0) printf("micro.shim: all checks passed\n");
    return failures ? 1 : 0;
}
