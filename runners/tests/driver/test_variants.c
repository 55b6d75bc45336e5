/*
 * driver.variants: allocator variants (NAME=BASE+VAR=VALUE..., multiheap-seed).
 * The spec parser in-process; then mhbench (built with the test workloads) with
 * a stand-in multiheap that reports its switches through mh_options() but always
 * purges, so that a switch the library ignores must be refused; and with the
 * libmultiheap of this tree:
 *   test_variants MHBENCH FAKESTATS_SO SCRIBBLE_SO
 */
#include "clitest.h"
#include "multiheap_env.h"

static const char *fake_so, *scribble_so;

static bool one_line(const char *s) { return strchr(s, '\n') == strrchr(s, '\n') && s[0]; }

static off_t out_size(void)
{
    struct stat st;
    return stat(out_path, &st) == 0 ? st.st_size : 0;
}

static void test_parse(void)
{
    mh_allocator a;
    char err[1024];
    CHECK(mh_allocator_resolve("multiheap-seed", &a, err, sizeof err) == 0 && strcmp(a.name, "multiheap-seed") == 0 &&
          a.nenv == 1 && strcmp(a.env[0], "MULTIHEAP_SEED=1") == 0 && a.path[0], "multiheap-seed: %s", err);
    CHECK(mh_allocator_resolve("v=multiheap+MULTIHEAP_CACHE=0+MULTIHEAP_PURGE_MS=off", &a, err, sizeof err) == 0 &&
          strcmp(a.name, "v") == 0 && a.nenv == 2 && strcmp(a.env[0], "MULTIHEAP_CACHE=0") == 0 &&
          strcmp(a.env[1], "MULTIHEAP_PURGE_MS=off") == 0, "v=multiheap+...: %s", err);
    /* a '+' inside a path or a value is not a separator */
    CHECK(mh_allocator_resolve("p=/opt/a+b/lib.so+MULTIHEAP_KEY=thread", &a, err, sizeof err) == 0 &&
          strcmp(a.path, "/opt/a+b/lib.so") == 0 && a.nenv == 1 && strcmp(a.env[0], "MULTIHEAP_KEY=thread") == 0,
          "path with '+': %s / %s", a.path, err);
    CHECK(mh_allocator_resolve("g=glibc+GLIBC_TUNABLES=glibc.malloc.arena_max=1+X=a+b", &a, err, sizeof err) == 0 &&
          !a.path[0] && a.nenv == 2 && strcmp(a.env[0], "GLIBC_TUNABLES=glibc.malloc.arena_max=1") == 0 &&
          strcmp(a.env[1], "X=a+b") == 0, "glibc variant: %s", err);
    static const char *const bad[][2] = {
        { "multiheap+MULTIHEAP_CACHE=0", "needs a name" },
        { "v=multiheap+MULTIHEAP_CACHE=2", "MULTIHEAP_CACHE=0|1" },
        { "v=multiheap+MULTIHEAP_PURGE_MS=soon", "0..3600000|off" },
        { "v=multiheap+MULTIHEAP_PURGE_MS=3600001", "0..3600000|off" },
        { "v=multiheap+MULTIHEAP_PURGE_MS=", "0..3600000|off" },
        { "v=glibc+MULTIHEAP_CACHE=0", "MULTIHEAP_CACHE is a multiheap switch, but glibc has no mh_options()" },
        { "v=multiheap+MULTIHEAP_NOPE=1", "unknown multiheap switch MULTIHEAP_NOPE" },
        { "v=mulitheap+MULTIHEAP_CACHE=0", "neither a known allocator nor a library path" },
        { "two words=multiheap", "NAME of letters" },
        { "v=", "NAME=/path/lib.so" },
        { "glibc=jemalloc+MALLOC_CONF=narenas:1", "'glibc' is a built-in allocator's name" },
        { "v=multiheap+MULTIHEAP_CACHE=1+MULTIHEAP_CACHE=0", "MULTIHEAP_CACHE is given twice" },
        { "multiheap-seed=multiheap+MULTIHEAP_CACHE=0", "'multiheap-seed' is a built-in allocator's name" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        int rc = mh_allocator_resolve(bad[i][0], &a, err, sizeof err);
        CHECK(rc == -1 && strstr(err, bad[i][1]) && !strchr(err, '\n'), "'%s': rc %d, err '%s'", bad[i][0], rc, err);
    }
}

static void test_runs(void)
{
    int rc = run("run t-churn --allocator 'v=%s+MULTIHEAP_CACHE=0+MULTIHEAP_KEY=thread' --out '%s'", fake_so, out_path);
    mh_jv *rec = last_record();
    char buf[256];
    CHECK(rc == 0 && rec && !mh_record_validate(rec, buf, sizeof buf), "variant run: exit %d: %s", rc, err_text);
    CHECK(strcmp(str(rec, "allocator.name"), "v") == 0 && strcmp(str(rec, "allocator.env.MULTIHEAP_CACHE"), "0") == 0 &&
          strcmp(str(rec, "allocator.env.MULTIHEAP_KEY"), "thread") == 0, "allocator.env not recorded");
    CHECK(strstr(str(rec, "allocator.options"), "key=thread cache=off") != NULL, "options '%s'", str(rec, "allocator.options"));
    CHECK(num(rec, "allocator_stats.purge_calls") == 5 && num(rec, "allocator_stats.cache_flushes") == 9 &&
          num(rec, "allocator_stats.heaps.1.cache_refills") == 2, "purge/cache statistics not recorded");
    mh_json_free(rec);

    rc = run("run t-churn --allocator 'sc=%s+MULTIHEAP_SEED=1+MULTIHEAP_CACHE=1+MULTIHEAP_PURGE_MS=250' --out '%s'",
             fake_so, out_path);
    rec = last_record();
    CHECK(rc == 0 && strstr(str(rec, "allocator.options"), "cache=rseq remote_batch=off purge_ms=250"),
          "seed + cache: exit %d %s", rc, err_text);
    mh_json_free(rec);

    rc = run("run t-churn --allocator 's=%s' --out '%s'", scribble_so, out_path);
    rec = last_record();
    CHECK(rc == 0 && mh_json_path(rec, "allocator.options")->type == MH_JNULL &&
          strstr(str(rec, "allocator.options_reason"), "not multiheap"), "no mh_options: exit %d %s", rc, err_text);
    mh_json_free(rec);
}

/* The library this tree builds takes the switches the ladder uses (the front
 * cache is left out: whether it can run depends on the kernel's rseq). */
static void test_real_multiheap(void)
{
    mh_allocator a;
    char err[1024];
    mh_allocator_resolve("multiheap", &a, err, sizeof err);
    if (!a.installed) {
        fprintf(stderr, "note: libmultiheap not built (%s), real variants skipped\n", a.path);
        return;
    }
    int rc = run("run t-churn --allocator multiheap-seed --out '%s'", out_path);
    mh_jv *rec = last_record();
    const char *opt = str(rec, "allocator.options");
    CHECK(rc == 0 && strstr(opt, "cache=off") && strstr(opt, "remote_batch=off") && strstr(opt, "purge_ms=off"),
          "multiheap-seed: exit %d, options '%s': %s", rc, opt, err_text);
    mh_json_free(rec);
    rc = run("run t-churn --allocator 'x=multiheap+MULTIHEAP_PURGE_MS=off+MULTIHEAP_LARGE_CACHE=0' --out '%s'", out_path);
    rec = last_record();
    opt = str(rec, "allocator.options");
    CHECK(rc == 0 && strstr(opt, "purge_ms=off") && strstr(opt, "large_cache=off"),
          "purge and large cache off: exit %d, options '%s': %s", rc, opt, err_text);
    mh_json_free(rec);
}

/* Does the libmultiheap at lib take var=value? It warns about a value it ignores. */
static bool allocator_takes(const char *lib, const char *var, const char *value)
{
    char env[2 * PATH_MAX];
    snprintf(env, sizeof env, "%s='%s' LD_PRELOAD='%s'", var, value, lib);
    int rc = run_with(env, "list");
    CHECK(rc == 0, "mhbench list under %s=%s exited %d", var, value, rc);
    char warning[128];
    snprintf(warning, sizeof warning, "multiheap: %s ", var);
    return !strstr(err_text, warning);
}

/* Is value one of the list's, '|'-separated? */
static bool listed(const char *list, const char *value)
{
    size_t n = strlen(value);
    for (const char *c = list; *c; c += strcspn(c, "|") + (c[strcspn(c, "|")] == '|'))
        if (strcspn(c, "|") == n && strncmp(c, value, n) == 0)
            return true;
    return false;
}

/* Of the values below, what each switch must take, written out here and not read from
   the table both sides share, so that a change to the table or its parser shows too. */
static bool should_take(int s, const char *value)
{
    if (s == MH_ENV_KEY)
        return listed("cpu|thread|global", value);
    if (s == MH_ENV_PURGE_MS)
        return listed("0|1|2|01|3600000|0003600000|off", value);
    return listed("0|1", value);
}

/* The spec check takes exactly the values the allocator takes, at each switch's
   boundaries, and those are the values each switch must take: a value it refused passed
   for a variant, and every run of it then measured the default
   (MULTIHEAP_PURGE_MS=99999999). An empty value is left out: the allocator reads it as
   unset, which a variant cannot check (test_parse). */
static void test_same_values_as_allocator(void)
{
    mh_allocator a;
    char err[1024], lib[PATH_MAX];
    mh_allocator_resolve("multiheap", &a, err, sizeof err);
    if (!a.installed) {
        fprintf(stderr, "note: libmultiheap not built (%s), the values it takes are not compared\n", a.path);
        return;
    }
    snprintf(lib, sizeof lib, "%s", a.path);
    static const char *const values[] = { "0", "1", "2", "01", " 1", "1 ", "-1", "+1", "0x1", "on", "off", "OFF",
                                          "cpu", "thread", "global", "Cpu", "3600000", "0003600000", "3600001",
                                          "99999999", "99999999999999999999", "1e3", "250ms" };
    for (int s = 0; s < MH_ENV_COUNT; s++)
        for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
            const char *var = mh_env_defs[s].name;
            char spec[256];
            snprintf(spec, sizeof spec, "v=multiheap+%s=%s", var, values[i]);
            err[0] = '\0';
            bool spec_ok = mh_allocator_resolve(spec, &a, err, sizeof err) == 0;
            bool taken = allocator_takes(lib, var, values[i]);
            CHECK(spec_ok == taken, "%s='%s': the spec check %s it (%s), the allocator %s it (%s)", var, values[i],
                  spec_ok ? "takes" : "refuses", err, taken ? "takes" : "refuses", err_text);
            CHECK(taken == should_take(s, values[i]), "%s='%s': the allocator %s it", var, values[i],
                  taken ? "takes" : "refuses");
        }
}

/* Switches the library did not take, and bad specs: refused, nothing written. */
static void test_refusals(void)
{
    static const struct { const char *spec; const char *const *lib; int rc; const char *why; } cases[] = {
        { "v=%s+MULTIHEAP_PURGE_MS=off", &fake_so, 3, "MULTIHEAP_PURGE_MS asks for purge_ms=off" },
        { "v=%s+MULTIHEAP_SEED=1", &fake_so, 3, "MULTIHEAP_SEED asks for purge_ms=off" },
        { "v=%s+MULTIHEAP_CACHE=0", &scribble_so, 2, "has no mh_options() (not multiheap)" },
        { "%s+MULTIHEAP_CACHE=0", &fake_so, 2, "needs a name" },
        { "v=%s+MULTIHEAP_CACHE=yes", &fake_so, 2, "MULTIHEAP_CACHE=0|1" },
        /* asked on where another switch turns it off: every run's check would fail */
        { "v=%s+MULTIHEAP_SEED=1+MULTIHEAP_PURGE_THREAD=1", &fake_so, 2, "MULTIHEAP_PURGE_THREAD=1 cannot take effect" },
        { "v=%s+MULTIHEAP_PURGE_MS=off+MULTIHEAP_PURGE_THREAD=1", &fake_so, 2, "purging is off" },
        { "v=%s+MULTIHEAP_CACHE=0+MULTIHEAP_CHECK=1", &fake_so, 2, "MULTIHEAP_CHECK=1 cannot take effect" },
        { "v=%s+MULTIHEAP_CACHE=0+MULTIHEAP_REMOTE_BATCH=1", &fake_so, 2, "the front cache is off" },
        { "v=%s+MULTIHEAP_SEED=1+MULTIHEAP_CACHE=1+MULTIHEAP_REMOTE_BINS=1", &fake_so, 2, "remote batching is off" },
    };
    off_t before = out_size();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char spec[PATH_MAX + 128];
        snprintf(spec, sizeof spec, cases[i].spec, *cases[i].lib);
        int rc = run("run t-churn --allocator '%s' --out '%s'", spec, out_path);
        CHECK(rc == cases[i].rc && one_line(err_text) && strstr(err_text, cases[i].why),
              "'%s': exit %d, stderr: %s", cases[i].spec, rc, err_text);
    }
    CHECK(out_size() == before, "a refused run appended a record");
    /* ... but each asked on with what it needs: taken */
    int ok = run("allocators 'v=%s+MULTIHEAP_SEED=1+MULTIHEAP_PURGE_MS=100+MULTIHEAP_PURGE_THREAD=1' "
                 "'w=%s+MULTIHEAP_SEED=1+MULTIHEAP_CACHE=1+MULTIHEAP_REMOTE_BATCH=1+MULTIHEAP_REMOTE_BINS=1+MULTIHEAP_CHECK=1'",
                 fake_so, fake_so);
    CHECK(ok == 0, "switches with what they need were refused: exit %d %s", ok, err_text);
    int rc = run("allocators 'v=multiheap+MULTIHEAP_CACHE=2'");
    CHECK(rc == 2 && one_line(err_text), "allocators with a bad spec: exit %d %s", rc, err_text);
    rc = run("allocators 'v=%s+MULTIHEAP_CACHE=0'", scribble_so);
    CHECK(rc == 2 && one_line(err_text) && strstr(err_text, "has no mh_options()"),
          "allocators with a switch on a library that is not multiheap: exit %d %s", rc, err_text);
    /* a library that is missing, or no ELF file: the check says which, as a run does */
    rc = run("allocators 'v=/nonexistent/lib.so'");
    CHECK(rc == 2 && one_line(err_text) && strstr(err_text, "not installed (/nonexistent/lib.so: No such file"),
          "allocators with a missing library: exit %d %s", rc, err_text);
    rc = run("run t-churn --allocator 'v=/etc/passwd' --out '%s'", out_path);
    CHECK(rc == 2 && one_line(err_text) && strstr(err_text, "/etc/passwd is not an ELF file"),
          "a run of a library that is no ELF file: exit %d %s", rc, err_text);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: test_variants MHBENCH FAKESTATS_SO SCRIBBLE_SO\n");
        return 2;
    }
    fake_so = argv[2];
    scribble_so = argv[3];
    if (!clitest_begin(argv[1]))
        return 1;
    test_parse();
    test_runs();
    test_real_multiheap();
    test_same_values_as_allocator();
    test_refusals();
    return clitest_end();
}
