/*
 * Minimal JSON writer and reader (see json.h).
 *
 * The writer streams straight to a FILE: records are written once and never
 * edited, so no tree is built. The reader builds a small tree; inputs are
 * result files of a few MiB at most.
 */
#include "json.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- writer */

void mh_jw_init(mh_jw *w, FILE *f, bool pretty)
{
    memset(w, 0, sizeof *w);
    w->f = f;
    w->pretty = pretty;
}

static void jw_indent(mh_jw *w)
{
    if (!w->pretty)
        return;
    fputc('\n', w->f);
    for (int i = 0; i < w->depth; i++)
        fputs("  ", w->f);
}

static void jw_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':  fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        case '\b': fputs("\\b", f); break;
        case '\f': fputs("\\f", f); break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

enum { JW_OBJECT, JW_ARRAY, JW_ARRAY_NESTED };

/* Comma, indentation and key before a value; keys only count inside objects.
 * Pretty output keeps arrays of scalars (series) on one line. */
static void jw_prefix(mh_jw *w, const char *key, bool container)
{
    unsigned char *kind = &w->kind[w->depth];
    if (w->depth > 0) {
        if (w->need_comma[w->depth])
            fputc(',', w->f);
        if (*kind == JW_ARRAY && container)
            *kind = JW_ARRAY_NESTED;
        if (*kind != JW_ARRAY)
            jw_indent(w);
        else if (w->pretty && w->need_comma[w->depth])
            fputc(' ', w->f);
    }
    w->need_comma[w->depth] = true;
    if (key && w->depth > 0 && *kind == JW_OBJECT) {
        jw_string(w->f, key);
        fputs(w->pretty ? ": " : ":", w->f);
    }
}

static void jw_open(mh_jw *w, const char *key, char c, bool array)
{
    jw_prefix(w, key, true);
    fputc(c, w->f);
    if (w->depth + 1 < (int)(sizeof w->need_comma / sizeof w->need_comma[0]))
        w->depth++;
    w->need_comma[w->depth] = false;
    w->kind[w->depth] = array ? JW_ARRAY : JW_OBJECT;
}

static void jw_close(mh_jw *w, char c)
{
    bool indent = w->need_comma[w->depth] && w->kind[w->depth] != JW_ARRAY;
    if (w->depth > 0)
        w->depth--;
    if (indent)
        jw_indent(w);
    fputc(c, w->f);
    if (w->depth == 0)
        fputc('\n', w->f);
}

void mh_jw_obj_begin(mh_jw *w, const char *key) { jw_open(w, key, '{', false); }
void mh_jw_obj_end(mh_jw *w) { jw_close(w, '}'); }
void mh_jw_arr_begin(mh_jw *w, const char *key) { jw_open(w, key, '[', true); }
void mh_jw_arr_end(mh_jw *w) { jw_close(w, ']'); }

void mh_jw_str(mh_jw *w, const char *key, const char *s)
{
    jw_prefix(w, key, false);
    if (s)
        jw_string(w->f, s);
    else
        fputs("null", w->f);
}

void mh_jw_num(mh_jw *w, const char *key, double v)
{
    jw_prefix(w, key, false);
    if (!isfinite(v)) {
        fputs("null", w->f);
        return;
    }
    /* shortest of 15 or 17 significant digits that reads back exactly */
    char buf[40];
    if (v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, sizeof buf, "%.0f", v);
    else if (snprintf(buf, sizeof buf, "%.15g", v), strtod(buf, NULL) != v)
        snprintf(buf, sizeof buf, "%.17g", v);
    fputs(buf, w->f);
}

void mh_jw_int(mh_jw *w, const char *key, long long v)
{
    jw_prefix(w, key, false);
    fprintf(w->f, "%lld", v);
}

void mh_jw_bool(mh_jw *w, const char *key, bool v)
{
    jw_prefix(w, key, false);
    fputs(v ? "true" : "false", w->f);
}

void mh_jw_null(mh_jw *w, const char *key)
{
    jw_prefix(w, key, false);
    fputs("null", w->f);
}

/* ---------------------------------------------------------------- reader */

typedef struct parser {
    const char *s, *end, *start;
    char *err;
    size_t errlen;
    bool failed;
    int depth;
} parser;

enum { MAX_DEPTH = 256 };

static void p_fail(parser *p, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    int line = 1, col = 1;
    for (const char *c = p->start; c < p->s && c < p->end; c++) {
        if (*c == '\n') { line++; col = 1; } else col++;
    }
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (p->err && p->errlen)
        snprintf(p->err, p->errlen, "line %d col %d: %s", line, col, what);
}

static void p_skip_ws(parser *p)
{
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r'))
        p->s++;
}

static bool p_literal(parser *p, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(p->end - p->s) >= n && memcmp(p->s, word, n) == 0) {
        p->s += n;
        return true;
    }
    return false;
}

static int p_hex4(parser *p)
{
    if (p->end - p->s < 4) { p_fail(p, "truncated \\u escape"); return -1; }
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int c = (unsigned char)*p->s++, d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else { p_fail(p, "bad hex digit in \\u escape"); return -1; }
        v = v * 16 + d;
    }
    return v;
}

static size_t utf8_put(char *out, uint32_t cp)
{
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) { out[0] = (char)(0xC0 | cp >> 6); out[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12); out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F)); return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18); out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static uint32_t p_escape_codepoint(parser *p)
{
    int hi = p_hex4(p);
    if (hi < 0)
        return 0;
    if (hi < 0xD800 || hi > 0xDBFF)
        return (uint32_t)hi;
    if (!p_literal(p, "\\u")) { p_fail(p, "lone surrogate in \\u escape"); return 0; }
    int lo = p_hex4(p);
    if (lo < 0xDC00 || lo > 0xDFFF) { p_fail(p, "bad low surrogate in \\u escape"); return 0; }
    return 0x10000 + (((uint32_t)hi - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
}

/* The unescaped text is never longer than the escaped text. */
static char *p_string(parser *p)
{
    p->s++; /* opening quote */
    const char *q = p->s;
    while (q < p->end && *q != '"') q += (*q == '\\') ? 2 : 1;
    if (q >= p->end) { p_fail(p, "unterminated string"); return NULL; }
    char *out = malloc((size_t)(q - p->s) + 1), *o = out;
    if (!out) { p_fail(p, "out of memory"); return NULL; }
    while (!p->failed && *p->s != '"') {
        unsigned char c = (unsigned char)*p->s++;
        if (c < 0x20) { p_fail(p, "control character in string"); break; }
        if (c != '\\') { *o++ = (char)c; continue; }
        char e = *p->s++;
        switch (e) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '/': *o++ = '/'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': o += utf8_put(o, p_escape_codepoint(p)); break;
        default: p->s--; p_fail(p, "bad escape \\%c", e);
        }
    }
    if (p->failed) { free(out); return NULL; }
    p->s++; /* closing quote */
    *o = '\0';
    return out;
}

static void p_number(parser *p, mh_jv *v)
{
    const char *b = p->s;
    if (p->s < p->end && *p->s == '-') p->s++;
    if (p->s >= p->end || !isdigit((unsigned char)*p->s)) { p_fail(p, "bad number"); return; }
    if (*p->s == '0') p->s++;
    else while (p->s < p->end && isdigit((unsigned char)*p->s)) p->s++;
    if (p->s < p->end && *p->s == '.') {
        p->s++;
        if (p->s >= p->end || !isdigit((unsigned char)*p->s)) { p_fail(p, "bad number: digit expected after '.'"); return; }
        while (p->s < p->end && isdigit((unsigned char)*p->s)) p->s++;
    }
    if (p->s < p->end && (*p->s == 'e' || *p->s == 'E')) {
        p->s++;
        if (p->s < p->end && (*p->s == '+' || *p->s == '-')) p->s++;
        if (p->s >= p->end || !isdigit((unsigned char)*p->s)) { p_fail(p, "bad number: exponent digits expected"); return; }
        while (p->s < p->end && isdigit((unsigned char)*p->s)) p->s++;
    }
    char buf[64];
    size_t n = (size_t)(p->s - b);
    if (n >= sizeof buf) { p_fail(p, "number too long"); return; }
    memcpy(buf, b, n);
    buf[n] = '\0';
    v->type = MH_JNUM;
    v->num = strtod(buf, NULL);
}

static void p_value(parser *p, mh_jv *v);

/* Arrays and objects grow by doubling; keys stay NULL for arrays. */
static bool p_push(parser *p, mh_jv *v, size_t *cap, char *key)
{
    if (v->len == *cap) {
        size_t n = *cap ? *cap * 2 : 4;
        mh_jv *items = realloc(v->items, n * sizeof *items);
        if (items) v->items = items;
        char **keys = v->type == MH_JOBJ ? realloc(v->keys, n * sizeof *keys) : NULL;
        if (keys) v->keys = keys;
        if (!items || (v->type == MH_JOBJ && !keys)) { p_fail(p, "out of memory"); free(key); return false; }
        *cap = n;
    }
    memset(&v->items[v->len], 0, sizeof v->items[0]);
    if (v->type == MH_JOBJ) v->keys[v->len] = key;
    v->len++;
    return true;
}

static void p_container(parser *p, mh_jv *v, bool object)
{
    char close = object ? '}' : ']';
    v->type = object ? MH_JOBJ : MH_JARR;
    if (++p->depth > MAX_DEPTH) { p_fail(p, "nesting deeper than %d", MAX_DEPTH); return; }
    p->s++;
    size_t cap = 0;
    p_skip_ws(p);
    if (p->s < p->end && *p->s == close) { p->s++; p->depth--; return; }
    for (;;) {
        char *key = NULL;
        p_skip_ws(p);
        if (object) {
            if (p->s >= p->end || *p->s != '"') { p_fail(p, "object key (a string) expected"); return; }
            if (!(key = p_string(p))) return;
            p_skip_ws(p);
            if (p->s >= p->end || *p->s != ':') { free(key); p_fail(p, "':' expected after key"); return; }
            p->s++;
        }
        if (!p_push(p, v, &cap, key)) return;
        p_value(p, &v->items[v->len - 1]);
        if (p->failed) return;
        p_skip_ws(p);
        if (p->s < p->end && *p->s == ',') { p->s++; continue; }
        if (p->s < p->end && *p->s == close) { p->s++; p->depth--; return; }
        p_fail(p, "%s',' or '%c' expected", p->s >= p->end ? "unexpected end of input: " : "", close);
        return;
    }
}

static void p_value(parser *p, mh_jv *v)
{
    p_skip_ws(p);
    if (p->s >= p->end) { p_fail(p, "unexpected end of input"); return; }
    switch (*p->s) {
    case '{': p_container(p, v, true); return;
    case '[': p_container(p, v, false); return;
    case '"': v->type = MH_JSTR; v->str = p_string(p); return;
    case 't': if (p_literal(p, "true")) { v->type = MH_JBOOL; v->b = true; return; } break;
    case 'f': if (p_literal(p, "false")) { v->type = MH_JBOOL; v->b = false; return; } break;
    case 'n': if (p_literal(p, "null")) { v->type = MH_JNULL; return; } break;
    default:
        if (*p->s == '-' || isdigit((unsigned char)*p->s)) { p_number(p, v); return; }
    }
    if (isprint((unsigned char)*p->s))
        p_fail(p, "unexpected character '%c'", *p->s);
    else
        p_fail(p, "unexpected byte 0x%02x", (unsigned char)*p->s);
}

static void jv_release(mh_jv *v)
{
    if (v->type == MH_JSTR)
        free(v->str);
    if (v->type == MH_JARR || v->type == MH_JOBJ) {
        for (size_t i = 0; i < v->len; i++) {
            jv_release(&v->items[i]);
            if (v->keys) free(v->keys[i]);
        }
        free(v->items);
        free(v->keys);
    }
}

void mh_json_free(mh_jv *v)
{
    if (!v)
        return;
    jv_release(v);
    free(v);
}

mh_jv *mh_json_parse(const char *text, size_t len, char *err, size_t errlen)
{
    parser p = { .s = text, .end = text + len, .start = text, .err = err, .errlen = errlen };
    mh_jv *v = calloc(1, sizeof *v);
    if (!v) { p_fail(&p, "out of memory"); return NULL; }
    p_value(&p, v);
    p_skip_ws(&p);
    if (!p.failed && p.s != p.end)
        p_fail(&p, "trailing characters after the value");
    if (p.failed) {
        mh_json_free(v);
        return NULL;
    }
    return v;
}

mh_jv *mh_json_parse_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    for (size_t n; buf && (n = fread(buf + len, 1, cap - len, f)) > 0;) {
        len += n;
        if (len == cap) {
            char *b = realloc(buf, cap *= 2);
            if (!b) { free(buf); buf = NULL; }
            buf = b;
        }
    }
    bool read_error = ferror(f);
    fclose(f);
    if (!buf || read_error) {
        snprintf(err, errlen, "%s: %s", path, buf ? "read error" : "out of memory");
        free(buf);
        return NULL;
    }
    char inner[200] = "";
    mh_jv *v = mh_json_parse(buf, len, inner, sizeof inner);
    free(buf);
    if (!v)
        snprintf(err, errlen, "%s: %s", path, inner);
    return v;
}

/* ---------------------------------------------------------------- access */

const mh_jv *mh_json_get(const mh_jv *obj, const char *key)
{
    if (!obj || obj->type != MH_JOBJ || !key)
        return NULL;
    for (size_t i = 0; i < obj->len; i++)
        if (strcmp(obj->keys[i], key) == 0)
            return &obj->items[i];
    return NULL;
}

const mh_jv *mh_json_path(const mh_jv *v, const char *dotted)
{
    char part[256];
    const char *s = dotted;
    while (v && s && *s) {
        const char *dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);
        if (n >= sizeof part)
            return NULL;
        memcpy(part, s, n);
        part[n] = '\0';
        if (v->type == MH_JARR) {
            char *endp;
            unsigned long i = strtoul(part, &endp, 10);
            v = (n > 0 && *endp == '\0' && i < v->len) ? &v->items[i] : NULL;
        } else {
            v = mh_json_get(v, part);
        }
        s = dot ? dot + 1 : NULL;
    }
    return v;
}

double mh_json_num_or(const mh_jv *v, double dflt)
{
    return v && v->type == MH_JNUM ? v->num : dflt;
}

const char *mh_json_str_or(const mh_jv *v, const char *dflt)
{
    return v && v->type == MH_JSTR ? v->str : dflt;
}
