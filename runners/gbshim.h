/*
 * gbshim: Google Benchmark (Debian libbenchmark 1.7) from C.
 *
 * A benchmark is a C function `void fn(gb_state *st, void *arg)` registered
 * under a name; argument lists and thread counts are set on the handle that
 * gb_register returns, exactly as on benchmark::internal::Benchmark. The body
 * follows Google Benchmark's rules: set-up, then `while (gb_keep_running(st))`,
 * then tear-down and counters. Only the loop is timed.
 *
 *     static void bm_pair(gb_state *st, void *arg) {
 *         size_t size = (size_t)gb_range(st, 0);
 *         while (gb_keep_running(st)) free(malloc(size));
 *         gb_set_items_processed(st, gb_iterations(st));
 *     }
 *     gb_arg_names(gb_args(gb_register("pair", bm_pair, NULL), sizes, n), "size");
 *
 * gbshim.cc is the project's only C++ file; everything else stays C.
 */
#ifndef MH_GBSHIM_H
#define MH_GBSHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gb_state gb_state;       /* a benchmark::State, opaque to C */
typedef struct gb_bench gb_bench;       /* a registered benchmark::internal::Benchmark */
typedef void gb_fn(gb_state *st, void *arg);

/* ---- registration (before gb_main); each setter returns its handle for chaining ---- */

gb_bench *gb_register(const char *name, gb_fn *fn, void *arg);
gb_bench *gb_arg(gb_bench *b, int64_t v);                       /* one run with range(0) = v */
gb_bench *gb_args(gb_bench *b, const int64_t *v, size_t n);     /* one run per value */
gb_bench *gb_args_pair(gb_bench *b, int64_t v0, int64_t v1);    /* one run with range(0), range(1) */
gb_bench *gb_args_range(gb_bench *b, int64_t lo, int64_t hi, int mult);
/* Names the arguments in the reported name: "size,n" gives "batch/size:64/n:100". */
gb_bench *gb_arg_names(gb_bench *b, const char *comma_separated);
gb_bench *gb_threads(gb_bench *b, int n);
gb_bench *gb_thread_range(gb_bench *b, int lo, int hi);          /* lo, 2lo, 4lo, ... hi */
/* Rates and times from wall-clock instead of the thread's CPU time. */
gb_bench *gb_use_real_time(gb_bench *b);

/* ---- inside a benchmark ---- */

bool    gb_keep_running(gb_state *st);  /* State::KeepRunning: one call per iteration */
void    gb_pause_timing(gb_state *st);
void    gb_resume_timing(gb_state *st);
void    gb_skip_with_error(gb_state *st, const char *msg);   /* then leave the loop */
int64_t gb_range(const gb_state *st, size_t i);
int64_t gb_iterations(const gb_state *st);                   /* of this thread, so far */
int     gb_thread_index(const gb_state *st);
int     gb_thread_count(const gb_state *st);
void    gb_set_items_processed(gb_state *st, int64_t items);  /* reported as items_per_second */
void    gb_set_bytes_processed(gb_state *st, int64_t bytes);  /* reported as bytes_per_second */
void    gb_set_label(gb_state *st, const char *label);

/* User counters: flags mirror benchmark::Counter::Flags (combine with |). */
enum {
    GB_COUNTER_DEFAULT = 0,
    GB_COUNTER_RATE = 1 << 0,               /* divided by the run's time */
    GB_COUNTER_AVG_THREADS = 1 << 1,        /* averaged over threads instead of summed */
    GB_COUNTER_ITERATION_INVARIANT = 1 << 2,/* multiplied by the iterations */
    GB_COUNTER_AVG_ITERATIONS = 1 << 3,     /* divided by the iterations */
};
void gb_counter(gb_state *st, const char *name, double value, int flags);

/* ---- running ---- */

/* A key/value pair in the "context" object of the JSON output (before gb_main). */
void gb_add_context(const char *key, const char *value);

/*
 * Parses the --benchmark_* flags out of argv, runs the selected benchmarks and
 * shuts the library down. Returns 0, or 2 after one line on stderr: an argument
 * it does not know, or a filter that matched no benchmark.
 */
int gb_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif /* MH_GBSHIM_H */
