/* Memory syscalls: brk, anonymous mmap/munmap/mprotect, madvise. Pages are allocated on first touch
 * (mm/vm.c), so large reservations cost nothing until used. */
#include "errno.h"
#include "lib.h"
#include "linux/linux.h"

#define MAP_SHARED 0x01
#define MAP_PRIVATE 0x02
#define MAP_SHARED_VALIDATE 0x03
#define MAP_TYPE 0x0f
#define MAP_FIXED 0x10
#define MAP_ANONYMOUS 0x20
#define MAP_FIXED_NOREPLACE 0x100000
#define MADV_DONTNEED 4

static bool range_ok(uint64_t addr, uint64_t len) { return len && addr < USER_TOP && len <= USER_TOP - addr; }

static bool range_is_free(struct address_space *as, uint64_t start, uint64_t end)
{
	for (struct vma *v = as->vmas; v; v = v->next)
		if (v->start < end && v->end > start)
			return false;
	return true;
}

SYSCALL_DEFINE(brk)
{
	struct address_space *as = current->as;
	uint64_t want = a0;
	if (want < as->brk_start || want > USER_MMAP_TOP)
		return as->brk;
	uint64_t old_top = ALIGN_UP(as->brk, PAGE_SIZE), new_top = ALIGN_UP(want, PAGE_SIZE);
	if (new_top > old_top) {
		if (!range_is_free(as, old_top, new_top) ||
		    as_add_vma(as, old_top, new_top, PROT_READ | PROT_WRITE, "[heap]") < 0)
			return as->brk; /* Linux reports failure by returning the unchanged break */
	} else if (new_top < old_top) {
		as_unmap(as, new_top, old_top);
	}
	as->brk = want;
	return want;
}

SYSCALL_DEFINE(mmap)
{
	uint64_t addr = a0, len = a1, flags = a3;
	int prot = (int)a2;
	if (!len || (addr & (PAGE_SIZE - 1)) || (a5 & (PAGE_SIZE - 1)))
		return -EINVAL;
	uint64_t type = flags & MAP_TYPE;
	if (type != MAP_SHARED && type != MAP_PRIVATE && type != MAP_SHARED_VALIDATE)
		return -EINVAL;
	if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC))
		return -EINVAL;
	if (!(flags & MAP_ANONYMOUS))
		return (int)a4 >= 0 && (int)a4 < 3 ? -ENODEV : -EBADF; /* file mappings come with the VFS */
	len = ALIGN_UP(len, PAGE_SIZE);
	if (len == 0 || len > USER_TOP)
		return -ENOMEM;
	struct address_space *as = current->as;
	if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
		if (!range_ok(addr, len))
			return -EINVAL;
		if (!range_is_free(as, addr, addr + len)) {
			if (flags & MAP_FIXED_NOREPLACE)
				return -EEXIST;
			as_unmap(as, addr, addr + len);
		}
	} else if (!addr || !range_ok(addr, len) || !range_is_free(as, addr, addr + len)) {
		addr = as_find_free(as, len);
		if (!addr)
			return -ENOMEM;
	}
	long r = as_add_vma(as, addr, addr + len, prot, NULL);
	return r < 0 ? r : (long)addr;
}

SYSCALL_DEFINE(munmap)
{
	if ((a0 & (PAGE_SIZE - 1)) || !range_ok(a0, a1))
		return -EINVAL;
	as_unmap(current->as, a0, a0 + ALIGN_UP(a1, PAGE_SIZE));
	return 0;
}

SYSCALL_DEFINE(mprotect)
{
	if (a0 & (PAGE_SIZE - 1))
		return -EINVAL;
	if ((int)a2 & ~(PROT_READ | PROT_WRITE | PROT_EXEC))
		return -EINVAL;
	if (a1 == 0)
		return 0;
	if (!range_ok(a0, a1))
		return -ENOMEM;
	return as_protect(current->as, a0, a0 + ALIGN_UP(a1, PAGE_SIZE), (int)a2);
}

SYSCALL_DEFINE(madvise)
{
	if (a0 & (PAGE_SIZE - 1))
		return -EINVAL;
	if (a1 == 0)
		return 0;
	if (!range_ok(a0, a1))
		return -ENOMEM;
	if (a2 == MADV_DONTNEED)
		as_discard(current->as, a0, a0 + ALIGN_UP(a1, PAGE_SIZE));
	return 0; /* other advice is only a hint */
}
