/* Memory syscalls: brk, mmap (anonymous memory, and files of the ramfs: private mappings, shared
 * read-only ones, and shared writable ones of tmpfs files, which map the file's own pages), munmap,
 * mprotect, mremap, madvise, msync, mincore, the mlock family (checks only: nothing is ever paged out)
 * and membarrier. Pages come on first touch (mm/vm.c), so large reservations cost nothing until used. */
#include "errno.h"
#include "fs/file.h"
#include "fs/ramfs.h"
#include "fs/tmpfs.h"
#include "lib.h"
#include "linux/linux.h"

#define MAP_SHARED 0x01
#define MAP_PRIVATE 0x02
#define MAP_SHARED_VALIDATE 0x03
#define MAP_TYPE 0x0f
#define MAP_FIXED 0x10
#define MAP_ANONYMOUS 0x20
#define MAP_32BIT 0x40
#define MAP_GROWSDOWN 0x100
#define MAP_DENYWRITE 0x800
#define MAP_EXECUTABLE 0x1000
#define MAP_LOCKED 0x2000
#define MAP_NORESERVE 0x4000
#define MAP_POPULATE 0x8000
#define MAP_NONBLOCK 0x10000
#define MAP_STACK 0x20000
#define MAP_HUGETLB 0x40000
#define MAP_FIXED_NOREPLACE 0x100000
/* What MAP_SHARED_VALIDATE accepts: every flag we know (MAP_SYNC and hugetlb sizes are not). */
#define MAP_KNOWN (MAP_TYPE | MAP_FIXED | MAP_ANONYMOUS | MAP_32BIT | MAP_GROWSDOWN | MAP_DENYWRITE | \
		   MAP_EXECUTABLE | MAP_LOCKED | MAP_NORESERVE | MAP_POPULATE | MAP_NONBLOCK | MAP_STACK |   \
		   MAP_FIXED_NOREPLACE)

#define MREMAP_MAYMOVE 1
#define MREMAP_FIXED 2
#define MREMAP_DONTUNMAP 4

#define MS_ASYNC 1
#define MS_INVALIDATE 2
#define MS_SYNC 4

#define MADV_NORMAL 0
#define MADV_DONTNEED 4
#define MADV_FREE 8
#define MADV_REMOVE 9
#define MADV_POPULATE_WRITE 23

#define DEV_ZERO ((1 << 8) | 5)

static bool range_ok(uint64_t addr, uint64_t len) { return len && addr < USER_TOP && len <= USER_TOP - addr; }

SYSCALL_DEFINE(brk)
{
	struct address_space *as = current->as;
	uint64_t want = a0;
	if (want < as->brk_start || want > USER_MMAP_TOP)
		return as->brk;
	uint64_t old_top = ALIGN_UP(as->brk, PAGE_SIZE), new_top = ALIGN_UP(want, PAGE_SIZE);
	if (new_top > old_top) {
		if (!as_range_free(as, old_top, new_top) ||
		    as_add_vma(as, old_top, new_top, PROT_READ | PROT_WRITE, "[heap]") < 0)
			return as->brk; /* Linux reports failure by returning the unchanged break */
	} else if (new_top < old_top) {
		as_unmap(as, new_top, old_top);
	}
	as->brk = want;
	return want;
}

/* The region flags of a shared mapping of node through f, checked as Linux checks them: it may be
 * made writable when f is open for writing (VMA_MAYWRITE), unless the file is write-sealed, which
 * refuses a writable one. Only tmpfs files can be open for writing. */
static long shared_flags(struct file *f, struct ramfs_node *node, int prot, int *flags)
{
	bool writer = (f->flags & O_ACCMODE) == O_RDWR;
	if ((prot & PROT_WRITE) && !writer)
		return -EACCES;
	*flags = VMA_SHARED | (writer && tmpfs_is_file(node) ? VMA_MAYWRITE : 0);
	if (tmpfs_is_file(node) && tmpfs_write_sealed(node)) {
		if (prot & PROT_WRITE)
			return -EPERM;
		*flags &= ~VMA_MAYWRITE;
	}
	return 0;
}

/* The file behind an mmap descriptor, checked as Linux checks it, and the flags of its region. *file
 * stays NULL for /dev/zero, whose mappings are anonymous memory. 0 or -errno. */
static long mapped_file(int fd, uint64_t type, int prot, struct ramfs_node **file, int *flags)
{
	struct file *f = fd_get(fd);
	*file = NULL;
	if (!f || (f->flags & O_PATH))
		return -EBADF;
	struct ramfs_node *node = f->node;
	if (!node)
		return -ENODEV; /* the console */
	if ((f->flags & O_ACCMODE) == O_WRONLY)
		return -EACCES;
	if ((node->mode & S_IFMT) == S_IFCHR && node->rdev == DEV_ZERO)
		return 0;
	if ((node->mode & S_IFMT) != S_IFREG || node->dev_ops)
		return -ENODEV; /* directories, devices, generated /proc files */
	*flags = 0;
	if (type != MAP_PRIVATE) {
		long r = shared_flags(f, node, prot, flags);
		if (r < 0)
			return r;
	}
	*file = node;
	return 0;
}

SYSCALL_DEFINE(mmap)
{
	uint64_t addr = a0, len = a1, flags = a3, offset = a5;
	int prot = (int)a2;
	if (!len || (addr & (PAGE_SIZE - 1)) || (offset & (PAGE_SIZE - 1)))
		return -EINVAL;
	uint64_t type = flags & MAP_TYPE;
	if (type != MAP_SHARED && type != MAP_PRIVATE && type != MAP_SHARED_VALIDATE)
		return -EINVAL;
	if (type == MAP_SHARED_VALIDATE && (flags & ~(uint64_t)MAP_KNOWN))
		return -EOPNOTSUPP;
	if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC))
		return -EINVAL;
	len = ALIGN_UP(len, PAGE_SIZE);
	if (len == 0 || len > USER_TOP)
		return -ENOMEM;
	struct ramfs_node *file = NULL;
	int vma_flags = 0;
	if (!(flags & MAP_ANONYMOUS)) {
		long r = mapped_file((int)a4, type, prot, &file, &vma_flags);
		if (r < 0)
			return r;
		if (offset + len < offset)
			return -EOVERFLOW;
	}
	struct address_space *as = current->as;
	if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
		if (!range_ok(addr, len))
			return -EINVAL;
		if (!as_range_free(as, addr, addr + len)) {
			if (flags & MAP_FIXED_NOREPLACE)
				return -EEXIST;
			as_unmap(as, addr, addr + len);
		}
	} else if (!addr || !range_ok(addr, len) || !as_range_free(as, addr, addr + len)) {
		addr = as_find_free(as, len);
		if (!addr)
			return -ENOMEM;
	}
	long r = file ? as_add_file_vma(as, addr, addr + len, prot, vma_flags, file, offset)
		      : as_add_vma(as, addr, addr + len, prot, NULL);
	if (r < 0)
		return r;
	if (flags & MAP_POPULATE)
		as_prefault(as, addr, addr + len); /* what cannot come now (past the end of the file) faults later */
	return (long)addr;
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

/* mremap: shrink in place, grow in place when the pages after are free, otherwise move (with
 * MREMAP_MAYMOVE, or to MREMAP_FIXED's address). Pages move with their page table entries, never copied. */
SYSCALL_DEFINE(mremap)
{
	uint64_t old = a0, old_len = ALIGN_UP(a1, PAGE_SIZE), new_len = ALIGN_UP(a2, PAGE_SIZE);
	uint64_t flags = a3, wanted = a4;
	if ((flags & ~(uint64_t)(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP)) || (old & (PAGE_SIZE - 1)))
		return -EINVAL;
	if ((flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) && !(flags & MREMAP_MAYMOVE))
		return -EINVAL;
	if ((flags & MREMAP_DONTUNMAP) && old_len != new_len)
		return -EINVAL;
	if (!new_len || old_len > USER_TOP || new_len > USER_TOP || (a1 && !old_len))
		return -EINVAL;
	struct address_space *as = current->as;
	struct vma *v = as_find_vma(as, old);
	if (!v)
		return -EFAULT;
	struct vma like = *v; /* v may be merged away below: keep what the region is */
	bool duplicate = old_len == 0; /* a second mapping of the same pages: shared mappings only */
	if (duplicate && !(v->flags & VMA_SHARED))
		return -EINVAL;
	if (duplicate && !(flags & MREMAP_MAYMOVE))
		return -ENOMEM; /* a second mapping is always somewhere else */
	if (old_len > v->end - old)
		return -EFAULT;
	if ((flags & MREMAP_DONTUNMAP) && (v->file || (v->flags & VMA_SHARED)))
		return -EINVAL; /* private anonymous memory only */
	if (flags & MREMAP_FIXED) {
		if ((wanted & (PAGE_SIZE - 1)) || !range_ok(wanted, new_len))
			return -EINVAL;
		if (wanted < old + old_len && old < wanted + new_len)
			return -EINVAL;
	} else if (!duplicate && !(flags & MREMAP_DONTUNMAP)) {
		if (new_len <= old_len) {
			if (new_len < old_len)
				as_unmap(as, old + new_len, old + old_len);
			return (long)old;
		}
		if (old + old_len == v->end && range_ok(old, new_len) && as_range_free(as, old + old_len, old + new_len)) {
			long r = as_extend_like(as, &like, old + old_len, old + new_len);
			return r < 0 ? r : (long)old;
		}
		if (!(flags & MREMAP_MAYMOVE))
			return -ENOMEM;
	}
	/* Moving (or duplicating): the destination first. */
	uint64_t dest;
	if (flags & MREMAP_FIXED) {
		dest = wanted;
		as_unmap(as, dest, dest + new_len);
	} else if (!(dest = as_find_free(as, new_len))) {
		return -ENOMEM;
	}
	like.offset = like.file ? like.offset + (old - like.start) : 0;
	like.start = dest;
	long r;
	if (duplicate)
		return (r = as_extend_like(as, &like, dest, dest + new_len)) < 0 ? r : (long)dest;
	if (new_len < old_len) {
		as_unmap(as, old + new_len, old + old_len);
		old_len = new_len;
	}
	if ((r = as_move(as, old, old_len, dest)) < 0)
		return r;
	if (new_len > old_len && (r = as_extend_like(as, &like, dest + old_len, dest + new_len)) < 0)
		return r;
	if (flags & MREMAP_DONTUNMAP) { /* the old range stays mapped, empty */
		like.start = old;
		if ((r = as_extend_like(as, &like, old, old + old_len)) < 0)
			return r;
	}
	return (long)dest;
}

/* MADV_REMOVE over shared writable regions of tmpfs files (checked): a hole punched in each file where
 * the range shows it, so the range reads as zeros and the file's pages there are freed. */
static long remove_file_range(struct address_space *as, uint64_t start, uint64_t end)
{
	for (struct vma *v = as->vmas; v && v->start < end; v = v->next) {
		if (v->end <= start)
			continue;
		uint64_t from = MAX(v->start, start), to = MIN(v->end, end);
		long r = tmpfs_punch_hole(v->file, v->offset + (from - v->start), to - from);
		if (r < 0)
			return r;
	}
	return 0;
}

SYSCALL_DEFINE(madvise)
{
	uint64_t advice = a2;
	if (a0 & (PAGE_SIZE - 1))
		return -EINVAL;
	bool known = advice <= MADV_DONTNEED || (advice >= MADV_FREE && advice <= MADV_POPULATE_WRITE) ||
		     advice == 100 || advice == 101; /* HWPOISON, SOFT_OFFLINE */
	if (!known)
		return -EINVAL;
	if (a1 == 0)
		return 0;
	uint64_t end = a0 + ALIGN_UP(a1, PAGE_SIZE);
	if (!range_ok(a0, a1))
		return -ENOMEM;
	struct address_space *as = current->as;
	if (!as_range_mapped(as, a0, end))
		return -ENOMEM;
	if (advice == MADV_DONTNEED || advice == MADV_FREE || advice == MADV_REMOVE) {
		for (struct vma *v = as->vmas; v && v->start < end; v = v->next) {
			if (v->end <= a0)
				continue;
			if (advice == MADV_FREE && v->file)
				return -EINVAL; /* anonymous memory only */
			if (advice == MADV_REMOVE && !v->file)
				return -EINVAL; /* files only (our shared anonymous memory has none) */
			if (advice == MADV_REMOVE && (v->flags & (VMA_SHARED | VMA_MAYWRITE)) != (VMA_SHARED | VMA_MAYWRITE))
				return -EACCES; /* a shared mapping that may write: the hole is punched in the file */
		}
		if (advice == MADV_REMOVE)
			return remove_file_range(as, a0, end);
		/* MADV_FREE may drop the pages now or later: now. A file region shows the file again. The
		 * vDSO's pages stay: they would come back the same, as on Linux. */
		for (struct vma *v = as->vmas; v && v->start < end; v = v->next)
			if (v->end > a0 && !(v->flags & VMA_KERNEL_PAGES))
				as_discard(as, MAX(v->start, a0), MIN(v->end, end));
	}
	return 0; /* other advice is only a hint */
}

SYSCALL_DEFINE(msync)
{
	uint64_t flags = a2;
	if ((a0 & (PAGE_SIZE - 1)) || (flags & ~(uint64_t)(MS_ASYNC | MS_INVALIDATE | MS_SYNC)) ||
	    ((flags & MS_ASYNC) && (flags & MS_SYNC)))
		return -EINVAL;
	if (a1 == 0)
		return 0;
	if (!range_ok(a0, a1) || !as_range_mapped(current->as, a0, a0 + ALIGN_UP(a1, PAGE_SIZE)))
		return -ENOMEM;
	return 0; /* a shared region's pages are its file's own: there is nothing to write back */
}

SYSCALL_DEFINE(mincore)
{
	uint64_t start = a0, vec = a2;
	if (start & (PAGE_SIZE - 1))
		return -EINVAL;
	if (a1 == 0)
		return 0;
	if (!range_ok(start, a1))
		return -ENOMEM;
	uint64_t end = start + ALIGN_UP(a1, PAGE_SIZE);
	struct address_space *as = current->as;
	if (!as_range_mapped(as, start, end))
		return -ENOMEM;
	uint8_t chunk[256];
	for (uint64_t va = start; va < end;) {
		size_t n = 0;
		for (; n < sizeof(chunk) && va < end; n++, va += PAGE_SIZE)
			chunk[n] = as_page_resident(as, va);
		if (copy_to_user(vec, chunk, n) < 0)
			return -EFAULT;
		vec += n;
	}
	return 0;
}

#define MCL_CURRENT 1
#define MCL_FUTURE 2
#define MCL_ONFAULT 4
#define MLOCK_ONFAULT 1

/* Memory is never paged out, so locking only checks its arguments (mlock: the range must be mapped). */
static long lock_range(uint64_t addr, uint64_t len)
{
	uint64_t start = addr & ~(PAGE_SIZE - 1);
	if (len == 0)
		return 0;
	if (!range_ok(start, len + (addr - start)))
		return -ENOMEM;
	return as_range_mapped(current->as, start, ALIGN_UP(addr + len, PAGE_SIZE)) ? 0 : -ENOMEM;
}

SYSCALL_DEFINE(mlock) { return lock_range(a0, a1); }
SYSCALL_DEFINE(munlock) { return lock_range(a0, a1); }
SYSCALL_DEFINE(mlock2) { return a2 & ~(uint64_t)MLOCK_ONFAULT ? -EINVAL : lock_range(a0, a1); }
SYSCALL_DEFINE(munlockall) { return 0; }

SYSCALL_DEFINE(mlockall)
{
	if (!a0 || (a0 & ~(uint64_t)(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)) || a0 == MCL_ONFAULT)
		return -EINVAL;
	return 0;
}

#define MEMBARRIER_CMD_QUERY 0
#define MEMBARRIER_CMD_GLOBAL 1
#define MEMBARRIER_CMD_GLOBAL_EXPEDITED 2
#define MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED 4
#define MEMBARRIER_CMD_PRIVATE_EXPEDITED 8
#define MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED 16
#define MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE 32
#define MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE 64
#define MEMBARRIER_SUPPORTED 127

/* membarrier: one CPU runs the app's threads, so a fence on it orders them all. The private expedited
 * commands need their registration first, as on Linux (EPERM otherwise). */
SYSCALL_DEFINE(membarrier)
{
	static uint64_t registered;
	if (a1 != 0)
		return -EINVAL;
	switch (a0) {
	case MEMBARRIER_CMD_QUERY:
		return MEMBARRIER_SUPPORTED;
	case MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED:
	case MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED:
	case MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE:
		registered |= a0;
		return 0;
	case MEMBARRIER_CMD_PRIVATE_EXPEDITED:
	case MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE:
		if (!(registered & (a0 << 1)))
			return -EPERM;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		return 0;
	case MEMBARRIER_CMD_GLOBAL:
	case MEMBARRIER_CMD_GLOBAL_EXPEDITED:
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		return 0;
	default:
		return -EINVAL;
	}
}
