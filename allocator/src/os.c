/*
 * Everything that talks to the kernel: the reserved range for object pages, mappings
 * for large blocks, the possible-CPU count, and the fatal-error line. No stdio here:
 * all of it runs inside malloc.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mh_internal.h"

/* Room for 256 CPUs x 256 MiB of small objects; the kernel charges nothing for it. */
#define MH_RESERVE_BYTES ((size_t)64 << 30)
#define MH_RESERVE_MIN   ((size_t)1 << 30)

bool mh_os_reserve_small(void) {
    /* Over-reserve by one page so the range can start 8 KiB aligned. Where the address
       space is limited (ulimit -v), settle for less. */
    for (size_t size = MH_RESERVE_BYTES; size >= MH_RESERVE_MIN; size /= 2) {
        void *p = mmap(NULL, size + MH_PAGE_SIZE, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) continue;
        mh_global.small_base = (char *)mh_page_base((char *)p + MH_PAGE_SIZE - 1);
        mh_global.small_size = size;
        return true;
    }
    return false;
}

char *mh_os_commit_pages(size_t npages) {
    size_t bytes = npages * MH_PAGE_SIZE;
    size_t off = __atomic_fetch_add(&mh_global.small_used, bytes, __ATOMIC_RELAXED);
    if (off + bytes > mh_global.small_size) {
        errno = ENOMEM;
        return NULL;
    }
    char *p = mh_global.small_base + off;
    if (mprotect(p, bytes, PROT_READ | PROT_WRITE) != 0) return NULL;
    return p;
}

void *mh_os_map(size_t size) {
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void mh_os_unmap(void *p, size_t size) {
    int saved = errno;
    munmap(p, size);
    errno = saved;
}

/* "0-255" or "0,2-5,8": the highest CPU number plus one. */
static unsigned parse_cpu_list(const char *s) {
    unsigned highest = 0, n = 0;
    bool in_number = false;
    for (; *s; s++) {
        if (*s >= '0' && *s <= '9') {
            n = n * 10 + (unsigned)(*s - '0');
            in_number = true;
        } else {
            if (in_number && n > highest) highest = n;
            n = 0;
            in_number = false;
        }
    }
    if (in_number && n > highest) highest = n;
    return highest + 1;
}

unsigned mh_os_possible_cpus(void) {
    char buf[256];
    int fd = open("/sys/devices/system/cpu/possible", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    if (fd >= 0) close(fd);
    if (n > 0) {
        buf[n] = 0;
        return parse_cpu_list(buf);
    }
    long conf = sysconf(_SC_NPROCESSORS_CONF);
    return conf > 0 ? (unsigned)conf : 1;
}

void mh_fatal(const char *what, const void *p) {
    char line[160];
    size_t n = 0;
    for (const char *s = "multiheap: "; *s; s++) line[n++] = *s;
    for (const char *s = what; *s && n < sizeof line - 24; s++) line[n++] = *s;
    line[n++] = ' ';
    line[n++] = '0';
    line[n++] = 'x';
    for (int shift = 60; shift >= 0; shift -= 4)
        line[n++] = "0123456789abcdef"[((uintptr_t)p >> shift) & 15];
    line[n++] = '\n';
    ssize_t unused = write(STDERR_FILENO, line, n);
    (void)unused;
    abort();
}
