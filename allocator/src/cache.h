/*
 * The front cache's fast path: pop and push one object on the current CPU's cache
 * inside a restartable sequence (rseq). glibc registers every thread's rseq area; we
 * point its rseq_cs at a descriptor of our critical section, and if the kernel
 * preempts, migrates or signals the thread inside it, it resumes at the abort label,
 * which starts over on whatever CPU the thread is on now. No object or count changes
 * hands until the single commit store to the row's count (the stores before it, to the
 * slot above the top and the counters, mean nothing until then, but for a restart's
 * counting its operation twice: the statistics may run a few operations ahead),
 * so the sequence needs no atomic instruction and no lock, and a preempted thread never
 * holds anything.
 *
 * Both functions fail (NULL / false) when the thread is not bound to the CPU it runs on
 * (mh_bound: it moved, or its rseq area is not registered) or the row is empty / full: the
 * caller then takes the slow path in cache.c, which binds the thread again. Only x86-64
 * has the sequences; other targets run without the front cache (mh_cache_setup says so).
 */
#ifndef MH_CACHE_H
#define MH_CACHE_H

#include <stddef.h>
#include <sys/rseq.h>

#include "mh_internal.h"

/* ThreadSanitizer cannot see the sequences' hand-over of an object from one thread to
   another: tell it, so it checks the objects' users and not the cache. */
#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#define mh_tsan_acquire(p) __tsan_acquire(p)
#define mh_tsan_release(p) __tsan_release(p)
#else
#define mh_tsan_acquire(p) ((void)(p))
#define mh_tsan_release(p) ((void)(p))
#endif

/* The thread's binding: the front cache of the CPU it last bound to (mh_cache_bind, in
   a slow path) and that CPU's number; cpu is MH_CPU_UNBOUND, which is neither a CPU
   number nor what an unregistered area holds (-1, -2), before the first binding and
   while one is written. Static TLS: a new thread starts unbound without allocating. */
#define MH_CPU_UNBOUND 0x7fffffffu
typedef struct mh_cache_binding {
    mh_cpu_cache *cache;
    uint32_t cpu;
    uint32_t owner_tag;                /* the tag of cpu's heap in page-class entries: cpu,
                                          or MH_OWNER_TAG_NONE without remote bins */
} mh_cache_binding;
MH_INTERNAL extern MH_TLS mh_cache_binding mh_bound;

/* MH_PORTABLE_ONLY builds what other targets get (no front cache) on x86-64 too, so that
   a test keeps that branch compiling (alloc.sys.stress.portable). */
#if defined(__x86_64__) && !defined(MH_PORTABLE_ONLY)
#define MH_HAVE_RSEQ_CACHE 1

static inline struct rseq *mh_rseq_area(void) {
    return (struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
}

/* Every sequence starts the same way: point glibc's rseq area at this sequence's
   descriptor (version 0, flags 0, start, length, abort; in its own section) and read
   the CPU number into row. It ends with label 2 after the commit; the abort handler,
   out of line, is preceded by the signature glibc registered (RSEQ_SIG), encoded as an
   instruction as librseq does, and starts the sequence over. */
#define MH_RSEQ_START                                                                     \
    ".pushsection __rseq_cs, \"aw\"\n\t"                                                  \
    ".balign 32\n"                                                                        \
    "3:\n\t"                                                                              \
    ".long 0, 0\n\t"                                                                      \
    ".quad 1f, 2f - 1f, 4f\n\t"                                                           \
    ".popsection\n"                                                                       \
    "0:\n\t"                                                                              \
    "leaq 3b(%%rip), %[row]\n\t"                                                          \
    "movq %[row], %%fs:%c[cs_field](%[rs])\n"                                             \
    "1:\n\t"                                                                              \
    "movl %%fs:%c[cpu_field](%[rs]), %k[row]\n\t"

/* The bulk sequences and the binding compute the row in the CPU's cache from the CPU
   number, and leave for `out` if the area is not registered (BEGIN) or the thread does
   not run on CPU on_cpu (BEGIN_ON_CPU). */
#define MH_RSEQ_ROW_OF_CPU                                                                \
    "shlq %[stride_shift], %[row]\n\t"                                                    \
    "addq %[caches], %[row]\n\t"                                                          \
    "addq %[row_off], %[row]\n\t"
#define MH_RSEQ_BEGIN(out)                                                                \
    MH_RSEQ_START                                                                         \
    "cmpl %[ncpus], %k[row]\n\t"                                                          \
    "jae " out "\n\t"                                                                     \
    MH_RSEQ_ROW_OF_CPU
#define MH_RSEQ_BEGIN_ON_CPU(out)                                                         \
    MH_RSEQ_START                                                                         \
    "cmpl %k[on_cpu], %k[row]\n\t"                                                        \
    "jne " out "\n\t"                                                                     \
    MH_RSEQ_ROW_OF_CPU

/* The single-object sequences take the row from the thread's binding (mh_bound) and only
   compare the CPU number with it: their loads then wait for one load of the binding,
   not for the chain of the rseq area's offset, the CPU number and the arithmetic on it.
   They leave for `fail` when the thread is not bound to the CPU it runs on. */
#define MH_RSEQ_BEGIN_BOUND                                                               \
    MH_RSEQ_START                                                                         \
    "cmpl %%fs:%c[bound_cpu](%[bound]), %k[row]\n\t"                                      \
    "jne %l[fail]\n\t"                                                                    \
    "movq %%fs:%c[bound_cache](%[bound]), %[row]\n\t"                                     \
    "addq %[row_off], %[row]\n\t"

#define MH_RSEQ_ABORT_HANDLER                                                             \
    ".pushsection __rseq_failure, \"ax\"\n\t"                                             \
    ".byte 0x0f, 0xb9, 0x3d\n\t"                                                          \
    ".long 0x53053053\n"                                                                  \
    "4:\n\t"                                                                              \
    "jmp 0b\n\t"
#define MH_RSEQ_END                                                                       \
    "2:\n\t"                                                                              \
    MH_RSEQ_ABORT_HANDLER                                                                 \
    ".popsection\n"
/* The bulk sequences leave for 5 instead, which returns "none moved" (k = 0) after the
   sequence, out of line. Not an asm goto with a C label that returns 0: on that path
   GCC 12 used the register of the output k as it was, and a refill whose thread had
   moved sent a surplus of about 2^60 objects back to the heap (alloc.sys.ubsan.stress,
   once the refill's push could fail). */
#define MH_RSEQ_END_NONE_MOVED                                                            \
    "2:\n\t"                                                                              \
    MH_RSEQ_ABORT_HANDLER                                                                 \
    "5:\n\t"                                                                              \
    "xorl %k[k], %k[k]\n\t"                                                               \
    "jmp 2b\n\t"                                                                          \
    ".popsection\n"

/* rs: the rseq area's offset from the thread pointer (addressed through %fs, which
   saves loading the thread pointer); caches: CPU 0's cache, CPU n's is n strides on;
   row_off: the row's offset in a cache (mh_cache_row_of); in the row, count at 0, cap
   at 4, the slots from slot0, and below0 the word before them (so that slot[count - 1]
   is below0 + 8 * count, never an object when count is 0). */
#define MH_RSEQ_COMMON_OPERANDS(off)                                                      \
    [rs] "r"(mh_global.rseq_offset), [cs_field] "i"(offsetof(struct rseq, rseq_cs)),      \
    [cpu_field] "i"(offsetof(struct rseq, cpu_id)), [row_off] "r"(off),                   \
    [slot0] "i"(offsetof(mh_cache_row, slot)), [below0] "i"(offsetof(mh_cache_row, below_slot0))
#define MH_RSEQ_OPERANDS(off)                                                             \
    MH_RSEQ_COMMON_OPERANDS(off), [caches] "m"(mh_global.caches),                         \
    [ncpus] "m"(mh_global.ncpus), [stride_shift] "i"(MH_CACHE_STRIDE_SHIFT)
#define MH_RSEQ_BOUND_OPERANDS(off)                                                       \
    MH_RSEQ_COMMON_OPERANDS(off), MH_BINDING_OPERANDS
/* bound: the binding's offset from the thread pointer, in a register: GCC 12 drops the
   `fail` label of an asm goto with a TLS memory operand, and the slow path with it. */
#define MH_BINDING_OPERANDS                                                               \
    [bound] "r"((uintptr_t)&mh_bound - (uintptr_t)__builtin_thread_pointer()),            \
    [bound_cpu] "i"(offsetof(mh_cache_binding, cpu)),                                     \
    [bound_cache] "i"(offsetof(mh_cache_binding, cache))

/* The top object of the row at row_off (a class row) on this CPU, or NULL. An asm goto
   with an output: its callers take the slow path on NULL and use the value on the
   object path only (the bulk sequences' note says what GCC 12 did with a merged one). */
static inline void *mh_cache_pop(size_t row_off) {
    void *obj;
    uintptr_t row, tmp;
    __asm__ volatile goto(MH_RSEQ_BEGIN_BOUND
                 "movl (%[row]), %k[tmp]\n\t"
                 "subl $1, %k[tmp]\n\t"
                 "jc %l[fail]\n\t"                        /* the row was empty */
                 "movq %c[slot0](%[row], %q[tmp], 8), %[obj]\n\t"
                 "addq $1, %c[counter](%[row])\n\t"
                 "movl %k[tmp], (%[row])\n"                /* commit */
                 MH_RSEQ_END
                 : [obj] "=&r"(obj), [row] "=&r"(row), [tmp] "=&r"(tmp)
                 : MH_RSEQ_BOUND_OPERANDS(row_off), [counter] "i"(offsetof(mh_cache_row, allocs))
                 : "memory", "cc"
                 : fail);
    /* A cached object is never NULL: callers testing the result need no second test. */
    if (obj == NULL) __builtin_unreachable();
    mh_tsan_acquire(obj);
    return obj;
fail:
    return NULL;
}

/* The push after the row's address is in [row]: onto its top unless the row is full
   (ROOM, which leaves the count in tmp) or obj is already its top (a double free in
   succession, which the slow path reports). The top's slot is usually in the line of the
   slot the push writes; comparing with it needs no store in malloc, as a last-pushed hint
   in the row's first line did (one store fewer in each fast path). */
#define MH_PUSH_ROOM                                                                      \
    "movl (%[row]), %k[tmp]\n\t"                                                          \
    "cmpl 4(%[row]), %k[tmp]\n\t"                                                         \
    "jae %l[fail]\n\t"
#define MH_PUSH_ONTO_TOP                                                                  \
    "cmpq %[obj], %c[below0](%[row], %q[tmp], 8)\n\t"   /* already on top */               \
    "je %l[fail]\n\t"                                                                     \
    "movq %[obj], %c[slot0](%[row], %q[tmp], 8)\n\t"                                      \
    "addl $1, %k[tmp]\n\t"                                                                \
    "addq $1, %c[counter](%[row])\n\t"                                                    \
    "movl %k[tmp], (%[row])\n"                /* commit */

/* The push's whole sequence, the row at row_off (in a register) moved first by `choose`
   and obj checked after the room test by `check` (asm text, "" for none, which may use
   the register chk; their own operands follow obj, each after a comma); leaves for the
   label `fail` of the function it is in, which declares row, tmp and chk. */
#define MH_PUSH_SEQUENCE(choose, check, row_off, obj, ...)                                \
    __asm__ volatile goto(MH_RSEQ_BEGIN_BOUND choose MH_PUSH_ROOM check MH_PUSH_ONTO_TOP   \
                          MH_RSEQ_END                                                     \
                          : [row] "=&r"(row), [tmp] "=&r"(tmp), [chk] "=&r"(chk)          \
                          : MH_RSEQ_BOUND_OPERANDS(row_off), [obj] "r"(obj),              \
                            [counter] "i"(offsetof(mh_cache_row, frees)) __VA_ARGS__      \
                          : "memory", "cc"                                                \
                          : fail)

/* Puts obj (a freed object) on top of the row at row_off on this CPU; false when the
   row is full or obj is already its top. */
static inline bool mh_cache_push(size_t row_off, void *obj) {
    uintptr_t row, tmp, chk;
    mh_tsan_release(obj);
    MH_PUSH_SEQUENCE("", "", row_off, obj);
    return true;
fail:
    return false;
}

/* A free's push of obj, whose page-class entry is entry (of a page with objects: its
   class bits are not 0): onto its class row when its owner is the heap of the CPU the
   thread is bound to (its tag is the binding's), else onto the class's remote row, if
   obj is the start of a slot by the check that row holds (mh_cache_row; a row not yet
   readied holds zeros, and its slow path readies it). The check is free's pointer check
   (mh_is_object_start1) on constants in the line the push loads anyway, read after the
   row's capacity: a capacity above 0 was raised (a locked compare-and-swap) after the
   copy was written, and x86 keeps loads in order, so a push that passes the room test
   sees the whole copy, even while a thread that moved to another CPU readies the row
   (ready_row in cache.c). Read before it, a mask still 0 next to a new limit passed
   every pointer (a review).
   The choice of row is made inside the sequence, against the binding the sequence uses:
   made before it, a signal handler's malloc could rebind the thread in between and send
   another heap's object to a class row, whose flush takes every object for its CPU's
   heap's (release_batch). A branch, not a conditional move: the cmov put the compare on
   the way to the row's address, which every later load of the push waits for (1-thread
   churn 163 -> 157 Mops/s, 15 runs; level with the branch, which a program predicts
   when most of its frees are local, or most remote). */
static inline bool mh_cache_push_freed(uint32_t entry, void *obj) {
    uintptr_t row, tmp, chk;
    mh_tsan_release(obj);
    MH_PUSH_SEQUENCE("cmpl %%fs:%c[bound_tag](%[bound]), %k[tag]\n\t"
                     "je 6f\n\t"
                     "addq %[remote], %[row]\n"
                     "6:\n\t",
                     "movq %c[unit_mask](%[row]), %[chk]\n\t"
                     "andq %[obj], %[chk]\n\t"
                     "imulq %c[divisibility](%[row]), %[chk]\n\t"
                     "cmpq %c[limit](%[row]), %[chk]\n\t"
                     "jae %l[fail]\n\t",
                     mh_page_entry_row(entry), obj,
                     , [tag] "r"(mh_page_entry_owner_tag(entry)), [remote] "i"(MH_REMOTE_ROWS),
                     [bound_tag] "i"(offsetof(mh_cache_binding, owner_tag)),
                     [unit_mask] "i"(offsetof(mh_cache_row, check_unit_mask)),
                     [divisibility] "i"(offsetof(mh_cache_row, check_divisibility)),
                     [limit] "i"(offsetof(mh_cache_row, check_limit)));
    return true;
fail:
    return false;
}

/* Binds the thread to the cache of the CPU it runs on; false without a registered rseq
   area. One sequence, so that a signal handler's malloc finds the old binding, none or
   the new one, never one CPU's number with another's cache: the signal aborts the
   sequence, which starts over after the handler. (Argued, not tested: no test can make
   a signal land between two of these stores often enough to tell.) */
static inline bool mh_cache_bind(void) {
    uintptr_t row, cpu;
    __asm__ volatile goto(MH_RSEQ_BEGIN("%l[fail]")
                 "movl %[unbound], %%fs:%c[bound_cpu](%[bound])\n\t"
                 "movq %[row], %%fs:%c[bound_cache](%[bound])\n\t"
                 "movl %%fs:%c[cpu_field](%[rs]), %k[cpu]\n\t"
                 "movl %k[cpu], %k[row]\n\t"
                 "orl %k[tag_or], %k[row]\n\t"
                 "movl %k[row], %%fs:%c[bound_tag](%[bound])\n\t"
                 "movl %k[cpu], %%fs:%c[bound_cpu](%[bound])\n"   /* commit */
                 MH_RSEQ_END
                 : [row] "=&r"(row), [cpu] "=&r"(cpu)
                 : MH_RSEQ_OPERANDS((size_t)0), MH_BINDING_OPERANDS, [unbound] "i"(MH_CPU_UNBOUND),
                   [bound_tag] "i"(offsetof(mh_cache_binding, owner_tag)),
                   /* CPU numbers are below MH_OWNER_TAG_NONE, all ones below its top bit */
                   [tag_or] "r"(mh_global.remote_bins ? 0u : MH_OWNER_TAG_NONE)
                 : "memory", "cc"
                 : fail);
    return true;
fail:
    return false;
}

/* The slow paths move objects in bulk, one sequence per batch, on CPU on_cpu only (the
   one whose rows they looked at: a thread that moved since moves nothing, and writes
   no row of its new CPU's, which may never have been readied): up to n of them from the
   top of the row at row_off into out[] (pop), or from in[] onto it (push); both return
   how many moved. The copy is
   one `rep movsq` (the ABI keeps the direction flag clear): a preemption inside it
   restarts the whole sequence like one anywhere else before the commit, and it moved a
   refill's 512 pointers faster than a loop of loads and stores (threadtest 1 thread
   174 -> 188 Mops/s). */
static inline size_t mh_cache_pop_many(size_t row_off, void **out, size_t n, unsigned on_cpu) {
    uintptr_t row, count, k, di, si, cx;
    __asm__ volatile(MH_RSEQ_BEGIN_ON_CPU("5f")
                 "movl (%[row]), %k[count]\n\t"
                 "movq %[n], %[k]\n\t"
                 "cmpq %[count], %[k]\n\t"
                 "cmovaq %[count], %[k]\n\t"
                 "subq %[k], %[count]\n\t"
                 "leaq %c[slot0](%[row], %[count], 8), %%rsi\n\t"
                 "movq %[out], %%rdi\n\t"
                 "movq %[k], %%rcx\n\t"
                 "rep movsq\n\t"
                 "movl %k[count], (%[row])\n"   /* commit */
                 MH_RSEQ_END_NONE_MOVED
                 : [row] "=&r"(row), [count] "=&r"(count), [k] "=&r"(k), "=&D"(di), "=&S"(si),
                   "=&c"(cx)
                 : MH_RSEQ_OPERANDS(row_off), [out] "r"(out), [n] "r"(n), [on_cpu] "r"(on_cpu)
                 : "memory", "cc");
    for (size_t j = 0; j < k; j++) mh_tsan_acquire(out[j]);
    return k;
}

static inline size_t mh_cache_push_many(size_t row_off, void *const *in, size_t n, unsigned on_cpu) {
    uintptr_t row, count, k, di, si, cx;
    for (size_t j = 0; j < n; j++) mh_tsan_release(in[j]);
    __asm__ volatile(MH_RSEQ_BEGIN_ON_CPU("5f")
                 "movl (%[row]), %k[count]\n\t"
                 "movl 4(%[row]), %k[k]\n\t"
                 "subq %[count], %[k]\n\t"
                 "cmpq %[n], %[k]\n\t"
                 "cmovaq %[n], %[k]\n\t"
                 "leaq %c[slot0](%[row], %[count], 8), %%rdi\n\t"
                 "movq %[in], %%rsi\n\t"
                 "movq %[k], %%rcx\n\t"
                 "rep movsq\n\t"
                 "addq %[k], %[count]\n\t"
                 "movl %k[count], (%[row])\n"   /* commit */
                 MH_RSEQ_END_NONE_MOVED
                 : [row] "=&r"(row), [count] "=&r"(count), [k] "=&r"(k), "=&D"(di), "=&S"(si),
                   "=&c"(cx)
                 : MH_RSEQ_OPERANDS(row_off), [in] "r"(in), [n] "r"(n), [on_cpu] "r"(on_cpu)
                 : "memory", "cc");
    return k;
}

#else
#define MH_HAVE_RSEQ_CACHE 0
static inline bool mh_cache_bind(void) { return false; }
static inline void *mh_cache_pop(size_t row_off) { (void)row_off; return NULL; }
static inline bool mh_cache_push(size_t row_off, void *obj) {
    (void)row_off, (void)obj;
    return false;
}
static inline bool mh_cache_push_freed(uint32_t entry, void *obj) {
    (void)entry, (void)obj;
    return false;
}
static inline size_t mh_cache_pop_many(size_t row_off, void **out, size_t n, unsigned on_cpu) {
    (void)row_off, (void)out, (void)n, (void)on_cpu;
    return 0;
}
static inline size_t mh_cache_push_many(size_t row_off, void *const *in, size_t n, unsigned on_cpu) {
    (void)row_off, (void)in, (void)n, (void)on_cpu;
    return 0;
}
#endif

/* ---- what the malloc family calls ----------------------------------------------------- */

/* With MULTIHEAP_CHECK=1, word 1 of an object holds mh_global.free_mark while the object
   sits in a front cache or stash (every class is at least 16 bytes): free marks it, and
   a refill marks what it takes from the pages (heap.c). Any free of it finds the mark. Off by default: reading the object on free costs a cache miss
   whenever another core wrote it last, which is every remote free. */
static inline uint64_t *mh_free_mark_word(void *p) {
    return (uint64_t *)p + 1;
}

/* A small object of the class at row row_off from the front cache (the slow path
   refills it). */
static inline void *mh_cache_malloc(size_t row_off) {
    void *p = mh_cache_pop(row_off);
    if (MH_UNLIKELY(!p)) p = mh_cache_alloc_slow(mh_class_of_row(row_off));
    if (MH_UNLIKELY(mh_global.check) && p) *mh_free_mark_word(p) = 0;
    return p;
}

/*
 * A small free through the cache. The checks that a free pointer is one multiheap
 * handed out (an object page, the start of a slot) are made here, because an object
 * that entered the cache unchecked would later be handed out; a second free in
 * succession (the object on top of the row) is caught by the push, any
 * second free by the mark (check mode), and the heap checks every object that goes back
 * to its page.
 */
static inline void mh_cache_free(void *p) {
    uint32_t entry = mh_page_entry(p);
    unsigned class_plus1 = mh_page_entry_class_plus1(entry);
    if (MH_UNLIKELY(!mh_is_object_start1(p, class_plus1))) {
        mh_small_free(p);   /* validates under the owner's lock and reports the misuse */
        return;
    }
    if (MH_UNLIKELY(mh_global.check) && !mh_cache_free_check(p, class_plus1 - 1)) return;
    if (MH_UNLIKELY(!mh_global.remote_batch) &&
        mh_page_owner(p) != (unsigned)mh_current_cpu()) {
        mh_small_free(p);
        return;
    }
    if (MH_UNLIKELY(!mh_cache_push_freed(entry, p))) mh_cache_free_slow(p, class_plus1 - 1);
}

#endif /* MH_CACHE_H */
