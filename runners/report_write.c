/*
 * report.md and report.html, written side by side by one set of calls (doc_*)
 * so that the two always say the same thing. The HTML is self-contained: the
 * PNG plots are embedded as base64 data URIs.
 */
#include "report.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void html_escaped(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else if (*s == '"') fputs("&quot;", f);
        else fputc(*s, f);
    }
}

/* A table cell on one line: newlines would end the row, '|' would split it. */
static void md_cell(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|') fputs("\\|", f);
        else if (*s == '\n' || *s == '\r') fputc(' ', f);
        else fputc(*s, f);
    }
}

void doc_heading(doc *d, int level, const char *text)
{
    fprintf(d->md, "\n%.*s %s\n\n", level, "######", text);
    fprintf(d->html, "<h%d>", level);
    html_escaped(d->html, text);
    fprintf(d->html, "</h%d>\n", level);
}

void doc_para(doc *d, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(d->md, "%s\n\n", buf);
    fputs("<p>", d->html);
    html_escaped(d->html, buf);
    fputs("</p>\n", d->html);
}

static void doc_code(doc *d, const char *text)
{
    fprintf(d->md, "```\n%s\n```\n\n", text);
    fputs("<pre>", d->html);
    html_escaped(d->html, text);
    fputs("</pre>\n", d->html);
}

/* Cells are separated by '\t' in one string: rows read like the table they make. */
void doc_row(doc *d, const char *cells, bool header)
{
    char *copy = strdup(cells), *save = NULL;
    int n = 0;
    fputs("|", d->md);
    fputs("<tr>", d->html);
    for (char *c = strtok_r(copy, "\t", &save); c; c = strtok_r(NULL, "\t", &save), n++) {
        fputc(' ', d->md);
        md_cell(d->md, c);
        fputs(" |", d->md);
        fputs(header ? "<th>" : "<td>", d->html);
        html_escaped(d->html, c);
        fputs(header ? "</th>" : "</td>", d->html);
    }
    fputs("\n", d->md);
    fputs("</tr>\n", d->html);
    if (header) {
        fputs("|", d->md);
        for (int i = 0; i < n; i++) fputs("---|", d->md);
        fputs("\n", d->md);
    }
    free(copy);
}

void doc_table_begin(doc *d, const char *header)
{
    fputs("<table>\n", d->html);
    doc_row(d, header, true);
}

void doc_table_end(doc *d)
{
    fputs("\n", d->md);
    fputs("</table>\n", d->html);
}

static void base64_file(FILE *out, const char *path)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    FILE *f = fopen(path, "rb");
    if (!f) return;
    unsigned char in[3];
    size_t n;
    while ((n = fread(in, 1, 3, f)) > 0) {
        unsigned v = in[0] << 16 | (n > 1 ? in[1] << 8 : 0) | (n > 2 ? in[2] : 0);
        fputc(tab[v >> 18 & 63], out);
        fputc(tab[v >> 12 & 63], out);
        fputc(n > 1 ? tab[v >> 6 & 63] : '=', out);
        fputc(n > 2 ? tab[v & 63] : '=', out);
    }
    fclose(f);
}

/* A plot: its PNG, and links to its SVG and data unless the report has none (--png-only). */
static void doc_image(doc *d, const char *drawn_in, const char *name, const char *title, bool links)
{
    fprintf(d->md, "### %s\n\n![%s](plots/%s.png)\n\n", title, title, name);
    if (links) fprintf(d->md, "[SVG](plots/%s.svg) · [data](plots/data/)\n\n", name);
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.png", drawn_in, name);
    fputs("<h3>", d->html);
    html_escaped(d->html, title);
    fputs("</h3>\n<img alt=\"", d->html);
    html_escaped(d->html, title);
    fputs("\" src=\"data:image/png;base64,", d->html);
    base64_file(d->html, path);
    fputs("\">", d->html);
    if (links) fprintf(d->html, "<p><a href=\"plots/%s.svg\">SVG</a></p>", name);
    fputc('\n', d->html);
}

/* ---- sections ---- */

/* "VAR=VALUE VAR=VALUE" of an object of strings, after prefix; "" when empty. */
static size_t env_text(const mh_jv *env, const char *prefix, char *buf, size_t len, size_t off)
{
    for (size_t i = 0; env && env->type == MH_JOBJ && i < env->len && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%s%s=%s", off ? " " : "", i ? "" : prefix,
                                env->keys[i], mh_json_str_or(&env->items[i], "?"));
    return off;
}

/* What served a run, as a row of the allocator table (without the run count): two runs
 * with different rows under one name ran different allocators. The file hash tells
 * two builds of one path apart. */
static void allocator_row(const mr_run *r, char *row, size_t len)
{
    const mh_jv *al = mh_json_get(r->rec, "allocator"), *ver = mh_json_get(al, "verified");
    char vars[512] = "";
    size_t off = env_text(mh_json_get(al, "env"), "", vars, sizeof vars, 0);
    off = env_text(mh_json_get(al, "inherited_env"), "inherited: ", vars, sizeof vars, off);
    const char *hash = mh_json_str_or(mh_json_get(al, "file_hash"), NULL);
    snprintf(row, len, "%s\t%s\t%s%s%s%s\t%s\t%s", r->alloc, mh_json_str_or(mh_json_get(al, "version"), "?"),
             mh_json_str_or(mh_json_get(al, "served_by"), "?"), hash ? " (" : "", hash ? hash : "",
             hash ? ")" : "", off ? vars : "-",
             ver && ver->type == MH_JBOOL ? (ver->b ? "yes" : "NO") : "?");
}

static void section_environment(doc *d, const mr_set *set)
{
    doc_heading(d, 2, "Environment");
    static const char *const keys[] = {
        "host", "cpu_model", "cpu_id", "cpus_online", "cores", "packages", "numa_nodes", "smt", "kernel",
        "glibc", "compiler", "thp", "overcommit", "governor" };
    doc_table_begin(d, "property\tvalue");
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const mh_jv *v = mh_json_get(set->env, keys[i]);
        char row[1024];
        if (!v) snprintf(row, sizeof row, "%s\t(not recorded: records from before the driver wrote it)", keys[i]);
        else if (v->type == MH_JNULL) snprintf(row, sizeof row, "%s\t(not readable)", keys[i]);
        else if (v->type == MH_JSTR) snprintf(row, sizeof row, "%s\t%s", keys[i], v->str[0] ? v->str : "(empty)");
        else if (v->type == MH_JBOOL) snprintf(row, sizeof row, "%s\t%s", keys[i], v->b ? "yes" : "no");
        else if (v->type == MH_JNUM) snprintf(row, sizeof row, "%s\t%g", keys[i], v->num);
        else continue;
        doc_row(d, row, false);
    }
    const mh_jv *caches = mh_json_get(set->env, "caches");
    for (size_t i = 0; caches && caches->type == MH_JARR && i < caches->len; i++) {
        char row[256];
        const mh_jv *c = &caches->items[i];
        snprintf(row, sizeof row, "cache L%g\t%g KiB, shared by %g CPUs",
                 mh_json_num_or(mh_json_get(c, "level"), 0), mh_json_num_or(mh_json_get(c, "size_kib"), 0),
                 mh_json_num_or(mh_json_get(c, "shared_by_cpus"), 0));
        doc_row(d, row, false);
    }
    doc_table_end(d);

    doc_table_begin(d, "allocator\tversion\tserved by\tvariables\tverified\tsuccessful runs (warm-up too)");
    int mixed = 0;
    for (int a = 0; a < set->nallocs; a++) {
        char rows[8][2048];
        int nrows = 0, count[8] = { 0 };
        for (size_t i = 0; i < set->nruns; i++) {
            const mr_run *r = &set->runs[i];
            if (!r->ok || strcmp(r->alloc, set->allocs[a]) != 0) continue;
            char row[2048];
            allocator_row(r, row, sizeof row);
            int k = 0;
            while (k < nrows && strcmp(rows[k], row) != 0) k++;
            if (k == nrows && nrows < 8) snprintf(rows[nrows++], sizeof rows[0], "%s", row);
            if (k < nrows) count[k]++;
        }
        for (int k = 0; k < nrows; k++) {
            char row[2100];
            snprintf(row, sizeof row, "%.2047s\t%d", rows[k], count[k]);
            doc_row(d, row, false);
        }
        mixed += nrows > 1;
    }
    doc_table_end(d);
    if (mixed)
        doc_para(d, "**Warning:** %d allocator name%s above stand%s for more than one library or setting "
                 "(one row each): %s cells pool runs of different allocators. Report such result sets "
                 "separately, or name each library differently.", mixed, mixed > 1 ? "s" : "",
                 mixed > 1 ? "" : "s", mixed > 1 ? "their" : "its");
}

static double ratio_to(const mr_set *set, const mr_group *g, int other)
{
    const mr_group *o = other >= 0 ? mr_group_at(set, g->ci, g->ti, other) : NULL;
    return o && o->n && g->n ? g->s.median / o->s.median : NAN;
}

static void fmt_ratio(char *buf, size_t len, double r)
{
    if (isfinite(r)) snprintf(buf, len, "%.2f", r);
    else snprintf(buf, len, "-");
}

static int distinct_allocators(const mr_set *set)
{
    int n = 0;
    for (int a = 0; a < set->nallocs; a++) n += !set->variant[a];
    return n;
}

/* Is allocator a ranked for winners and wins? A variant runs its base's library under
   other variables: ranked with the distinct allocators, multiheap's six in the targets set
   would take the wins from each other and from multiheap (2 wins against its 6 over the
   five distinct allocators). A set with fewer than two distinct allocators (an A/B set of
   two variants) ranks them all. */
static bool contender(const mr_set *set, int a)
{
    return !set->variant[a] || distinct_allocators(set) < 2;
}

/* How the report ranks, when the set has variants: for the paragraphs that use winners. */
static const char *ranking_text(const mr_set *set)
{
    if (distinct_allocators(set) == set->nallocs) return "";
    if (distinct_allocators(set) < 2)
        return " Fewer than two of the allocators are not variants (a base's library under other "
               "variables), so all of them are ranked.";
    return " Winners and wins are decided among the distinct allocators. A variant (a spec that sets "
           "variables on a base, such as multiheap-seed: the base's library set up otherwise) is no "
           "competitor: it keeps its column and rows, and its wins read \"-\"; the seed ladder's "
           "variants are compared with the seed in \"seed design vs multiheap\".";
}

/* Best and runner-up allocator of one case x threads, by median throughput. */
static void rank_two(const mr_set *set, int c, int t, const mr_group **best, const mr_group **second)
{
    *best = *second = NULL;
    for (int a = 0; a < set->nallocs; a++) {
        const mr_group *g = mr_group_at(set, c, t, a);
        if (!g || !g->n || !contender(set, a)) continue;
        if (!*best || g->s.median > (*best)->s.median) *second = *best, *best = g;
        else if (!*second || g->s.median > (*second)->s.median) *second = g;
    }
}

static void winner_text(const mr_set *set, int c, int t, char *buf, size_t len)
{
    const mr_group *best, *second;
    rank_two(set, c, t, &best, &second);
    if (!best) snprintf(buf, len, "-");
    else if (second && mr_ci_overlap(&best->s, &second->s))
        snprintf(buf, len, "%s ≈ %s (within noise)", set->allocs[best->ai], set->allocs[second->ai]);
    else
        snprintf(buf, len, "%s", set->allocs[best->ai]);
    bool some_failed = false;
    for (int a = 0; a < set->nallocs; a++) {
        const mr_group *g = mr_group_at(set, c, t, a);
        some_failed |= g && g->n && g->nfailed && contender(set, a);
    }
    if (best && some_failed) snprintf(buf + strlen(buf), len - strlen(buf), ", on medians some failed runs flatter");
}

static void section_summary(doc *d, const mr_set *set, int base)
{
    doc_heading(d, 2, "Summary: throughput relative to the baseline");
    doc_para(d, "Each cell: median throughput of the allocator divided by the median of %s "
                "(higher is better). The winner has the highest median; \"≈\" marks a winner whose "
                "confidence interval of the median overlaps the runner-up's: the difference is within noise. "
                "\"(k failed)\": k of the cell's runs failed and its median is over the others, which a "
                "run that timed out, the slowest, would flatter; the geometric means leave such cells out.%s",
             set->allocs[base], ranking_text(set));
    char head[2048] = "case\tthreads";
    for (int a = 0; a < set->nallocs; a++)
        strncat(head, "\t", sizeof head - strlen(head) - 1), strncat(head, set->allocs[a], sizeof head - strlen(head) - 1);
    strncat(head, "\twinner", sizeof head - strlen(head) - 1);
    doc_table_begin(d, head);
    for (int c = 0; c < set->ncases; c++)
        for (int t = 0; t < set->nthreads; t++) {
            char row[4096], cellbuf[64], win[256];
            size_t off = (size_t)snprintf(row, sizeof row, "%s\t%d", set->cases[c], set->threads[t]);
            bool ran = false;
            for (int a = 0; a < set->nallocs; a++) ran |= mr_group_at(set, c, t, a) != NULL;
            if (!ran) continue;
            for (int a = 0; a < set->nallocs; a++) {
                const mr_group *g = mr_group_at(set, c, t, a);
                if (g && g->n) fmt_ratio(cellbuf, sizeof cellbuf, ratio_to(set, g, base));
                else snprintf(cellbuf, sizeof cellbuf, g && g->nfailed ? "failed" : "-");
                if (g && g->n && g->nfailed)
                    snprintf(cellbuf + strlen(cellbuf), sizeof cellbuf - strlen(cellbuf), " (%d failed)", g->nfailed);
                off += (size_t)snprintf(row + off, sizeof row - off, "\t%s", cellbuf);
            }
            winner_text(set, c, t, win, sizeof win);
            snprintf(row + off, sizeof row - off, "\t%s", win);
            doc_row(d, row, false);
        }
    doc_table_end(d);
}

static void section_details(doc *d, const mr_set *set)
{
    int glibc = mr_alloc_index(set, "glibc"), tc = mr_alloc_index(set, "tcmalloc");
    doc_heading(d, 2, "Details per workload case, threads and allocator");
    doc_para(d, "Throughput in Mops/s over the measured repetitions (warm-up runs excluded). "
                "IQR: first to third quartile. CI: order-statistic confidence interval of the median; "
                "its exact coverage is given, because below 6 repetitions no such interval reaches 95%% "
                "(min..max then).");
    doc_table_begin(d, "case\tthreads\tallocator\tn\tmedian Mops/s\tIQR\tCI of median (coverage)\t"
                       "x glibc\tx tcmalloc\tpeak RSS MiB\tfailed\tnote");
    for (int c = 0; c < set->ncases; c++)
        for (int t = 0; t < set->nthreads; t++) {
            const mr_group *best, *second;
            rank_two(set, c, t, &best, &second);
            for (int a = 0; a < set->nallocs; a++) {
                const mr_group *g = mr_group_at(set, c, t, a);
                if (!g) continue;
                char row[2048], rg[32], rt[32], note[128] = "";
                fmt_ratio(rg, sizeof rg, ratio_to(set, g, glibc));
                fmt_ratio(rt, sizeof rt, ratio_to(set, g, tc));
                if (g == best)
                    snprintf(note, sizeof note, "%s", second && mr_ci_overlap(&g->s, &second->s)
                             ? "winner, within noise" : "winner");
                if (!g->n) {
                    snprintf(row, sizeof row, "%s\t%d\t%s\t0\t-\t-\t-\t-\t-\t-\t%d\tall runs failed",
                             set->cases[c], set->threads[t], set->allocs[a], g->nfailed);
                } else {
                    snprintf(row, sizeof row,
                             "%s\t%d\t%s\t%d\t%.3f\t%.3f-%.3f\t%.3f-%.3f (%.0f%%)\t%s\t%s\t%.1f\t%d\t%s",
                             set->cases[c], set->threads[t], set->allocs[a], g->n, g->s.median / 1e6,
                             g->s.q1 / 1e6, g->s.q3 / 1e6, g->s.ci_lo / 1e6, g->s.ci_hi / 1e6,
                             g->s.ci_coverage * 100, rg, rt, g->rss_median_kib / 1024, g->nfailed,
                             note[0] ? note : " ");
                }
                doc_row(d, row, false);
            }
        }
    doc_table_end(d);
}

/* Did every allocator of the set run case ci at thread count ti, every run of it
   successfully? A median over the runs that did not fail flatters a cell that lost its
   slowest (a timeout). */
static bool all_ran(const mr_set *set, int ci, int ti)
{
    for (int a = 0; a < set->nallocs; a++) {
        const mr_group *g = mr_group_at(set, ci, ti, a);
        if (!g || !g->n || g->nfailed) return false;
    }
    return true;
}

/* Geometric mean of a's median / other's over the cells every allocator ran: one that
   fails its weak cells must not be averaged over its strong ones alone. */
static double geomean_ratio(const mr_set *set, int a, int other, int *count)
{
    double logsum = 0;
    *count = 0;
    if (other < 0) return NAN;
    for (int i = 0; i < set->ngroups; i++) {
        const mr_group *g = &set->groups[i];
        if (g->ai != a || !all_ran(set, g->ci, g->ti)) continue;
        double r = ratio_to(set, g, other);
        if (isfinite(r) && r > 0) logsum += log(r), (*count)++;
    }
    return *count ? exp(logsum / *count) : NAN;
}

/* What "clear" risks at the repetitions of the cells wins count: the fewest and most runs
   of a ranked allocator there, and how often intervals of that many runs miss each other
   with no difference at all: at 3 runs one such pair in 10 reads as clear, which a count of
   clear wins does not show. "" when no cell counts. */
static void clear_text(const mr_set *set, char *buf, size_t len)
{
    int least = 0, most = 0;
    for (int i = 0; i < set->ngroups; i++) {
        const mr_group *g = &set->groups[i];
        if (!contender(set, g->ai) || !all_ran(set, g->ci, g->ti)) continue;
        if (!least || g->n < least) least = g->n;
        if (g->n > most) most = g->n;
    }
    buf[0] = 0;
    if (!least) return;
    size_t off = (size_t)snprintf(buf, len, " A win is clear where the winner's confidence interval of the median "
                                  "and the runner-up's do not overlap (at 8 runs or fewer the interval is min..max: the "
                                  "two ranges of runs apart). These cells have ");
    if (least == most) off += (size_t)snprintf(buf + off, len - off, "%d runs an allocator", least);
    else off += (size_t)snprintf(buf + off, len - off, "%d to %d runs an allocator", least, most);
    off += (size_t)snprintf(buf + off, len - off, "; two allocators that do not differ at all have intervals "
                            "apart by chance %.1f%% of the time at %d runs each", mr_apart_by_chance(least, least) * 100,
                            least);
    if (least != most)
        off += (size_t)snprintf(buf + off, len - off, ", %.1f%% at %d", mr_apart_by_chance(most, most) * 100, most);
    snprintf(buf + off, len - off, ".");
}

/* Allocator a's wins and clear wins over the cells the geometric means count. */
static void count_wins(const mr_set *set, int a, int *wins, int *clear)
{
    *wins = *clear = 0;
    for (int c = 0; c < set->ncases; c++)
        for (int t = 0; t < set->nthreads; t++) {
            const mr_group *best, *second;
            if (!all_ran(set, c, t)) continue;
            rank_two(set, c, t, &best, &second);
            if (best && best->ai == a) {
                (*wins)++;
                /* alone in the set: a win, but nothing to be clear of */
                *clear += second && !mr_ci_overlap(&best->s, &second->s);
            }
        }
}

static void section_geomeans(doc *d, const mr_set *set)
{
    int glibc = mr_alloc_index(set, "glibc"), tc = mr_alloc_index(set, "tcmalloc");
    char clear_note[512];
    clear_text(set, clear_note, sizeof clear_note);
    doc_heading(d, 2, "Geometric means");
    doc_para(d, "Geometric mean, over every workload case and thread count that all the allocators ran "
                "(a cell with a failed run of one of them is left out for all), of the allocator's "
                "median throughput divided by glibc's and by tcmalloc's (above 1: faster). Wins count the "
                "same cells where the allocator had the highest median, and how many of those were clear "
                "of noise.%s%s", clear_note, ranking_text(set));
    doc_table_begin(d, "allocator\tgeomean x glibc\tgeomean x tcmalloc\tcells\twins\tclear wins");
    for (int a = 0; a < set->nallocs; a++) {
        int n1, n2, wins, clear;
        double g1 = geomean_ratio(set, a, glibc, &n1), g2 = geomean_ratio(set, a, tc, &n2);
        count_wins(set, a, &wins, &clear);
        char row[512], r1[32], r2[32], won[32] = "-\t-";
        fmt_ratio(r1, sizeof r1, g1);
        fmt_ratio(r2, sizeof r2, g2);
        if (contender(set, a)) snprintf(won, sizeof won, "%d\t%d", wins, clear);
        snprintf(row, sizeof row, "%s\t%s\t%s\t%d\t%s", set->allocs[a], r1, r2, n1 > n2 ? n1 : n2, won);
        doc_row(d, row, false);
    }
    doc_table_end(d);
}

/* Median of a numeric field of the group's records (a dotted path), NaN where none has it. */
static double median_at(const mr_group *g, const char *path)
{
    double v[g->n > 0 ? g->n : 1];
    int n = 0;
    for (int i = 0; i < g->n; i++) {
        const mh_jv *x = mh_json_path(g->runs[i]->rec, path);
        if (x && x->type == MH_JNUM) v[n++] = x->num;
    }
    mr_summary s;
    mr_summarise(v, n, &s);
    return s.median;
}

/* Where multiheap's memory sat when its runs ended: the free objects its front caches and
   stashes held back from their pages, next to the RSS, so that an RSS gap to a peer can be
   told apart from live data and empty pages. Only for the plain "multiheap" allocator, and
   only where its records carry the two statistics. */
static void section_held(doc *d, const mr_set *set)
{
    int a = mr_alloc_index(set, "multiheap"), rows = 0;
    for (int i = 0; a >= 0 && i < set->ngroups; i++)
        rows += set->groups[i].ai == a && isfinite(median_at(&set->groups[i], "allocator_stats.cached_bytes"));
    if (!rows) return;
    doc_heading(d, 2, "multiheap: free memory held back when each run ended");
    doc_para(d, "Medians over the measured runs: peak RSS, RSS when the run ended, and the free objects "
                "multiheap held out of their pages then, in the per-CPU front caches and in the heaps' "
                "stashes (allocator_stats.cached_bytes and stashed_bytes). The rest of the end RSS is pages: "
                "live objects (the driver's too), free slots in partial pages, and empty pages the purger "
                "had not yet given back.");
    doc_table_begin(d, "case\tthreads\tpeak RSS MiB\tend RSS MiB\tin front caches MiB\tin stashes MiB");
    for (int c = 0; c < set->ncases; c++)
        for (int t = 0; t < set->nthreads; t++) {
            const mr_group *g = mr_group_at(set, c, t, a);
            double cached = g ? median_at(g, "allocator_stats.cached_bytes") : NAN;
            if (!isfinite(cached)) continue;
            char row[512];
            snprintf(row, sizeof row, "%s\t%d\t%.1f\t%.1f\t%.2f\t%.2f", set->cases[c], set->threads[t],
                     g->rss_median_kib / 1024, median_at(g, "memory.end_rss_kib") / 1024,
                     cached / 1048576, median_at(g, "allocator_stats.stashed_bytes") / 1048576);
            doc_row(d, row, false);
        }
    doc_table_end(d);
}

/* Does any allocator's group of case c at thread index t hold a size-sweep series?
   (Records of drivers older than the series hold none.) */
static bool has_series(const mr_set *set, int c, int t)
{
    double x, y;
    for (int a = 0; a < set->nallocs; a++)
        if (mr_series_point(mr_group_at(set, c, t, a), "extra.size_bytes", "extra.ns_per_op", 0, &x, &y))
            return true;
    return false;
}

/* The cost curve of size-sweep, which its throughput (over every size) flattens: each
   allocator's median ns per operation at each block size, the numbers of the sizes plot. */
static void section_sizes(doc *d, const mr_set *set)
{
    for (int c = 0; c < set->ncases; c++) {
        int t = mr_case_fewest_threads(set, c);
        if (!mr_case_is(set, c, "size-sweep") || t < 0 || !has_series(set, c, t)) continue;
        char title[300], header[2048] = "block size (bytes)";
        snprintf(title, sizeof title, "%s: ns per operation by block size", set->cases[c]);
        doc_heading(d, 2, title);
        doc_para(d, "Each cell: the median over the measured repetitions at %d thread(s) of the mean "
                    "time of one malloc or free of blocks of that size (extra.ns_per_op); the case's "
                    "throughput above is over all the sizes at once, so the large sizes weigh little in "
                    "it. Lower is better.", set->threads[t]);
        size_t off = strlen(header);
        for (int a = 0; a < set->nallocs; a++)
            off += (size_t)snprintf(header + off, sizeof header - off, "\t%s", set->allocs[a]);
        doc_table_begin(d, header);
        for (size_t i = 0;; i++) {
            char row[2048];
            double x = NAN, y;
            bool any = false;
            size_t roff = 0;
            for (int a = 0; a < set->nallocs; a++) {
                bool has = mr_series_point(mr_group_at(set, c, t, a), "extra.size_bytes",
                                           "extra.ns_per_op", i, &x, &y);
                any |= has;
                roff += (size_t)(has ? snprintf(row + roff, sizeof row - roff, "\t%.1f", y)
                                     : snprintf(row + roff, sizeof row - roff, "\t-"));
            }
            if (!any) break;
            char line[2100];
            snprintf(line, sizeof line, "%.0f%s", x, row);
            doc_row(d, line, false);
        }
        doc_table_end(d);
    }
}

static void section_failures(doc *d, const mr_set *set)
{
    int failed = 0;
    for (size_t i = 0; i < set->nruns; i++) failed += !set->runs[i].ok;
    doc_heading(d, 2, "Failed runs");
    if (!failed) {
        doc_para(d, "None.");
        return;
    }
    doc_table_begin(d, "cell\trep\twarm-up\terror (tail)");
    for (size_t i = 0; i < set->nruns; i++) {
        const mr_run *r = &set->runs[i];
        if (r->ok) continue;
        const char *err = mh_json_str_or(mh_json_get(r->rec, "error"), "no error text");
        size_t len = strlen(err);
        /* micro.sh names a cell by its allocator alone (micro/ALLOCATOR), which would not
           say which benchmark failed: such a run is named as the matrix names a cell */
        char cell[600], row[1024];
        if (r->cell && strchr(r->cell, '|')) snprintf(cell, sizeof cell, "%s", r->cell);
        else snprintf(cell, sizeof cell, "%s|%d|%s", r->case_name, r->threads, r->alloc);
        snprintf(row, sizeof row, "%s\t%d\t%s\t%s", cell, r->rep, r->warmup ? "yes" : "no",
                 len > 300 ? err + len - 300 : err);
        for (char *p = row; *p; p++)
            if (*p == '\n') *p = ' ';
        doc_row(d, row, false);
    }
    doc_table_end(d);
}

static void section_counters(doc *d, const mr_set *set)
{
    enum { MAXR = 64 };
    char seen[MAXR][512];
    int count[MAXR], n = 0;
    for (size_t i = 0; i < set->nruns; i++) {
        const mh_jv *cs = mh_json_get(set->runs[i].rec, "counters");
        for (size_t k = 0; cs && cs->type == MH_JOBJ && k < cs->len; k++) {
            const mh_jv *v = mh_json_get(&cs->items[k], "value"), *why = mh_json_get(&cs->items[k], "reason");
            if (v && v->type == MH_JNUM) continue;
            char line[512];
            snprintf(line, sizeof line, "%s\t%s", cs->keys[k], mh_json_str_or(why, "no reason given"));
            int j = 0;
            while (j < n && strcmp(seen[j], line) != 0) j++;
            if (j == n && n < MAXR) snprintf(seen[n], sizeof seen[n], "%s", line), count[n++] = 0;
            if (j < n) count[j]++;
        }
    }
    doc_heading(d, 2, "Counters that were unavailable");
    if (!n) {
        doc_para(d, "Every counter was read in every run.");
        return;
    }
    doc_table_begin(d, "counter\treason\truns");
    for (int j = 0; j < n; j++) {
        char row[600];
        snprintf(row, sizeof row, "%.500s\t%d", seen[j], count[j]);
        doc_row(d, row, false);
    }
    doc_table_end(d);
}

static bool is_micro(const mr_run *r) { return strncmp(r->workload, "micro/", 6) == 0; }

/* The command line of one run, rebuilt from its record: mhbench's, or for a
   microbenchmark (one repetition per record, runners/micro.sh) mhmicro's. */
static void one_run_command(const mr_run *r, char *buf, size_t len)
{
    if (is_micro(r)) {
        snprintf(buf, len, "mhmicro --allocator=%s --benchmark_filter='^%s$' --benchmark_repetitions=1",
                 r->alloc, r->workload + 6);
        return;
    }
    const mh_jv *params = mh_json_path(r->rec, "workload.params");
    /* A variant's name means nothing outside its config: its spec (records since
       allocator.spec) does. Quoted for the shell where it is more than a plain name. */
    const char *spec = mh_json_str_or(mh_json_path(r->rec, "allocator.spec"), r->alloc);
    bool quote = spec[strspn(spec, "abcdefghijklmnopqrstuvwxyz0123456789-_")] != 0;
    size_t off = (size_t)snprintf(buf, len, "mhbench run %s --allocator %s%s%s --threads %d --placement %s",
                                  r->workload, quote ? "'" : "", spec, quote ? "'" : "", r->threads,
                                  mh_json_str_or(mh_json_path(r->rec, "placement.policy"), "none"));
    const mh_jv *every = mh_json_path(r->rec, "latency.sample_every");
    if (every && every->type == MH_JNUM && off < len)
        off += (size_t)snprintf(buf + off, len - off, " --lat-every %.0f", every->num);
    for (size_t i = 0; params && params->type == MH_JOBJ && i < params->len && off < len; i++) {
        const mh_jv *v = &params->items[i];
        if (v->type == MH_JNUM) off += (size_t)snprintf(buf + off, len - off, " --%s=%.10g", params->keys[i], v->num);
        else if (v->type == MH_JSTR) off += (size_t)snprintf(buf + off, len - off, " --%s=%s", params->keys[i], v->str);
    }
}

/* The first line of file name in the records' directory into buf ("" if none). */
static bool read_own_line(const mr_opts *o, const char *name, char *buf, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", o->set_dir, name);
    FILE *f = fopen(path, "r");
    buf[0] = 0;
    if (!f) return false;
    if (!fgets(buf, (int)len, f)) buf[0] = 0;
    buf[strcspn(buf, "\n")] = 0;
    fclose(f);
    return true;
}

/* The matrix's command.txt names the config by the path its run directory had then
   (results/local/RUN_ID/config.conf); a set moved since (the committed references) has
   it beside its records: cmd's --config then names that copy, quoted for the shell. */
static void config_beside_report(char *cmd, size_t len, const mr_opts *o)
{
    char *at = strstr(cmd, " --config ");
    char probe[4096];
    if (!read_own_line(o, "config.conf", probe, sizeof probe)) return;
    /* A preset changes with the code (the scaling preset's work grew since its reference
       set ran): the config beside the records is what ran. */
    char *preset = strstr(cmd, " --preset ");
    if (!at && preset) {
        const char *end = preset + strlen(" --preset ");
        end += strcspn(end, " ");
        char rest[4096];
        snprintf(rest, sizeof rest, "%s", end);
        snprintf(preset, len - (size_t)(preset - cmd), " --config X%s", rest);
        at = preset;
    }
    if (!at) return;
    const char *arg = at + strlen(" --config "), *end = arg;
    while (*end && *end != ' ') end += end[0] == '\\' && end[1] ? 2 : 1;   /* %q escapes */
    char path[4096], quoted[8192], rest[4096];
    snprintf(path, sizeof path, "%s/config.conf", o->set_dir);
    size_t q = 0;
    bool plain = path[strspn(path, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+")] == 0;
    if (!plain) quoted[q++] = '\'';
    for (const char *c = path; *c && q < sizeof quoted - 8; c++)
        q += *c == '\'' ? (size_t)snprintf(quoted + q, sizeof quoted - q, "'\\''") : (quoted[q] = *c, 1);
    if (!plain) quoted[q++] = '\'';
    quoted[q] = 0;
    snprintf(rest, sizeof rest, "%s", end);
    snprintf((char *)arg, len - (size_t)(arg - cmd), "%s%s", quoted, rest);
}

static void section_reproduce(doc *d, const mr_set *set, const mr_opts *o)
{
    doc_heading(d, 2, "How to reproduce");
    char cmd[4096] = "", merged[4096];
    if (o->reproduce) snprintf(cmd, sizeof cmd, "%s", o->reproduce);
    else if (read_own_line(o, "command.txt", cmd, sizeof cmd)) config_beside_report(cmd, sizeof cmd, o);
    bool micro_only = true;
    for (size_t i = 0; i < set->nruns && micro_only; i++) micro_only = is_micro(&set->runs[i]);
    if (micro_only) {
        doc_para(d, "The whole set (runners/micro.sh: interleaved rounds, one repetition per allocator each):");
        doc_code(d, cmd[0] ? cmd : "./run.sh micro");
    } else if (!o->reproduce && o->nsets > 1) {
        doc_para(d, "This report merges %d result sets (the first %s); each ran the config in its own "
                    "directory (command.txt there).", o->nsets, o->set_dir);
    } else if (!o->reproduce && read_own_line(o, "merged-from.txt", merged, sizeof merged)) {
        /* ./run.sh merge: one command would rerun the first set only */
        doc_para(d, "This set merges the records of several runs (listed in merged-from.txt in %s, "
                    "the first %s); each ran the config in its own directory (command.txt there).",
                 o->set_dir, merged);
    } else if (cmd[0]) {
        doc_para(d, "The whole matrix:");
        doc_code(d, cmd);
        bool micro = false;
        for (size_t i = 0; i < set->nruns && !micro; i++) micro = is_micro(&set->runs[i]);
        if (micro)
            doc_para(d, "The set's micro/ records are microbenchmarks (runners/micro.sh), which this command "
                        "does not run: ./run.sh targets runs the targets matrix and the pair microbenchmarks "
                        "together, ./run.sh micro the microbenchmarks alone.");
    } else {
        doc_para(d, "The whole matrix: no command.txt beside the records (a set put together by hand); "
                    "a run directory's command.txt holds the command that made it.");
    }
    for (size_t i = 0; i < set->nruns; i++)
        if (set->runs[i].ok && !set->runs[i].warmup) {
            one_run_command(&set->runs[i], cmd, sizeof cmd);
            doc_para(d, "One cell by hand (every parameter, defaults included, from its record):");
            doc_code(d, cmd);
            break;
        }
}

static const char html_head[] =
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>multiheap benchmark report</title>\n"
    "<style>body{font-family:sans-serif;max-width:1400px;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0;font-size:90%}"
    "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}th{background:#f0f0f0}"
    "tr:nth-child(even) td{background:#fafafa}img{max-width:100%;border:1px solid #eee}"
    "pre{background:#f6f6f6;padding:.8em;overflow-x:auto}</style></head><body>\n";

int mr_write_reports(const mr_set *set, const mr_opts *o, const mr_plotlist *plots)
{
    doc d = { 0 };
    /* a file staged here and not written is closed and removed by mr_stage_finish */
    d.md = mr_stage(o->out_dir, "report.md");
    d.html = d.md ? mr_stage(o->out_dir, "report.html") : NULL;
    if (!d.html) return 2;
    fputs(html_head, d.html);
    int measured = 0, failed = 0, warm = 0, warm_failed = 0;
    for (size_t i = 0; i < set->nruns; i++) {
        const mr_run *r = &set->runs[i];
        if (r->warmup) warm++, warm_failed += !r->ok;
        else if (r->ok) measured++;
        else failed++;
    }
    char warm_text[64] = "", dup_text[96] = "";
    if (warm_failed) snprintf(warm_text, sizeof warm_text, ", %d of them failed", warm_failed);
    if (set->ndocs > set->nruns)
        snprintf(dup_text, sizeof dup_text, " (%zu more appeared twice and count once)", set->ndocs - set->nruns);
    char machine[512], when[64];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    const char *run_id = set->nruns ? mh_json_str_or(mh_json_get(set->runs[0].rec, "run_id"), "?") : "?";
    char title[256];
    snprintf(title, sizeof title, "multiheap benchmark report: %s", run_id);
    doc_heading(&d, 1, title);
    doc_para(&d, "%s. Written %s from %zu records%s: %d measured runs, %d failed, %d warm-up runs "
                 "(discarded%s)%s. results.csv has a row per run (its throughput, time, memory and "
                 "counters); the other figures below (the growth storm's wave times, file-backed pages, "
                 "held-back bytes, size-sweep's per-size times) come from the same records.",
             mr_machine_line(set, machine, sizeof machine), when, set->nruns, dup_text, measured, failed, warm,
             warm_text, set->bad_lines ? "; unreadable lines were skipped" : "");
    int base = mr_alloc_index(set, "glibc") >= 0 ? mr_alloc_index(set, "glibc") : 0;
    section_environment(&d, set);
    section_summary(&d, set, base);
    section_geomeans(&d, set);
    mr_section_targets(&d, set);
    mr_section_seed(&d, set);
    doc_heading(&d, 2, "Plots");
    if (!plots->n) doc_para(&d, o->no_plots ? "No plots were made (--no-plots)." : "No plot applies to this set.");
    for (int i = 0; i < plots->n; i++) doc_image(&d, plots->dir, plots->name[i], plots->title[i], !o->png_only);
    section_details(&d, set);
    section_held(&d, set);
    section_sizes(&d, set);
    section_failures(&d, set);
    section_counters(&d, set);
    section_reproduce(&d, set, o);
    fputs("</body></html>\n", d.html);
    int rc_md = mr_stage_close(d.md);
    int rc_html = mr_stage_close(d.html);
    return rc_md ? rc_md : rc_html;
}
