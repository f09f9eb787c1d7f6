/* ramfs: the cpio "newc" unpacker and path lookup. The archive is checked as it is read (magic, field
 * syntax, sizes inside the archive), so a corrupt one gives a clear error instead of a fault. */
#include "fs/ramfs.h"
#include "errno.h"
#include "fs/file.h"
#include "fs/rofs.h"
#include "fs/tmpfs.h"
#include "lib.h"
#include "mm/mm.h"

#define CPIO_HEADER 110
#define MAX_SYMLINKS 40

static struct ramfs_node root_node = {.name = "", .mode = S_IFDIR | 0755, .ino = 1};
static uint32_t file_count, next_ino = 2;
static const char *root_type = "ramfs";

const char *ramfs_root_type(void) { return root_type; }
void ramfs_set_root_type(const char *type) { root_type = type; }

/* A generated directory's entries as of now. */
static void refresh_generated(struct ramfs_node *dir)
{
	if (dir->flags & RAMFS_GENERATED_DIR)
		((void (*)(struct ramfs_node *))dir->dev_data)(dir);
}

struct ramfs_node *ramfs_children(struct ramfs_node *dir)
{
	if (dir->flags & RAMFS_DISK_DIR)
		rofs_load_dir(dir);
	refresh_generated(dir);
	return dir->children;
}

static bool parse_hex(const uint8_t *p, uint32_t *out)
{
	uint32_t v = 0;
	for (int i = 0; i < 8; i++) {
		uint8_t c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return false;
	}
	*out = v;
	return true;
}

/* Lookups go through one hash table of (parent, name) -> node, grown as nodes are added: a directory's
 * list is walked only to list it. (Under kvm_pvm, where kernel code is emulated, a linear scan of a
 * large directory per path component costs milliseconds.) */
static struct ramfs_node **table;
static size_t table_size, table_count;

static uint32_t name_hash(const struct ramfs_node *dir, const char *name, size_t len)
{
	uint32_t h = 2166136261u ^ (uint32_t)((uint64_t)dir >> 4);
	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)name[i]) * 16777619u;
	return h;
}

static void table_insert(struct ramfs_node *n)
{
	struct ramfs_node **bucket = &table[n->name_hash & (table_size - 1)];
	n->hash_next = *bucket;
	*bucket = n;
}

/* Keeps at most two nodes per bucket on average; when memory is short the chains just grow longer. */
static void table_grow(void)
{
	size_t size = table_size ? table_size * 4 : 1024;
	struct ramfs_node **bigger = kzalloc(size * sizeof(*bigger));
	if (!bigger)
		return;
	struct ramfs_node **old = table;
	size_t old_size = table_size;
	table = bigger;
	table_size = size;
	for (size_t i = 0; i < old_size; i++) {
		for (struct ramfs_node *n = old[i], *next; n; n = next) {
			next = n->hash_next;
			table_insert(n);
		}
	}
	kfree(old);
}

static void table_remove(struct ramfs_node *n)
{
	if (!table_size)
		return;
	for (struct ramfs_node **p = &table[n->name_hash & (table_size - 1)]; *p; p = &(*p)->hash_next) {
		if (*p == n) {
			*p = n->hash_next;
			table_count--;
			return;
		}
	}
}

void ramfs_link(struct ramfs_node *dir, struct ramfs_node *n)
{
	n->parent = dir;
	n->next = dir->children;
	dir->children = n;
	n->name_len = (uint32_t)strlen(n->name);
	n->name_hash = name_hash(dir, n->name, n->name_len);
	if (table_count >= table_size * 2)
		table_grow();
	if (table_size) {
		table_insert(n);
		table_count++;
	}
}

void ramfs_unlink(struct ramfs_node *n)
{
	struct ramfs_node *dir = n->parent;
	for (struct ramfs_node **link = &dir->children; *link; link = &(*link)->next) {
		if (*link == n) {
			*link = n->next;
			break;
		}
	}
	table_remove(n);
	n->next = NULL;
	n->parent = NULL;
}

void ramfs_hide_children(struct ramfs_node *dir)
{
	for (struct ramfs_node *c = dir->children; c; c = c->next)
		table_remove(c);
	dir->children = NULL;
	dir->flags &= ~RAMFS_DISK_DIR;
}

struct ramfs_node *ramfs_find_child(struct ramfs_node *dir, const char *name, size_t len)
{
	refresh_generated(dir);
	uint32_t h = name_hash(dir, name, len);
	for (struct ramfs_node *c = table_size ? table[h & (table_size - 1)] : NULL; c; c = c->hash_next)
		if (c->name_hash == h && c->parent == dir && c->name_len == len && memcmp(c->name, name, len) == 0)
			return c;
	return (dir->flags & RAMFS_DISK_DIR) ? rofs_lookup(dir, name, len) : NULL;
}

static void link_child(struct ramfs_node *dir, struct ramfs_node *n, const char *name, uint32_t mode)
{
	n->name = name;
	n->mode = mode;
	n->ino = next_ino++;
	ramfs_link(dir, n);
}

static struct ramfs_node *add_child(struct ramfs_node *dir, const char *name, size_t len, uint32_t mode)
{
	struct ramfs_node *n = kzalloc(sizeof(*n) + len + 1);
	if (!n)
		return NULL;
	char *copy = (char *)(n + 1);
	memcpy(copy, name, len);
	link_child(dir, n, copy, mode);
	return n;
}

struct ramfs_node *ramfs_attach(struct ramfs_node *dir, const char *name, uint32_t mode)
{
	struct ramfs_node *n = kzalloc(sizeof(*n));
	if (n)
		link_child(dir, n, name, mode);
	return n;
}

const uint8_t *ramfs_node_contents(struct ramfs_node *node)
{
	if (tmpfs_is_file(node))
		return NULL; /* pages, not one piece */
	if (rofs_load_file(node) < 0) {
		kprintf("osv: cannot read %s from the disk (I/O error or out of memory)\n", node->name);
		return NULL;
	}
	return node->data;
}

/* Creates (or finds) the node for an archive path, making missing parent directories. */
static struct ramfs_node *insert_path(const char *path, uint32_t mode)
{
	struct ramfs_node *dir = &root_node;
	while (*path == '/' || (path[0] == '.' && path[1] == '/'))
		path += *path == '/' ? 1 : 2;
	if (!*path || strcmp(path, ".") == 0)
		return &root_node;
	for (;;) {
		const char *slash = strchr(path, '/');
		size_t len = slash ? (size_t)(slash - path) : strlen(path);
		struct ramfs_node *child = ramfs_find_child(dir, path, len);
		if (!slash) {
			if (child) {
				child->mode = mode; /* a later entry for the same path wins */
				return child;
			}
			return add_child(dir, path, len, mode);
		}
		if (!child)
			child = add_child(dir, path, len, S_IFDIR | 0755);
		if (!child || (child->mode & S_IFMT) != S_IFDIR)
			return NULL;
		dir = child;
		path = slash + 1;
		while (*path == '/')
			path++;
		if (!*path)
			return dir;
	}
}

int ramfs_unpack(const uint8_t *archive, size_t size)
{
	size_t at = 0;
	for (;;) {
		if (size - at < CPIO_HEADER) {
			kprintf("osv: ramfs: archive truncated at byte %lu (no TRAILER!!! entry)\n", at);
			return -1;
		}
		const uint8_t *h = archive + at;
		if (memcmp(h, "070701", 6) != 0) {
			kprintf("osv: ramfs: bad cpio magic at byte %lu (expected newc \"070701\")\n", at);
			return -1;
		}
		uint32_t f[13];
		for (int i = 0; i < 13; i++) {
			if (!parse_hex(h + 6 + 8 * i, &f[i])) {
				kprintf("osv: ramfs: malformed cpio header at byte %lu\n", at);
				return -1;
			}
		}
		uint32_t mode = f[1], mtime = f[5], filesize = f[6], namesize = f[11];
		size_t name_at = at + CPIO_HEADER;
		size_t data_at = ALIGN_UP(name_at + namesize, 4);
		if (namesize == 0 || namesize > 8192 || data_at > size || filesize > size - data_at) {
			kprintf("osv: ramfs: cpio entry at byte %lu runs past the end of the archive\n", at);
			return -1;
		}
		const char *name = (const char *)archive + name_at;
		if (name[namesize - 1] != 0) {
			kprintf("osv: ramfs: cpio entry name at byte %lu is not terminated\n", at);
			return -1;
		}
		if (strcmp(name, "TRAILER!!!") == 0)
			return 0;
		uint32_t type = mode & S_IFMT;
		if (type == S_IFDIR || type == S_IFREG || type == S_IFLNK) {
			struct ramfs_node *n = insert_path(name, mode);
			if (!n) {
				kprintf("osv: ramfs: cannot add \"%s\" (a parent is not a directory, or out of memory)\n",
					name);
				return -1;
			}
			n->atime = n->mtime = n->ctime = mtime;
			if (type != S_IFDIR) {
				n->data = archive + data_at;
				n->size = filesize;
				file_count++;
			}
		}
		at = ALIGN_UP(data_at + filesize, 4);
		if (at > size) {
			kprintf("osv: ramfs: archive truncated after \"%s\"\n", name);
			return -1;
		}
	}
}

uint32_t ramfs_file_count(void) { return file_count; }
uint32_t ramfs_new_ino(void) { return next_ino++; }

struct ramfs_node *ramfs_add_special(const char *path, const struct file_ops *ops, const void *data)
{
	struct ramfs_node *n = insert_path(path, S_IFREG | 0444);
	if (n) {
		n->dev_ops = ops;
		n->dev_data = data;
	}
	return n;
}

struct ramfs_node *ramfs_add_symlink(const char *path, const char *target)
{
	struct ramfs_node *n = insert_path(path, S_IFLNK | 0777);
	if (n) {
		n->data = (const uint8_t *)target;
		n->size = strlen(target);
	}
	return n;
}

struct ramfs_node *ramfs_add_directory(const char *path, uint32_t mode)
{
	int error;
	struct ramfs_node *n = ramfs_lookup(path, NULL, true, &error);
	if (n)
		return (n->mode & S_IFMT) == S_IFDIR ? n : NULL;
	return insert_path(path, S_IFDIR | mode);
}

struct ramfs_node *ramfs_add_generated_dir(const char *path, void (*refresh)(struct ramfs_node *dir))
{
	struct ramfs_node *n = ramfs_add_directory(path, 0500);
	if (n) {
		n->flags |= RAMFS_GENERATED_DIR;
		n->dev_data = (const void *)refresh;
	}
	return n;
}

struct ramfs_node *ramfs_add_device(const char *path, uint32_t rdev, const struct file_ops *ops)
{
	struct ramfs_node *n = insert_path(path, S_IFCHR | 0666);
	if (n) {
		n->rdev = rdev;
		n->dev_ops = ops;
	}
	return n;
}

static struct ramfs_node *lookup(const char *path, struct ramfs_node *start, bool follow_last, int depth,
				 int *error)
{
	struct ramfs_node *node = *path == '/' ? &root_node : start;
	while (*path) {
		while (*path == '/')
			path++;
		if (!*path)
			break;
		const char *slash = strchr(path, '/');
		size_t len = slash ? (size_t)(slash - path) : strlen(path);
		if ((node->mode & S_IFMT) != S_IFDIR) {
			*error = -ENOTDIR;
			return NULL;
		}
		struct ramfs_node *next;
		if (len == 1 && path[0] == '.')
			next = node;
		else if (len == 2 && path[0] == '.' && path[1] == '.')
			next = node->parent ? node->parent : node;
		else
			next = ramfs_find_child(node, path, len);
		if (next && (next->flags & RAMFS_HARDLINK))
			next = next->link_to; /* a second name: what it names */
		if (!next) {
			*error = -ENOENT;
			return NULL;
		}
		path += len;
		const char *rest = path;
		while (*rest == '/')
			rest++;
		bool last = !*rest;
		if ((next->mode & S_IFMT) == S_IFLNK && (!last || follow_last)) {
			if (depth >= MAX_SYMLINKS) {
				*error = -ELOOP;
				return NULL;
			}
			char target[4096];
			if (next->size >= sizeof(target)) {
				*error = -ENAMETOOLONG;
				return NULL;
			}
			memcpy(target, next->data, next->size);
			target[next->size] = 0;
			next = lookup(target, node, true, depth + 1, error);
			if (!next)
				return NULL;
		}
		node = next;
	}
	return node;
}

struct ramfs_node *ramfs_lookup(const char *path, struct ramfs_node *start, bool follow_last, int *error)
{
	if (!*path) {
		*error = -ENOENT;
		return NULL;
	}
	return lookup(path, start ? start : &root_node, follow_last, 0, error);
}

struct ramfs_node *ramfs_root(void) { return &root_node; }

long ramfs_lookup_parent(char *path, struct ramfs_node *start, struct ramfs_node **dir, const char **name,
			 bool *trailing_slash)
{
	if (!*path)
		return -ENOENT;
	size_t len = strlen(path);
	*trailing_slash = false;
	while (len > 1 && path[len - 1] == '/') {
		path[--len] = 0;
		*trailing_slash = true;
	}
	char *slash = strrchr(path, '/');
	if (!slash) {
		*dir = start ? start : &root_node;
		*name = path;
	} else {
		*name = slash + 1;
		if (slash == path) {
			*dir = &root_node;
		} else {
			*slash = 0;
			int error = 0;
			*dir = ramfs_lookup(path, start, true, &error);
			if (!*dir)
				return error;
		}
	}
	return ((*dir)->mode & S_IFMT) == S_IFDIR ? 0 : -ENOTDIR;
}

long ramfs_path(const struct ramfs_node *node, char *buf, size_t size)
{
	/* Names from the node up to the root, written from the end of buf backwards. */
	size_t at = size;
	if (at == 0)
		return -ERANGE;
	buf[--at] = 0;
	for (; node && node->parent; node = node->parent) {
		size_t len = strlen(node->name);
		if (at < len + 1)
			return -ENAMETOOLONG;
		at -= len;
		memcpy(buf + at, node->name, len);
		buf[--at] = '/';
	}
	if (at == size - 1) {
		if (at == 0)
			return -ERANGE;
		buf[--at] = '/';
	}
	memmove(buf, buf + at, size - at);
	return (long)(size - at);
}

/* ---- ramfs nodes as open files ---- */

uint32_t ramfs_device(const struct ramfs_node *n)
{
	for (; n; n = n->parent)
		if (n->dev)
			return n->dev;
	return RAMFS_DEV_ROOT;
}

void ramfs_stat(const struct ramfs_node *n, struct linux_stat *st)
{
	memset(st, 0, sizeof(*st));
	st->dev = ramfs_device(n);
	st->ino = n->ino;
	st->nlink = ((n->flags & RAMFS_UNLINKED) ? 0 : (n->mode & S_IFMT) == S_IFDIR ? 2 : 1) + n->extra_links;
	st->mode = n->mode;
	st->size = (n->mode & S_IFMT) == S_IFDIR ? 4096 : (int64_t)n->size;
	st->blksize = 4096;
	st->blocks = (st->size + 511) / 512;
	st->atime = n->atime;
	st->mtime = n->mtime;
	st->ctime = n->ctime;
	st->rdev = n->rdev;
}

static long file_read(struct file *f, uint64_t buf, size_t n, uint64_t *pos)
{
	struct ramfs_node *node = f->node;
	if (*pos >= node->size)
		return 0;
	size_t len = MIN(n, node->size - *pos);
	if (tmpfs_is_file(node)) {
		long got = tmpfs_file_read(node, buf, len, *pos);
		if (got > 0)
			*pos += (uint64_t)got;
		return got;
	}
	if ((node->flags & RAMFS_DISK_FILE) && !node->data) {
		long got = rofs_read(node, buf, len, *pos);
		if (got > 0)
			*pos += (uint64_t)got;
		return got;
	}
	if (copy_to_user(buf, node->data + *pos, len) < 0)
		return -EFAULT;
	*pos += len;
	return (long)len;
}

static void file_stat(struct file *f, struct linux_stat *st) { ramfs_stat(f->node, st); }

#define DT_CHR 2
#define DT_DIR 4
#define DT_REG 8
#define DT_LNK 10

static uint8_t dirent_type(const struct ramfs_node *n)
{
	switch (n->mode & S_IFMT) {
	case S_IFDIR:
		return DT_DIR;
	case S_IFLNK:
		return DT_LNK;
	case S_IFCHR:
		return DT_CHR;
	default:
		return DT_REG;
	}
}

/* Directory positions: 0 is ".", 1 is "..", 2 + i is the i-th child. */
static long dir_getdents(struct file *f, uint64_t buf, size_t n, uint64_t *pos)
{
	struct ramfs_node *dir = f->node, *child = ramfs_children(dir);
	for (uint64_t i = 2; child && i < *pos; i++)
		child = child->next;
	size_t used = 0;
	for (;;) {
		const struct ramfs_node *entry;
		const char *name;
		if (*pos == 0)
			entry = dir, name = ".";
		else if (*pos == 1)
			entry = dir->parent ? dir->parent : dir, name = "..";
		else if (child)
			entry = child, name = child->name;
		else
			break;
		size_t name_len = strlen(name), reclen = ALIGN_UP(19 + name_len + 1, 8);
		if (used + reclen > n)
			return used ? (long)used : -EINVAL;
		uint8_t record[19 + 256 + 8];
		if (name_len > 255)
			return -ENAMETOOLONG;
		memset(record, 0, reclen);
		uint64_t ino = entry->ino, next = *pos + 1;
		uint16_t len16 = (uint16_t)reclen;
		memcpy(record, &ino, 8);
		memcpy(record + 8, &next, 8);
		memcpy(record + 16, &len16, 2);
		record[18] = dirent_type(entry);
		memcpy(record + 19, name, name_len);
		if (copy_to_user(buf + used, record, reclen) < 0)
			return -EFAULT;
		used += reclen;
		if (*pos >= 2)
			child = child->next;
		(*pos)++;
	}
	return (long)used;
}

static const struct file_ops ramfs_file_ops = {
    .read = file_read, .write = tmpfs_file_write, .stat = file_stat, .seekable = true};
static const struct file_ops ramfs_dir_ops = {.stat = file_stat, .getdents = dir_getdents, .seekable = true};

struct file *ramfs_open_file(struct ramfs_node *node, uint32_t flags)
{
	bool dir = (node->mode & S_IFMT) == S_IFDIR;
	const struct file_ops *ops = node->dev_ops ? node->dev_ops : dir ? &ramfs_dir_ops : &ramfs_file_ops;
	struct file *f = file_new(ops, flags);
	if (f) {
		f->node = node;
		ramfs_node_get(node);
	}
	return f;
}
