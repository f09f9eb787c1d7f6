/* tmpfs: writable directories (/tmp, and each `--mount-fs=tmpfs,/path`) in the otherwise read-only ramfs.
 * Their nodes are ramfs nodes marked RAMFS_WRITABLE; a regular file's contents are pages that never
 * move (so shared mappings map them), with seals. The tree is in fs/tmpfs.c, file contents in
 * fs/tmpfs_file.c; the syscalls that change the tree are in linux/sys_fs.c. */
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
/* A regular file of a tmpfs: its bytes are pages (tmpfs_page), not node->data. */
static inline bool tmpfs_is_file(const struct ramfs_node *n)
{
	return (n->flags & RAMFS_WRITABLE) && (n->mode & S_IFMT) == S_IFREG;
}

/* Seals (memfd_create, fcntl F_ADD_SEALS and F_GET_SEALS): what may no longer be done to a tmpfs
 * file. A file made by name starts with F_SEAL_SEAL (no seal can be added), as on Linux. */
#define F_SEAL_SEAL 0x1
#define F_SEAL_SHRINK 0x2
#define F_SEAL_GROW 0x4
#define F_SEAL_WRITE 0x8
#define F_SEAL_FUTURE_WRITE 0x10
#define F_SEAL_EXEC 0x20
#define F_SEAL_ALL 0x3f
static inline bool tmpfs_write_sealed(const struct ramfs_node *n) { return n->seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE); }
/* Adds an entry name to the writable directory dir: a file or directory (mode has the type), or a
 * symlink to target (copied). 0 or -ENOSPC. */
long tmpfs_create(struct ramfs_node *dir, const char *name, uint32_t mode, const char *target,
		  struct ramfs_node **out);
/* Sets a file's size (truncate, ftruncate, O_TRUNC): what it grows by reads as zeros (a hole); pages
 * past a smaller end leave every mapping (a touch there is SIGBUS) and are freed. 0, -EPERM
 * (F_SEAL_SHRINK, F_SEAL_GROW) or -EFBIG. */
long tmpfs_resize(struct ramfs_node *node, uint64_t size);
/* file_ops.write of ramfs files: a gap before pos reads as zeros; the count written, -EROFS outside
 * tmpfs, -EPERM when sealed (a short count where F_SEAL_GROW stops it part way), -EFBIG, -ENOSPC,
 * -EFAULT. */
long tmpfs_file_write(struct file *f, uint64_t user_buf, size_t n, uint64_t *pos);
/* Copies n bytes of a tmpfs file at pos (inside its size) to user_buf, holes as zeros; n, or the count
 * copied before a fault (-EFAULT when none). */
long tmpfs_file_read(struct ramfs_node *node, uint64_t user_buf, size_t n, uint64_t pos);
/* The page (kernel address) holding the file's bytes at page index, a zeroed one made for a hole when
 * allocate; NULL for a hole when not, or out of memory. It stays at its address until the file frees
 * it (shrinking, hole punching, the file's end). */
void *tmpfs_page(struct ramfs_node *node, uint64_t index, bool allocate);
/* fallocate: pages for [offset, offset + len) inside the file, which grows to there unless keep_size;
 * 0, -EPERM (F_SEAL_GROW), -EFBIG or -ENOSPC. */
long tmpfs_allocate(struct ramfs_node *node, uint64_t offset, uint64_t len, bool keep_size);
/* fallocate(FALLOC_FL_PUNCH_HOLE) and madvise(MADV_REMOVE): [offset, offset + len) reads as zeros, its
 * whole pages freed (and taken out of the mappings that show them); 0 or -EPERM (write-sealed). */
long tmpfs_punch_hole(struct ramfs_node *node, uint64_t offset, uint64_t len);
/* F_ADD_SEALS on a tmpfs file (the caller checked the descriptor and the bits); 0, -EPERM (F_SEAL_SEAL
 * set) or -EBUSY (F_SEAL_WRITE while a shared mapping may write). */
long tmpfs_add_seals(struct ramfs_node *node, uint32_t seals);
/* Frees a file's pages (its last reference is gone). */
void tmpfs_free_contents(struct ramfs_node *node);
/* Takes node out of its directory; its storage goes with the last reference (and the last name). */
void tmpfs_remove(struct ramfs_node *node);
/* Adds name in dir as a second name (hard link) for target, a tmpfs file; 0 or -ENOSPC. */
long tmpfs_link(struct ramfs_node *dir, const char *name, struct ramfs_node *target);
/* Moves node to dir under name (copied); 0 or -ENOSPC. */
long tmpfs_move(struct ramfs_node *node, struct ramfs_node *dir, const char *name);
/* Records a change: ctime, and mtime too when the contents changed. */
void tmpfs_touch(struct ramfs_node *node, bool contents);
uint64_t tmpfs_now(void);
