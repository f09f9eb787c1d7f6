/* The ELF loader for x86-64 programs (ET_EXEC, and ET_DYN loaded at USER_PIE_BASE) and their
 * interpreters (ld.so, an ET_DYN loaded at the top of the mmap area), and symbol lookup in the
 * program's own .symtab for crash reports. Every field read from the file is checked against its size
 * first. */
#include "linux/elf.h"
#include "errno.h"
#include "fs/ramfs.h"
#include "lib.h"
#include "linux/linux.h"

#define ET_EXEC 2
#define ET_DYN 3
#define EM_X86_64 62
#define PT_LOAD 1
#define PT_INTERP 3
#define PT_PHDR 6
#define PF_X 1
#define PF_W 2
#define PF_R 4
#define SHT_SYMTAB 2
#define STT_FUNC 2

struct elf64_ehdr {
	uint8_t ident[16];
	uint16_t type, machine;
	uint32_t version;
	uint64_t entry, phoff, shoff;
	uint32_t flags;
	uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};

struct elf64_phdr {
	uint32_t type, flags;
	uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

struct elf64_shdr {
	uint32_t name, type;
	uint64_t flags, addr, offset, size;
	uint32_t link, info;
	uint64_t addralign, entsize;
};

struct elf64_sym {
	uint32_t name;
	uint8_t info, other;
	uint16_t shndx;
	uint64_t value, size;
};

static int fail(const char *path, const char *why)
{
	kprintf("osv: cannot run %s: %s\n", path, why);
	return -1;
}

static int prot_of(uint32_t flags)
{
	return (flags & PF_R ? PROT_READ : 0) | (flags & PF_W ? PROT_WRITE : 0) | (flags & PF_X ? PROT_EXEC : 0);
}

/* Maps one PT_LOAD segment as Linux's loader does: its file pages as a private file region (from
 * the page holding its first byte to the page holding its last), then anonymous memory for the rest of
 * memsz (bss), with the bytes after filesz in the last file page zeroed. Pages are brought in at once:
 * each costs a PTE (borrowed from the ramfs) or a copy, cheaper than a fault each, above all where
 * kernel code is emulated. A first page shared with the previous segment (valid ELF, though linkers
 * avoid it) keeps that segment's region, gets both segments' rights, and our bytes are copied in. */
static int load_segment(struct address_space *as, struct ramfs_node *node, const uint8_t *file,
			const struct elf64_phdr *p, uint64_t va, bool shares_first_page)
{
	int prot = prot_of(p->flags);
	uint64_t start = ALIGN_DOWN(va, PAGE_SIZE), first = start;
	uint64_t file_end = va + p->filesz, mem_end = va + p->memsz;
	uint64_t file_pages_end = p->filesz ? ALIGN_UP(file_end, PAGE_SIZE) : start;
	if (shares_first_page) {
		struct vma *prev = as_find_vma(as, start);
		if (!prev || as_protect(as, start, start + PAGE_SIZE, prev->prot | prot) < 0)
			return -ENOMEM;
		uint8_t *page = as_kernel_view(as, start);
		if (!page)
			return -ENOMEM;
		uint64_t to = MIN(mem_end, start + PAGE_SIZE), file_to = MIN(file_end, to);
		memcpy(page + (va - start), file + p->offset, file_to - va);
		memset(page + (file_to - start), 0, to - file_to);
		first = start + PAGE_SIZE;
	}
	uint64_t anon_start = MAX(first, file_pages_end), anon_end = ALIGN_UP(mem_end, PAGE_SIZE);
	int r = 0;
	if (first < file_pages_end)
		r = as_add_file_vma(as, first, file_pages_end, prot, 0, node,
				    ALIGN_DOWN(p->offset, PAGE_SIZE) + (first - start));
	if (r == 0 && anon_start < anon_end)
		r = as_add_vma(as, anon_start, anon_end, prot, NULL);
	if (r < 0)
		return r;
	if (first < file_pages_end)
		as_prefault(as, first, file_pages_end); /* what fails (PROT_NONE, no memory) is left to fault */
	if (p->memsz > p->filesz && (file_end & (PAGE_SIZE - 1)) && file_end > first) {
		uint8_t *page = as_kernel_view(as, file_end);
		if (!page)
			return -ENOMEM;
		memset(page + (file_end & (PAGE_SIZE - 1)), 0, PAGE_SIZE - (file_end & (PAGE_SIZE - 1)));
	}
	return 0;
}

/* The interpreter path of a PT_INTERP header, checked to be a NUL-terminated string inside the file. */
static const char *interpreter_path(const struct elf64_phdr *p, const uint8_t *file, uint64_t size)
{
	if (p->offset > size || p->filesz > size - p->offset || p->filesz < 2 || p->filesz > 4096)
		return NULL;
	const char *path = (const char *)file + p->offset;
	return path[p->filesz - 1] == 0 && strlen(path) == p->filesz - 1 ? path : NULL;
}

int elf_load(struct address_space *as, const char *path, struct ramfs_node *node, bool interpreter,
	     struct elf_image *out)
{
	const uint8_t *file = ramfs_node_contents(node);
	uint64_t size = node->size;
	const struct elf64_ehdr *eh = (const void *)file;
	if (!file)
		return fail(path, "its contents cannot be read");
	if (size < sizeof(*eh) || memcmp(eh->ident, "\177ELF", 4) != 0)
		return fail(path, "not an ELF file");
	if (eh->ident[4] != 2 || eh->ident[5] != 1)
		return fail(path, "not a 64-bit little-endian ELF file");
	if (eh->machine != EM_X86_64)
		return fail(path, "not an x86-64 program");
	if (eh->type != ET_EXEC && eh->type != ET_DYN)
		return fail(path, "not an executable (ELF type is neither EXEC nor DYN)");
	if (eh->phentsize != sizeof(struct elf64_phdr) || eh->phnum == 0 || eh->phnum > 128 ||
	    eh->phoff > size || (uint64_t)eh->phnum * eh->phentsize > size - eh->phoff)
		return fail(path, "program headers are missing or outside the file");
	const struct elf64_phdr *ph = (const void *)(file + eh->phoff);
	/* Check every header before mapping anything, and find the span of the loadable segments. */
	uint64_t low = ~0UL, high = 0, prev_end = 0;
	const char *interp = NULL;
	for (int i = 0; i < eh->phnum; i++) {
		const struct elf64_phdr *p = &ph[i];
		if (p->type == PT_INTERP && !interpreter && !(interp = interpreter_path(p, file, size)))
			return fail(path, "its interpreter path (PT_INTERP) is malformed");
		if (p->type != PT_LOAD || p->memsz == 0)
			continue;
		if (p->filesz > p->memsz || p->offset > size || p->filesz > size - p->offset)
			return fail(path, "a segment lies outside the file");
		if (p->memsz > USER_TOP || p->vaddr > USER_TOP - p->memsz)
			return fail(path, "a segment lies outside user memory");
		if ((p->offset & (PAGE_SIZE - 1)) != (p->vaddr & (PAGE_SIZE - 1)))
			return fail(path, "a segment is not aligned to pages");
		if (high && ALIGN_DOWN(p->vaddr, PAGE_SIZE) < ALIGN_DOWN(prev_end - 1, PAGE_SIZE))
			return fail(path, "segments overlap or are not sorted");
		low = MIN(low, ALIGN_DOWN(p->vaddr, PAGE_SIZE));
		prev_end = p->vaddr + p->memsz;
		high = MAX(high, ALIGN_UP(prev_end, PAGE_SIZE));
	}
	if (!high)
		return fail(path, "no loadable segment");
	uint64_t bias = 0;
	if (eh->type == ET_DYN && !interpreter) {
		bias = USER_PIE_BASE;
	} else if (eh->type == ET_DYN) { /* below whatever is already mapped there, as Linux puts ld.so */
		uint64_t base = as_find_free(as, high - low);
		if (!base)
			return fail(path, "no room for it in the address space");
		bias = base - low;
	}
	if (low + bias < PAGE_SIZE || high + bias > USER_TOP || high + bias < high)
		return fail(path, "a segment lies outside user memory");
	uint64_t phdr_addr = 0, mapped_end = 0;
	for (int i = 0; i < eh->phnum; i++) {
		const struct elf64_phdr *p = &ph[i];
		if (p->type == PT_PHDR)
			phdr_addr = p->vaddr + bias;
		if (p->type != PT_LOAD || p->memsz == 0)
			continue;
		uint64_t va = p->vaddr + bias;
		bool shares_first_page = mapped_end && ALIGN_DOWN(va, PAGE_SIZE) < mapped_end;
		int r = load_segment(as, node, file, p, va, shares_first_page);
		if (r == -EEXIST)
			return fail(path, "a segment overlaps memory already in use");
		if (r < 0)
			return fail(path, "out of memory loading a segment");
		if (!phdr_addr && eh->phoff >= p->offset && eh->phoff < p->offset + p->filesz)
			phdr_addr = va + (eh->phoff - p->offset);
		mapped_end = ALIGN_UP(va + p->memsz, PAGE_SIZE);
	}
	*out = (struct elf_image){eh->entry + bias, phdr_addr, eh->phnum, eh->phentsize, bias, low + bias,
				  high + bias, interp};
	return 0;
}

const char *app_symbol(uint64_t addr, uint64_t *offset)
{
	if (!current || !current->exe)
		return NULL;
	const uint8_t *file = ramfs_node_contents(current->exe);
	uint64_t size = current->exe->size;
	const struct elf64_ehdr *eh = (const void *)file;
	addr -= current->load_bias;
	if (!file || size < sizeof(*eh) || eh->shentsize != sizeof(struct elf64_shdr) || eh->shoff > size ||
	    (uint64_t)eh->shnum * sizeof(struct elf64_shdr) > size - eh->shoff)
		return NULL;
	const struct elf64_shdr *sh = (const void *)(file + eh->shoff);
	for (int i = 0; i < eh->shnum; i++) {
		if (sh[i].type != SHT_SYMTAB || sh[i].link >= eh->shnum)
			continue;
		const struct elf64_shdr *strtab = &sh[sh[i].link];
		if (sh[i].offset > size || sh[i].size > size - sh[i].offset || strtab->offset > size ||
		    strtab->size > size - strtab->offset)
			return NULL;
		const struct elf64_sym *syms = (const void *)(file + sh[i].offset);
		const char *names = (const char *)file + strtab->offset;
		for (uint64_t s = 0; s < sh[i].size / sizeof(*syms); s++) {
			if ((syms[s].info & 0xf) != STT_FUNC || syms[s].name >= strtab->size)
				continue;
			if (addr >= syms[s].value && addr < syms[s].value + syms[s].size) {
				*offset = addr - syms[s].value;
				return names + syms[s].name;
			}
		}
	}
	return NULL;
}
