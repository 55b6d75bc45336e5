/* matrix.stats: the report's statistics against values worked out by hand. */
#include "report.h"

#include <math.h>
#include <stdio.h>

static int failures;

#define CHECK_NEAR(got, want, tol)                                                   \
    do {                                                                             \
        double g_ = (got), w_ = (want);                                              \
        if (!(fabs(g_ - w_) <= (tol))) {                                             \
            fprintf(stderr, "%s:%d: %s = %.6g, want %.6g\n", __FILE__, __LINE__, #got, g_, w_); \
            failures++;                                                              \
        }                                                                            \
    } while (0)

static void test_median_and_quartiles(void)
{
    mr_summary s;
    mr_summarise((double[]){ 5, 1, 3 }, 3, &s);
    CHECK_NEAR(s.median, 3, 0);
    mr_summarise((double[]){ 4, 1, 3, 2 }, 4, &s);
    CHECK_NEAR(s.median, 2.5, 0);
    mr_summarise((double[]){ 5, 4, 3, 2, 1 }, 5, &s);
    CHECK_NEAR(s.q1, 2, 1e-12);        /* R type 7 */
    CHECK_NEAR(s.q3, 4, 1e-12);
}

static void test_median_ci(void)
{
    mr_summary s;
    /* n = 10: [x(2), x(9)] covers 1 - 2*(1+10)/1024; [x(3), x(8)] would cover only 0.89 */
    mr_summarise((double[]){ 10, 9, 8, 7, 6, 5, 4, 3, 2, 1 }, 10, &s);
    CHECK_NEAR(s.ci_lo, 2, 0);
    CHECK_NEAR(s.ci_hi, 9, 0);
    CHECK_NEAR(s.ci_coverage, 1 - 22.0 / 1024, 1e-12);
    /* n = 3: nothing reaches 95%; min..max covers 1 - 2/8 */
    mr_summarise((double[]){ 7, 3, 5 }, 3, &s);
    CHECK_NEAR(s.ci_lo, 3, 0);
    CHECK_NEAR(s.ci_hi, 7, 0);
    CHECK_NEAR(s.ci_coverage, 0.75, 1e-12);
    mr_summary a = { .n = 5, .ci_lo = 1, .ci_hi = 2 }, b = { .n = 5, .ci_lo = 2, .ci_hi = 3 },
               c = { .n = 5, .ci_lo = 2.5, .ci_hi = 3 };
    if (!mr_ci_overlap(&a, &b) || mr_ci_overlap(&a, &c)) {
        fprintf(stderr, "mr_ci_overlap is wrong\n");
        failures++;
    }
    /* a single run calls nothing, however far apart */
    mr_summary one = { .n = 1, .ci_lo = 10, .ci_hi = 10 };
    if (!mr_ci_overlap(&a, &one) || !mr_ci_overlap(&one, &a)) {
        fprintf(stderr, "mr_ci_overlap takes a single run for a clear difference\n");
        failures++;
    }
}

static void test_mann_whitney(void)
{
    /* complete separation of 4 and 4: 2 of the C(8,4) = 70 splits are as extreme */
    CHECK_NEAR(mr_mann_whitney_p((double[]){ 1, 2, 3, 4 }, 4, (double[]){ 5, 6, 7, 8 }, 4), 2.0 / 70, 1e-12);
    CHECK_NEAR(mr_mann_whitney_p((double[]){ 5, 6, 7, 8 }, 4, (double[]){ 1, 2, 3, 4 }, 4), 2.0 / 70, 1e-12);
    /* identical samples: nothing to see */
    CHECK_NEAR(mr_mann_whitney_p((double[]){ 1, 2, 3 }, 3, (double[]){ 1, 2, 3 }, 3), 1, 1e-12);
    CHECK_NEAR(mr_mann_whitney_p((double[]){ 4, 4 }, 2, (double[]){ 4, 4 }, 2), 1, 1e-12);
    /* 1 3 | 2 4: rank sum 4 vs mean 5; splits with |sum - 5| >= 1: 4 of 6 */
    CHECK_NEAR(mr_mann_whitney_p((double[]){ 1, 3 }, 2, (double[]){ 2, 4 }, 2), 4.0 / 6, 1e-12);
    CHECK_NEAR(mr_mann_whitney_min_p(2, 2), 1.0 / 3, 1e-12);
    CHECK_NEAR(mr_mann_whitney_min_p(5, 5), 2.0 / 252, 1e-12);
    /* large: the normal approximation, still far below any threshold */
    double a[30], b[30];
    for (int i = 0; i < 30; i++) a[i] = i, b[i] = 100 + i;
    double p = mr_mann_whitney_p(a, 30, b, 30);
    if (!(p < 1e-6)) {
        fprintf(stderr, "separated samples of 30: p = %g, want < 1e-6\n", p);
        failures++;
    }
    /* The approximation's figures (two-sided, continuity and tie corrections), worked out
       apart from this code: 0..29 against 10..39 shares 20 values, rank sum 665 against a mean of
       915, variance 75 x (61 - 120 / 3540); three of each of 0..9 against three of each
       of 2..11, ties everywhere. */
    for (int i = 0; i < 30; i++) a[i] = i, b[i] = 10 + i;
    CHECK_NEAR(mr_mann_whitney_p(a, 30, b, 30), 2.2448380596e-4, 1e-12);
    for (int i = 0; i < 30; i++) a[i] = i / 3, b[i] = i / 3 + 2;
    CHECK_NEAR(mr_mann_whitney_p(a, 30, b, 30), 0.01650447701, 1e-10);
}

static void test_apart_by_chance(void)
{
    /* 3 a side: min..max; of the C(6,3) = 20 orders of the pooled runs, AAABBB and BBBAAA */
    CHECK_NEAR(mr_apart_by_chance(3, 3), 2.0 / 20, 1e-12);
    CHECK_NEAR(mr_apart_by_chance(5, 5), 2.0 / 252, 1e-12);
    /* 15 a side: [x(4), x(12)]; A's apart below B's when the first 15 pooled runs hold
       12 or more of A's: sum over i of C(15, i) C(15, 15 - i), i = 12..15, of C(30, 15) */
    CHECK_NEAR(mr_apart_by_chance(15, 15), 2 * (455.0 * 455 + 105 * 105 + 15 * 15 + 1) / 155117520, 1e-12);
    /* 3 against 5: A's 3 first (1 of C(8,3) = 56 orders) or B's 5 first (1 more) */
    CHECK_NEAR(mr_apart_by_chance(3, 5), 2.0 / 56, 1e-12);
    /* a single run calls nothing (mr_ci_overlap) */
    CHECK_NEAR(mr_apart_by_chance(1, 5), 0, 0);
}

static void check_split(const double *x, int n, int want_low, const char *what)
{
    mr_groups g;
    bool split = mr_split(x, n, &g);
    if (split != (want_low > 0) || g.low.n != want_low || g.low.n + g.high.n != n) {
        fprintf(stderr, "mr_split (%s): %d low of %d, want %d\n", what, g.low.n, g.low.n + g.high.n, want_low);
        failures++;
    }
}

static void test_split(void)
{
    /* tcmalloc's cross-core-free in a targets run whose VM changed speed between repetitions */
    double two[] = { 503.6, 188.0, 528.1, 204.0, 475.9, 199.2, 542.1, 202.6, 191.8, 509.9, 199.6, 535.8, 198.7, 202.9, 517.5 };
    check_split(two, 15, 8, "two states");
    mr_groups g;
    mr_split(two, 15, &g);
    CHECK_NEAR(g.low_lo, 188.0, 0);
    CHECK_NEAR(g.low_hi, 204.0, 0);
    CHECK_NEAR(g.low.median, (199.2 + 199.6) / 2, 1e-12);
    CHECK_NEAR(g.high_lo, 475.9, 0);
    CHECK_NEAR(g.high_hi, 542.1, 0);
    CHECK_NEAR(g.high.median, 517.5, 1e-12);
    CHECK_NEAR(g.high.ci_lo, 475.9, 0);   /* 7 runs: min..max, coverage 98% */
    CHECK_NEAR(g.high.ci_hi, 542.1, 0);
    /* runs within 20% of each other: one group */
    double one[] = { 100, 104, 108, 112, 116, 120, 103, 107 };
    check_split(one, 8, 0, "one group");
    /* a single slow run is an outlier, not a group: a fifth of the runs, and two */
    double outlier[] = { 100, 101, 102, 103, 104, 105, 106, 107, 108, 40 };
    check_split(outlier, 10, 0, "one outlier");
    double two_slow[] = { 100, 101, 102, 103, 104, 105, 106, 107, 108, 40, 41 };
    check_split(two_slow, 11, 2, "two slow runs of 11");
    /* a gap just under the ratio is one group; at the ratio, two */
    check_split((double[]){ 100, 100, 149.9, 150 }, 4, 0, "under the ratio");
    check_split((double[]){ 100, 100, 150, 150 }, 4, 2, "at the ratio");
    /* too few runs to hold two groups of two */
    check_split((double[]){ 100, 300, 310 }, 3, 0, "three runs");
}

int main(void)
{
    test_median_and_quartiles();
    test_median_ci();
    test_mann_whitney();
    test_apart_by_chance();
    test_split();
    if (failures) fprintf(stderr, "matrix.stats: %d failures\n", failures);
    return failures != 0;
}
