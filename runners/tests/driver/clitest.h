/*
 * What the tests that run mhbench as a user would share: the CHECK macro (counts a
 * failure and goes on), run() with stderr kept, the last record of --out, and a
 * scratch directory made by clitest_begin and removed by clitest_end.
 */
#ifndef CLITEST_H
#define CLITEST_H

#define _GNU_SOURCE
#include "driver.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *mhbench;
static char tmpdir[] = "/tmp/mhbench-test-XXXXXX";
static char out_path[PATH_MAX], err_path[PATH_MAX], err_text[4096];
static int failures;

#define CHECK(cond, ...) do { if (!(cond)) { fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, #cond); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); failures++; } } while (0)

/* Runs "ENV mhbench ARGS" (env: shell assignments, "" for none) with stdout to /dev/null
   and stderr kept in err_text; the exit status. */
static int run_with(const char *env, const char *fmt, ...)
{
    char args[2048], cmd[4096 + 2 * PATH_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s '%s' %s >/dev/null 2>'%s'", env, mhbench, args, err_path);
    int st = system(cmd);
    FILE *f = fopen(err_path, "r");
    size_t n = f ? fread(err_text, 1, sizeof err_text - 1, f) : 0;
    err_text[n] = '\0';
    if (f)
        fclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
#define run(...) run_with("", __VA_ARGS__)

/* The last record appended to out_path (the caller frees it). */
static mh_jv *last_record(void)
{
    FILE *f = fopen(out_path, "r");
    char *line = NULL, *last = NULL;
    size_t cap = 0;
    while (f && getline(&line, &cap, f) > 0) {
        free(last);
        last = strdup(line);
    }
    if (f)
        fclose(f);
    free(line);
    char err[256] = "no record";
    mh_jv *v = last ? mh_json_parse(last, strlen(last), err, sizeof err) : NULL;
    if (!v)
        fprintf(stderr, "cannot read a record from %s: %s\n", out_path, err);
    free(last);
    return v;
}

static double num(const mh_jv *rec, const char *path) { return mh_json_num_or(mh_json_path(rec, path), -1); }
static const char *str(const mh_jv *rec, const char *path) { return mh_json_str_or(mh_json_path(rec, path), ""); }

/* The scratch directory and the paths in it; false if it cannot be made. */
static bool clitest_begin(const char *mhbench_path)
{
    mhbench = mhbench_path;
    if (!mkdtemp(tmpdir))
        return false;
    snprintf(out_path, sizeof out_path, "%s/records.jsonl", tmpdir);
    snprintf(err_path, sizeof err_path, "%s/stderr", tmpdir);
    return true;
}

/* Removes the scratch directory; the test's exit status. */
static int clitest_end(void)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "note: could not remove %s\n", tmpdir);
    if (failures)
        fprintf(stderr, "%d check(s) failed\n", failures);
    return failures != 0;
}

#endif /* CLITEST_H */
