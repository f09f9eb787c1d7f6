/* Page tables and address spaces. vm_init() replaces the boot page tables with the final kernel half:
 * all RAM in the direct map (2 MiB pages, no execute) and the kernel image with per-section rights
 * (text RX, rodata R, data RW). Address spaces share that kernel half and own their user half, whose
 * pages are allocated on first touch (as_handle_fault). */
#include "arch/x86_64/cpu.h"
#include "errno.h"
#include "lib.h"
#include "mm/mm.h"

struct address_space *current_as;
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

struct vma *as_find_vma(struct address_space *as, uint64_t addr)
{
	for (struct vma *v = as->vmas; v && v->start <= addr; v = v->next)
		if (addr < v->end)
			return v;
	return NULL;
}

int as_add_vma(struct address_space *as, uint64_t start, uint64_t end, int prot, const char *name)
{
	struct vma *prev = NULL, *next = as->vmas;
	while (next && next->end <= start) {
		prev = next;
		next = next->next;
	}
	if (next && next->start < end)
		return -EEXIST;
	if (prev && prev->end == start && prev->prot == prot && prev->name == name) {
		prev->end = end; /* grow the neighbour (brk, adjacent mmaps) instead of adding a region */
		return 0;
	}
	struct vma *v = kmalloc(sizeof(*v));
	if (!v)
		return -ENOMEM;
	*v = (struct vma){start, end, prot, name, next};
	if (prev)
		prev->next = v;
	else
		as->vmas = v;
	return 0;
}

static void unmap_pages(struct address_space *as, uint64_t start, uint64_t end)
{
	uint64_t span;
	for (uint64_t va = start; va < end; va = ALIGN_DOWN(va, span) + span) {
		uint64_t *pte = pte_lookup(as->pml4, va, &span);
		if (!pte || !(*pte & (PTE_P | PTE_KEPT)))
			continue;
		if (!(*pte & PTE_BORROWED))
			phys_free(*pte & PTE_ADDR, 1);
		*pte = 0;
		invlpg(va);
	}
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
	*tail = (struct vma){addr, v->end, v->prot, v->name, v->next};
	v->end = addr;
	v->next = tail;
	return 0;
}

void as_unmap(struct address_space *as, uint64_t start, uint64_t end)
{
	if (split_at(as, start) || split_at(as, end))
		return;
	struct vma **link = &as->vmas;
	while (*link) {
		struct vma *v = *link;
		if (v->start >= start && v->end <= end) {
			*link = v->next;
			kfree(v);
		} else {
			link = &v->next;
		}
	}
	unmap_pages(as, start, end);
}

int as_protect(struct address_space *as, uint64_t start, uint64_t end, int prot)
{
	for (uint64_t a = start; a < end;) { /* the whole range must be mapped */
		struct vma *v = as_find_vma(as, a);
		if (!v)
			return -ENOMEM;
		a = v->end;
	}
	if (split_at(as, start) || split_at(as, end))
		return -ENOMEM;
	for (struct vma *v = as->vmas; v; v = v->next)
		if (v->start >= start && v->end <= end)
			v->prot = prot;
	uint64_t span;
	for (uint64_t va = start; va < end; va = ALIGN_DOWN(va, span) + span) {
		uint64_t *pte = pte_lookup(as->pml4, va, &span);
		if (!pte || !(*pte & (PTE_P | PTE_KEPT)))
			continue;
		uint64_t borrowed = *pte & PTE_BORROWED;
		if (borrowed && (prot & PROT_WRITE)) { /* never write into the owner's page: copy it first */
			if (!as_kernel_view(as, va))
				return -ENOMEM;
			borrowed = 0;
		}
		if (prot == 0) /* PROT_NONE: keep the page, drop access */
			*pte = (*pte & PTE_ADDR) | PTE_KEPT | borrowed;
		else
			*pte = (*pte & PTE_ADDR) | prot_to_pte(prot) | borrowed;
		invlpg(va);
	}
	return 0;
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
		for (struct vma *v = as->vmas; v; v = v->next)
			if (v->start < top && v->end > candidate)
				conflict = v; /* the highest overlapping region wins (list is sorted) */
		if (!conflict)
			return candidate;
		top = conflict->start;
	}
}

int as_populate(struct address_space *as, uint64_t addr, bool write)
{
	struct vma *v = as_find_vma(as, addr);
	if (!v || !(v->prot & (write ? PROT_WRITE : PROT_READ)))
		return -EFAULT;
	uint64_t va = ALIGN_DOWN(addr, PAGE_SIZE);
	uint64_t *pte = pte_of(as->pml4, va, true);
	if (!pte)
		return -ENOMEM;
	if (*pte & PTE_P)
		return 0;
	uint64_t pa;
	if (*pte & PTE_KEPT) {
		/* A page kept while PROT_NONE; a borrowed one stays borrowed (as_protect copies borrowed pages
		 * before a region becomes writable, so this one is in a read-only region). */
		pa = (*pte & PTE_ADDR) | (*pte & PTE_BORROWED);
	} else {
		void *page = page_alloc(1);
		if (!page)
			return -ENOMEM;
		pa = virt_to_phys(page);
	}
	*pte = pa | prot_to_pte(v->prot);
	invlpg(va);
	return 0;
}

void *as_kernel_view(struct address_space *as, uint64_t va)
{
	va = ALIGN_DOWN(va, PAGE_SIZE);
	struct vma *v = as_find_vma(as, va);
	uint64_t *pte = v ? pte_of(as->pml4, va, true) : NULL;
	if (!pte)
		return NULL;
	if (!(*pte & (PTE_P | PTE_KEPT))) {
		void *page = page_alloc(1);
		if (!page)
			return NULL;
		*pte = virt_to_phys(page) | (v->prot ? prot_to_pte(v->prot) : PTE_KEPT);
	} else if (*pte & PTE_BORROWED) { /* the caller will write: give it a private copy */
		void *page = page_alloc(1);
		if (!page)
			return NULL;
		memcpy(page, phys_to_virt(*pte & PTE_ADDR), PAGE_SIZE);
		*pte = virt_to_phys(page) | (*pte & ~(PTE_ADDR | PTE_BORROWED));
		invlpg(va);
	}
	return phys_to_virt(*pte & PTE_ADDR);
}

uint64_t as_user_write_pa(struct address_space *as, uint64_t va)
{
	uint64_t span, *pte = pte_lookup(as->pml4, va, &span);
	const uint64_t ready = PTE_P | PTE_W | PTE_U;
	if (!pte || (*pte & (ready | PTE_BORROWED)) != ready) {
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
	int r = as_populate(as, addr, write);
	/* Fault-around: also bring in the next few missing pages of the region, as sequential touching
	 * is the common case and each fault costs an exception round trip (a very slow one where the
	 * kernel is emulated, under kvm_pvm). */
	uint64_t next = ALIGN_DOWN(addr, PAGE_SIZE) + PAGE_SIZE;
	for (int i = 1; r == 0 && i < FAULT_AROUND_PAGES && next < v->end; i++, next += PAGE_SIZE) {
		uint64_t span, *pte = pte_lookup(as->pml4, next, &span);
		if (pte && (*pte & (PTE_P | PTE_KEPT)))
			break;
		as_populate(as, next, write);
	}
	return r;
}

/* ---- user memory access ---- */

long copy_user_bytes(void *dst, const void *src, size_t n);
long copy_user_string(char *dst, const char *src, size_t max);
long zero_user_bytes(void *dst, size_t n);

static bool user_range_ok(uint64_t addr, size_t n) { return addr < USER_TOP && n <= USER_TOP - addr; }

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
