/*
 * multiheap's run-time switches (the list in multiheap.h) and the values each takes.
 * The allocator reads its environment through this table, and mhbench checks an
 * allocator variant's MULTIHEAP_* values with it before a run: a value the allocator
 * would warn about and ignore has to stop the run up front, not measure the default,
 * and one table keeps the two from drifting apart. Nothing here allocates or uses
 * stdio: the allocator calls it at its first malloc.
 */
#ifndef MULTIHEAP_ENV_H
#define MULTIHEAP_ENV_H

#include <string.h>

#define MH_ENV_PURGE_MS_MAX 3600000L
/* mh_env_parse's answer for a value the allocator does not take */
#define MH_ENV_INVALID (-2L)

typedef enum {
    MH_ENV_SEED, MH_ENV_CACHE, MH_ENV_REMOTE_BATCH, MH_ENV_PURGE_MS, MH_ENV_PURGE_THREAD,
    MH_ENV_LARGE_CACHE, MH_ENV_KEY, MH_ENV_STATS, MH_ENV_CHECK, MH_ENV_REMOTE_BINS,
    MH_ENV_COUNT
} mh_env_switch;

/* values: the choices, '|'-separated, each meaning its index (0|1: off, on), except
   MULTIHEAP_PURGE_MS's, which the text only names for messages. */
static const struct mh_env_def {
    const char *name, *values;
} mh_env_defs[MH_ENV_COUNT] = {
    [MH_ENV_SEED] = { "MULTIHEAP_SEED", "0|1" },
    [MH_ENV_CACHE] = { "MULTIHEAP_CACHE", "0|1" },
    [MH_ENV_REMOTE_BATCH] = { "MULTIHEAP_REMOTE_BATCH", "0|1" },
    [MH_ENV_PURGE_MS] = { "MULTIHEAP_PURGE_MS", "0..3600000|off" },
    [MH_ENV_PURGE_THREAD] = { "MULTIHEAP_PURGE_THREAD", "0|1" },
    [MH_ENV_LARGE_CACHE] = { "MULTIHEAP_LARGE_CACHE", "0|1" },
    [MH_ENV_KEY] = { "MULTIHEAP_KEY", "cpu|thread|global" },
    [MH_ENV_STATS] = { "MULTIHEAP_STATS", "0|1" },
    [MH_ENV_CHECK] = { "MULTIHEAP_CHECK", "0|1" },
    [MH_ENV_REMOTE_BINS] = { "MULTIHEAP_REMOTE_BINS", "0|1" },
};

/* Milliseconds (leading zeros allowed), -1 for off. */
static inline long mh_env_parse_ms(const char *v)
{
    if (strcmp(v, "off") == 0) return -1;
    long ms = 0;
    const char *s = v;
    for (; *s >= '0' && *s <= '9' && ms <= MH_ENV_PURGE_MS_MAX; s++) ms = ms * 10 + (*s - '0');
    return s == v || *s || ms > MH_ENV_PURGE_MS_MAX ? MH_ENV_INVALID : ms;
}

/* What v means for switch s: its index among the choices, or MULTIHEAP_PURGE_MS's
   milliseconds; MH_ENV_INVALID for anything else, "" included (the allocator reads an
   empty variable as an unset one before it asks). */
static inline long mh_env_parse(mh_env_switch s, const char *v)
{
    if (s == MH_ENV_PURGE_MS) return mh_env_parse_ms(v);
    size_t n = strlen(v);
    long index = 0;
    for (const char *c = mh_env_defs[s].values; *c; index++) {
        size_t len = strcspn(c, "|");
        if (n && len == n && strncmp(c, v, n) == 0) return index;
        c += len + (c[len] == '|');
    }
    return MH_ENV_INVALID;
}

#endif /* MULTIHEAP_ENV_H */
