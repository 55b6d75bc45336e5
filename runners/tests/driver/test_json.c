/* driver.json: the JSON writer and reader, round trips and errors. */
#include "json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

/* Writes a document with every value kind, nesting, escapes and a key inside an array. */
static char *write_sample(bool pretty, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    mh_jw w;
    mh_jw_init(&w, f, pretty);
    mh_jw_obj_begin(&w, NULL);
    mh_jw_str(&w, "s", "quote\" back\\ nl\n tab\t ctl\x01 utf8 \xc3\xa9");
    mh_jw_str(&w, "nul", NULL);
    mh_jw_num(&w, "pi", 3.141592653589793);
    mh_jw_num(&w, "big", 1e300);
    mh_jw_num(&w, "inf", INFINITY);
    mh_jw_num(&w, "whole", 42.0);
    mh_jw_int(&w, "neg", -9007199254740991LL);
    mh_jw_bool(&w, "t", true);
    mh_jw_bool(&w, "f", false);
    mh_jw_null(&w, "z");
    mh_jw_arr_begin(&w, "arr");
    mh_jw_int(&w, "ignored-key", 1);
    mh_jw_obj_begin(&w, NULL);
    mh_jw_arr_begin(&w, "empty");
    mh_jw_arr_end(&w);
    mh_jw_obj_end(&w);
    mh_jw_obj_begin(&w, NULL);
    mh_jw_obj_end(&w);
    mh_jw_arr_end(&w);
    mh_jw_obj_end(&w);
    fclose(f);
    return buf;
}

static void check_sample(const mh_jv *v)
{
    CHECK(v && v->type == MH_JOBJ);
    CHECK(strcmp(mh_json_str_or(mh_json_get(v, "s"), ""), "quote\" back\\ nl\n tab\t ctl\x01 utf8 \xc3\xa9") == 0);
    CHECK(mh_json_get(v, "nul")->type == MH_JNULL);
    CHECK(mh_json_num_or(mh_json_get(v, "pi"), 0) == 3.141592653589793);
    CHECK(mh_json_num_or(mh_json_get(v, "big"), 0) == 1e300);
    CHECK(mh_json_get(v, "inf")->type == MH_JNULL);
    CHECK(mh_json_num_or(mh_json_get(v, "whole"), 0) == 42.0);
    CHECK(mh_json_num_or(mh_json_get(v, "neg"), 0) == -9007199254740991.0);
    CHECK(mh_json_get(v, "t")->b == true && mh_json_get(v, "f")->b == false);
    CHECK(mh_json_get(v, "z")->type == MH_JNULL);
    CHECK(mh_json_path(v, "arr")->len == 3);
    CHECK(mh_json_num_or(mh_json_path(v, "arr.0"), 0) == 1);
    CHECK(mh_json_path(v, "arr.1.empty")->type == MH_JARR && mh_json_path(v, "arr.1.empty")->len == 0);
    CHECK(mh_json_path(v, "arr.2")->type == MH_JOBJ && mh_json_path(v, "arr.2")->len == 0);
    CHECK(mh_json_path(v, "arr.3") == NULL);
    CHECK(mh_json_path(v, "arr.x") == NULL);
    CHECK(mh_json_get(v, "missing") == NULL);
    CHECK(mh_json_num_or(mh_json_get(v, "s"), -1) == -1);
    CHECK(strcmp(mh_json_str_or(mh_json_get(v, "pi"), "dflt"), "dflt") == 0);
}

static void test_round_trip(bool pretty)
{
    size_t len;
    char *text = write_sample(pretty, &len);
    /* compact output is exactly one line: the JSONL form depends on it */
    if (!pretty)
        CHECK(strchr(text, '\n') == text + len - 1);
    char err[200] = "";
    mh_jv *v = mh_json_parse(text, len, err, sizeof err);
    if (!v)
        fprintf(stderr, "parse failed: %s\n%s\n", err, text);
    check_sample(v);
    mh_json_free(v);
    free(text);
}

static void expect_error(const char *text, const char *want)
{
    char err[200] = "";
    mh_jv *v = mh_json_parse(text, strlen(text), err, sizeof err);
    CHECK(v == NULL);
    if (!strstr(err, want)) {
        fprintf(stderr, "input %s: error \"%s\" lacks \"%s\"\n", text, err, want);
        failures++;
    }
    mh_json_free(v);
}

static void test_errors(void)
{
    expect_error("", "line 1 col 1: unexpected end");
    expect_error("{\"a\":1,}", "object key");
    expect_error("[1,2", "unexpected end");
    expect_error("[1 2]", "',' or ']' expected");
    expect_error("{\"a\" 1}", "':' expected");
    expect_error("\"abc", "unterminated string");
    expect_error("\"a\\qb\"", "bad escape");
    expect_error("\"\\u12G4\"", "bad hex digit");
    expect_error("\"\\uD800x\"", "surrogate");
    expect_error("01", "trailing characters");
    expect_error("-", "bad number");
    expect_error("1.", "digit expected");
    expect_error("1e", "exponent");
    expect_error("tru", "unexpected character");
    expect_error("{}\n{}", "line 2 col 1: trailing");
    char deep[600];
    memset(deep, '[', sizeof deep - 1);
    deep[sizeof deep - 1] = '\0';
    expect_error(deep, "nesting deeper");
}

static void test_reader_details(void)
{
    const char *text = " { \"u\" : \"\\u00e9\\ud83d\\ude00\\/\" , \"n\" : [ -0.5e+2 , 0 , 1E3 ] } ";
    char err[200];
    mh_jv *v = mh_json_parse(text, strlen(text), err, sizeof err);
    CHECK(v != NULL);
    CHECK(strcmp(mh_json_str_or(mh_json_get(v, "u"), ""), "\xc3\xa9\xf0\x9f\x98\x80/") == 0);
    CHECK(mh_json_num_or(mh_json_path(v, "n.0"), 0) == -50.0);
    CHECK(mh_json_num_or(mh_json_path(v, "n.1"), 1) == 0.0);
    CHECK(mh_json_num_or(mh_json_path(v, "n.2"), 0) == 1000.0);
    mh_json_free(v);

    char path[] = "/tmp/mhjson-test-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fputs("{\"k\": [true]}\n", f);
    fclose(f);
    v = mh_json_parse_file(path, err, sizeof err);
    CHECK(v && mh_json_path(v, "k.0")->b);
    mh_json_free(v);
    remove(path);
    CHECK(mh_json_parse_file(path, err, sizeof err) == NULL);
    CHECK(strstr(err, path) != NULL && strstr(err, "No such file") != NULL);
}

int main(void)
{
    test_round_trip(false);
    test_round_trip(true);
    test_errors();
    test_reader_details();
    if (failures)
        fprintf(stderr, "%d check(s) failed\n", failures);
    return failures != 0;
}
