/*
 * The environment a result was measured in (driver.h): topology from hwloc,
 * software and tuning knobs from /proc and /sys. A value that cannot be read
 * is written null, never guessed.
 */
#define _GNU_SOURCE
#include "driver.h"

#include <gnu/libc-version.h>
#include <hwloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

static hwloc_topology_t topology;
static pthread_once_t topology_once = PTHREAD_ONCE_INIT;

static void topology_load(void)
{
    hwloc_topology_init(&topology);
    hwloc_topology_load(topology);
}

struct hwloc_topology *mh_topology(void)
{
    pthread_once(&topology_once, topology_load);
    return topology;
}

/* First line of a file without its newline; false if unreadable. */
static bool read_line(const char *path, char *out, size_t outlen)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool ok = fgets(out, (int)outlen, f) != NULL;
    fclose(f);
    if (ok)
        out[strcspn(out, "\n")] = '\0';
    return ok;
}

static void write_file_str(mh_jw *w, const char *key, const char *path)
{
    char line[256];
    mh_jw_str(w, key, read_line(path, line, sizeof line) ? line : NULL);
}

static void write_file_int(mh_jw *w, const char *key, const char *path)
{
    char line[64];
    if (read_line(path, line, sizeof line))
        mh_jw_int(w, key, atoll(line));
    else
        mh_jw_null(w, key);
}

/* "always [madvise] never" -> "madvise" */
static void write_bracketed(mh_jw *w, const char *key, const char *path)
{
    char line[256];
    char *open, *close;
    if (read_line(path, line, sizeof line) && (open = strchr(line, '[')) && (close = strchr(open, ']'))) {
        *close = '\0';
        mh_jw_str(w, key, open + 1);
    } else {
        mh_jw_null(w, key);
    }
}

/* The model name and, in cpu_id, what tells two parts of one name apart: a VM's
 * "AMD EPYC" was a Zen 4 on one day and a Zen 5 on another, with other cache sizes and
 * other results. x86 /proc/cpuinfo fields; null where the kernel shows none. */
static void write_cpu_model(mh_jw *w)
{
    static const char *const id_keys[] = { "vendor_id", "cpu family", "model", "stepping", "microcode" };
    static const char *const id_names[] = { "", "family", "model", "stepping", "microcode" };
    char line[512], model[256] = "", id[256] = "";
    bool have_model = false, seen[5] = { false };
    FILE *f = fopen("/proc/cpuinfo", "r");
    /* The first processor's block only: it ends at the first empty line. */
    while (f && fgets(line, sizeof line, f) && line[0] != '\n') {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        char *value = colon + (colon[1] == ' ' ? 2 : 1);
        value[strcspn(value, "\n")] = '\0';
        size_t key_len = strcspn(line, "\t:");
        if (!have_model && ((key_len == 10 && !strncmp(line, "model name", 10)) || !strncmp(line, "Processor", 9))) {
            snprintf(model, sizeof model, "%s", value);
            have_model = true;
        }
        for (size_t k = 0; k < sizeof id_keys / sizeof *id_keys; k++)
            if (!seen[k] && key_len == strlen(id_keys[k]) && !strncmp(line, id_keys[k], key_len)) {
                size_t used = strlen(id);
                snprintf(id + used, sizeof id - used, "%s%s%s%s", used ? " " : "", id_names[k],
                         id_names[k][0] ? " " : "", value);
                seen[k] = true;
            }
    }
    if (f)
        fclose(f);
    mh_jw_str(w, "cpu_model", have_model ? model : NULL);
    mh_jw_str(w, "cpu_id", id[0] ? id : NULL);
}

/* Each distinct cache kind once: level, type, size, CPUs sharing one, how many there are. */
static void write_caches(mh_jw *w, hwloc_topology_t topo)
{
    mh_jw_arr_begin(w, "caches");
    for (hwloc_obj_type_t t = HWLOC_OBJ_L1CACHE; t <= HWLOC_OBJ_L3ICACHE; t++) {
        int n = hwloc_get_nbobjs_by_type(topo, t);
        if (n <= 0)
            continue;
        hwloc_obj_t c = hwloc_get_obj_by_type(topo, t, 0);
        const char *type = c->attr->cache.type == HWLOC_OBJ_CACHE_DATA ? "data"
                         : c->attr->cache.type == HWLOC_OBJ_CACHE_INSTRUCTION ? "instruction" : "unified";
        mh_jw_obj_begin(w, NULL);
        mh_jw_int(w, "level", c->attr->cache.depth);
        mh_jw_str(w, "type", type);
        mh_jw_int(w, "size_kib", (long long)(c->attr->cache.size / 1024));
        mh_jw_int(w, "line_bytes", c->attr->cache.linesize);
        mh_jw_int(w, "shared_by_cpus", hwloc_bitmap_weight(c->cpuset));
        mh_jw_int(w, "count", n);
        mh_jw_obj_end(w);
    }
    mh_jw_arr_end(w);
}

static void write_topology(mh_jw *w)
{
    hwloc_topology_t topo = mh_topology();
    int pus = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
    int cores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
    mh_jw_int(w, "cpus_online", sysconf(_SC_NPROCESSORS_ONLN));
    mh_jw_int(w, "pus", pus);
    mh_jw_int(w, "cores", cores);
    mh_jw_int(w, "packages", hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE));
    mh_jw_int(w, "numa_nodes", hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE));
    write_caches(w, topo);
    char smt[32];
    if (read_line("/sys/devices/system/cpu/smt/active", smt, sizeof smt))
        mh_jw_bool(w, "smt", atoi(smt) == 1);
    else
        mh_jw_bool(w, "smt", cores > 0 && pus > cores);
    mh_jw_str(w, "hwloc", HWLOC_VERSION);
}

void mh_env_write(mh_jw *w, const char *key)
{
    struct utsname u;
    bool have_uname = uname(&u) == 0;
    char kernel[sizeof u.release + sizeof u.version + 2];
    if (have_uname)
        snprintf(kernel, sizeof kernel, "%s %s", u.release, u.version);
    mh_jw_obj_begin(w, key);
    mh_jw_str(w, "host", have_uname ? u.nodename : NULL);
    mh_jw_str(w, "arch", have_uname ? u.machine : NULL);
    write_cpu_model(w);
    write_topology(w);
    mh_jw_str(w, "kernel", have_uname ? kernel : NULL);
    mh_jw_str(w, "glibc", gnu_get_libc_version());
#ifdef __clang__
    mh_jw_str(w, "compiler", "clang " __clang_version__);
#else
    mh_jw_str(w, "compiler", "gcc " __VERSION__);
#endif
    write_bracketed(w, "thp", "/sys/kernel/mm/transparent_hugepage/enabled");
    write_bracketed(w, "thp_defrag", "/sys/kernel/mm/transparent_hugepage/defrag");
    write_file_int(w, "overcommit", "/proc/sys/vm/overcommit_memory");
    write_file_str(w, "governor", "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor");
    write_file_int(w, "aslr", "/proc/sys/kernel/randomize_va_space");
    write_file_int(w, "perf_event_paranoid", "/proc/sys/kernel/perf_event_paranoid");
    mh_jw_obj_end(w);
}
