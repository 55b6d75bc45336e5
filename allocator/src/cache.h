/*
 * The front cache's fast path: pop and push one object on the current CPU's cache
 * inside a restartable sequence (rseq). glibc registers every thread's rseq area; we
 * point its rseq_cs at a descriptor of our critical section, and if the kernel
 * preempts, migrates or signals the thread inside it, it resumes at the abort label,
 * which starts over on whatever CPU the thread is on now. Nothing is visible to other
 * code until the single commit store to bin.count, so the sequence needs no atomic
 * instruction and no lock, and a preempted thread never holds anything.
 *
 * Both functions fail (NULL / false) when the thread's rseq area is not registered
 * (cpu_id < 0), the CPU's cache is not mapped yet, or the bin is empty / full: the
 * caller then takes the slow path in cache.c. Only x86-64 has the sequences; other
 * targets run without the front cache (mh_cache_setup says so).
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

#if defined(__x86_64__)
#define MH_HAVE_RSEQ_CACHE 1

static inline struct rseq *mh_rseq_area(void) {
    return (struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
}

#define MH_SLOT_OFFSET(cls) \
    (offsetof(mh_cpu_cache, slot) + (size_t)(cls) * MH_CACHE_SLOTS * sizeof(void *))

/* The descriptor (version 0, flags 0, start, length, abort) lives in its own section;
   the abort label is preceded by the signature glibc registered (RSEQ_SIG), encoded
   as an instruction as librseq does, so disassemblers stay in step. */
#define MH_RSEQ_CS_DESCRIPTOR                                                              \
    ".pushsection __rseq_cs, \"aw\"\n\t"                                                  \
    ".balign 32\n"                                                                        \
    "3:\n\t"                                                                              \
    ".long 0, 0\n\t"                                                                      \
    ".quad 1f, 2f - 1f, 4f\n\t"                                                           \
    ".popsection\n"                                                                       \
    "0:\n\t"                                                                              \
    "leaq 3b(%%rip), %[tmp]\n\t"                                                          \
    "movq %[tmp], %c[cs_field](%[rs])\n"                                                  \
    "1:\n\t"                                                                              \
    "movl %c[cpu_field](%[rs]), %k[cpu]\n\t"                                              \
    "cmpl %[ncpus], %k[cpu]\n\t"                                                          \
    "jae 5f\n\t"                                                                          \
    "movq (%[caches], %q[cpu], 8), %[cache]\n\t"                                          \
    "testq %[cache], %[cache]\n\t"                                                        \
    "jz 5f\n\t"

#define MH_RSEQ_ABORT_HANDLER                                                             \
    ".byte 0x0f, 0xb9, 0x3d\n\t"                                                          \
    ".long 0x53053053\n"                                                                  \
    "4:\n\t"                                                                              \
    "jmp 0b\n"

#define MH_RSEQ_OPERANDS                                                                  \
    [rs] "r"(mh_rseq_area()), [caches] "r"(mh_global.caches), [ncpus] "m"(mh_global.ncpus), \
    [cs_field] "i"(offsetof(struct rseq, rseq_cs)),                                      \
    [cpu_field] "i"(offsetof(struct rseq, cpu_id))

/* The top object of class cls on this CPU, or NULL. */
static inline void *mh_cache_pop(unsigned cls) {
    void *obj;
    uintptr_t cpu, cache, tmp;
    __asm__ volatile(MH_RSEQ_CS_DESCRIPTOR
                     "movl (%[cache], %[bin]), %k[tmp]\n\t"
                     "testl %k[tmp], %k[tmp]\n\t"
                     "jz 5f\n\t"
                     "subl $1, %k[tmp]\n\t"
                     "leaq (%[cache], %q[tmp], 8), %[obj]\n\t"
                     "movq (%[obj], %[slots]), %[obj]\n\t"
                     "addq $1, %c[counter](%[cache])\n\t"
                     "movl %k[tmp], (%[cache], %[bin])\n"   /* commit */
                     "2:\n\t"
                     "jmp 6f\n\t"
                     MH_RSEQ_ABORT_HANDLER
                     "5:\n\t"
                     "xorl %k[obj], %k[obj]\n"
                     "6:\n"
                     : [obj] "=&r"(obj), [cpu] "=&r"(cpu), [cache] "=&r"(cache), [tmp] "=&r"(tmp)
                     : MH_RSEQ_OPERANDS, [bin] "r"((uintptr_t)cls * sizeof(mh_cache_bin)),
                       [slots] "r"(MH_SLOT_OFFSET(cls)),
                       [counter] "i"(offsetof(mh_cpu_cache, allocs))
                     : "memory", "cc");
    if (obj) mh_tsan_acquire(obj);
    return obj;
}

/* Puts obj on top of class cls on this CPU and counts it in the 64-bit counter at
   offset counter of the cache; false when that bin is full. */
static inline bool mh_cache_push(unsigned cls, void *obj, size_t counter) {
    uintptr_t cpu, cache, tmp, ok;
    mh_tsan_release(obj);
    __asm__ volatile(MH_RSEQ_CS_DESCRIPTOR
                     "movl (%[cache], %[bin]), %k[tmp]\n\t"
                     "cmpl 4(%[cache], %[bin]), %k[tmp]\n\t"
                     "jae 5f\n\t"
                     "leaq (%[cache], %q[tmp], 8), %[ok]\n\t"
                     "movq %[obj], (%[ok], %[slots])\n\t"
                     "addl $1, %k[tmp]\n\t"
                     "addq $1, (%[cache], %[counter])\n\t"
                     "movl %k[tmp], (%[cache], %[bin])\n"   /* commit */
                     "2:\n\t"
                     "movl $1, %k[ok]\n\t"
                     "jmp 6f\n\t"
                     MH_RSEQ_ABORT_HANDLER
                     "5:\n\t"
                     "xorl %k[ok], %k[ok]\n"
                     "6:\n"
                     : [ok] "=&r"(ok), [cpu] "=&r"(cpu), [cache] "=&r"(cache), [tmp] "=&r"(tmp)
                     : MH_RSEQ_OPERANDS, [bin] "r"((uintptr_t)cls * sizeof(mh_cache_bin)),
                       [slots] "r"(MH_SLOT_OFFSET(cls)), [obj] "r"(obj), [counter] "r"(counter)
                     : "memory", "cc");
    return ok;
}

_Static_assert(offsetof(mh_cache_bin, cap) == 4, "the push sequence reads cap at +4");
#else
#define MH_HAVE_RSEQ_CACHE 0
static inline void *mh_cache_pop(unsigned cls) { (void)cls; return NULL; }
static inline bool mh_cache_push(unsigned cls, void *obj, size_t counter) {
    (void)cls, (void)obj, (void)counter;
    return false;
}
#endif

/* ---- what the malloc family calls ----------------------------------------------------- */

/* Word 1 of an object holds mh_global.free_mark while the object sits in a front cache
   (every class is at least 16 bytes): a second free of it finds the mark. */
static inline uint64_t *mh_free_mark_word(void *p) {
    return (uint64_t *)p + 1;
}

static inline void *mh_cache_malloc(unsigned cls) {
    void *p = mh_cache_pop(cls);
    if (MH_UNLIKELY(!p)) p = mh_cache_alloc_slow(cls);
    if (MH_LIKELY(p != NULL)) *mh_free_mark_word(p) = 0;
    return p;
}

/*
 * A small free through the cache. The checks that a free pointer is one multiheap
 * handed out (committed page, formatted page, start of a slot, not already free) are
 * made here, because an object that enters the cache unchecked would later be handed
 * out twice; the heap repeats them when the cache flushes.
 */
static inline void mh_cache_free(void *p) {
    mh_page *pg = mh_committed_page(p);
    unsigned cls = pg->cls;
    if (MH_UNLIKELY(!mh_is_slot_start(p, cls) || pg->capacity == 0)) {
        mh_small_free(p);   /* validates under the owner's lock and reports the misuse */
        return;
    }
    uint64_t *mark = mh_free_mark_word(p);
    if (MH_UNLIKELY(*mark == mh_global.free_mark)) {
        mh_cache_free_marked(p);
        return;
    }
    *mark = mh_global.free_mark;
    if (MH_UNLIKELY(!mh_global.remote_batch) &&
        __atomic_load_n(&pg->heap, __ATOMIC_RELAXED) != (unsigned)mh_current_cpu()) {
        mh_small_free(p);
        return;
    }
    if (MH_UNLIKELY(!mh_cache_push(cls, p, offsetof(mh_cpu_cache, frees))))
        mh_cache_free_slow(p, pg);
}

#endif /* MH_CACHE_H */
