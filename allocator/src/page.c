/*
 * One 8 KiB object page: its slots, tracked by the bitmap in the page's metadata,
 * and the intrusive doubly linked page lists. The caller holds the owner heap's lock.
 */
#include "mh_internal.h"

void mh_page_publish_class(mh_page *pg, bool object_page) {
    mh_global.page_class[((uintptr_t)pg - (uintptr_t)mh_global.small_base) >> MH_PAGE_SHIFT] =
        object_page ? (uint8_t)(pg->cls + 1) : 0;
}

void mh_page_format(mh_page *pg, unsigned heap, unsigned cls) {
    unsigned cap = mh_class_objects(cls);
    __atomic_store_n(&pg->heap, heap, __ATOMIC_RELAXED);
    pg->cls = (uint8_t)cls;
    pg->capacity = (uint16_t)cap;
    pg->used = 0;
    pg->hint = 0;
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
    return mh_page_start(pg) + (size_t)slot * mh_class_size(pg->cls);
}

/* Up to n free slots, lowest first, into out[]; how many. Takes whole bitmap words at
   a time: a refill empties a page in one pass. */
size_t mh_page_alloc_slots(mh_page *pg, void **out, size_t n) {
    char *start = mh_page_start(pg);
    size_t size = mh_class_size(pg->cls), got = 0;
    unsigned w = pg->hint;
    while (got < n && pg->used + got < pg->capacity) {
        uint64_t free_bits = ~pg->bitmap[w], taken = 0;
        for (; free_bits && got < n; free_bits &= free_bits - 1) {
            unsigned bit = (unsigned)__builtin_ctzll(free_bits);
            taken |= (uint64_t)1 << bit;
            out[got++] = start + (size_t)(w * 64 + bit) * size;
        }
        pg->bitmap[w] |= taken;
        if (pg->bitmap[w] == ~(uint64_t)0) w++;
    }
    pg->hint = (uint8_t)(w < MH_BITMAP_WORDS ? w : MH_BITMAP_WORDS - 1);
    pg->used = (uint16_t)(pg->used + got);
    return got;
}

/* The first free slot whose address is a multiple of align (<= MH_PAGE_SIZE), or NULL.
   The page start is MH_PAGE_SIZE aligned, so slot i qualifies iff i * size % align == 0. */
void *mh_page_alloc_aligned_slot(mh_page *pg, size_t align) {
    size_t size = mh_class_size(pg->cls);
    size_t size_align = size & -size;
    unsigned step = size_align >= align ? 1 : (unsigned)(align / size_align);
    for (unsigned slot = 0; slot < pg->capacity; slot += step)
        if (!(pg->bitmap[slot / 64] & ((uint64_t)1 << (slot % 64)))) return take_slot(pg, slot);
    return NULL;
}

void mh_page_free_slot(mh_page *pg, void *p) {
    if (!mh_is_object_start(p, pg->cls))
        mh_fatal("free of an interior pointer (not the start of an object)", p);
    unsigned slot = mh_slot_of(p, pg->cls);
    uint64_t bit = (uint64_t)1 << (slot % 64);
    if (!(pg->bitmap[slot / 64] & bit)) mh_fatal("double free (object is not allocated)", p);
    pg->bitmap[slot / 64] &= ~bit;
    pg->used--;
    if (slot / 64 < pg->hint) pg->hint = (uint8_t)(slot / 64);
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
