/* ELF64 program loading (linux/elf.c). */
#pragma once
#include "mm/mm.h"
#include "types.h"

struct ramfs_node;

struct elf_image {
	uint64_t entry;      /* with the load bias applied */
	uint64_t phdr_addr;  /* where the program headers are in memory (AT_PHDR) */
	uint64_t phnum, phent;
	uint64_t load_bias;
	uint64_t base;       /* lowest mapped address (AT_BASE, for an interpreter) */
	uint64_t end;        /* highest mapped address: brk starts above it */
	const char *interp;  /* PT_INTERP: the path of the program's interpreter (in the file's bytes), or NULL */
};

/* Maps the x86-64 executable or shared object in file into as, as file regions (mm/vm.c) whose pages
 * are brought in at once. An ET_DYN file goes at USER_PIE_BASE, or, for an interpreter, at the top of
 * the mmap area. 0, or -1 after printing why (prefixed with path) the file cannot run. */
int elf_load(struct address_space *as, const char *path, struct ramfs_node *file, bool interpreter,
	     struct elf_image *out);
