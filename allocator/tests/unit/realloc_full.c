/* A realloc that shrinks succeeds when the small range is full (as glibc's, which fails
   only to make a block bigger): under an address-space limit, 100-byte objects fill the
   range, then realloc(1 MiB block, 100) and realloc(9000-byte object, 100) succeed, with
   their contents and errno kept. Both returned NULL with ENOMEM before. */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <string.h>
#include <sys/resource.h>

#include "mh_internal.h"
#include "mhunit.h"

#define LIMIT_KIB 262144

static void shrink_when_full(void) {
    pin_to_this_cpu();   /* one heap and one cache fill up, and serve the reallocs */
    char *big = malloc(1 << 20), *mid = malloc(9000);
    CHECK(big && mid);
    fill(big, 1 << 20, 7);
    fill(mid, 9000, 8);
    void *list = NULL;
    size_t n = 0;
    for (void *p; (p = malloc(100)) != NULL; n++) {
        *(void **)p = list;
        list = p;
    }
    CHECK(errno == ENOMEM);
    errno = 0;
    char *b = realloc(big, 100);
    int big_errno = errno;
    char *m = realloc(mid, 100);
    int mid_errno = errno;   /* before printf, whose buffer may find no room */
    printf("realloc_full: %zu objects of 100 bytes filled the %zu MiB range; "
           "realloc(1 MiB, 100) %s errno %d, realloc(9000, 100) %s errno %d\n",
           n, mh_global.small_size >> 20, b ? "kept" : "NULL", big_errno,
           m ? "kept" : "NULL", mid_errno);
    CHECK(b && m && mid_errno == 0 && big_errno == 0);
    CHECK(filled(b, 100, 7) && filled(m, 100, 8));
    CHECK(malloc_usable_size(b) >= 100 && malloc_usable_size(m) >= 100);
    memset(b, 1, malloc_usable_size(b));
    memset(m, 1, malloc_usable_size(m));
    /* growing a 100-byte object still fails, and keeps it */
    errno = 0;
    CHECK(realloc(list, 1000) == NULL && errno == ENOMEM);
    free(b);
    free(m);
    while (list) {
        void *next = *(void **)list;
        free(list);
        list = next;
    }
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "limited") == 0) {
        shrink_when_full();
        return 0;
    }
    /* the range is reserved at the first allocation, in the limited process */
    rerun_limited(argv, LIMIT_KIB);
}
