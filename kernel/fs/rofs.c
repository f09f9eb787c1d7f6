/* ROFS driver: mount checks the superblock and reads the metadata region into memory, with the superblock
 * in one request (each disk request is a costly round trip to the hypervisor, most of all under TCG; a
 * small boot disk is even read whole by fs/rootfs.c, and its files used in place); directories and
 * files become ramfs nodes when first used (a lookup binary-searches the directory's entries and makes
 * only the node it finds; a listing makes them all), each entry and inode checked as it is (bounds,
 * names, order, and every directory reached through one entry only, so no loops). Boot work thus stays
 * proportional to the files an app touches: under kvm_pvm every kernel instruction is emulated.
 * Other file data is read through the block cache for small reads and straight from the disk for large
 * ones.
 * Single-threaded like the rest of the kernel for now: the bounce buffer needs a lock with threads. */
#include "fs/rofs.h"
#include "drivers/block.h"
#include "errno.h"
#include "fs/ramfs.h"
#include "fs/rofs_format.h"
#include "lib.h"
#include "linux/linux.h"
#include "mm/mm.h"

#define BOUNCE_PAGES 32                 /* 128 KiB: the largest single disk read */
#define SMALL_READ (16 * 1024)          /* reads below this go through the block cache */
#define DIRECT_BATCH (1024 * 1024)      /* bytes read straight into the app's pages per disk transfer */
#define MAX_METADATA (512UL << 20)
#define MOUNT_READ (64 * 1024)          /* read at mount: the superblock and usually all the metadata */
#define NAME_MAX_LEN 255

static struct {
	struct block_device *dev;
	uint64_t base;
	struct rofs_superblock sb;
	const struct rofs_inode *inodes;
	const struct rofs_dirent *dirents;
	const char *strings;
	const uint8_t *image; /* the whole filesystem, when in memory; else NULL */
	uint64_t *dir_named; /* bitmap: directory inodes already made into nodes */
	uint8_t *bounce;
} fs;

/* Metadata that breaks the format stops the VM with a clear message (exit status 127), whenever it is
 * found: at mount (superblock, root) or when a directory or file is first used. */
static NORETURN void corrupt(const char *fmt, ...)
{
	char why[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	kprintf("osv: rofs: %s: corrupt filesystem: %s\n", fs.dev->name, why);
	vm_exit(EXIT_CANNOT_START);
}

static uint32_t crc32(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffff;
	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320 & -(c & 1));
	}
	return ~c;
}

static void check_superblock(const struct rofs_superblock *sb, uint64_t size)
{
	if (memcmp(sb->magic, ROFS_MAGIC, 8) != 0)
		corrupt("bad magic (not a ROFS filesystem)");
	if (crc32((const uint8_t *)sb, offsetof(struct rofs_superblock, crc32)) != sb->crc32)
		corrupt("superblock checksum mismatch");
	if (sb->version != ROFS_VERSION || sb->block_size != ROFS_BLOCK)
		corrupt("unsupported version %u / block size %u", sb->version, sb->block_size);
	if (sb->total_size > size)
		corrupt("truncated: it is %lu bytes, the disk holds %lu", sb->total_size, size);
	uint64_t inode_bytes = (uint64_t)sb->inode_count * sizeof(struct rofs_inode);
	uint64_t dirent_bytes = (uint64_t)sb->dirent_count * sizeof(struct rofs_dirent);
	if (sb->inode_count == 0 || sb->inode_table < sizeof(*sb) || sb->inode_table % SECTOR_SIZE ||
	    sb->dirent_table != sb->inode_table + inode_bytes || sb->strings != sb->dirent_table + dirent_bytes ||
	    sb->strings_size > sb->total_size || sb->strings + sb->strings_size > sb->data_offset ||
	    sb->data_offset > sb->total_size)
		corrupt("tables overlap or lie past the end");
	if (sb->data_offset - sb->inode_table > MAX_METADATA)
		corrupt("metadata of %lu bytes is implausibly large", sb->data_offset - sb->inode_table);
}

/* A NUL-terminated string of len bytes at offset in the strings region. */
static bool string_ok(uint64_t offset, uint64_t len)
{
	return offset < fs.sb.strings_size && len < fs.sb.strings_size - offset && fs.strings[offset + len] == 0 &&
	       strlen(fs.strings + offset) == len;
}

/* Checks inode i before a node is made of it. */
static const struct rofs_inode *checked_inode(uint32_t i)
{
	if (i >= fs.sb.inode_count)
		corrupt("an entry points at inode %u (of %u)", i, fs.sb.inode_count);
	const struct rofs_inode *n = &fs.inodes[i];
	switch (n->mode & S_IFMT) {
	case S_IFDIR:
		if (n->where > fs.sb.dirent_count || n->count > fs.sb.dirent_count - n->where)
			corrupt("directory inode %u lists entries past the table", i);
		/* Each directory is named by one entry only (the root by none): the tree has no loops. */
		if (fs.dir_named[i / 64] & (1UL << (i % 64)))
			corrupt("directory loop: inode %u is reached twice", i);
		fs.dir_named[i / 64] |= 1UL << (i % 64);
		break;
	case S_IFREG:
		if (n->size && (n->where < fs.sb.data_offset || n->where > fs.sb.total_size ||
				n->size > fs.sb.total_size - n->where))
			corrupt("file inode %u has data past the end", i);
		break;
	case S_IFLNK:
		if (n->size == 0 || n->size >= 4096 || !string_ok(n->where, n->size))
			corrupt("symlink inode %u has a bad target", i);
		break;
	default:
		corrupt("inode %u has unknown type %o", i, n->mode & S_IFMT);
	}
	return n;
}

/* Entry e's name, checked: 1..255 bytes, NUL-terminated, no '/', not "." or "..". */
static const char *checked_name(uint64_t e)
{
	const struct rofs_dirent *d = &fs.dirents[e];
	const char *s = fs.strings + d->name;
	if (d->name_len == 0 || d->name_len > NAME_MAX_LEN || !string_ok(d->name, d->name_len) ||
	    memchr(s, '/', d->name_len) || (s[0] == '.' && (d->name_len == 1 || (d->name_len == 2 && s[1] == '.'))))
		corrupt("entry %lu has a bad name", e);
	return s;
}

static int compare_name(uint64_t e, const char *name, size_t len)
{
	const struct rofs_dirent *d = &fs.dirents[e];
	int c = memcmp(checked_name(e), name, MIN((size_t)d->name_len, len));
	return c ? c : (int)d->name_len - (int)len;
}

/* Reads bytes at fs byte offset into fresh pages, in one transfer (offset and the disk's end are whole
 * sectors, so rounding bytes up stays on the disk); NULL after an error was printed. */
static uint8_t *read_region(uint64_t offset, uint64_t bytes, const char *what)
{
	uint64_t sectors = ALIGN_UP(bytes, SECTOR_SIZE) / SECTOR_SIZE;
	uint8_t *buf = page_alloc(MAX(1UL, ALIGN_UP(bytes, PAGE_SIZE) / PAGE_SIZE));
	if (!buf) {
		kprintf("osv: rofs: out of memory for %lu bytes of %s\n", bytes, what);
		return NULL;
	}
	if (sectors && fs.dev->ops->read(fs.dev, (fs.base + offset) / SECTOR_SIZE, (uint32_t)sectors, buf) < 0)
		corrupt("cannot read %lu bytes of %s", bytes, what);
	return buf;
}

int rofs_mount(struct block_device *dev, uint64_t base, uint64_t size, const uint8_t *in_memory)
{
	fs.dev = dev;
	fs.base = base;
	fs.image = in_memory;
	if (size < sizeof(fs.sb) || base % SECTOR_SIZE)
		corrupt("too small (%lu bytes) or not on a sector boundary", size);
	/* Without a copy in memory, one request reads the superblock and usually all the metadata. */
	uint64_t head_bytes = MIN(size, (uint64_t)MOUNT_READ);
	uint8_t *head = in_memory ? NULL : read_region(0, head_bytes, "superblock");
	if (!in_memory && !head)
		return -1;
	memcpy(&fs.sb, in_memory ? in_memory : head, sizeof(fs.sb));
	check_superblock(&fs.sb, size);
	uint64_t meta_end = fs.sb.strings + fs.sb.strings_size;
	size_t head_pages = MAX(1UL, ALIGN_UP(head_bytes, PAGE_SIZE) / PAGE_SIZE);
	const uint8_t *meta;
	if (in_memory) {
		meta = in_memory + fs.sb.inode_table;
	} else if (ALIGN_UP(meta_end, SECTOR_SIZE) <= head_bytes) {
		/* Keep only the pages holding metadata. */
		size_t kept = ALIGN_UP(meta_end, PAGE_SIZE) / PAGE_SIZE;
		if (kept < head_pages)
			page_free(head + kept * PAGE_SIZE, head_pages - kept);
		meta = head + fs.sb.inode_table;
	} else {
		page_free(head, head_pages);
		meta = read_region(fs.sb.inode_table, meta_end - fs.sb.inode_table, "metadata");
		if (!meta)
			return -1;
	}
	fs.bounce = in_memory ? NULL : page_alloc(BOUNCE_PAGES);
	fs.dir_named = kzalloc((fs.sb.inode_count + 63) / 64 * 8);
	if ((!in_memory && !fs.bounce) || !fs.dir_named) {
		kprintf("osv: rofs: out of memory for the directory bitmap and read buffer\n");
		return -1;
	}
	fs.inodes = (const struct rofs_inode *)meta;
	fs.dirents = (const struct rofs_dirent *)(meta + (fs.sb.dirent_table - fs.sb.inode_table));
	fs.strings = (const char *)meta + (fs.sb.strings - fs.sb.inode_table);
	if ((fs.inodes[0].mode & S_IFMT) != S_IFDIR)
		corrupt("the root is not a directory");
	checked_inode(0);
	struct ramfs_node *root = ramfs_root();
	root->mode = S_IFDIR | (fs.inodes[0].mode & 07777);
	root->mtime = root->ctime = root->atime = fs.inodes[0].mtime;
	root->disk_ino = 0;
	root->flags |= RAMFS_DISK_DIR;
	kverbose("osv: rofs: %s: %u inodes, %u entries, %lu bytes\n", dev->name, fs.sb.inode_count,
		 fs.sb.dirent_count, fs.sb.total_size);
	return 0;
}

/* Makes entry e of dir a node (its inode checked first). */
static struct ramfs_node *make_node(struct ramfs_node *dir, uint64_t e)
{
	const struct rofs_dirent *d = &fs.dirents[e];
	const char *name = checked_name(e);
	const struct rofs_inode *child = checked_inode(d->inode);
	struct ramfs_node *n = ramfs_attach(dir, name, child->mode);
	if (!n)
		return NULL;
	n->atime = n->mtime = n->ctime = child->mtime;
	n->disk_ino = d->inode;
	n->disk_entry = (uint32_t)(e - fs.inodes[dir->disk_ino].where) + 1;
	switch (child->mode & S_IFMT) {
	case S_IFDIR:
		n->flags |= RAMFS_DISK_DIR;
		break;
	case S_IFLNK:
		n->data = (const uint8_t *)fs.strings + child->where;
		n->size = child->size;
		break;
	default:
		n->size = child->size;
		n->disk_offset = fs.base + child->where;
		if (child->size && fs.image)
			n->data = fs.image + child->where; /* in place, like a ramfs archive's files */
		else if (child->size)
			n->flags |= RAMFS_DISK_FILE;
	}
	return n;
}

struct ramfs_node *rofs_lookup(struct ramfs_node *dir, const char *name, size_t len)
{
	const struct rofs_inode *in = &fs.inodes[dir->disk_ino];
	uint64_t lo = in->where, hi = in->where + in->count;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		int c = compare_name(mid, name, len);
		if (c == 0)
			return make_node(dir, mid);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void rofs_load_dir(struct ramfs_node *dir)
{
	if (!(dir->flags & RAMFS_DISK_DIR))
		return;
	dir->flags &= ~RAMFS_DISK_DIR;
	const struct rofs_inode *in = &fs.inodes[dir->disk_ino];
	/* Entries already made into nodes by lookups. */
	uint64_t *made = kzalloc((in->count + 63) / 64 * 8 + 8);
	if (!made) {
		kprintf("osv: rofs: out of memory listing a directory\n");
		return;
	}
	for (struct ramfs_node *c = dir->children; c; c = c->next)
		if (c->disk_entry)
			made[(c->disk_entry - 1) / 64] |= 1UL << ((c->disk_entry - 1) % 64);
	/* Backwards, since each new node goes to the front: the list ends up in name order. */
	for (uint64_t i = in->count; i-- > 0;) {
		uint64_t e = in->where + i;
		if (i + 1 < in->count && compare_name(e, fs.strings + fs.dirents[e + 1].name, fs.dirents[e + 1].name_len) >= 0)
			corrupt("directory inode %u is not sorted at \"%s\"", dir->disk_ino, fs.strings + fs.dirents[e].name);
		if (made[i / 64] & (1UL << (i % 64)))
			continue;
		if (!make_node(dir, e)) {
			kprintf("osv: rofs: out of memory listing a directory\n");
			break;
		}
	}
	kfree(made);
}

/* Reads len bytes at byte offset of the disk into fs.bounce (len <= the bounce buffer). */
static int read_direct(uint64_t offset, size_t len, const uint8_t **out)
{
	uint64_t first = offset / SECTOR_SIZE, end = ALIGN_UP(offset + len, SECTOR_SIZE) / SECTOR_SIZE;
	if (fs.dev->ops->read(fs.dev, first, (uint32_t)(end - first), fs.bounce) < 0)
		return -EIO;
	*out = fs.bounce + (offset - first * SECTOR_SIZE);
	return 0;
}

/* Reads whole sectors at disk byte offset at straight into the app's memory [user, user + len): the
 * device writes the pages, the kernel copies nothing (under kvm_pvm, where kernel code is emulated, a
 * copy costs far more than the transfer). len is a multiple of the sector size, at most DIRECT_BATCH. */
static long read_direct_to_user(uint64_t at, uint64_t user, size_t len)
{
	struct block_segment segs[DIRECT_BATCH / PAGE_SIZE + 1];
	int n = 0;
	for (uint64_t va = user; va < user + len; n++) {
		uint64_t piece = MIN(ALIGN_DOWN(va, PAGE_SIZE) + PAGE_SIZE, user + len) - va;
		uint64_t pa = as_user_write_pa(current_as, va);
		if (!pa)
			return -EFAULT;
		segs[n] = (struct block_segment){pa, (uint32_t)piece};
		va += piece;
	}
	if (fs.dev->ops->read_segments(fs.dev, at / SECTOR_SIZE, (uint32_t)(len / SECTOR_SIZE), segs, n) < 0)
		return -EIO;
	return (long)len;
}

long rofs_read(const struct ramfs_node *file, uint64_t user_buf, size_t n, uint64_t pos)
{
	size_t done = 0;
	uint64_t at = file->disk_offset + pos;
	while (done < n) {
		size_t chunk;
		const uint8_t *src;
		size_t left = n - done;
		if (left >= SMALL_READ && (at + done) % SECTOR_SIZE == 0 && fs.dev->ops->read_segments) {
			chunk = MIN(ALIGN_DOWN(left, SECTOR_SIZE), (size_t)DIRECT_BATCH);
			long got = read_direct_to_user(at + done, user_buf + done, chunk);
			if (got < 0)
				return done ? (long)done : got;
			done += chunk;
			continue;
		}
		if (n < SMALL_READ || left < SMALL_READ) {
			chunk = MIN(left, (size_t)BCACHE_BLOCK_SIZE - (size_t)((at + done) % BCACHE_BLOCK_SIZE));
			if (bcache_read(fs.dev, at + done, fs.bounce, chunk) < 0)
				return done ? (long)done : -EIO;
			src = fs.bounce;
		} else {
			/* Up to the next sector boundary (or a bounce buffer's worth without read_segments). */
			size_t to_sector = SECTOR_SIZE - (size_t)((at + done) % SECTOR_SIZE);
			chunk = fs.dev->ops->read_segments ? MIN(left, to_sector)
							   : MIN(left, (size_t)BOUNCE_PAGES * PAGE_SIZE - 2 * SECTOR_SIZE);
			if (read_direct(at + done, chunk, &src) < 0)
				return done ? (long)done : -EIO;
		}
		if (copy_to_user(user_buf + done, src, chunk) < 0)
			return done ? (long)done : -EFAULT;
		done += chunk;
	}
	return (long)done;
}

long rofs_load_file(struct ramfs_node *file)
{
	if (file->data || !(file->flags & RAMFS_DISK_FILE))
		return 0;
	size_t pages = ALIGN_UP(file->size, PAGE_SIZE) / PAGE_SIZE;
	uint8_t *buf = page_alloc(pages);
	if (!buf)
		return -ENOMEM;
	/* One transfer of whole sectors straight into the buffer (the last one's excess bytes are cleared
	 * below; the disk ends on a sector boundary, so the rounding stays on it); an unaligned file (small,
	 * packed) through the cache. */
	int err;
	if (file->disk_offset % SECTOR_SIZE == 0)
		err = fs.dev->ops->read(fs.dev, file->disk_offset / SECTOR_SIZE,
					(uint32_t)(ALIGN_UP(file->size, SECTOR_SIZE) / SECTOR_SIZE), buf);
	else
		err = bcache_read(fs.dev, file->disk_offset, buf, file->size);
	if (err) {
		page_free(buf, pages);
		return -EIO;
	}
	memset(buf + file->size, 0, pages * PAGE_SIZE - file->size);
	file->data = buf;
	return 0;
}
