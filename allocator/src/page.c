/*
 * One object unit (an 8 KiB page, a 64 KiB slab or a 128 KiB big slab): its slots,
 * tracked by the bitmap in its metadata, and the intrusive doubly linked page lists. The
 * caller holds the owner heap's lock.
 */
#include <limits.h>
#include <string.h>

#include "cache.h"
#include "mh_internal.h"

/* pg's entries in the page-class map: its class and owner (an object page), or 0. */
static void write_entries(mh_page *pg, uint32_t entry) {
    size_t first = (size_t)(mh_page_start(pg) - mh_global.small_base) >> MH_PAGE_SHIFT;
    for (unsigned i = 0; i < mh_class_pages(pg->cls); i++)
        __atomic_store_n(&mh_global.page_class[first + i], entry, __ATOMIC_RELAXED);
}

/* The tag free compares with its binding's owner_tag (cache.h). */
static uint32_t owner_tag(unsigned heap) {
    return mh_global.remote_bins && heap < MH_OWNER_TAG_NONE ? heap : MH_OWNER_TAG_NONE;
}

void mh_page_publish_class(mh_page *pg, bool object_page) {
    write_entries(pg, object_page ? mh_page_entry_of(pg->cls, owner_tag(pg->heap)) : 0);
}

void mh_page_set_owner(mh_page *pg, unsigned heap) {
    __atomic_store_n(&pg->heap, heap, __ATOMIC_RELAXED);
    size_t first = (size_t)(mh_page_start(pg) - mh_global.small_base) >> MH_PAGE_SHIFT;
    for (unsigned i = 0; i < mh_class_pages(pg->cls); i++)
        __atomic_store_n(&mh_global.page_owner[first + i], (uint16_t)heap, __ATOMIC_RELAXED);
    /* A stolen page keeps its class: its entries name the new owner. */
    if (mh_global.page_class[first]) mh_page_publish_class(pg, true);
}

void mh_page_format(mh_page *pg, unsigned heap, unsigned cls) {
    unsigned cap = mh_class_objects(cls);
    pg->cls = (uint8_t)cls;
    mh_page_set_owner(pg, heap);
    pg->capacity = (uint16_t)cap;
    pg->used = 0;
    pg->hint = 0;
    pg->released = 0;
    pg->releasing = 0;
    mh_page_publish_class(pg, true);
    /* Slots past the capacity read as allocated, so searches need no bound. */
    for (unsigned w = 0; w < MH_BITMAP_WORDS; w++) {
        unsigned first = w * 64;
        if (first + 64 <= cap) pg->bitmap[w] = 0;
        else if (first >= cap) pg->bitmap[w] = ~(uint64_t)0;
        else pg->bitmap[w] = ~(uint64_t)0 << (cap - first);
    }
}

static void *take_slot(mh_page *pg, unsigned slot) {
    pg->bitmap[slot / 64] |= (uint64_t)1 << (slot % 64);
    pg->used++;
    pg->released = 0;
    return mh_page_start(pg) + (size_t)slot * mh_class_size(pg->cls);
}

/* Up to n free slots, lowest first, into out[]; how many. Takes whole bitmap words at
   a time: a refill empties a page in one pass. A word with all 64 slots free (a fresh
   or emptied page) is 64 addresses one size apart, with no bit to look for. Inlined
   into each caller below, so that the one without a mark has no test of it (with the
   test, 1-thread threadtest ran 1.5% slower in one set of 11 interleaved runs). */
static inline __attribute__((always_inline)) size_t alloc_slots(mh_page *pg, void **out,
                                                                size_t n, uint64_t mark) {
    char *start = mh_page_start(pg);
    size_t size = mh_class_size(pg->cls), got = 0;
    unsigned w = pg->hint;
    while (got < n && pg->used + got < pg->capacity) {
        size_t word_start = got;
        uint64_t free_bits = ~pg->bitmap[w], taken = 0;
        if (free_bits == ~(uint64_t)0 && n - got >= 64) {
            /* Two a step, which GCC makes 16-byte stores of a vector's two addresses: the
               one-by-one loop held 45% of this function's samples in threadtest. */
            char *p = start + (size_t)w * 64 * size;
            for (unsigned k = 0; k < 64; k += 2, p += 2 * size) {
                out[got + k] = p;
                out[got + k + 1] = p + size;
            }
            got += 64;
            free_bits = 0;
            taken = ~(uint64_t)0;
        }
        for (; free_bits && got < n; free_bits &= free_bits - 1) {
            unsigned bit = (unsigned)__builtin_ctzll(free_bits);
            taken |= (uint64_t)1 << bit;
            out[got++] = start + (size_t)(w * 64 + bit) * size;
        }
        /* Check mode: marked before their bits say they are taken, so that a stray free
           that finds a bit set finds the mark too (cache.c, mh_cache_free_check): marked
           after the heap's unlock, an object could be freed into a cache in between and
           then pushed a second time by the refill. x86 keeps stores in order. */
        if (mark) {
            for (size_t i = word_start; i < got; i++) *mh_free_mark_word(out[i]) = mark;
            __atomic_signal_fence(__ATOMIC_RELEASE);
        }
        pg->bitmap[w] |= taken;
        if (pg->bitmap[w] == ~(uint64_t)0) w++;
    }
    pg->hint = (uint8_t)(w < MH_BITMAP_WORDS ? w : MH_BITMAP_WORDS - 1);
    pg->used = (uint16_t)(pg->used + got);
    pg->released = 0;
    return got;
}

size_t mh_page_alloc_slots(mh_page *pg, void **out, size_t n) {
    return alloc_slots(pg, out, n, 0);
}

size_t mh_page_alloc_marked_slots(mh_page *pg, void **out, size_t n, uint64_t mark) {
    return alloc_slots(pg, out, n, mark);
}

/* The first free slot whose address is a multiple of align (<= MH_PAGE_SIZE), or NULL.
   The unit start is MH_PAGE_SIZE aligned, so slot i qualifies iff i * size % align == 0. */
void *mh_page_alloc_aligned_slot(mh_page *pg, size_t align) {
    size_t size = mh_class_size(pg->cls);
    size_t size_align = size & -size;
    unsigned step = size_align >= align ? 1 : (unsigned)(align / size_align);
    for (unsigned slot = 0; slot < pg->capacity; slot += step)
        if (!(pg->bitmap[slot / 64] & ((uint64_t)1 << (slot % 64)))) return take_slot(pg, slot);
    return NULL;
}

/* Objects objs[i..) after p = objs[i] (slot `slot`, bit `bit` of its bitmap word) that
   follow it one size apart, upwards or downwards, within its word and below the
   capacity (the bits at and above it read as allocated): how many, p included, and
   their bits in *bits. A flush of objects freed in the order they were allocated is
   such runs: a front cache hands a refill's objects out from the highest address down. */
static size_t neighbour_run(const mh_page *pg, void *const *objs, size_t i, size_t n,
                            size_t size, unsigned slot, uint64_t *bits) {
    uintptr_t p = (uintptr_t)objs[i];
    unsigned bit = slot % 64;
    size_t up = pg->capacity - slot < 64 - bit ? pg->capacity - slot : 64 - bit, k = 1;
    /* One bound a step: with two (the word's and the batch's) each step of a scan took 7
       instructions, and the downward scan held 65% of mh_page_free_slots' samples in
       threadtest. */
    if (up > n - i) up = n - i;
    for (uintptr_t want = p + size; k < up && (uintptr_t)objs[i + k] == want; want += size) k++;
    if (k == 1) {
        size_t down = bit + 1 < n - i ? bit + 1 : n - i;
        for (uintptr_t want = p - size; k < down && (uintptr_t)objs[i + k] == want; want -= size) k++;
    }
    uint64_t mask = k == 64 ? ~(uint64_t)0 : ((uint64_t)1 << k) - 1;
    bool downwards = k > 1 && (uintptr_t)objs[i + 1] < p;
    *bits = mask << (downwards ? bit + 1 - k : bit);
    return k;
}

/* Objects that overlap a 4 KiB page a purge is giving back were free already: their
   slots only look taken while it runs (a slot is taken when any page it overlaps goes,
   so the page it starts in may be one that stays). Rare (the purge's window), so every
   object is looked at. */
static void check_not_releasing(const mh_page *pg, void *const *objs, size_t n) {
    uintptr_t start = (uintptr_t)mh_page_start(pg), unit = mh_class_unit(pg->cls);
    size_t size = mh_class_size(pg->cls);
    for (size_t i = 0; i < n && (uintptr_t)objs[i] - start < unit; i++) {
        size_t off = (uintptr_t)objs[i] - start;
        unsigned first = (unsigned)(off / MH_OS_PAGE), last = (unsigned)((off + size - 1) / MH_OS_PAGE);
        uint32_t overlapped = (uint32_t)((2ull << last) - (1ull << first));
        if (pg->releasing & overlapped) mh_fatal("double free (object is not allocated)", objs[i]);
    }
}

/* The bits of a run of objects in one bitmap word are cleared with one store: cleared
   one by one, each object's check waited for the previous object's store to the same
   word (threadtest spent a quarter of its time there). Neighbours one size apart are
   checked and cleared with one mask, without a start check and a slot computation
   each. */
size_t mh_page_free_slots(mh_page *pg, void *const *objs, size_t n) {
    uintptr_t start = (uintptr_t)mh_page_start(pg);
    size_t unit = mh_class_unit(pg->cls), size = mh_class_size(pg->cls);
    unsigned cls = pg->cls, w = UINT_MAX, lowest = pg->hint;
    uint64_t clear = 0;   /* bits of word w freed so far, not yet stored */
    size_t i = 0;
    if (MH_UNLIKELY(pg->releasing)) check_not_releasing(pg, objs, n);
    while (i < n && (uintptr_t)objs[i] - start < unit) {
        if (!mh_is_object_start1(objs[i], cls + 1))
            mh_fatal("free of an interior pointer (not the start of an object)", objs[i]);
        unsigned slot = mh_slot_of(objs[i], cls);
        if (slot / 64 != w) {
            if (clear) pg->bitmap[w] &= ~clear;
            w = slot / 64;
            clear = 0;
            if (w < lowest) lowest = w;
        }
        uint64_t bits;
        size_t k = neighbour_run(pg, objs, i, n, size, slot, &bits);
        uint64_t freed_already = (~pg->bitmap[w] | clear) & bits;
        for (size_t j = 0; freed_already && j < k; j++)
            if (freed_already >> (mh_slot_of(objs[i + j], cls) % 64) & 1)
                mh_fatal("double free (object is not allocated)", objs[i + j]);
        clear |= bits;
        i += k;
    }
    if (clear) pg->bitmap[w] &= ~clear;
    pg->used = (uint16_t)(pg->used - i);
    pg->released = 0;
    pg->hint = (uint8_t)lowest;
    return i;
}

uint32_t mh_page_take_free_os_pages(mh_page *pg, uint64_t taken[MH_BITMAP_WORDS]) {
    size_t size = mh_class_size(pg->cls), end = (size_t)pg->capacity * size;
    unsigned os_pages = (unsigned)(mh_class_unit(pg->cls) / MH_OS_PAGE);
    uint32_t mask = 0;
    memset(taken, 0, MH_BITMAP_WORDS * sizeof *taken);
    if (pg->released) return 0;
    pg->released = 1;   /* until a slot changes: no allocation or free sets it again */
    for (unsigned j = 0; j + 1 < os_pages && (size_t)j * MH_OS_PAGE < end; j++) {
        size_t lo = (size_t)j * MH_OS_PAGE, hi = lo + MH_OS_PAGE < end ? lo + MH_OS_PAGE : end;
        unsigned first = (unsigned)(lo / size), last = (unsigned)((hi - 1) / size);
        bool all_free = true;
        for (unsigned i = first; i <= last && all_free; i++)
            all_free = !(pg->bitmap[i / 64] >> (i % 64) & 1);
        if (!all_free) continue;
        mask |= 1u << j;
        for (unsigned i = first; i <= last; i++) taken[i / 64] |= (uint64_t)1 << (i % 64);
    }
    unsigned n = 0;
    for (unsigned w = 0; w < MH_BITMAP_WORDS; w++) {
        pg->bitmap[w] |= taken[w];
        n += (unsigned)__builtin_popcountll(taken[w]);
    }
    pg->used = (uint16_t)(pg->used + n);
    pg->releasing = mask;
    return mask;
}

void mh_page_return_slots(mh_page *pg, const uint64_t taken[MH_BITMAP_WORDS]) {
    unsigned n = 0;
    for (unsigned w = 0; w < MH_BITMAP_WORDS; w++) {
        pg->bitmap[w] &= ~taken[w];
        n += (unsigned)__builtin_popcountll(taken[w]);
        if (taken[w] && w < pg->hint) pg->hint = (uint8_t)w;
    }
    pg->used = (uint16_t)(pg->used - n);
    pg->releasing = 0;
}

void mh_list_push(mh_page_list *l, mh_page *pg) {
    pg->prev = NULL;
    pg->next = l->head;
    if (l->head) l->head->prev = pg;
    else l->tail = pg;
    l->head = pg;
    MH_STAT_ADD(l->count, 1);
}

void mh_list_remove(mh_page_list *l, mh_page *pg) {
    if (pg->prev) pg->prev->next = pg->next;
    else l->head = pg->next;
    if (pg->next) pg->next->prev = pg->prev;
    else l->tail = pg->prev;
    pg->next = pg->prev = NULL;
    MH_STAT_ADD(l->count, -1);
}
