/* A double free is caught while, and after, the purger gives back the free 4 KiB pages of
   partial slabs (purge_partial_slabs), in the two modes that promise to catch every one:
     window  MULTIHEAP_KEY=global (no front cache): the second free lands while the purger
             holds the slab's free slots without the heap lock (the test takes them as
             the purger does); it used to be taken for a good free there, the slab then
             counted no object while one was live, and the next malloc of another slab
             class reformatted it under the live object
     window-edge  the same for an object that starts in a 4 KiB page that stays and
             reaches into one that goes
     check   MULTIHEAP_CHECK=1: the second free comes after the page went back to the OS,
             which zeroed the object's free mark; it used to pass, and the object was then
             handed out twice
   Each mode runs in a child that must die (SIGABRT) at the second free with "double
   free"; ctest checks the message. */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mh_internal.h"
#include "mhunit.h"

#define SZ 5000                    /* a class of 64 KiB slabs */
#define N 2600

/* Frees every object but the first of each slab; returns one freed object that starts
   in the slab's 4 KiB page number `page`. */
static void *free_all_but_firsts(void **o, unsigned page) {
    void *victim = NULL;
    for (int i = 0; i < N; i++) {
        uintptr_t off = (uintptr_t)o[i] & (MH_SLAB_SIZE - 1);
        if (off == 0) continue;
        if (off / 4096 == page && i > N / 2) victim = o[i];
        free(o[i]);
    }
    CHECK(victim);
    return victim;
}

static void double_free_after_purge(const char *mode) {
    pin_to_this_cpu();
    static void *o[N];
    for (int i = 0; i < N; i++) {
        o[i] = malloc(SZ);
        memset(o[i], 7, SZ);
    }
    /* edge: the object starts in page 1, which the live first object keeps, and reaches
       into page 2, which goes back: its slot is taken all the same */
    bool edge = strcmp(mode, "window-edge") == 0;
    void *victim = free_all_but_firsts(o, edge ? 1 : 2);
    if (edge || strcmp(mode, "window") == 0) {
        /* what the purger does before its system calls, here without a purger (purge off),
           so that the second free surely lands in the window */
        mh_page *pg = mh_page_of(victim);
        uint64_t taken[MH_BITMAP_WORDS];
        mh_heap *h = &mh_global.heaps[mh_page_owner(victim)];
        mh_lock_acquire(&h->lock);
        uint32_t pages = mh_page_take_free_os_pages(pg, taken);
        mh_lock_release(&h->lock);
        unsigned first = (unsigned)(((uintptr_t)victim & (MH_SLAB_SIZE - 1)) / MH_OS_PAGE);
        CHECK(edge ? !(pages >> first & 1) && (pages >> (first + 1) & 1) : (pages >> first & 1));
    } else {
        sleep(2);   /* quiet: caches drained, then the free pages of partial slabs purged */
    }
    free(victim);   /* the double free: fatal */
    printf("purge_double_free %s: the second free of %p was accepted\n", mode, victim);
}

int main(int argc, char **argv) {
    CHECK(argc == 2 && (strcmp(argv[1], "window") == 0 || strcmp(argv[1], "window-edge") == 0 ||
                        strcmp(argv[1], "check") == 0));
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        double_free_after_purge(argv[1]);
        _exit(0);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    printf("purge_double_free %s: the second free was fatal\n", argv[1]);
    return 0;
}
