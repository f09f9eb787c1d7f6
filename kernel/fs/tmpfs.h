/* tmpfs: writable directories (/tmp, and each `--mount-fs=tmpfs,/path`) in the otherwise read-only ramfs.
 * Their nodes are ramfs nodes marked RAMFS_WRITABLE whose contents live in kmalloc'd buffers that grow.
 * Implemented in fs/tmpfs.c; the syscalls that change the tree are in linux/sys_fs.c. */
#pragma once
#include "fs/ramfs.h"
#include "types.h"

struct file;
struct ramfs_node;
struct boot_options;

/* Makes /tmp and every --mount-fs directory writable (mode 1777, created if missing, what the archive
 * had there hidden); 0, or -1 after printing what is wrong. */
int tmpfs_init(const struct boot_options *opts);
static inline bool tmpfs_writable(const struct ramfs_node *n) { return n->flags & RAMFS_WRITABLE; }
/* Adds an entry name to the writable directory dir: a file or directory (mode has the type), or a
 * symlink to target (copied). 0 or -ENOSPC. */
long tmpfs_create(struct ramfs_node *dir, const char *name, uint32_t mode, const char *target,
		  struct ramfs_node **out);
/* Sets a file's size, zero-filling what it grows by; 0 or -ENOSPC. */
long tmpfs_resize(struct ramfs_node *node, uint64_t size);
/* file_ops.write of ramfs files: writes past the end zero-fill the gap; -EROFS outside tmpfs. */
long tmpfs_file_write(struct file *f, uint64_t user_buf, size_t n, uint64_t *pos);
/* Takes node out of its directory; its storage goes with the last reference (and the last name). */
void tmpfs_remove(struct ramfs_node *node);
/* Adds name in dir as a second name (hard link) for target, a tmpfs file; 0 or -ENOSPC. */
long tmpfs_link(struct ramfs_node *dir, const char *name, struct ramfs_node *target);
/* Moves node to dir under name (copied); 0 or -ENOSPC. */
long tmpfs_move(struct ramfs_node *node, struct ramfs_node *dir, const char *name);
/* Records a change: ctime, and mtime too when the contents changed. */
void tmpfs_touch(struct ramfs_node *node, bool contents);
uint64_t tmpfs_now(void);
