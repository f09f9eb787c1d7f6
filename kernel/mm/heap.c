/* Kernel heap: power-of-two size classes from 16 to 2048 bytes carved out of pages, whole pages above
 * that. Each block starts with a 16-byte header holding its class (or page count), so kfree needs no
 * size. Not thread-safe yet: the kernel runs one thread at a time. */
#include "lib.h"
#include "mm/mm.h"

#define HEADER 16
#define MIN_SHIFT 4
#define MAX_SHIFT 11
#define BIG_BLOCK 0xff

struct header {
	uint64_t size_class; /* shift, or BIG_BLOCK */
	uint64_t pages;      /* for big blocks */
};

struct free_block {
	struct free_block *next;
};

static struct free_block *free_lists[MAX_SHIFT + 1];

static int size_shift(size_t total)
{
	int shift = MIN_SHIFT;
	while (((size_t)1 << shift) < total)
		shift++;
	return shift;
}

static bool refill(int shift)
{
	uint8_t *page = page_alloc(1);
	if (!page)
		return false;
	size_t block = (size_t)1 << shift;
	for (size_t off = 0; off + block <= PAGE_SIZE; off += block) {
		struct free_block *b = (struct free_block *)(page + off);
		b->next = free_lists[shift];
		free_lists[shift] = b;
	}
	return true;
}

void *kmalloc(size_t size)
{
	size_t total = size + HEADER;
	if (total < size)
		return NULL;
	struct header *h;
	if (total > ((size_t)1 << MAX_SHIFT)) {
		size_t pages = ALIGN_UP(total, PAGE_SIZE) / PAGE_SIZE;
		uint64_t pa = phys_alloc(pages);
		if (!pa)
			return NULL;
		h = phys_to_virt(pa);
		h->size_class = BIG_BLOCK;
		h->pages = pages;
	} else {
		int shift = size_shift(total);
		if (!free_lists[shift] && !refill(shift))
			return NULL;
		h = (struct header *)free_lists[shift];
		free_lists[shift] = free_lists[shift]->next;
		h->size_class = shift;
	}
	return (uint8_t *)h + HEADER;
}

void *kzalloc(size_t size)
{
	void *p = kmalloc(size);
	if (p)
		memset(p, 0, size);
	return p;
}

void kfree(void *p)
{
	if (!p)
		return;
	struct header *h = (struct header *)((uint8_t *)p - HEADER);
	if (h->size_class == BIG_BLOCK) {
		phys_free(virt_to_phys(h), h->pages);
		return;
	}
	if (h->size_class < MIN_SHIFT || h->size_class > MAX_SHIFT)
		panic("kfree(%p): not a heap block", p);
	int shift = (int)h->size_class;
	struct free_block *b = (struct free_block *)h;
	b->next = free_lists[shift];
	free_lists[shift] = b;
}
