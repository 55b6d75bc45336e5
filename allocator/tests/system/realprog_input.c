/*
 * The C file gcc compiles in the LD_PRELOAD test (alloc.sys.real.gcc). The program it
 * becomes checks its own results and prints them, so the test can see that a binary
 * built under libmultiheap.so runs and behaves like one built without it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct word { char text[16]; unsigned count; };

static unsigned count_primes(unsigned limit)
{
    unsigned char *composite = calloc(limit + 1, 1);
    unsigned n = 0;
    if (!composite) return 0;
    for (unsigned i = 2; i <= limit; i++) {
        if (composite[i]) continue;
        n++;
        for (unsigned long j = (unsigned long)i * i; j <= limit; j += i)
            composite[j] = 1;
    }
    free(composite);
    return n;
}

static uint32_t next_random(uint32_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    return *state;
}

static int by_text(const void *a, const void *b)
{
    return strcmp(((const struct word *)a)->text, ((const struct word *)b)->text);
}

/* Random words, sorted, then equal neighbours merged: a small word count. */
static size_t count_words(struct word *words, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = 1 + next_random(&seed) % 3;
        for (size_t k = 0; k < len; k++)
            words[i].text[k] = (char)('a' + next_random(&seed) % 4);
        words[i].text[len] = '\0';
        words[i].count = 1;
    }
    qsort(words, n, sizeof words[0], by_text);
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++) {
        if (distinct && strcmp(words[distinct - 1].text, words[i].text) == 0)
            words[distinct - 1].count++;
        else
            words[distinct++] = words[i];
    }
    return distinct;
}

int main(void)
{
    unsigned primes = count_primes(1000000);
    if (primes != 78498) {
        fprintf(stderr, "wrong prime count %u\n", primes);
        return 1;
    }
    printf("primes below one million: %u\n", primes);

    enum { N = 20000 };
    struct word *words = malloc(N * sizeof *words);
    if (!words) return 1;
    size_t distinct = count_words(words, N, 12345);
    unsigned total = 0;
    for (size_t i = 0; i < distinct; i++) {
        printf("%-4s %u\n", words[i].text, words[i].count);
        total += words[i].count;
    }
    free(words);
    if (total != N) {
        fprintf(stderr, "words lost: %u of %u\n", total, N);
        return 1;
    }
    printf("%zu distinct words, %u in all\n", distinct, total);
    return 0;
}
