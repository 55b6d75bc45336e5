/*
 * The result record (results/SCHEMA.md): writing it, checking it, and its
 * flat CSV form.
 */
#define _GNU_SOURCE
#include "driver.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char *const lat_kind_names[MH_LAT_KINDS] = { "malloc", "free_local", "free_remote" };

/* ------------------------------------------------------------- writing */

static void write_params(const mh_run *run, mh_jw *w)
{
    mh_jw_obj_begin(w, "params");
    for (int i = 0; i < run->nparams; i++) {
        const mh_param_value *p = &run->params[i];
        if (p->def->kind == MH_PARAM_INT)
            mh_jw_int(w, p->def->name, p->i);
        else if (p->def->kind == MH_PARAM_REAL)
            mh_jw_num(w, p->def->name, p->r);
        else
            mh_jw_str(w, p->def->name, p->text);
    }
    mh_jw_obj_end(w);
}

void mh_record_allocator_env(mh_jw *w, const mh_allocator *a)
{
    mh_jw_obj_begin(w, "env");
    for (int i = 0; i < a->nenv; i++) {
        const char *e = a->env[i];
        char var[sizeof a->env[i]];
        snprintf(var, sizeof var, "%.*s", (int)strcspn(e, "="), e);
        mh_jw_str(w, var, e + strlen(var) + 1);
    }
    mh_jw_obj_end(w);
}

static void write_allocator(const mh_run *run, const mh_served *s, mh_jw *w)
{
    mh_jw_obj_begin(w, "allocator");
    mh_jw_str(w, "name", run->alloc->name);
    mh_jw_str(w, "spec", run->opt->allocator);
    mh_jw_str(w, "requested", run->alloc->path[0] ? run->alloc->path : NULL);
    mh_jw_str(w, "served_by", s->served_by);
    mh_jw_bool(w, "verified", s->verified);
    mh_jw_str(w, "version", s->version[0] ? s->version : NULL);
    mh_jw_str(w, "file_hash", s->file_hash[0] ? s->file_hash : NULL);
    mh_record_allocator_env(w, run->alloc);
    mh_jw_obj_begin(w, "inherited_env");
    char *const *it = NULL;
    for (const char *e; (e = mh_inherited_tuning_next(run->alloc, &it));) {
        char var[256];
        snprintf(var, sizeof var, "%.*s", (int)strcspn(e, "="), e);
        mh_jw_str(w, var, e + strlen(var) + (strchr(e, '=') ? 1 : 0));
    }
    mh_jw_obj_end(w);
    mh_jw_str(w, "options", s->options[0] ? s->options : NULL);
    mh_jw_str(w, "options_reason", s->options[0] ? NULL : s->options_reason);
    mh_jw_obj_end(w);
}

static double run_ops(const mh_run *run)
{
    double ops = 0;
    for (int i = 0; i < run->threads; i++)
        ops += (double)run->thr[i].ops;
    return ops;
}

static double duration_s(const mh_run *run)
{
    return (double)(run->t_end_ns - run->t_start_ns) / 1e9;
}

static void write_per_thread(const mh_run *run, mh_jw *w)
{
    mh_jw_arr_begin(w, "per_thread");
    for (int i = 0; i < run->threads; i++) {
        const struct mh_harness_thread *h = &run->h[i];
        double d = (double)(h->t_end_ns - run->t_start_ns) / 1e9;
        mh_jw_obj_begin(w, NULL);
        mh_jw_int(w, "index", i);
        mh_jw_int(w, "ops", (long long)run->thr[i].ops);
        mh_jw_num(w, "duration_s", d);
        mh_jw_num(w, "ns_per_op", run->thr[i].ops ? d * 1e9 / (double)run->thr[i].ops : NAN);
        mh_jw_int(w, "children", (long long)h->children);
        mh_jw_obj_end(w);
    }
    mh_jw_arr_end(w);
}

static void write_counters(const mh_run *run, double ops, mh_jw *w)
{
    mh_jw_obj_begin(w, "counters");
    for (int c = 0; c < MH_CTR_COUNT; c++) {
        mh_jw_obj_begin(w, mh_counter_names[c]);
        if (run->counts.err[c]) {
            char reason[200];
            mh_perf_reason(run->counts.err[c], c, reason, sizeof reason);
            mh_jw_null(w, "value");
            mh_jw_null(w, "per_op");
            mh_jw_str(w, "reason", reason);
        } else {
            mh_jw_num(w, "value", run->counts.value[c]);
            mh_jw_num(w, "per_op", ops > 0 ? run->counts.value[c] / ops : NAN);
            mh_jw_null(w, "reason");
            mh_jw_bool(w, "scaled", run->counts.scaled[c]);
            mh_jw_bool(w, "user_only", run->counts.user_only[c]);
        }
        mh_jw_obj_end(w);
    }
    mh_jw_obj_end(w);
}

static void write_hist(const mh_hist *h, const char *key, mh_jw *w)
{
    static const struct { const char *key; double q; } qs[] = {
        { "p50_ns", 0.5 }, { "p90_ns", 0.9 }, { "p99_ns", 0.99 }, { "p999_ns", 0.999 },
    };
    mh_jw_obj_begin(w, key);
    mh_jw_int(w, "count", (long long)h->count);
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        if (h->count)
            mh_jw_int(w, qs[i].key, (long long)mh_hist_quantile(h, qs[i].q));
        else
            mh_jw_null(w, qs[i].key);
    }
    if (h->count)
        mh_jw_int(w, "max_ns", (long long)h->max);
    else
        mh_jw_null(w, "max_ns");
    mh_jw_obj_end(w);
}

static void write_latency(const mh_run *run, mh_jw *w)
{
    uint64_t samples = 0;
    double busy_ns = 0;
    for (int k = 0; k < MH_LAT_KINDS; k++)
        samples += run->lat[k].count;
    for (int i = 0; i < run->threads; i++)
        busy_ns += (double)(run->h[i].t_end_ns - run->t_start_ns);
    mh_jw_obj_begin(w, "latency");
    mh_jw_int(w, "sample_every", run->opt->lat_every);
    mh_jw_obj_begin(w, "overhead");
    mh_jw_str(w, "clock", "clock_gettime(CLOCK_MONOTONIC), two reads around the operation; "
                          "the interval between samples is uniform in [1, 2N-1] operations");
    mh_jw_num(w, "clock_read_ns", run->clock_read_ns);
    mh_jw_num(w, "sample_cost_ns", run->sample_cost_ns);
    mh_jw_int(w, "samples", (long long)samples);
    /* the share of the threads' time spent taking samples: what sampling adds to ns/op */
    mh_jw_num(w, "share_of_run_time", busy_ns > 0 ? (double)samples * run->sample_cost_ns / busy_ns : NAN);
    mh_jw_obj_end(w);
    for (int k = 0; k < MH_LAT_KINDS; k++)
        write_hist(&run->lat[k], lat_kind_names[k], w);
    mh_jw_obj_end(w);
}

static void write_extra(const mh_run *run, mh_jw *w)
{
    mh_jw_obj_begin(w, "extra");
    for (size_t i = 0; i < run->nmetrics; i++) {
        const mh_metric_entry *m = &run->metrics[i];
        if (!m->series) {
            mh_jw_num(w, m->name, m->values[0]);
            continue;
        }
        mh_jw_arr_begin(w, m->name);
        for (size_t k = 0; k < m->n; k++)
            mh_jw_num(w, NULL, m->values[k]);
        mh_jw_arr_end(w);
    }
    mh_jw_obj_end(w);
}

static void write_identity(const mh_run *run, mh_jw *w)
{
    const mh_run_options *o = run->opt;
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    mh_jw_str(w, "schema", MH_SCHEMA);
    mh_jw_str(w, "status", "ok");
    mh_jw_null(w, "error");
    mh_jw_str(w, "run_id", o->run_id);
    mh_jw_str(w, "cell", o->cell);
    mh_jw_int(w, "rep", o->rep);
    mh_jw_bool(w, "warmup", o->warmup);
    mh_jw_str(w, "timestamp", ts);
}

void mh_record_write(const mh_run *run, const mh_served *served, mh_jw *w)
{
    double ops = run_ops(run), d = duration_s(run);
    mh_jw_obj_begin(w, NULL);
    write_identity(run, w);
    mh_jw_obj_begin(w, "workload");
    mh_jw_str(w, "name", run->wl->name);
    write_params(run, w);
    mh_jw_obj_end(w);
    write_allocator(run, served, w);
    mh_jw_int(w, "threads", run->threads);
    mh_placement_write(run->placement, w, run);
    mh_jw_num(w, "duration_s", d);
    mh_jw_num(w, "ops", ops);
    mh_jw_num(w, "throughput_ops_s", d > 0 ? ops / d : NAN);
    mh_jw_num(w, "ns_per_op", ops > 0 ? d * 1e9 / ops : NAN);
    mh_jw_obj_begin(w, "harness");
    mh_jw_bool(w, "null_path", run->flags & MH_T_NULL);
    mh_jw_bool(w, "check", run->flags & MH_T_CHECK);
    mh_jw_int(w, "seed", (long long)run->opt->seed);
    mh_jw_obj_end(w);
    write_per_thread(run, w);
    write_counters(run, ops, w);
    mh_memory_write(run->memory, w);
    write_latency(run, w);
    write_extra(run, w);
    mh_allocator_stats_write(w, "allocator_stats");
    mh_env_write(w, "env");
    mh_jw_obj_end(w);
}

/* ------------------------------------------------------------- validating */

typedef struct vctx {
    char *buf;
    size_t len;
    bool bad;
} vctx;

static bool problem(vctx *v, const char *fmt, const char *key)
{
    if (!v->bad)
        snprintf(v->buf, v->len, fmt, key);
    v->bad = true;
    return false;
}

static bool is_type(const mh_jv *x, mh_jtype t) { return x && x->type == t; }
static bool is_num_or_null(const mh_jv *x) { return x && (x->type == MH_JNUM || x->type == MH_JNULL); }
static bool is_str_or_null(const mh_jv *x) { return x && (x->type == MH_JSTR || x->type == MH_JNULL); }

static bool need(vctx *v, const mh_jv *rec, const char *path, mh_jtype t)
{
    static const char *const type_names[] = { "null", "a boolean", "a number", "a string", "an array", "an object" };
    const mh_jv *x = mh_json_path(rec, path);
    if (!x)
        return problem(v, "missing key %s", path);
    if (x->type != t) {
        char fmt[128];
        snprintf(fmt, sizeof fmt, "%%s must be %s", type_names[t]);
        return problem(v, fmt, path);
    }
    return true;
}

static bool need_num_or_null(vctx *v, const mh_jv *rec, const char *path)
{
    return is_num_or_null(mh_json_path(rec, path)) || problem(v, "%s must be a number or null", path);
}

static void check_counters(vctx *v, const mh_jv *rec)
{
    char path[96];
    for (int c = 0; c < MH_CTR_COUNT && !v->bad; c++) {
        snprintf(path, sizeof path, "counters.%s", mh_counter_names[c]);
        const mh_jv *ctr = mh_json_path(rec, path);
        if (!is_type(ctr, MH_JOBJ)) {
            problem(v, "%s must be an object {value, per_op, reason}", path);
            return;
        }
        const mh_jv *val = mh_json_get(ctr, "value");
        if (is_type(val, MH_JNUM))
            continue;
        if (!is_type(val, MH_JNULL))
            problem(v, "%s.value must be a number or null", path);
        else if (!is_type(mh_json_get(ctr, "reason"), MH_JSTR))
            problem(v, "%s is null without a reason", path);
    }
}

static void check_latency(vctx *v, const mh_jv *rec)
{
    static const char *const qs[] = { "p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns" };
    need(v, rec, "latency.sample_every", MH_JNUM);
    for (int k = 0; k < MH_LAT_KINDS && !v->bad; k++) {
        char path[96];
        snprintf(path, sizeof path, "latency.%s.count", lat_kind_names[k]);
        if (!need(v, rec, path, MH_JNUM))
            return;
        double count = mh_json_path(rec, path)->num, prev = -1;
        for (size_t q = 0; q < sizeof qs / sizeof qs[0]; q++) {
            snprintf(path, sizeof path, "latency.%s.%s", lat_kind_names[k], qs[q]);
            const mh_jv *x = mh_json_path(rec, path);
            if (count == 0) {
                if (!is_type(x, MH_JNULL))
                    problem(v, "%s must be null when count is 0", path);
                continue;
            }
            if (!is_type(x, MH_JNUM)) {
                problem(v, "%s must be a number", path);
                return;
            }
            if (x->num < prev)
                problem(v, "%s is smaller than the percentile before it (percentiles out of order)", path);
            prev = x->num;
        }
    }
}

static void check_memory(vctx *v, const mh_jv *rec)
{
    need(v, rec, "memory.sample_interval_ms", MH_JNUM);
    need(v, rec, "memory.peak_rss_kib", MH_JNUM);
    need(v, rec, "memory.end_rss_kib", MH_JNUM);
    if (mh_json_path(rec, "memory.file_rss_kib"))
        need_num_or_null(v, rec, "memory.file_rss_kib");
    need(v, rec, "memory.peak_live_kib", MH_JNUM);
    need_num_or_null(v, rec, "memory.rss_over_live");
    /* Where the peak's source is recorded (not in older records): a known source, and a
       reason exactly when the kernel's mark was not used as planned. */
    const mh_jv *source = mh_json_path(rec, "memory.peak_rss_source");
    if (source) {
        const char *s = mh_json_str_or(source, "");
        const mh_jv *why = mh_json_path(rec, "memory.peak_rss_reason");
        bool hwm = strcmp(s, "VmHWM") == 0;
        if (!hwm && strcmp(s, "samples") != 0 && strcmp(s, "VmHWM without reset") != 0)
            problem(v, "%s must be VmHWM, samples or VmHWM without reset", "memory.peak_rss_source");
        else if (!why || (hwm ? why->type != MH_JNULL : why->type != MH_JSTR))
            problem(v, "%s must be null for VmHWM and say why otherwise", "memory.peak_rss_reason");
        need_num_or_null(v, rec, "memory.sampled_peak_rss_kib");
    }
    if (!need(v, rec, "memory.rss_series.t_ms", MH_JARR) || !need(v, rec, "memory.rss_series.rss_kib", MH_JARR) ||
        !need(v, rec, "memory.rss_series.live_kib", MH_JARR))
        return;
    size_t n = mh_json_path(rec, "memory.rss_series.t_ms")->len;
    if (mh_json_path(rec, "memory.rss_series.rss_kib")->len != n || mh_json_path(rec, "memory.rss_series.live_kib")->len != n)
        problem(v, "%s arrays differ in length", "memory.rss_series");
}

static void check_placement(vctx *v, const mh_jv *rec)
{
    if (!need(v, rec, "placement.policy", MH_JSTR) || !need(v, rec, "placement.cpus", MH_JARR) ||
        !need(v, rec, "placement.threads", MH_JARR))
        return;
    const mh_jv *threads = mh_json_path(rec, "placement.threads");
    if ((double)threads->len != mh_json_num_or(mh_json_get(rec, "threads"), -1))
        problem(v, "%s has not one entry per thread", "placement.threads");
    for (size_t i = 0; i < threads->len && !v->bad; i++) {
        const mh_jv *t = &threads->items[i];
        if (!is_type(mh_json_get(t, "index"), MH_JNUM) || !is_type(mh_json_get(t, "ran_on"), MH_JARR) ||
            !(is_type(mh_json_get(t, "bound"), MH_JARR) || is_type(mh_json_get(t, "bound"), MH_JNULL)))
            problem(v, "%s entries need index, bound (array or null) and ran_on", "placement.threads");
    }
}

/* allocator.env and allocator.options came with the variants, allocator.inherited_env
 * later: records from before them lack the keys, which is fine; when present they
 * must be sound. */
static void check_env_object(vctx *v, const mh_jv *rec, const char *path)
{
    const mh_jv *env = mh_json_path(rec, path);
    if (env && !is_type(env, MH_JOBJ))
        problem(v, "%s must be an object of VAR: value strings", path);
    for (size_t i = 0; env && env->type == MH_JOBJ && i < env->len; i++)
        if (!is_type(&env->items[i], MH_JSTR))
            problem(v, "%s values must be strings", path);
}

static void check_allocator_options(vctx *v, const mh_jv *rec)
{
    const mh_jv *opt = mh_json_path(rec, "allocator.options");
    check_env_object(v, rec, "allocator.env");
    check_env_object(v, rec, "allocator.inherited_env");
    if (opt && !is_str_or_null(opt))
        problem(v, "%s must be a string or null", "allocator.options");
    if (is_type(opt, MH_JNULL) && !is_type(mh_json_path(rec, "allocator.options_reason"), MH_JSTR))
        problem(v, "%s is null without allocator.options_reason", "allocator.options");
}

/* Keys every record has, failed ones included. */
static void check_identity(vctx *v, const mh_jv *rec)
{
    if (!is_type(rec, MH_JOBJ)) {
        problem(v, "%s", "a record must be a JSON object");
        return;
    }
    if (need(v, rec, "schema", MH_JSTR) && strcmp(mh_json_get(rec, "schema")->str, MH_SCHEMA) != 0)
        problem(v, "schema must be \"%s\"", MH_SCHEMA);
    if (need(v, rec, "status", MH_JSTR)) {
        const char *s = mh_json_get(rec, "status")->str;
        if (strcmp(s, "ok") != 0 && strcmp(s, "failed") != 0)
            problem(v, "%s must be \"ok\" or \"failed\"", "status");
    }
    if (!is_str_or_null(mh_json_get(rec, "error")))
        problem(v, "%s must be a string or null", "error");
    if (!is_str_or_null(mh_json_get(rec, "run_id")))
        problem(v, "%s must be a string or null", "run_id");
    if (!is_str_or_null(mh_json_get(rec, "cell")))
        problem(v, "%s must be a string or null", "cell");
    need(v, rec, "rep", MH_JNUM);
    need(v, rec, "warmup", MH_JBOOL);
    if (need(v, rec, "timestamp", MH_JSTR)) {
        const char *ts = mh_json_get(rec, "timestamp")->str;
        if (strlen(ts) != 20 || ts[10] != 'T' || ts[19] != 'Z')
            problem(v, "%s must be UTC like 2026-11-23T19:40:00Z", "timestamp");
    }
    need(v, rec, "workload.name", MH_JSTR);
    need(v, rec, "workload.params", MH_JOBJ);
    need(v, rec, "allocator.name", MH_JSTR);
}

static void check_ok_record(vctx *v, const mh_jv *rec)
{
    if (!is_type(mh_json_get(rec, "error"), MH_JNULL))
        problem(v, "%s must be null when status is ok", "error");
    if (need(v, rec, "allocator.verified", MH_JBOOL) && !mh_json_path(rec, "allocator.verified")->b)
        problem(v, "%s is false: the preload was not proven", "allocator.verified");
    need(v, rec, "allocator.served_by", MH_JSTR);
    check_allocator_options(v, rec);
    if (need(v, rec, "threads", MH_JNUM) && mh_json_get(rec, "threads")->num < 1)
        problem(v, "%s must be at least 1", "threads");
    check_placement(v, rec);
    /* An ok run did something in some time: the report refuses to pool a record without
       these (a zero median would drop out of the geometric means alone). */
    static const char *const positive[] = { "duration_s", "ops", "throughput_ops_s", "ns_per_op" };
    for (size_t i = 0; i < sizeof positive / sizeof *positive; i++)
        if (need(v, rec, positive[i], MH_JNUM) && !(mh_json_get(rec, positive[i])->num > 0))
            problem(v, "%s must be positive in an ok record", positive[i]);
    need(v, rec, "harness.null_path", MH_JBOOL);
    if (need(v, rec, "per_thread", MH_JARR) &&
        (double)mh_json_get(rec, "per_thread")->len != mh_json_num_or(mh_json_get(rec, "threads"), -1))
        problem(v, "%s has not one entry per thread", "per_thread");
    check_counters(v, rec);
    check_memory(v, rec);
    check_latency(v, rec);
    need(v, rec, "extra", MH_JOBJ);
    const mh_jv *stats = mh_json_get(rec, "allocator_stats");
    if (!stats || (stats->type != MH_JNULL && stats->type != MH_JOBJ))
        problem(v, "%s must be an object or null", "allocator_stats");
    need(v, rec, "env", MH_JOBJ);
    need(v, rec, "env.host", MH_JSTR);
    need(v, rec, "env.cpus_online", MH_JNUM);
}

const char *mh_record_validate(const mh_jv *rec, char *buf, size_t buflen)
{
    vctx v = { buf, buflen, false };
    check_identity(&v, rec);
    if (!v.bad && strcmp(mh_json_get(rec, "status")->str, "ok") == 0)
        check_ok_record(&v, rec);
    else if (!v.bad && !is_type(mh_json_get(rec, "error"), MH_JSTR))
        problem(&v, "%s must say why when status is failed", "error");
    return v.bad ? buf : NULL;
}

/* ------------------------------------------------------------- CSV */

static void csv_field(FILE *out, const char *s, bool first)
{
    if (!first)
        fputc(',', out);
    if (!s)
        return;
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

/* Scalars as text; null and absent are empty. */
static void scalar_text(const mh_jv *x, char *out, size_t len)
{
    out[0] = '\0';
    if (!x)
        return;
    if (x->type == MH_JNUM)
        snprintf(out, len, "%.10g", x->num);
    else if (x->type == MH_JSTR)
        snprintf(out, len, "%s", x->str);
    else if (x->type == MH_JBOOL)
        snprintf(out, len, "%s", x->b ? "true" : "false");
}

static const char *const csv_columns[] = {
    "run_id", "cell", "rep", "warmup", "timestamp", "workload.name", "params", "allocator.name",
    "allocator.version", "allocator.verified", "threads", "placement.policy", "harness.null_path",
    "status", "error", "duration_s", "ops", "throughput_ops_s", "ns_per_op",
    "counters.cycles.per_op", "counters.instructions.per_op", "counters.cache_misses.per_op",
    "counters.dtlb_misses.per_op", "counters.branch_misses.per_op", "counters.task_clock_ns.per_op",
    "counters.page_faults.per_op", "counters.context_switches.per_op", "counters.cpu_migrations.per_op",
    "memory.peak_rss_kib", "memory.end_rss_kib", "memory.rss_over_live",
    "latency.malloc.p50_ns", "latency.malloc.p90_ns", "latency.malloc.p99_ns", "latency.malloc.p999_ns", "latency.malloc.max_ns",
    "latency.free_local.p50_ns", "latency.free_local.p90_ns", "latency.free_local.p99_ns", "latency.free_local.p999_ns", "latency.free_local.max_ns",
    "latency.free_remote.p50_ns", "latency.free_remote.p90_ns", "latency.free_remote.p99_ns", "latency.free_remote.p999_ns", "latency.free_remote.max_ns",
    NULL,
};

static void csv_row(const mh_jv *rec, FILE *out)
{
    char text[4096];
    for (int c = 0; csv_columns[c]; c++) {
        if (strcmp(csv_columns[c], "params") == 0) {
            const mh_jv *p = mh_json_path(rec, "workload.params");
            size_t used = 0;
            text[0] = '\0';
            for (size_t i = 0; p && p->type == MH_JOBJ && i < p->len && used < sizeof text; i++) {
                char v[256];
                scalar_text(&p->items[i], v, sizeof v);
                used += (size_t)snprintf(text + used, sizeof text - used, "%s%s=%s", i ? ";" : "", p->keys[i], v);
            }
        } else {
            scalar_text(mh_json_path(rec, csv_columns[c]), text, sizeof text);
        }
        csv_field(out, text, c == 0);
    }
    fputc('\n', out);
}

/* Calls fn for each record of a JSONL file (or a file holding one pretty-printed record).
 * Returns -1 when the file cannot be read. */
typedef void (*record_fn)(const char *file, int line, const mh_jv *rec, const char *parse_err, void *arg);

/* The records file opened for reading; NULL, said in one line, when it cannot be. */
static FILE *open_records(const char *file)
{
    struct stat st;
    /* fopen opens a directory, and reading it then finds no lines: "no records". */
    if (stat(file, &st) == 0 && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "mhbench: %s is a directory; give the records file in it (%s/records.jsonl)\n", file, file);
        return NULL;
    }
    FILE *f = fopen(file, "r");
    if (!f)
        fprintf(stderr, "mhbench: cannot read %s: %s; give a records file (RUN_DIR/records.jsonl)\n", file,
                strerror(errno));
    return f;
}

static int each_record(const char *file, record_fn fn, void *arg)
{
    char err[512];
    FILE *f = open_records(file);
    if (!f)
        return -1;
    char *line = NULL, *all = NULL;
    size_t cap = 0, alllen = 0;
    FILE *whole = open_memstream(&all, &alllen);
    for (ssize_t n; (n = getline(&line, &cap, f)) > 0;)
        fwrite(line, 1, (size_t)n, whole);
    fclose(whole);
    fclose(f);
    free(line);
    mh_jv *one = mh_json_parse(all, alllen, err, sizeof err);
    if (one && one->type == MH_JOBJ) {
        fn(file, 1, one, NULL, arg);
    } else {
        /* By length, not as strings: the NUL bytes a crash can leave in a file ended the
           walk there, and validate passed it with the records after them unread. */
        int lineno = 0;
        const char *end = all + alllen;
        for (const char *s = all, *nl; s < end; s = nl ? nl + 1 : end) {
            nl = memchr(s, '\n', (size_t)(end - s));
            size_t len = nl ? (size_t)(nl - s) : (size_t)(end - s), blank = 0;
            lineno++;
            while (blank < len && strchr(" \t\r", s[blank]) && s[blank]) blank++;
            if (blank == len)
                continue;
            mh_jv *rec = mh_json_parse(s, len, err, sizeof err);
            fn(file, lineno, rec, rec ? NULL : err, arg);
            mh_json_free(rec);
        }
    }
    mh_json_free(one);
    free(all);
    return 0;
}

typedef struct csv_state {
    FILE *out;
    int bad;
} csv_state;

static void csv_one(const char *file, int line, const mh_jv *rec, const char *parse_err, void *arg)
{
    csv_state *st = arg;
    char buf[256];
    const char *why = rec ? mh_record_validate(rec, buf, sizeof buf) : parse_err;
    if (why) {
        fprintf(stderr, "mhbench csv: %s:%d: %s%s; left out (mhbench validate lists every such line)\n", file,
                line, rec ? "not a valid record: " : "not JSON: ", why);
        st->bad++;
        return;
    }
    csv_row(rec, st->out);
}

int mh_record_csv(int nfiles, char **files, FILE *out)
{
    csv_state st = { out, 0 };
    /* every input checked before the header: a lone header read as an empty result set */
    for (int i = 0; i < nfiles; i++) {
        FILE *f = open_records(files[i]);
        if (!f)
            return 2;
        fclose(f);
    }
    for (int c = 0; csv_columns[c]; c++)
        csv_field(out, csv_columns[c], c == 0);
    fputc('\n', out);
    for (int i = 0; i < nfiles; i++)
        if (each_record(files[i], csv_one, &st) != 0)
            return 2;
    return st.bad ? 2 : 0;
}

typedef struct validate_state {
    int records, bad;
} validate_state;

static void validate_one(const char *file, int line, const mh_jv *rec, const char *parse_err, void *arg)
{
    validate_state *st = arg;
    char buf[256];
    const char *why = rec ? mh_record_validate(rec, buf, sizeof buf) : parse_err;
    st->records++;
    if (why) {
        st->bad++;
        printf("%s:%d: %s%s\n", file, line, rec ? "" : "not JSON: ", why);
    }
}

int mh_record_validate_files(int nfiles, char **files)
{
    validate_state st = { 0, 0 };
    for (int i = 0; i < nfiles; i++)
        if (each_record(files[i], validate_one, &st) != 0)
            return 2;
    if (st.records == 0) {
        fprintf(stderr, "mhbench validate: no records in the given files\n");
        return 1;
    }
    fprintf(stderr, "mhbench validate: %d record(s), %d invalid\n", st.records, st.bad);
    return st.bad ? 1 : 0;
}
