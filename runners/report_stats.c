/*
 * Statistics for a handful of repetitions: medians and quartiles, a
 * distribution-free CI of the median from order statistics (bootstrap is
 * meaningless with 3-5 samples), and the Mann-Whitney U test, exact for the
 * sample sizes a benchmark matrix has.
 */
#include "report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double quantile(const double *sorted, int n, double q)
{
    if (n <= 0) return NAN;
    double h = (n - 1) * q;
    int lo = (int)floor(h);
    if (lo >= n - 1) return sorted[n - 1];
    return sorted[lo] + (h - lo) * (sorted[lo + 1] - sorted[lo]);
}

static double binomial_coef(int n, int k)
{
    double c = 1;
    for (int i = 1; i <= k; i++) c = c * (n - k + i) / i;
    return c;
}

/* P(j <= B <= n-j) for B ~ Binomial(n, 1/2): the coverage of [x(j), x(n-j+1)]
 * (1-based order statistics) as an interval for the median. */
static double order_stat_coverage(int n, int j)
{
    double p = 0;
    for (int i = j; i <= n - j; i++) p += binomial_coef(n, i);
    return p / pow(2, n);
}

/* The narrowest symmetric interval [x(j), x(n-j+1)] that still covers 95%: its j. Below
 * n = 6 none does, so 1 (min..max, with its true, lower coverage, which the report shows). */
static int ci_rank(int n)
{
    int j = 1;
    while (j + 1 <= n / 2 && order_stat_coverage(n, j + 1) >= 0.95) j++;
    return j;
}

void mr_summarise(const double *x, int n, mr_summary *out)
{
    memset(out, 0, sizeof *out);
    out->n = n;
    if (n == 0) {
        out->median = out->q1 = out->q3 = out->ci_lo = out->ci_hi = NAN;
        return;
    }
    double *s = malloc(sizeof *s * (size_t)n);
    memcpy(s, x, sizeof *s * (size_t)n);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    out->median = quantile(s, n, 0.5);
    out->q1 = quantile(s, n, 0.25);
    out->q3 = quantile(s, n, 0.75);
    int j = ci_rank(n);
    out->ci_lo = s[j - 1];
    out->ci_hi = s[n - j];
    out->ci_coverage = n == 1 ? 0 : order_stat_coverage(n, j);
    free(s);
}

double mr_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return quantile(v, n, 0.5);
}

bool mr_ci_overlap(const mr_summary *a, const mr_summary *b)
{
    /* One run has no interval to speak of (coverage 0): it cannot call a difference. */
    if (a->n < 2 || b->n < 2) return true;
    return a->ci_lo <= b->ci_hi && b->ci_lo <= a->ci_hi;
}

/* A's interval lies wholly below B's when A's upper end, its k-th run, comes before B's
 * lower end, its jb-th: when the first k + jb - 1 of the pooled runs, in order, hold at
 * least k of A's. Every order of the pooled runs is as likely when nothing differs. */
static double below_by_chance(int na, int nb)
{
    int k = na - ci_rank(na) + 1, jb = ci_rank(nb), first = k + jb - 1;
    double ways = 0;
    for (int i = k; i <= na && i <= first; i++)
        ways += binomial_coef(first, i) * binomial_coef(na + nb - first, na - i);
    return ways / binomial_coef(na + nb, na);
}

double mr_apart_by_chance(int na, int nb)
{
    if (na < 2 || nb < 2) return 0;
    return below_by_chance(na, nb) + below_by_chance(nb, na);
}

bool mr_split(const double *x, int n, mr_groups *g)
{
    memset(g, 0, sizeof *g);
    g->high.n = n;
    int least = n / 5 > 2 ? n / 5 : 2, split = 0;
    if (n < 2 * least) return false;
    double *s = malloc(sizeof *s * (size_t)n), widest = 0;
    memcpy(s, x, sizeof *s * (size_t)n);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    for (int i = least; i <= n - least; i++)
        if (s[i - 1] > 0 && s[i] / s[i - 1] > widest) widest = s[i] / s[i - 1], split = i;
    if (widest >= MR_SPLIT_RATIO) {
        *g = (mr_groups){ .low_lo = s[0], .low_hi = s[split - 1], .high_lo = s[split], .high_hi = s[n - 1] };
        mr_summarise(s, split, &g->low);
        mr_summarise(s + split, n - split, &g->high);
    }
    free(s);
    return g->low.n > 0;
}

/* Mid-ranks of the pooled sample: ties share the mean of their ranks. */
static void pooled_ranks(const double *v, int n, double *rank)
{
    for (int i = 0; i < n; i++) {
        int less = 0, equal = 0;
        for (int k = 0; k < n; k++) {
            less += v[k] < v[i];
            equal += v[k] == v[i];
        }
        rank[i] = less + (equal + 1) / 2.0;
    }
}

typedef struct perm_count {
    const double *rank;
    int n, k;
    double mean, observed_dev;
    double extreme, total;
} perm_count;

/* Every way to pick k of the pooled ranks as sample A: count those whose rank
 * sum is at least as far from its mean as the observed one. */
static void enumerate(perm_count *pc, int from, int left, double sum)
{
    if (left == 0) {
        pc->total++;
        if (fabs(sum - pc->mean) >= pc->observed_dev - 1e-9) pc->extreme++;
        return;
    }
    for (int i = from; i <= pc->n - left; i++)
        enumerate(pc, i + 1, left - 1, sum + pc->rank[i]);
}

double mr_mann_whitney_p(const double *a, int na, const double *b, int nb)
{
    if (na == 0 || nb == 0) return NAN;
    int n = na + nb;
    double *v = malloc(sizeof *v * (size_t)n), *rank = malloc(sizeof *rank * (size_t)n);
    memcpy(v, a, sizeof *v * (size_t)na);
    memcpy(v + na, b, sizeof *v * (size_t)nb);
    pooled_ranks(v, n, rank);
    double ra = 0;
    for (int i = 0; i < na; i++) ra += rank[i];
    double mean = na * (n + 1) / 2.0, p;
    if (binomial_coef(n, na) <= 2e6) {
        perm_count pc = { rank, n, na, mean, fabs(ra - mean), 0, 0 };
        enumerate(&pc, 0, na, 0);
        p = pc.extreme / pc.total;
    } else {
        double ties = 0;
        for (int i = 0; i < n; i++) {
            int t = 0;
            for (int k = 0; k < n; k++) t += v[k] == v[i];
            ties += (t * (double)t * t - t) / t;     /* each tie group counted once overall */
        }
        double var = na * (double)nb / 12.0 * ((n + 1) - ties / (n * (double)(n - 1)));
        double z = (fabs(ra - mean) - 0.5) / sqrt(var);
        p = erfc(z / sqrt(2));
    }
    free(v);
    free(rank);
    return p > 1 ? 1 : p;
}

double mr_mann_whitney_min_p(int na, int nb)
{
    double p = 2 / binomial_coef(na + nb, na);
    return p > 1 ? 1 : p;
}
