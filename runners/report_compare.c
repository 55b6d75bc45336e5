/*
 * compare OLD NEW: cell by cell (case x threads x allocator), the median
 * throughput of each side, their ratio, and a two-sided Mann-Whitney U test
 * over the repetitions. A regression is a cell slower by more than the
 * threshold AND significant (p < 0.05), or one whose runs fail in NEW where
 * none failed in OLD; any regression makes the exit status 1.
 */
#include "report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ALPHA 0.05

typedef struct tally {
    int compared, regressions, improvements, unmatched;
    double best_min_p;      /* the smallest p-value the repetitions allow at all */
} tally;

static const mr_group *matching(const mr_set *other, const mr_set *set, const mr_group *g)
{
    int ci = mr_case_index(other, set->cases[g->ci]), ai = mr_alloc_index(other, set->allocs[g->ai]);
    if (ci < 0 || ai < 0) return NULL;
    for (int t = 0; t < other->nthreads; t++)
        if (other->threads[t] == set->threads[g->ti]) return mr_group_at(other, ci, t, ai);
    return NULL;
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
    if (fabs(change) > threshold) {
        bool sig = p < ALPHA;
        /* this cell's repetitions cannot reach ALPHA at all, whatever other cells can */
        if (min_p >= ALPHA) verdict = change < 0 ? "slower, too few repetitions to tell" : "faster, too few repetitions to tell";
        else if (change < 0) verdict = sig ? "REGRESSION" : "slower, not significant";
        else verdict = sig ? "improvement" : "faster, not significant";
        t->regressions += change < 0 && sig;
        t->improvements += change > 0 && sig;
    }
    if (fails[0] && strcmp(verdict, "REGRESSION") != 0) {
        verdict = fails;
        t->regressions++;
    }
    printf("%-48s %12.3f %12.3f %+7.1f%% %7.4f  %s\n", cell, o->s.median / 1e6, g->s.median / 1e6, change, p, verdict);
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
