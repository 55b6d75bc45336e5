/*
 * mhmicro_convert: Google Benchmark JSON from mhmicro -> result records.
 *
 *   mhmicro_convert [--run-id ID] [--cell C] [--rep K] [--out FILE.jsonl] GB.json
 *   mhmicro_convert --failed REASON --allocator SPEC [--run-id ID] [--cell C] [--rep K]
 *                   [--out FILE.jsonl] BENCHMARK...
 *   mhmicro_convert --table FILE.jsonl [--run-id ID]
 *
 * One record (results/SCHEMA.md) per benchmark: workload "micro/<run_name>",
 * the name's "key:value" parts as parameters, ns_per_op and throughput_ops_s
 * as medians over the repetitions, their spread under extra.spread, counters
 * per operation, and the allocator as mhmicro verified it (JSON "context").
 * The records are repetition K of their cells (default 0): micro.sh runs one
 * repetition per allocator per round, so that repetitions interleave.
 * With --out the records are appended one per line; otherwise printed.
 * --failed writes, for a run that left no JSON (a crash, a timeout), a failed record
 * per benchmark it was to run, named as the converted ones would be, in the form the
 * matrix writes for a driver that died (results/SCHEMA.md): so the report and the
 * targets' pair rows say the allocator failed there instead of leaving it out.
 * --table prints median ns/op and its coefficient of variation over the records
 * (the repetitions) of each benchmark x allocator, for the micro/ records of FILE
 * (of run ID only, when given).
 */
#define _GNU_SOURCE
#include "driver.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Out of memory ends the tool: its inputs are a few MiB, so this is never expected. */
static void *must(void *p) {
    if (!p) {
        fprintf(stderr, "mhmicro_convert: out of memory\n");
        exit(1);
    }
    return p;
}

typedef struct options {
    const char *run_id, *cell, *out, *input;
    int rep;                        /* the repetition the records are */
    bool table;                     /* input is a JSONL file of records to tabulate */
    const char *failed, *allocator; /* --failed: the reason, and the run's allocator spec */
    char **names;                   /* --failed: the benchmarks (positional arguments) */
    int nnames;
} options;

/* ---- one benchmark: its repetitions and aggregates in the input ---- */

typedef struct bench {
    const char *run_name;
    const mh_jv **reps;             /* run_type "iteration", in repetition order */
    size_t nreps;
    const mh_jv *median;            /* aggregates, NULL when not reported */
    const mh_jv *mean, *stddev, *cv;
    const char *error;              /* first error_message, NULL when none */
} bench;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Quantile q of sorted v[0..n) by linear interpolation between closest ranks. */
static double quantile(const double *v, size_t n, double q) {
    double pos = q * (double)(n - 1);
    size_t lo = (size_t)pos;
    return lo + 1 < n ? v[lo] + (pos - (double)lo) * (v[lo + 1] - v[lo]) : v[lo];
}

/* Median of field `key` over the repetitions (or the median aggregate when the
 * input holds aggregates only); NAN when no entry has it. */
static double median_of(const bench *b, const char *key) {
    double v[b->nreps ? b->nreps : 1];
    size_t n = 0;
    for (size_t i = 0; i < b->nreps; i++) {
        const mh_jv *x = mh_json_get(b->reps[i], key);
        if (x && x->type == MH_JNUM) v[n++] = x->num;
    }
    if (n == 0) return mh_json_num_or(mh_json_get(b->median, key), NAN);
    qsort(v, n, sizeof v[0], cmp_double);
    return quantile(v, n, 0.5);
}

static double ns_per_op_of(const mh_jv *entry) {
    double ips = mh_json_num_or(mh_json_get(entry, "items_per_second"), NAN);
    return ips > 0 ? 1e9 / ips : NAN;
}

/* The repetitions' ns/op, sorted, into v (room for b->nreps); returns how many. */
static size_t sorted_ns_per_op(const bench *b, double *v) {
    size_t n = 0;
    for (size_t i = 0; i < b->nreps; i++) {
        double x = ns_per_op_of(b->reps[i]);
        if (!isnan(x)) v[n++] = x;
    }
    qsort(v, n, sizeof v[0], cmp_double);
    return n;
}

static double median_ns_per_op(const bench *b) {
    double v[b->nreps ? b->nreps : 1];
    size_t n = sorted_ns_per_op(b, v);
    return n ? quantile(v, n, 0.5) : ns_per_op_of(b->median);
}

/* Seconds the entry measured: per-iteration time (in its time_unit) x iterations. */
static double seconds_of(const mh_jv *entry, bool real) {
    static const struct { const char *unit; double s; } units[] = {
        {"ns", 1e-9}, {"us", 1e-6}, {"ms", 1e-3}, {"s", 1.0}};
    const char *unit = mh_json_str_or(mh_json_get(entry, "time_unit"), "ns");
    double scale = 1e-9;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(unit, units[i].unit) == 0) scale = units[i].s;
    double t = mh_json_num_or(mh_json_get(entry, real ? "real_time" : "cpu_time"), NAN);
    return t * scale * mh_json_num_or(mh_json_get(entry, "iterations"), NAN);
}

/* ---- writing one record ---- */

/* "pair_mt/size:64/real_time/threads:2" -> params {size: 64, threads: 2, time: "real"},
 * and the repetitions the record summarises. */
static void write_params(mh_jw *w, const bench *b) {
    const char *run_name = b->run_name;
    mh_jw_obj_begin(w, "params");
    char buf[256];
    snprintf(buf, sizeof buf, "%s", run_name);
    char *save = NULL;
    strtok_r(buf, "/", &save);          /* the family name is the workload's */
    bool real = false;
    for (char *part = strtok_r(NULL, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
        char *colon = strchr(part, ':');
        if (strcmp(part, "real_time") == 0) real = true;
        if (!colon) continue;
        *colon = '\0';
        char *end;
        double v = strtod(colon + 1, &end);
        if (*end == '\0' && end != colon + 1) mh_jw_num(w, part, v);
        else mh_jw_str(w, part, colon + 1);
    }
    mh_jw_str(w, "time", real ? "real" : "cpu");
    mh_jw_num(w, "repetitions", (double)b->nreps);
    mh_jw_obj_end(w);
}

/* Context "NAME=VALUE\nNAME=VALUE" (mhmicro's mh.env, mh.inherited_env) as an object of
   strings; {} when the context has none (an older mhmicro). */
static void write_env_lines(mh_jw *w, const char *key, const char *lines) {
    mh_jw_obj_begin(w, key);
    for (const char *p = lines; *p;) {
        size_t n = strcspn(p, "\n"), name = strcspn(p, "=");
        if (name < n) {
            char var[256], value[1024];
            snprintf(var, sizeof var, "%.*s", (int)name, p);
            snprintf(value, sizeof value, "%.*s", (int)(n - name - 1), p + name + 1);
            mh_jw_str(w, var, value);
        }
        p += n + (p[n] == '\n');
    }
    mh_jw_obj_end(w);
}

static void write_allocator(mh_jw *w, const mh_jv *ctx) {
    const char *requested = mh_json_str_or(mh_json_get(ctx, "mh.requested"), "");
    mh_jw_obj_begin(w, "allocator");
    mh_jw_str(w, "name", mh_json_str_or(mh_json_get(ctx, "mh.allocator"), NULL));
    mh_jw_str(w, "requested", *requested ? requested : NULL);
    mh_jw_str(w, "served_by", mh_json_str_or(mh_json_get(ctx, "mh.served_by"), NULL));
    mh_jw_bool(w, "verified",
               strcmp(mh_json_str_or(mh_json_get(ctx, "mh.verified"), ""), "true") == 0);
    const char *version = mh_json_str_or(mh_json_get(ctx, "mh.version"), "");
    mh_jw_str(w, "version", *version ? version : NULL);
    mh_jw_str(w, "file_hash", mh_json_str_or(mh_json_get(ctx, "mh.file_hash"), NULL));
    write_env_lines(w, "env", mh_json_str_or(mh_json_get(ctx, "mh.env"), ""));
    write_env_lines(w, "inherited_env", mh_json_str_or(mh_json_get(ctx, "mh.inherited_env"), ""));
    /* mh_options() as mhmicro read it; its reason when there was none (older JSON: neither) */
    const char *options = mh_json_str_or(mh_json_get(ctx, "mh.options"), "");
    mh_jw_str(w, "options", *options ? options : NULL);
    mh_jw_str(w, "options_reason", *options ? NULL
              : mh_json_str_or(mh_json_get(ctx, "mh.options_reason"), "not recorded by this mhmicro"));
    mh_jw_obj_end(w);
}

/* The driver's per-counter flags, true when any repetition had them. */
static void write_counter_flag(mh_jw *w, const bench *b, const char *counter, const char *flag) {
    char key[96];
    snprintf(key, sizeof key, "%s_%s", counter, flag);
    bool any = false;
    for (size_t i = 0; i < b->nreps; i++) any |= mh_json_num_or(mh_json_get(b->reps[i], key), 0) > 0;
    mh_jw_bool(w, flag, any);
}

static void write_counters(mh_jw *w, const bench *b, const mh_jv *ctx) {
    mh_jw_obj_begin(w, "counters");
    for (int i = 0; i < MH_CTR_COUNT; i++) {
        char per_op_key[64], why_key[96];
        snprintf(per_op_key, sizeof per_op_key, "%s_per_op", mh_counter_names[i]);
        snprintf(why_key, sizeof why_key, "mh.counter_unavailable.%s", mh_counter_names[i]);
        double value = median_of(b, mh_counter_names[i]);
        mh_jw_obj_begin(w, mh_counter_names[i]);
        mh_jw_num(w, "value", value);
        mh_jw_num(w, "per_op", median_of(b, per_op_key));
        if (isnan(value)) {
            mh_jw_str(w, "reason", mh_json_str_or(mh_json_get(ctx, why_key),
                                                  "not reported by this benchmark"));
        } else {
            mh_jw_null(w, "reason");
            write_counter_flag(w, b, mh_counter_names[i], "scaled");
            write_counter_flag(w, b, mh_counter_names[i], "user_only");
        }
        mh_jw_obj_end(w);
    }
    mh_jw_obj_end(w);
}

/* Spread of ns/op over the repetitions, and Google Benchmark's own aggregates. */
static void write_spread(mh_jw *w, const bench *b) {
    double v[b->nreps ? b->nreps : 1];
    size_t n = sorted_ns_per_op(b, v);
    double mean = 0, var = 0;
    for (size_t i = 0; i < n; i++) mean += v[i] / (double)n;
    for (size_t i = 0; i < n; i++) var += (v[i] - mean) * (v[i] - mean);
    mh_jw_obj_begin(w, "spread");
    mh_jw_int(w, "repetitions", (long long)n);
    mh_jw_num(w, "mean_ns_per_op", n ? mean : NAN);
    mh_jw_num(w, "stddev_ns_per_op", n > 1 ? sqrt(var / (double)(n - 1)) : NAN);
    mh_jw_num(w, "cv", n > 1 && mean > 0 ? sqrt(var / (double)(n - 1)) / mean : NAN);
    mh_jw_num(w, "min_ns_per_op", n ? v[0] : NAN);
    mh_jw_num(w, "q1_ns_per_op", n ? quantile(v, n, 0.25) : NAN);
    mh_jw_num(w, "q3_ns_per_op", n ? quantile(v, n, 0.75) : NAN);
    mh_jw_num(w, "iqr_ns_per_op", n ? quantile(v, n, 0.75) - quantile(v, n, 0.25) : NAN);
    mh_jw_num(w, "max_ns_per_op", n ? v[n - 1] : NAN);
    mh_jw_arr_begin(w, "ns_per_op");
    for (size_t i = 0; i < b->nreps; i++) mh_jw_num(w, NULL, ns_per_op_of(b->reps[i]));
    mh_jw_arr_end(w);
    mh_jw_obj_end(w);
    mh_jw_obj_begin(w, "gbench_items_per_second");
    const mh_jv *agg[] = {b->mean, b->median, b->stddev, b->cv};
    const char *names[] = {"mean", "median", "stddev", "cv"};
    for (size_t i = 0; i < 4; i++)
        mh_jw_num(w, names[i], mh_json_num_or(mh_json_get(agg[i], "items_per_second"), NAN));
    mh_jw_obj_end(w);
}

/* Google Benchmark threads are not pinned and do not say where they ran; remote_free
 * pins its measured thread and names both CPUs in its label ("free_cpu:1 alloc_cpu:0"). */
static void write_placement(mh_jw *w, const bench *b, int threads) {
    const char *label = b->nreps ? mh_json_str_or(mh_json_get(b->reps[0], "label"), "") : "";
    int cpu_free = -1, cpu_alloc = -1;
    bool pinned = sscanf(label, "free_cpu:%d alloc_cpu:%d", &cpu_free, &cpu_alloc) == 2;
    mh_jw_obj_begin(w, "placement");
    mh_jw_str(w, "policy", pinned ? "explicit" : "none");
    mh_jw_arr_begin(w, "cpus");
    if (pinned) {
        mh_jw_int(w, NULL, cpu_free);
        if (cpu_alloc != cpu_free) mh_jw_int(w, NULL, cpu_alloc);
    }
    mh_jw_arr_end(w);
    mh_jw_bool(w, "wrapped", false);
    mh_jw_arr_begin(w, "threads");
    for (int i = 0; i < threads; i++) {
        mh_jw_obj_begin(w, NULL);
        mh_jw_int(w, "index", i);
        mh_jw_str(w, "role", pinned ? "free" : "benchmark");
        if (pinned) {
            mh_jw_arr_begin(w, "bound");
            mh_jw_int(w, NULL, cpu_free);
            mh_jw_arr_end(w);
        } else {
            mh_jw_null(w, "bound");
        }
        mh_jw_bool(w, "bind_ok", true);     /* mhmicro fails the benchmark when pinning fails */
        mh_jw_arr_begin(w, "ran_on");       /* pinned: where it was bound; else not observed */
        if (pinned) mh_jw_int(w, NULL, cpu_free);
        mh_jw_arr_end(w);
        mh_jw_obj_end(w);
    }
    mh_jw_arr_end(w);
    if (pinned) {
        mh_jw_obj_begin(w, "helper");
        mh_jw_str(w, "role", "alloc");
        mh_jw_int(w, "bound", cpu_alloc);
        mh_jw_obj_end(w);
    }
    mh_jw_obj_end(w);
}

/* Google Benchmark gives totals only: one entry per thread, figures null. */
static void write_per_thread(mh_jw *w, int threads) {
    mh_jw_arr_begin(w, "per_thread");
    for (int i = 0; i < threads; i++) {
        mh_jw_obj_begin(w, NULL);
        mh_jw_int(w, "index", i);
        mh_jw_null(w, "ops");
        mh_jw_null(w, "duration_s");
        mh_jw_null(w, "ns_per_op");
        mh_jw_int(w, "children", 0);
        mh_jw_obj_end(w);
    }
    mh_jw_arr_end(w);
}

/* Peak and end RSS of the benchmark's last run (mhmicro resets the peak mark before
 * it); no sampling, and RSS over live bytes is meaningless next to the harness's own
 * few MiB, so it is null. */
static void write_memory(mh_jw *w, const bench *b, const mh_jv *ctx) {
    mh_jw_obj_begin(w, "memory");
    mh_jw_int(w, "sample_interval_ms", 0);
    mh_jw_obj_begin(w, "rss_series");
    mh_jw_arr_begin(w, "t_ms");
    mh_jw_arr_end(w);
    mh_jw_arr_begin(w, "rss_kib");
    mh_jw_arr_end(w);
    mh_jw_arr_begin(w, "live_kib");
    mh_jw_arr_end(w);
    mh_jw_obj_end(w);
    const char *not_reset = mh_json_str_or(mh_json_get(ctx, "mh.peak_rss_reason"), NULL);
    mh_jw_num(w, "peak_rss_kib", median_of(b, "peak_rss_kib"));
    mh_jw_str(w, "peak_rss_source", not_reset ? "VmHWM without reset" : "VmHWM");
    mh_jw_str(w, "peak_rss_reason", not_reset);
    mh_jw_null(w, "sampled_peak_rss_kib");   /* no samples */
    mh_jw_num(w, "end_rss_kib", median_of(b, "end_rss_kib"));
    mh_jw_num(w, "peak_live_kib", median_of(b, "peak_live_kib"));
    mh_jw_null(w, "rss_over_live");
    mh_jw_str(w, "rss_over_live_reason", "microbenchmark: the harness's own few MiB dominate RSS");
    mh_jw_obj_end(w);
}

/* Microbenchmarks time whole loops: no per-operation samples. */
static void write_latency(mh_jw *w) {
    static const char *const kinds[] = {"malloc", "free_local", "free_remote"};
    static const char *const qs[] = {"p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns"};
    mh_jw_obj_begin(w, "latency");
    mh_jw_int(w, "sample_every", 0);
    mh_jw_obj_begin(w, "overhead");
    mh_jw_str(w, "clock", "not sampled: Google Benchmark times whole loops");
    mh_jw_null(w, "clock_read_ns");
    mh_jw_null(w, "sample_cost_ns");
    mh_jw_int(w, "samples", 0);
    mh_jw_null(w, "share_of_run_time");
    mh_jw_obj_end(w);
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        mh_jw_obj_begin(w, kinds[k]);
        mh_jw_int(w, "count", 0);
        for (size_t q = 0; q < sizeof qs / sizeof qs[0]; q++) mh_jw_null(w, qs[q]);
        mh_jw_obj_end(w);
    }
    mh_jw_obj_end(w);
}

/* What Google Benchmark itself says about the run. */
static void write_gbench(mh_jw *w, const mh_jv *ctx) {
    mh_jw_obj_begin(w, "gbench");
    mh_jw_str(w, "date", mh_json_str_or(mh_json_get(ctx, "date"), NULL));
    mh_jw_num(w, "mhz_per_cpu", mh_json_num_or(mh_json_get(ctx, "mhz_per_cpu"), NAN));
    const mh_jv *scaling = mh_json_get(ctx, "cpu_scaling_enabled");
    if (scaling && scaling->type == MH_JBOOL) mh_jw_bool(w, "cpu_scaling_enabled", scaling->b);
    else mh_jw_null(w, "cpu_scaling_enabled");
    mh_jw_str(w, "library_build_type", mh_json_str_or(mh_json_get(ctx, "library_build_type"), NULL));
    mh_jw_str(w, "args", mh_json_str_or(mh_json_get(ctx, "mh.gbench_args"), NULL));
    mh_jw_obj_end(w);
}

/* The keys every record has, up to the workload: an ok or a failed one (error). */
static void write_identity(mh_jw *w, const options *o, const bench *b, const char *error,
                           const char *timestamp) {
    char name[300];
    snprintf(name, sizeof name, "micro/%s", b->run_name);
    mh_jw_obj_begin(w, NULL);
    mh_jw_str(w, "schema", MH_SCHEMA);
    mh_jw_str(w, "status", error ? "failed" : "ok");
    mh_jw_str(w, "error", error);
    mh_jw_str(w, "run_id", o->run_id);
    mh_jw_str(w, "cell", o->cell);
    mh_jw_int(w, "rep", o->rep);
    mh_jw_bool(w, "warmup", false);
    mh_jw_str(w, "timestamp", timestamp);
    mh_jw_obj_begin(w, "workload");
    mh_jw_str(w, "name", name);
    write_params(w, b);
    mh_jw_obj_end(w);
}

/* A benchmark's record when its run left no JSON: the identity, the threads its name
   asks for ("threads:T", else 1), and the allocator as the matrix's failed record names
   it (what a NAME=... spec stands for in "requested", null for a plain name). */
static void write_failed_record(FILE *f, const options *o, const char *run_name) {
    const bench b = {.run_name = run_name};
    const char *t = strstr(run_name, "threads:");
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    mh_jw w;
    mh_jw_init(&w, f, false);
    write_identity(&w, o, &b, o->failed, ts);
    mh_jw_obj_begin(&w, "allocator");
    const char *eq = strchr(o->allocator, '=');
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)strcspn(o->allocator, "="), o->allocator);
    mh_jw_str(&w, "name", name);
    mh_jw_str(&w, "requested", eq ? eq + 1 : NULL);
    /* its variables, so that the report tells a variant from its base here too */
    mh_allocator a;
    char err[512];
    if (mh_allocator_resolve(o->allocator, &a, err, sizeof err) == 0) mh_record_allocator_env(&w, &a);
    mh_jw_obj_end(&w);
    mh_jw_int(&w, "threads", t && atoi(t + 8) > 0 ? atoi(t + 8) : 1);
    mh_jw_str(&w, "written_by", "micro.sh: mhmicro exited without its JSON");
    mh_jw_obj_end(&w);          /* ends the line */
}

static void write_record(FILE *f, bool pretty, const options *o, const bench *b,
                         const mh_jv *ctx, double loop_ns) {
    bool real = strstr(b->run_name, "/real_time") != NULL;
    double dur = 0, ops = 0;        /* over all repetitions */
    for (size_t i = 0; i < b->nreps; i++) {
        double s = seconds_of(b->reps[i], real), x = ns_per_op_of(b->reps[i]);
        if (!isnan(s) && !isnan(x)) {
            dur += s;
            ops += s * 1e9 / x;
        }
    }
    double nthreads = median_of(b, "threads");
    int threads = isnan(nthreads) || nthreads < 1 ? 1 : (int)nthreads;

    mh_jw w;
    mh_jw_init(&w, f, pretty);
    write_identity(&w, o, b, b->error, mh_json_str_or(mh_json_get(ctx, "mh.timestamp"), ""));
    write_allocator(&w, ctx);
    mh_jw_int(&w, "threads", threads);
    write_placement(&w, b, threads);
    mh_jw_num(&w, "duration_s", dur);
    mh_jw_num(&w, "ops", round(ops));
    mh_jw_num(&w, "throughput_ops_s", median_of(b, "items_per_second"));
    mh_jw_num(&w, "ns_per_op", median_ns_per_op(b));
    mh_jw_obj_begin(&w, "harness");
    mh_jw_bool(&w, "null_path", strcmp(b->run_name, "empty") == 0);
    mh_jw_num(&w, "loop_ns_per_iteration", loop_ns);
    mh_jw_obj_end(&w);
    write_per_thread(&w, threads);
    write_counters(&w, b, ctx);
    write_memory(&w, b, ctx);
    write_latency(&w);
    mh_jw_obj_begin(&w, "extra");
    mh_jw_str(&w, "source", "google-benchmark");
    mh_jw_str(&w, "counters_source", mh_json_str_or(mh_json_get(ctx, "mh.counters_source"), NULL));
    /* the small/large boundary that pair/size straddles */
    mh_jw_num(&w, "small_max", atof(mh_json_str_or(mh_json_get(ctx, "mh.small_max"), "nan")));
    write_spread(&w, b);
    write_gbench(&w, ctx);
    mh_jw_obj_end(&w);
    mh_jw_null(&w, "allocator_stats");
    mh_env_write(&w, "env");
    mh_jw_obj_end(&w);          /* ends the line */
}

/* Writes the record into memory and validates it (driver.h); false with the
 * problem in why when the suite would reject it. */
static bool record_is_valid(const options *o, const bench *b, const mh_jv *ctx, double loop_ns,
                            char *why, size_t whylen) {
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    write_record(mem, false, o, b, ctx, loop_ns);
    fclose(mem);
    mh_jv *rec = mh_json_parse(text, len, why, whylen);
    bool valid = rec && mh_record_validate(rec, why, whylen) == NULL;
    mh_json_free(rec);
    free(text);
    return valid;
}

/* ---- reading the input ---- */

/*
 * Google Benchmark writes non-finite numbers as bare NaN / Infinity (e.g. the
 * cv of counters that are all zero), which JSON does not allow: outside strings
 * they become null. Returns a new NUL-terminated text.
 */
static char *gbench_json_to_json(const char *in, size_t len, size_t *outlen) {
    static const char *const bare[] = {"-Infinity", "Infinity", "-NaN", "NaN"};
    char *out = must(malloc(2 * len + 1)), *o = out;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        if (in_string) {
            if (in[i] == '\\' && i + 1 < len) *o++ = in[i++];
            else if (in[i] == '"') in_string = false;
        } else if (in[i] == '"') {
            in_string = true;
        } else {
            size_t k = 0;
            while (k < 4 && strncmp(in + i, bare[k], strlen(bare[k])) != 0) k++;
            if (k < 4) {
                memcpy(o, "null", 4);
                o += 4;
                i += strlen(bare[k]) - 1;
                continue;
            }
        }
        *o++ = in[i];
    }
    *o = '\0';
    *outlen = (size_t)(o - out);
    return out;
}

/* Reads and parses Google Benchmark's JSON file; NULL with err on failure. */
static mh_jv *parse_gbench_file(const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, len = 0, n;
    char *text = must(malloc(cap));
    while ((n = fread(text + len, 1, cap - len, f)) > 0)
        if ((len += n) == cap) text = must(realloc(text, cap *= 2));
    fclose(f);
    size_t clean_len;
    char *clean = gbench_json_to_json(text, len, &clean_len);
    char why[256];
    mh_jv *root = mh_json_parse(clean, clean_len, why, sizeof why);
    if (!root) snprintf(err, errlen, "%s: %s", path, why);
    free(text);
    free(clean);
    return root;
}

/* Groups the "benchmarks" array by run_name, in first-seen order. */
static size_t collect(const mh_jv *benchmarks, bench *out) {
    size_t n = 0;
    for (size_t i = 0; i < benchmarks->len; i++) {
        const mh_jv *e = &benchmarks->items[i];
        const char *rn = mh_json_str_or(mh_json_get(e, "run_name"),
                                        mh_json_str_or(mh_json_get(e, "name"), NULL));
        if (!rn) continue;
        size_t k = 0;
        while (k < n && strcmp(out[k].run_name, rn) != 0) k++;
        bench *b = &out[k];
        if (k == n) {
            *b = (bench){.run_name = rn, .reps = must(calloc(benchmarks->len, sizeof *b->reps))};
            n++;
        }
        const mh_jv *err = mh_json_get(e, "error_occurred");
        if (err && err->type == MH_JBOOL && err->b && !b->error)
            b->error = mh_json_str_or(mh_json_get(e, "error_message"), "benchmark failed");
        const char *agg = mh_json_str_or(mh_json_get(e, "aggregate_name"), NULL);
        if (strcmp(mh_json_str_or(mh_json_get(e, "run_type"), "iteration"), "iteration") == 0)
            b->reps[b->nreps++] = e;
        else if (agg && strcmp(agg, "median") == 0) b->median = e;
        else if (agg && strcmp(agg, "mean") == 0) b->mean = e;
        else if (agg && strcmp(agg, "stddev") == 0) b->stddev = e;
        else if (agg && strcmp(agg, "cv") == 0) b->cv = e;
    }
    return n;
}

/* ---- the table ---- */

typedef struct cell {
    const char *bench, *alloc;
    double ns, cv;
} cell;

static size_t index_of(const char **names, size_t *n, const char *name) {
    size_t i = 0;
    while (i < *n && strcmp(names[i], name) != 0) i++;
    if (i == *n) names[(*n)++] = name;
    return i;
}

/* One entry of the table: the median ns/op of the records of bench x alloc (a failed one
   counts as missing) and their coefficient of variation, or the one record's own. */
static void format_entry(const cell *cells, size_t ncells, const char *bench, const char *alloc,
                         char *text, size_t len) {
    double *v = must(malloc((ncells + 1) * sizeof *v));
    size_t n = 0, found = 0;
    double one_cv = NAN, sum = 0, sum2 = 0;
    for (size_t i = 0; i < ncells; i++) {
        if (strcmp(cells[i].bench, bench) != 0 || strcmp(cells[i].alloc, alloc) != 0) continue;
        found++;
        if (isnan(cells[i].ns)) continue;
        one_cv = cells[i].cv;
        v[n++] = cells[i].ns;
        sum += cells[i].ns;
        sum2 += cells[i].ns * cells[i].ns;
    }
    double cv = one_cv;
    if (n > 1) {
        double mean = sum / (double)n;
        cv = sqrt(fmax(0, (sum2 - (double)n * mean * mean) / (double)(n - 1))) / mean;
    }
    qsort(v, n, sizeof v[0], cmp_double);
    if (found == 0) snprintf(text, len, "-");
    else if (n == 0) snprintf(text, len, "failed");
    else if (isnan(cv)) snprintf(text, len, "%.2f", quantile(v, n, 0.5));
    else snprintf(text, len, "%.2f ±%.0f%%", quantile(v, n, 0.5), 100 * cv);
    free(v);
}

static void print_table(const cell *cells, size_t ncells) {
    const char **benches = must(calloc(ncells + 1, sizeof *benches));
    const char **allocs = must(calloc(ncells + 1, sizeof *allocs));
    size_t nb = 0, na = 0, width = 9;
    for (size_t i = 0; i < ncells; i++) {
        index_of(benches, &nb, cells[i].bench);
        index_of(allocs, &na, cells[i].alloc);
        if (strlen(cells[i].bench) > width) width = strlen(cells[i].bench);
    }
    printf("median ns/op (± coefficient of variation over the repetitions)\n%-*s", (int)width,
           "benchmark");
    for (size_t a = 0; a < na; a++) printf("  %16s", allocs[a]);
    putchar('\n');
    for (size_t b = 0; b < nb; b++) {
        printf("%-*s", (int)width, benches[b]);
        for (size_t a = 0; a < na; a++) {
            char text[32];
            format_entry(cells, ncells, benches[b], allocs[a], text, sizeof text);
            printf("  %16s", text);
        }
        putchar('\n');
    }
    free(benches);
    free(allocs);
}

/* Reads FILE.jsonl and prints the table; the strings stay in the parsed records. */
static int table_main(const options *o) {
    FILE *f = fopen(o->input, "r");
    if (!f) {
        fprintf(stderr, "mhmicro_convert: cannot read %s: %s; give the records file micro.sh "
                        "wrote\n", o->input, strerror(errno));
        return 2;
    }
    size_t cap = 64, n = 0, nrec = 0;
    cell *cells = must(malloc(cap * sizeof *cells));
    mh_jv **recs = must(malloc(cap * sizeof *recs));
    char *line = NULL, err[256];
    size_t linecap = 0;
    int rc = 0;
    const mh_jv *first_run = NULL;   /* the first record tabled */
    for (long lineno = 1; getline(&line, &linecap, f) > 0; lineno++) {
        if (strspn(line, " \t\r\n") == strlen(line)) continue;
        mh_jv *r = mh_json_parse(line, strlen(line), err, sizeof err);
        if (!r) {
            fprintf(stderr, "mhmicro_convert: %s line %ld: %s; give a JSONL file of result "
                            "records\n", o->input, lineno, err);
            rc = 2;
            break;
        }
        if (nrec == cap) {
            cap *= 2;
            cells = must(realloc(cells, cap * sizeof *cells));
            recs = must(realloc(recs, cap * sizeof *recs));
        }
        recs[nrec++] = r;
        const char *name = mh_json_str_or(mh_json_path(r, "workload.name"), "");
        const char *run = mh_json_str_or(mh_json_get(r, "run_id"), "");
        if (strncmp(name, "micro/", 6) != 0 || (o->run_id && strcmp(run, o->run_id) != 0))
            continue;
        /* The rounds of two runs pooled would make one median of both. */
        if (n > 0 && !o->run_id && strcmp(run, mh_json_str_or(mh_json_get(first_run, "run_id"), "")) != 0) {
            fprintf(stderr, "mhmicro_convert: %s holds the records of several runs (%s, %s, ...); give "
                            "--run-id ID to print one\n", o->input,
                    mh_json_str_or(mh_json_get(first_run, "run_id"), ""), run);
            rc = 2;
            break;
        }
        if (n == 0) first_run = r;
        cells[n++] = (cell){
            .bench = name + 6,
            .alloc = mh_json_str_or(mh_json_path(r, "allocator.name"), "?"),
            .ns = mh_json_num_or(mh_json_get(r, "ns_per_op"), NAN),
            .cv = mh_json_num_or(mh_json_path(r, "extra.spread.cv"), NAN),
        };
    }
    if (rc == 0 && n == 0) {
        if (o->run_id)
            fprintf(stderr, "mhmicro_convert: %s holds no microbenchmark record of run '%s'; give one of its "
                            "run ids\n", o->input, o->run_id);
        else
            fprintf(stderr, "mhmicro_convert: %s holds no microbenchmark record; give a micro.jsonl that "
                            "runners/micro.sh wrote\n", o->input);
        rc = 2;
    }
    if (rc == 0) print_table(cells, n);
    for (size_t i = 0; i < nrec; i++) mh_json_free(recs[i]);
    free(recs);
    free(cells);
    free(line);
    fclose(f);
    return rc;
}

static int usage_error(const char *what) {
    fprintf(stderr, "mhmicro_convert: %s; usage: mhmicro_convert [--run-id ID] [--cell C] "
                    "[--rep K] [--out FILE.jsonl] GB.json, or the same with --failed REASON --allocator "
                    "SPEC BENCHMARK..., or --table FILE.jsonl [--run-id ID]\n", what);
    return 2;
}

static int parse_args(int argc, char **argv, options *o) {
    const char *rep = NULL;
    o->names = must(calloc((size_t)argc, sizeof *o->names));
    for (int i = 1; i < argc; i++) {
        const char **slot = strcmp(argv[i], "--run-id") == 0      ? &o->run_id
                            : strcmp(argv[i], "--cell") == 0      ? &o->cell
                            : strcmp(argv[i], "--out") == 0       ? &o->out
                            : strcmp(argv[i], "--rep") == 0       ? &rep
                            : strcmp(argv[i], "--failed") == 0    ? &o->failed
                            : strcmp(argv[i], "--allocator") == 0 ? &o->allocator
                                                                  : NULL;
        if (strcmp(argv[i], "--table") == 0) o->table = true;
        else if (slot && i + 1 < argc) *slot = argv[++i];
        /* several positional arguments are benchmarks, after --failed only */
        else if (slot || argv[i][0] == '-' || (o->nnames && !o->failed)) {
            char what[300];
            snprintf(what, sizeof what, "bad or extra argument '%s'", argv[i]);
            return usage_error(what);
        } else o->names[o->nnames++] = argv[i];
    }
    o->input = o->nnames ? o->names[0] : NULL;
    if (o->table && (o->out || o->cell || rep || o->failed))
        return usage_error("--table takes no --out, --cell, --rep or --failed");
    if (!o->failed != !o->allocator) return usage_error("--failed and --allocator go together");
    if (rep) {
        char *end;
        long k = strtol(rep, &end, 10);
        if (*end || end == rep || k < 0 || k > 1000000) {
            char what[300];
            snprintf(what, sizeof what, "--rep '%s' is not a repetition number (0, 1, ...)", rep);
            return usage_error(what);
        }
        o->rep = (int)k;
    }
    return o->input ? 0 : usage_error(o->table    ? "missing the records file (JSONL)"
                                      : o->failed ? "missing the benchmarks the run was to run"
                                                  : "missing the Google Benchmark JSON file");
}

/* Where the records go: appended to --out, else stdout; NULL, said, when it cannot be opened. */
static FILE *open_out(const options *o) {
    FILE *f = o->out ? fopen(o->out, "a") : stdout;
    if (!f)
        fprintf(stderr, "mhmicro_convert: cannot append to %s: %s; give a writable --out\n",
                o->out, strerror(errno));
    return f;
}

/* Closes what open_out gave; false, said with the file's name, when a write failed (a full
   disk): micro.sh must not take records that never reached the file for written. */
static bool close_out(const options *o, FILE *f) {
    if ((o->out ? fclose(f) : fflush(f)) == 0) return true;
    fprintf(stderr, "mhmicro_convert: cannot write to %s: %s; free space, then run again\n",
            o->out ? o->out : "stdout", strerror(errno));
    return false;
}

static int failed_main(const options *o) {
    FILE *f = open_out(o);
    if (!f) return 2;
    for (int i = 0; i < o->nnames; i++) write_failed_record(f, o, o->names[i]);
    return close_out(o, f) ? 0 : 1;
}

int main(int argc, char **argv) {
    options o = {0};
    if (parse_args(argc, argv, &o) != 0) return 2;
    if (o.table) return table_main(&o);
    if (o.failed) return failed_main(&o);
    char err[512];
    mh_jv *root = parse_gbench_file(o.input, err, sizeof err);
    if (!root) {
        fprintf(stderr, "mhmicro_convert: %s; give the JSON that mhmicro "
                        "--benchmark_format=json wrote\n", err);
        return 2;
    }
    const mh_jv *ctx = mh_json_get(root, "context");
    const mh_jv *benchmarks = mh_json_get(root, "benchmarks");
    if (!ctx || !benchmarks || benchmarks->type != MH_JARR || !mh_json_get(ctx, "mh.allocator")) {
        fprintf(stderr, "mhmicro_convert: %s is not mhmicro's Google Benchmark JSON (needs "
                        "\"context\" with mh.allocator and a \"benchmarks\" array); rerun "
                        "mhmicro with --benchmark_format=json\n", o.input);
        mh_json_free(root);
        return 2;
    }
    bench *b = must(calloc(benchmarks->len + 1, sizeof *b));
    size_t n = collect(benchmarks, b);
    double loop_ns = NAN;
    for (size_t i = 0; i < n; i++)
        if (strcmp(b[i].run_name, "empty") == 0) loop_ns = median_ns_per_op(&b[i]);

    /* All or nothing: a record the suite would reject is never written. */
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char why[256];
        if (!record_is_valid(&o, &b[i], ctx, loop_ns, why, sizeof why)) {
            fprintf(stderr, "mhmicro_convert: %s: the record for %s would be invalid (%s); "
                            "convert the JSON of this build's mhmicro\n", o.input, b[i].run_name, why);
            rc = 2;
        }
    }
    FILE *f = rc ? NULL : open_out(&o);
    if (!rc && !f) rc = 2;
    if (f) {
        for (size_t i = 0; i < n; i++) write_record(f, o.out == NULL, &o, &b[i], ctx, loop_ns);
        if (!close_out(&o, f)) rc = 1;
    }
    for (size_t i = 0; i < n; i++) free(b[i].reps);
    free(b);
    mh_json_free(root);
    return rc;
}
