/* tmpfs: writable directories over the read-only ramfs (see fs/tmpfs.h): the tree. Files created here
 * own their contents (regular files: pages, fs/tmpfs_file.c; symlinks: node->buffer, node->data
 * pointing at it); names are kmalloc'd so rename can change them. A node removed while open stays usable until its last reference goes
 * (ramfs_node_put). Out of memory is -ENOSPC, as a full tmpfs says it on Linux. */
#include "fs/tmpfs.h"
#include "arch/x86_64/clock.h"
#include "boot.h"
#include "errno.h"
#include "fs/file.h"
#include "lib.h"
#include "mm/mm.h"

uint64_t tmpfs_now(void) { return clock_realtime_ns() / 1000000000UL; }

void tmpfs_touch(struct ramfs_node *node, bool contents)
{
	node->ctime = tmpfs_now();
	if (contents)
		node->mtime = node->ctime;
}

static int mount_at(const char *path)
{
	static uint32_t mounts;
	struct ramfs_node *dir = ramfs_add_directory(path, 01777);
	if (!dir) {
		kprintf("osv: cannot mount tmpfs at %s: not a directory (or out of memory)\n", path);
		return -1;
	}
	dir->mode = S_IFDIR | 01777;
	dir->flags |= RAMFS_WRITABLE;
	dir->dev = RAMFS_DEV_TMPFS + mounts++;
	ramfs_hide_children(dir); /* the mount hides what the filesystem had there */
	/* Times stay 0 until the first change: reading the clock here would calibrate the TSC at boot. */
	return 0;
}

int tmpfs_init(const struct boot_options *opts)
{
	if (mount_at("/tmp") < 0)
		return -1;
	for (int i = 0; i < opts->tmpfs_count; i++)
		if (mount_at(opts->tmpfs[i]) < 0)
			return -1;
	return 0;
}

static void free_node(struct ramfs_node *node)
{
	tmpfs_free_contents(node);
	kfree(node->buffer);
	if (node->flags & RAMFS_OWNED_NAME)
		kfree((char *)node->name);
	kfree(node);
}

void ramfs_node_get(struct ramfs_node *node) { node->refcount++; }

void ramfs_node_put(struct ramfs_node *node)
{
	if (--node->refcount == 0 && (node->flags & RAMFS_UNLINKED))
		free_node(node);
}

static char *copy_name(const char *name)
{
	size_t len = strlen(name);
	char *copy = kmalloc(len + 1);
	if (copy)
		memcpy(copy, name, len + 1);
	return copy;
}

static void link_into(struct ramfs_node *dir, struct ramfs_node *node)
{
	ramfs_link(dir, node);
	tmpfs_touch(dir, true);
}

static void unlink_from_parent(struct ramfs_node *node)
{
	struct ramfs_node *dir = node->parent;
	ramfs_unlink(node);
	tmpfs_touch(dir, true);
}

long tmpfs_create(struct ramfs_node *dir, const char *name, uint32_t mode, const char *target,
		  struct ramfs_node **out)
{
	struct ramfs_node *node = kzalloc(sizeof(*node));
	char *copy = copy_name(name);
	if (!node || !copy)
		goto fail;
	node->name = copy;
	node->mode = mode;
	node->ino = ramfs_new_ino();
	node->flags = RAMFS_WRITABLE | RAMFS_OWNED_NAME;
	node->atime = node->mtime = node->ctime = tmpfs_now();
	node->seals = F_SEAL_SEAL; /* memfd_create lifts it for MFD_ALLOW_SEALING */
	if (target) {
		size_t len = strlen(target);
		node->buffer = kmalloc(len + 1);
		if (!node->buffer)
			goto fail;
		memcpy(node->buffer, target, len);
		node->data = node->buffer;
		node->size = len;
	}
	link_into(dir, node);
	*out = node;
	return 0;
fail:
	kfree(copy);
	kfree(node);
	return -ENOSPC;
}

long tmpfs_link(struct ramfs_node *dir, const char *name, struct ramfs_node *target)
{
	struct ramfs_node *entry;
	long r = tmpfs_create(dir, name, target->mode, NULL, &entry);
	if (r < 0)
		return r;
	entry->flags |= RAMFS_HARDLINK;
	entry->ino = target->ino; /* getdents shows the file's own inode */
	entry->link_to = target;
	ramfs_node_get(target);
	target->extra_links++;
	tmpfs_touch(target, false);
	return 0;
}

void tmpfs_remove(struct ramfs_node *node)
{
	if (node->flags & RAMFS_HARDLINK) { /* one name less for the file it names */
		struct ramfs_node *target = node->link_to;
		unlink_from_parent(node);
		free_node(node);
		target->extra_links--;
		tmpfs_touch(target, false);
		ramfs_node_put(target);
		return;
	}
	unlink_from_parent(node);
	node->flags |= RAMFS_UNLINKED;
	tmpfs_touch(node, false);
	if (node->refcount == 0)
		free_node(node);
}

long tmpfs_move(struct ramfs_node *node, struct ramfs_node *dir, const char *name)
{
	char *copy = copy_name(name);
	if (!copy)
		return -ENOSPC;
	unlink_from_parent(node);
	if (node->flags & RAMFS_OWNED_NAME)
		kfree((char *)node->name);
	node->name = copy;
	node->flags |= RAMFS_OWNED_NAME;
	link_into(dir, node);
	tmpfs_touch(node, false);
	return 0;
}
