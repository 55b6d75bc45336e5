/* A preloadable library that crashes the process it is preloaded into: the
 * matrix test's "allocator that crashes". It only fires in the re-executed,
 * preloaded driver (MH_PRELOADED set), as a broken allocator would. */
#include <signal.h>
#include <stdlib.h>

__attribute__((constructor)) static void crash_when_preloaded(void)
{
    if (getenv("MH_PRELOADED")) raise(SIGSEGV);
}
