/* Kernel symbol lookup for crash reports. The table (address-sorted function symbols) is generated
 * by kernel/build.ts from the first link and linked into the .ksyms section of the final image. */
#include "lib.h"

struct ksym {
	uint64_t addr;
	const char *name;
};

extern const uint64_t ksym_count;
extern const struct ksym ksym_table[];
extern char _text[], _etext[];

const char *ksym_lookup(uint64_t addr, uint64_t *offset)
{
	if (addr < (uint64_t)_text || addr >= (uint64_t)_etext || ksym_count == 0)
		return NULL;
	size_t lo = 0, hi = ksym_count; /* last symbol with addr <= target */
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (ksym_table[mid].addr <= addr)
			lo = mid;
		else
			hi = mid;
	}
	if (ksym_table[lo].addr > addr)
		return NULL;
	*offset = addr - ksym_table[lo].addr;
	return ksym_table[lo].name;
}
