/*
 * Allocator selection by LD_PRELOAD, and proof from inside the process that
 * the chosen allocator really serves malloc. Shared by mhbench and the
 * microbenchmarks (target mhpreload).
 *
 * Names: glibc (no preload), tcmalloc, jemalloc, mimalloc, multiheap (the
 * build's libmultiheap.so, overridable by MH_MULTIHEAP_LIB), or NAME=/path.so.
 * A variant adds environment variables to an allocator:
 *     NAME=BASE+VAR=VALUE+VAR=VALUE...     BASE: a known name or /path/lib.so
 * e.g. nocache=multiheap+MULTIHEAP_CACHE=0; the built-in variants
 * (mh_allocator_variants, e.g. multiheap-seed) are such specs under a fixed name.
 * The variables are set in the re-executed process only; verification checks
 * that they arrived and that multiheap's mh_options() reflects every
 * MULTIHEAP_* switch asked for.
 *
 * Typical use, first thing in main():
 *     mh_allocator a; mh_served s;
 *     mh_preload_or_exit("mytool", spec, argv, &a, &s);
 * which re-executes the program with LD_PRELOAD set (once: the environment
 * variable MH_PRELOADED, holding the library's real path, marks the second
 * process), verifies, and exits 2 for an unknown name or 3 when the preload
 * did not take effect.
 */
#ifndef MH_PRELOAD_H
#define MH_PRELOAD_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#define MH_PRELOAD_MARKER "MH_PRELOADED"
#define MH_ALLOC_MAX_ENV 8

typedef struct mh_allocator {
    char name[64];
    char path[PATH_MAX];    /* library to preload; "" for glibc */
    bool builtin;           /* one of the known names or built-in variants, not NAME=... */
    bool own_path;          /* NAME=/path...: the library is the user's, not a known one's */
    bool installed;         /* glibc, or the library is a readable ELF file that defines malloc */
    int nenv;
    char env[MH_ALLOC_MAX_ENV][128];    /* "VAR=VALUE" the variant sets in the run */
} mh_allocator;

typedef struct mh_served {
    bool verified;          /* malloc resolves into the expected object */
    char served_by[PATH_MAX];   /* real path of the object that defines malloc */
    char version[128];      /* "" when the library has no version call we know */
    char file_hash[32];     /* "fnv1a64:<16 hex digits>" of served_by */
    char options[256];      /* mh_options() of the serving library; "" when it has none */
    char options_reason[192];   /* why options is "" */
} mh_served;

/* The known names, NULL-terminated. */
extern const char *const mh_allocator_names[];

/* Built-in variants: a name and the spec it stands for; ends with { NULL, NULL }. */
typedef struct mh_variant {
    const char *name, *spec;
} mh_variant;
extern const mh_variant mh_allocator_variants[];

/* Resolve a name, a built-in variant, NAME=/path or NAME=BASE+VAR=VALUE...
 * 0 on success; -1 for an unknown name or a malformed spec (a variant without
 * a name, an unknown MULTIHEAP_* switch or value), with one line in err saying
 * what is valid. A known name whose library is not installed resolves
 * (installed false, path the first place searched). */
int mh_allocator_resolve(const char *spec, mh_allocator *out, char *err, size_t errlen);

/* Room for mh_allocator_missing's line (a path and a reason) and for the error lines of
 * these functions (up to two paths: what serves malloc and what should): GCC checks
 * snprintf's worst case against the buffer at -O3. */
#define MH_ALLOCATOR_WHY_MAX (PATH_MAX + 128)
#define MH_ALLOCATOR_ERR_MAX (2 * PATH_MAX + 256)

/* Why a's library cannot be preloaded ("/path: No such file or directory", "/path is not
 * an ELF file", "/path defines no malloc") into buf, or NULL when it is installed. */
const char *mh_allocator_missing(const mh_allocator *a, char *buf, size_t len);

/* Is a's library missing or no allocator? Then true, with one line saying so and the fix
 * in err. Refused before anything runs: as bad input (exit 2) for a NAME=/path the user
 * gave; a known allocator that is not installed is a failed run (3) that the others in a
 * matrix or micro.sh survive. */
bool mh_allocator_unusable(const mh_allocator *a, char *err, size_t errlen);

/* Re-execute /proc/self/exe with argv, LD_PRELOAD=a->path and a's variables
 * unless this process is already the re-executed one or a needs neither.
 * Returns 0 when no exec is needed; -1 with err on failure (an exec error;
 * mh_allocator_unusable has checked the library). */
int mh_preload_exec(const mh_allocator *a, char *const argv[], char *err, size_t errlen);

/* Check inside this process which object serves malloc, read its version,
 * file hash and mh_options(). 0 when it is a's library, a's variables are set
 * and every MULTIHEAP_* switch of a shows in mh_options(); -1 with err otherwise. */
int mh_preload_verify(const mh_allocator *a, mh_served *out, char *err, size_t errlen);

/* Resolve, exec and verify; on failure print "PROG: reason" and exit 2 (unknown
 * allocator) or 3 (preload did not take effect). */
void mh_preload_or_exit(const char *prog, const char *spec, char *const argv[],
                        mh_allocator *a, mh_served *s);

/* Does the variable (NAME or NAME=VALUE) tune an allocator (MALLOC_CONF, GLIBC_TUNABLES,
 * MIMALLOC_*, TCMALLOC_*, MULTIHEAP_*, ...)? Inherited from the shell, such a variable
 * changes what an allocator's name measures: records list it (allocator.inherited_env)
 * and the matrix drops it. */
bool mh_is_allocator_tuning(const char *var);
/* Does a's spec set the variable (NAME or NAME=VALUE)? */
bool mh_allocator_sets(const mh_allocator *a, const char *var);
/* The environment's allocator-tuning variables ("NAME=VALUE") that a's spec does not set,
 * one a call: start with *it = NULL; NULL after the last (a NULL: every one). */
const char *mh_inherited_tuning_next(const mh_allocator *a, char *const **it);

/* fnv1a64 of a file's bytes as "fnv1a64:%016llx"; -1 if unreadable. */
int mh_file_hash(const char *path, char *out, size_t outlen);

#endif /* MH_PRELOAD_H */
