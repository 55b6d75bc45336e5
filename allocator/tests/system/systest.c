#include "systest.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *program = "systest";

void st_init(const char *argv0)
{
    const char *slash = strrchr(argv0, '/');
    program = slash ? slash + 1 : argv0;
}

/* Word i of the stream; never zero-like for long, so zeroed memory never passes. */
static inline uint64_t pattern_word(uint64_t seed, size_t i)
{
    return seed ^ ((uint64_t)(i + 1) * 0xD6E8FEB86659FD93ull);
}

void st_pattern_fill(void *at, size_t len, uint64_t seed)
{
    unsigned char *p = at;
    size_t words = len / 8, i;
    for (i = 0; i < words; i++) {
        uint64_t w = pattern_word(seed, i);
        memcpy(p + i * 8, &w, 8);
    }
    uint64_t tail = pattern_word(seed, words);
    memcpy(p + words * 8, &tail, len % 8);
}

static void report_mismatch(const unsigned char *block, size_t len, uint64_t seed,
                            const char *what)
{
    unsigned char expected[8];
    for (size_t i = 0; i < len; i += 8) {
        uint64_t w = pattern_word(seed, i / 8);
        size_t n = len - i < 8 ? len - i : 8;
        memcpy(expected, &w, 8);
        for (size_t j = 0; j < n; j++)
            if (block[i + j] != expected[j])
                st_fail("%s: block %p of %zu bytes corrupted at offset %zu: 0x%02x, expected 0x%02x",
                        what, (const void *)block, len, i + j, block[i + j], expected[j]);
    }
}

void st_pattern_check(const void *at, size_t len, uint64_t seed, const char *what)
{
    const unsigned char *p = at;
    size_t words = len / 8, i;
    for (i = 0; i < words; i++) {
        uint64_t w;
        memcpy(&w, p + i * 8, 8);
        if (w != pattern_word(seed, i))
            report_mismatch(p, len, seed, what);
    }
    uint64_t tail = pattern_word(seed, words);
    if (memcmp(p + words * 8, &tail, len % 8) != 0)
        report_mismatch(p, len, seed, what);
}

static void vreport(const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: ", program);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void st_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(fmt, ap);
    va_end(ap);
    exit(1);
}

void st_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(fmt, ap);
    va_end(ap);
    exit(2);
}

uint64_t st_parse_count(const char *option, const char *text, uint64_t min, uint64_t max)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || v < min || v > max)
        st_usage_error("bad %s '%s': give a whole number from %" PRIu64 " to %" PRIu64,
                       option, text, min, max);
    return v;
}

static char watchdog_message[256];
static size_t watchdog_length;

static void watchdog_fired(int sig)
{
    (void)sig;
    ssize_t ignored = write(STDERR_FILENO, watchdog_message, watchdog_length);
    (void)ignored;
    _exit(1);
}

void st_watchdog(unsigned seconds, const char *what)
{
    int n = snprintf(watchdog_message, sizeof watchdog_message,
                     "%s: watchdog: %s still running after %u s (deadlock?)\n",
                     program, what, seconds);
    watchdog_length = n < (int)sizeof watchdog_message ? (size_t)n : sizeof watchdog_message - 1;
    signal(SIGALRM, watchdog_fired);
    alarm(seconds);
}
