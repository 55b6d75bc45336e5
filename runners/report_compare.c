/*
 * compare OLD NEW: cell by cell (case x threads x allocator), the median
 * throughput of each side, their ratio, and a two-sided Mann-Whitney U test
 * over the repetitions. A regression is a cell slower by more than the
 * threshold AND significant (p < 0.05), or one whose runs fail in NEW where
 * none failed in OLD; any regression makes the exit status 1. The allocators
 * whose library and variables are the same on both sides are the controls: a
 * cell's change that theirs in the same case and thread count explains (or
 * a change of a control's own cell) is the machine's or the driver's, and is
 * named so instead of counted.
 */
#include "report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ALPHA 0.05

typedef struct tally {
    int compared, regressions, improvements, unmatched;
    int with_machine;       /* changes the unchanged allocators made too: not counted */
    double best_min_p;      /* the smallest p-value the repetitions allow at all */
    double drift_log;       /* sum of log(new/old) over the unchanged allocators' cells */
    int drift_cells;
} tally;

static const mr_group *matching(const mr_set *other, const mr_set *set, const mr_group *g)
{
    int ci = mr_case_index(other, set->cases[g->ci]), ai = mr_alloc_index(other, set->allocs[g->ai]);
    if (ci < 0 || ai < 0) return NULL;
    for (int t = 0; t < other->nthreads; t++)
        if (other->threads[t] == set->threads[g->ti]) return mr_group_at(other, ci, t, ai);
    return NULL;
}

/* What a group's runs recorded of their allocator: key is "file_hash" (the library's
   file) or "spec" (with the variables a variant sets); NULL if not. */
static const char *allocator_field(const mr_group *g, const char *key)
{
    const mh_jv *a = g->n ? mh_json_get(g->runs[0]->rec, "allocator") : NULL;
    return a ? mh_json_str_or(mh_json_get(a, key), NULL) : NULL;
}

/* Did this allocator run the same library file, with the same variables, on both sides?
   Then any change of its cells is the machine's or the driver's, not its own. */
static bool unchanged(const mr_group *o, const mr_group *g)
{
    static const char *const keys[] = { "file_hash", "spec" };
    for (size_t k = 0; k < 2; k++) {
        const char *a = allocator_field(o, keys[k]), *b = allocator_field(g, keys[k]);
        if (!a || !b || strcmp(a, b) != 0) return false;
    }
    return true;
}

/* The median change, in %, of the other allocators of g's case and thread count whose
   library did not change (NaN when there is none): the controls of the comparison. The VM
   these runs come from has had whole periods where cross-core work ran at half speed for
   every allocator (DEVELOPERS.md): two runs from either side of such a change differ in
   every cell, and the controls tell that from a change of the allocator. */
static double control_change(const mr_set *old, const mr_set *new, const mr_group *g)
{
    double r[64];
    int n = 0;
    for (int a = 0; a < new->nallocs && n < 64; a++) {
        const mr_group *c = mr_group_at(new, g->ci, g->ti, a);
        const mr_group *o = c && a != g->ai ? matching(old, new, c) : NULL;
        if (o && o->n && c->n && unchanged(o, c)) r[n++] = c->s.median / o->s.median;
    }
    if (!n) return NAN;
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && r[j] < r[j - 1]; j--) {
            double x = r[j];
            r[j] = r[j - 1], r[j - 1] = x;
        }
    return ((n % 2 ? r[n / 2] : (r[n / 2 - 1] + r[n / 2]) / 2) - 1) * 100;
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
    if (!o || !o->n || !g->n) {
        char om[32] = "-", nm[32] = "-";
        if (o && o->n) snprintf(om, sizeof om, "%.3f", o->s.median / 1e6);
        if (g->n) snprintf(nm, sizeof nm, "%.3f", g->s.median / 1e6);
        printf("%-48s %12s %12s %8s %7s  %s\n", cell, om, nm, "", "",
               !o ? "only in NEW" : fails[0] ? fails : "no successful runs on one side");
        if (fails[0]) t->regressions++;
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
    const char *verdict = "same";
    bool own_unchanged = unchanged(o, g);
    double control = control_change(old, new, g);
    if (own_unchanged) t->drift_log += log(g->s.median / o->s.median), t->drift_cells++;
    /* the change left once the controls' is taken out */
    double own = isfinite(control) ? ((1 + change / 100) / (1 + control / 100) - 1) * 100 : change;
    char machine[200] = "";
    if (fabs(change) > threshold) {
        bool sig = p < ALPHA;
        /* this cell's repetitions cannot reach ALPHA at all, whatever other cells can */
        if (min_p >= ALPHA) verdict = change < 0 ? "slower, too few repetitions to tell" : "faster, too few repetitions to tell";
        else if (sig && (own_unchanged || fabs(own) <= threshold)) {
            if (own_unchanged)
                snprintf(machine, sizeof machine, "%s, but its library is the same file: the machine or the driver "
                         "changed, not this allocator", change < 0 ? "slower" : "faster");
            else
                snprintf(machine, sizeof machine, "%s, as the unchanged allocators here (%+.1f%%): the machine or "
                         "the driver changed, not this allocator", change < 0 ? "slower" : "faster", control);
            verdict = machine;
            t->with_machine++;
        } else if (change < 0) verdict = sig ? "REGRESSION" : "slower, not significant";
        else verdict = sig ? "improvement" : "faster, not significant";
        t->regressions += change < 0 && sig && !machine[0];
        t->improvements += change > 0 && sig && !machine[0];
    }
    char controls[160] = "";
    if (!machine[0] && isfinite(control) && fabs(control) > threshold)
        snprintf(controls, sizeof controls, " (the unchanged allocators here: %+.1f%%)", control);
    if (fails[0] && strcmp(verdict, "REGRESSION") != 0) {
        verdict = fails;
        t->regressions++;
    }
    printf("%-48s %12.3f %12.3f %+7.1f%% %7.4f  %s%s\n", cell, o->s.median / 1e6, g->s.median / 1e6, change, p,
           verdict, controls);
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
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--threshold") == 0 && i + 1 < argc) {
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
        printf("allocators whose library is the same file on both sides: %+.1f%% (geometric mean over their %d "
               "cells), what the machine and the driver changed\n", (exp(t.drift_log / t.drift_cells) - 1) * 100,
               t.drift_cells);
    if (t.with_machine)
        printf("%d significant change%s past the threshold came with the unchanged allocators' and %s not counted\n",
               t.with_machine, t.with_machine == 1 ? "" : "s", t.with_machine == 1 ? "is" : "are");
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
