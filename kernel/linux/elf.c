/* The ELF loader for static x86-64 programs (ET_EXEC, and ET_DYN static-pie loaded at
 * USER_PIE_BASE), and symbol lookup in the program's own .symtab for crash reports. Every field read
 * from the file is checked against its size first. */
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

/* Adds the region for one segment; a page shared with the previous segment gets both rights. */
static int map_segment(struct address_space *as, uint64_t start, uint64_t end, int prot, const char *path)
{
	struct vma *shared = as_find_vma(as, start);
	if (shared) {
		uint64_t page_end = start + PAGE_SIZE;
		if (as_protect(as, start, page_end, shared->prot | prot) < 0)
			return -ENOMEM;
		start = page_end;
	}
	return start < end ? as_add_vma(as, start, end, prot, path) : 0;
}

static int copy_segment(struct address_space *as, uint64_t vaddr, const uint8_t *data, uint64_t n)
{
	while (n) {
		uint8_t *page = as_kernel_view(as, vaddr);
		if (!page)
			return -ENOMEM;
		uint64_t offset = vaddr & (PAGE_SIZE - 1), chunk = MIN(n, PAGE_SIZE - offset);
		memcpy(page + offset, data, chunk);
		vaddr += chunk;
		data += chunk;
		n -= chunk;
	}
	return 0;
}

/* Puts a segment's file bytes in place. Read-only segments whose bytes sit page-aligned in memory (the
 * toolchain aligns executables inside the ramfs archive) are mapped where they are, without copying;
 * the rest is copied. As with Linux's file mappings, a mapped last page also shows the bytes after the
 * segment; a segment with a zero-filled tail (bss) gets its last page copied instead. */
static int load_segment(struct address_space *as, const struct elf64_phdr *p, uint64_t va, const uint8_t *file)
{
	const uint8_t *data = file + p->offset;
	uint64_t in_page = va & (PAGE_SIZE - 1), done = 0;
	if (!(p->flags & PF_W) && (((uint64_t)data - va) & (PAGE_SIZE - 1)) == 0) {
		uint64_t span = in_page + p->filesz;
		uint64_t pages = p->memsz == p->filesz ? ALIGN_UP(span, PAGE_SIZE) / PAGE_SIZE : span / PAGE_SIZE;
		for (uint64_t i = 0; i < pages; i++) {
			uint64_t page_va = va - in_page + i * PAGE_SIZE;
			int r = as_map_borrowed(as, page_va, virt_to_phys(data - in_page + i * PAGE_SIZE));
			if (r == -EEXIST) { /* a page shared with the previous segment: fill in our bytes */
				uint64_t from = i == 0 ? 0 : i * PAGE_SIZE - in_page;
				uint64_t to = MIN(p->filesz, (i + 1) * PAGE_SIZE - in_page);
				r = copy_segment(as, va + from, data + from, to - from);
			}
			if (r < 0)
				return r;
		}
		done = pages ? MIN(p->filesz, pages * PAGE_SIZE - in_page) : 0;
	}
	return copy_segment(as, va + done, data + done, p->filesz - done);
}

int elf_load(struct address_space *as, const char *path, const uint8_t *file, uint64_t size,
	     struct elf_image *out)
{
	const struct elf64_ehdr *eh = (const void *)file;
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
	uint64_t bias = eh->type == ET_DYN ? USER_PIE_BASE : 0;
	uint64_t phdr_addr = 0, end = 0, prev_end = 0;
	bool any_load = false;
	for (int i = 0; i < eh->phnum; i++) {
		if (ph[i].type == PT_INTERP)
			return fail(path, "dynamically linked programs (PT_INTERP) are not supported yet: link with -static");
		if (ph[i].type == PT_PHDR)
			phdr_addr = ph[i].vaddr + bias;
		if (ph[i].type != PT_LOAD)
			continue;
		const struct elf64_phdr *p = &ph[i];
		uint64_t va = p->vaddr + bias;
		if (p->filesz > p->memsz || p->offset > size || p->filesz > size - p->offset)
			return fail(path, "a segment lies outside the file");
		if (va < PAGE_SIZE || p->memsz > USER_TOP || va > USER_TOP - p->memsz)
			return fail(path, "a segment lies outside user memory");
		if ((p->offset & (PAGE_SIZE - 1)) != (p->vaddr & (PAGE_SIZE - 1)))
			return fail(path, "a segment is not aligned to pages");
		uint64_t start = ALIGN_DOWN(va, PAGE_SIZE), seg_end = ALIGN_UP(va + p->memsz, PAGE_SIZE);
		if (any_load && start < ALIGN_DOWN(prev_end - 1, PAGE_SIZE))
			return fail(path, "segments overlap or are not sorted");
		if (map_segment(as, start, seg_end, prot_of(p->flags), path) < 0 ||
		    load_segment(as, p, va, file) < 0)
			return fail(path, "out of memory loading a segment");
		if (!phdr_addr && eh->phoff >= p->offset && eh->phoff < p->offset + p->filesz)
			phdr_addr = va + (eh->phoff - p->offset);
		prev_end = seg_end;
		end = MAX(end, seg_end);
		any_load = true;
	}
	if (!any_load)
		return fail(path, "no loadable segment");
	*out = (struct elf_image){eh->entry + bias, phdr_addr, eh->phnum, eh->phentsize, bias, end};
	return 0;
}

const char *app_symbol(uint64_t addr, uint64_t *offset)
{
	if (!current || !current->exe)
		return NULL;
	const uint8_t *file = current->exe->data;
	uint64_t size = current->exe->size;
	const struct elf64_ehdr *eh = (const void *)file;
	addr -= current->load_bias;
	if (size < sizeof(*eh) || eh->shentsize != sizeof(struct elf64_shdr) || eh->shoff > size ||
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
