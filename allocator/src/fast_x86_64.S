/*
 * malloc and free's fast paths on x86-64: a pop from, or a push onto, the row of the
 * object's class in the front cache of the CPU the thread runs on (cache.h has the rows
 * and the C sequences the slow paths use). Anything else jumps to C with the argument
 * untouched: mh_malloc_general (malloc.c) or mh_free_general.
 *
 * Why assembly: both sequences sit inside ONE restartable-sequence range, under one
 * descriptor (mh_fast_cs), so that a thread can leave glibc's rseq area pointing at it
 * between calls instead of storing the pointer at the start of every operation. When
 * the kernel finds the thread on another CPU than before, with its instruction pointer
 * outside the range, it sets rseq_cs to NULL (kernels before 6.19 do so at every
 * preemption and signal too); an interruption inside the range aborts it. So
 *
 *     rseq_cs == mh_fast_cs  =>  the thread has not moved since it stored it.
 *
 * Only mh_cache_bind (cache.h) stores it, as the commit of a sequence that writes the
 * thread's binding (mh_bound_cache, the cache of the CPU it runs on). Each fast path
 * therefore compares rseq_cs with mh_fast_cs and takes the row from the binding: no
 * store, no CPU number. A move after the compare lands inside the range and aborts; one
 * before it has cleared rseq_cs, and the path goes to C, which binds again. A thread that
 * never bound (its rseq_cs may be one a dead thread left in a reused stack) finds its
 * binding on mh_unbound_cache, whose rows are empty and full at once.
 * A compiler's code could not sit inside such a range: the range needs exactly these
 * instructions in this order, with the argument register kept, and a C function's
 * layout is the compiler's.
 *
 * The layout: malloc's entry (outside the range), then the range (malloc's sequence,
 * free's sequence, their one shared commit), then the exits, the abort handler and
 * free's entry (all outside). The abort handler restarts the whole function from its
 * entry: inside the range %rdi is a malloc's size (at most MH_ASM_SMALL_MAX, checked
 * before it) or a free's pointer (in the small range, far above it).
 *
 * Register use inside the range: %rdi the argument, %rsi the rseq area's offset from
 * %fs, %rcx the binding's offset from %fs and then the count, %rdx the class's row
 * offset and then the row, %rax mh_fast_cs and then malloc's object.
 */
#include "fast_layout.h"

#if MH_ASM_FAST

        .section .text.mh_fast, "ax", @progbits

        /* Each entry starts a line: where the linker once put malloc's 22 instructions
           across three lines instead of two, the pair loop took 10% longer. */
        .balign 64
        .globl  mh_malloc
        .type   mh_malloc, @function
        .globl  mh_malloc_local                 /* for calls from inside the library */
        .hidden mh_malloc_local
        .set    mh_malloc_local, mh_malloc
mh_malloc:
        .cfi_startproc
        cmpq    mh_global+MH_G_FAST_SIZE_LIMIT(%rip), %rdi
        jae     mh_malloc_general
        leaq    15(%rdi), %rax
        shrq    $4, %rax
        leaq    mh_size_row_table(%rip), %rdx
        movl    (%rdx,%rax,4), %edx             /* the class's row offset */
        movq    mh_global+MH_G_RSEQ_OFFSET(%rip), %rsi
        movq    mh_bound_cache@gottpoff(%rip), %rcx
        leaq    mh_fast_cs(%rip), %rax
.Lrange_start:
        cmpq    %rax, %fs:MH_RSEQ_CS_FIELD(%rsi)
        jne     mh_malloc_general
        addq    %fs:(%rcx), %rdx                /* the row in the bound CPU's cache */
        movl    (%rdx), %ecx
        subl    $1, %ecx
        jc      mh_malloc_general               /* the row was empty */
        movq    MH_ROW_SLOT0(%rdx,%rcx,8), %rax
        addq    $1, MH_ROW_ALLOCS(%rdx)
        jmp     .Lcommit
        .cfi_endproc
        .size   mh_malloc, . - mh_malloc

        /* A symbol of its own, so that profiles do not count free's push as malloc's. */
        .type   mh_push_and_commit, @function
mh_push_and_commit:
        .cfi_startproc
.Lfree_sequence:
        cmpq    %rax, %fs:MH_RSEQ_CS_FIELD(%rsi)
        jne     mh_free_general
        addq    %fs:(%rcx), %rdx
        movl    (%rdx), %ecx
        cmpl    4(%rdx), %ecx
        jae     mh_free_general                 /* the row is full */
        cmpq    %rdi, MH_ROW_SLOT0-8(%rdx,%rcx,8)
        je      mh_free_general                 /* already on top: a double free */
        movq    %rdi, MH_ROW_SLOT0(%rdx,%rcx,8)
        addl    $1, %ecx
        addq    $1, MH_ROW_FREES(%rdx)
.Lcommit:
        movl    %ecx, (%rdx)
.Lrange_end:
        ret

        .byte   0x0f, 0xb9, 0x3d                /* ud1 with the signature as its operand */
        .long   MH_RSEQ_SIGNATURE
.Labort:
        cmpq    $MH_ASM_SMALL_MAX, %rdi
        jbe     mh_malloc
        jmp     mh_free
        .cfi_endproc
        .size   mh_push_and_commit, . - mh_push_and_commit

        .balign 64
        .globl  mh_free
        .type   mh_free, @function
        .globl  mh_free_local
        .hidden mh_free_local
        .set    mh_free_local, mh_free
mh_free:
        .cfi_startproc
        /* The bound first: it is 0 until small_base is set (malloc.c, init.c). */
        movq    mh_global+MH_G_FAST_RANGE_SIZE(%rip), %rdx
        movq    %rdi, %rax
        subq    mh_global+MH_G_SMALL_BASE(%rip), %rax
        cmpq    %rdx, %rax
        jae     mh_free_general                 /* NULL, large, or before initialisation */
        shrq    $MH_ASM_PAGE_SHIFT, %rax
        movq    mh_global+MH_G_PAGE_CLASS(%rip), %rdx
        movl    (%rdx,%rax,4), %edx             /* the page's entry: row offset | class + 1 */
        movl    %edx, %eax
        andl    $MH_ASM_PAGE_ENTRY_CLASS, %eax
        shll    $MH_CHECK_SHIFT, %eax
        leaq    mh_class_checks(%rip), %rcx
        addq    %rax, %rcx
        movq    MH_CHECK_UNIT_MASK(%rcx), %rax  /* is p a slot's start? mh_is_object_start1 */
        andq    %rdi, %rax
        imulq   MH_CHECK_DIVISIBILITY(%rcx), %rax
        cmpq    MH_CHECK_LIMIT(%rcx), %rax
        jae     mh_free_general
        andl    $~MH_ASM_PAGE_ENTRY_CLASS, %edx
        movq    mh_global+MH_G_RSEQ_OFFSET(%rip), %rsi
        movq    mh_bound_cache@gottpoff(%rip), %rcx
        leaq    mh_fast_cs(%rip), %rax
        jmp     .Lfree_sequence
        .cfi_endproc
        .size   mh_free, . - mh_free

        .pushsection __rseq_cs, "aw"
        .balign 32
        .globl  mh_fast_cs
        .hidden mh_fast_cs
        .type   mh_fast_cs, @object
mh_fast_cs:                                     /* version 0, flags 0, start, length, abort */
        .long   0, 0
        .quad   .Lrange_start, .Lrange_end - .Lrange_start, .Labort
        .size   mh_fast_cs, 32
        .popsection

#if MH_OVERRIDE_MALLOC
        .globl  malloc
        .type   malloc, @function
        .set    malloc, mh_malloc
        .globl  free
        .type   free, @function
        .set    free, mh_free
#endif

#endif /* MH_ASM_FAST */

        .section .note.GNU-stack, "", @progbits
