/* The ROFS on-disk format (version 1): osv's compact read-only filesystem. Written by the toolchain
 * (plugins/_rofs.ts, which mirrors this), read by fs/rofs.c. All integers little-endian; offsets are
 * bytes from the start of the filesystem.
 *
 *   0      superblock (struct rofs_superblock), block 0 zero-padded to ROFS_BLOCK
 *   4096   inode table: inode_count x struct rofs_inode; inode 0 is the root directory
 *          dirent table: dirent_count x struct rofs_dirent; each directory's entries are contiguous
 *          and sorted by name bytes (memcmp order, a prefix first)
 *          strings: entry names and symlink targets, each followed by a NUL
 *   data   file data (block-aligned start); files of ROFS_BLOCK bytes or more start on a block boundary
 *
 * Everything path lookup needs (inodes, dirents, strings) is one contiguous region, read with one
 * request at mount; file data is read on demand. */
#pragma once
#include "types.h"

#define ROFS_MAGIC "OSVROFS" /* 8 bytes with its NUL */
#define ROFS_VERSION 1
#define ROFS_BLOCK 4096

struct rofs_superblock {
	char magic[8];
	uint32_t version;
	uint32_t block_size;    /* ROFS_BLOCK */
	uint32_t inode_count;   /* at least 1 (the root) */
	uint32_t dirent_count;
	uint64_t inode_table;   /* offset of the inode table */
	uint64_t dirent_table;  /* = inode_table + inode_count * 32 */
	uint64_t strings;       /* = dirent_table + dirent_count * 12 */
	uint64_t strings_size;
	uint64_t data_offset;   /* >= strings + strings_size, block-aligned */
	uint64_t total_size;    /* bytes of the filesystem */
	uint32_t reserved;
	uint32_t crc32;         /* CRC-32 (IEEE) of the 76 bytes before it */
} PACKED;

struct rofs_inode {
	uint32_t mode;   /* S_IFDIR, S_IFREG or S_IFLNK, and permission bits */
	uint32_t count;  /* directories: number of entries */
	uint64_t size;   /* files: bytes; symlinks: target length; directories: 0 */
	uint64_t where;  /* files: data offset; directories: index of the first entry; symlinks: string offset */
	uint64_t mtime;  /* seconds since the epoch */
} PACKED;

struct rofs_dirent {
	uint32_t inode;
	uint32_t name;     /* string offset */
	uint32_t name_len; /* 1..255, without the NUL */
} PACKED;

_Static_assert(sizeof(struct rofs_superblock) == 80, "superblock layout");
_Static_assert(sizeof(struct rofs_inode) == 32, "inode layout");
_Static_assert(sizeof(struct rofs_dirent) == 12, "dirent layout");
