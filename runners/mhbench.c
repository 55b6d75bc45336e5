/*
 * mhbench: runs one workload with one allocator and writes one result record.
 *
 * Exit status: 0 done, 1 internal error, 2 bad input, 3 the allocator preload
 * did not take effect, 4 corrupted block contents, 5 the allocator returned NULL.
 */
#define _GNU_SOURCE
#include "driver.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PERF_MARKER "MH_PERF_WRAPPED"

static void usage(FILE *f)
{
    fputs("usage: mhbench run WORKLOAD [options] [--PARAM=VALUE ...]\n"
          "       mhbench check WORKLOAD [options] [--PARAM=VALUE ...]   (what run would refuse; runs nothing,\n"
          "                        prints the case: every parameter by value)\n"
          "       mhbench list | help WORKLOAD | allocators [SPEC...] | csv FILE... | validate FILE... | inherited\n"
          "run options:\n"
          "  --allocator NAME      glibc (default), tcmalloc, jemalloc, mimalloc, multiheap, multiheap-seed,\n"
          "                        NAME=/path/lib.so, or a variant NAME=BASE+VAR=VALUE... (BASE a name or a path)\n"
          "  --threads N           worker threads (default: online CPUs, at least 2)\n"
          "  --placement P         none (default), compact, scatter, split, or a CPU list like 0,1,4-7\n"
          "  --check               fill blocks with a pattern and verify it before free\n"
          "  --null-alloc          null allocation path: measures the harness alone\n"
          "  --lat-every N         time one operation in N on average (default 64; 0 = off)\n"
          "  --rss-interval-ms N   RSS sampling interval (default 10)\n"
          "  --perf-record FILE    run under perf record -g, profile to FILE\n"
          "  --out FILE            append the record as one JSON line (default: pretty on stdout)\n"
          "  --run-id ID --cell NAME --rep K --warmup   identity, set by the matrix\n"
          "  --seed N              base of the per-thread random streams (default 1)\n"
          "exit: 0 ok, 1 internal error, 2 bad input, 3 preload did not take effect, 4 corrupted content,\n"
          "      5 allocation failed (the allocator returned NULL: out of memory)\n", f);
}

static _Noreturn void bad_input(const char *fmt, const char *arg)
{
    fputs("mhbench: ", stderr);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(2);
}

/* A command that takes `want` arguments after its name: one more was ignored unsaid, as if
   obeyed (`help WORKLOAD extra`). */
static void no_more_args(int argc, char **argv, int want)
{
    if (argc > 2 + want)
        bad_input("unknown argument '%s'; see mhbench help", argv[2 + want]);
}

static void list_workloads(void)
{
    for (const mh_workload *const *w = mh_workloads; *w; w++)
        printf("%-24s %s\n", (*w)->name, (*w)->summary);
}

static const mh_workload *find_workload(const char *name)
{
    const mh_workload *wl = mh_workload_find(name);
    if (!wl) {
        fprintf(stderr, "mhbench: unknown workload '%s'; valid:", name);
        for (const mh_workload *const *w = mh_workloads; *w; w++)
            fprintf(stderr, " %s", (*w)->name);
        fputc('\n', stderr);
        exit(2);
    }
    return wl;
}

static void help_workload(const char *name)
{
    const mh_workload *wl = find_workload(name);
    printf("%s: %s\n\n%s\n\nparameters (--name=value):\n", wl->name, wl->summary, wl->help);
    for (const mh_param_def *d = wl->params; d && d->name; d++) {
        char range[128];
        mh_param_range(d, range, sizeof range);
        printf("  --%-18s default %-10s %s\n      %s\n", d->name, d->dflt, range, d->help);
    }
    if (wl->role_names) {
        printf("thread roles:");
        for (const char *const *r = wl->role_names; *r; r++)
            printf(" %s", *r);
        printf("\n");
    }
}

static void print_allocator(const mh_allocator *a, bool variant)
{
    char lib[PATH_MAX + 1024];
    size_t off = (size_t)snprintf(lib, sizeof lib, "%s", a->path[0] ? a->path : "(none: the C library's malloc)");
    for (int i = 0; i < a->nenv && off < sizeof lib; i++)
        off += (size_t)snprintf(lib + off, sizeof lib - off, " +%s", a->env[i]);
    printf("%-14s %-9s %s%s\n", a->name, a->installed ? "yes" : "no", variant ? "variant: " : "", lib);
}

/* Known allocators, then the built-in variants (marked "variant:", so that the
 * matrix's "installed" keeps meaning the plain allocators). With SPECs: each resolved,
 * and a NAME=/path spec's library installed (a known allocator that is not, or a variant
 * of one, is listed so: micro.sh reports and skips it), or one line and exit 2 for the
 * first that is not. */
static int list_allocators(int nspecs, char **specs)
{
    mh_allocator a;
    char err[MH_ALLOCATOR_ERR_MAX];
    for (int i = 0; i < nspecs; i++) {
        if (mh_allocator_resolve(specs[i], &a, err, sizeof err) != 0)
            bad_input("%s", err);
        char why[MH_ALLOCATOR_WHY_MAX];
        if (a.own_path && mh_allocator_missing(&a, why, sizeof why)) {
            snprintf(err, sizeof err, "allocator '%s': its library is not installed (%s); fix the path or install it",
                     a.name, why);
            bad_input("%s", err);
        }
    }
    printf("%-14s %-9s %s\n", "name", "installed", "library");
    for (int i = 0; i < nspecs; i++) {
        mh_allocator_resolve(specs[i], &a, err, sizeof err);
        print_allocator(&a, a.nenv > 0);
    }
    if (nspecs)
        return 0;
    for (const char *const *n = mh_allocator_names; *n; n++) {
        mh_allocator_resolve(*n, &a, err, sizeof err);
        print_allocator(&a, false);
    }
    for (const mh_variant *v = mh_allocator_variants; v->name; v++) {
        mh_allocator_resolve(v->name, &a, err, sizeof err);
        print_allocator(&a, true);
    }
    return 0;
}

/* ---- run ---- */

/* Digits only (and a sign): strtol also skips leading spaces. */
static long parse_long(const char *opt, const char *v, long min, long max)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (!*v || *end || strspn(v, "0123456789+-") != strlen(v) || errno || x < min || x > max) {
        fprintf(stderr, "mhbench: %s=%s must be an integer in [%ld, %ld]\n", opt, v, min, max);
        exit(2);
    }
    return x;
}

/* --name VALUE or --name=VALUE for a driver option; NULL if arg is not that option. A
   separate VALUE that starts with "--" is refused: `--run-id --seed=5` took the parameter
   for the id (a review). */
static const char *option_value(const char *name, int argc, char **argv, int *i)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] != '\0')
        return NULL;
    if (*i + 1 >= argc || strncmp(argv[*i + 1], "--", 2) == 0)
        bad_input("%s needs a value; see mhbench help", name);
    return argv[++*i];
}

/* The driver's options: those after the first NFLAGS take a value. */
enum { OPT_WARMUP, OPT_CHECK, OPT_NULL_ALLOC, NFLAGS,
       OPT_ALLOCATOR = NFLAGS, OPT_THREADS, OPT_PLACEMENT, OPT_LAT_EVERY, OPT_RSS_INTERVAL,
       OPT_PERF_RECORD, OPT_OUT, OPT_RUN_ID, OPT_CELL, OPT_REP, OPT_SEED, NOPTS };
static const char *const opt_names[NOPTS] = {
    "--warmup", "--check", "--null-alloc", "--allocator", "--threads", "--placement", "--lat-every",
    "--rss-interval-ms", "--perf-record", "--out", "--run-id", "--cell", "--rep", "--seed" };

/* Which driver option argv[*i] is (its value in *v), or -1 for none. */
static int driver_option(int argc, char **argv, int *i, const char **v)
{
    for (int k = 0; k < NOPTS; k++) {
        if (k < NFLAGS ? strcmp(argv[*i], opt_names[k]) == 0
                       : (*v = option_value(opt_names[k], argc, argv, i)) != NULL)
            return k;
    }
    return -1;
}

/* Splits the run arguments into driver options and workload parameters (kept in params).
   An option given twice is refused, as a parameter is: the later one won, so a matrix
   config's workload line with --allocator=X or --threads=N ran X or N under the cell's
   own name (a review). */
static void parse_run_options(int argc, char **argv, mh_run_options *o, char **params, int *nparams)
{
    bool seen[NOPTS] = { false };
    for (int i = 3; i < argc; i++) {
        const char *v = NULL;
        int k = driver_option(argc, argv, &i, &v);
        if (k < 0) {
            if (strncmp(argv[i], "--", 2) == 0 && strchr(argv[i], '='))
                params[(*nparams)++] = argv[i];
            else
                bad_input("unknown option '%s'; run options are listed by mhbench help, workload parameters are --name=value", argv[i]);
            continue;
        }
        if (seen[k])
            bad_input("%s is given twice; keep one (in a matrix config, the matrix sets the allocator, "
                      "threads, placement, latency sampling and output of each run)", opt_names[k]);
        seen[k] = true;
        switch (k) {
        case OPT_WARMUP: o->warmup = true; break;
        case OPT_CHECK: o->check = true; break;
        case OPT_NULL_ALLOC: o->null_alloc = true; break;
        case OPT_ALLOCATOR: o->allocator = v; break;
        case OPT_THREADS: o->threads = (int)parse_long("--threads", v, 1, 4096); break;
        case OPT_PLACEMENT: o->placement = v; break;
        case OPT_LAT_EVERY: o->lat_every = (uint32_t)parse_long("--lat-every", v, 0, 1 << 30); break;
        case OPT_RSS_INTERVAL: o->rss_interval_ms = (unsigned)parse_long("--rss-interval-ms", v, 1, 60000); break;
        case OPT_PERF_RECORD: o->perf_record = v; break;
        case OPT_OUT: o->out = v; break;
        case OPT_RUN_ID: o->run_id = v; break;
        case OPT_CELL: o->cell = v; break;
        case OPT_REP: o->rep = (int)parse_long("--rep", v, 0, INT_MAX); break;
        case OPT_SEED: o->seed = (uint64_t)parse_long("--seed", v, 0, LONG_MAX); break;
        }
    }
}

static bool find_in_path(const char *prog, char *out, size_t outlen)
{
    const char *path = getenv("PATH");
    char *dirs = strdup(path && *path ? path : "/usr/bin:/bin");
    bool found = false;
    for (char *save, *d = strtok_r(dirs, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
        snprintf(out, outlen, "%s/%s", d, prog);
        found = access(out, X_OK) == 0;
    }
    free(dirs);
    return found;
}

/* perf record follows the exec that sets LD_PRELOAD, so the profile covers the preloaded run. */
static void wrap_in_perf_record(const mh_run_options *o, int argc, char **argv)
{
    if (!o->perf_record || getenv(PERF_MARKER))
        return;
    char perf[PATH_MAX], self[PATH_MAX];
    /* perf would say it in several lines of its own and exit 255 */
    int probe = open(o->perf_record, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (probe < 0) {
        fprintf(stderr, "mhbench: --perf-record %s: %s; give a writable file\n", o->perf_record, strerror(errno));
        exit(2);
    }
    close(probe);
    if (!find_in_path("perf", perf, sizeof perf)) {
        fprintf(stderr, "mhbench: --perf-record needs the perf tool, which is not in PATH; install linux-perf\n");
        exit(2);
    }
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0) {
        fprintf(stderr, "mhbench: cannot find my own executable: %s\n", strerror(errno));
        exit(1);
    }
    self[n] = '\0';
    char **args = calloc((size_t)argc + 8, sizeof *args);
    int k = 0;
    args[k++] = "perf";
    args[k++] = "record";
    args[k++] = "-g";
    args[k++] = "-o";
    args[k++] = (char *)o->perf_record;
    args[k++] = "--";
    args[k++] = self;
    for (int i = 1; i < argc; i++)
        args[k++] = argv[i];
    setenv(PERF_MARKER, "1", 1);
    execv(perf, args);
    fprintf(stderr, "mhbench: cannot run %s: %s\n", perf, strerror(errno));
    exit(1);
}

/* The record is written with one write() to an O_APPEND file, so concurrent runs never
 * interleave lines; the file is opened before the run so a bad path fails early. */
static int open_out(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "mhbench: cannot open --out %s: %s; give a writable file\n", path, strerror(errno));
        exit(2);
    }
    return fd;
}

/* Does the file at path end inside a line? A run killed while appending leaves a torn
   last line without its newline, and a record appended to it would be glued onto it and
   lost with it (the matrix's end_torn_line, for the records it writes itself). */
static bool ends_torn(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char last;
    bool torn = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
                pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n';
    if (fd >= 0)
        close(fd);
    return torn;
}

static int emit_record(const mh_run *run, const mh_served *served, int out_fd)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (out_fd >= 0 && ends_torn(run->opt->out))
        fputc('\n', mem);      /* in the record's one write() */
    mh_jw w;
    mh_jw_init(&w, mem, out_fd < 0);
    mh_record_write(run, served, &w);
    fclose(mem);
    int rc = 0;
    int fd = out_fd < 0 ? STDOUT_FILENO : out_fd;
    for (size_t done = 0; done < len;) {
        ssize_t n = write(fd, buf + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "mhbench: cannot write the record to %s: %s; free space or give another --out\n",
                    out_fd < 0 ? "stdout" : run->opt->out, strerror(errno));
            rc = 1;
            break;
        }
        done += (size_t)n;
    }
    free(buf);
    return rc;
}

/* The allocator-tuning variables of this environment that a's spec does not set: the
 * record lists them (allocator.inherited_env); a run outside the matrix, which drops
 * them, says so once. */
static void note_inherited_tuning(const mh_allocator *a)
{
    char names[512] = "";
    size_t off = 0;
    char *const *it = NULL;
    for (const char *e; off < sizeof names && (e = mh_inherited_tuning_next(a, &it));)
        off += (size_t)snprintf(names + off, sizeof names - off, "%s%.*s", off ? ", " : "",
                                (int)strcspn(e, "="), e);
    if (off)
        fprintf(stderr, "mhbench: note: %s from the environment tune%s the allocator; the record lists "
                "them (allocator.inherited_env)\n", names, strchr(names, ',') ? "" : "s");
}

/* `mhbench inherited`: the names of the allocator-tuning variables set here, one a line
 * (the matrix unsets them). */
static int list_inherited_tuning(void)
{
    char *const *it = NULL;
    for (const char *e; (e = mh_inherited_tuning_next(NULL, &it));)
        printf("%.*s\n", (int)strcspn(e, "="), e);
    return 0;
}

/* What `check` prints: the case as the run takes it, every parameter (its default
 * included) by value, so that 1e3 reads as 1000, and the options that change what it
 * measures besides the allocator, threads and placement. The matrix refuses two cases
 * that print the same line: they would run the same thing under two names. */
static void print_case(const mh_run *run)
{
    for (int i = 0; i < run->nparams; i++) {
        const mh_param_value *p = &run->params[i];
        if (p->def->kind == MH_PARAM_INT)
            printf("--%s=%lld ", p->def->name, (long long)p->i);
        else if (p->def->kind == MH_PARAM_REAL)
            printf("--%s=%.17g ", p->def->name, p->r);
        else
            printf("--%s=%s ", p->def->name, p->text);
    }
    printf("--seed=%llu --rss-interval-ms=%u --perf-record=%s\n", (unsigned long long)run->opt->seed,
           run->opt->rss_interval_ms, run->opt->perf_record ? run->opt->perf_record : "");
}

/* `run`, or with check_only `check`: the same parsing and checks of the workload, its
 * parameters, the options and the allocator spec, and the workload's setup, then exit 0
 * without running (the matrix checks every case so before it runs one), printing the
 * case (print_case). */
static int cmd_run(int argc, char **argv, bool check_only)
{
    if (argc < 3)
        bad_input("%s needs a workload; see mhbench list", argv[1]);
    mh_run_options o = { .workload = argv[2], .allocator = "glibc", .placement = "none",
                     .lat_every = 64, .rss_interval_ms = 10, .seed = 1 };
    char **params = calloc((size_t)argc, sizeof *params);
    int nparams = 0;
    const mh_workload *wl = find_workload(argv[2]);
    parse_run_options(argc, argv, &o, params, &nparams);

    mh_allocator alloc;
    mh_served served;
    char err[MH_ALLOCATOR_ERR_MAX];
    if (mh_allocator_resolve(o.allocator, &alloc, err, sizeof err) != 0)
        bad_input("%s", err);
    if (mh_allocator_unusable(&alloc, err, sizeof err)) {
        fprintf(stderr, "mhbench: %s\n", err);
        exit(alloc.own_path ? 2 : 3);
    }
    mh_run run;
    if (mh_run_init(&run, wl, &o, &alloc, nparams, params) != 0)
        exit(2);
    /* The workload's setup makes the checks that involve several parameters or the
       thread count (xmalloc's 2 threads, a window within the slots); it starts no
       thread, and what it set up goes with the process (its report would run the
       workload's wrap-up: growth-storm watches RSS for a second there). */
    if (check_only) {
        if (run.wl->setup && !run.wl->setup(&run))
            exit(2);
        print_case(&run);
        return 0;
    }
    int out_fd = o.out ? open_out(o.out) : -1;
    wrap_in_perf_record(&o, argc, argv);
    if (mh_preload_exec(&alloc, argv, err, sizeof err) != 0 || mh_preload_verify(&alloc, &served, err, sizeof err) != 0) {
        fprintf(stderr, "mhbench: %s\n", err);
        exit(3);
    }
    note_inherited_tuning(&alloc);
    int rc = mh_run_execute(&run);
    if (rc == 0)
        rc = emit_record(&run, &served, out_fd);
    mh_run_destroy(&run);
    free(params);
    if (out_fd >= 0)
        close(out_fd);
    return rc;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : NULL;
    if (!cmd || strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || (strcmp(cmd, "help") == 0 && argc == 2)) {
        usage(cmd ? stdout : stderr);
        return cmd ? 0 : 2;
    }
    if (strcmp(cmd, "run") == 0 || strcmp(cmd, "check") == 0)
        return cmd_run(argc, argv, cmd[0] == 'c');
    if (strcmp(cmd, "list") == 0) {
        no_more_args(argc, argv, 0);
        list_workloads();
        return 0;
    }
    if (strcmp(cmd, "help") == 0) {
        no_more_args(argc, argv, 1);
        help_workload(argv[2]);
        return 0;
    }
    if (strcmp(cmd, "allocators") == 0)
        return list_allocators(argc - 2, argv + 2);
    if (strcmp(cmd, "inherited") == 0) {
        no_more_args(argc, argv, 0);
        return list_inherited_tuning();
    }
    if (strcmp(cmd, "csv") == 0 || strcmp(cmd, "validate") == 0) {
        if (argc < 3)
            bad_input("%s needs at least one FILE (JSONL records)", cmd);
        return cmd[0] == 'c' ? mh_record_csv(argc - 2, argv + 2, stdout) : mh_record_validate_files(argc - 2, argv + 2);
    }
    bad_input("unknown command '%s'; commands: run check list help allocators csv validate inherited", cmd);
}
