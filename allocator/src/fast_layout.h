/*
 * The numbers the assembly fast paths (fast_x86_64.S) need, as plain constants that
 * both the assembler and C can read. cache.c asserts each against the C definition it
 * copies, so a change of layout fails to compile instead of corrupting memory.
 */
#ifndef MH_FAST_LAYOUT_H
#define MH_FAST_LAYOUT_H

/* malloc and free are assembly on x86-64 builds without ThreadSanitizer (which must see
   every hand-over of an object between threads: its builds take the C paths). */
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
#define MH_ASM_FAST 1
#else
#define MH_ASM_FAST 0
#endif

/* Offsets in mh_global (mh_global_state). */
#define MH_G_SMALL_BASE      72
#define MH_G_PAGE_CLASS      104
#define MH_G_RSEQ_OFFSET     136
#define MH_G_FAST_SIZE_LIMIT 152
#define MH_G_FAST_RANGE_SIZE 160

/* A row of a CPU's cache (mh_cache_row): count at 0, cap at 4. */
#define MH_ROW_ALLOCS 8
#define MH_ROW_FREES  16
#define MH_ROW_SLOT0  64

/* A page-class map entry: class + 1 in the low bits, the row's offset above them; an
   entry of mh_class_checks: divisibility, limit, unit mask, 32 bytes apart. */
#define MH_ASM_PAGE_SHIFT        13
#define MH_ASM_PAGE_ENTRY_CLASS  63
#define MH_CHECK_SHIFT           5
#define MH_CHECK_DIVISIBILITY    0
#define MH_CHECK_LIMIT           8
#define MH_CHECK_UNIT_MASK       16

/* The largest small size: what malloc's fast path takes, and below any pointer. */
#define MH_ASM_SMALL_MAX 9344

/* struct rseq's rseq_cs, and the signature glibc registers (RSEQ_SIG on x86). */
#define MH_RSEQ_CS_FIELD 8
#define MH_RSEQ_SIGNATURE 0x53053053

#endif /* MH_FAST_LAYOUT_H */
