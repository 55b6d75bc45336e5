/*
 * Issue 6's two report sections, read from the cells results/configs/targets.conf
 * makes (and the pair microbenchmarks ./run.sh targets adds):
 *   "Issue 6 targets": each target row with multiheap's median next to the best
 *     of tcmalloc, jemalloc and mimalloc in the same result set, met or not and
 *     by how much;
 *   "seed design vs multiheap": the seed ladder (one improvement switched on per
 *     row), throughput relative to the seed and peak RSS per target workload.
 * A cell is found by workload, thread count and the parameters the target needs,
 * whatever the config named its case, so a quick run fills what it can. A cell
 * that is missing is named, never estimated.
 */
#include "report.h"

#include "multiheap.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const peers[] = { "tcmalloc", "jemalloc", "mimalloc" };
#define NPEERS (sizeof peers / sizeof *peers)

/* One workload cell a target reads: params are "name=value" with '|' between
 * accepted values, NULL-terminated. */
typedef struct target_cell {
    const char *label, *workload;
    int threads;
    const char *params[3];
} target_cell;

static const target_cell throughput_cells[] = {
    { "thread-local churn, sizes 8..512", "thread-local-churn", 1, { "size-min=8", "size-max=512" } },
    { "thread-local churn, sizes 8..512", "thread-local-churn", 2, { "size-min=8", "size-max=512" } },
    { "cross-core-free, 100% remote", "cross-core-free", 2, { "remote=100" } },
    /* producers 0 means half the threads: 1:1 at 2 threads, as producers=1 is */
    { "producer-consumer, 1:1", "producer-consumer", 2, { "producers=0|1" } },
    { "xmalloc-style asymmetric", "xmalloc", 2, { NULL } },
    { "thread-local churn, oversubscribed", "oversubscribed", 8, { NULL } },
    { "growth storm", "growth-storm", 2, { NULL } },
};
#define NTHROUGHPUT (sizeof throughput_cells / sizeof *throughput_cells)
#define GROWTH_CELL (&throughput_cells[NTHROUGHPUT - 1])

/* The classic analogs whose peak RSS the issue bounds (xmalloc is one too). */
static const target_cell classic_cells[] = {
    { "classic analog larson", "larson", 2, { NULL } },
    { "classic analog xmalloc", "xmalloc", 2, { NULL } },
    { "classic analog false-sharing-passive", "false-sharing-passive", 2, { NULL } },
    { "classic analog false-sharing-active", "false-sharing-active", 2, { NULL } },
    { "classic analog threadtest", "threadtest", 2, { NULL } },
    { "classic analog shbench", "shbench", 2, { NULL } },
    { "classic analog size-sweep", "size-sweep", 2, { NULL } },
    { "classic analog realloc-growth", "realloc-growth", 2, { NULL } },
};
#define NCLASSIC (sizeof classic_cells / sizeof *classic_cells)

#define PAIR_PREFIX "micro/pair/size:"

/* ---- finding cells ---- */

static const char *case_workload(const mr_set *set, int ci)
{
    for (size_t i = 0; i < set->nruns; i++)
        if (strcmp(set->runs[i].case_name, set->cases[ci]) == 0) return set->runs[i].workload;
    return "";
}

static bool param_matches(const mr_set *set, int ci, const char *want)
{
    char name[64], buf[128];
    size_t n = strcspn(want, "=");
    snprintf(name, sizeof name, "%.*s", (int)n, want);
    const char *have = mr_case_param(set, ci, name, buf, sizeof buf);
    for (const char *v = want + n + 1; *v;) {
        size_t len = strcspn(v, "|");
        if (strlen(have) == len && strncmp(have, v, len) == 0) return true;
        v += len + (v[len] == '|');
    }
    return false;
}

static int thread_index(const mr_set *set, int threads)
{
    for (int i = 0; i < set->nthreads; i++)
        if (set->threads[i] == threads) return i;
    return -1;
}

/* The one case a target's row reads, so that every allocator in it is measured on the
   same parameters (a sweep may hold several cases that match the target): the first
   matching case where multiheap succeeded, else where it ran at all, else the first
   matching one; -1 when none matches. */
static int target_case(const mr_set *set, const target_cell *t)
{
    int mh = mr_alloc_index(set, "multiheap"), ti = thread_index(set, t->threads), first = -1, ran = -1;
    for (int ci = 0; ci < set->ncases; ci++) {
        if (strcmp(case_workload(set, ci), t->workload) != 0) continue;
        bool ok = true;
        for (int p = 0; p < 3 && t->params[p]; p++) ok &= param_matches(set, ci, t->params[p]);
        if (!ok) continue;
        const mr_group *g = mh >= 0 && ti >= 0 ? mr_group_at(set, ci, ti, mh) : NULL;
        if (g && g->n) return ci;
        if (first < 0) first = ci;
        if (ran < 0 && g && g->nfailed) ran = ci;
    }
    return ran >= 0 ? ran : first;
}

/* The group of allocator `alloc` in the target's cell, NULL when it has no successful run
   (or, if `any_run`, no run at all: failed runs count too). */
static const mr_group *find_group(const mr_set *set, const target_cell *t, const char *alloc, bool any_run)
{
    int ai = mr_alloc_index(set, alloc), ti = thread_index(set, t->threads), ci = target_case(set, t);
    const mr_group *g = ai >= 0 && ti >= 0 && ci >= 0 ? mr_group_at(set, ci, ti, ai) : NULL;
    return g && (g->n || (any_run && g->nfailed)) ? g : NULL;
}

static const mr_group *cell_group(const mr_set *set, const target_cell *t, const char *alloc)
{
    return find_group(set, t, alloc, false);
}

static void cell_name(const target_cell *t, const char *alloc, char *buf, size_t len)
{
    size_t off = (size_t)snprintf(buf, len, "%s", t->workload);
    for (int p = 0; p < 3 && t->params[p] && off < len; p++)
        off += (size_t)snprintf(buf + off, len - off, " --%s", t->params[p]);
    snprintf(buf + off, len - off, " | %d | %s", t->threads, alloc);
}

/* ---- per-run values and medians ---- */

typedef double (*run_value)(const mr_run *r);

/* Growth storm's time: its waves' (extra.wave_ms), not duration_s, which adds the
   holds between waves and the RSS reads, the same for every allocator, pulling the
   ratio towards 1. Records without wave_ms: duration_s. */
static double growth_time_of(const mr_run *r)
{
    const mh_jv *w = mh_json_path(r->rec, "extra.wave_ms");
    if (!w || w->type != MH_JARR || !w->len) return mh_json_num_or(mh_json_get(r->rec, "duration_s"), NAN);
    double ms = 0;
    for (size_t i = 0; i < w->len; i++) ms += mh_json_num_or(&w->items[i], NAN);
    return ms / 1000;
}

/* RSS 1 s after the last free as a share of the same run's peak RSS. Records
 * without rss_after_free_t_ms come from a growth-storm that took its last
 * settle sample, however early, as the 1 s value: those do not count. */
static double settled_share_of(const mr_run *r)
{
    if (!mh_json_path(r->rec, "extra.rss_after_free_t_ms")) return NAN;
    double after = mh_json_num_or(mh_json_path(r->rec, "extra.rss_1s_after_free_kib"), NAN);
    return after / r->peak_rss_kib;
}

/* Peak RSS less the resident pages that are no allocator's (memory.file_rss_kib: the
   binary, the libraries), which sit in every figure alike and pull a ratio of peaks
   towards 1: 5 MiB of a 10 MiB peak here. NaN for records without it. */
static double own_peak_of(const mr_run *r)
{
    const mh_jv *f = mh_json_path(r->rec, "memory.file_rss_kib");
    return f && f->type == MH_JNUM ? r->peak_rss_kib - f->num : NAN;
}

/* Median of f over the group's runs that have it; NaN when none has. */
static double group_median(const mr_group *g, run_value f)
{
    double *v = malloc(sizeof *v * (size_t)(g->n + 1));
    int n = 0;
    for (int i = 0; i < g->n; i++) {
        double x = f(g->runs[i]);
        if (isfinite(x)) v[n++] = x;
    }
    double m = mr_median(v, n);
    free(v);
    return m;
}

/* " (1.35 without file pages)": the same ratio over the allocators' own memory. */
static void own_ratio_text(const mr_group *mh, const mr_group *best, char *buf, size_t len)
{
    double own = group_median(mh, own_peak_of) / group_median(best, own_peak_of);
    if (isfinite(own)) snprintf(buf, len, " (%.2f without file pages)", own);
    else buf[0] = 0;
}

/* The best peer's group in a cell: highest median throughput (or lowest of `lower`). */
typedef double (*group_value)(const mr_group *g);
static double thr_of(const mr_group *g) { return g->s.median; }
static double rss_of(const mr_group *g) { return g->rss_median_kib; }
static double time_of(const mr_group *g) { return group_median(g, growth_time_of); }

static const mr_group *best_peer(const mr_set *set, const target_cell *t, group_value f, bool lower, int *peer)
{
    const mr_group *best = NULL;
    for (size_t p = 0; p < NPEERS; p++) {
        const mr_group *g = cell_group(set, t, peers[p]);
        if (!g || !isfinite(f(g))) continue;
        if (!best || (lower ? f(g) < f(best) : f(g) > f(best))) best = g, *peer = (int)p;
    }
    return best;
}

/* ---- the targets table ---- */

typedef struct missing {
    char text[2048];
    size_t len;
    int left_out;           /* names that did not fit (64 pair sizes missing did not) */
} missing;

static void note_missing(missing *m, const char *what)
{
    if (strstr(m->text, what)) return;
    size_t room = sizeof m->text - m->len;
    int n = snprintf(m->text + m->len, room, "%s%s", m->len ? "; " : "", what);
    if (n >= 0 && (size_t)n < room) m->len += (size_t)n;
    else m->text[m->len] = 0, m->left_out++;
}

static void missing_para(doc *d, const missing *m)
{
    char more[32] = "";
    if (m->left_out) snprintf(more, sizeof more, "; and %d more", m->left_out);
    if (m->len || m->left_out)
        doc_para(d, "Missing cells (no successful run in this result set): %s%s.", m->text, more);
}

/* The rule: medians of at least MIN_REPS repetitions each, side by side in one
   run (one run_id on both sides). NULL when a and b qualify, else why not. */
#define MIN_REPS 5
static const char *not_comparable(const mr_group *a, const mr_group *b)
{
    if (a->n < MIN_REPS || b->n < MIN_REPS) return "cannot tell: under 5 repetitions";
    /* the median of the runs left would flatter the side that lost its slowest (a timeout) */
    if (a->nfailed || b->nfailed) return "cannot tell: some of its runs failed";
    const char *run = mh_json_str_or(mh_json_get(a->runs[0]->rec, "run_id"), NULL);
    const mr_group *g[2] = { a, b };
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < g[k]->n; i++) {
            const char *r = mh_json_str_or(mh_json_get(g[k]->runs[i]->rec, "run_id"), NULL);
            if (!run || !r || strcmp(run, r) != 0) return "cannot tell: not side by side in one run";
        }
    return NULL;
}

/* v with `decimals` decimals, or more (up to 6) where those would print it as `from`, the
   value it is judged against: 0.996 printed "1.00" beside "NOT met: 0% short". */
static void apart_text(double v, double from, int decimals, char *buf, size_t len)
{
    char f[32];
    do {
        snprintf(buf, len, "%.*f", decimals, v);
        snprintf(f, sizeof f, "%.*f", decimals, from);
    } while (v != from && strcmp(buf, f) == 0 && ++decimals <= 6);
}

/* "13" for a ratio 13% past its goal, "0.4" for one 0.4% past it: a percentage never
   reads 0 where the ratio is not the goal. */
static void margin_text(double r, double goal, char *buf, size_t len)
{
    apart_text(fabs(r / goal - 1) * 100, 0, 0, buf, len);
}

/* "met (+13%)" or "NOT met: 12% short" for a higher-is-better ratio against its goal;
   `noise`: the two medians' confidence intervals overlap, so the run cannot tell; `why`:
   the data do not meet the rule (not_comparable), which no ratio can make up for: the
   verdict is then why, neither met nor not (a quick set's 1.9x read "NOT met"). */
static void verdict_at_least(double r, double goal, bool noise, const char *why, char *buf, size_t len)
{
    const char *tail = noise ? ", within noise" : "";
    char by[32];
    margin_text(r, goal, by, sizeof by);
    if (why) snprintf(buf, len, "%s", why);
    else if (r >= goal) snprintf(buf, len, "met (+%s%%%s)", by, tail);
    else snprintf(buf, len, "NOT met: %s%% short%s", by, tail);
}

/* For a lower-is-better value against its limit. */
static void verdict_at_most(double v, double limit, const char *why, char *buf, size_t len)
{
    char by[32];
    margin_text(v, limit, by, sizeof by);
    if (why) snprintf(buf, len, "%s", why);
    else if (v <= limit) snprintf(buf, len, "met (%s%% under)", by);
    else snprintf(buf, len, "NOT met: %s%% over", by);
}

static const char table_header[] = "target\tthreads\tmultiheap\tbest peer\tmeasured\ttarget\tresult";

/* A target row: what is measured, and the goal it is held to. */
typedef struct row_kind {
    const char *what, *goal;
} row_kind;

static const row_kind THROUGHPUT = { "", ">= 1.0" }, GROWTH_TIME = { ": time", "<= 1.0 x best" },
                      GROWTH_RSS = { ": peak RSS", "<= 1.0 x best" }, CLASSIC_RSS = { ": peak RSS", "<= 1.2 x best" };

/* A row without numbers: `alloc` has no successful run in the cell, and `why` says so
   ("missing" when it did not run at all). */
static void missing_row(doc *d, missing *m, const target_cell *t, const row_kind *k, const char *alloc,
                        const char *why)
{
    char name[512], row[1024];
    cell_name(t, alloc, name, sizeof name);
    note_missing(m, name);
    snprintf(row, sizeof row, "%s%s\t%d\tn/a\tn/a\tn/a\t%s\t%s: %s", t->label, k->what, t->threads, k->goal,
             why, name);
    doc_row(d, row, false);
}

/* The best peer is the best of all three: one that did not run in the cell, or lost runs
   there (a timeout, its slowest), leaves it unknown, however the others did. NULL when
   all three ran cleanly, else why not, in buf; a peer that did not run is named in m. */
static const char *peers_not_comparable(const mr_set *set, const target_cell *t, missing *m, char *buf, size_t len)
{
    for (size_t p = 0; p < NPEERS; p++) {
        const mr_group *g = find_group(set, t, peers[p], true);
        if (g && !g->nfailed) continue;
        if (!g) {
            char name[512];
            cell_name(t, peers[p], name, sizeof name);
            note_missing(m, name);
        }
        snprintf(buf, len, "cannot tell: %s %s", peers[p], g ? "lost runs here" : "did not run here");
        return buf;
    }
    return NULL;
}

/* Why a row's verdict cannot be given (not_comparable, then the peers), or NULL. */
static const char *row_not_comparable(const mr_set *set, const target_cell *t, missing *m, const mr_group *mh,
                                      const mr_group *best, char *buf, size_t len)
{
    const char *why = not_comparable(mh, best);
    return why ? why : peers_not_comparable(set, t, m, buf, len);
}

/* Whether any peer has a run in the cell, failed ones included. */
static bool any_peer_ran(const mr_set *set, const target_cell *t)
{
    for (size_t p = 0; p < NPEERS; p++)
        if (find_group(set, t, peers[p], true)) return true;
    return false;
}

/* multiheap's and the best peer's groups of a cell; a row saying what is missing, or
   failed everywhere, when either is. */
static bool both_groups(doc *d, const mr_set *set, missing *m, const target_cell *t, const row_kind *k,
                        group_value f, bool lower, const mr_group **mh, const mr_group **best, int *peer)
{
    *mh = cell_group(set, t, "multiheap");
    *best = best_peer(set, t, f, lower, peer);
    if (!*mh)
        missing_row(d, m, t, k, "multiheap",
                    find_group(set, t, "multiheap", true) ? "cannot tell: every run failed" : "missing");
    else if (!*best)
        missing_row(d, m, t, k, "tcmalloc, jemalloc and mimalloc",
                    any_peer_ran(set, t) ? "cannot tell: no peer has a successful run" : "missing");
    return *mh && *best;
}

/* The throughput rows whose runs fall into two groups (mr_split), told after the table;
   within doc_para's buffer with its preamble. */
typedef struct split_notes {
    char text[3072];
    size_t len;
} split_notes;

/* One allocator's runs in a row, as two groups or one: the summary each group is judged
   by (a side in one group is judged by all its runs in both). */
typedef struct side {
    const char *name;
    const mr_group *g;
    mr_groups split;                    /* split.low.n = 0: one group */
    const mr_summary *upper, *lower;
} side;

static void side_of(side *sd, const char *name, const mr_group *g)
{
    sd->name = name;
    sd->g = g;
    bool two = mr_split(g->thr, g->n, &sd->split);
    sd->upper = two ? &sd->split.high : &g->s;
    sd->lower = two ? &sd->split.low : &g->s;
}

/* Appends fmt's text to s after sep (": " first, "; " then). */
static void note_add(split_notes *s, const char **sep, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note_add(split_notes *s, const char **sep, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s->len += (size_t)snprintf(s->text + s->len, sizeof s->text - s->len, "%s", *sep);
    if (s->len < sizeof s->text) s->len += (size_t)vsnprintf(s->text + s->len, sizeof s->text - s->len, fmt, ap);
    if (s->len >= sizeof s->text) s->len = sizeof s->text - 1;
    va_end(ap);
    *sep = "; ";
}

static void note_side(split_notes *s, const char **sep, const side *sd)
{
    const mr_groups *g = &sd->split;
    if (!g->low.n) return;
    note_add(s, sep, "%s: %d of %d runs at %.1f-%.1f Mops/s, %d at %.1f-%.1f", sd->name, g->low.n,
             sd->g->n, g->low_lo / 1e6, g->low_hi / 1e6, g->high.n, g->high_lo / 1e6, g->high_hi / 1e6);
}

/* "upper groups: multiheap 435.0 against tcmalloc's 517.5 Mops/s (0.84)" */
static void note_group(split_notes *s, const char **sep, const char *which, const mr_summary *mh,
                       const side *peer, const mr_summary *p)
{
    note_add(s, sep, "%s groups: multiheap %.1f against %s's %.1f Mops/s (%.2f)", which, mh->median / 1e6,
             peer->name, p->median / 1e6, mh->median / p->median);
}

/* A row where multiheap's runs or a peer's fall into two groups: multiheap's upper group
   against the best of the peers' upper groups, its lower against the best lower (the
   peer that is best by its median over both may be behind in one), told in s. The
   verdict holds where both are on one side of the goal, "within noise" where either
   pair's intervals overlap; none where they disagree, or where a group judged has fewer runs
   than the rule's MIN_REPS. The verdict goes to verdict, the two
   ratios to measured (the ratio of the medians over both groups describes neither), both
   len bytes; false when nobody's runs split. */
static bool split_verdict(split_notes *s, const mr_set *set, const target_cell *t, const mr_group *mh,
                          char *verdict, char *measured, size_t len)
{
    side m, p[NPEERS];
    side_of(&m, "multiheap", mh);
    bool any = m.split.low.n;
    const side *up = NULL, *low = NULL;
    for (size_t i = 0; i < NPEERS; i++) {
        const mr_group *g = cell_group(set, t, peers[i]);
        p[i].g = NULL;
        if (!g) continue;
        side_of(&p[i], peers[i], g);
        any |= p[i].split.low.n;
        if (!up || p[i].upper->median > up->upper->median) up = &p[i];
        if (!low || p[i].lower->median > low->lower->median) low = &p[i];
    }
    if (!any) return false;
    double upper = m.upper->median / up->upper->median, lower = m.lower->median / low->lower->median;
    char up_text[16], low_text[16];
    apart_text(upper, 1.0, 2, up_text, sizeof up_text);
    apart_text(lower, 1.0, 2, low_text, sizeof low_text);
    snprintf(measured, len, "%s upper, %s lower groups", up_text, low_text);
    bool noise = mr_ci_overlap(m.upper, up->upper) || mr_ci_overlap(m.lower, low->lower);
    const char *sep = s->len ? ". " : "";
    note_add(s, &sep, "%s (%d threads)", t->label, t->threads);
    sep = ": ";
    note_side(s, &sep, &m);
    for (size_t i = 0; i < NPEERS; i++)
        if (p[i].g) note_side(s, &sep, &p[i]);
    note_group(s, &sep, "upper", m.upper, up, up->upper);
    note_group(s, &sep, "lower", m.lower, low, low->lower);
    /* the rule's repetitions hold for each group judged, as for a whole side: mr_split
       leaves groups of two, whose min..max "within noise" covers half the time */
    const mr_summary *judged[] = { m.upper, up->upper, m.lower, low->lower };
    int fewest = MIN_REPS;
    for (size_t i = 0; i < 4; i++)
        if (judged[i]->n < fewest) fewest = judged[i]->n;
    if (fewest < MIN_REPS)
        snprintf(verdict, len, "cannot tell: a group has %d runs (below)", fewest);
    else if ((upper >= 1.0) != (lower >= 1.0))
        snprintf(verdict, len, "cannot tell: runs in two groups (below)");
    else
        snprintf(verdict, len, "%s in both groups (below)%s", upper >= 1.0 ? "met" : "NOT met",
                 noise ? ", within noise" : "");
    return true;
}

static void throughput_row(doc *d, const mr_set *set, missing *m, split_notes *s, const target_cell *t)
{
    const mr_group *mh, *best;
    int peer = 0;
    if (!both_groups(d, set, m, t, &THROUGHPUT, thr_of, false, &mh, &best, &peer)) return;
    double r = mh->s.median / best->s.median;
    char row[1024], verdict[64], why[64], measured[64];
    apart_text(r, 1.0, 2, measured, sizeof measured);
    /* the verdict when the medians do not decide it: the rule unmet, or runs in two groups */
    const char *instead = row_not_comparable(set, t, m, mh, best, why, sizeof why);
    if (instead || !split_verdict(s, set, t, mh, verdict, measured, sizeof verdict))
        verdict_at_least(r, 1.0, mr_ci_overlap(&mh->s, &best->s), instead, verdict, sizeof verdict);
    snprintf(row, sizeof row, "%s\t%d\t%.3f Mops/s (%d run%s)\t%s %.3f Mops/s (%d run%s)\t%s\t>= 1.0\t%s",
             t->label, t->threads, mh->s.median / 1e6, mh->n, mh->n == 1 ? "" : "s", peers[peer],
             best->s.median / 1e6, best->n, best->n == 1 ? "" : "s", measured, verdict);
    doc_row(d, row, false);
}

/* Growth storm: time and peak RSS against the best peer, and RSS 1 s after the last free. */
static void growth_rows(doc *d, const mr_set *set, missing *m)
{
    const target_cell *t = GROWTH_CELL;
    const mr_group *mh, *best;
    int peer = 0;
    char row[1024], verdict[64], why[64], ratio[32];
    if (both_groups(d, set, m, t, &GROWTH_TIME, time_of, true, &mh, &best, &peer)) {
        double r = time_of(mh) / time_of(best);
        verdict_at_most(r, 1.0, row_not_comparable(set, t, m, mh, best, why, sizeof why), verdict, sizeof verdict);
        apart_text(r, 1.0, 2, ratio, sizeof ratio);
        snprintf(row, sizeof row, "%s: time\t%d\t%.3f s\t%s %.3f s\t%s x best\t<= 1.0 x best\t%s", t->label,
                 t->threads, time_of(mh), peers[peer], time_of(best), ratio, verdict);
        doc_row(d, row, false);
    }
    if (both_groups(d, set, m, t, &GROWTH_RSS, rss_of, true, &mh, &best, &peer)) {
        double r = mh->rss_median_kib / best->rss_median_kib;
        char own[48];
        verdict_at_most(r, 1.0, row_not_comparable(set, t, m, mh, best, why, sizeof why), verdict, sizeof verdict);
        own_ratio_text(mh, best, own, sizeof own);
        apart_text(r, 1.0, 2, ratio, sizeof ratio);
        snprintf(row, sizeof row, "%s: peak RSS\t%d\t%.1f MiB\t%s %.1f MiB\t%s x best%s\t<= 1.0 x best\t%s",
                 t->label, t->threads, mh->rss_median_kib / 1024, peers[peer], best->rss_median_kib / 1024, ratio, own,
                 verdict);
        doc_row(d, row, false);
    }
    mh = cell_group(set, t, "multiheap");
    double share = mh ? group_median(mh, settled_share_of) : NAN;
    if (!isfinite(share)) {
        char name[512];
        cell_name(t, "multiheap", name, sizeof name);
        note_missing(m, mh ? "multiheap's growth-storm rss_1s_after_free_kib timed from the last free (run it with "
                             "--settle-ms=1000 or more, with this driver)" : name);
        snprintf(row, sizeof row, "%s: RSS 1 s after the last free\t%d\tn/a\t-\tn/a\t<= 10%% of peak\tmissing: %s",
                 t->label, t->threads, mh ? "rss_1s_after_free_kib timed from the last free" : name);
    } else {
        verdict_at_most(share, 0.10, not_comparable(mh, mh), verdict, sizeof verdict);
        apart_text(share * 100, 10, 1, ratio, sizeof ratio);
        snprintf(row, sizeof row, "%s: RSS 1 s after the last free\t%d\t%s%% of peak\t-\t%s%%\t<= 10%% of peak\t%s",
                 t->label, t->threads, ratio, ratio, verdict);
    }
    doc_row(d, row, false);
}

static double live_peak_of(const mr_run *r)
{
    return mh_json_num_or(mh_json_path(r->rec, "memory.peak_live_kib"), NAN);
}

/* "; live at peak 4.1 vs 0.4 MiB" where the two medians of the workload's own live
   volume differ by over half and by 1 MiB or more: a workload whose backlog follows its
   threads' relative speed (xmalloc's queue of full batches) held that much more, whatever
   the allocator spent on it. Empty where they are close (realloc-growth's few dozen KiB
   differ by half from run to run). */
static void live_text(const mr_group *mh, const mr_group *best, char *buf, size_t len)
{
    double a = group_median(mh, live_peak_of), b = group_median(best, live_peak_of);
    buf[0] = 0;
    if (isfinite(a) && isfinite(b) && a > 0 && b > 0 && (a > 1.5 * b || b > 1.5 * a) && fabs(a - b) >= 1024)
        snprintf(buf, len, "; live at peak %.1f vs %.1f MiB", a / 1024, b / 1024);
}

static void classic_rss_row(doc *d, const mr_set *set, missing *m, const target_cell *t)
{
    const mr_group *mh, *best;
    int peer = 0;
    if (!both_groups(d, set, m, t, &CLASSIC_RSS, rss_of, true, &mh, &best, &peer)) return;
    double r = mh->rss_median_kib / best->rss_median_kib;
    char row[1024], verdict[64], own[48], live[64], why[64], ratio[32];
    verdict_at_most(r, 1.2, row_not_comparable(set, t, m, mh, best, why, sizeof why), verdict, sizeof verdict);
    own_ratio_text(mh, best, own, sizeof own);
    live_text(mh, best, live, sizeof live);
    apart_text(r, 1.2, 2, ratio, sizeof ratio);
    snprintf(row, sizeof row, "%s: peak RSS\t%d\t%.1f MiB\t%s %.1f MiB\t%s x best%s%s\t<= 1.2 x best\t%s",
             t->label, t->threads, mh->rss_median_kib / 1024, peers[peer], best->rss_median_kib / 1024, ratio, own,
             live, verdict);
    doc_row(d, row, false);
}

/* Why the pair row has no verdict when sizes lack a side: `failed` sizes where that side's
   every run failed (micro.sh's failed records), `absent` where it did not run; NULL when
   neither. */
static const char *pair_gaps(int failed, int absent, char *buf, size_t len)
{
    const char *s = failed == 1 ? "" : "s";
    if (failed && absent) snprintf(buf, len, "cannot tell: every run failed at %d size%s, %d missing", failed, s, absent);
    else if (failed) snprintf(buf, len, "cannot tell: every run failed at %d size%s", failed, s);
    else if (absent) snprintf(buf, len, "%d size%s missing", absent, absent == 1 ? "" : "s");
    return failed || absent ? buf : NULL;
}

/* The pair microbenchmark over every small size: the worst size decides. */
static void pair_row(doc *d, const mr_set *set, missing *m)
{
    int sizes = 0, met = 0, behind = 0, worst_size = 0, peer = 0, absent = 0, failed = 0;
    bool worst_noise = false;
    const char *why = NULL;
    char why_buf[64];
    double worst = INFINITY, logsum = 0;
    for (int ci = 0; ci < set->ncases; ci++) {
        const char *c = set->cases[ci];
        if (strncmp(c, PAIR_PREFIX, strlen(PAIR_PREFIX)) != 0 || atoi(c + strlen(PAIR_PREFIX)) > MH_SMALL_MAX_BYTES)
            continue;
        /* a microbenchmark's case is its workload name (mhreport.c: case_of) */
        const target_cell t = { c, c, 1, { NULL } };
        const mr_group *g = cell_group(set, &t, "multiheap"), *best = best_peer(set, &t, thr_of, false, &peer);
        if (!g || !best) {
            char what[128];
            snprintf(what, sizeof what, "%s | 1 | %s", c, g ? "tcmalloc, jemalloc or mimalloc" : "multiheap");
            note_missing(m, what);
            if (g ? any_peer_ran(set, &t) : find_group(set, &t, "multiheap", true) != NULL) failed++;
            else absent++;
            continue;
        }
        if (!why) why = row_not_comparable(set, &t, m, g, best, why_buf, sizeof why_buf);
        double r = g->s.median / best->s.median;
        bool noise = mr_ci_overlap(&g->s, &best->s);
        sizes++, met += r >= 1.0, behind += r < 1.0 && !noise, logsum += log(r);
        if (r < worst) worst = r, worst_size = atoi(c + strlen(PAIR_PREFIX)), worst_noise = noise;
    }
    char row[1024], verdict[96], gaps[80], ratio[32];
    if (!sizes) {
        note_missing(m, PAIR_PREFIX "S records (./run.sh targets appends them)");
        snprintf(row, sizeof row, "malloc+free pair, every small class\t1\tn/a\tn/a\tn/a\t>= 1.0\t%s: "
                 PAIR_PREFIX "S records", failed ? "cannot tell: every run failed" : "missing");
    } else {
        const char *gap = pair_gaps(failed, absent, gaps, sizeof gaps);
        verdict_at_least(worst, 1.0, worst_noise, gap ? gap : why, verdict, sizeof verdict);
        apart_text(worst, 1.0, 2, ratio, sizeof ratio);
        snprintf(row, sizeof row, "malloc+free pair, every small class (%d sizes <= %d B)\t1\t%d of %d sizes >= 1.0, "
                 "%d behind clear of noise\tper size\tworst %s (size %d), geomean %.2f\t>= 1.0 each\t%s", sizes,
                 MH_SMALL_MAX_BYTES, met, sizes, behind, ratio, worst_size, exp(logsum / sizes), verdict);
    }
    doc_row(d, row, false);
}

static bool set_has(const mr_set *set, const char *alloc) { return mr_alloc_index(set, alloc) >= 0; }

static bool same_cell(const target_cell *a, const target_cell *b)
{
    return strcmp(a->workload, b->workload) == 0 && a->threads == b->threads && !a->params[0] && !b->params[0];
}

/* The distinct target cells (xmalloc's is both a throughput and a classic one), and those
   in which multiheap has runs, failed ones included: a run where it crashed everywhere
   must still get its table of missing rows. */
static void target_cells_tried(const mr_set *set, int *tried, int *all)
{
    *tried = *all = 0;
    for (size_t i = 0; i < NTHROUGHPUT + NCLASSIC; i++) {
        const target_cell *t = i < NTHROUGHPUT ? &throughput_cells[i] : &classic_cells[i - NTHROUGHPUT];
        bool repeat = false;
        for (size_t j = 0; i >= NTHROUGHPUT && j < NTHROUGHPUT; j++) repeat |= same_cell(t, &throughput_cells[j]);
        if (repeat) continue;
        (*all)++;
        *tried += find_group(set, t, "multiheap", true) != NULL;
    }
}

void mr_section_targets(doc *d, const mr_set *set)
{
    if (!set_has(set, "multiheap")) return;
    missing m = { .len = 0, .left_out = 0 };
    m.text[0] = 0;
    split_notes splits = { .len = 0 };
    doc_heading(d, 2, "Issue 6 targets");
    /* A set made for something else (the scaling preset, say) holds a few of the cells,
       often with other parameters: a table of mostly "missing" rows would only mislead. */
    int tried, all;
    target_cells_tried(set, &tried, &all);
    if (2 * tried < all) {
        doc_para(d, "Left out: multiheap has runs in %d of the %d cells the targets read; "
                    "./run.sh targets runs them all (results/configs/targets.conf).", tried, all);
        return;
    }
    doc_para(d, "Each row: multiheap's median over the measured repetitions of this result set next to the best "
                "of tcmalloc, jemalloc and mimalloc in the same set (throughput: the highest median; time and RSS: "
                "the lowest); a verdict needs all three to have run without a failure. Ratio = multiheap / "
                "best peer. \"by how much\" is relative to the target; \"within noise\" marks a throughput "
                "row whose two medians have overlapping confidence intervals (see the per-cell tables): the "
                "verdict follows the medians, and this set alone cannot rule out the other order. Where the "
                "runs, multiheap's or a peer's, fall into two groups far apart, multiheap's upper group is "
                "held against the best peer's upper group and its lower against the best lower, and the "
                "verdict is theirs where they agree, none where they differ (the groups are given below the "
                "table). "
                "\"live at peak\" (medians of the workload's own peak live volume) appears on an RSS "
                "row where the two differ by over half and by 1 MiB or more: the workload held that "
                "much more or less, whatever the allocator spent. The cells come from "
                "results/configs/targets.conf; ./run.sh targets runs them with the pair "
                "microbenchmarks.");
    doc_table_begin(d, table_header);
    for (size_t i = 0; i < NTHROUGHPUT - 1; i++) {
        throughput_row(d, set, &m, &splits, &throughput_cells[i]);
        if (i == 1) pair_row(d, set, &m);   /* the order: after the two churn rows */
    }
    growth_rows(d, set, &m);
    for (size_t i = 0; i < NCLASSIC; i++) classic_rss_row(d, set, &m, &classic_cells[i]);
    doc_table_end(d);
    if (splits.len)
        doc_para(d, "Runs in two groups (sorted, two neighbours %.1f times apart or more, with a fifth of the "
                    "runs, rounded down, and at least two on each side): a machine that changed speed between "
                    "repetitions, or a workload with two ways to run, leaves them so, and their median "
                    "describes neither group. Such a row compares multiheap's upper group with the best of "
                    "the peers' upper groups and its lower with the best lower (a side in one group counts "
                    "all its runs in both), and gives no verdict where a group it judges has fewer than %d "
                    "runs. %s.", MR_SPLIT_RATIO, MIN_REPS, splits.text);
    missing_para(d, &m);
}

/* ---- the seed ladder ---- */

/* One improvement per row, named as results/configs/targets.conf names them. */
static const struct rung {
    const char *alloc, *step;
} ladder[] = {
    { "multiheap-seed", "seed design (MULTIHEAP_SEED=1)" },
    { "mh-seed-cache", "+ per-CPU front cache" },
    { "mh-seed-cache-batch", "+ batched remote frees" },
    { "mh-purge-inline", "+ purge of empty pages on the slow paths" },
    { "multiheap", "+ purger thread (default)" },
    { "mh-nolargecache", "default without the large-block cache" },
    { "mh-noremotebins", "default without remote bins (remote frees reused locally)" },
};
#define NRUNGS (sizeof ladder / sizeof *ladder)

/* mh_options() as the allocator's first successful run recorded it. */
static const char *options_of(const mr_set *set, const char *alloc)
{
    for (size_t i = 0; i < set->nruns; i++) {
        const mr_run *r = &set->runs[i];
        if (!r->ok || strcmp(r->alloc, alloc) != 0) continue;
        const mh_jv *a = mh_json_get(r->rec, "allocator");
        return mh_json_str_or(mh_json_get(a, "options"), mh_json_str_or(mh_json_get(a, "options_reason"), "n/a"));
    }
    return "no successful run";
}

/* One table, a row per rung and a column per target workload; `relative`:
 * throughput over the seed's in the same cell, else peak RSS in MiB. */
static void ladder_table(doc *d, const mr_set *set, missing *m, bool relative)
{
    char head[2048] = "step\tallocator";
    size_t off = strlen(head);
    for (size_t c = 0; c < NTHROUGHPUT; c++)
        off += (size_t)snprintf(head + off, sizeof head - off, "\t%s (%d)", throughput_cells[c].workload,
                                throughput_cells[c].threads);
    if (relative) snprintf(head + off, sizeof head - off, "\tmh_options()");
    doc_table_begin(d, head);
    for (size_t r = 0; r < NRUNGS; r++) {
        char row[4096];
        off = (size_t)snprintf(row, sizeof row, "%s\t%s", ladder[r].step, ladder[r].alloc);
        for (size_t c = 0; c < NTHROUGHPUT; c++) {
            const target_cell *t = &throughput_cells[c];
            const mr_group *g = cell_group(set, t, ladder[r].alloc), *seed = cell_group(set, t, ladder[0].alloc);
            const char *whose = g ? ladder[0].alloc : ladder[r].alloc;
            char name[512];
            if (set_has(set, whose)) cell_name(t, whose, name, sizeof name);
            else snprintf(name, sizeof name, "every cell of %s (not in this result set)", whose);
            if (!g || (relative && !seed)) {
                note_missing(m, name);
                off += (size_t)snprintf(row + off, sizeof row - off, "\tn/a");
            } else {
                /* as in the summary: a median over the runs left flatters the side that lost some */
                int failed = g->nfailed + (relative && seed != g ? seed->nfailed : 0);
                char lost[32] = "";
                if (failed) snprintf(lost, sizeof lost, " (%d failed)", failed);
                off += (size_t)snprintf(row + off, sizeof row - off, relative ? "\t%.2f%s" : "\t%.1f%s",
                                        relative ? g->s.median / seed->s.median : g->rss_median_kib / 1024, lost);
            }
        }
        if (relative) snprintf(row + off, sizeof row - off, "\t%s", options_of(set, ladder[r].alloc));
        doc_row(d, row, false);
    }
    doc_table_end(d);
}

void mr_section_seed(doc *d, const mr_set *set)
{
    bool any = false;
    for (size_t r = 0; r < NRUNGS; r++) any |= strcmp(ladder[r].alloc, "multiheap") != 0 && set_has(set, ladder[r].alloc);
    if (!any) return;
    missing m = { .len = 0, .left_out = 0 };
    m.text[0] = 0;
    doc_heading(d, 2, "seed design vs multiheap");
    doc_para(d, "What each improvement bought: from the seed design (every operation under the owning heap's "
                "lock, no front cache, no remote batching, no return to the OS) one switch is turned on per row; "
                "the last row turns the large-block cache off in the default. Throughput: median over the "
                "repetitions divided by the seed's median in the same cell (above 1: faster than the seed); "
                "\"(k failed)\": k runs of that cell, or of the seed's, failed, and the medians are of the "
                "others. mh_options() is what the library reported in the run, so a row shows what really ran.");
    ladder_table(d, set, &m, true);
    doc_para(d, "Peak RSS, MiB (median over the repetitions), same cells:");
    ladder_table(d, set, &m, false);
    missing_para(d, &m);
}
