/* Memory management: physical pages (mm/phys.c), kernel heap (mm/heap.c), page tables and address
 * spaces with demand paging (mm/vm.c). */
#pragma once
#include "param.h"
#include "types.h"

static inline void *phys_to_virt(uint64_t pa) { return (void *)(pa + DIRECT_MAP); }
static inline uint64_t virt_to_phys(const void *va)
{
	uint64_t v = (uint64_t)va;
	return v >= KERNEL_VMA ? v - KERNEL_VMA : v - DIRECT_MAP;
}

/* Physical memory: free extents, first fit. */
void phys_add_range(uint64_t start, uint64_t end);
void phys_reserve_range(uint64_t start, uint64_t end);
uint64_t phys_alloc(size_t pages); /* 0 when out of memory */
void phys_free(uint64_t pa, size_t pages);
uint64_t phys_total_bytes(void);
uint64_t phys_free_bytes(void);
uint64_t phys_max_address(void);
/* Starts tracking which pages were ever handed out (so fresh ones need no clearing). */
void phys_track_used_pages(void);

/* Whole zeroed pages in the direct map; NULL when out of memory. */
void *page_alloc(size_t pages);
void page_free(void *va, size_t pages);

/* Kernel heap. */
void *kmalloc(size_t size);
void *kzalloc(size_t size);
void kfree(void *p);

/* Page table entry bits. */
#define PTE_P (1UL << 0)
#define PTE_W (1UL << 1)
#define PTE_U (1UL << 2)
#define PTE_PWT (1UL << 3)
#define PTE_PCD (1UL << 4)
#define PTE_PS (1UL << 7)
#define PTE_G (1UL << 8)
#define PTE_KEPT (1UL << 9) /* software: a page kept while its region is PROT_NONE */
#define PTE_BORROWED (1UL << 10) /* software: the page belongs to someone else (the ramfs archive): never freed */
#define PTE_NX (1UL << 63)
#define PTE_ADDR 0x000ffffffffff000UL

/* Protection and mapping flags as mmap takes them. */
#define PROT_READ 1
#define PROT_WRITE 2
#define PROT_EXEC 4

/* A mapped region of an address space. */
struct vma {
	uint64_t start, end; /* page aligned, end exclusive */
	int prot;
	const char *name; /* for /proc/self/maps and crash reports: "[heap]", "[stack]", a path or NULL */
	struct vma *next; /* sorted by start */
};

/* An address space: a page table (user half private, kernel half shared) and its regions. Never a
 * global, so that exec, spawn and fork can have several. */
struct address_space {
	uint64_t *pml4;
	struct vma *vmas;
	uint64_t brk_start, brk;
	uint64_t mmap_hint; /* next top-down search start */
};

void vm_init(void);
void *vm_map_mmio(uint64_t phys, size_t size);
struct address_space *as_create(void);
void as_activate(struct address_space *as);
/* Adds a region (must not overlap one). Pages are allocated on first touch. */
int as_add_vma(struct address_space *as, uint64_t start, uint64_t end, int prot, const char *name);
/* Removes [start,end) from regions and frees its pages. */
void as_unmap(struct address_space *as, uint64_t start, uint64_t end);
int as_protect(struct address_space *as, uint64_t start, uint64_t end, int prot);
struct vma *as_find_vma(struct address_space *as, uint64_t addr);
/* A free range of len bytes below the mmap top; 0 when none. */
uint64_t as_find_free(struct address_space *as, uint64_t len);
/* Makes the page at addr present (demand paging); 0 or -EFAULT. */
int as_populate(struct address_space *as, uint64_t addr, bool write);
/* The kernel's (direct map) view of the user page holding va, allocated if needed whatever the
 * region's protection: for the program loader. NULL outside any region or when out of memory. */
void *as_kernel_view(struct address_space *as, uint64_t va);
/* The physical address of the app's byte at va, for a device to write into: the page is made present
 * and private first (one page-table walk when it already is). 0 when the app may not write there. */
uint64_t as_user_write_pa(struct address_space *as, uint64_t va);
/* Maps the page at pa (not ours: it is never freed, and copied before it is made writable) at va,
 * inside an existing region, with the region's rights. 0 or -ENOMEM. */
int as_map_borrowed(struct address_space *as, uint64_t va, uint64_t pa);
/* Drops the pages of [start,end) but keeps the regions: the next touch sees zeros (MADV_DONTNEED). */
void as_discard(struct address_space *as, uint64_t start, uint64_t end);
/* Resolves a fault at addr: 0 when handled, -EFAULT when the access is not allowed. */
int as_handle_fault(struct address_space *as, uint64_t addr, uint64_t error_code);
extern struct address_space *current_as;

/* Copies between kernel and user memory; -EFAULT on a bad user address. */
long copy_from_user(void *dst, uint64_t user_src, size_t n);
long copy_to_user(uint64_t user_dst, const void *src, size_t n);
long clear_user(uint64_t user_dst, size_t n);
/* Copies a NUL-terminated string; its length, -ENAMETOOLONG or -EFAULT. */
long strncpy_from_user(char *dst, uint64_t user_src, size_t max);
