/*
 * mhreport: turns result records (JSONL) into a tidy CSV, statistics, gnuplot
 * plots, report.md / report.html, and compares two result sets.
 *
 * Modules: mhreport.c (CLI, loading records, grouping, tidy CSV, matrix
 * helpers), report_stats.c (medians, CIs, Mann-Whitney U), report_plots.c
 * (gnuplot data files and scripts), report_write.c (report.md / report.html),
 * report_compare.c (compare OLD NEW).
 */
#ifndef MH_REPORT_H
#define MH_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "json.h"

/* ---- statistics (report_stats.c) ---- */

typedef struct mr_summary {
    int n;
    double median, q1, q3;      /* quartiles: linear interpolation (R type 7) */
    double ci_lo, ci_hi;        /* order-statistic CI of the median */
    double ci_coverage;         /* its exact coverage: >= 0.95 from n = 6 on, less below */
} mr_summary;

void   mr_summarise(const double *x, int n, mr_summary *out);
/* The median of v[0..n), which it sorts; NaN when n is 0. */
double mr_median(double *v, int n);
/* Two-sided exact p-value of the Mann-Whitney U test (ties: mid-ranks, exact
 * permutation when small, normal approximation with tie correction when large). */
double mr_mann_whitney_p(const double *a, int na, const double *b, int nb);
/* Smallest two-sided p-value possible with these sample sizes. */
double mr_mann_whitney_min_p(int na, int nb);
/* Do the medians' intervals overlap (the difference within noise)? Always with a
 * single run on either side. */
bool   mr_ci_overlap(const mr_summary *a, const mr_summary *b);
/* How often the medians' intervals of na and nb runs of one and the same allocator miss
 * each other (!mr_ci_overlap) by chance alone: what "clear of noise" risks at these sizes.
 * 3 a side: 0.10; 5: 0.008 (min..max both). */
double mr_apart_by_chance(int na, int nb);

/* Runs that fall into two groups far apart (mr_split): each group's runs summarised
 * (size, range, median and its interval). */
typedef struct mr_groups {
    double low_lo, low_hi, high_lo, high_hi;
    mr_summary low, high;       /* low.n = 0 and high.n = n when there is one group */
} mr_groups;
/* The upper of two neighbours in sorted order must be this many times the lower for
 * the runs to count as two groups. */
#define MR_SPLIT_RATIO 1.5
/* Do x[0..n) fall into two groups? Sorted, the widest gap between neighbours that leaves
 * n / 5 runs (rounded down), and at least two, on each side must be MR_SPLIT_RATIO wide
 * or more. Then true, and *g says how; a machine that changed speed between repetitions
 * leaves runs so, and their median is one group's, or between them, and describes
 * neither. Uniform noise over a 3x range splits 5 runs about one time in six, over
 * +-30% one in a hundred. */
bool   mr_split(const double *x, int n, mr_groups *g);

/* ---- the loaded result set (mhreport.c) ---- */

typedef struct mr_run {
    const mh_jv *rec;
    const char *case_name;      /* the matrix cell up to its first '|', else the workload */
    const char *cell, *workload, *alloc;
    int threads, rep;
    bool warmup, ok;
    double throughput, ns_per_op, peak_rss_kib;
} mr_run;

/* One case x threads x allocator: the repetitions that count (ok, not warm-up). */
typedef struct mr_group {
    int ci, ti, ai;             /* indexes into cases, threads, allocs */
    double *thr;                /* throughputs, ops/s */
    mr_run **runs;
    int n, nfailed;
    mr_summary s;               /* of the throughputs */
    double rss_median_kib;      /* median peak RSS of the same runs (NaN if none reported) */
    double nsop_median;         /* median ns per operation */
} mr_group;

typedef struct mr_set {
    mh_jv **docs;
    size_t ndocs, bad_lines;
    mr_run *runs;
    size_t nruns;
    char **cases;     int ncases;
    const mh_jv **case_params;  /* per case: workload.params of its first successful run */
    int *threads;     int nthreads;
    char **allocs;    int nallocs;
    bool *variant;              /* per allocator: its runs set variables on a base (a spec's
                                   +VAR=VALUE, or a built-in such as multiheap-seed: allocator.env) */
    mr_group *groups; int ngroups;
    const mh_jv *env;           /* from the first record that has one */
} mr_set;

/* Loads every RUN_DIR/records.jsonl (or a .jsonl file) into set; false with a
 * message (one line) when nothing could be read. */
bool mr_load(mr_set *set, char *const *paths, int npaths, char *err, size_t errlen);
void mr_free(mr_set *set);
mr_group *mr_group_at(const mr_set *set, int ci, int ti, int ai);   /* NULL if absent */
int mr_alloc_index(const mr_set *set, const char *name);            /* -1 if absent */
int mr_case_index(const mr_set *set, const char *name);
/* Do two workload.params objects disagree on a parameter both hold? Then true, with
 * "name: A vs B" in buf. A parameter only one holds (records older than the parameter)
 * does not count: its default is what the older driver ran. */
bool mr_params_differ(const mh_jv *a, const mh_jv *b, char *buf, size_t len);
/* Workload parameter of the case's first run, as text ("" if absent). */
const char *mr_case_param(const mr_set *set, int ci, const char *name, char *buf, size_t len);
/* Point i of a series that a workload records as two arrays (size-sweep's
 * extra.size_bytes and extra.ns_per_op): x from the first of the group's runs that
 * has that point, *y the median of the runs' y there; false when none has it. */
bool mr_series_point(const mr_group *g, const char *xpath, const char *ypath, size_t i,
                     double *x, double *y);
/* The cases of one workload's runs, and the smallest thread count a case ran at (-1:
 * none), where a per-size cost curve is least disturbed by the threads' sharing. */
bool mr_case_is(const mr_set *set, int ci, const char *workload);
int  mr_case_fewest_threads(const mr_set *set, int ci);

/* ---- outputs ---- */

typedef struct mr_opts {
    const char *out_dir;        /* where results.csv, plots/, report.* go */
    const char *plots_src;      /* the plots/ directory holding the .gp scripts */
    const char *reproduce;      /* the command that reproduces the matrix */
    const char *set_dir;        /* the records' directory: its command.txt, config.conf and
                                   merged-from.txt say how the set was made */
    int nsets;                  /* result sets given (more than one: merged here) */
    bool no_plots;
    bool png_only;              /* PNG plots only, no SVG, no plot data left: a report to
                                   commit (results/reference), whose links must all hold */
} mr_opts;

/* Names of the plots report_plots.c made (PNG basenames without extension). */
typedef struct mr_plotlist {
    char dir[4096];         /* where they were drawn (staged; OUT/plots once the report is done) */
    char name[16][48];
    char title[16][96];
    int n;
} mr_plotlist;

/* 0 ok; 2 gnuplot missing or failing (message printed). */
/* Is gnuplot there? If not, false after one line saying what to do. */
bool mr_gnuplot_found(void);
int  mr_make_plots(const mr_set *set, const mr_opts *o, mr_plotlist *made);
/* path and everything under it; quietly nothing if it is not there */
void mr_remove_tree(const char *path);
int  mr_write_reports(const mr_set *set, const mr_opts *o, const mr_plotlist *plots);
int  mr_compare_main(int argc, char **argv);

/* report.md and report.html are written side by side through these (report_write.c) */
typedef struct doc {
    FILE *md, *html;
} doc;

void doc_heading(doc *d, int level, const char *text);
void doc_para(doc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* cells separated by '\t' */
void doc_table_begin(doc *d, const char *header);
void doc_row(doc *d, const char *cells, bool header);
void doc_table_end(doc *d);

/* Issue 6's targets and the seed ladder (report_targets.c); each section is
 * written only when the set holds cells it needs, and names the missing ones. */
void mr_section_targets(doc *d, const mr_set *set);
void mr_section_seed(doc *d, const mr_set *set);

/* small shared helpers */
const char *mr_machine_line(const mr_set *set, char *buf, size_t len);
double      mr_counter_per_op(const mh_jv *rec, const char *name, bool *present);
FILE       *mr_fopen(const char *dir, const char *name, const char *mode);
/* The report's own files, staged: mr_stage opens dir/name under a temporary name (NULL:
   said why), mr_stage_close closes one of them (2: said why), and mr_stage_finish
   renames them all into place (keep) or removes them. */
FILE       *mr_stage(const char *dir, const char *name);
int         mr_stage_close(FILE *f);
int         mr_stage_finish(bool keep);
/* The folder to draw the plots into, renamed to dir/plots by mr_stage_finish(true). */
const char *mr_stage_plots_dir(const char *dir);

#endif /* MH_REPORT_H */
