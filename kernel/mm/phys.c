/* Physical page allocator: a sorted array of free extents (first fit, coalescing on free) for
 * contiguous runs, and a LIFO list of single free pages threaded through the direct map, so that the
 * page-at-a-time churn of user memory never fragments the extent array. Fed from the boot memory map
 * by kmain; used by page_alloc/kmalloc and the page tables. */
#include "lib.h"
#include "mm/mm.h"

struct extent {
	uint64_t start, end;
};

static struct extent extents[MAX_MEM_EXTENTS];
static size_t extent_count;
static uint64_t total_bytes, free_bytes, max_address;
static uint64_t free_page_list; /* physical address of the first free single page, 0 when empty */
/* One bit per page: set once the page has been handed out. RAM the hypervisor gives us is zero, so a
 * page never handed out needs no clearing, and clearing is costly where kernel code is emulated
 * (kvm_pvm: ~1 ms a page). Memory the loader wrote (kernel, ramfs) is reserved, never handed out. */
static uint8_t *used_bitmap;

static void push_free_page(uint64_t pa)
{
	*(uint64_t *)phys_to_virt(pa) = free_page_list;
	free_page_list = pa;
}

static void insert_extent(size_t at, uint64_t start, uint64_t end)
{
	if (extent_count == MAX_MEM_EXTENTS) { /* keep the pages, one by one */
		for (uint64_t pa = start; pa < end; pa += PAGE_SIZE)
			push_free_page(pa);
		return;
	}
	memmove(&extents[at + 1], &extents[at], (extent_count - at) * sizeof(extents[0]));
	extents[at] = (struct extent){start, end};
	extent_count++;
}

static void remove_extent(size_t at)
{
	memmove(&extents[at], &extents[at + 1], (extent_count - at - 1) * sizeof(extents[0]));
	extent_count--;
}

/* Frees [start,end): merges with neighbours. */
static void free_range(uint64_t start, uint64_t end)
{
	size_t i = 0;
	while (i < extent_count && extents[i].start < start)
		i++;
	bool merge_prev = i > 0 && extents[i - 1].end == start;
	bool merge_next = i < extent_count && extents[i].start == end;
	if (merge_prev && merge_next) {
		extents[i - 1].end = extents[i].end;
		remove_extent(i);
	} else if (merge_prev) {
		extents[i - 1].end = end;
	} else if (merge_next) {
		extents[i].start = start;
	} else {
		insert_extent(i, start, end);
	}
	free_bytes += end - start;
}

void phys_add_range(uint64_t start, uint64_t end)
{
	start = ALIGN_UP(start, PAGE_SIZE);
	end = ALIGN_DOWN(end, PAGE_SIZE);
	if (end <= start)
		return;
	free_range(start, end);
	total_bytes += end - start;
	if (end > max_address)
		max_address = end;
}

void phys_reserve_range(uint64_t start, uint64_t end)
{
	start = ALIGN_DOWN(start, PAGE_SIZE);
	end = ALIGN_UP(end, PAGE_SIZE);
	for (size_t i = 0; i < extent_count; i++) {
		struct extent e = extents[i];
		if (e.end <= start || e.start >= end)
			continue;
		uint64_t cut_start = MAX(e.start, start), cut_end = MIN(e.end, end);
		free_bytes -= cut_end - cut_start;
		total_bytes -= cut_end - cut_start;
		if (e.start < cut_start && e.end > cut_end) {
			extents[i].end = cut_start;
			insert_extent(i + 1, cut_end, e.end);
		} else if (e.start < cut_start) {
			extents[i].end = cut_start;
		} else if (e.end > cut_end) {
			extents[i].start = cut_end;
		} else {
			remove_extent(i);
			i--;
		}
	}
}

static bool take_page(uint64_t pa);

/* Free pages, not yet marked used. */
static uint64_t take_free_pages(size_t pages)
{
	uint64_t bytes = pages * PAGE_SIZE;
	if (pages == 1 && free_page_list) {
		uint64_t pa = free_page_list;
		free_page_list = *(uint64_t *)phys_to_virt(pa);
		free_bytes -= PAGE_SIZE;
		return pa;
	}
	for (size_t i = 0; i < extent_count; i++) {
		if (extents[i].end - extents[i].start < bytes)
			continue;
		uint64_t pa = extents[i].start;
		extents[i].start += bytes;
		if (extents[i].start == extents[i].end)
			remove_extent(i);
		free_bytes -= bytes;
		return pa;
	}
	return 0;
}

uint64_t phys_alloc(size_t pages)
{
	uint64_t pa = take_free_pages(pages);
	for (size_t i = 0; pa && i < pages; i++)
		take_page(pa + i * PAGE_SIZE);
	return pa;
}

void phys_free(uint64_t pa, size_t pages)
{
	if (pages == 1) {
		push_free_page(pa);
		free_bytes += PAGE_SIZE;
		return;
	}
	free_range(pa, pa + pages * PAGE_SIZE);
}

uint64_t phys_total_bytes(void) { return total_bytes; }
uint64_t phys_free_bytes(void) { return free_bytes; }
uint64_t phys_max_address(void) { return max_address; }

void phys_track_used_pages(void)
{
	size_t bytes = ALIGN_UP(max_address / PAGE_SIZE, 8) / 8;
	uint64_t pa = phys_alloc(ALIGN_UP(bytes, PAGE_SIZE) / PAGE_SIZE);
	if (!pa)
		panic("out of memory for the page bitmap");
	used_bitmap = phys_to_virt(pa);
	memset(used_bitmap, 0, bytes);
	for (uint64_t p = pa; p < pa + bytes; p += PAGE_SIZE)
		used_bitmap[p / PAGE_SIZE / 8] |= 1 << (p / PAGE_SIZE % 8);
}

/* Marks the page used; whether it may hold old data. */
static bool take_page(uint64_t pa)
{
	if (!used_bitmap)
		return true;
	uint64_t page = pa / PAGE_SIZE;
	uint8_t bit = 1 << (page % 8);
	bool used = used_bitmap[page / 8] & bit;
	used_bitmap[page / 8] |= bit;
	return used;
}

void *page_alloc(size_t pages)
{
	uint64_t pa = take_free_pages(pages);
	if (!pa)
		return NULL;
	uint8_t *va = phys_to_virt(pa);
	for (size_t i = 0; i < pages; i++)
		if (take_page(pa + i * PAGE_SIZE))
			memset(va + i * PAGE_SIZE, 0, PAGE_SIZE);
	return va;
}

void page_free(void *va, size_t pages) { phys_free(virt_to_phys(va), pages); }
