/*
 * compare OLD NEW: cell by cell (case x threads x allocator), the median
 * throughput of each side, their ratio, and a two-sided Mann-Whitney U test
 * over the repetitions. A regression is a cell slower by more than the
 * threshold AND significant (p < 0.05), or one whose runs fail in NEW where
 * none failed in OLD; any regression makes the exit status 1. A cell where OLD
 * lost runs gets no verdict: its median is over the runs left. The allocators
 * that ran the same library with the same variables on both sides are the
 * controls: where most of a case's control libraries moved the same way (the
 * machine did), the changed allocators' NEW runs are judged divided by the
 * controls' change; a control's own change is never a verdict.
 */
#include "report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ALPHA 0.05

typedef struct tally {
    int compared, regressions, improvements, unmatched;
    int withheld;           /* OLD lost runs there: no verdict */
    int not_counted;        /* changes of an unchanged library, or the machine's: no verdict */
    double best_min_p;      /* the smallest p-value the repetitions allow at all */
    double drift_log;       /* sum of log(new/old) over the unchanged allocators' cells */
    int drift_cells;
} tally;

/* Is a change of pct percent past the threshold, i.e. more than it? A ratio's rounding
   error must not carry exactly the threshold past it: 95 / 100 - 1 is -5.000000000000004%. */
static bool past_threshold(double pct, double threshold)
{
    return fabs(pct) > threshold + 1e-9;
}

static const mr_group *matching(const mr_set *other, const mr_set *set, const mr_group *g)
{
    int ci = mr_case_index(other, set->cases[g->ci]), ai = mr_alloc_index(other, set->allocs[g->ai]);
    if (ci < 0 || ai < 0) return NULL;
    for (int t = 0; t < other->nthreads; t++)
        if (other->threads[t] == set->threads[g->ti]) return mr_group_at(other, ci, t, ai);
    return NULL;
}

/* The library a group's runs all ran (allocator.file_hash), or NULL when they do not
   agree (a cell resumed after a rebuild) or do not say. */
static const char *library_of(const mr_group *g)
{
    const char *lib = NULL;
    for (int i = 0; i < g->n; i++) {
        const char *h = mh_json_str_or(mh_json_path(g->runs[i]->rec, "allocator.file_hash"), NULL);
        if (!h || (lib && strcmp(lib, h) != 0)) return NULL;
        lib = h;
    }
    return lib;
}

static size_t object_len(const mh_jv *o) { return o && o->type == MH_JOBJ ? o->len : 0; }

/* Do two maps of variables (allocator.env, allocator.inherited_env) hold the same? An
   absent map is an empty one. */
static bool same_vars(const mh_jv *a, const mh_jv *b)
{
    if (object_len(a) != object_len(b)) return false;
    for (size_t i = 0; i < object_len(a); i++) {
        const char *x = mh_json_str_or(&a->items[i], ""), *y = mh_json_str_or(mh_json_get(b, a->keys[i]), NULL);
        if (!y || strcmp(x, y) != 0) return false;
    }
    return true;
}

/* Did this allocator run the same library file with the same variables on both sides
   (every run)? Then its cells measure the machine and the driver, not a change of its
   own: it is a control. */
static bool unchanged(const mr_group *o, const mr_group *g)
{
    const char *a = library_of(o), *b = library_of(g);
    if (!a || !b || strcmp(a, b) != 0) return false;
    static const char *const maps[] = { "allocator.env", "allocator.inherited_env" };
    const mr_group *sides[] = { o, g };
    for (size_t k = 0; k < 2; k++)
        for (size_t side = 0; side < 2; side++)
            for (int i = 0; i < sides[side]->n; i++)
                if (!same_vars(mh_json_path(o->runs[0]->rec, maps[k]), mh_json_path(sides[side]->runs[i]->rec, maps[k])))
                    return false;
    return true;
}

/* How the machine moved in a case and thread count, from its controls: the unchanged
   libraries (g is a changed allocator's cell), one vote each however many allocator names
   run them (multiheap and its six variants are one library in the targets set). A library
   moved when more than half of its names' cells changed significantly past the
   threshold, the same way, by the median of its names' ratios. The machine moved when at
   least two libraries, and more than half of them, moved the same way; `factor` is then
   the median of their ratios, else 1. The VM these runs come from has had whole periods
   with every allocator's cross-core cells at half speed (DEVELOPERS.md): two runs from
   either side of such a period differ in every cell. One library, or a noisy one, is
   not enough to call it. */
typedef struct machine {
    double factor;
    int libraries, moved;
} machine;

static machine machine_change(const mr_set *old, const mr_set *new, const mr_group *g, double threshold)
{
    machine m = { 1, 0, 0 };
    size_t n = (size_t)new->nallocs;
    const char **lib = calloc(n, sizeof *lib);
    double *ratio = calloc(n * n, sizeof *ratio), *up_ratio = calloc(n, sizeof *up_ratio),
           *down_ratio = calloc(n, sizeof *down_ratio);
    int *names = calloc(n, sizeof *names), *up = calloc(n, sizeof *up), *down = calloc(n, sizeof *down);
    for (int a = 0; a < new->nallocs; a++) {
        const mr_group *c = mr_group_at(new, g->ci, g->ti, a);
        const mr_group *o = c && c->n ? matching(old, new, c) : NULL;
        /* a median that lost runs (a timeout: the slowest) says nothing of the machine */
        if (!o || !o->n || o->nfailed || c->nfailed || !unchanged(o, c)) continue;
        int k = 0;
        while (k < m.libraries && strcmp(lib[k], library_of(c)) != 0) k++;
        if (k == m.libraries) lib[m.libraries++] = library_of(c);
        double r = c->s.median / o->s.median;
        ratio[(size_t)k * n + (size_t)names[k]++] = r;
        if (past_threshold((r - 1) * 100, threshold) && mr_mann_whitney_p(o->thr, o->n, c->thr, c->n) < ALPHA)
            up[k] += r > 1, down[k] += r < 1;
    }
    int ups = 0, downs = 0;
    for (int k = 0; k < m.libraries; k++) {
        double r = mr_median(&ratio[(size_t)k * n], names[k]);
        if (2 * up[k] > names[k]) up_ratio[ups++] = r;
        else if (2 * down[k] > names[k]) down_ratio[downs++] = r;
    }
    /* the way most libraries moved, if most did: one that moved the other way is outvoted */
    int most = ups > downs ? ups : downs;
    if (most >= 2 && 2 * most > m.libraries) {
        m.moved = most;
        m.factor = mr_median(ups > downs ? up_ratio : down_ratio, most);
    }
    free(lib), free(ratio), free(up_ratio), free(down_ratio), free(names), free(up), free(down);
    return m;
}

static void compare_cell(const mr_set *old, const mr_set *new, const mr_group *g, double threshold, tally *t)
{
    char cell[512];
    snprintf(cell, sizeof cell, "%s|%d|%s", new->cases[g->ci], new->threads[g->ti], new->allocs[g->ai]);
    const mr_group *o = matching(old, new, g);
    /* Runs that fail in NEW where none failed in OLD (a crash, a timeout) are a regression
       whatever the surviving runs' medians say. */
    char fails[96] = "";
    if (o && g->nfailed && !o->nfailed)
        snprintf(fails, sizeof fails, "REGRESSION: %d of %d runs fail now, none did", g->nfailed, g->n + g->nfailed);
    else if (o && !g->n && g->nfailed && o->n)   /* OLD's few failures do not excuse all of NEW's */
        snprintf(fails, sizeof fails, "REGRESSION: every run fails now, %d of %d did", o->nfailed, o->n + o->nfailed);
    if (!o || !o->n || !g->n) {
        char om[32] = "-", nm[32] = "-";
        if (o && o->n) snprintf(om, sizeof om, "%.3f", o->s.median / 1e6);
        if (g->n) snprintf(nm, sizeof nm, "%.3f", g->s.median / 1e6);
        printf("%-48s %12s %12s %8s %7s  %s\n", cell, om, nm, "", "",
               !o ? "only in NEW" : fails[0] ? fails : g->n ? "no successful run in OLD" : "no successful run in NEW");
        if (fails[0]) t->regressions++, t->compared++;
        else t->unmatched++;
        return;
    }
    char diff[300];
    if (mr_params_differ(old->case_params[o->ci], new->case_params[g->ci], diff, sizeof diff)) {
        printf("%-48s %12s %12s %8s %7s  not compared: the workload's parameters differ (%s)\n",
               cell, "", "", "", "", diff);
        t->unmatched++;
        return;
    }
    double change = (g->s.median / o->s.median - 1) * 100;
    double p = mr_mann_whitney_p(o->thr, o->n, g->thr, g->n), min_p = mr_mann_whitney_min_p(o->n, g->n);
    if (min_p < t->best_min_p) t->best_min_p = min_p;
    /* OLD's median is over the runs that did not fail, which a timeout, the slowest,
       flatters: any change measured against it may be that alone (the report's summary and
       targets give such cells no verdict either) */
    if (o->nfailed) {
        char also[64] = "";
        if (g->nfailed) snprintf(also, sizeof also, " and NEW %d of %d", g->nfailed, g->n + g->nfailed);
        printf("%-48s %12.3f %12.3f %+7.1f%% %7.4f  cannot tell: OLD lost %d of %d runs%s, %s flattered\n", cell,
               o->s.median / 1e6, g->s.median / 1e6, change, p, o->nfailed, o->n + o->nfailed, also,
               g->nfailed ? "their medians are" : "its median is");
        t->withheld++, t->compared++;
        return;
    }
    bool control = unchanged(o, g);
    if (control) t->drift_log += log(g->s.median / o->s.median), t->drift_cells++;
    /* Where the machine moved, a changed allocator's NEW runs are judged divided by its
       factor: what is left is the allocator's own change, for better or worse. The
       change and p printed are the raw ones; the note gives the judged ones. */
    machine m = control ? (machine){ 1, 0, 0 } : machine_change(old, new, g, threshold);
    double judged = change, judged_p = p;
    char note[240] = "", verdict_buf[200];
    if (m.moved) {
        double *left = malloc(sizeof *left * (size_t)g->n);
        for (int i = 0; i < g->n; i++) left[i] = g->thr[i] / m.factor;
        judged_p = mr_mann_whitney_p(o->thr, o->n, left, g->n);
        free(left);
        judged = (g->s.median / m.factor / o->s.median - 1) * 100;
        snprintf(note, sizeof note, " (the machine here: %+.1f%%, from %d of %d unchanged libraries; judged on "
                 "what is left: %+.1f%%, p %.4f)", (m.factor - 1) * 100, m.moved, m.libraries, judged, judged_p);
    }
    const char *verdict = "same";
    bool past = past_threshold(judged, threshold), sig = past && judged_p < ALPHA;
    if (fails[0]) {
        verdict = fails;
    } else if (past && min_p >= ALPHA) {
        /* this cell's repetitions cannot reach ALPHA at all, whatever other cells can */
        verdict = judged < 0 ? "slower, too few repetitions to tell" : "faster, too few repetitions to tell";
    } else if (sig && control) {
        snprintf(verdict_buf, sizeof verdict_buf, "%s with the same library: not a change of this allocator's "
                 "(the machine, the driver or noise)", judged < 0 ? "slower" : "faster");
        verdict = verdict_buf;
        t->not_counted++;
    } else if (past) {
        verdict = judged < 0 ? (sig ? "REGRESSION" : "slower, not significant") : (sig ? "improvement" : "faster, not significant");
    } else if (m.moved && past_threshold(change, threshold) && p < ALPHA) {
        verdict = change < 0 ? "slower, as the machine" : "faster, as the machine";
        t->not_counted++;
    }
    t->regressions += fails[0] || (sig && !control && judged < 0);
    t->improvements += !fails[0] && sig && !control && judged > 0;
    printf("%-48s %12.3f %12.3f %+7.1f%% %7.4f  %s%s\n", cell, o->s.median / 1e6, g->s.median / 1e6, change, p,
           verdict, note);
    t->compared++;
}

static int only_in_old(const mr_set *old, const mr_set *new)
{
    int n = 0;
    for (int i = 0; i < old->ngroups; i++)
        if (!matching(new, old, &old->groups[i])) {
            const mr_group *g = &old->groups[i];
            printf("%s|%d|%s: only in OLD\n", old->cases[g->ci], old->threads[g->ti], old->allocs[g->ai]);
            n++;
        }
    return n;
}

int mr_compare_main(int argc, char **argv)
{
    double threshold = 5;
    char *paths[2];
    int npaths = 0;
    bool threshold_given = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--threshold") == 0) {
            if (i + 1 == argc || threshold_given) {
                fprintf(stderr, "mhreport: --threshold %s; give it once, with a percentage, e.g. --threshold 5\n",
                        threshold_given ? "is given twice" : "needs a value");
                return 2;
            }
            threshold_given = true;
            char *end;
            threshold = strtod(argv[++i], &end);
            if (*end || !(threshold >= 0)) {
                fprintf(stderr, "mhreport: --threshold wants a percentage >= 0, e.g. --threshold 5\n");
                return 2;
            }
        } else if (npaths < 2 && argv[i][0] != '-') {
            paths[npaths++] = argv[i];
        } else {
            fprintf(stderr, "mhreport: compare takes OLD NEW [--threshold PCT]; '%s' is extra\n", argv[i]);
            return 2;
        }
    }
    if (npaths != 2) {
        fprintf(stderr, "mhreport: compare needs two result sets: compare OLD NEW [--threshold PCT]\n");
        return 2;
    }
    mr_set old, new;
    char err[512];
    if (!mr_load(&old, &paths[0], 1, err, sizeof err)) {
        fprintf(stderr, "mhreport: OLD: %s\n", err);
        mr_free(&old);
        return 2;
    }
    if (!mr_load(&new, &paths[1], 1, err, sizeof err)) {
        fprintf(stderr, "mhreport: NEW: %s\n", err);
        mr_free(&old), mr_free(&new);
        return 2;
    }
    printf("compare %s -> %s: median throughput, Mann-Whitney U over the repetitions, "
           "threshold %.1f%%, alpha %.2f\n\n", paths[0], paths[1], threshold, ALPHA);
    printf("%-48s %12s %12s %8s %7s  %s\n", "cell (case|threads|allocator)", "old Mops/s", "new Mops/s",
           "change", "p", "verdict");
    tally t = { .best_min_p = 1 };
    for (int i = 0; i < new.ngroups; i++) compare_cell(&old, &new, &new.groups[i], threshold, &t);
    t.unmatched += only_in_old(&old, &new);
    printf("\n%d cells compared, %d regressions, %d improvements, %d unmatched\n",
           t.compared, t.regressions, t.improvements, t.unmatched);
    if (t.drift_cells)
        printf("allocators whose library is the same file on both sides (the controls): %+.1f%% (geometric mean "
               "over their %d cells)\n", (exp(t.drift_log / t.drift_cells) - 1) * 100, t.drift_cells);
    if (t.not_counted)
        printf("%d change%s past the threshold %s the machine's or a control's own, counted neither way\n",
               t.not_counted, t.not_counted == 1 ? "" : "s", t.not_counted == 1 ? "is" : "are");
    if (t.withheld)
        printf("%d cell%s without a verdict: OLD lost runs there, and the median of the runs left flatters it\n",
               t.withheld, t.withheld == 1 ? "" : "s");
    if (t.compared && t.best_min_p >= ALPHA)
        printf("note: with so few repetitions no difference can reach p < %.2f (smallest possible p: %.3f); "
               "use repetitions >= 4 to detect regressions\n", ALPHA, t.best_min_p);
    mr_free(&old), mr_free(&new);
    if (!t.compared) {
        fprintf(stderr, "mhreport: OLD and NEW have no cell in common; compare result sets of the same config\n");
        return 2;
    }
    return t.regressions ? 1 : 0;
}
