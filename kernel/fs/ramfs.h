/* In-memory filesystem unpacked from the cpio (newc) archive the toolchain passes as the PVH module.
 * File contents are not copied: nodes point into the archive, which stays reserved in memory. */
#pragma once
#include "types.h"

#define S_IFMT 0170000
#define S_IFDIR 0040000
#define S_IFREG 0100000
#define S_IFLNK 0120000
#define S_IFCHR 0020000

struct file_ops;

struct ramfs_node {
	const char *name;
	const struct file_ops *dev_ops; /* devices and generated files: what opening them gives */
	const void *dev_data;           /* for dev_ops, e.g. the generator of a /proc file */
	uint32_t rdev;
	uint32_t mode;
	uint32_t ino;
	uint64_t mtime;
	const uint8_t *data; /* file contents or symlink target */
	uint64_t size;
	struct ramfs_node *parent, *children, *next;
};

/* Unpacks the archive; 0, or -1 after printing what is wrong with it. */
int ramfs_unpack(const uint8_t *archive, size_t size);
/* Looks up a path (relative ones start at start, the root when NULL), following symlinks (at most
 * 40; the last component only when follow_last). NULL with *error = -ENOENT, -ENOTDIR or -ELOOP. */
struct ramfs_node *ramfs_lookup(const char *path, struct ramfs_node *start, bool follow_last, int *error);
struct ramfs_node *ramfs_root(void);
/* Writes the absolute path of node into buf; its length with the NUL, or -ERANGE. */
long ramfs_path(const struct ramfs_node *node, char *buf, size_t size);
uint32_t ramfs_file_count(void);
/* Adds a character device node at path (missing directories are created). */
struct ramfs_node *ramfs_add_device(const char *path, uint32_t rdev, const struct file_ops *ops);
/* Adds a read-only regular file whose reads go to ops (e.g. generated /proc files). */
struct ramfs_node *ramfs_add_special(const char *path, const struct file_ops *ops, const void *data);
/* Adds a symbolic link (target is not copied: it must stay valid). */
struct ramfs_node *ramfs_add_symlink(const char *path, const char *target);
