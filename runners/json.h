/*
 * Minimal JSON for the suite: a streaming writer (result records) and a small
 * tree reader (records, Google Benchmark output, configs). No dependencies.
 */
#ifndef MH_JSON_H
#define MH_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* The result record's schema (results/SCHEMA.md), which mhbench writes and every tool
   that reads records checks. */
#define MH_SCHEMA "multiheap-result/1"

/* ---- writer: keeps commas and nesting right; keys are ignored inside arrays ---- */

typedef struct mh_jw {
    FILE *f;
    int depth;
    bool need_comma[32];
    unsigned char kind[32]; /* per depth: object, array of scalars, array with containers */
    bool pretty;
} mh_jw;

void mh_jw_init(mh_jw *w, FILE *f, bool pretty);
void mh_jw_obj_begin(mh_jw *w, const char *key);   /* key NULL at top level / in arrays */
void mh_jw_obj_end(mh_jw *w);
void mh_jw_arr_begin(mh_jw *w, const char *key);
void mh_jw_arr_end(mh_jw *w);
void mh_jw_str(mh_jw *w, const char *key, const char *s);      /* s NULL writes null */
void mh_jw_num(mh_jw *w, const char *key, double v);           /* non-finite writes null */
void mh_jw_int(mh_jw *w, const char *key, long long v);
void mh_jw_bool(mh_jw *w, const char *key, bool v);
void mh_jw_null(mh_jw *w, const char *key);

/* ---- reader ---- */

typedef enum { MH_JNULL, MH_JBOOL, MH_JNUM, MH_JSTR, MH_JARR, MH_JOBJ } mh_jtype;

typedef struct mh_jv {
    mh_jtype type;
    bool b;
    double num;
    char *str;              /* MH_JSTR: NUL-terminated, unescaped */
    size_t len;             /* MH_JARR / MH_JOBJ: number of items */
    struct mh_jv *items;    /* MH_JARR / MH_JOBJ: the values */
    char **keys;            /* MH_JOBJ: keys[i] names items[i] */
} mh_jv;

/* Parse text; NULL on error with a message "line L col C: what" in err. */
mh_jv *mh_json_parse(const char *text, size_t len, char *err, size_t errlen);
/* Read and parse a whole file; NULL on error (err says why, with the path). */
mh_jv *mh_json_parse_file(const char *path, char *err, size_t errlen);
void   mh_json_free(mh_jv *v);

const mh_jv *mh_json_get(const mh_jv *obj, const char *key);     /* NULL if absent / not an object */
const mh_jv *mh_json_path(const mh_jv *v, const char *dotted);   /* "allocator.name", "threads.0.cpu" */
double       mh_json_num_or(const mh_jv *v, double dflt);        /* v's number, or dflt */
const char  *mh_json_str_or(const mh_jv *v, const char *dflt);

#endif /* MH_JSON_H */
