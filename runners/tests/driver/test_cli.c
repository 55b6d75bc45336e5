/*
 * driver.cli: runs mhbench (built with the test workloads of test_workloads.c)
 * as a user would and checks its records and failures:
 *   test_cli MHBENCH NOMALLOC_SO SCRIBBLE_SO FAKESTATS_SO
 */
#include "clitest.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <math.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *nomalloc_so, *scribble_so, *fakestats_so;

static int stderr_lines(void)
{
    int n = 0;
    for (const char *c = err_text; *c; c++)
        n += *c == '\n';
    return n;
}

static bool valid(const mh_jv *rec)
{
    char buf[256];
    const char *why = mh_record_validate(rec, buf, sizeof buf);
    if (why)
        fprintf(stderr, "record invalid: %s\n", why);
    return why == NULL;
}

/* Every CPU in ran_on is one of bound. */
static bool ran_within_bound(const mh_jv *t)
{
    const mh_jv *bound = mh_json_get(t, "bound"), *ran = mh_json_get(t, "ran_on");
    if (!bound || bound->type != MH_JARR || !ran || ran->len == 0)
        return false;
    for (size_t i = 0; i < ran->len; i++) {
        bool in = false;
        for (size_t k = 0; k < bound->len; k++)
            in |= bound->items[k].num == ran->items[i].num;
        if (!in)
            return false;
    }
    return true;
}

static void test_allocators(void)
{
    int tested = 0;
    for (const char *const *n = mh_allocator_names; *n; n++) {
        mh_allocator a;
        char err[256], real[PATH_MAX];
        mh_allocator_resolve(*n, &a, err, sizeof err);
        if (!a.installed) {
            fprintf(stderr, "note: allocator %s not installed (%s), skipped\n", a.name, a.path);
            continue;
        }
        tested++;
        int rc = run("run t-churn --threads 2 --check --allocator %s --out '%s'", a.name, out_path);
        CHECK(rc == 0, "allocator %s: exit %d: %s", a.name, rc, err_text);
        mh_jv *rec = last_record();
        CHECK(rec && valid(rec), "allocator %s", a.name);
        CHECK(strcmp(str(rec, "allocator.name"), a.name) == 0, "%s", str(rec, "allocator.name"));
        CHECK(mh_json_path(rec, "allocator.verified")->b, "allocator %s not verified", a.name);
        if (a.path[0] && realpath(a.path, real))
            CHECK(strcmp(str(rec, "allocator.served_by"), real) == 0, "%s served by %s", a.name, str(rec, "allocator.served_by"));
        else
            CHECK(strstr(str(rec, "allocator.served_by"), "libc.so") != NULL, "glibc served by %s", str(rec, "allocator.served_by"));
        CHECK(str(rec, "allocator.version")[0] != '\0', "%s has no version", a.name);
        CHECK(strncmp(str(rec, "allocator.file_hash"), "fnv1a64:", 8) == 0, "%s", str(rec, "allocator.file_hash"));
        mh_json_free(rec);
    }
    CHECK(tested >= 1, "no allocator tested");
}

static void test_broken_preloads(void)
{
    /* bad input (2), refused before the run and before perf: a missing library, and one
       that defines no malloc (it passed for installed, and every run of it failed at the
       preload, exit 3) */
    int rc = run("run t-churn --allocator bad=/nonexistent.so --out '%s'", out_path);
    CHECK(rc == 2 && stderr_lines() == 1 && strstr(err_text, "/nonexistent.so"), "exit %d: %s", rc, err_text);
    rc = run("run t-churn --allocator nomalloc=%s --out '%s'", nomalloc_so, out_path);
    CHECK(rc == 2 && stderr_lines() == 1 && strstr(err_text, "defines no malloc"), "exit %d: %s", rc, err_text);
    rc = run("allocators nomalloc=%s", nomalloc_so);
    CHECK(rc == 2 && strstr(err_text, "defines no malloc"), "allocators: exit %d: %s", rc, err_text);
}

static void test_bad_input(void)
{
    static const char *const cases[][2] = {
        { "run no-such-workload", "unknown workload" },
        { "run t-churn --allocator nosuch", "unknown allocator" },
        { "run t-churn --placement sideways", "not a policy" },
        { "run t-churn --placement 4096", "not available" },
        { "run t-churn --placement 1-", "not a policy" },
        { "run t-churn --size=8 --size=16", "--size is given twice" },
        /* a driver option twice: the later one used to win (a matrix line's --allocator=X) */
        { "run t-churn --threads 1 --threads=2", "--threads is given twice" },
        { "run t-churn --allocator glibc --allocator=glibc", "--allocator is given twice" },
        { "run t-churn --warmup --warmup", "--warmup is given twice" },
        /* an option's value that is the next option: it used to be taken as the value */
        { "run t-churn --run-id --size=8", "--run-id needs a value" },
        { "run t-churn --placement 0,,1", "not a policy" },
        { "run t-churn --perf-record /proc/no-such-dir/perf.data", "give a writable file" },
        { "run t-churn --nope=1", "unknown parameter" },
        { "run t-churn --size=0", "out of range" },
        { "run t-churn --size=12x", "not an integer" },
        /* strtod's other forms: hex ran --size=0x10 as 16, and spaces passed */
        { "run t-churn --size=0x10", "not an integer" },
        { "run t-churn '--size= 16'", "not an integer" },
        { "run t-churn '--size=16 '", "not an integer" },
        { "run t-churn --size=1.5", "not an integer" },
        { "run t-churn --scale=0x1p0", "not a number" },
        { "run t-churn --scale=nan", "not a number" },
        { "run t-churn --threads ' 2'", "--threads= 2 must be an integer" },
        { "run t-churn --mode=loud", "not a valid choice" },
        { "run t-churn --threads 0", "--threads" },
        { "run t-churn --frobnicate", "unknown option" },
        { "run t-pass --threads 1", "needs at least 2 threads" },
        { "sing", "unknown command" },
        { "help no-such-workload", "unknown workload" },
        /* an argument more was ignored, as if obeyed */
        { "help t-churn extra", "unknown argument 'extra'" },
        { "list extra", "unknown argument 'extra'" },
        { "inherited extra", "unknown argument 'extra'" },
        { "validate", "needs at least one FILE" },
    };
    struct stat before, after;
    stat(out_path, &before);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool is_run = strncmp(cases[i][0], "run ", 4) == 0;
        int rc = run("%s%s%s%s", cases[i][0], is_run ? " --out '" : "", is_run ? out_path : "", is_run ? "'" : "");
        CHECK(rc == 2 && stderr_lines() == 1 && strstr(err_text, cases[i][1]),
              "'%s': exit %d, stderr: %s", cases[i][0], rc, err_text);
    }
    stat(out_path, &after);
    CHECK(before.st_size == after.st_size, "bad input appended to the output file");
}

static void test_placement(void)
{
    int rc = run("run t-churn --threads 2 --placement compact --out '%s'", out_path);
    mh_jv *rec = last_record();
    CHECK(rc == 0 && rec && valid(rec), "compact: exit %d", rc);
    const mh_jv *threads = mh_json_path(rec, "placement.threads");
    for (size_t i = 0; threads && i < threads->len; i++) {
        CHECK(ran_within_bound(&threads->items[i]), "compact thread %zu ran outside its binding", i);
        CHECK(mh_json_path(&threads->items[i], "bound")->len == 1, "compact binds to one PU");
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus >= 2)
        CHECK(num(rec, "placement.threads.0.bound.0") != num(rec, "placement.threads.1.bound.0"), "compact put both threads on one PU");
    mh_json_free(rec);

    /* three threads on one explicit CPU: wrap-around, recorded */
    rc = run("run t-churn --threads 3 --placement 0 --out '%s'", out_path);
    rec = last_record();
    CHECK(rc == 0 && rec && valid(rec), "explicit: exit %d", rc);
    CHECK(mh_json_path(rec, "placement.wrapped")->b, "3 threads on 1 CPU not marked wrapped");
    for (int i = 0; i < 3; i++) {
        char path[64];
        snprintf(path, sizeof path, "placement.threads.%d", i);
        CHECK(num(rec, strcat(path, ".bound.0")) == 0, "explicit thread %d not bound to CPU 0", i);
        snprintf(path, sizeof path, "placement.threads.%d", i);
        CHECK(ran_within_bound(mh_json_path(rec, path)), "explicit thread %d ran outside CPU 0", i);
    }
    mh_json_free(rec);

    if (cpus >= 2) {
        rc = run("run t-pass --threads 2 --placement split --out '%s'", out_path);
        rec = last_record();
        CHECK(rc == 0 && rec && valid(rec), "split: exit %d", rc);
        CHECK(strcmp(str(rec, "placement.threads.0.role"), "producer") == 0, "role 0 name");
        CHECK(num(rec, "placement.threads.0.bound.0") != num(rec, "placement.threads.1.bound.0"),
              "split put producer and consumer on one PU");
        CHECK(ran_within_bound(mh_json_path(rec, "placement.threads.1")), "split consumer ran outside");
        mh_json_free(rec);
    }
}

static void test_counters_latency_ops(void)
{
    int rc = run("run t-pass --threads 2 --lat-every 1 --out '%s'", out_path);
    mh_jv *rec = last_record();
    CHECK(rc == 0 && rec && valid(rec), "t-pass: exit %d %s", rc, err_text);
    for (int c = 0; c < MH_CTR_COUNT; c++) {
        const mh_jv *ctr = mh_json_get(mh_json_get(rec, "counters"), mh_counter_names[c]);
        const mh_jv *v = mh_json_get(ctr, "value");
        bool ok = v && (v->type == MH_JNUM || (v->type == MH_JNULL && strlen(mh_json_str_or(mh_json_get(ctr, "reason"), "")) > 10));
        CHECK(ok, "counter %s is neither a number nor null with a reason", mh_counter_names[c]);
    }
    /* 20000 objects, each allocated and freed once, every operation sampled */
    CHECK(num(rec, "ops") == 40000, "ops %g", num(rec, "ops"));
    CHECK(num(rec, "latency.malloc.count") == 20000, "malloc samples %g", num(rec, "latency.malloc.count"));
    CHECK(num(rec, "latency.free_remote.count") == 20000, "remote free samples %g", num(rec, "latency.free_remote.count"));
    CHECK(num(rec, "latency.free_local.count") == 0 && mh_json_path(rec, "latency.free_local.p50_ns")->type == MH_JNULL,
          "free_local never happened but has figures");
    CHECK(num(rec, "latency.malloc.p50_ns") > 0 && num(rec, "latency.malloc.p50_ns") <= num(rec, "latency.malloc.p99_ns"),
          "malloc percentiles");
    mh_json_free(rec);

    rc = run("run t-churn --threads 2 --lat-every 0 --iters=5000 --out '%s'", out_path);
    rec = last_record();
    CHECK(rc == 0 && num(rec, "latency.malloc.count") == 0 && num(rec, "latency.overhead.samples") == 0, "sampling off still sampled");
    /* each thread: 5000 allocations and 5000 frees */
    CHECK(num(rec, "ops") == 20000, "ops %g", num(rec, "ops"));
    /* the rates follow from the counts and times, the run's and each thread's */
    double ops = num(rec, "ops"), dur = num(rec, "duration_s");
    CHECK(fabs(num(rec, "throughput_ops_s") / (ops / dur) - 1) < 1e-6, "throughput %g, ops / duration %g",
          num(rec, "throughput_ops_s"), ops / dur);
    CHECK(fabs(num(rec, "ns_per_op") / (dur * 1e9 / ops) - 1) < 1e-6, "ns_per_op %g, duration / ops %g ns",
          num(rec, "ns_per_op"), dur * 1e9 / ops);
    for (int i = 0; i < 2; i++) {
        const mh_jv *t = &mh_json_get(rec, "per_thread")->items[i];
        double t_ops = num(t, "ops"), t_dur = num(t, "duration_s");
        CHECK(t_ops == 10000 && fabs(num(t, "ns_per_op") / (t_dur * 1e9 / t_ops) - 1) < 1e-6,
              "thread %d: ops %g, ns_per_op %g against duration %g s", i, t_ops, num(t, "ns_per_op"), t_dur);
    }
    mh_json_free(rec);
}

/* Every counter refused, on any machine: a child that a seccomp filter denies
   perf_event_open (EACCES) runs mhbench, which inherits the filter. Each counter must be
   null with the refusal as its reason. (On this project's VM the hardware counters are
   missing anyway; on a machine with a PMU nothing else tests the reasons.) */
static void test_counters_refused(void)
{
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork failed");
    if (pid == 0) {
        struct sock_filter deny[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_perf_event_open, 0, 1),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EACCES & SECCOMP_RET_DATA)),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = { .len = sizeof deny / sizeof *deny, .filter = deny };
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
            _exit(77);
        failures = 0;
        int paranoid = 3;
        FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "r");
        if (f && fscanf(f, "%d", &paranoid) != 1) paranoid = 3;
        if (f) fclose(f);
        int rc = run("run t-pass --threads 2 --out '%s'", out_path);
        mh_jv *rec = last_record();
        CHECK(rc == 0 && rec && valid(rec), "t-pass without perf_event_open: exit %d %s", rc, err_text);
        for (int c = 0; rec && c < MH_CTR_COUNT; c++) {
            const mh_jv *ctr = mh_json_get(mh_json_get(rec, "counters"), mh_counter_names[c]);
            const mh_jv *v = mh_json_get(ctr, "value");
            const char *why = mh_json_str_or(mh_json_get(ctr, "reason"), "");
            /* and never the advice to lower the sysctl where it is low enough already */
            bool advice = strstr(why, "set it to 2 or lower") != NULL;
            CHECK(v && v->type == MH_JNULL && strncmp(why, "perf_event_open: EACCES", 23) == 0 &&
                      !(advice && paranoid <= 2),
                  "counter %s refused: value %s, reason '%s'", mh_counter_names[c],
                  v && v->type == MH_JNULL ? "null" : "a number", why);
        }
        mh_json_free(rec);
        fflush(NULL);
        _exit(failures ? 1 : 0);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
        fprintf(stderr, "note: seccomp is not available; the refused-counter check was skipped\n");
    else
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the refused counters were not all null with the reason");
}

/* A peak far shorter than the sampling interval: 64 blocks of 1 MiB written and freed
   between the first sample and the last. The kernel's high-water mark sees it, the
   samples cannot; and the 160 MiB written and freed in setup, before the measured phase,
   must not count. Where the mark cannot be reset, the record must say why. */
static void test_peak_rss(void)
{
    int rc = run("run t-churn --threads 1 --lat-every 0 --iters=64 --hold=64 --size=1048576 --mode=touch "
                 "--setup-mib=160 --rss-interval-ms 60000 --out '%s'", out_path);
    mh_jv *rec = last_record();
    CHECK(rc == 0 && rec && valid(rec), "t-churn 1 MiB: exit %d %s", rc, err_text);
    if (strcmp(str(rec, "memory.peak_rss_source"), "VmHWM") == 0) {
        double peak = num(rec, "memory.peak_rss_kib");
        CHECK(peak >= 64 * 1024, "peak RSS %g KiB missed the 64 MiB written", peak);
        CHECK(peak < 150 * 1024, "peak RSS %g KiB counts the setup's 160 MiB (mark not reset)", peak);
    } else {
        CHECK(strcmp(str(rec, "memory.peak_rss_source"), "samples") == 0 &&
                  strlen(str(rec, "memory.peak_rss_reason")) > 10,
              "peak RSS source '%s' without a reason", str(rec, "memory.peak_rss_source"));
        printf("peak RSS from samples on this machine: %s\n", str(rec, "memory.peak_rss_reason"));
    }
    mh_json_free(rec);
}

static void test_null_path(void)
{
    int rc = run("run t-churn --threads 2 --null-alloc --check --out '%s'", out_path);
    mh_jv *rec = last_record();
    CHECK(rc == 0 && rec && valid(rec), "null path: exit %d %s", rc, err_text);
    CHECK(mh_json_path(rec, "harness.null_path")->b, "null_path not recorded");
    CHECK(!mh_json_path(rec, "harness.check")->b, "content checks must be off on the null path");
    CHECK(num(rec, "ops") == 80000, "null path ops %g", num(rec, "ops"));
    mh_json_free(rec);
}

static void test_children(void)
{
    int rc = run("run t-child --threads 2 --check --generations=3 --out '%s'", out_path);
    mh_jv *rec = last_record();
    CHECK(rc == 0 && rec && valid(rec), "t-child: exit %d %s", rc, err_text);
    /* per thread: 1 malloc, 13 reallocs, 3*64 child mallocs, 2*64 child frees, 64 + 1 frees */
    CHECK(num(rec, "per_thread.0.ops") == 399 && num(rec, "per_thread.1.ops") == 399, "child ops %g", num(rec, "per_thread.0.ops"));
    CHECK(num(rec, "per_thread.0.children") == 3, "children %g", num(rec, "per_thread.0.children"));
    mh_json_free(rec);
}

/* A library with no version call of its own has no version: dlsym on its handle also
   searched its dependencies, and a wrapper of glibc's malloc was recorded as "glibc 2.36". */
static void test_unknown_version(void)
{
    int rc = run("run t-churn --threads 1 --size=64 --allocator wrapper=%s --out '%s'", scribble_so, out_path);
    mh_jv *rec = last_record();
    CHECK(rc == 0 && rec && valid(rec), "wrapper: exit %d %s", rc, err_text);
    CHECK(rec && mh_json_path(rec, "allocator.version")->type == MH_JNULL, "a wrapper of glibc's malloc got a version");
    mh_json_free(rec);
}

static void test_corruption(void)
{
    int rc = run("run t-churn --threads 1 --check --size=3333 --allocator scribble=%s --out '%s'", scribble_so, out_path);
    CHECK(rc == 4 && stderr_lines() == 1 && strstr(err_text, "allocator scribble") && strstr(err_text, "size 3333"),
          "exit %d: %s", rc, err_text);
}

/* An allocator that returns NULL (glibc asked to hold 1 GiB under a 768 MiB address-space
   limit) stops the run: one line naming it and the size, exit 5, no record, instead of a
   record that counted the failed mallocs as operations. */
static void test_allocation_failure(void)
{
    struct rlimit old, low;
    getrlimit(RLIMIT_AS, &old);
    low = old;
    low.rlim_cur = (rlim_t)768 << 20;
    if (old.rlim_max != RLIM_INFINITY && old.rlim_max < low.rlim_cur)
        low.rlim_cur = old.rlim_max;
    setrlimit(RLIMIT_AS, &low);
    remove(out_path);
    int rc = run("run t-churn --threads 1 --allocator glibc --iters=64 --hold=64 --size=16777216 --out '%s'", out_path);
    setrlimit(RLIMIT_AS, &old);
    struct stat st;
    CHECK(rc == 5 && stderr_lines() == 1 && strstr(err_text, "allocator glibc returned NULL for 16777216 bytes"),
          "exit %d: %s", rc, err_text);
    CHECK(stat(out_path, &st) != 0 || st.st_size == 0, "a record was written for a run whose malloc failed");
}

static void test_allocator_stats(void)
{
    int rc = run("run t-churn --allocator glibc --out '%s'", out_path);
    mh_jv *rec = last_record();
    CHECK(rc == 0 && rec && mh_json_get(rec, "allocator_stats")->type == MH_JNULL, "glibc has no allocator_stats");
    mh_json_free(rec);
    rc = run("run t-churn --allocator fake=%s --out '%s'", fakestats_so, out_path);
    rec = last_record();
    CHECK(rc == 0 && rec && valid(rec), "fake stats: exit %d %s", rc, err_text);
    CHECK(strcmp(str(rec, "allocator.version"), "fake-stats 1") == 0, "version %s", str(rec, "allocator.version"));
    CHECK(num(rec, "allocator_stats.allocs") == 7 && num(rec, "allocator_stats.heaps.1.allocs") == 4,
          "allocator_stats totals or heaps wrong");
    CHECK(num(rec, "allocator_stats.remote_free_matrix.1.0") == 10, "remote-free matrix: rows are CPUs");
    const mh_jv *m = mh_json_path(rec, "allocator_stats.remote_free_matrix");
    CHECK(m && m->len == 3 && m->items[0].len == 2 && num(rec, "allocator_stats.remote_free_matrix.2.1") == 21,
          "the remote-free matrix is not cut after its last row and column with a count (64 x 64 possible)");
    mh_json_free(rec);
}

/* The first "key : value" of /proc/cpuinfo whose key is exactly key, or "" if none. */
static const char *cpuinfo_field(const char *key, char *out, size_t len)
{
    char line[512];
    out[0] = '\0';
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && !out[0] && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (colon && strcspn(line, "\t:") == strlen(key) && !strncmp(line, key, strlen(key)))
            snprintf(out, len, "%.*s", (int)strcspn(colon + 2, "\n"), colon + 2);
    }
    if (f)
        fclose(f);
    return out;
}

/* env.cpu_id names the CPU beyond its model name, from the kernel's own fields. */
static void test_environment(void)
{
    int rc = run("run t-churn --threads 1 --out '%s'", out_path);
    mh_jv *rec = last_record();
    CHECK(rc == 0 && rec && valid(rec), "exit %d", rc);
    char vendor[128], family[32], model[32], want[256];
    if (cpuinfo_field("vendor_id", vendor, sizeof vendor)[0]) {
        snprintf(want, sizeof want, "%s family %s model %s ", vendor,
                 cpuinfo_field("cpu family", family, sizeof family), cpuinfo_field("model", model, sizeof model));
        CHECK(strncmp(str(rec, "env.cpu_id"), want, strlen(want)) == 0, "env.cpu_id \"%s\", want \"%s...\"",
              str(rec, "env.cpu_id"), want);
    } else {
        CHECK(mh_json_path(rec, "env.cpu_id") != NULL, "env.cpu_id missing (null expected without vendor_id)");
    }
    mh_json_free(rec);
}

/* Breaks a good record line one way at a time; validate must name each problem. */
static void test_validate(void)
{
    int rc = run("run t-churn --threads 2 --out '%s'", out_path);
    CHECK(rc == 0, "exit %d", rc);
    FILE *f = fopen(out_path, "r");
    char *line = NULL, *good = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        free(good);
        good = strdup(line);
    }
    fclose(f);
    static const char *const breaks[][3] = {
        { "\"schema\":", "\"schemx\":", "missing key schema" },
        { "\"threads\":2,", "\"threads\":\"2\",", "threads must be a number" },
        { "\"p50_ns\":", "\"p50_ns\":999999999,\"x\":", "out of order" },
        { "\"task_clock_ns\":{\"value\":", "\"task_clock_ns\":{\"value\":null,\"was\":", "without a reason" },
        { "\"status\":\"ok\"", "\"status\":\"fine\"", "status must be" },
        { "\"verified\":true", "\"verified\":false", "not proven" },
        { "\"ops\":", "\"ops\":0,\"was\":", "ops must be positive" },
        { "\"throughput_ops_s\":", "\"throughput_ops_s\":-1,\"was\":", "throughput_ops_s must be positive" },
    };
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/one.jsonl", tmpdir);
    for (size_t i = 0; i < sizeof breaks / sizeof breaks[0]; i++) {
        char *at = strstr(good, breaks[i][0]);
        CHECK(at != NULL, "record lacks %s", breaks[i][0]);
        if (!at)
            continue;
        f = fopen(path, "w");
        fprintf(f, "%.*s%s%s", (int)(at - good), good, breaks[i][1], at + strlen(breaks[i][0]));
        fclose(f);
        char cmd[2 * PATH_MAX];
        snprintf(cmd, sizeof cmd, "'%s' validate '%s' 2>/dev/null", mhbench, path);
        FILE *p = popen(cmd, "r");
        char msg[512] = "";
        size_t n = fread(msg, 1, sizeof msg - 1, p);
        msg[n] = '\0';
        int st = pclose(p);
        CHECK(WEXITSTATUS(st) == 1 && strstr(msg, breaks[i][2]), "break %zu: exit %d, said: %s", i, WEXITSTATUS(st), msg);
    }
    f = fopen(path, "w");
    fputs(good, f);
    fputs(good, f);
    fclose(f);
    rc = run("validate '%s'", path);
    CHECK(rc == 0, "two good records rejected: %s", err_text);
    /* a directory is not a records file: exit 2 naming it, not "no records" or a bare header */
    rc = run("validate '%s'", tmpdir);
    CHECK(rc == 2 && stderr_lines() == 1 && strstr(err_text, "is a directory"), "validate DIR: exit %d: %s", rc, err_text);
    rc = run("csv '%s'", tmpdir);
    CHECK(rc == 2 && stderr_lines() == 1 && strstr(err_text, "is a directory"), "csv DIR: exit %d: %s", rc, err_text);

    /* a file that cannot be read is refused before the header: a lone header reads as an
       empty result set */
    char cmd[3 * PATH_MAX];
    snprintf(cmd, sizeof cmd, "'%s' csv '%s' '%s/nonexistent' 2>/dev/null", mhbench, path, tmpdir);
    FILE *p = popen(cmd, "r");
    int rows = 0;
    while (getline(&line, &cap, p) > 0)
        rows++;
    int st = pclose(p);
    CHECK(WEXITSTATUS(st) == 2 && rows == 0, "csv of a missing file: exit %d, %d lines on stdout", WEXITSTATUS(st), rows);

    /* a record that cannot be written names the file it was for */
    rc = run("run t-churn --threads 1 --out=/dev/full");
    CHECK(rc == 1 && stderr_lines() == 1 && strstr(err_text, "cannot write the record to /dev/full: No space left"),
          "--out=/dev/full: exit %d: %s", rc, err_text);

    snprintf(cmd, sizeof cmd, "'%s' csv '%s'", mhbench, path);
    p = popen(cmd, "r");
    rows = 0;
    int fields_header = 0;
    while (getline(&line, &cap, p) > 0) {
        int fields = 1;
        for (char *c = line; *c; c++)
            fields += *c == ',';
        if (rows++ == 0)
            fields_header = fields;
        else
            CHECK(fields == fields_header && strstr(line, ",t-churn,"), "csv row %d: %d fields vs %d", rows, fields, fields_header);
    }
    CHECK(pclose(p) == 0 && rows == 3, "csv rows %d", rows);

    /* NUL bytes (what a crash can leave) and a line that is JSON but no record: both are
       named, and the records after them are still read. */
    f = fopen(path, "w");
    fputs(good, f);
    fwrite("\0\0\0\n", 1, 4, f);
    fputs("[1,2,3]\n", f);
    fputs(good, f);
    fclose(f);
    rc = run("validate '%s'", path);
    CHECK(rc == 1 && strstr(err_text, "4 record(s), 2 invalid"), "validate with NULs: exit %d: %s", rc, err_text);
    snprintf(cmd, sizeof cmd, "'%s' csv '%s' 2>/dev/null", mhbench, path);
    p = popen(cmd, "r");
    rows = 0;
    while (getline(&line, &cap, p) > 0)
        rows++;
    st = pclose(p);
    CHECK(WEXITSTATUS(st) == 2 && rows == 3, "csv with NULs: exit %d, %d lines", WEXITSTATUS(st), rows);
    free(line);
    free(good);
}

/* --out whose last line is torn (a run killed while appending): the record starts a line
   of its own, not glued onto the torn one and lost with it, and the torn line stays. */
static void test_torn_out(void)
{
    static const char torn[] = "{\"schema\":\"multiheap-result/1\",\"status\":\"ok\",\"err";
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/torn.jsonl", tmpdir);
    FILE *f = fopen(path, "w");
    fputs(torn, f);
    fclose(f);
    int rc = run("run t-churn --threads 1 --out '%s'", path);
    CHECK(rc == 0, "run onto a torn line: exit %d: %s", rc, err_text);
    rc = run("validate '%s'", path);
    CHECK(rc == 1 && strstr(err_text, "2 record(s), 1 invalid"), "the record after a torn line: exit %d: %s", rc,
          err_text);
    char *line = NULL;
    size_t cap = 0;
    f = fopen(path, "r");
    CHECK(getline(&line, &cap, f) > 0 && strncmp(line, torn, strlen(torn)) == 0 && line[strlen(torn)] == '\n',
          "the torn line changed: %s", line);
    fclose(f);
    free(line);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: test_cli MHBENCH NOMALLOC_SO SCRIBBLE_SO FAKESTATS_SO\n");
        return 2;
    }
    nomalloc_so = argv[2];
    scribble_so = argv[3];
    fakestats_so = argv[4];
    if (!clitest_begin(argv[1]))
        return 1;
    test_allocators();
    test_broken_preloads();
    test_bad_input();
    test_placement();
    test_counters_latency_ops();
    test_counters_refused();
    test_peak_rss();
    test_null_path();
    test_children();
    test_corruption();
    test_unknown_version();
    test_allocation_failure();
    test_allocator_stats();
    test_environment();
    test_validate();
    test_torn_out();
    return clitest_end();
}
