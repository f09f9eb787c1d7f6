/* ELF64 program loading (linux/elf.c). */
#pragma once
#include "mm/mm.h"
#include "types.h"

struct elf_image {
	uint64_t entry;      /* with the load bias applied */
	uint64_t phdr_addr;  /* where the program headers are in memory (AT_PHDR) */
	uint64_t phnum, phent;
	uint64_t load_bias;
	uint64_t end;        /* highest mapped address: brk starts above it */
};

/* Maps a static x86-64 executable from file (size bytes) into as. 0, or -1 after printing why
 * (prefixed with path) the file cannot run. */
int elf_load(struct address_space *as, const char *path, const uint8_t *file, uint64_t size,
	     struct elf_image *out);
