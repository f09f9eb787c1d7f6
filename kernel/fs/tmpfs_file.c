/* The contents of tmpfs regular files: pages, and the seals that guard them. A file's bytes live in
 * whole pages, one slot per page index (node->pages, node->page_slots slots, grown on demand); a NULL
 * slot is a hole, read as zeros, that gets a page when written or touched through a shared mapping.
 * Pages never move while the file lives, so a shared mapping (mm/vm.c) maps the very pages read() and
 * write() copy from and to: stores through it are the file's contents at once, and writes show
 * through it. Slots past the last page of the file are always empty: a file that shrinks takes its
 * pages out of every mapping first, then frees them. Seals (memfd_create, fcntl F_ADD_SEALS) refuse
 * writes and size changes as Linux's shmem does. Called by fs/ramfs.c (read), fs/tmpfs.c (create,
 * free), linux/sys_fs.c (truncate, fallocate, chmod), linux/sys_file.c (open, fcntl),
 * linux/sys_mem.c and mm/vm.c (mappings). */
#include "errno.h"
#include "fs/file.h"
#include "fs/tmpfs.h"
#include "lib.h"
#include "mm/mm.h"

#define MAX_FILE_SIZE (1UL << 40) /* beyond any memory: fail early instead of overflowing sizes */
#define MIN_SLOTS 16

static uint64_t pages_for(uint64_t size) { return ALIGN_UP(size, PAGE_SIZE) >> PAGE_SHIFT; }

/* Makes room for count slots (the new ones empty); 0 or -ENOSPC. The slot array may move; the pages
 * it points to never do. */
static long reserve_slots(struct ramfs_node *node, uint64_t count)
{
	if (count <= node->page_slots)
		return 0;
	uint64_t slots = MAX(MAX(count, node->page_slots * 2), (uint64_t)MIN_SLOTS);
	void **pages = kmalloc(slots * sizeof(void *));
	if (!pages) {
		slots = count;
		pages = kmalloc(slots * sizeof(void *));
		if (!pages)
			return -ENOSPC;
	}
	if (node->page_slots)
		memcpy(pages, node->pages, node->page_slots * sizeof(void *));
	memset(pages + node->page_slots, 0, (slots - node->page_slots) * sizeof(void *));
	kfree(node->pages);
	node->pages = pages;
	node->page_slots = slots;
	return 0;
}

void *tmpfs_page(struct ramfs_node *node, uint64_t index, bool allocate)
{
	if (index < node->page_slots && node->pages[index])
		return node->pages[index];
	if (!allocate || reserve_slots(node, index + 1) < 0)
		return NULL;
	node->pages[index] = page_alloc(1);
	return node->pages[index];
}

/* Clears the file's bytes [from,to), which lie in one page; nothing to do in a hole. */
static void zero_in_page(struct ramfs_node *node, uint64_t from, uint64_t to)
{
	uint8_t *page = from < to ? tmpfs_page(node, from >> PAGE_SHIFT, false) : NULL;
	if (page)
		memset(page + (from & (PAGE_SIZE - 1)), 0, to - from);
}

/* Clears what follows size in its page, as Linux does when a file is truncated to size: what was there
 * must not come back as contents if the file grows again. (A file that grows keeps what a shared
 * mapping stored past its old end, in the page of that end: so does Linux's tmpfs.) */
static void zero_tail(struct ramfs_node *node, uint64_t size) { zero_in_page(node, size, ALIGN_UP(size, PAGE_SIZE)); }

/* Frees the pages at indexes [first, end), taken out of every mapping first (private copies too when
 * even_private). Pages that follow each other in memory (as a file written in order gets them) go back
 * as one run: freeing a big file costs little even where kernel code is emulated. */
static void drop_pages(struct ramfs_node *node, uint64_t first, uint64_t end, bool even_private)
{
	end = MIN(end, node->page_slots);
	if (first >= end)
		return;
	if (node->map_count)
		vm_file_unmap_pages(node, first, end, even_private);
	uint8_t *run = NULL;
	size_t run_pages = 0;
	for (uint64_t i = first; i < end; i++) {
		uint8_t *page = node->pages[i];
		if (!page)
			continue;
		node->pages[i] = NULL;
		if (run && page == run + run_pages * PAGE_SIZE) {
			run_pages++;
			continue;
		}
		if (run)
			page_free(run, run_pages);
		run = page;
		run_pages = 1;
	}
	if (run)
		page_free(run, run_pages);
}

void tmpfs_free_contents(struct ramfs_node *node)
{
	drop_pages(node, 0, node->page_slots, true);
	kfree(node->pages);
	node->pages = NULL;
	node->page_slots = 0;
}

/* The run of pages from index on that lie one after the other in memory (pages allocated in order
 * usually do), at most max bytes from in_page: one copy moves them all. */
static size_t contiguous_bytes(struct ramfs_node *node, uint64_t index, uint64_t in_page, size_t max)
{
	size_t bytes = MIN(max, PAGE_SIZE - in_page);
	uint8_t *page = node->pages[index];
	while (bytes < max && index + 1 < node->page_slots && node->pages[index + 1] == page + PAGE_SIZE) {
		index++;
		page += PAGE_SIZE;
		bytes = MIN(max, bytes + PAGE_SIZE);
	}
	return bytes;
}

long tmpfs_file_read(struct ramfs_node *node, uint64_t user_buf, size_t n, uint64_t pos)
{
	size_t done = 0;
	while (done < n) {
		uint64_t at = pos + done, index = at >> PAGE_SHIFT, in_page = at & (PAGE_SIZE - 1);
		uint8_t *page = tmpfs_page(node, index, false);
		size_t chunk = page ? contiguous_bytes(node, index, in_page, n - done) : MIN(n - done, PAGE_SIZE - in_page);
		long r = page ? copy_to_user(user_buf + done, page + in_page, chunk) : clear_user(user_buf + done, chunk);
		if (r < 0)
			return done ? (long)done : -EFAULT;
		done += chunk;
	}
	return (long)n;
}

/* How many of the n bytes at pos the seals let a write store, checked as Linux's shmem checks each
 * page-sized step of a write: none under F_SEAL_WRITE or F_SEAL_FUTURE_WRITE, and under F_SEAL_GROW
 * those before the first step that would end past the end of the file. -EPERM when none may be. */
static long writable_bytes(const struct ramfs_node *node, uint64_t pos, size_t n)
{
	if (node->seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE))
		return -EPERM;
	if (!(node->seals & F_SEAL_GROW) || pos + n <= node->size)
		return (long)n;
	uint64_t stop = ALIGN_DOWN(node->size, PAGE_SIZE);
	return stop > pos ? (long)(stop - pos) : -EPERM;
}

/* A page for a write of [from,to) of it: not cleared where the write will store (clearing a page is
 * costly where kernel code is emulated), zero elsewhere. NULL when out of memory. */
static uint8_t *page_for_write(uint64_t from, uint64_t to)
{
	uint64_t pa = phys_alloc(1);
	if (!pa)
		return NULL;
	uint8_t *page = phys_to_virt(pa);
	memset(page, 0, from);
	memset(page + to, 0, PAGE_SIZE - to);
	return page;
}

/* Stores n bytes from user_buf at pos page by page; the count stored, or -errno when none was. */
static long store(struct ramfs_node *node, uint64_t user_buf, size_t n, uint64_t pos)
{
	size_t done = 0;
	long error = 0;
	while (done < n) {
		uint64_t at = pos + done, index = at >> PAGE_SHIFT, in_page = at & (PAGE_SIZE - 1);
		size_t chunk = MIN(n - done, PAGE_SIZE - in_page);
		/* The page goes into its slot before the copy: a fault in the copy may map it (a shared
		 * mapping of this very file as the source). */
		uint8_t *page = tmpfs_page(node, index, false);
		bool fresh = !page;
		if (fresh) {
			page = reserve_slots(node, index + 1) == 0 ? page_for_write(in_page, in_page + chunk) : NULL;
			if (!page) {
				error = -ENOSPC;
				break;
			}
			node->pages[index] = page;
		}
		if (copy_from_user(page + in_page, user_buf + done, chunk) < 0) {
			if (fresh) /* what the copy did not reach is not cleared */
				memset(page + in_page, 0, chunk);
			error = -EFAULT;
			break;
		}
		done += chunk;
	}
	if (pos + done > node->size)
		node->size = pos + done;
	if (error) /* a page the failed step added past the end of the file goes again */
		drop_pages(node, pages_for(node->size), pages_for(pos + n), true);
	return done ? (long)done : error;
}

long tmpfs_file_write(struct file *f, uint64_t user_buf, size_t n, uint64_t *pos)
{
	struct ramfs_node *node = f->node;
	if (!tmpfs_writable(node))
		return -EROFS;
	if (f->flags & O_APPEND)
		*pos = node->size;
	if (n == 0)
		return 0;
	uint64_t end = *pos + n;
	if (end < *pos || end > MAX_FILE_SIZE)
		return -EFBIG;
	long allowed = writable_bytes(node, *pos, n);
	if (allowed < 0)
		return allowed;
	long r = store(node, user_buf, (size_t)allowed, *pos);
	if (r > 0) {
		*pos += (uint64_t)r;
		tmpfs_touch(node, true);
	}
	return r;
}

long tmpfs_resize(struct ramfs_node *node, uint64_t size)
{
	if ((size < node->size && (node->seals & F_SEAL_SHRINK)) || (size > node->size && (node->seals & F_SEAL_GROW)))
		return -EPERM;
	if (size > MAX_FILE_SIZE)
		return -EFBIG;
	if (size == 0) {
		tmpfs_free_contents(node); /* the slot array too */
	} else if (size <= node->size) {
		zero_tail(node, size);
		drop_pages(node, pages_for(size), ~0UL, true);
	}
	node->size = size;
	tmpfs_touch(node, true);
	return 0;
}

long tmpfs_allocate(struct ramfs_node *node, uint64_t offset, uint64_t len, bool keep_size)
{
	uint64_t end = offset + len;
	if (end < offset || end > MAX_FILE_SIZE)
		return -EFBIG;
	if ((node->seals & F_SEAL_GROW) && end > node->size)
		return -EPERM;
	uint64_t size = keep_size ? node->size : MAX(node->size, end);
	/* Pages for the range inside the file (past its end they would be zeros anyway), so that writes
	 * there cannot run out of memory later. */
	for (uint64_t index = offset >> PAGE_SHIFT; index < pages_for(MIN(end, size)); index++)
		if (!tmpfs_page(node, index, true))
			return -ENOSPC;
	if (size != node->size) {
		node->size = size;
		tmpfs_touch(node, true);
	}
	return 0;
}

long tmpfs_punch_hole(struct ramfs_node *node, uint64_t offset, uint64_t len)
{
	if (node->seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE))
		return -EPERM;
	uint64_t end = offset + len < offset ? ~0UL : offset + len;
	uint64_t first_whole = ALIGN_UP(offset, PAGE_SIZE) >> PAGE_SHIFT, end_whole = end >> PAGE_SHIFT;
	if (first_whole > end_whole) { /* inside one page */
		zero_in_page(node, offset, end);
	} else {
		zero_in_page(node, offset, first_whole << PAGE_SHIFT);
		zero_in_page(node, end_whole << PAGE_SHIFT, end);
		drop_pages(node, first_whole, end_whole, false); /* private copies stay, as on Linux */
	}
	tmpfs_touch(node, true);
	return 0;
}

long tmpfs_add_seals(struct ramfs_node *node, uint32_t seals)
{
	if (node->seals & F_SEAL_SEAL)
		return -EPERM;
	if ((seals & F_SEAL_WRITE) && !(node->seals & F_SEAL_WRITE) && vm_file_writably_mapped(node))
		return -EBUSY;
	/* F_SEAL_EXEC on an executable file forbids writing it as well (W^X), with no check for writable
	 * mappings: Linux's rule, kept as it is. */
	if ((seals & F_SEAL_EXEC) && (node->mode & 0111))
		seals |= F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE;
	node->seals |= seals;
	return 0;
}
