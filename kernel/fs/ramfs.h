/* The tree of files every path lookup walks. Filled from the root filesystem: a cpio (newc) archive
 * unpacked in memory (ramfs; contents not copied: nodes point into the archive, which stays reserved),
 * or a ROFS disk (fs/rofs.c; directories loaded on first use, file bytes read on demand). Writable
 * (tmpfs) directories and the nodes made in them own their contents: a regular file's bytes are pages
 * that never move (so shared mappings map them), a symlink's target a kmalloc'd buffer (fs/tmpfs.c). */
#pragma once
#include "types.h"

#define S_IFMT 0170000
#define S_IFDIR 0040000
#define S_IFREG 0100000
#define S_IFLNK 0120000
#define S_IFCHR 0020000
#define S_IFIFO 0010000
#define S_IFSOCK 0140000

struct file_ops;

struct ramfs_node {
	const char *name;
	const struct file_ops *dev_ops; /* devices and generated files: what opening them gives */
	const void *dev_data;           /* for dev_ops, e.g. the generator of a /proc file */
	uint32_t rdev;
	uint32_t mode;
	uint32_t ino;
	uint32_t flags;       /* RAMFS_* */
	uint32_t dev;         /* st_dev of a mount point's tree (RAMFS_DEV_*); 0: the same as its parent's */
	int refcount;         /* open files referring to the node */
	uint64_t atime, mtime, ctime; /* seconds */
	const uint8_t *data;  /* file contents or symlink target: into the archive, or buffer; NULL for tmpfs files */
	uint64_t size;
	uint8_t *buffer;      /* tmpfs symlinks: the target, owned (data == buffer) */
	void **pages;         /* tmpfs regular files: page_slots slots, the page of each page index or NULL (a hole) */
	uint64_t page_slots;
	uint32_t seals;       /* tmpfs regular files: F_SEAL_* (memfd sealing; F_SEAL_SEAL for files made by name) */
	uint32_t map_count;   /* file regions showing this node (mm/vm.c), so that changes skip the search when 0 */
	uint64_t disk_offset; /* RAMFS_DISK_FILE: byte offset of the contents on the root disk */
	uint32_t disk_ino;    /* ROFS inode (RAMFS_DISK_DIR: whose entries to load) */
	uint32_t disk_entry;  /* ROFS: 1 + index of the entry naming it in its directory, 0 otherwise */
	struct ramfs_node *parent, *children, *next;
	struct ramfs_node *hash_next; /* chain of the (parent, name) hash table (fs/ramfs.c) */
	struct ramfs_node *link_to;   /* RAMFS_HARDLINK: the node this name is for (a reference held) */
	uint32_t extra_links;         /* names beyond the first (hard links made to this node) */
	uint32_t name_hash, name_len;
};

#define RAMFS_WRITABLE 1   /* a tmpfs node: may be written, and (a directory) take new entries */
#define RAMFS_UNLINKED 2   /* removed from its directory: freed at the last close */
#define RAMFS_OWNED_NAME 4 /* name was kmalloc'd on its own (tmpfs nodes, which rename can rename) */
#define RAMFS_DISK_DIR 8   /* ROFS directory whose entries are not all nodes yet (fs/rofs.c makes them) */
#define RAMFS_DISK_FILE 16 /* contents on the ROFS disk: read on demand, data NULL until loaded */
#define RAMFS_GENERATED_DIR 32 /* entries remade by a function (dev_data) whenever it is looked in: /proc/1/fd */
#define RAMFS_HARDLINK 64  /* a second name (link(2)) for the tmpfs node link_to: lookups go on to it */
#define NAME_MAX 255

/* Device numbers (st_dev) of the filesystems in the one tree, so that programs see mount points as on
 * Linux (find -xdev, du -x, mountpoint): the root filesystem, /dev, /proc, /sys, then each tmpfs. */
#define RAMFS_DEV_ROOT 1
#define RAMFS_DEV_DEVICES 5
#define RAMFS_DEV_PROC 20
#define RAMFS_DEV_SYS 21
#define RAMFS_DEV_TMPFS 30

/* Unpacks the archive; 0, or -1 after printing what is wrong with it. */
int ramfs_unpack(const uint8_t *archive, size_t size);
/* Looks up a path (relative ones start at start, the root when NULL), following symlinks (at most
 * 40; the last component only when follow_last). NULL with *error = -ENOENT, -ENOTDIR or -ELOOP. */
struct ramfs_node *ramfs_lookup(const char *path, struct ramfs_node *start, bool follow_last, int *error);
struct ramfs_node *ramfs_root(void);
/* Looks up all but the last component of path (which it edits: NULs after the parent and at trailing
 * slashes). *dir is the parent directory and *name the last component ("" for "/"); *trailing_slash
 * says the path ended in '/'. 0, or -ENOENT, -ENOTDIR, -ELOOP. */
long ramfs_lookup_parent(char *path, struct ramfs_node *start, struct ramfs_node **dir, const char **name,
			 bool *trailing_slash);
uint32_t ramfs_new_ino(void);
struct ramfs_node *ramfs_find_child(struct ramfs_node *dir, const char *name, size_t len);
/* The first child of dir (loading a ROFS directory's entries first). */
struct ramfs_node *ramfs_children(struct ramfs_node *dir);
/* Adds a directory whose entries refresh(dir) makes anew before every lookup in it and listing of it. */
struct ramfs_node *ramfs_add_generated_dir(const char *path, void (*refresh)(struct ramfs_node *dir));
/* Adds a child node named name (not copied: it must stay valid) at the front of dir's list. */
struct ramfs_node *ramfs_attach(struct ramfs_node *dir, const char *name, uint32_t mode);
/* Links node (its name set) into dir: list and lookup table. */
void ramfs_link(struct ramfs_node *dir, struct ramfs_node *node);
/* Takes node out of its directory's list and the lookup table. */
void ramfs_unlink(struct ramfs_node *node);
/* Forgets dir's entries (a mount hides them). */
void ramfs_hide_children(struct ramfs_node *dir);
/* The root filesystem's type, as /proc/mounts shows it. */
const char *ramfs_root_type(void);
void ramfs_set_root_type(const char *type);
/* Makes the directory at path (and missing parents) if needed; NULL when a component is not one. */
struct ramfs_node *ramfs_add_directory(const char *path, uint32_t mode);
/* An open file's hold on its node (fs/file.c); the last put frees an unlinked tmpfs node. */
void ramfs_node_get(struct ramfs_node *node);
void ramfs_node_put(struct ramfs_node *node);
/* Writes the absolute path of node into buf; its length with the NUL, or -ERANGE. */
long ramfs_path(const struct ramfs_node *node, char *buf, size_t size);
uint32_t ramfs_file_count(void);
/* The device number (st_dev, RAMFS_DEV_*) of the filesystem node is in: that of its nearest mount point. */
uint32_t ramfs_device(const struct ramfs_node *node);
/* Adds a character device node at path (missing directories are created). */
struct ramfs_node *ramfs_add_device(const char *path, uint32_t rdev, const struct file_ops *ops);
/* Adds a read-only regular file whose reads go to ops (e.g. generated /proc files). */
struct ramfs_node *ramfs_add_special(const char *path, const struct file_ops *ops, const void *data);
/* Adds a symbolic link (target is not copied: it must stay valid). */
struct ramfs_node *ramfs_add_symlink(const char *path, const char *target);
/* The bytes of a regular file (size bytes) in one piece, for the program loader and file mappings (a
 * ROFS file is read from the disk into page-aligned memory the first time); NULL when they cannot be
 * had, and for tmpfs files, whose bytes are pages (tmpfs_page). They stay at the same address while
 * the node lives (file mappings borrow whole pages of them). */
const uint8_t *ramfs_node_contents(struct ramfs_node *node);
