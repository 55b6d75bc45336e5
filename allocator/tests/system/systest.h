/*
 * Helpers shared by the allocator's system tests: a seeded random generator, the
 * block pattern every test writes and checks, loud failure and a watchdog.
 */
#ifndef MH_SYSTEST_H
#define MH_SYSTEST_H

#include <stddef.h>
#include <stdint.h>

/* splitmix64: fast, seedable, and good enough to pick sizes and slots. */
typedef struct st_rng { uint64_t state; } st_rng;

static inline uint64_t st_rng_next(st_rng *r)
{
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A number in [0, n); n > 0. The modulo bias is irrelevant here. */
static inline uint64_t st_rng_below(st_rng *r, uint64_t n) { return st_rng_next(r) % n; }

/* A number in [lo, hi]. */
static inline uint64_t st_rng_range(st_rng *r, uint64_t lo, uint64_t hi)
{
    return lo + st_rng_below(r, hi - lo + 1);
}

/*
 * The pattern of a block depends on its address and size, so a block handed out
 * twice, two overlapping blocks, or a stray write all show up as a mismatch.
 * A block's bytes are a stream fixed by the seed: any prefix of the stream can be
 * checked, which is what realloc must preserve.
 */
static inline uint64_t st_pattern_seed(const void *block, size_t size)
{
    uint64_t z = (uintptr_t)block ^ ((uint64_t)size * 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 33)) * 0xFF51AFD7ED558CCDull;
    z = (z ^ (z >> 33)) * 0xC4CEB9FE1A85EC53ull;
    return z ^ (z >> 33);
}
void st_pattern_fill(void *at, size_t len, uint64_t seed);
/* Aborts with one line naming `what`, the block and the first bad byte. */
void st_pattern_check(const void *at, size_t len, uint64_t seed, const char *what);

static inline void st_fill(void *block, size_t size)
{
    st_pattern_fill(block, size, st_pattern_seed(block, size));
}

static inline void st_check(const void *block, size_t size, const char *what)
{
    st_pattern_check(block, size, st_pattern_seed(block, size), what);
}

/* Print "PROGRAM: message" to stderr and exit 1. */
void st_fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
/* Bad command line: one line naming the problem and the fix, exit 2. */
void st_usage_error(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* Parse a decimal option value in [min, max] or exit 2 naming the option. */
uint64_t st_parse_count(const char *option, const char *text, uint64_t min, uint64_t max);

/*
 * After `seconds`, print that `what` hangs and exit 1: a deadlock fails the test
 * instead of blocking ctest. Call again in a forked child (alarms are not inherited).
 */
void st_watchdog(unsigned seconds, const char *what);

/* The program's name for messages; set from argv[0] by st_init. */
void st_init(const char *argv0);

#endif /* MH_SYSTEST_H */
