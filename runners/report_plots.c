/*
 * Plots: write gnuplot data files under OUT/plots/data and run the scripts
 * in plots/ on them, once for PNG and once for SVG. The scripts get their
 * inputs as gnuplot variables (dat, out, fmt, machine, allocs, ...) so they
 * stay readable and runnable by hand.
 */
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct plot_ctx {
    const mr_set *set;
    const mr_opts *o;
    char data[4096], out[4096];
    int base;               /* index of the baseline allocator: glibc, else the first */
    mr_plotlist *made;
    int failed;             /* plots gnuplot failed on; the first of them: */
    char first_failed[48];
} plot_ctx;

/* The plots of one point per case read each case at its largest thread count that has
   a successful run: the set's largest (oversubscribed's 8 threads) left every other case
   of the targets set out of them. -1 when the case has none. */
static int case_top(const mr_set *set, int c)
{
    for (int ti = set->nthreads - 1; ti >= 0; ti--)
        for (int a = 0; a < set->nallocs; a++) {
            const mr_group *g = mr_group_at(set, c, ti, a);
            if (g && g->n) return ti;
        }
    return -1;
}

/* A microbenchmark's case (micro/...) is one loop of a process that ran every size in
   turn: its peak RSS and counters are the process's, so the plots of those leave it out
   (the targets set's 64 pair sizes buried its workloads' points). */
static bool is_micro_case(const mr_set *set, int c)
{
    return strncmp(set->cases[c], "micro/", 6) == 0;
}

static const mr_group *top_group(const mr_set *set, int c, int a)
{
    int ti = case_top(set, c);
    return ti < 0 ? NULL : mr_group_at(set, c, ti, a);
}

/* The thread count a plot's title names: the one all its cases share, or none. */
typedef struct thread_label {
    int threads;            /* 0 before the first case */
    bool mixed;
} thread_label;

static void label_case(thread_label *l, const mr_set *set, int c)
{
    int t = set->threads[case_top(set, c)];
    if (l->threads && l->threads != t) l->mixed = true;
    l->threads = t;
}

static void label_text(const thread_label *l, char *buf, size_t len)
{
    if (l->mixed) snprintf(buf, len, "each case at its largest thread count");
    else snprintf(buf, len, "%d thread%s", l->threads, l->threads == 1 ? "" : "s");
}

static FILE *data_file(const plot_ctx *p, const char *fmt, int arg)
{
    char name[256];
    snprintf(name, sizeof name, fmt, arg);
    return mr_fopen(p->data, name, "w");
}

/* Text for a single-quoted gnuplot string in the -e argument, where a quote is written
 * twice; in enhanced text (titles that are not noenhanced) _ ^ { } @ & ~ and the
 * backslash are markup, so they are escaped ("PREEMPT_DYNAMIC @0" lost its _ and @ when
 * they were blanked). The argument goes to gnuplot without a shell. */
static void plot_text(char *dst, size_t len, const char *src, bool enhanced)
{
    size_t n = 0;
    for (; *src && n + 3 < len; src++) {
        if (*src == '\'') dst[n++] = '\'';
        else if (enhanced && strchr("_^{}@&~\\", *src)) dst[n++] = '\\';
        dst[n++] = *src;
    }
    dst[n] = 0;
}

static void words(char *buf, size_t len, char *const *list, int n)
{
    size_t off = 0;
    buf[0] = 0;
    for (int i = 0; i < n && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? " " : "", list[i]);
}

/* Median, q1, q3 of a group scaled by 1/div; '?' (missing) when the group is empty. */
static void put_summary(FILE *f, const mr_group *g, double div)
{
    if (!g || g->n == 0 || !(div > 0)) fputs(" ? ? ?", f);
    else fprintf(f, " %g %g %g", g->s.median / div, g->s.q1 / div, g->s.q3 / div);
}

/* The representative run of a group: the one whose throughput is nearest the median. */
static const mr_run *median_run(const mr_group *g)
{
    const mr_run *best = NULL;
    for (int i = 0; g && i < g->n; i++)
        if (!best || fabs(g->thr[i] - g->s.median) < fabs(best->throughput - g->s.median))
            best = g->runs[i];
    return best;
}

/* gnuplot -e expr script, its stderr into log, without a shell: the expression holds the
   records' text (the machine line, case names), whose $ or ` a shell would have run. */
static int gnuplot_run(const char *expr, const char *script, const char *log)
{
    const char *gnuplot = getenv("MH_GNUPLOT") ? getenv("MH_GNUPLOT") : "gnuplot";
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (fd >= 0) dup2(fd, STDERR_FILENO);
        execlp(gnuplot, gnuplot, "-e", expr, script, (char *)NULL);
        _exit(127);
    }
    int status;
    if (pid < 0) return -1;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Runs gnuplot on plots/NAME.gp for PNG and SVG (PNG alone with --png-only); vars are extra
   "k=v; " assignments. */
static int run_script(plot_ctx *p, const char *name, const char *title, const char *vars)
{
    const mr_set *set = p->set;
    char line[512], machine[1024], allocs[1024], names[4096], cases[4096], base[256];
    char gp[4096 * 2], dat[4096 * 2], out[4096 * 2], expr[32768], script[4200], log[4200];
    mr_machine_line(set, line, sizeof line);
    plot_text(machine, sizeof machine, line, true);
    words(allocs, sizeof allocs, set->allocs, set->nallocs);   /* names of letters, digits, . _ - */
    words(names, sizeof names, set->cases, set->ncases);
    plot_text(cases, sizeof cases, names, false);   /* panel titles are noenhanced */
    plot_text(base, sizeof base, set->allocs[p->base], true);   /* in enhanced titles */
    plot_text(gp, sizeof gp, p->o->plots_src, false);
    plot_text(dat, sizeof dat, p->data, false);
    plot_text(out, sizeof out, p->out, false);
    snprintf(script, sizeof script, "%s/%s.gp", p->o->plots_src, name);
    snprintf(log, sizeof log, "%s/%s.log", p->data, name);
    for (int k = 0; k < (p->o->png_only ? 1 : 2); k++) {
        snprintf(expr, sizeof expr,
                 "fmt='%s'; gp='%s'; dat='%s'; out='%s'; machine='%s'; allocs='%s'; cases='%s'; "
                 "base=%d; basename='%s'; %s",
                 k ? "svg" : "png", gp, dat, out, machine, allocs, cases, p->base + 1, base, vars);
        if (gnuplot_run(expr, script, log) != 0) {
            if (!p->failed++) snprintf(p->first_failed, sizeof p->first_failed, "%s", name);
            /* a PNG drawn before its SVG failed would be left unlinked in plots/ */
            snprintf(expr, sizeof expr, "%s/%s.png", p->out, name);
            unlink(expr);
            return 2;
        }
    }
    mr_plotlist *m = p->made;
    if (m->n < 16) {
        snprintf(m->name[m->n], sizeof m->name[0], "%s", name);
        snprintf(m->title[m->n], sizeof m->title[0], "%s", title);
        m->n++;
    }
    return 0;
}

/* ---- throughput normalised to the baseline, bars per allocator, a panel per thread count ---- */
static int plot_normalised(plot_ctx *p)
{
    const mr_set *set = p->set;
    FILE *f = data_file(p, "normalised.dat", 0);
    if (!f) return 2;
    char tlist[256] = "";
    size_t off = 0;
    int widest = 0;
    for (int t = 0; t < set->nthreads; t++) {
        int rows = 0;
        for (int c = 0; c < set->ncases; c++) {
            mr_group *b = mr_group_at(set, c, t, p->base);
            if (!b || b->n == 0) continue;
            fprintf(f, "%s", set->cases[c]);
            for (int a = 0; a < set->nallocs; a++) put_summary(f, mr_group_at(set, c, t, a), b->s.median);
            fputc('\n', f);
            rows++;
        }
        if (!rows) continue;
        fputs("\n\n", f);     /* one gnuplot index per thread count */
        off += (size_t)snprintf(tlist + off, sizeof tlist - off, "%s%d", off ? " " : "", set->threads[t]);
        if (rows > widest) widest = rows;
    }
    fclose(f);
    if (!widest) return 0;
    char vars[400];
    int width = widest * (set->nallocs + 1) * 16 + 400;
    snprintf(vars, sizeof vars, "tlist='%s'; W=%d", tlist, width < 900 ? 900 : width);
    return run_script(p, "normalised", "Throughput normalised to the baseline", vars);
}

/* Does any allocator have a successful run of case c at thread count index t (any t if
   t < 0)? A panel of nothing but '?' stops gnuplot ("x range is invalid"), and with it
   every later plot. */
static bool has_runs(const mr_set *set, int c, int t)
{
    for (int ti = t < 0 ? 0 : t; ti < (t < 0 ? set->nthreads : t + 1); ti++)
        for (int a = 0; a < set->nallocs; a++) {
            const mr_group *g = mr_group_at(set, c, ti, a);
            if (g && g->n) return true;
        }
    return false;
}

/* ---- throughput vs threads, one panel per case that has runs ---- */
static int plot_scaling(plot_ctx *p)
{
    const mr_set *set = p->set;
    char list[1024] = "";
    size_t off = 0;
    for (int c = 0; c < set->ncases; c++) {
        if (!has_runs(set, c, -1)) continue;
        FILE *f = data_file(p, "scaling_%d.dat", c + 1);
        if (!f) return 2;
        for (int t = 0; t < set->nthreads; t++) {
            fprintf(f, "%d", set->threads[t]);
            for (int a = 0; a < set->nallocs; a++) put_summary(f, mr_group_at(set, c, t, a), 1e6);
            fputc('\n', f);
        }
        fclose(f);
        off += (size_t)snprintf(list + off, sizeof list - off, "%s%d", off ? " " : "", c + 1);
    }
    if (!off) return 0;
    char vars[1200];
    snprintf(vars, sizeof vars, "scases='%s'", list);
    return run_script(p, "scaling", "Throughput vs threads", vars);
}

/* ---- RSS over time: growth-storm and producer-consumer, largest thread count ---- */
static int plot_rss(plot_ctx *p)
{
    const mr_set *set = p->set;
    char list[1024] = "", tlist[1024] = "";
    size_t off = 0, toff = 0;
    thread_label label = { 0, false };
    for (int c = 0; c < set->ncases; c++) {
        if (!mr_case_is(set, c, "growth-storm") && !mr_case_is(set, c, "producer-consumer")) continue;
        if (case_top(set, c) < 0) continue;
        FILE *f = data_file(p, "rss_%d.dat", c + 1);
        if (!f) return 2;
        int points = 0;
        for (int a = 0; a < set->nallocs; a++) {
            const mr_run *r = median_run(top_group(set, c, a));
            const mh_jv *t = r ? mh_json_path(r->rec, "memory.rss_series.t_ms") : NULL;
            const mh_jv *rss = r ? mh_json_path(r->rec, "memory.rss_series.rss_kib") : NULL;
            fprintf(f, "# %s\n", set->allocs[a]);
            for (size_t i = 0; t && rss && t->type == MH_JARR && i < t->len && i < rss->len; i++, points++)
                fprintf(f, "%g %g\n", t->items[i].num, rss->items[i].num / 1024);
            fputs(t && t->len ? "\n\n" : "NaN NaN\n\n\n", f);
        }
        fclose(f);
        if (!points) continue;
        off += (size_t)snprintf(list + off, sizeof list - off, "%s%d", off ? " " : "", c + 1);
        toff += (size_t)snprintf(tlist + toff, sizeof tlist - toff, "%s%d", toff ? " " : "",
                                 set->threads[case_top(set, c)]);
        label_case(&label, set, c);
    }
    if (!off) return 0;
    char vars[2400], threads[64];
    label_text(&label, threads, sizeof threads);
    snprintf(vars, sizeof vars, "rsscases='%s'; rssthreads='%s'; threads='%s'", list, tlist, threads);
    return run_script(p, "rss", "RSS over time", vars);
}

/* ---- latency percentiles per allocator, malloc / free local / free remote apart ---- */
static const char *const lat_kinds[] = { "malloc", "free_local", "free_remote" };
static const char *const lat_stats[] = { "p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns" };

static int plot_latency(plot_ctx *p)
{
    const mr_set *set = p->set;
    char kinds[128] = "";
    size_t off = 0;
    for (int k = 0; k < 3; k++) {
        FILE *f = data_file(p, "latency_%d.dat", k + 1);
        if (!f) return 2;
        int seen = 0;
        for (int a = 0; a < set->nallocs; a++) {
            fprintf(f, "%s", set->allocs[a]);
            for (int s = 0; s < 5; s++) {
                double v[4096];
                int n = 0;
                for (size_t i = 0; i < set->nruns && n < 4096; i++) {
                    const mr_run *r = &set->runs[i];
                    if (!r->ok || r->warmup || strcmp(r->alloc, set->allocs[a]) != 0) continue;
                    const mh_jv *x = mh_json_get(mh_json_get(mh_json_get(r->rec, "latency"), lat_kinds[k]), lat_stats[s]);
                    if (x && x->type == MH_JNUM && x->num > 0) v[n++] = x->num;
                }
                mr_summary sum;
                mr_summarise(v, n, &sum);
                if (n) fprintf(f, " %g", sum.median), seen++;
                else fputs(" ?", f);
            }
            fputc('\n', f);
        }
        fclose(f);
        if (seen) off += (size_t)snprintf(kinds + off, sizeof kinds - off, "%s%d", off ? " " : "", k + 1);
    }
    if (!off) return 0;
    char vars[256];
    snprintf(vars, sizeof vars, "kinds='%s'", kinds);
    return run_script(p, "latency", "Latency percentiles", vars);
}

/* ---- counters per operation, a panel per counter that has values ---- */
static const char *const counter_names[] = {
    "page_faults", "context_switches", "cpu_migrations", "task_clock_ns",
    "cycles", "instructions", "cache_misses", "dtlb_misses", "branch_misses" };

static double counter_of(const mr_run *r, const char *name)
{
    bool present;
    double v = mr_counter_per_op(r->rec, name, &present);
    return present ? v : NAN;
}

static int plot_counters(plot_ctx *p)
{
    const mr_set *set = p->set;
    char list[512] = "";
    size_t off = 0;
    thread_label label = { 0, false };
    int ncounters = sizeof counter_names / sizeof *counter_names;
    for (int k = 0; k < ncounters; k++) {
        FILE *f = data_file(p, "counter_%d.dat", k + 1);
        if (!f) return 2;
        int seen = 0;
        for (int c = 0; c < set->ncases; c++) {
            if (is_micro_case(set, c)) continue;
            fprintf(f, "%s", set->cases[c]);
            if (k == 0 && case_top(set, c) >= 0) label_case(&label, set, c);
            for (int a = 0; a < set->nallocs; a++) {
                const mr_group *g = top_group(set, c, a);
                double v[256];
                int n = 0;
                for (int i = 0; g && i < g->n && n < 256; i++)
                    if (isfinite(v[n] = counter_of(g->runs[i], counter_names[k]))) n++;
                mr_summary s;
                mr_summarise(v, n, &s);
                if (n) fprintf(f, " %g", s.median), seen += s.median != 0;
                else fputs(" ?", f);
            }
            fputc('\n', f);
        }
        fclose(f);
        if (seen)       /* a counter that is zero everywhere gets no (empty) panel */
            off += (size_t)snprintf(list + off, sizeof list - off, "%s%d:%s", off ? " " : "", k + 1, counter_names[k]);
    }
    if (!off) return 0;
    char vars[800], threads[64];
    label_text(&label, threads, sizeof threads);
    snprintf(vars, sizeof vars, "counters='%s'; threads='%s'", list, threads);
    return run_script(p, "counters", "Counters per operation", vars);
}

/* ---- cross-core-free: throughput vs the remote fraction, a panel per thread count.
 * Only the cases of a --remote sweep (their names carry remote=), so that a
 * case run for another reason does not land on the same x. ---- */
typedef struct remote_point { double remote; int c; } remote_point;

static int cmp_remote(const void *a, const void *b)
{
    double x = ((const remote_point *)a)->remote, y = ((const remote_point *)b)->remote;
    return (x > y) - (x < y);
}

static int plot_remote(plot_ctx *p)
{
    const mr_set *set = p->set;
    remote_point pts[256];
    int n = 0;
    char buf[64];
    for (int c = 0; c < set->ncases && n < 256; c++)
        if (mr_case_is(set, c, "cross-core-free") && strstr(set->cases[c], "remote=") &&
            *mr_case_param(set, c, "remote", buf, sizeof buf))
            pts[n++] = (remote_point){ atof(buf), c };
    if (n < 2) return 0;
    qsort(pts, (size_t)n, sizeof *pts, cmp_remote);
    char tlist[256] = "";
    size_t off = 0;
    for (int t = 0; t < set->nthreads; t++) {
        if (set->threads[t] < 2 && set->nthreads > 1) continue;
        bool any = false;
        for (int i = 0; i < n; i++) any |= has_runs(set, pts[i].c, t);
        if (!any) continue;
        FILE *f = data_file(p, "remote_%d.dat", set->threads[t]);
        if (!f) return 2;
        for (int i = 0; i < n; i++) {
            fprintf(f, "%g", pts[i].remote);
            for (int a = 0; a < set->nallocs; a++) put_summary(f, mr_group_at(set, pts[i].c, t, a), 1e6);
            fputc('\n', f);
        }
        fclose(f);
        off += (size_t)snprintf(tlist + off, sizeof tlist - off, "%s%d", off ? " " : "", set->threads[t]);
    }
    if (!off) return 0;
    char vars[400];
    snprintf(vars, sizeof vars, "tlist='%s'", tlist);
    return run_script(p, "remote", "Throughput vs remote-free fraction", vars);
}

/* ---- size-sweep: ns per operation against the block size, a panel per case, at the
 * case's smallest thread count; a line per allocator, the median of its repetitions ---- */
static int plot_sizes(plot_ctx *p)
{
    const mr_set *set = p->set;
    char list[1024] = "", tlist[256] = "";
    size_t off = 0, toff = 0;
    for (int c = 0; c < set->ncases; c++) {
        int t = mr_case_fewest_threads(set, c);
        if (!mr_case_is(set, c, "size-sweep") || t < 0) continue;
        FILE *f = data_file(p, "sizes_%d.dat", c + 1);
        if (!f) return 2;
        int points = 0;
        for (size_t i = 0;; i++) {
            double x = NAN, y[64];
            bool any = false;
            for (int a = 0; a < set->nallocs && a < 64; a++) {
                y[a] = NAN;
                any |= mr_series_point(mr_group_at(set, c, t, a), "extra.size_bytes", "extra.ns_per_op",
                                       i, &x, &y[a]);
            }
            if (!any) break;
            fprintf(f, "%g", x);
            for (int a = 0; a < set->nallocs && a < 64; a++)
                isfinite(y[a]) ? fprintf(f, " %g", y[a]) : fputs(" ?", f);
            fputc('\n', f);
            points++;
        }
        fclose(f);
        if (!points) continue;
        off += (size_t)snprintf(list + off, sizeof list - off, "%s%d", off ? " " : "", c + 1);
        toff += (size_t)snprintf(tlist + toff, sizeof tlist - toff, "%s%d", toff ? " " : "", set->threads[t]);
    }
    if (!off) return 0;
    char vars[1400];
    snprintf(vars, sizeof vars, "sizecases='%s'; sizethreads='%s'", list, tlist);
    return run_script(p, "sizes", "Cost per operation by block size (size-sweep)", vars);
}

/* ---- time vs memory: a point per allocator per case, relative to the baseline ---- */
static int plot_tradeoff(plot_ctx *p)
{
    const mr_set *set = p->set;
    FILE *f = data_file(p, "tradeoff.dat", 0);
    if (!f) return 2;
    int points = 0;
    thread_label label = { 0, false };
    for (int a = 0; a < set->nallocs; a++) {
        fprintf(f, "# %s: peak RSS ratio, ns/op ratio, case (named when far from 1,1)\n", set->allocs[a]);
        int here = 0;
        for (int c = 0; c < set->ncases; c++) {
            const mr_group *g = top_group(set, c, a), *b = top_group(set, c, p->base);
            if (is_micro_case(set, c) || !g || !b || !g->n || !b->n) continue;
            label_case(&label, set, c);
            double rss = g->rss_median_kib / b->rss_median_kib, t = g->nsop_median / b->nsop_median;
            if (!isfinite(rss) || !isfinite(t) || rss <= 0 || t <= 0) continue;
            /* name only the points away from the baseline: near (1,1) names would pile up */
            bool far = fabs(log(rss)) > 0.25 || fabs(log(t)) > 0.25;
            fprintf(f, "%g %g \"%s\"\n", rss, t, far ? set->cases[c] : "");
            here++;
        }
        points += here;
        fputs(here ? "\n\n" : "NaN NaN none\n\n\n", f);
    }
    fclose(f);
    if (!points) return 0;
    char vars[128], threads[64];
    label_text(&label, threads, sizeof threads);
    snprintf(vars, sizeof vars, "threads='%s'", threads);
    return run_script(p, "tradeoff", "Time vs memory", vars);
}

/* ---- multiheap's own statistics: remote-free heatmap, pages stolen / grown per heap ---- */

/* The multiheap run with the most remote frees shows the matrix best. */
static const mr_run *busiest_stats(const mr_set *set)
{
    const mr_run *best = NULL;
    double most = -1;
    for (size_t i = 0; i < set->nruns; i++) {
        const mr_run *r = &set->runs[i];
        const mh_jv *st = mh_json_get(r->rec, "allocator_stats");
        if (!r->ok || r->warmup || !st || st->type != MH_JOBJ) continue;
        double rf = mh_json_num_or(mh_json_get(st, "remote_frees"), 0);
        if (rf > most) most = rf, best = r;
    }
    return best;
}

static int plot_mhstats(plot_ctx *p)
{
    const mr_run *run = busiest_stats(p->set);
    if (!run) return 0;
    const mh_jv *st = mh_json_get(run->rec, "allocator_stats");
    const mh_jv *matrix = mh_json_get(st, "remote_free_matrix"), *heaps = mh_json_get(st, "heaps");
    FILE *f = data_file(p, "mh_remote.dat", 0);
    if (!f) return 2;
    size_t rows = matrix && matrix->type == MH_JARR ? matrix->len : 0;
    for (size_t r = 0; r < rows; r++) {
        const mh_jv *row = &matrix->items[r];
        for (size_t c = 0; row->type == MH_JARR && c < row->len; c++)
            fprintf(f, "%s%g", c ? " " : "", row->items[c].num);
        fputc('\n', f);
    }
    fclose(f);
    if (!(f = data_file(p, "mh_pages.dat", 0))) return 2;
    for (size_t h = 0; heaps && heaps->type == MH_JARR && h < heaps->len; h++)
        fprintf(f, "%g %g %g %g\n", mh_json_num_or(mh_json_get(&heaps->items[h], "heap"), (double)h),
                mh_json_num_or(mh_json_get(&heaps->items[h], "pages_stolen"), 0),
                mh_json_num_or(mh_json_get(&heaps->items[h], "pages_given"), 0),
                mh_json_num_or(mh_json_get(&heaps->items[h], "os_grow_calls"), 0));
    fclose(f);
    if (rows == 0 && !(heaps && heaps->len)) return 0;
    char vars[1200], name[512], which[1024];
    snprintf(name, sizeof name, "%s rep %d", run->cell ? run->cell : run->workload, run->rep);
    plot_text(which, sizeof which, name, true);
    snprintf(vars, sizeof vars, "has_matrix=%d; has_heaps=%d; which='%s'", rows > 0, heaps && heaps->len > 0, which);
    return run_script(p, "mhstats", "multiheap statistics", vars);
}

bool mr_gnuplot_found(void)
{
    const char *gnuplot = getenv("MH_GNUPLOT") ? getenv("MH_GNUPLOT") : "gnuplot";
    char probe[1024];
    snprintf(probe, sizeof probe, "command -v '%s' >/dev/null 2>&1", gnuplot);
    if (system(probe) == 0) return true;
    fprintf(stderr, "mhreport: gnuplot not found; install it (./run.sh setup, or apt-get install "
                    "gnuplot-nox) and run ./run.sh report again, or report with --no-plots (the CSV is "
                    "written, the records and any earlier report are kept)\n");
    return false;
}

/* One line for every plot gnuplot failed on: how many, and the last line of the first
   one's log (gnuplot's own error), which is kept only where some plot was made. */
static void say_failed(const plot_ctx *p)
{
    char log[4200], line[512] = "", last[512] = "no message";
    snprintf(log, sizeof log, "%s/%s.log", p->data, p->first_failed);
    FILE *f = fopen(log, "r");
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0]) snprintf(last, sizeof last, "%s", line);
    }
    if (f) fclose(f);
    if (!p->made->n)
        fprintf(stderr, "mhreport: gnuplot failed on every plot (%s: %s); no report was written, and "
                "an earlier one stays as it was (check gnuplot and --plots-src, or report with --no-plots)\n",
                p->first_failed, last);
    else
        fprintf(stderr, "mhreport: gnuplot failed on %d plot(s), left out of the report (%s: %s; "
                "logs in %s/plots/data/)\n", p->failed, p->first_failed, last, p->o->out_dir);
}

int mr_make_plots(const mr_set *set, const mr_opts *o, mr_plotlist *made)
{
    plot_ctx p = { .set = set, .o = o, .made = made };
    snprintf(p.out, sizeof p.out, "%s", mr_stage_plots_dir(o->out_dir));
    snprintf(p.data, sizeof p.data, "%.4090s/data", p.out);
    snprintf(made->dir, sizeof made->dir, "%s", p.out);
    mkdir(p.out, 0777);
    mkdir(p.data, 0777);
    p.base = mr_alloc_index(set, "glibc") >= 0 ? mr_alloc_index(set, "glibc") : 0;
    int (*const steps[])(plot_ctx *) = {
        plot_normalised, plot_scaling, plot_rss, plot_latency, plot_counters,
        plot_remote, plot_sizes, plot_tradeoff, plot_mhstats };
    /* A plot that fails leaves the others to be drawn. */
    int rc = 0;
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        int step_rc = steps[i](&p);
        if (!rc) rc = step_rc;
    }
    if (p.failed) say_failed(&p);
    /* The data stays where a plot failed: its log says why. */
    if (o->png_only && rc == 0) mr_remove_tree(p.data);
    return rc;
}
