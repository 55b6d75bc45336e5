/*
 * Per-thread perf_event_open counters (driver.h).
 *
 * Two groups per thread, each read atomically with PERF_FORMAT_GROUP: the
 * hardware events (which need a PMU, often absent in VMs) and the software
 * events (always there unless perf_event_paranoid forbids). A hardware event
 * that fails to open is left out of the group and reported null with its
 * errno; the others still count.
 */
#define _GNU_SOURCE
#include "driver.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

const char *const mh_counter_names[MH_CTR_COUNT] = {
    "cycles", "instructions", "cache_misses", "dtlb_misses", "branch_misses",
    "task_clock_ns", "page_faults", "context_switches", "cpu_migrations",
};

static const struct { uint32_t type; uint64_t config; } events[MH_CTR_COUNT] = {
    [MH_CTR_CYCLES] = { PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES },
    [MH_CTR_INSTRUCTIONS] = { PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS },
    [MH_CTR_CACHE_MISSES] = { PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_MISSES },
    [MH_CTR_DTLB_MISSES] = { PERF_TYPE_HW_CACHE, PERF_COUNT_HW_CACHE_DTLB |
                             (PERF_COUNT_HW_CACHE_OP_READ << 8) | (PERF_COUNT_HW_CACHE_RESULT_MISS << 16) },
    [MH_CTR_BRANCH_MISSES] = { PERF_TYPE_HARDWARE, PERF_COUNT_HW_BRANCH_MISSES },
    [MH_CTR_TASK_CLOCK] = { PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK },
    [MH_CTR_PAGE_FAULTS] = { PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS },
    [MH_CTR_CONTEXT_SWITCHES] = { PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CONTEXT_SWITCHES },
    [MH_CTR_CPU_MIGRATIONS] = { PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_MIGRATIONS },
};

static bool is_hardware(int i) { return i < MH_CTR_TASK_CLOCK; }

static int perf_open(int i, int group_fd, bool user_only)
{
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.type = events[i].type;
    a.config = events[i].config;
    a.disabled = group_fd == -1;
    a.exclude_hv = 1;
    a.exclude_kernel = user_only;
    a.read_format = PERF_FORMAT_GROUP | PERF_FORMAT_ID | PERF_FORMAT_TOTAL_TIME_ENABLED |
                    PERF_FORMAT_TOTAL_TIME_RUNNING;
    return (int)syscall(SYS_perf_event_open, &a, 0, -1, group_fd, PERF_FLAG_FD_CLOEXEC);
}

/* Kernel counting needs perf_event_paranoid <= 1; at 2 we count user space only. */
static int open_event(int i, int group_fd, bool *user_only)
{
    int fd = perf_open(i, group_fd, false);
    *user_only = fd < 0 && (errno == EACCES || errno == EPERM);
    if (*user_only)
        fd = perf_open(i, group_fd, true);
    return fd;
}

static void open_group(mh_perf_thread *p, int first, int last)
{
    int leader = -1;
    for (int i = first; i <= last; i++) {
        p->fd[i] = open_event(i, leader, &p->user_only[i]);
        p->err[i] = p->fd[i] < 0 ? errno : 0;
        if (leader < 0 && p->fd[i] >= 0)
            leader = p->fd[i];
    }
}

static int group_leader(const mh_perf_thread *p, int first, int last)
{
    for (int i = first; i <= last; i++)
        if (p->fd[i] >= 0)
            return p->fd[i];
    return -1;
}

void mh_perf_open(mh_perf_thread *p)
{
    open_group(p, MH_CTR_CYCLES, MH_CTR_BRANCH_MISSES);
    open_group(p, MH_CTR_TASK_CLOCK, MH_CTR_CPU_MIGRATIONS);
}

void mh_perf_enable(mh_perf_thread *p)
{
    int lh = group_leader(p, MH_CTR_CYCLES, MH_CTR_BRANCH_MISSES);
    int ls = group_leader(p, MH_CTR_TASK_CLOCK, MH_CTR_CPU_MIGRATIONS);
    if (lh >= 0) ioctl(lh, PERF_EVENT_IOC_ENABLE, PERF_IOC_FLAG_GROUP);
    if (ls >= 0) ioctl(ls, PERF_EVENT_IOC_ENABLE, PERF_IOC_FLAG_GROUP);
}

/* One group read: {nr, time_enabled, time_running, {value, id} * nr}. */
static void read_group(mh_perf_thread *p, int first, int last, mh_counts *c)
{
    int leader = group_leader(p, first, last);
    if (leader < 0)
        return;
    ioctl(leader, PERF_EVENT_IOC_DISABLE, PERF_IOC_FLAG_GROUP);
    uint64_t buf[3 + 2 * MH_CTR_COUNT];
    uint64_t ids[MH_CTR_COUNT];
    for (int i = first; i <= last; i++)
        if (p->fd[i] >= 0 && ioctl(p->fd[i], PERF_EVENT_IOC_ID, &ids[i]) != 0)
            ids[i] = UINT64_MAX;
    ssize_t n = read(leader, buf, sizeof buf);
    if (n < (ssize_t)(3 * sizeof(uint64_t))) {
        for (int i = first; i <= last; i++)
            if (p->fd[i] >= 0 && !c->err[i])
                c->err[i] = n < 0 ? errno : EIO;
        return;
    }
    uint64_t nr = buf[0], enabled = buf[1], running = buf[2];
    double scale = running > 0 && running < enabled ? (double)enabled / (double)running : 1.0;
    for (uint64_t k = 0; k < nr && 3 + 2 * k + 1 < sizeof buf / sizeof buf[0]; k++) {
        for (int i = first; i <= last; i++) {
            if (p->fd[i] >= 0 && ids[i] == buf[3 + 2 * k + 1]) {
                c->value[i] += (double)buf[3 + 2 * k] * scale;
                c->scaled[i] |= scale != 1.0;
            }
        }
    }
}

void mh_perf_collect(mh_perf_thread *p, mh_counts *c)
{
    read_group(p, MH_CTR_CYCLES, MH_CTR_BRANCH_MISSES, c);
    read_group(p, MH_CTR_TASK_CLOCK, MH_CTR_CPU_MIGRATIONS, c);
    for (int i = 0; i < MH_CTR_COUNT; i++) {
        c->user_only[i] |= p->fd[i] >= 0 && p->user_only[i];
        if (p->fd[i] >= 0)
            close(p->fd[i]);
        else if (!c->err[i])
            c->err[i] = p->err[i];
        p->fd[i] = -1;
    }
}

static int paranoid_level(void)
{
    int level = -100;
    FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "r");
    if (f) {
        if (fscanf(f, "%d", &level) != 1)
            level = -100;
        fclose(f);
    }
    return level;
}

void mh_perf_reason(int err, int counter, char *out, size_t outlen)
{
    const char *name = strerrorname_np(err);
    const char *why;
    char buf[128];
    if ((err == EACCES || err == EPERM) && paranoid_level() > 2) {
        snprintf(buf, sizeof buf, "perf_event_paranoid=%d forbids it; set it to 2 or lower", paranoid_level());
        why = buf;
    } else if (err == EACCES || err == EPERM) {
        /* user-space counting was tried too: something else than the sysctl said no */
        snprintf(buf, sizeof buf, "refused although perf_event_paranoid=%d allows it: a seccomp or "
                 "container policy?", paranoid_level());
        why = buf;
    } else if ((err == ENOENT || err == EOPNOTSUPP || err == ENODEV) && is_hardware(counter)) {
        why = "not supported: no PMU access on this machine";
    } else {
        why = strerror(err);
    }
    snprintf(out, outlen, "perf_event_open: %s (%s)", name ? name : "error", why);
}
