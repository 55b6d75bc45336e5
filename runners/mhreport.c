/*
 * mhreport: the report tool of the benchmark matrix (see report.h).
 *
 *   mhreport report [--out DIR] [--plots-src DIR] [--reproduce CMD] [--no-plots | --png-only] RUN_DIR...
 *   mhreport compare OLD NEW [--threshold PCT]
 *   mhreport done FILE.jsonl          (for the matrix: finished cell/rep/warmup triples)
 *   mhreport failed-record ...        (for the matrix: a record for a run that died)
 */
#define _GNU_SOURCE   /* nftw */
#include "report.h"

#include <errno.h>
#include <ftw.h>
#include <stddef.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <time.h>

#ifndef MH_PLOTS_DIR
#define MH_PLOTS_DIR "plots"
#endif

static int usage_error(const char *what)
{
    fprintf(stderr, "mhreport: %s; see `mhreport --help`\n", what);
    return 2;
}

static void usage(FILE *f)
{
    fputs("usage: mhreport report [--out DIR] [--plots-src DIR] [--reproduce CMD] [--no-plots | --png-only]\n"
          "                      RUN_DIR|FILE.jsonl...\n"
          "       mhreport compare OLD NEW [--threshold PCT]\n"
          "       mhreport done FILE.jsonl\n"
          "       mhreport failed-record --run-id ID --cell C --rep K [--warmup] --workload W\n"
          "                              [--params '--NAME=VALUE ...'] --allocator A --threads T\n"
          "                              [--reason TEXT] [--error-file F]\n", f);
}

FILE *mr_fopen(const char *dir, const char *name, const char *mode)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, mode);
    if (!f) fprintf(stderr, "mhreport: cannot open %s: %s\n", path, strerror(errno));
    return f;
}

/* The report's own files (results.csv, env.json, report.md, report.html) are written
   beside their final names and renamed over them only once all of them are whole: on a
   full disk a failed report had left a torn results.csv next to the previous report.md
   (a review). */
#define MR_STAGED_MAX 8
static struct {
    FILE *f;                           /* open until mr_stage_close */
    char tmp[4096], final[4096];
} staged[MR_STAGED_MAX];
static int nstaged;

FILE *mr_stage(const char *dir, const char *name)
{
    if (nstaged == MR_STAGED_MAX) abort();
    snprintf(staged[nstaged].final, sizeof staged[0].final, "%s/%s", dir, name);
    snprintf(staged[nstaged].tmp, sizeof staged[0].tmp, "%s/.%s.partial", dir, name);
    FILE *f = fopen(staged[nstaged].tmp, "w");
    if (!f) fprintf(stderr, "mhreport: cannot write %s: %s; give a writable --out DIR\n", staged[nstaged].tmp,
                    strerror(errno));
    else staged[nstaged++].f = f;
    return f;
}

int mr_stage_close(FILE *f)
{
    int i = 0;
    while (i < nstaged && staged[i].f != f) i++;
    if (i == nstaged) abort();
    staged[i].f = NULL;
    int err = ferror(f) ? (errno ? errno : EIO) : 0;
    if (fclose(f) != 0 && !err) err = errno;
    if (!err) return 0;
    fprintf(stderr, "mhreport: cannot write %s: %s; free some space, or give another --out DIR\n",
            staged[i].final, strerror(err));
    return 2;
}

/* The plots' folder, staged the same way: drawn into DIR/.plots.partial, swapped for
   DIR/plots at the end (a report that failed after its plots had left new plots beside
   the old report.md, a review). */
static char plots_tmp[4096], plots_final[4096];

const char *mr_stage_plots_dir(const char *dir)
{
    snprintf(plots_final, sizeof plots_final, "%s/plots", dir);
    snprintf(plots_tmp, sizeof plots_tmp, "%s/.plots.partial", dir);
    mr_remove_tree(plots_tmp);
    return plots_tmp;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

void mr_remove_tree(const char *path)
{
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The staged plots in place of the old ones (keep), or gone. */
static int finish_plots(bool keep)
{
    if (!plots_tmp[0]) return 0;
    int rc = 0;
    if (keep) {
        char old[4200];
        snprintf(old, sizeof old, "%s.old", plots_tmp);
        mr_remove_tree(old);
        if ((rename(plots_final, old) != 0 && errno != ENOENT) || rename(plots_tmp, plots_final) != 0) {
            fprintf(stderr, "mhreport: cannot replace %s: %s\n", plots_final, strerror(errno));
            rc = 2;
        }
        mr_remove_tree(old);
    }
    mr_remove_tree(plots_tmp);
    plots_tmp[0] = '\0';
    return rc;
}

int mr_stage_finish(bool keep)
{
    int rc = 0;
    for (int i = 0; i < nstaged; i++) {
        if (staged[i].f) fclose(staged[i].f);
        /* after a rename that failed, none more: the files already renamed are said */
        if (keep && !rc && rename(staged[i].tmp, staged[i].final) != 0) {
            fprintf(stderr, "mhreport: cannot replace %s: %s (the %d file(s) before it in results.csv, "
                    "env.json, report.md, report.html are new)\n", staged[i].final, strerror(errno), i);
            rc = 2;
        }
        if (!keep || rc) unlink(staged[i].tmp);
    }
    nstaged = 0;
    int plots_rc = finish_plots(keep && !rc);
    return rc ? rc : plots_rc;
}

/* ---- loading ---- */

/* Why a record lacks what the report sorts it by (into buf), or NULL: a line with the
   schema alone was pooled as allocator "?" and a failed run, and compare showed "?|0|?
   only in NEW". The wording is mhbench validate's. */
static const char *missing_identity(const mh_jv *rec, char *buf, size_t len)
{
    static const struct { const char *path; mh_jtype type; const char *what; } keys[] = {
        { "status", MH_JSTR, "a string" },        { "workload.name", MH_JSTR, "a string" },
        { "allocator.name", MH_JSTR, "a string" }, { "threads", MH_JNUM, "a number" },
    };
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const mh_jv *v = mh_json_path(rec, keys[i].path);
        if (!v)
            snprintf(buf, len, "missing key %s", keys[i].path);
        else if (v->type != keys[i].type)
            snprintf(buf, len, "%s must be %s", keys[i].path, keys[i].what);
        else
            continue;
        return buf;
    }
    const char *status = mh_json_get(rec, "status")->str;
    return strcmp(status, "ok") != 0 && strcmp(status, "failed") != 0 ? "status must be \"ok\" or \"failed\"" : NULL;
}

/* Why a record must not be pooled with the others, or NULL: another schema version's
   keys may mean other things, one without its identity cannot be placed, and an ok
   record whose allocator was not proven loaded, or whose time, throughput or count is not
   a positive number, measured nothing (a zero median would also drop out of the geometric
   means alone). (mhbench validate checks every key; a hand-made record may lack the
   others and still be read.) */
static const char *pool_refusal(const mh_jv *rec, char *buf, size_t len)
{
    const char *schema = mh_json_str_or(mh_json_get(rec, "schema"), NULL);
    if (!schema || strcmp(schema, MH_SCHEMA) != 0) return "its schema is not " MH_SCHEMA;
    const char *missing = missing_identity(rec, buf, len);
    if (missing) return missing;
    if (strcmp(mh_json_get(rec, "status")->str, "ok") != 0) return NULL;
    const mh_jv *verified = mh_json_path(rec, "allocator.verified");
    if (verified && verified->type == MH_JBOOL && !verified->b) return "its allocator was not proven loaded";
    static const char *const positive[] = { "duration_s", "throughput_ops_s", "ops" };
    for (size_t i = 0; i < sizeof positive / sizeof *positive; i++) {
        const mh_jv *v = mh_json_get(rec, positive[i]);
        if (v && (v->type != MH_JNUM || !(v->num > 0) || !isfinite(v->num)))
            return "a time, rate or count that is not a positive number";
    }
    return NULL;
}

static bool read_jsonl(mr_set *set, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return false;
    }
    char *line = NULL, perr[256], why[256];
    size_t cap = 0, bad = 0;
    ssize_t len;
    long lineno = 0;
    while ((len = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (strspn(line, " \t\r\n") == (size_t)len) continue;
        mh_jv *doc = mh_json_parse(line, (size_t)len, perr, sizeof perr);
        const char *invalid = doc && doc->type == MH_JOBJ ? pool_refusal(doc, why, sizeof why) : NULL;
        if (!doc || doc->type != MH_JOBJ || invalid) {
            /* A run killed while appending leaves a torn last line: skip it, say so. A
               file that is not records at all (gzip, binary) is said once, not a line at
               a time. */
            if (++bad <= 3)
                fprintf(stderr, "mhreport: %s:%ld: not a %srecord (%s); skipped (mhbench validate lists every "
                        "problem)\n", path, lineno, invalid ? "valid " : "",
                        invalid ? invalid : doc ? "not an object" : perr);
            mh_json_free(doc);
            set->bad_lines++;
            continue;
        }
        set->docs = realloc(set->docs, sizeof *set->docs * (set->ndocs + 1));
        set->docs[set->ndocs++] = doc;
    }
    free(line);
    fclose(f);
    if (bad > 3) fprintf(stderr, "mhreport: %s: %zu more lines that are not records skipped (a gzip or other file?)\n", path, bad - 3);
    return true;
}

static int intern(char ***list, int *n, const char *s)
{
    for (int i = 0; i < *n; i++)
        if (strcmp((*list)[i], s) == 0) return i;
    *list = realloc(*list, sizeof **list * (size_t)(*n + 1));
    (*list)[*n] = strdup(s);
    return (*n)++;
}

static int intern_threads(mr_set *set, int t)
{
    for (int i = 0; i < set->nthreads; i++)
        if (set->threads[i] == t) return i;
    set->threads = realloc(set->threads, sizeof *set->threads * (size_t)(set->nthreads + 1));
    set->threads[set->nthreads] = t;
    return set->nthreads++;
}

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

static void fill_run(mr_run *r, const mh_jv *rec)
{
    r->rec = rec;
    r->cell = mh_json_str_or(mh_json_get(rec, "cell"), NULL);
    r->workload = mh_json_str_or(mh_json_path(rec, "workload.name"), "?");
    r->alloc = mh_json_str_or(mh_json_path(rec, "allocator.name"), "?");
    r->threads = (int)mh_json_num_or(mh_json_get(rec, "threads"), 0);
    r->rep = (int)mh_json_num_or(mh_json_get(rec, "rep"), 0);
    const mh_jv *w = mh_json_get(rec, "warmup");
    r->warmup = w && w->type == MH_JBOOL && w->b;
    r->ok = strcmp(mh_json_str_or(mh_json_get(rec, "status"), ""), "ok") == 0;
    r->throughput = mh_json_num_or(mh_json_get(rec, "throughput_ops_s"), NAN);
    r->ns_per_op = mh_json_num_or(mh_json_get(rec, "ns_per_op"), NAN);
    r->peak_rss_kib = mh_json_num_or(mh_json_path(rec, "memory.peak_rss_kib"), NAN);
    if (r->ok && !isfinite(r->throughput)) r->ok = false;
}

/* The case is the matrix's name for a workload with its configured parameters:
 * the cell "CASE|THREADS|ALLOCATOR" up to the first '|'. Records not made by the
 * matrix (micro.sh names its cells "micro/ALLOCATOR") are grouped by workload, so
 * that the allocators of one benchmark line up. */
static char *case_of(const mr_run *r)
{
    if (!r->cell || !strchr(r->cell, '|')) return strdup(r->workload);
    size_t n = strcspn(r->cell, "|");
    return strndup(r->cell, n);
}

/* Median of one double field of the group's runs, skipping runs that lack it. */
static double median_of_runs(const mr_group *g, size_t field)
{
    double *v = malloc(sizeof *v * (size_t)(g->n + 1));
    int n = 0;
    for (int i = 0; i < g->n; i++) {
        double x = *(const double *)((const char *)g->runs[i] + field);
        if (isfinite(x)) v[n++] = x;
    }
    mr_summary s;
    mr_summarise(v, n, &s);
    free(v);
    return s.median;
}

static void build_groups(mr_set *set)
{
    qsort(set->threads, (size_t)set->nthreads, sizeof *set->threads, cmp_int);
    for (size_t i = 0; i < set->nruns; i++) {
        mr_run *r = &set->runs[i];
        if (r->warmup) continue;
        int ci = mr_case_index(set, r->case_name), ai = mr_alloc_index(set, r->alloc), ti = 0;
        while (set->threads[ti] != r->threads) ti++;
        mr_group *g = mr_group_at(set, ci, ti, ai);
        if (!g) {
            set->groups = realloc(set->groups, sizeof *g * (size_t)(set->ngroups + 1));
            g = &set->groups[set->ngroups++];
            memset(g, 0, sizeof *g);
            g->ci = ci, g->ti = ti, g->ai = ai;
        }
        if (!r->ok) {
            g->nfailed++;
            continue;
        }
        g->thr = realloc(g->thr, sizeof *g->thr * (size_t)(g->n + 1));
        g->runs = realloc(g->runs, sizeof *g->runs * (size_t)(g->n + 1));
        g->thr[g->n] = r->throughput;
        g->runs[g->n++] = r;
    }
    for (int i = 0; i < set->ngroups; i++) {
        mr_group *g = &set->groups[i];
        mr_summarise(g->thr, g->n, &g->s);
        g->rss_median_kib = median_of_runs(g, offsetof(mr_run, peak_rss_kib));
        g->nsop_median = median_of_runs(g, offsetof(mr_run, ns_per_op));
    }
}

/* One measurement loaded twice (a directory given twice, shards merged twice) has the
 * same run, cell, workload, repetition, warm-up flag and timestamp: its identity (the
 * workload tells apart the benchmarks of one microbenchmark run, which share a cell).
 * Records without a run or a cell (single mhbench runs) have none and are never
 * duplicates. */
typedef struct doc_key {
    char *key;
    size_t index;
} doc_key;

static int cmp_doc_key(const void *a, const void *b)
{
    const doc_key *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* dup[i]: docs[i] repeats an earlier record. Returns how many do. */
static size_t mark_duplicates(const mr_set *set, bool *dup)
{
    doc_key *k = calloc(set->ndocs ? set->ndocs : 1, sizeof *k);
    size_t n = 0, found = 0;
    for (size_t i = 0; i < set->ndocs; i++) {
        const mh_jv *d = set->docs[i], *w = mh_json_get(d, "warmup");
        const char *run = mh_json_str_or(mh_json_get(d, "run_id"), NULL);
        const char *cell = mh_json_str_or(mh_json_get(d, "cell"), NULL);
        if (!run || !cell) continue;
        const char *workload = mh_json_str_or(mh_json_path(d, "workload.name"), "");
        size_t len = strlen(run) + strlen(cell) + strlen(workload) + 96;
        k[n].key = malloc(len);
        snprintf(k[n].key, len, "%s\t%s\t%s\t%.0f\t%d\t%s", run, cell, workload,
                 mh_json_num_or(mh_json_get(d, "rep"), -1), w && w->type == MH_JBOOL && w->b,
                 mh_json_str_or(mh_json_get(d, "timestamp"), ""));
        k[n++].index = i;
    }
    qsort(k, n, sizeof *k, cmp_doc_key);
    for (size_t i = 1; i < n; i++)
        if (strcmp(k[i].key, k[i - 1].key) == 0) dup[k[i].index] = true, found++;
    for (size_t i = 0; i < n; i++) free(k[i].key);
    free(k);
    return found;
}

static void value_text(const mh_jv *v, char *buf, size_t len);

bool mr_params_differ(const mh_jv *a, const mh_jv *b, char *buf, size_t len)
{
    for (size_t i = 0; a && b && a->type == MH_JOBJ && i < a->len; i++) {
        const mh_jv *other = mh_json_get(b, a->keys[i]);
        if (!other) continue;
        char x[128], y[128];
        value_text(&a->items[i], x, sizeof x);
        value_text(other, y, sizeof y);
        if (strcmp(x, y) != 0) {
            snprintf(buf, len, "%s: %s vs %s", a->keys[i], x, y);
            return true;
        }
    }
    return false;
}

/* A case pools its runs' throughputs, so they must all have run the same workload:
 * two configs that differ only in a fixed parameter name their cases alike. */
static bool same_params_as_case(mr_set *set, int ci, const mr_run *r, char *err, size_t errlen)
{
    const mh_jv *params = mh_json_path(r->rec, "workload.params");
    if (!r->ok || !params) return true;
    char diff[300];
    if (!set->case_params[ci]) {
        set->case_params[ci] = params;
    } else if (mr_params_differ(set->case_params[ci], params, diff, sizeof diff)) {
        snprintf(err, errlen, "case %s was run with different parameters in these records (%s); "
                 "report each set on its own (./run.sh compare OLD NEW compares two)", set->cases[ci], diff);
        return false;
    }
    return true;
}

/* A matrix run keeps its records in records.jsonl, a microbenchmark result set
 * (runners/micro.sh) in micro.jsonl; false when dir holds neither. */
static bool records_file(const char *dir, char *path, size_t len)
{
    struct stat st;
    snprintf(path, len, "%s/records.jsonl", dir);
    if (stat(path, &st) == 0) return true;
    snprintf(path, len, "%s/micro.jsonl", dir);
    return stat(path, &st) == 0;
}

/* What makes two machines measure alike: CPU model and stepping (microcode aside: an
   update on the same machine changes it) and CPUs online. Identical nodes of a cluster,
   which the shards may run on, differ in their host names only. */
static const char *const machine_keys[] = { "cpu_model", "cpu_id", "cpus_online" };
#define NMACHINE_KEYS (sizeof machine_keys / sizeof *machine_keys)

/* env's value of machine key k as text, cpu_id without its microcode; "" if absent. */
static void machine_value(const mh_jv *env, size_t k, char *buf, size_t len)
{
    const mh_jv *v = mh_json_get(env, machine_keys[k]);
    if (v && v->type == MH_JSTR) snprintf(buf, len, "%s", v->str);
    else if (v && v->type == MH_JNUM) snprintf(buf, len, "%g CPUs", v->num);
    else buf[0] = 0;
    char *micro = strstr(buf, " microcode");
    if (micro) *micro = 0;
}

/* A median over runs of two kinds of machine measures neither (a merge of one host's set
   with another's gave every cell a median between the two): every record that names its
   machine must name the kind of the set's first. A key only one of them has (cpu_id came
   in later) does not count. */
static bool same_machine(const mr_set *set, const mr_run *r, char *err, size_t errlen)
{
    const mh_jv *env = mh_json_get(r->rec, "env");
    if (!env || !set->env || env == set->env) return true;
    for (size_t k = 0; k < NMACHINE_KEYS; k++) {
        char a[512], b[512];
        machine_value(set->env, k, a, sizeof a);
        machine_value(env, k, b, sizeof b);
        if (!a[0] || !b[0] || strcmp(a, b) == 0) continue;
        snprintf(err, errlen, "these records come from two kinds of machine (%s; and %s): a median across "
                 "them measures neither; report each machine's records apart and set them side by side "
                 "with `./run.sh compare DIR_A DIR_B`", a, b);
        return false;
    }
    return true;
}

/* Shards may run on identical nodes, each (case, threads) group on one of them: a group
   whose runs name two hosts pools two machines in every median and ratio it shows. */
static bool one_host_per_group(const mr_set *set, char *err, size_t errlen)
{
    const char **host = calloc((size_t)set->ncases * (size_t)set->nthreads, sizeof *host);
    bool ok = true;
    for (int gi = 0; gi < set->ngroups && ok; gi++) {
        const mr_group *g = &set->groups[gi];
        const char **seen = &host[(size_t)g->ci * (size_t)set->nthreads + (size_t)g->ti];
        for (int i = 0; i < g->n && ok; i++) {
            const char *h = mh_json_str_or(mh_json_path(g->runs[i]->rec, "env.host"), NULL);
            if (!h || (*seen && strcmp(*seen, h) == 0)) continue;
            if (!*seen) {
                *seen = h;
                continue;
            }
            snprintf(err, errlen, "case %s at %d threads has runs from two hosts (%s and %s): its medians would "
                     "pool two machines; merge shards that each ran whole (case, threads) groups "
                     "(--shard K/N), or report each host's records apart", set->cases[g->ci],
                     set->threads[g->ti], *seen, h);
            ok = false;
        }
    }
    free(host);
    return ok;
}

/* A variant runs its base's library under other variables: the same allocator set up
   otherwise, not another one (the report ranks it apart). */
static void mark_variants(mr_set *set)
{
    set->variant = calloc((size_t)set->nallocs + 1, sizeof *set->variant);
    for (size_t i = 0; i < set->nruns; i++) {
        const mh_jv *env = mh_json_path(set->runs[i].rec, "allocator.env");
        if (env && env->type == MH_JOBJ && env->len) set->variant[mr_alloc_index(set, set->runs[i].alloc)] = true;
    }
}

bool mr_load(mr_set *set, char *const *paths, int npaths, char *err, size_t errlen)
{
    memset(set, 0, sizeof *set);
    for (int i = 0; i < npaths; i++) {
        char path[4096];
        struct stat st;
        if (stat(paths[i], &st) != 0 || !S_ISDIR(st.st_mode)) {
            snprintf(path, sizeof path, "%s", paths[i]);
        } else if (!records_file(paths[i], path, sizeof path)) {
            /* "cannot read DIR/records.jsonl" read as a broken run, where the directory is none */
            snprintf(err, errlen, "%s holds no records.jsonl or micro.jsonl: it is not a result directory; give "
                     "one that ./run.sh matrix or ./run.sh micro wrote (results/local/RUN_ID)", paths[i]);
            return false;
        }
        if (!read_jsonl(set, path, err, errlen)) return false;
    }
    set->runs = calloc(set->ndocs ? set->ndocs : 1, sizeof *set->runs);
    bool *dup = calloc(set->ndocs ? set->ndocs : 1, sizeof *dup);
    size_t duplicates = mark_duplicates(set, dup);
    bool consistent = true;
    for (size_t i = 0; i < set->ndocs && consistent; i++) {
        if (dup[i]) continue;
        mr_run *r = &set->runs[set->nruns++];
        fill_run(r, set->docs[i]);
        char *c = case_of(r);
        int known = set->ncases, ci = intern(&set->cases, &set->ncases, c);
        free(c);
        if (set->ncases > known) {
            set->case_params = realloc(set->case_params, sizeof *set->case_params * (size_t)set->ncases);
            set->case_params[ci] = NULL;
        }
        r->case_name = set->cases[ci];
        intern(&set->allocs, &set->nallocs, r->alloc);
        intern_threads(set, r->threads);
        if (!set->env) set->env = mh_json_get(r->rec, "env");
        consistent = same_params_as_case(set, ci, r, err, errlen) && same_machine(set, r, err, errlen);
    }
    free(dup);
    if (!consistent) return false;
    mark_variants(set);
    if (duplicates)
        fprintf(stderr, "mhreport: %zu records appear twice (same run, cell, workload, repetition and time: a set "
                "given twice or merged twice); each counted once\n", duplicates);
    build_groups(set);
    if (!one_host_per_group(set, err, errlen)) return false;
    bool any_ok = false;
    for (int i = 0; i < set->ngroups; i++) any_ok |= set->groups[i].n > 0;
    if (!any_ok) {
        if (set->ndocs == 0 && set->bad_lines > 0)
            snprintf(err, errlen, "no valid records in %s%s: none of its %zu lines is a %s record "
                     "(mhbench validate lists every problem)", paths[0], npaths > 1 ? " ..." : "",
                     set->bad_lines, MH_SCHEMA);
        else if (set->ndocs == 0)
            snprintf(err, errlen, "no records in %s%s yet; run `./run.sh matrix` first, or wait for the "
                     "one writing it", paths[0], npaths > 1 ? " ..." : "");
        else {
            size_t warmups = 0;
            for (size_t i = 0; i < set->nruns; i++) warmups += set->runs[i].warmup;
            if (warmups == set->nruns)
                snprintf(err, errlen, "no measured runs in %s%s: its %zu records are all warm-up runs "
                         "(a matrix stopped early: its --resume DIR runs the rest)",
                         paths[0], npaths > 1 ? " ..." : "", set->nruns);
            else
                snprintf(err, errlen, "no successful runs in %s%s: its %zu measured records are failed "
                         "runs (each record's error says why; the runs' stderr is in logs/); fix that "
                         "and run the matrix again", paths[0], npaths > 1 ? " ..." : "", set->nruns - warmups);
        }
        return false;
    }
    return true;
}

void mr_free(mr_set *set)
{
    for (size_t i = 0; i < set->ndocs; i++) mh_json_free(set->docs[i]);
    for (int i = 0; i < set->ncases; i++) free(set->cases[i]);
    for (int i = 0; i < set->nallocs; i++) free(set->allocs[i]);
    for (int i = 0; i < set->ngroups; i++) {
        free(set->groups[i].thr);
        free(set->groups[i].runs);
    }
    free(set->docs), free(set->runs), free(set->cases), free(set->case_params), free(set->allocs);
    free(set->threads), free(set->groups), free(set->variant);
    memset(set, 0, sizeof *set);
}

mr_group *mr_group_at(const mr_set *set, int ci, int ti, int ai)
{
    for (int i = 0; i < set->ngroups; i++) {
        mr_group *g = &set->groups[i];
        if (g->ci == ci && g->ti == ti && g->ai == ai) return g;
    }
    return NULL;
}

static int index_of(char *const *list, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0) return i;
    return -1;
}

int mr_alloc_index(const mr_set *set, const char *name) { return index_of(set->allocs, set->nallocs, name); }
int mr_case_index(const mr_set *set, const char *name) { return index_of(set->cases, set->ncases, name); }

static void value_text(const mh_jv *v, char *buf, size_t len)
{
    if (!v || v->type == MH_JNULL) snprintf(buf, len, "%s", "");
    else if (v->type == MH_JSTR) snprintf(buf, len, "%s", v->str);
    else if (v->type == MH_JBOOL) snprintf(buf, len, "%s", v->b ? "true" : "false");
    else if (v->type == MH_JNUM) snprintf(buf, len, "%.10g", v->num);
    else snprintf(buf, len, "%s", "");
}

const char *mr_case_param(const mr_set *set, int ci, const char *name, char *buf, size_t len)
{
    buf[0] = 0;
    for (size_t i = 0; i < set->nruns; i++)
        if (strcmp(set->runs[i].case_name, set->cases[ci]) == 0) {
            value_text(mh_json_get(mh_json_path(set->runs[i].rec, "workload.params"), name), buf, len);
            break;
        }
    return buf;
}

bool mr_series_point(const mr_group *g, const char *xpath, const char *ypath, size_t i,
                     double *x, double *y)
{
    double v[g && g->n > 0 ? g->n : 1];
    int n = 0;
    for (int r = 0; g && r < g->n; r++) {
        const mh_jv *xs = mh_json_path(g->runs[r]->rec, xpath), *ys = mh_json_path(g->runs[r]->rec, ypath);
        if (!xs || !ys || xs->type != MH_JARR || ys->type != MH_JARR || i >= xs->len || i >= ys->len ||
            xs->items[i].type != MH_JNUM || ys->items[i].type != MH_JNUM)
            continue;
        if (n == 0) *x = xs->items[i].num;
        v[n++] = ys->items[i].num;
    }
    mr_summary s;
    mr_summarise(v, n, &s);
    *y = s.median;
    return n > 0;
}

bool mr_case_is(const mr_set *set, int ci, const char *workload)
{
    for (size_t i = 0; i < set->nruns; i++)
        if (set->runs[i].case_name == set->cases[ci]) return strcmp(set->runs[i].workload, workload) == 0;
    return false;
}

int mr_case_fewest_threads(const mr_set *set, int ci)
{
    for (int t = 0; t < set->nthreads; t++)
        for (int a = 0; a < set->nallocs; a++) {
            const mr_group *g = mr_group_at(set, ci, t, a);
            if (g && g->n > 0) return t;
        }
    return -1;
}

double mr_counter_per_op(const mh_jv *rec, const char *name, bool *present)
{
    const mh_jv *v = mh_json_get(mh_json_get(mh_json_get(rec, "counters"), name), "per_op");
    *present = v && v->type == MH_JNUM;
    return *present ? v->num : NAN;
}

const char *mr_machine_line(const mr_set *set, char *buf, size_t len)
{
    const mh_jv *e = set->env;
    const char *id = mh_json_str_or(mh_json_get(e, "cpu_id"), NULL);
    snprintf(buf, len, "%s%s%s%s, %d CPUs (%d cores, %d packages), %s, glibc %s",
             mh_json_str_or(mh_json_get(e, "cpu_model"), "unknown CPU"), id ? " (" : "", id ? id : "",
             id ? ")" : "",
             (int)mh_json_num_or(mh_json_get(e, "cpus_online"), 0),
             (int)mh_json_num_or(mh_json_get(e, "cores"), 0),
             (int)mh_json_num_or(mh_json_get(e, "packages"), 0),
             mh_json_str_or(mh_json_get(e, "kernel"), "unknown kernel"),
             mh_json_str_or(mh_json_get(e, "glibc"), "?"));
    return buf;
}

/* ---- the tidy CSV: one row per run, one column per variable ---- */

static const char *const csv_counters[] = {
    "task_clock_ns", "page_faults", "context_switches", "cpu_migrations",
    "cycles", "instructions", "cache_misses", "dtlb_misses", "branch_misses", NULL };
static const char *const csv_lat_kinds[] = { "malloc", "free_local", "free_remote", NULL };
static const char *const csv_lat_stats[] = { "p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns", NULL };
static const char *const csv_numbers[][2] = {
    { "duration_s", "duration_s" }, { "ops", "ops" },
    { "throughput_ops_s", "throughput_ops_s" }, { "ns_per_op", "ns_per_op" },
    { "peak_rss_kib", "memory.peak_rss_kib" }, { "end_rss_kib", "memory.end_rss_kib" },
    { "peak_live_kib", "memory.peak_live_kib" }, { "rss_over_live", "memory.rss_over_live" },
    { "rss_1s_after_free_kib", "extra.rss_1s_after_free_kib" },
};

static void csv_field(FILE *f, const char *s, bool last)
{
    if (s[strcspn(s, ",\"\n\r")]) {
        fputc('"', f);
        for (; *s; s++) {
            if (*s == '"') fputc('"', f);
            fputc(*s, f);
        }
        fputc('"', f);
    } else {
        fputs(s, f);
    }
    fputc(last ? '\n' : ',', f);
}

static void csv_header(FILE *f)
{
    fputs("run_id,cell,case,workload,params,allocator,allocator_version,threads,placement,"
          "rep,warmup,status,error,timestamp,host", f);
    for (size_t i = 0; i < sizeof csv_numbers / sizeof *csv_numbers; i++)
        fprintf(f, ",%s", csv_numbers[i][0]);
    for (int i = 0; csv_counters[i]; i++) fprintf(f, ",%s_per_op", csv_counters[i]);
    for (int k = 0; csv_lat_kinds[k]; k++)
        for (int s = 0; csv_lat_stats[s]; s++) fprintf(f, ",%s_%s", csv_lat_kinds[k], csv_lat_stats[s]);
    fputc('\n', f);
}

static void params_text(const mh_jv *params, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = 0;
    for (size_t i = 0; params && params->type == MH_JOBJ && i < params->len && off < len; i++) {
        char v[128];
        value_text(&params->items[i], v, sizeof v);
        off += (size_t)snprintf(buf + off, len - off, "%s%s=%s", i ? ";" : "", params->keys[i], v);
    }
}

static void csv_row(FILE *f, const mr_run *r)
{
    const mh_jv *rec = r->rec;
    char buf[4096];
    static const char *const text_paths[] = { "run_id", "cell" };
    for (int i = 0; i < 2; i++) {
        value_text(mh_json_path(rec, text_paths[i]), buf, sizeof buf);
        csv_field(f, buf, false);
    }
    csv_field(f, r->case_name, false);
    csv_field(f, r->workload, false);
    params_text(mh_json_path(rec, "workload.params"), buf, sizeof buf);
    csv_field(f, buf, false);
    csv_field(f, r->alloc, false);
    static const char *const more_text[] = {
        "allocator.version", "threads", "placement.policy", "rep", "warmup", "status", "error",
        "timestamp", "env.host" };
    for (size_t i = 0; i < sizeof more_text / sizeof *more_text; i++) {
        value_text(mh_json_path(rec, more_text[i]), buf, sizeof buf);
        csv_field(f, buf, false);
    }
    for (size_t i = 0; i < sizeof csv_numbers / sizeof *csv_numbers; i++) {
        value_text(mh_json_path(rec, csv_numbers[i][1]), buf, sizeof buf);
        csv_field(f, buf, false);
    }
    for (int i = 0; csv_counters[i]; i++) {
        bool present;
        double v = mr_counter_per_op(rec, csv_counters[i], &present);
        snprintf(buf, sizeof buf, present ? "%.6g" : "", v);
        csv_field(f, buf, false);
    }
    for (int k = 0; csv_lat_kinds[k]; k++)
        for (int s = 0; csv_lat_stats[s]; s++) {
            const mh_jv *kind = mh_json_get(mh_json_get(rec, "latency"), csv_lat_kinds[k]);
            value_text(mh_json_get(kind, csv_lat_stats[s]), buf, sizeof buf);
            csv_field(f, buf, !csv_lat_kinds[k + 1] && !csv_lat_stats[s + 1]);
        }
}

static int write_csv(const mr_set *set, const char *dir)
{
    FILE *f = mr_stage(dir, "results.csv");
    if (!f) return 2;
    csv_header(f);
    for (size_t i = 0; i < set->nruns; i++) csv_row(f, &set->runs[i]);
    return mr_stage_close(f);
}

/* Writes a parsed value back out unchanged: env.json is the records' env object. */
static void write_value(mh_jw *w, const char *key, const mh_jv *v)
{
    switch (v->type) {
    case MH_JNULL: mh_jw_null(w, key); break;
    case MH_JBOOL: mh_jw_bool(w, key, v->b); break;
    case MH_JNUM: mh_jw_num(w, key, v->num); break;
    case MH_JSTR: mh_jw_str(w, key, v->str); break;
    case MH_JARR:
        mh_jw_arr_begin(w, key);
        for (size_t i = 0; i < v->len; i++) write_value(w, NULL, &v->items[i]);
        mh_jw_arr_end(w);
        break;
    case MH_JOBJ:
        mh_jw_obj_begin(w, key);
        for (size_t i = 0; i < v->len; i++) write_value(w, v->keys[i], &v->items[i]);
        mh_jw_obj_end(w);
        break;
    }
}

static int write_env(const mr_set *set, const char *dir)
{
    if (!set->env) return 0;
    FILE *f = mr_stage(dir, "env.json");
    if (!f) return 2;
    mh_jw w;
    mh_jw_init(&w, f, true);
    write_value(&w, NULL, set->env);
    return mr_stage_close(f);
}

/* The value of report's option argv[*i] into *dest, once; 2 after one line if it has
   none or was given before (the later one won, unsaid). */
static int option_once(int argc, char **argv, int *i, const char **dest, bool *given)
{
    if (*i + 1 == argc || *given) {
        fprintf(stderr, "mhreport: %s %s; give it once, with its value (see `mhreport --help`)\n", argv[*i],
                *given ? "is given twice" : "needs a value");
        return 2;
    }
    *given = true;
    *dest = argv[++*i];
    return 0;
}

static int report_main(int argc, char **argv)
{
    mr_opts o = { .plots_src = MH_PLOTS_DIR };
    char *paths[64];
    int npaths = 0;
    bool out_given = false, src_given = false, reproduce_given = false;
    for (int i = 0; i < argc; i++) {
        int rc = 0;
        if (strcmp(argv[i], "--out") == 0) rc = option_once(argc, argv, &i, &o.out_dir, &out_given);
        else if (strcmp(argv[i], "--plots-src") == 0) rc = option_once(argc, argv, &i, &o.plots_src, &src_given);
        else if (strcmp(argv[i], "--reproduce") == 0) rc = option_once(argc, argv, &i, &o.reproduce, &reproduce_given);
        else if (strcmp(argv[i], "--no-plots") == 0) o.no_plots = true;
        else if (strcmp(argv[i], "--png-only") == 0) o.png_only = true;
        else if (argv[i][0] == '-') {
            fprintf(stderr, "mhreport: unknown option '%s' for report; see `mhreport --help`\n", argv[i]);
            return 2;
        }
        else if (npaths == 64) return usage_error("report takes at most 64 result sets; merge them first (./run.sh merge OUT DIR...)");
        else paths[npaths++] = argv[i];
        if (rc) return rc;
    }
    if (npaths == 0) return usage_error("report needs a result directory (results/local/RUN_ID)");
    /* Checked before anything is written: a wrong one failed every plot, a line each, and
       replaced a report that had plots with one that had none (a review). */
    char common[4096];
    snprintf(common, sizeof common, "%s/common.gp", o.plots_src);
    if (!o.no_plots && access(common, R_OK) != 0) {
        fprintf(stderr, "mhreport: --plots-src %s holds no gnuplot scripts (no common.gp); give the "
                "repository's plots/ directory\n", o.plots_src);
        return 2;
    }
    /* By default the report goes next to the records: into the run directory, or the
       directory of a records file given by name. */
    char own_dir[4096];
    struct stat st;
    o.set_dir = paths[0];
    if (stat(paths[0], &st) == 0 && !S_ISDIR(st.st_mode)) {
        snprintf(own_dir, sizeof own_dir, "%s", paths[0]);
        char *slash = strrchr(own_dir, '/');
        if (slash) *slash = '\0';
        else snprintf(own_dir, sizeof own_dir, ".");
        o.set_dir = own_dir;
    }
    o.nsets = npaths;
    if (!o.out_dir) o.out_dir = o.set_dir;
    char err[512];
    mr_set set;
    if (!mr_load(&set, paths, npaths, err, sizeof err)) {
        fprintf(stderr, "mhreport: %s\n", err);
        mr_free(&set);
        return 2;
    }
    if (mkdir(o.out_dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "mhreport: cannot create %s: %s; give a writable --out DIR\n", o.out_dir, strerror(errno));
        mr_free(&set);
        return 2;
    }
    int rc = write_csv(&set, o.out_dir);
    if (rc == 0) rc = write_env(&set, o.out_dir);
    mr_plotlist plots = { .n = 0 };
    /* Without gnuplot a report would replace one that has plots: the last report stays,
       next to the new CSV. A plot that fails leaves only itself out. */
    if (rc == 0 && !o.no_plots && !mr_gnuplot_found()) {
        mr_stage_finish(true);
        mr_free(&set);
        return 2;
    }
    int plot_rc = rc == 0 && !o.no_plots ? mr_make_plots(&set, &o, &plots) : 0;
    /* Every plot failed (gnuplot broken, not missing): the last report stays, as above. */
    if (plot_rc && plots.n == 0) {
        finish_plots(false);
        mr_stage_finish(true);
        mr_free(&set);
        return plot_rc;
    }
    if (rc == 0) rc = mr_write_reports(&set, &o, &plots);
    int staged_rc = mr_stage_finish(rc == 0);
    if (rc == 0 && staged_rc == 0) printf("mhreport: wrote %s/report.md and %s/report.html\n", o.out_dir, o.out_dir);
    if (rc == 0) rc = staged_rc;
    mr_free(&set);
    return rc ? rc : plot_rc;
}

/* ---- helpers for the matrix script ---- */

static int done_main(int argc, char **argv)
{
    if (argc != 1) return usage_error("done needs one records.jsonl");
    FILE *f = fopen(argv[0], "r");
    if (!f) return errno == ENOENT ? 0 : usage_error("cannot read the records file");
    char *line = NULL, err[128];
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        mh_jv *rec = mh_json_parse(line, (size_t)len, err, sizeof err);
        mr_run r;
        if (rec && rec->type == MH_JOBJ) {
            fill_run(&r, rec);
            if (r.cell) printf("%s\t%d\t%s\n", r.cell, r.rep, r.warmup ? "warmup" : "measured");
        }
        mh_json_free(rec);
    }
    free(line);
    fclose(f);
    return 0;
}

/* The tail of the dead run's stderr, at most 2000 bytes, as the error text. */
static char *stderr_tail(const char *path, const char *fallback)
{
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f) return strdup(fallback);
    fseek(f, 0, SEEK_END);
    long size = ftell(f), from = size > 2000 ? size - 2000 : 0;
    fseek(f, from, SEEK_SET);
    char *buf = calloc(1, (size_t)(size - from) + strlen(fallback) + 4);
    size_t got = fread(buf, 1, (size_t)(size - from), f);
    fclose(f);
    while (got > 0 && (buf[got - 1] == '\n' || buf[got - 1] == '\r')) buf[--got] = 0;
    if (got == 0) strcpy(buf, fallback);
    return buf;
}

/* The parameters the matrix passed ("--name=value ..."), as strings: the driver that
 * would have typed them and added the defaults did not get that far. */
static void write_matrix_params(mh_jw *w, const char *args)
{
    mh_jw_obj_begin(w, "params");
    for (const char *p = args; *p;) {
        p += strspn(p, " ");
        size_t n = strcspn(p, " ");
        const char *eq = memchr(p, '=', n);
        if (n > 2 && p[0] == '-' && p[1] == '-' && eq) {
            char name[128], value[512];
            snprintf(name, sizeof name, "%.*s", (int)(eq - p - 2), p + 2);
            snprintf(value, sizeof value, "%.*s", (int)(p + n - eq - 1), eq + 1);
            mh_jw_str(w, name, value);
        }
        p += n;
    }
    mh_jw_obj_end(w);
}

static int failed_record_main(int argc, char **argv)
{
    const char *run_id = NULL, *cell = NULL, *workload = NULL, *alloc = NULL, *errfile = NULL, *params = "";
    const char *reason = "the run failed";
    int rep = 0, threads = 0;
    bool warmup = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--warmup") == 0) { warmup = true; continue; }
        if (!v) return usage_error("failed-record: option without a value");
        if (strcmp(a, "--run-id") == 0) run_id = v;
        else if (strcmp(a, "--cell") == 0) cell = v;
        else if (strcmp(a, "--rep") == 0) rep = atoi(v);
        else if (strcmp(a, "--workload") == 0) workload = v;
        else if (strcmp(a, "--params") == 0) params = v;
        else if (strcmp(a, "--allocator") == 0) alloc = v;
        else if (strcmp(a, "--threads") == 0) threads = atoi(v);
        else if (strcmp(a, "--error-file") == 0) errfile = v;
        else if (strcmp(a, "--reason") == 0) reason = v;
        else return usage_error("failed-record: unknown option");
        i++;
    }
    if (!cell || !workload || !alloc) return usage_error("failed-record needs --cell, --workload and --allocator");
    char *tail = stderr_tail(errfile, "no output");
    size_t elen = strlen(reason) + strlen(tail) + 8;
    char *error = malloc(elen);
    snprintf(error, elen, "%s: %s", reason, tail);
    mh_jw w;
    mh_jw_init(&w, stdout, false);
    mh_jw_obj_begin(&w, NULL);
    mh_jw_str(&w, "schema", MH_SCHEMA);
    mh_jw_str(&w, "status", "failed");
    mh_jw_str(&w, "error", error);
    mh_jw_str(&w, "run_id", run_id);
    mh_jw_str(&w, "cell", cell);
    mh_jw_int(&w, "rep", rep);
    mh_jw_bool(&w, "warmup", warmup);
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    mh_jw_str(&w, "timestamp", ts);
    mh_jw_obj_begin(&w, "workload");
    mh_jw_str(&w, "name", workload);
    write_matrix_params(&w, params);
    mh_jw_obj_end(&w);
    mh_jw_obj_begin(&w, "allocator");
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)strcspn(alloc, "="), alloc);
    mh_jw_str(&w, "name", name);
    mh_jw_str(&w, "requested", strchr(alloc, '=') ? strchr(alloc, '=') + 1 : NULL);
    mh_jw_obj_end(&w);
    mh_jw_int(&w, "threads", threads);
    mh_jw_str(&w, "written_by", "matrix: the driver exited without a record");
    mh_jw_obj_end(&w);      /* the writer ends a top-level value with a newline */
    free(tail);
    free(error);
    /* The matrix appends this record to records.jsonl: on a full disk it must know. */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "mhreport: failed-record: cannot write the record: %s\n", strerror(errno));
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "report") == 0) return report_main(argc - 2, argv + 2);
    if (strcmp(cmd, "compare") == 0) return mr_compare_main(argc - 2, argv + 2);
    if (strcmp(cmd, "done") == 0) return done_main(argc - 2, argv + 2);
    if (strcmp(cmd, "failed-record") == 0) return failed_record_main(argc - 2, argv + 2);
    return usage_error("unknown subcommand (report, compare, done, failed-record)");
}
