/*
 * Allocator selection by LD_PRELOAD and in-process verification (preload.h).
 */
#define _GNU_SOURCE
#include "preload.h"
#include "multiheap_env.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

const char *const mh_allocator_names[] = { "glibc", "tcmalloc", "jemalloc", "mimalloc", "multiheap", NULL };

/* Candidate sonames per known allocator, best first. */
static const char *const tcmalloc_libs[] = { "libtcmalloc_minimal.so.4", "libtcmalloc.so.4", NULL };
static const char *const jemalloc_libs[] = { "libjemalloc.so.2", NULL };
static const char *const mimalloc_libs[] = { "libmimalloc.so.2", NULL };

/* The multiarch triplet comes from CMake (CMAKE_LIBRARY_ARCHITECTURE) so that
 * non-x86 Debian systems find their libraries too. */
#ifndef MH_MULTIARCH
#define MH_MULTIARCH ""
#endif

static bool file_exists(const char *path)
{
    return access(path, R_OK) == 0;
}

/* What a library file is, from its header and dynamic symbols; no code of it runs. */
typedef enum { LIB_UNREADABLE, LIB_NOT_ELF, LIB_NOT_SHARED, LIB_NO_MALLOC, LIB_ALLOCATOR } lib_kind;

/* The section headers of the ELF64 image m[0..len) (eh->e_shnum of them), or NULL where
   there are none to read (another class, stripped, truncated). */
static const Elf64_Shdr *elf_sections(const unsigned char *m, size_t len)
{
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)m;
    if (len < sizeof *eh || eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_shoff == 0 ||
        eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shoff > len ||
        (len - eh->e_shoff) / sizeof(Elf64_Shdr) < eh->e_shnum)
        return NULL;
    return (const Elf64_Shdr *)(m + eh->e_shoff);
}

/* Does the ELF64 image m[0..len) define name in its dynamic symbols? true also when it
   cannot tell (no section headers): the preload's check is the last word. */
static bool elf_defines(const unsigned char *m, size_t len, const char *name)
{
    size_t n = strlen(name);
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)m;
    const Elf64_Shdr *sh = elf_sections(m, len);
    if (!sh) return true;
    for (unsigned i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type != SHT_DYNSYM || sh[i].sh_link >= eh->e_shnum) continue;
        const Elf64_Shdr *str = &sh[sh[i].sh_link];
        if (sh[i].sh_offset > len || sh[i].sh_size > len - sh[i].sh_offset || str->sh_offset > len ||
            str->sh_size > len - str->sh_offset)
            return true;
        const Elf64_Sym *sym = (const Elf64_Sym *)(m + sh[i].sh_offset);
        const char *names = (const char *)(m + str->sh_offset);
        for (size_t k = 0; k < sh[i].sh_size / sizeof *sym; k++)
            if (sym[k].st_shndx != SHN_UNDEF && sym[k].st_name < str->sh_size &&
                strnlen(names + sym[k].st_name, str->sh_size - sym[k].st_name) == n &&
                memcmp(names + sym[k].st_name, name, n) == 0)
                return true;
        return false;
    }
    return true;
}

/* Can the dynamic loader preload the ELF file m? An object file (ET_REL) or an
   executable (ET_EXEC, or ET_DYN marked DF_1_PIE) cannot: they passed for allocators, and
   every run of them failed at the preload (a review). Where the dynamic section cannot be
   read, the type alone decides. */
static bool elf_is_shared_library(const unsigned char *m, size_t len)
{
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)m;
    if (len < sizeof *eh || eh->e_type != ET_DYN) return false;
    const Elf64_Shdr *sh = elf_sections(m, len);
    for (unsigned i = 0; sh && i < eh->e_shnum; i++) {
        if (sh[i].sh_type != SHT_DYNAMIC || sh[i].sh_offset > len || sh[i].sh_size > len - sh[i].sh_offset)
            continue;
        const Elf64_Dyn *d = (const Elf64_Dyn *)(m + sh[i].sh_offset);
        for (size_t k = 0; k < sh[i].sh_size / sizeof *d && d[k].d_tag != DT_NULL; k++)
            if (d[k].d_tag == DT_FLAGS_1 && (d[k].d_un.d_val & DF_1_PIE)) return false;
    }
    return true;
}

/* path mapped read-only into *m (*len bytes): 0; -1 where it cannot be opened (errno
   says why); 1 where it is too short or cannot be mapped, so no ELF file. */
static int map_file(const char *path, void **m, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    *len = (size_t)st.st_size;
    *m = *len >= SELFMAG ? mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
    close(fd);
    return *m == MAP_FAILED ? 1 : 0;
}

/* A NAME=/path spec naming a source file, a script or a library without malloc (a
   review gave libhwloc) passed for installed, and every run of it failed at the
   preload. */
static lib_kind library_kind(const char *path)
{
    void *m;
    size_t len;
    int rc = map_file(path, &m, &len);
    if (rc != 0) return rc < 0 ? LIB_UNREADABLE : LIB_NOT_ELF;
    lib_kind kind = memcmp(m, ELFMAG, SELFMAG) != 0 ? LIB_NOT_ELF
                    : !elf_is_shared_library(m, len) ? LIB_NOT_SHARED
                    : elf_defines(m, len, "malloc") ? LIB_ALLOCATOR : LIB_NO_MALLOC;
    munmap(m, len);
    return kind;
}

/* Can a's library take multiheap's switches, that is, does it define mh_options()?
   Without it every run fails its check ("cannot confirm"), so a switch on glibc,
   tcmalloc or an old libmultiheap is refused up front. true where the file cannot
   tell (missing, no ELF file): the library check says what is wrong with it. */
static bool takes_switches(const mh_allocator *a)
{
    if (!a->path[0])
        return false;
    void *m;
    size_t len;
    if (map_file(a->path, &m, &len) != 0)
        return true;
    bool yes = memcmp(m, ELFMAG, SELFMAG) != 0 || elf_defines(m, len, "mh_options");
    munmap(m, len);
    return yes;
}

/* dir/soname into out, if that file exists. */
static bool found_in(const char *dir, const char *soname, char *out, size_t outlen)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, soname);
    if (!file_exists(path))
        return false;
    snprintf(out, outlen, "%s", path);
    return true;
}

/* First existing lib dir/soname combination, else the first candidate path.
 * $MH_ALLOCATOR_DIR, where set, comes first for every soname: a bundle
 * (runners/bundle.sh) brings its peers to a machine that has none installed. */
static void find_system_lib(const char *const *sonames, char *out, size_t outlen)
{
    const char *own = getenv("MH_ALLOCATOR_DIR");
    const char *dirs[] = { "/usr/lib/" MH_MULTIARCH, "/lib/" MH_MULTIARCH, "/usr/local/lib",
                           "/usr/lib64", "/usr/lib", "/lib64", "/lib" };
    for (const char *const *so = sonames; own && *own && *so; so++)
        if (found_in(own, *so, out, outlen))
            return;
    for (const char *const *so = sonames; *so; so++)
        for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
            if (found_in(dirs[i], *so, out, outlen))
                return;
    snprintf(out, outlen, "%s/%s", dirs[0], sonames[0]);
}

static void multiheap_lib(char *out, size_t outlen)
{
    const char *env = getenv("MH_MULTIHEAP_LIB");
#ifdef MH_MULTIHEAP_LIB_PATH
    const char *built = MH_MULTIHEAP_LIB_PATH;
#else
    const char *built = "libmultiheap.so";
#endif
    snprintf(out, outlen, "%s", env && *env ? env : built);
}

static void choices_line(char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "%s; valid: glibc, tcmalloc, jemalloc, mimalloc, multiheap, multiheap-seed, "
             "NAME=/path/lib.so, or NAME=BASE+VAR=VALUE...", what);
}

const mh_variant mh_allocator_variants[] = {
    { "multiheap-seed", "multiheap-seed=multiheap+MULTIHEAP_SEED=1" },
    { NULL, NULL },
};

static bool all_digits(const char *s)
{
    return *s && strspn(s, "0123456789") == strlen(s);
}

/* Length of a variable name [A-Z_][A-Z0-9_]* at s, 0 if none. */
static size_t var_name_len(const char *s)
{
    if (!(*s == '_' || (*s >= 'A' && *s <= 'Z')))
        return 0;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
}

/* Where the variables begin: the first '+' followed by VAR=, so that a library
 * path may still contain '+'. NULL when the spec sets none. */
static const char *env_start(const char *spec)
{
    for (const char *p = strchr(spec, '+'); p; p = strchr(p + 1, '+')) {
        size_t n = var_name_len(p + 1);
        if (n && p[1 + n] == '=')
            return p;
    }
    return NULL;
}

/* A MULTIHEAP_* switch is checked with the allocator's own table (multiheap_env.h): a
   typo or a value it would ignore must stop the run, not silently measure the default. */
static int check_switch(const mh_allocator *a, const char *var, const char *value, char *err, size_t errlen)
{
    /* The driver's own: a spec that set them would break the re-execution (the
     * marker) or the proof of which library serves malloc. */
    if (strcmp(var, MH_PRELOAD_MARKER) == 0 || strcmp(var, "LD_PRELOAD") == 0) {
        snprintf(err, errlen, "allocator spec: %s is the driver's own variable; name the library as "
                 "NAME=/path/lib.so instead", var);
        return -1;
    }
    if (strncmp(var, "MULTIHEAP_", 10) != 0)
        return 0;
    int s = 0;
    while (s < MH_ENV_COUNT && strcmp(mh_env_defs[s].name, var) != 0)
        s++;
    if (s == MH_ENV_COUNT) {
        int off = snprintf(err, errlen, "allocator spec: unknown multiheap switch %s; valid:", var);
        for (s = 0; s < MH_ENV_COUNT && off > 0 && (size_t)off < errlen; s++)
            off += snprintf(err + off, errlen - (size_t)off, "%s %s", s ? "," : "", mh_env_defs[s].name);
        return -1;
    }
    if (mh_env_parse((mh_env_switch)s, value) == MH_ENV_INVALID) {
        snprintf(err, errlen, "allocator spec: %s=%s is not valid; give %s=%s", var, value, var, mh_env_defs[s].values);
        return -1;
    }
    if (!takes_switches(a)) {
        snprintf(err, errlen, "allocator %s: %s is a multiheap switch, but %s has no mh_options() (not multiheap); "
                 "set it on multiheap (NAME=multiheap+%s=%s)", a->name, var, a->path[0] ? a->path : "glibc",
                 var, value);
        return -1;
    }
    return 0;
}

static const char *value_of(const mh_allocator *a, const char *var)
{
    size_t n = strlen(var);
    const char *v = NULL;
    for (int i = 0; i < a->nenv; i++)
        if (strncmp(a->env[i], var, n) == 0 && a->env[i][n] == '=')
            v = a->env[i] + n + 1;      /* the last setting wins, as setenv makes it */
    return v;
}

/* Is switch var asked on ("1"), or dflt when the variant leaves it alone? */
static bool asked_on(const mh_allocator *a, const char *var, bool dflt)
{
    const char *v = value_of(a, var);
    return v ? strcmp(v, "1") == 0 : dflt;
}

/* A switch asked on that another switch of the variant turns off (init.c's
   options_from_env) fails every run's check of mh_options(): refused up front, as a
   value the allocator does not take is. */
static int check_conflicts(const mh_allocator *a, char *err, size_t errlen)
{
    bool seeded = asked_on(a, "MULTIHEAP_SEED", false);
    const char *ms = value_of(a, "MULTIHEAP_PURGE_MS");
    bool purge = ms ? strcmp(ms, "off") != 0 : !seeded;
    bool cache = asked_on(a, "MULTIHEAP_CACHE", !seeded);
    bool batch = cache && asked_on(a, "MULTIHEAP_REMOTE_BATCH", !seeded);
    const struct { const char *var; bool possible; const char *off; } needs[] = {
        { "MULTIHEAP_PURGE_THREAD", purge, "purging is off (MULTIHEAP_PURGE_MS=off, or MULTIHEAP_SEED=1 without MULTIHEAP_PURGE_MS)" },
        { "MULTIHEAP_REMOTE_BATCH", cache, "the front cache is off (MULTIHEAP_CACHE=0 or MULTIHEAP_SEED=1)" },
        { "MULTIHEAP_CHECK", cache, "the front cache is off (MULTIHEAP_CACHE=0 or MULTIHEAP_SEED=1)" },
        { "MULTIHEAP_REMOTE_BINS", batch, "remote batching is off (MULTIHEAP_REMOTE_BATCH=0, MULTIHEAP_CACHE=0 or MULTIHEAP_SEED=1)" },
    };
    for (size_t i = 0; i < sizeof needs / sizeof needs[0]; i++)
        if (asked_on(a, needs[i].var, false) && !needs[i].possible) {
            snprintf(err, errlen, "allocator %s: %s=1 cannot take effect: %s; drop one of the two", a->name,
                     needs[i].var, needs[i].off);
            return -1;
        }
    return 0;
}

/* "+VAR=VALUE+VAR=VALUE" into out->env. */
static int parse_env(const char *list, mh_allocator *out, char *err, size_t errlen)
{
    for (const char *p = list; p;) {
        const char *next = env_start(p + 1);
        size_t len = next ? (size_t)(next - p - 1) : strlen(p + 1);
        size_t namelen = var_name_len(p + 1);
        if (out->nenv == MH_ALLOC_MAX_ENV || len >= sizeof out->env[0]) {
            snprintf(err, errlen, "allocator spec: at most %d variables of under %zu bytes each",
                     MH_ALLOC_MAX_ENV, sizeof out->env[0]);
            return -1;
        }
        for (int i = 0; i < out->nenv; i++)
            if (strncmp(out->env[i], p + 1, namelen + 1) == 0) {
                snprintf(err, errlen, "allocator spec: %.*s is given twice; give each variable once",
                         (int)namelen, p + 1);
                return -1;
            }
        char *e = out->env[out->nenv++];
        memcpy(e, p + 1, len);
        e[len] = '\0';
        e[namelen] = '\0';
        int rc = check_switch(out, e, e + namelen + 1, err, errlen);
        e[namelen] = '=';
        if (rc != 0)
            return -1;
        p = next;
    }
    return 0;
}

static bool valid_variant_name(const char *s, size_t n)
{
    static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
    for (size_t i = 0; i < n; i++)
        if (!strchr(ok, s[i]))
            return false;
    return n > 0;
}

/* A known allocator name: its library (none for glibc). */
static int resolve_known(const char *name, mh_allocator *out)
{
    const char *const *libs = NULL;
    if (strcmp(name, "tcmalloc") == 0) libs = tcmalloc_libs;
    else if (strcmp(name, "jemalloc") == 0) libs = jemalloc_libs;
    else if (strcmp(name, "mimalloc") == 0) libs = mimalloc_libs;
    else if (strcmp(name, "multiheap") != 0 && strcmp(name, "glibc") != 0) return -1;
    if (libs)
        find_system_lib(libs, out->path, sizeof out->path);
    else if (strcmp(name, "multiheap") == 0)
        multiheap_lib(out->path, sizeof out->path);
    out->installed = !out->path[0] || library_kind(out->path) == LIB_ALLOCATOR;
    return 0;
}

/* NAME=BASE[+VAR=VALUE...], BASE a known name or a library path. */
static int resolve_named(const char *spec, const char *eq, const char *env, mh_allocator *out,
                         char *err, size_t errlen)
{
    size_t n = (size_t)(eq - spec);
    char base[PATH_MAX];
    size_t blen = (size_t)((env ? env : eq + strlen(eq)) - eq - 1);
    if (n >= sizeof out->name || !valid_variant_name(spec, n) || blen == 0 || blen >= sizeof base) {
        choices_line(err, errlen, "allocator spec must be NAME=/path/lib.so or NAME=BASE+VAR=VALUE, "
                                  "NAME of letters, digits, '.', '_', '-'");
        return -1;
    }
    memcpy(out->name, spec, n);
    memcpy(base, eq + 1, blen);
    base[blen] = '\0';
    if (resolve_known(base, out) != 0) {
        if (!strchr(base, '/') && !strstr(base, ".so")) {
            char what[PATH_MAX + 64];
            snprintf(what, sizeof what, "allocator spec: '%.200s' is neither a known allocator nor a library path", base);
            choices_line(err, errlen, what);
            return -1;
        }
        snprintf(out->path, sizeof out->path, "%s", base);
        out->installed = library_kind(out->path) == LIB_ALLOCATOR;
        out->own_path = true;
    }
    return env && (parse_env(env, out, err, errlen) != 0 || check_conflicts(out, err, errlen) != 0) ? -1 : 0;
}

/* Is the n bytes at name a known allocator's or a built-in variant's name? A variant
   named glibc would pass for it in every ratio to glibc. */
static bool builtin_name(const char *name, size_t n)
{
    for (const char *const *k = mh_allocator_names; *k; k++)
        if (strlen(*k) == n && strncmp(*k, name, n) == 0) return true;
    for (const mh_variant *v = mh_allocator_variants; v->name; v++)
        if (strlen(v->name) == n && strncmp(v->name, name, n) == 0) return true;
    return false;
}

int mh_allocator_resolve(const char *spec, mh_allocator *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    for (const mh_variant *v = mh_allocator_variants; v->name; v++)
        if (strcmp(spec, v->name) == 0) {
            int rc = resolve_named(v->spec, strchr(v->spec, '='), env_start(v->spec), out, err, errlen);
            out->builtin = true;
            return rc;
        }
    const char *env = env_start(spec);
    const char *eq = strchr(spec, '=');
    if (eq && (!env || eq < env)) {
        if (builtin_name(spec, (size_t)(eq - spec))) {
            snprintf(err, errlen, "allocator spec '%.100s': '%.*s' is a built-in allocator's name; give the "
                     "variant a name of its own (e.g. my-%.*s)", spec, (int)(eq - spec), spec,
                     (int)(eq - spec), spec);
            return -1;
        }
        return resolve_named(spec, eq, env, out, err, errlen);
    }
    if (env) {
        choices_line(err, errlen, "an allocator with variables needs a name: NAME=multiheap+MULTIHEAP_CACHE=0");
        return -1;
    }
    if (resolve_known(spec, out) != 0) {
        char what[128];
        snprintf(what, sizeof what, "unknown allocator '%.60s'", spec);
        choices_line(err, errlen, what);
        return -1;
    }
    snprintf(out->name, sizeof out->name, "%s", spec);
    out->builtin = true;
    return 0;
}

bool mh_is_allocator_tuning(const char *var)
{
    static const char *const prefixes[] = { "MALLOC_", "MIMALLOC_", "TCMALLOC_", "JEMALLOC_", "_RJEM_",
                                             "MULTIHEAP_", NULL };
    static const char *const names[] = { "GLIBC_TUNABLES", "HEAPCHECK", "HEAPPROFILE", NULL };
    size_t n = strcspn(var, "=");
    for (int i = 0; prefixes[i]; i++)
        if (strncmp(var, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    for (int i = 0; names[i]; i++)
        if (strlen(names[i]) == n && strncmp(var, names[i], n) == 0)
            return true;
    return false;
}

bool mh_allocator_sets(const mh_allocator *a, const char *var)
{
    size_t n = strcspn(var, "=");
    for (int i = 0; i < a->nenv; i++)
        if (strncmp(a->env[i], var, n) == 0 && a->env[i][n] == '=')
            return true;
    return false;
}

const char *mh_inherited_tuning_next(const mh_allocator *a, char *const **it)
{
    *it = *it ? *it + 1 : environ;
    for (; **it; (*it)++)
        if (mh_is_allocator_tuning(**it) && !(a && mh_allocator_sets(a, **it)))
            return **it;
    return NULL;
}

/* Sets a's variables in this process's environment (for the exec to carry). */
static void set_variables(const mh_allocator *a)
{
    for (int i = 0; i < a->nenv; i++) {
        char var[sizeof a->env[i]];
        size_t n = strcspn(a->env[i], "=");
        memcpy(var, a->env[i], n);
        var[n] = '\0';
        setenv(var, a->env[i] + n + 1, 1);
    }
}

const char *mh_allocator_missing(const mh_allocator *a, char *buf, size_t len)
{
    if (a->installed)
        return NULL;
    switch (library_kind(a->path)) {
    case LIB_UNREADABLE: snprintf(buf, len, "%s: %s", a->path, strerror(errno)); break;
    case LIB_NOT_ELF: snprintf(buf, len, "%s is not an ELF file", a->path); break;
    case LIB_NOT_SHARED:
        snprintf(buf, len, "%s is not a shared library (an object file or an executable); give the allocator's .so", a->path);
        break;
    default: snprintf(buf, len, "%s defines no malloc (not an allocator)", a->path); break;
    }
    return buf;
}

bool mh_allocator_unusable(const mh_allocator *a, char *err, size_t errlen)
{
    char why[MH_ALLOCATOR_WHY_MAX];
    if (!mh_allocator_missing(a, why, sizeof why))
        return false;
    snprintf(err, errlen, "allocator %s: library %s; %s", a->name, why,
             a->own_path ? "give NAME=/path/lib.so of an allocator that exists"
                         : "install it (./run.sh setup) or leave it out");
    return true;
}

int mh_preload_exec(const mh_allocator *a, char *const argv[], char *err, size_t errlen)
{
    if (!a->path[0] && a->nenv == 0)
        return 0;
    /* glibc with variables re-executes too: tunables are read at start-up */
    char real[PATH_MAX] = "glibc";
    if (a->path[0] && !realpath(a->path, real)) {
        snprintf(err, errlen, "allocator %s: library %s: %s", a->name, a->path, strerror(errno));
        return -1;
    }
    /* The marker names the library so that one inherited from another run
     * cannot stop this one from re-executing. */
    const char *done = getenv(MH_PRELOAD_MARKER);
    if (done && strcmp(done, real) == 0)
        return 0;
    /* Only our library: an inherited LD_PRELOAD would make the run ambiguous. */
    if (a->path[0])
        setenv("LD_PRELOAD", real, 1);
    else
        unsetenv("LD_PRELOAD");
    setenv(MH_PRELOAD_MARKER, real, 1);
    set_variables(a);
    execv("/proc/self/exe", argv);
    snprintf(err, errlen, "re-executing with LD_PRELOAD=%s: %s", real, strerror(errno));
    return -1;
}

int mh_file_hash(const char *path, char *out, size_t outlen)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    uint64_t h = 0xcbf29ce484222325ULL;
    unsigned char buf[1 << 16];
    for (size_t n; (n = fread(buf, 1, sizeof buf, f)) > 0;)
        for (size_t i = 0; i < n; i++)
            h = (h ^ buf[i]) * 0x100000001b3ULL;
    fclose(f);
    snprintf(out, outlen, "fnv1a64:%016llx", (unsigned long long)h);
    return 0;
}

/* lib's own definition of name, or NULL: dlsym on a handle also searches the object's
   dependencies, where a wrapper library found libc's gnu_get_libc_version and was
   reported as "glibc 2.36" (a review). */
static void *own_symbol(void *lib, const char *name)
{
    void *sym = dlsym(lib, name);
    Dl_info sym_info, lib_info;
    void *any = dlsym(lib, "malloc");
    if (!sym || !any || !dladdr(sym, &sym_info) || !dladdr(any, &lib_info))
        return NULL;
    return sym_info.dli_fbase == lib_info.dli_fbase ? sym : NULL;
}

/* Version from whichever known version call the serving object exports. */
static void read_version(void *lib, char *out, size_t outlen)
{
    const char *(*mh_version)(void) = (const char *(*)(void))own_symbol(lib, "mh_version");
    int (*mallctl)(const char *, void *, size_t *, void *, size_t) =
        (int (*)(const char *, void *, size_t *, void *, size_t))own_symbol(lib, "mallctl");
    int (*mi_version)(void) = (int (*)(void))own_symbol(lib, "mi_version");
    const char *(*tc_version)(int *, int *, const char **) =
        (const char *(*)(int *, int *, const char **))own_symbol(lib, "tc_version");
    const char *(*glibc_version)(void) = (const char *(*)(void))own_symbol(lib, "gnu_get_libc_version");
    const char *s = NULL;
    size_t sz = sizeof s;
    int major, minor;
    const char *patch;
    out[0] = '\0';
    if (mh_version)
        snprintf(out, outlen, "%s", mh_version());
    else if (mallctl && mallctl("version", &s, &sz, NULL, 0) == 0 && s)
        snprintf(out, outlen, "%s", s);
    else if (mi_version) {
        int v = mi_version();
        snprintf(out, outlen, "%d.%d.%d", v / 100, v / 10 % 10, v % 10);
    } else if (tc_version)
        snprintf(out, outlen, "%s", tc_version(&major, &minor, &patch));
    else if (glibc_version)
        snprintf(out, outlen, "glibc %s", glibc_version());
}

static bool is_libc(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return strncmp(base, "libc.so", 7) == 0 || strncmp(base, "libc-", 5) == 0;
}

/* mh_options() of the serving object, or why there is none. */
static void read_options(void *lib, mh_served *out)
{
    const char *(*options)(void) = lib ? (const char *(*)(void))own_symbol(lib, "mh_options") : NULL;
    if (options) {
        snprintf(out->options, sizeof out->options, "%s", options());
        return;
    }
    bool multiheap = lib && dlsym(lib, "mh_version");
    snprintf(out->options_reason, sizeof out->options_reason, "%s",
             multiheap ? "this libmultiheap has no mh_options() (built before the run-time switches)"
                       : "not multiheap: the serving library has no mh_options()");
}

/* The value of " token=" in an mh_options() string, up to the next space. */
static bool option_value(const char *options, const char *token, char *out, size_t outlen)
{
    char key[32];
    snprintf(key, sizeof key, "%s=", token);
    size_t klen = strlen(key);
    for (const char *p = options; (p = strstr(p, key)); p += klen)
        if (p == options || p[-1] == ' ') {
            snprintf(out, outlen, "%.*s", (int)strcspn(p + klen, " "), p + klen);
            return true;
        }
    return false;
}

/* One switch as mh_options() must show it: the token and the wanted value
 * ("on" for the front cache means any cache=... but off(reason)). */
typedef struct expectation {
    const char *var, *token;
    char want[24];
} expectation;

/* The switches whose effect mh_options() shows, and the token that shows it. */
static const struct expected_switch {
    const char *var, *token;
    bool onoff, seed_off;
} expected_switches[] = {
    { "MULTIHEAP_CACHE", "cache", true, true },
    { "MULTIHEAP_REMOTE_BATCH", "remote_batch", true, true },
    { "MULTIHEAP_PURGE_MS", "purge_ms", false, true },
    { "MULTIHEAP_PURGE_THREAD", "purge_thread", true, false },
    { "MULTIHEAP_LARGE_CACHE", "large_cache", true, false },
    { "MULTIHEAP_CHECK", "check", true, false },
    { "MULTIHEAP_REMOTE_BINS", "remote_bins", true, false },
    { "MULTIHEAP_KEY", "key", false, false },
};
#define NEXPECTED (sizeof expected_switches / sizeof expected_switches[0])

/* What a's switches demand: MULTIHEAP_SEED=1 turns cache, remote batching
 * and purging off; a switch given explicitly overrides it. */
static int expectations(const mh_allocator *a, expectation *e)
{
    const char *seed = value_of(a, "MULTIHEAP_SEED");
    bool seeded = seed && strcmp(seed, "1") == 0;
    int n = 0;
    for (size_t i = 0; i < NEXPECTED; i++) {
        const char *v = value_of(a, expected_switches[i].var);
        if (!v && !(seeded && expected_switches[i].seed_off))
            continue;
        e[n].var = v ? expected_switches[i].var : "MULTIHEAP_SEED";
        e[n].token = expected_switches[i].token;
        const char *want = !v ? "off" : !expected_switches[i].onoff ? v : strcmp(v, "1") == 0 ? "on" : "off";
        snprintf(e[n].want, sizeof e[n].want, "%s", want);
        n++;
    }
    return n;
}

static bool shows(const char *token, const char *have, const char *want)
{
    if (strcmp(token, "cache") == 0)
        return (strncmp(have, "off", 3) == 0) == (strcmp(want, "off") == 0);
    if (all_digits(have) && all_digits(want))
        return strtol(have, NULL, 10) == strtol(want, NULL, 10);
    return strcmp(have, want) == 0;
}

/* The variant's variables reached this process, and multiheap took its switches. */
static int check_variant(const mh_allocator *a, const mh_served *s, char *err, size_t errlen)
{
    for (int i = 0; i < a->nenv; i++) {
        size_t n = strcspn(a->env[i], "=");
        char var[sizeof a->env[i]];
        snprintf(var, sizeof var, "%.*s", (int)n, a->env[i]);
        const char *have = getenv(var);
        if (!have || strcmp(have, a->env[i] + n + 1) != 0) {
            snprintf(err, errlen, "allocator %s: %s did not reach the run (it has %s)", a->name, a->env[i],
                     have ? have : "nothing");
            return -1;
        }
    }
    expectation e[NEXPECTED];
    int n = expectations(a, e);
    for (int i = 0; i < n; i++) {
        char have[64];
        if (!s->options[0]) {
            snprintf(err, errlen, "allocator %s: cannot confirm %s: %s", a->name, e[i].var, s->options_reason);
            return -1;
        }
        if (!option_value(s->options, e[i].token, have, sizeof have) || !shows(e[i].token, have, e[i].want)) {
            snprintf(err, errlen, "allocator %s: %s asks for %s=%s but mh_options() says \"%s\"", a->name,
                     e[i].var, e[i].token, e[i].want, s->options);
            return -1;
        }
    }
    return 0;
}

int mh_preload_verify(const mh_allocator *a, mh_served *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    Dl_info info;
    void *sym = dlsym(RTLD_DEFAULT, "malloc");
    if (!sym || !dladdr(sym, &info) || !info.dli_fname) {
        snprintf(err, errlen, "cannot find which object defines malloc: %s", dlerror());
        return -1;
    }
    if (!realpath(info.dli_fname, out->served_by))
        snprintf(out->served_by, sizeof out->served_by, "%s", info.dli_fname);
    void *lib = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    read_options(lib, out);
    if (lib) {
        read_version(lib, out->version, sizeof out->version);
        dlclose(lib);
    }
    mh_file_hash(out->served_by, out->file_hash, sizeof out->file_hash);

    char want[PATH_MAX] = "";
    if (a->path[0] && !realpath(a->path, want))
        snprintf(want, sizeof want, "%s", a->path);
    out->verified = a->path[0] ? strcmp(want, out->served_by) == 0 : is_libc(out->served_by);
    if (!out->verified) {
        snprintf(err, errlen, "allocator %s: preload did not take effect: malloc is served by %s, not %s",
                 a->name, out->served_by, a->path[0] ? want : "glibc's libc.so.6");
        return -1;
    }
    return check_variant(a, out, err, errlen);
}

void mh_preload_or_exit(const char *prog, const char *spec, char *const argv[],
                        mh_allocator *a, mh_served *s)
{
    char err[MH_ALLOCATOR_ERR_MAX];
    if (mh_allocator_resolve(spec, a, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        exit(2);
    }
    if (mh_allocator_unusable(a, err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", prog, err);
        exit(a->own_path ? 2 : 3);
    }
    if (mh_preload_exec(a, argv, err, sizeof err) != 0 || mh_preload_verify(a, s, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        exit(3);
    }
}
