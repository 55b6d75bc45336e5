/* Misuse is reported, never absorbed: each case runs in a child, which must die of
   SIGABRT after one stderr line naming the problem. "misuse check" runs the cases that
   need MULTIHEAP_CHECK=1 (a double free of an object that is not the top of its CPU's
   bin, a realloc of a freed object that fits in place), "misuse nocache" those that
   need MULTIHEAP_CACHE=0 (a realloc of a freed object whose page malloc hands out
   again). */
#define _GNU_SOURCE
#include <malloc.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mh_internal.h"
#include "mhunit.h"

static void double_free_small(void) { char *p = malloc(32); free(p); free(p); }
static void double_free_one_object(void) { char *p = malloc(8000); free(p); free(p); }
static void double_free_large(void) { char *p = malloc(100000); free(p); free(p); }
static void interior_small(void) { char *p = malloc(64); free(p + 16); }
static void interior_metadata(void) { char *p = malloc(64); free((char *)mh_page_of(p)); }
static void interior_large(void) { char *p = malloc(100000); free(p + 8192); }
/* In the block's first page, which holds its registry entry. */
static void interior_large_first_page(void) { char *p = malloc(100000); free(p + 16); }
static void interior_large_realloc(void) { char *p = malloc(300000); p = realloc(p + 16, 400000); }
/* Multiples of the size past the last slot: in the page's tail (48) or its metadata (32). */
static void past_last_slot_tail(void) {
    char *p = malloc(48);
    free((char *)mh_page_base(p) + mh_class_objects(mh_size_class(48)) * 48);
}
static void past_last_slot_metadata(void) {
    char *p = malloc(32);
    free((char *)mh_page_base(p) + mh_class_objects(mh_size_class(32)) * 32);
}
static void interior_small_realloc(void) { char *p = malloc(64); (void)!realloc(p + 16, 100); }
static void interior_small_usable_size(void) { char *p = malloc(32); (void)!malloc_usable_size(p + 8); }
static void foreign_stack(void) { int x; free(&x); }
static void foreign_in_range(void) { free(mh_global.small_base + mh_global.small_size - 4096); }
/* The same once the 16-byte class's row is ready on CPU 0: the page's entry (0) names no
   class, and free's push, which would check the pointer against the row the entry's bits
   name (on CPU 0, whose heap's tag is 0, the class row 0, whose check it passes; on
   another CPU a remote row that is not ready), must not be reached. A child that cannot
   run on CPU 0 exits SKIPPED. */
#define SKIPPED 77
static void foreign_in_range_row_ready(void) {
    cpu_set_t zero;
    CPU_ZERO(&zero);
    CPU_SET(0, &zero);
    if (sched_setaffinity(0, sizeof zero, &zero) != 0) _exit(SKIPPED);
    free(malloc(16));
    free(mh_global.small_base + mh_global.small_size - 4096);
}
static void foreign_realloc(void) { int x; (void)!realloc(&x, 10); }
static void double_free_later(void) {
    char *p = malloc(48), *q = malloc(48);
    free(p);
    free(q);
    free(p);
}
static void realloc_freed_in_place(void) { char *p = malloc(32); free(p); (void)!realloc(p, 24); }
/* Without the front cache p's page empties at the free and serves the next malloc, of
   another class: realloc's malloc returns p itself. */
static void realloc_freed_moved(void) { char *p = malloc(32); free(p); (void)!realloc(p, 1000); }
/* With the front cache p stays the top of its bin: realloc's own free of it finds that
   (it said "double free"). */
static void realloc_freed_grown(void) { char *p = malloc(64); free(p); (void)!realloc(p, 128); }
static void realloc_freed_large(void) { char *p = malloc(100000); free(p); (void)!realloc(p, 200000); }
static void usable_size_freed_large(void) { char *p = malloc(100000); free(p); (void)!malloc_usable_size(p); }
/* One past a large block's end is no interior pointer of it. */
static void past_large_end(void) { char *p = malloc(100000); free(p + malloc_usable_size(p)); }
static void double_free_stashed(void) {
    /* Enough frees after the first that p leaves the front cache for the heap's stash. */
    enum { N = 2000 };
    static char *objs[N];
    char *p = malloc(48);
    for (int i = 0; i < N; i++) objs[i] = malloc(48);
    free(p);
    for (int i = 0; i < N; i++) free(objs[i]);
    free(p);
}

/* One object twice in a batch that goes back to its pages (how a double free that
   reached the heap unseen arrives): the second must fail the bitmap's check though the
   first one's bit is cleared only with the rest of its word. */
static void double_free_one_batch(void) {
    void *p = malloc(48), *batch[2] = {p, p};
    mh_small_free_batch(batch, 2, MH_FREED_BY_PROGRAM);
}

/* Neighbours one size apart go back to their page with one mask per bitmap word
   (page.c): a fresh page's slots, of 48-byte objects (168 to a page, three words). */
static size_t fresh_page(size_t size, void **out, size_t n) {
    unsigned cls = mh_size_class(size);
    CHECK(mh_heap_alloc_batch(mh_current_heap(), cls, out, n, false) == n);
    CHECK(mh_slot_of(out[0], cls) == 0);
    for (size_t i = 1; i < n; i++) CHECK((char *)out[i] == (char *)out[0] + i * mh_class_size(cls));
    return mh_class_size(cls);
}
/* Frees slot `twice` alone, then len slots from `first` on, one by one upwards (step 1)
   or downwards (-1), in one batch: the batch must report slot `twice`. */
static void double_free_in_run(unsigned first, int step, unsigned len, unsigned twice) {
    static void *page[130], *run[64];
    fresh_page(48, page, 130);
    for (unsigned i = 0; i < len; i++) run[i] = page[(int)first + step * (int)i];
    mh_small_free(page[twice]);
    mh_small_free_batch(run, len, MH_FREED_BY_PROGRAM);
}
static void double_free_run_up(void) { double_free_in_run(2, 1, 6, 5); }
static void double_free_run_down(void) { double_free_in_run(7, -1, 6, 3); }
static void double_free_run_across_words_up(void) { double_free_in_run(60, 1, 16, 70); }
static void double_free_run_across_words_down(void) { double_free_in_run(70, -1, 16, 63); }
static void double_free_run_whole_word_up(void) { double_free_in_run(64, 1, 64, 127); }
static void double_free_run_whole_word_down(void) { double_free_in_run(127, -1, 64, 64); }
/* The same object twice in a row in one batch, not at the start of its word (the one
   above slot 0 had neither scan look at the second copy): a scan that took the copy
   for a neighbour would free the slot above as well and miss the double free. */
static void double_free_one_batch_at(unsigned slot) {
    static void *page[130];
    fresh_page(48, page, 130);
    void *batch[2] = {page[slot], page[slot]};
    mh_small_free_batch(batch, 2, MH_FREED_BY_PROGRAM);
}
static void double_free_one_batch_mid_word(void) { double_free_one_batch_at(5); }
static void double_free_one_batch_word_end(void) { double_free_one_batch_at(63); }
static void double_free_one_batch_next_word(void) { double_free_one_batch_at(64 + 9); }
/* The last slot, then the multiple of the size past it, which the mask must leave to be
   checked on its own. */
static void past_last_slot_in_batch(void) {
    static void *page[1024];
    size_t cap = mh_class_objects(mh_size_class(48));
    CHECK(cap < 1024);
    size_t size = fresh_page(48, page, cap);
    void *run[2] = {page[cap - 1], (char *)page[cap - 1] + size};
    mh_small_free_batch(run, 2, MH_FREED_BY_PROGRAM);
}
/* A free of the start of another slot, p + 2 * malloc_usable_size(p) (a review's),
   whose object is free already: check mode catches it where it sits, before the slot is
   handed out twice. The first malloc whose neighbour but one is where the case needs it. */
static void stray_free_where(bool (*sits)(const void *o), bool realloc_it) {
    for (int i = 0; i < 4096; i++) {
        char *p = malloc(100), *o = p + 2 * malloc_usable_size(p);
        if (mh_page_class_plus1(o) == mh_page_class_plus1(p) && sits(o)) {
            if (realloc_it) (void)!realloc(o, 100);   /* fits in place */
            else free(o);
            return;
        }
    }
    CHECK(!"no malloc(100) had its neighbour but one where the case needs it");
}
static bool in_a_free_cache(const void *o) { return mh_cache_holds_freed((void *)o); }
static bool free_in_its_page(const void *o) {
    unsigned cls = mh_page_class_plus1(o) - 1, slot = mh_slot_of(o, cls);
    const mh_page *pg = mh_page_of(o);
    return slot < pg->capacity && !(pg->bitmap[slot / 64] >> (slot % 64) & 1);
}
static void stray_free_cached(void) { stray_free_where(in_a_free_cache, false); }
static void stray_free_in_page(void) { stray_free_where(free_in_its_page, false); }
static void stray_realloc_cached(void) { stray_free_where(in_a_free_cache, true); }
static void stray_realloc_in_page(void) { stray_free_where(free_in_its_page, true); }

static const struct {
    const char *name;
    void (*run)(void);
    const char *expect;
    const char *mode;   /* NULL: the default; "check", "nocache": the argument run with it */
} cases[] = {
    {"double free (small)", double_free_small, "double free", NULL},
    {"double free (one-object class)", double_free_one_object, "double free", NULL},
    {"double free (large)", double_free_large, "double free of a large block", NULL},
    {"double free (twice in one batch to the pages)", double_free_one_batch, "double free", NULL},
    {"double free (twice in a batch, mid-word)", double_free_one_batch_mid_word, "double free", NULL},
    {"double free (twice in a batch, bit 63)", double_free_one_batch_word_end, "double free", NULL},
    {"double free (twice in a batch, word 1)", double_free_one_batch_next_word, "double free", NULL},
    {"double free (in a run of neighbours)", double_free_run_up, "double free", NULL},
    {"double free (in a run, downwards)", double_free_run_down, "double free", NULL},
    {"double free (in a run across words)", double_free_run_across_words_up, "double free", NULL},
    {"double free (across words, downwards)", double_free_run_across_words_down, "double free", NULL},
    {"double free (in a whole word's run)", double_free_run_whole_word_up, "double free", NULL},
    {"double free (whole word, downwards)", double_free_run_whole_word_down, "double free", NULL},
    {"interior pointer (small)", interior_small, "interior pointer", NULL},
    {"interior pointer (page metadata)", interior_metadata, "interior pointer", NULL},
    {"interior pointer (large)", interior_large, "interior pointer of a large block", NULL},
    {"interior pointer (large, first page)", interior_large_first_page, "interior pointer of a large block", NULL},
    {"realloc of an interior pointer (large)", interior_large_realloc, "never returned", NULL},
    {"realloc of an interior pointer (small)", interior_small_realloc, "realloc of a pointer multiheap never returned", NULL},
    {"usable size of an interior pointer", interior_small_usable_size, "malloc_usable_size of a pointer multiheap never returned", NULL},
    {"past the last slot (tail)", past_last_slot_tail, "interior pointer", NULL},
    {"past the last slot (metadata)", past_last_slot_metadata, "interior pointer", NULL},
    {"past the last slot (in a batch)", past_last_slot_in_batch, "interior pointer", NULL},
    {"foreign pointer (stack)", foreign_stack, "never returned", NULL},
    {"foreign pointer (reserved range)", foreign_in_range, "never returned", NULL},
    {"foreign pointer (reserved range, a row ready)", foreign_in_range_row_ready, "never returned", NULL},
    {"foreign pointer (realloc)", foreign_realloc, "realloc of a pointer multiheap never returned", NULL},
    {"double free (not the last free)", double_free_later, "double free", "check"},
    {"double free (object in a stash)", double_free_stashed, "double free", "check"},
    {"stray free (slot in a free cache)", stray_free_cached, "double free", "check"},
    {"stray free (slot free in its page)", stray_free_in_page, "double free", "check"},
    {"stray realloc (slot in a free cache)", stray_realloc_cached, "realloc of a freed pointer", "check"},
    {"stray realloc (slot free in page)", stray_realloc_in_page, "realloc of a freed pointer", "check"},
    {"realloc after free (in place)", realloc_freed_in_place, "realloc of a freed pointer", "check"},
    {"realloc after free (page reused)", realloc_freed_moved, "realloc of a freed pointer", "nocache"},
    {"realloc after free (grown, small)", realloc_freed_grown, "realloc of a freed pointer", NULL},
    {"realloc after free (large)", realloc_freed_large, "realloc of a freed large block", NULL},
    {"usable size after free (large)", usable_size_freed_large, "malloc_usable_size of a freed large block", NULL},
    {"one past a large block's end", past_large_end, "free of a pointer multiheap never returned", NULL},
};

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : NULL;
    mh_free(mh_malloc(1));
    CHECK(!mode || strcmp(mode, "check") != 0 || strstr(mh_options(), "check=on"));
    CHECK(!mode || strcmp(mode, "nocache") != 0 || strstr(mh_options(), "cache=off"));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (!cases[i].mode != !mode || (mode && strcmp(cases[i].mode, mode) != 0)) continue;
        int fds[2];
        CHECK(pipe(fds) == 0);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            /* The front cache catches a double free on the CPU of the first free: a
               migration between the two frees would hide it. */
            int cpu = sched_getcpu();
            cpu_set_t here;
            CPU_ZERO(&here);
            if (cpu >= 0) {
                CPU_SET(cpu, &here);
                sched_setaffinity(0, sizeof here, &here);
            }
            dup2(fds[1], STDERR_FILENO);
            cases[i].run();
            _exit(0);
        }
        close(fds[1]);
        char msg[512];
        size_t n = 0;
        ssize_t r;
        while (n < sizeof msg - 1 && (r = read(fds[0], msg + n, sizeof msg - 1 - n)) > 0)
            n += (size_t)r;
        msg[n] = 0;
        close(fds[0]);
        int status;
        CHECK(waitpid(pid, &status, 0) == pid);
        if (WIFEXITED(status) && WEXITSTATUS(status) == SKIPPED && !msg[0]) {
            printf("%-36s -> skipped (it needs CPU 0)\n", cases[i].name);
            continue;
        }
        printf("%-36s -> %s", cases[i].name, msg[0] ? msg : "(nothing)\n");
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
        CHECK(strncmp(msg, "multiheap: ", 11) == 0 && strstr(msg, cases[i].expect));
        CHECK(strstr(msg, "0x") && strchr(msg, '\n') == msg + n - 1);
    }
    puts("misuse detection ok");
    return 0;
}
