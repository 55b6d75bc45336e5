/*
 * Allocator selection by LD_PRELOAD and in-process verification (preload.h).
 */
#define _GNU_SOURCE
#include "preload.h"

#include <dlfcn.h>
#include <errno.h>
#include <gnu/libc-version.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* First existing lib dir/soname combination, else the first candidate path. */
static void find_system_lib(const char *const *sonames, char *out, size_t outlen)
{
    const char *dirs[] = { "/usr/lib/" MH_MULTIARCH, "/lib/" MH_MULTIARCH, "/usr/local/lib",
                           "/usr/lib64", "/usr/lib", "/lib64", "/lib" };
    out[0] = '\0';
    for (const char *const *so = sonames; *so; so++) {
        for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
            char path[PATH_MAX];
            snprintf(path, sizeof path, "%s/%s", dirs[i], *so);
            if (!out[0])
                snprintf(out, outlen, "%s", path);
            if (file_exists(path)) {
                snprintf(out, outlen, "%s", path);
                return;
            }
        }
    }
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
    snprintf(err, errlen, "%s; valid: glibc, tcmalloc, jemalloc, mimalloc, multiheap, or NAME=/path/lib.so", what);
}

int mh_allocator_resolve(const char *spec, mh_allocator *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const char *eq = strchr(spec, '=');
    if (eq) {
        size_t n = (size_t)(eq - spec);
        if (n == 0 || n >= sizeof out->name || eq[1] == '\0') {
            choices_line(err, errlen, "allocator spec must be NAME=/path/lib.so");
            return -1;
        }
        memcpy(out->name, spec, n);
        snprintf(out->path, sizeof out->path, "%s", eq + 1);
        out->installed = file_exists(out->path);
        return 0;
    }
    const char *const *libs = NULL;
    if (strcmp(spec, "tcmalloc") == 0) libs = tcmalloc_libs;
    else if (strcmp(spec, "jemalloc") == 0) libs = jemalloc_libs;
    else if (strcmp(spec, "mimalloc") == 0) libs = mimalloc_libs;
    else if (strcmp(spec, "multiheap") != 0 && strcmp(spec, "glibc") != 0) {
        char what[128];
        snprintf(what, sizeof what, "unknown allocator '%.60s'", spec);
        choices_line(err, errlen, what);
        return -1;
    }
    snprintf(out->name, sizeof out->name, "%s", spec);
    out->builtin = true;
    if (libs)
        find_system_lib(libs, out->path, sizeof out->path);
    else if (strcmp(spec, "multiheap") == 0)
        multiheap_lib(out->path, sizeof out->path);
    out->installed = !out->path[0] || file_exists(out->path);
    return 0;
}

int mh_preload_exec(const mh_allocator *a, char *const argv[], char *err, size_t errlen)
{
    if (!a->path[0])
        return 0;
    if (!a->installed) {
        snprintf(err, errlen, "allocator %s: library %s: %s", a->name, a->path, strerror(ENOENT));
        return -1;
    }
    char real[PATH_MAX];
    if (!realpath(a->path, real)) {
        snprintf(err, errlen, "allocator %s: library %s: %s", a->name, a->path, strerror(errno));
        return -1;
    }
    /* The marker names the library so that one inherited from another run
     * cannot stop this one from re-executing. */
    const char *done = getenv(MH_PRELOAD_MARKER);
    if (done && strcmp(done, real) == 0)
        return 0;
    /* Only our library: an inherited LD_PRELOAD would make the run ambiguous. */
    setenv("LD_PRELOAD", real, 1);
    setenv(MH_PRELOAD_MARKER, real, 1);
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

/* Version from whichever known version call the serving object exports. */
static void read_version(void *lib, char *out, size_t outlen)
{
    const char *(*mh_version)(void) = (const char *(*)(void))dlsym(lib, "mh_version");
    int (*mallctl)(const char *, void *, size_t *, void *, size_t) =
        (int (*)(const char *, void *, size_t *, void *, size_t))dlsym(lib, "mallctl");
    int (*mi_version)(void) = (int (*)(void))dlsym(lib, "mi_version");
    const char *(*tc_version)(int *, int *, const char **) =
        (const char *(*)(int *, int *, const char **))dlsym(lib, "tc_version");
    const char *(*glibc_version)(void) = (const char *(*)(void))dlsym(lib, "gnu_get_libc_version");
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
    return 0;
}

void mh_preload_or_exit(const char *prog, const char *spec, char *const argv[],
                        mh_allocator *a, mh_served *s)
{
    char err[PATH_MAX + 256];
    if (mh_allocator_resolve(spec, a, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        exit(2);
    }
    if (mh_preload_exec(a, argv, err, sizeof err) != 0 || mh_preload_verify(a, s, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        exit(3);
    }
}
