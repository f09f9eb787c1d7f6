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
#define PTE_BORROWED (1UL << 10) /* software: the page belongs to someone else (the ramfs archive, a tmpfs file): never freed */
#define PTE_SHARED (1UL << 11)   /* software, with PTE_BORROWED: a tmpfs file's own page in a shared region, written in place (never copied) */
#define PTE_NX (1UL << 63)
#define PTE_ADDR 0x000ffffffffff000UL

/* Protection and mapping flags as mmap takes them. */
#define PROT_READ 1
#define PROT_WRITE 2
#define PROT_EXEC 4

struct ramfs_node;

/* A mapped region of an address space: anonymous memory, or a window on a file. */
struct vma {
	uint64_t start, end; /* page aligned, end exclusive */
	int prot;
	int flags;                /* VMA_* */
	const char *name;         /* anonymous regions, for /proc/self/maps and crash reports: "[heap]", "[stack]" or NULL */
	struct ramfs_node *file;  /* file regions: the file (the region holds a reference), NULL for anonymous memory */
	uint64_t offset;          /* file regions: the file offset at start (page aligned) */
	struct vma *next;         /* sorted by start */
};

/* Region flags. A shared file region shows the file's bytes: a tmpfs file's own pages, so stores through
 * it are the file's contents (and read-only files' bytes are borrowed where page-aligned). It may be
 * made writable only with VMA_MAYWRITE (mapped through a descriptor open for writing, and not
 * write-sealed then), Linux's VM_MAYWRITE. A private file region copies a page before it can be
 * written. A region of kernel pages (the vDSO) is mapped whole when made and has no way to bring a
 * dropped page back, so madvise leaves its pages alone. */
#define VMA_SHARED 1
#define VMA_KERNEL_PAGES 2
#define VMA_MAYWRITE 4

/* An address space: a page table (user half private, kernel half shared) and its regions. Never a
 * global, so that exec, spawn and fork can have several. */
struct address_space {
	uint64_t *pml4;
	struct vma *vmas;
	uint64_t brk_start, brk;
	uint64_t mmap_hint; /* next top-down search start */
	struct address_space *next_space; /* every address space, for changes to a file all its mappings see */
};

void vm_init(void);
void *vm_map_mmio(uint64_t phys, size_t size);
struct address_space *as_create(void);
void as_activate(struct address_space *as);
/* Adds an anonymous region (must not overlap one). Pages are allocated on first touch. 0 or -ENOMEM,
 * -EEXIST. */
int as_add_vma(struct address_space *as, uint64_t start, uint64_t end, int prot, const char *name);
/* Adds a region showing file from offset on (page aligned; must not overlap one). Pages are brought in
 * on first touch: a shared region of a tmpfs file maps the file's own pages; read-only ones borrow the
 * file's page where its bytes are page-aligned in memory (a tmpfs file's always are), the others get
 * a copy, zero past the end of the file; pages wholly past the end fault (SIGBUS). flags: VMA_*. */
int as_add_file_vma(struct address_space *as, uint64_t start, uint64_t end, int prot, int flags,
		    struct ramfs_node *file, uint64_t offset);
/* Removes [start,end) from regions and frees its pages. */
void as_unmap(struct address_space *as, uint64_t start, uint64_t end);
/* Changes the rights of [start,end), which must be wholly mapped; 0, -ENOMEM, or -EACCES for write
 * access to a shared file region without VMA_MAYWRITE. */
int as_protect(struct address_space *as, uint64_t start, uint64_t end, int prot);
struct vma *as_find_vma(struct address_space *as, uint64_t addr);
/* Whether no region overlaps [start,end). */
bool as_range_free(struct address_space *as, uint64_t start, uint64_t end);
/* Whether regions cover all of [start,end). */
bool as_range_mapped(struct address_space *as, uint64_t start, uint64_t end);
/* A free range of len bytes below the mmap top; 0 when none. */
uint64_t as_find_free(struct address_space *as, uint64_t len);
/* Makes the page at addr present (demand paging); 0, -EFAULT (no access), -ENXIO (past the end of a
 * mapped file) or -ENOMEM. */
int as_populate(struct address_space *as, uint64_t addr, bool write);
/* Makes every page of [start,end) present now, as a touch would (for the program loader and
 * MAP_POPULATE); 0, or the error of the first page that cannot be (the rest are left to fault). */
int as_prefault(struct address_space *as, uint64_t start, uint64_t end);
/* The kernel's (direct map) view of the user page holding va, allocated if needed whatever the
 * region's protection, and the region's own (a file page is copied, except in a shared region of a
 * tmpfs file, whose pages are the file's): for the program loader.
 * NULL outside any region, past the end of a mapped file, or when out of memory. */
void *as_kernel_view(struct address_space *as, uint64_t va);
/* The physical address of the app's byte at va, for a device to write into: the page is made present
 * and private first (one page-table walk when it already is). 0 when the app may not write there. */
uint64_t as_user_write_pa(struct address_space *as, uint64_t va);
/* Maps the page at pa (not ours: it is never freed, and copied before it is made writable) at va,
 * inside an existing region, with the region's rights. 0 or -ENOMEM. */
int as_map_borrowed(struct address_space *as, uint64_t va, uint64_t pa);
/* Drops the pages of [start,end) but keeps the regions: the next touch sees zeros, or the file's
 * bytes again in a file region (MADV_DONTNEED). */
void as_discard(struct address_space *as, uint64_t start, uint64_t end);
/* Moves the pages and regions of [old, old + len) to [new, new + len), which must be free; the old
 * range must lie within one region. 0 or -ENOMEM. */
int as_move(struct address_space *as, uint64_t old, uint64_t len, uint64_t new);
/* Adds [start,end) as a continuation of region v (same rights and kind; a file region goes on in the
 * file). The range must be free. 0 or -ENOMEM. */
int as_extend_like(struct address_space *as, const struct vma *v, uint64_t start, uint64_t end);
/* Whether the page at va is in memory, as mincore tells it: a page of the region, or of its file. */
bool as_page_resident(struct address_space *as, uint64_t va);
/* Resolves a fault at addr: 0 when handled, -EFAULT when the access is not allowed (SIGSEGV), -ENXIO
 * when the page lies past the end of a mapped file (SIGBUS). */
int as_handle_fault(struct address_space *as, uint64_t addr, uint64_t error_code);
extern struct address_space *current_as;

/* Changes to a file that its mappings must see, in every address space. The pages of file at page
 * indexes [first, end) (end ~0UL: to the end of the file) are taken out of the page tables: those of the file itself (shared regions, borrowed by read-only
 * private ones) always, private copies too when even_private (truncation: a page past the new end of
 * the file faults with SIGBUS even where it was copied, as on Linux; a punched hole leaves copies).
 * Called before the file frees those pages. */
void vm_file_unmap_pages(struct ramfs_node *file, uint64_t first, uint64_t end, bool even_private);
/* Whether some shared region of file may be made writable (VMA_MAYWRITE): F_SEAL_WRITE is refused then. */
bool vm_file_writably_mapped(struct ramfs_node *file);

/* Copies between kernel and user memory; -EFAULT on a bad user address. While the running thread's
 * kernel_buffers is set (sched/thread.h), kernel addresses pass as user ones: the kernel then feeds
 * its own buffers to the file operations, which take user addresses (sendfile, copy_file_range). */
long copy_from_user(void *dst, uint64_t user_src, size_t n);
long copy_to_user(uint64_t user_dst, const void *src, size_t n);
long clear_user(uint64_t user_dst, size_t n);
/* Atomically replaces the aligned user word at uaddr by new if it holds old (lock cmpxchg); the value
 * found (old on success), or -EFAULT. */
long user_cmpxchg_u32(uint64_t uaddr, uint32_t old, uint32_t new);
/* Copies a NUL-terminated string; its length, -ENAMETOOLONG or -EFAULT. */
long strncpy_from_user(char *dst, uint64_t user_src, size_t max);
