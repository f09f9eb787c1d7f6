/* Page tables and address spaces. vm_init() replaces the boot page tables with the final kernel half:
 * all RAM in the direct map (2 MiB pages, no execute) and the kernel image with per-section rights
 * (text RX, rodata R, data RW). Address spaces share that kernel half and own their user half, whose
 * pages are allocated on first touch (as_handle_fault): zeros for anonymous regions, the file's bytes for
 * file regions (borrowed from the ramfs when read-only and page-aligned there, copied otherwise; a
 * shared region of a tmpfs file maps the file's own pages, written in place). Regions are a sorted
 * list, split by partial unmaps and protection changes and merged again when neighbours become alike,
 * as Linux shows them in /proc/self/maps. A file that shrinks or loses pages takes them out of every
 * region showing them (vm_file_unmap_pages), in every address space. */
#include "arch/x86_64/cpu.h"
#include "errno.h"
#include "lib.h"
#include "mm/mm.h"
#include "fs/ramfs.h"
#include "fs/tmpfs.h"
#include "sched/sched.h"
#include "sched/thread.h"

struct address_space *current_as;
static struct address_space *all_spaces; /* linked by next_space */
static uint64_t *kernel_pml4;

extern char _kernel_start[], _etext[], _erodata[], _kernel_end[];

#define PML4_INDEX(va) (((va) >> 39) & 511)
#define PDPT_INDEX(va) (((va) >> 30) & 511)
#define PD_INDEX(va) (((va) >> 21) & 511)
#define PT_INDEX(va) (((va) >> 12) & 511)

/* The next-level table under entry, created (with the given rights) when missing; NULL when out of
 * memory. */
static uint64_t *next_table(uint64_t *entry, uint64_t flags, bool create)
{
	if (*entry & PTE_P)
		return phys_to_virt(*entry & PTE_ADDR);
	if (!create)
		return NULL;
	void *table = page_alloc(1);
	if (!table)
		return NULL;
	*entry = virt_to_phys(table) | flags;
	return table;
}

/* The level-1 entry of va, creating tables on the way when asked. */
static uint64_t *pte_of(uint64_t *pml4, uint64_t va, bool create)
{
	uint64_t table_flags = PTE_P | PTE_W | (va < USER_TOP ? PTE_U : 0);
	uint64_t *pdpt = next_table(&pml4[PML4_INDEX(va)], table_flags, create);
	if (!pdpt)
		return NULL;
	uint64_t *pd = next_table(&pdpt[PDPT_INDEX(va)], table_flags, create);
	if (!pd)
		return NULL;
	if (pd[PD_INDEX(va)] & PTE_PS)
		return NULL;
	uint64_t *pt = next_table(&pd[PD_INDEX(va)], table_flags, create);
	if (!pt)
		return NULL;
	return &pt[PT_INDEX(va)];
}

/* The level-1 entry of va without creating tables. When a level is missing, NULL, and *span is the
 * size of the aligned block around va known to have no mappings (so range walks can skip it). */
static uint64_t *pte_lookup(uint64_t *pml4, uint64_t va, uint64_t *span)
{
	uint64_t *table = pml4;
	static const int shifts[] = {39, 30, 21};
	for (int level = 0; level < 3; level++) {
		uint64_t entry = table[(va >> shifts[level]) & 511];
		if (!(entry & PTE_P) || (entry & PTE_PS)) {
			*span = 1UL << shifts[level];
			return NULL;
		}
		table = phys_to_virt(entry & PTE_ADDR);
	}
	*span = PAGE_SIZE;
	return &table[PT_INDEX(va)];
}

/* Calls visit(pte, va, arg) for every non-zero level-1 entry of [start,end) (page aligned), scanning
 * each page table directly and skipping missing tables whole: ranges of megabytes with few pages in
 * them (thread stacks under madvise and mprotect) cost little even where kernel code is emulated.
 * Stops at the first non-zero return of visit and returns it. */
static int walk_ptes(uint64_t *pml4, uint64_t start, uint64_t end, int (*visit)(uint64_t *pte, uint64_t va, void *arg),
		     void *arg)
{
	uint64_t va = start, span;
	while (va < end) {
		uint64_t *pte = pte_lookup(pml4, va, &span);
		if (!pte) {
			va = ALIGN_DOWN(va, span) + span;
			continue;
		}
		uint64_t table_end = MIN(end, ALIGN_DOWN(va, 1UL << 21) + (1UL << 21));
		uint64_t count = (table_end - va) >> PAGE_SHIFT, i = 0;
		for (;;) {
			while (i + 4 <= count && !(pte[i] | pte[i + 1] | pte[i + 2] | pte[i + 3]))
				i += 4;
			while (i < count && !pte[i])
				i++;
			if (i >= count)
				break;
			int r = visit(&pte[i], va + (i << PAGE_SHIFT), arg);
			if (r)
				return r;
			i++;
		}
		va = table_end;
	}
	return 0;
}

static void map_page(uint64_t *pml4, uint64_t va, uint64_t pa, uint64_t flags)
{
	uint64_t *pte = pte_of(pml4, va, true);
	if (!pte)
		panic("out of memory for page tables mapping %lx", va);
	*pte = pa | flags;
}

static void map_direct(uint64_t *pml4, uint64_t end)
{
	uint64_t nx = cpu.nx ? PTE_NX : 0;
	for (uint64_t pa = 0; pa < end; pa += 1UL << 21) {
		uint64_t va = DIRECT_MAP + pa;
		uint64_t *pdpt = next_table(&pml4[PML4_INDEX(va)], PTE_P | PTE_W, true);
		uint64_t *pd = pdpt ? next_table(&pdpt[PDPT_INDEX(va)], PTE_P | PTE_W, true) : NULL;
		if (!pd)
			panic("out of memory building the direct map");
		pd[PD_INDEX(va)] = pa | PTE_P | PTE_W | PTE_PS | PTE_G | nx;
	}
}

static void map_kernel_image(uint64_t *pml4)
{
	uint64_t nx = cpu.nx ? PTE_NX : 0;
	for (uint64_t va = (uint64_t)_kernel_start; va < (uint64_t)_kernel_end; va += PAGE_SIZE) {
		uint64_t flags = PTE_P | PTE_G;
		if (va < (uint64_t)_etext)
			;
		else if (va < ALIGN_UP((uint64_t)_erodata, PAGE_SIZE))
			flags |= nx;
		else
			flags |= PTE_W | nx;
		map_page(pml4, va, va - KERNEL_VMA, flags);
	}
}

void vm_init(void)
{
	kernel_pml4 = page_alloc(1);
	if (!kernel_pml4)
		panic("out of memory for the kernel page table");
	/* The kernel half uses PML4 entries made here only (direct map, image; MMIO lives inside the direct
	 * map's range), so address spaces can copy them once in as_create. */
	map_direct(kernel_pml4, ALIGN_UP(phys_max_address(), 1UL << 21));
	map_kernel_image(kernel_pml4);
	write_cr3(virt_to_phys(kernel_pml4));
}

void *vm_map_mmio(uint64_t phys, size_t size)
{
	uint64_t nx = cpu.nx ? PTE_NX : 0;
	for (uint64_t pa = ALIGN_DOWN(phys, PAGE_SIZE); pa < phys + size; pa += PAGE_SIZE) {
		uint64_t va = DIRECT_MAP + pa;
		uint64_t *pte = pte_of(kernel_pml4, va, true);
		if (!pte)
			return NULL; /* inside a 2 MiB RAM mapping or out of memory */
		*pte = pa | PTE_P | PTE_W | PTE_PCD | PTE_PWT | PTE_G | nx;
		invlpg(va);
	}
	return phys_to_virt(phys);
}

struct address_space *as_create(void)
{
	struct address_space *as = kzalloc(sizeof(*as));
	if (!as)
		return NULL;
	as->pml4 = page_alloc(1);
	if (!as->pml4) {
		kfree(as);
		return NULL;
	}
	memcpy(as->pml4 + 256, kernel_pml4 + 256, 256 * sizeof(uint64_t));
	as->mmap_hint = USER_MMAP_TOP;
	as->next_space = all_spaces;
	all_spaces = as;
	return as;
}

void as_activate(struct address_space *as)
{
	current_as = as;
	write_cr3(virt_to_phys(as->pml4));
}

static uint64_t prot_to_pte(int prot)
{
	uint64_t flags = PTE_P | PTE_U;
	if (prot & PROT_WRITE)
		flags |= PTE_W;
	if (!(prot & PROT_EXEC) && cpu.nx)
		flags |= PTE_NX;
	return flags;
}

/* ---- regions ---- */

struct vma *as_find_vma(struct address_space *as, uint64_t addr)
{
	for (struct vma *v = as->vmas; v && v->start <= addr; v = v->next)
		if (addr < v->end)
			return v;
	return NULL;
}

bool as_range_free(struct address_space *as, uint64_t start, uint64_t end)
{
	for (struct vma *v = as->vmas; v && v->start < end; v = v->next)
		if (v->end > start)
			return false;
	return true;
}

bool as_range_mapped(struct address_space *as, uint64_t start, uint64_t end)
{
	for (uint64_t a = start; a < end;) {
		struct vma *v = as_find_vma(as, a);
		if (!v)
			return false;
		a = v->end;
	}
	return true;
}

/* A region's hold on its file: a reference, and a count of the regions showing it. */
static void hold_file(struct ramfs_node *file)
{
	ramfs_node_get(file);
	file->map_count++;
}

static void free_vma(struct vma *v)
{
	if (v->file) {
		v->file->map_count--;
		ramfs_node_put(v->file);
	}
	kfree(v);
}

/* Whether b continues a seamlessly, so the two can be one region (as Linux merges them). */
static bool continues(const struct vma *a, const struct vma *b)
{
	return a->end == b->start && a->prot == b->prot && a->flags == b->flags && a->name == b->name &&
	       a->file == b->file && (!a->file || b->offset == a->offset + (a->end - a->start));
}

/* Merges each region with the following ones it continues. */
static void merge_regions(struct address_space *as)
{
	for (struct vma *v = as->vmas; v; v = v->next) {
		while (v->next && continues(v, v->next)) {
			struct vma *next = v->next;
			v->end = next->end;
			v->next = next->next;
			free_vma(next);
		}
	}
}

/* Links a copy of desc into the sorted list; the range must be free. */
static int insert_region(struct address_space *as, const struct vma *desc)
{
	struct vma **link = &as->vmas;
	while (*link && (*link)->end <= desc->start)
		link = &(*link)->next;
	if (*link && (*link)->start < desc->end)
		return -EEXIST;
	struct vma *v = kmalloc(sizeof(*v));
	if (!v)
		return -ENOMEM;
	*v = *desc;
	v->next = *link;
	if (v->file)
		hold_file(v->file);
	*link = v;
	merge_regions(as);
	return 0;
}

int as_add_vma(struct address_space *as, uint64_t start, uint64_t end, int prot, const char *name)
{
	return insert_region(as, &(struct vma){.start = start, .end = end, .prot = prot, .name = name});
}

int as_add_file_vma(struct address_space *as, uint64_t start, uint64_t end, int prot, int flags,
		    struct ramfs_node *file, uint64_t offset)
{
	return insert_region(as, &(struct vma){.start = start, .end = end, .prot = prot, .flags = flags,
					       .file = file, .offset = offset});
}

int as_extend_like(struct address_space *as, const struct vma *v, uint64_t start, uint64_t end)
{
	struct vma desc = *v;
	desc.offset = v->file ? v->offset + (start - v->start) : 0;
	desc.start = start;
	desc.end = end;
	return insert_region(as, &desc);
}

static int unmap_one(uint64_t *pte, uint64_t va, void *arg)
{
	if (!(*pte & (PTE_P | PTE_KEPT)))
		return 0;
	if (!(*pte & PTE_BORROWED))
		phys_free(*pte & PTE_ADDR, 1);
	*pte = 0;
	invlpg(va);
	return 0;
}

static void unmap_pages(struct address_space *as, uint64_t start, uint64_t end)
{
	walk_ptes(as->pml4, start, end, unmap_one, NULL);
}

/* Splits the region containing addr so that a region boundary falls at addr. */
static int split_at(struct address_space *as, uint64_t addr)
{
	struct vma *v = as_find_vma(as, addr);
	if (!v || v->start == addr)
		return 0;
	struct vma *tail = kmalloc(sizeof(*tail));
	if (!tail)
		return -ENOMEM;
	*tail = *v;
	tail->start = addr;
	if (tail->file) {
		tail->offset = v->offset + (addr - v->start);
		hold_file(tail->file);
	}
	v->end = addr;
	v->next = tail;
	return 0;
}

/* Takes the regions inside [start,end) out of the list (after splitting at both ends); the pages stay. */
static int remove_regions(struct address_space *as, uint64_t start, uint64_t end)
{
	if (split_at(as, start) || split_at(as, end))
		return -ENOMEM;
	struct vma **link = &as->vmas;
	while (*link) {
		struct vma *v = *link;
		if (v->start >= start && v->end <= end) {
			*link = v->next;
			free_vma(v);
		} else {
			link = &v->next;
		}
	}
	return 0;
}

void as_unmap(struct address_space *as, uint64_t start, uint64_t end)
{
	if (split_at(as, start) || split_at(as, end))
		return;
	/* The pages first: the regions hold their files, and the last hold going frees a file's pages. */
	unmap_pages(as, start, end);
	remove_regions(as, start, end);
}

/* ---- pages ---- */

/* The file offset the page of file region v at va shows. */
static uint64_t file_offset_of(const struct vma *v, uint64_t va) { return v->offset + (va - v->start); }

/* How a page is brought in: for a touch (or MAP_POPULATE), around one (fault-around: only what is
 * there already), or as the region's own copy for the kernel to write (the program loader). */
enum fill_mode { FILL_TOUCH, FILL_AROUND, FILL_PRIVATE };

/* The page of a tmpfs file for the empty entry of va in region v: a shared region maps the file's own
 * page (made for a hole, so that stores reach the file); a read-only private one borrows it where the
 * file has one, unless a private page is asked for; the others copy it (a hole: a zero page). Around a
 * touch a hole stays empty (0 with *error 0), as Linux maps only pages its page cache holds: a sparse
 * file touched here and there keeps its holes. */
static uint64_t fill_tmpfs_page(const struct vma *v, uint64_t va, enum fill_mode mode, int *error)
{
	uint64_t offset = file_offset_of(v, va);
	if (offset >= ALIGN_UP(v->file->size, PAGE_SIZE)) {
		*error = -ENXIO;
		return 0;
	}
	bool shared = v->flags & VMA_SHARED;
	uint8_t *page = tmpfs_page(v->file, offset >> PAGE_SHIFT, shared && mode != FILL_AROUND);
	if (!page && mode == FILL_AROUND) {
		*error = 0;
		return 0;
	}
	if (shared && page)
		return virt_to_phys(page) | PTE_BORROWED | PTE_SHARED;
	if (page && mode != FILL_PRIVATE && !(v->prot & PROT_WRITE))
		return virt_to_phys(page) | PTE_BORROWED;
	uint8_t *copy = shared ? NULL : page_alloc(1);
	if (!copy) {
		*error = -ENOMEM;
		return 0;
	}
	if (page)
		memcpy(copy, page, PAGE_SIZE);
	return virt_to_phys(copy);
}

/* A fresh page for the empty entry of va in region v: zeros, or the file's bytes. A read-only page of a
 * file whose bytes lie page-aligned in memory (the archive page-aligns big files) is borrowed instead
 * of copied, unless FILL_PRIVATE. The PTE address bits (and PTE_BORROWED, PTE_SHARED), or 0 with
 * *error (0: leave the entry empty). */
static uint64_t fill_page(const struct vma *v, uint64_t va, enum fill_mode mode, int *error)
{
	const uint8_t *data = NULL;
	uint64_t offset = 0, size = 0;
	if (v->file && tmpfs_is_file(v->file))
		return fill_tmpfs_page(v, va, mode, error);
	if (v->file) {
		offset = file_offset_of(v, va);
		size = v->file->size;
		if (offset >= ALIGN_UP(size, PAGE_SIZE)) {
			*error = -ENXIO;
			return 0;
		}
		data = ramfs_node_contents(v->file);
		if (!data) {
			*error = -ENXIO;
			return 0;
		}
		bool borrowable = !(v->file->flags & RAMFS_WRITABLE) && size - offset >= PAGE_SIZE &&
				  ((uint64_t)(data + offset) & (PAGE_SIZE - 1)) == 0;
		if (borrowable && mode != FILL_PRIVATE && !(v->prot & PROT_WRITE))
			return virt_to_phys(data + offset) | PTE_BORROWED;
	}
	void *page = page_alloc(1);
	if (!page) {
		*error = -ENOMEM;
		return 0;
	}
	if (data)
		memcpy(page, data + offset, MIN(PAGE_SIZE, size - offset)); /* the rest stays zero */
	return virt_to_phys(page);
}

/* Makes the entry *pte of page va in region v present (around a touch, a tmpfs file's hole stays empty). */
static int populate_entry(const struct vma *v, uint64_t va, uint64_t *pte, enum fill_mode mode)
{
	uint64_t pa;
	if (*pte & PTE_P)
		return 0;
	if (*pte & PTE_KEPT) {
		/* A page kept while PROT_NONE; a borrowed one stays borrowed (as_protect copies borrowed pages
		 * before a region becomes writable, so this one is in a read-only region, or it is a shared
		 * file page). */
		pa = (*pte & PTE_ADDR) | (*pte & (PTE_BORROWED | PTE_SHARED));
	} else {
		int error = 0;
		pa = fill_page(v, va, mode, &error);
		if (!pa)
			return error;
	}
	/* No invlpg: the entry was not present, and x86 never caches a translation that is not present. */
	*pte = pa | prot_to_pte(v->prot);
	return 0;
}

/* Makes the missing pages of [start,end) in region v present, stopping at the first one that cannot
 * be. Walks the page table entries in order instead of looking each page up from the top: where kernel
 * code is emulated (kvm_pvm) every instruction counts. */
static int populate_range(struct address_space *as, const struct vma *v, uint64_t start, uint64_t end,
			  enum fill_mode mode)
{
	uint64_t *pte = NULL;
	for (uint64_t va = start; va < end; va += PAGE_SIZE) {
		if (!pte || (va & ((1UL << 21) - 1)) == 0) /* the first page, or the first of a page table */
			pte = pte_of(as->pml4, va, true);
		else
			pte++;
		if (!pte)
			return -ENOMEM;
		int r = populate_entry(v, va, pte, mode);
		if (r < 0)
			return r;
	}
	return 0;
}

int as_populate(struct address_space *as, uint64_t addr, bool write)
{
	struct vma *v = as_find_vma(as, addr);
	if (!v || !(v->prot & (write ? PROT_WRITE : PROT_READ | PROT_EXEC))) /* x86 pages are readable */
		return -EFAULT;
	uint64_t va = ALIGN_DOWN(addr, PAGE_SIZE);
	return populate_range(as, v, va, va + PAGE_SIZE, FILL_TOUCH);
}

int as_prefault(struct address_space *as, uint64_t start, uint64_t end)
{
	for (uint64_t va = start; va < end;) {
		struct vma *v = as_find_vma(as, va);
		if (!v || !v->prot)
			return -EFAULT;
		uint64_t stop = MIN(end, v->end);
		int r = populate_range(as, v, va, stop, FILL_TOUCH);
		if (r < 0)
			return r;
		va = stop;
	}
	return 0;
}

/* Replaces the borrowed page of *pte (user address va) by a private copy; false when out of memory. */
static bool copy_borrowed(uint64_t *pte, uint64_t va)
{
	void *page = page_alloc(1);
	if (!page)
		return false;
	memcpy(page, phys_to_virt(*pte & PTE_ADDR), PAGE_SIZE);
	*pte = virt_to_phys(page) | (*pte & ~(PTE_ADDR | PTE_BORROWED));
	invlpg(va);
	return true;
}

static int protect_one(uint64_t *pte, uint64_t va, void *arg)
{
	int prot = *(int *)arg;
	if (!(*pte & (PTE_P | PTE_KEPT)))
		return 0;
	/* never write into the owner's page: copy it first (a shared file page is written in place) */
	if ((*pte & (PTE_BORROWED | PTE_SHARED)) == PTE_BORROWED && (prot & PROT_WRITE) && !copy_borrowed(pte, va))
		return -ENOMEM;
	uint64_t borrowed = *pte & (PTE_BORROWED | PTE_SHARED);
	if (prot == 0) /* PROT_NONE: keep the page, drop access */
		*pte = (*pte & PTE_ADDR) | PTE_KEPT | borrowed;
	else
		*pte = (*pte & PTE_ADDR) | prot_to_pte(prot) | borrowed;
	invlpg(va);
	return 0;
}

int as_protect(struct address_space *as, uint64_t start, uint64_t end, int prot)
{
	if (!as_range_mapped(as, start, end))
		return -ENOMEM;
	if (prot & PROT_WRITE)
		for (struct vma *v = as->vmas; v && v->start < end; v = v->next)
			if (v->end > start && v->file && (v->flags & (VMA_SHARED | VMA_MAYWRITE)) == VMA_SHARED)
				return -EACCES; /* mapped read-only for good (Linux: no VM_MAYWRITE) */
	if (split_at(as, start) || split_at(as, end))
		return -ENOMEM;
	for (struct vma *v = as->vmas; v; v = v->next)
		if (v->start >= start && v->end <= end)
			v->prot = prot;
	int r = walk_ptes(as->pml4, start, end, protect_one, &prot);
	merge_regions(as);
	return r;
}

uint64_t as_find_free(struct address_space *as, uint64_t len)
{
	uint64_t top = USER_MMAP_TOP;
	/* Walk regions from the highest down, looking for a gap of len below top. */
	for (;;) {
		uint64_t candidate = top - len;
		if (len > top || candidate < PAGE_SIZE * 16)
			return 0;
		struct vma *conflict = NULL;
		for (struct vma *v = as->vmas; v && v->start < top; v = v->next)
			if (v->end > candidate)
				conflict = v; /* the highest overlapping region wins (list is sorted) */
		if (!conflict)
			return candidate;
		top = conflict->start;
	}
}

void *as_kernel_view(struct address_space *as, uint64_t va)
{
	va = ALIGN_DOWN(va, PAGE_SIZE);
	struct vma *v = as_find_vma(as, va);
	uint64_t *pte = v ? pte_of(as->pml4, va, true) : NULL;
	if (!pte)
		return NULL;
	if (!(*pte & (PTE_P | PTE_KEPT))) {
		int error;
		uint64_t pa = fill_page(v, va, FILL_PRIVATE, &error);
		if (!pa)
			return NULL;
		*pte = pa | (v->prot ? prot_to_pte(v->prot) : PTE_KEPT);
	} else if ((*pte & (PTE_BORROWED | PTE_SHARED)) == PTE_BORROWED && !copy_borrowed(pte, va)) {
		return NULL; /* the caller will write: a copy, except of a shared file page (the region's own) */
	}
	return phys_to_virt(*pte & PTE_ADDR);
}

uint64_t as_user_write_pa(struct address_space *as, uint64_t va)
{
	uint64_t span, *pte = pte_lookup(as->pml4, va, &span);
	const uint64_t ready = PTE_P | PTE_W | PTE_U;
	if (!pte || (*pte & ready) != ready || (*pte & (PTE_BORROWED | PTE_SHARED)) == PTE_BORROWED) {
		if (as_populate(as, va, true) < 0)
			return 0;
		void *page = as_kernel_view(as, va); /* a private copy if the page was borrowed */
		return page ? virt_to_phys(page) + (va & (PAGE_SIZE - 1)) : 0;
	}
	return (*pte & PTE_ADDR) + (va & (PAGE_SIZE - 1));
}

int as_map_borrowed(struct address_space *as, uint64_t va, uint64_t pa)
{
	struct vma *v = as_find_vma(as, va);
	uint64_t *pte = v ? pte_of(as->pml4, va, true) : NULL;
	if (!pte)
		return -ENOMEM;
	if (*pte & (PTE_P | PTE_KEPT))
		return -EEXIST;
	*pte = pa | (v->prot ? prot_to_pte(v->prot & ~PROT_WRITE) : PTE_KEPT) | PTE_BORROWED;
	return 0;
}

void as_discard(struct address_space *as, uint64_t start, uint64_t end) { unmap_pages(as, start, end); }

int as_move(struct address_space *as, uint64_t old, uint64_t len, uint64_t new)
{
	struct vma *v = as_find_vma(as, old);
	if (!v || old + len > v->end)
		return -EFAULT;
	/* Everything that may need memory first (splits, page tables), so that nothing fails half way. */
	if (split_at(as, old) || split_at(as, old + len))
		return -ENOMEM;
	for (uint64_t va = new; va < new + len; va += PAGE_SIZE)
		if (!pte_of(as->pml4, va, true))
			return -ENOMEM;
	uint64_t span;
	for (uint64_t va = old; va < old + len; va = ALIGN_DOWN(va, span) + span) {
		uint64_t *from = pte_lookup(as->pml4, va, &span);
		if (!from || !(*from & (PTE_P | PTE_KEPT)))
			continue;
		*pte_of(as->pml4, new + (va - old), false) = *from;
		*from = 0;
		invlpg(va);
	}
	/* The region is now exactly [old, old + len): relink it at its new place. */
	struct vma **link = &as->vmas;
	while (*link && (*link)->start != old)
		link = &(*link)->next;
	v = *link;
	*link = v->next;
	v->start = new;
	v->end = new + len;
	for (link = &as->vmas; *link && (*link)->start < new; link = &(*link)->next)
		;
	v->next = *link;
	*link = v;
	merge_regions(as);
	return 0;
}

bool as_page_resident(struct address_space *as, uint64_t va)
{
	uint64_t span, *pte = pte_lookup(as->pml4, va, &span);
	if (pte && (*pte & (PTE_P | PTE_KEPT)))
		return true;
	/* A file's bytes are all in memory (the ramfs), as if in Linux's page cache; a tmpfs file's holes
	 * are not. */
	struct vma *v = as_find_vma(as, va);
	if (!v || !v->file || file_offset_of(v, va) >= v->file->size)
		return false;
	return !tmpfs_is_file(v->file) || tmpfs_page(v->file, file_offset_of(v, va) >> PAGE_SHIFT, false);
}

int as_handle_fault(struct address_space *as, uint64_t addr, uint64_t error_code)
{
	if (!as || addr >= USER_TOP)
		return -EFAULT;
	if (error_code & 1) /* present page: a protection violation, not a missing page */
		return -EFAULT;
	struct vma *v = as_find_vma(as, addr);
	if (!v)
		return -EFAULT;
	bool write = error_code & 2, exec = error_code & 16;
	if ((write && !(v->prot & PROT_WRITE)) || (exec && !(v->prot & PROT_EXEC)) || v->prot == 0)
		return -EFAULT;
	uint64_t va = ALIGN_DOWN(addr, PAGE_SIZE);
	int r = populate_range(as, v, va, va + PAGE_SIZE, FILL_TOUCH);
	/* Fault-around: also bring in the next few pages of the region, as sequential touching is the
	 * common case and each fault costs an exception round trip (a very slow one where the kernel is
	 * emulated, under kvm_pvm). Pages that cannot come (past the end of a file) are left to fault. */
	if (r == 0)
		populate_range(as, v, va + PAGE_SIZE, MIN(v->end, va + FAULT_AROUND_PAGES * PAGE_SIZE), FILL_AROUND);
	return r;
}

/* ---- files seen by several regions ---- */

static int zap_one(uint64_t *pte, uint64_t va, void *arg)
{
	bool even_private = *(bool *)arg;
	if (!(*pte & (PTE_P | PTE_KEPT)))
		return 0;
	if (!(*pte & PTE_BORROWED)) { /* a private copy */
		if (!even_private)
			return 0;
		phys_free(*pte & PTE_ADDR, 1);
	}
	*pte = 0;
	invlpg(va); /* one CPU runs the app: no other TLB holds it (another address space's is flushed
		     * when it is switched to) */
	return 0;
}

void vm_file_unmap_pages(struct ramfs_node *file, uint64_t first, uint64_t end, bool even_private)
{
	uint64_t from = first << PAGE_SHIFT, to = end > (~0UL >> PAGE_SHIFT) ? ~0UL : end << PAGE_SHIFT;
	for (struct address_space *as = all_spaces; as; as = as->next_space) {
		for (struct vma *v = as->vmas; v; v = v->next) {
			if (v->file != file)
				continue;
			uint64_t low = MAX(from, v->offset), high = MIN(to, v->offset + (v->end - v->start));
			if (low < high)
				walk_ptes(as->pml4, v->start + (low - v->offset), v->start + (high - v->offset), zap_one,
					  &even_private);
		}
	}
}

bool vm_file_writably_mapped(struct ramfs_node *file)
{
	if (!file->map_count)
		return false;
	for (struct address_space *as = all_spaces; as; as = as->next_space)
		for (struct vma *v = as->vmas; v; v = v->next)
			if (v->file == file && (v->flags & (VMA_SHARED | VMA_MAYWRITE)) == (VMA_SHARED | VMA_MAYWRITE))
				return true;
	return false;
}

/* ---- user memory access ---- */

long copy_user_bytes(void *dst, const void *src, size_t n);
long copy_user_string(char *dst, const char *src, size_t max);
long zero_user_bytes(void *dst, size_t n);

static bool user_range_ok(uint64_t addr, size_t n)
{
	return (addr < USER_TOP && n <= USER_TOP - addr) || current_thread()->kernel_buffers;
}

static inline void user_access_begin(void)
{
	if (cpu.smap_on)
		__asm__ volatile("stac" ::: "memory");
}
static inline void user_access_end(void)
{
	if (cpu.smap_on)
		__asm__ volatile("clac" ::: "memory");
}

long copy_from_user(void *dst, uint64_t user_src, size_t n)
{
	if (!user_range_ok(user_src, n))
		return -EFAULT;
	user_access_begin();
	long r = copy_user_bytes(dst, (const void *)user_src, n);
	user_access_end();
	return r;
}

long copy_to_user(uint64_t user_dst, const void *src, size_t n)
{
	if (!user_range_ok(user_dst, n))
		return -EFAULT;
	user_access_begin();
	long r = copy_user_bytes((void *)user_dst, src, n);
	user_access_end();
	return r;
}

long clear_user(uint64_t user_dst, size_t n)
{
	if (!user_range_ok(user_dst, n))
		return -EFAULT;
	user_access_begin();
	long r = zero_user_bytes((void *)user_dst, n);
	user_access_end();
	return r;
}

long cmpxchg_user_u32(uint64_t uaddr, uint32_t old, uint32_t new);

long user_cmpxchg_u32(uint64_t uaddr, uint32_t old, uint32_t new)
{
	if ((uaddr & 3) || !user_range_ok(uaddr, 4))
		return -EFAULT;
	user_access_begin();
	long r = cmpxchg_user_u32(uaddr, old, new);
	user_access_end();
	return r;
}

long strncpy_from_user(char *dst, uint64_t user_src, size_t max)
{
	if (user_src >= USER_TOP)
		return -EFAULT;
	size_t limit = MIN(max, USER_TOP - user_src);
	user_access_begin();
	long r = copy_user_string(dst, (const char *)user_src, limit);
	user_access_end();
	if (r < 0)
		return r;
	if ((size_t)r == limit)
		return -ENAMETOOLONG;
	return r;
}
