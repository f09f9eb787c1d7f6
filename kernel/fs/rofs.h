/* ROFS (format in fs/rofs_format.h): mounted as the root from a block device. Its directories and
 * files become ramfs nodes (fs/ramfs.h): a directory's entries are made into nodes the first time it is
 * searched or listed (RAMFS_DISK_DIR), a file's bytes are read from the disk on demand (RAMFS_DISK_FILE). */
#pragma once
#include "types.h"

struct block_device;
struct ramfs_node;

/* Mounts the filesystem at byte offset base of dev (size bytes available) as the root; 0, or -1 when out
 * of memory. in_memory, when not NULL, holds those size bytes already (page-aligned, kept for the rest of
 * the run): files are then used in place and the disk is not read. Corrupt metadata, found now or later,
 * stops the VM with a message and status 127. */
int rofs_mount(struct block_device *dev, uint64_t base, uint64_t size, const uint8_t *in_memory);
/* Makes the entries of a RAMFS_DISK_DIR directory into its child nodes (once). */
void rofs_load_dir(struct ramfs_node *dir);
/* Finds name in a RAMFS_DISK_DIR directory's entries and makes a node of it; NULL when absent. */
struct ramfs_node *rofs_lookup(struct ramfs_node *dir, const char *name, size_t len);
/* Reads n bytes at pos (inside the file) of a RAMFS_DISK_FILE file to user memory; n, -EIO or -EFAULT. */
long rofs_read(const struct ramfs_node *file, uint64_t user_buf, size_t n, uint64_t pos);
/* Reads a whole RAMFS_DISK_FILE file into page-aligned memory kept for the rest of the run (programs and
 * mapped files are used in place from there); 0, -EIO or -ENOMEM. */
long rofs_load_file(struct ramfs_node *file);
