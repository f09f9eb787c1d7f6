/* Block devices: what disk drivers (virtio-blk, ...) register and filesystems (rofs, ...) read.
 * Sectors are 512 bytes. Calls block until the transfer is done; several may be in flight when
 * threads arrive. Implemented by each driver; the registry is in drivers/block.c. */
#pragma once
#include "types.h"

#define SECTOR_SIZE 512

struct block_device;

/* A physically contiguous range of memory (for reads straight into an app's pages). */
struct block_segment {
	uint64_t pa;
	uint32_t len;
};

struct block_ops {
	/* Reads count sectors from sector into buf (a kernel address); 0 or -EIO. */
	int (*read)(struct block_device *dev, uint64_t sector, uint32_t count, void *buf);
	/* Reads count sectors into the physical ranges segs (lengths adding up to count sectors; a range
	 * need not be whole sectors); 0, -EIO or -EINVAL. Optional. */
	int (*read_segments)(struct block_device *dev, uint64_t sector, uint32_t count,
			     const struct block_segment *segs, int nsegs);
	/* Writes count sectors; 0, -EIO, or -EROFS for read-only devices. */
	int (*write)(struct block_device *dev, uint64_t sector, uint32_t count, const void *buf);
	/* Makes written data durable; 0 or -EIO. */
	int (*flush)(struct block_device *dev);
};

struct block_device {
	char name[16];  /* "vblk0", ... */
	uint64_t sectors;
	bool read_only;
	const struct block_ops *ops;
	void *driver_data;
};

/* Adds a device to the registry; its index, or -1 when the registry is full. */
int block_register(struct block_device *dev);
/* The n-th registered device (in probe order), or NULL. */
struct block_device *block_get(int n);
int block_count(void);

/* The block cache (drivers/block_cache.c): an LRU of BCACHE_BLOCK_SIZE blocks shared by all devices,
 * for filesystems. Reads len bytes at byte_offset; 0, or -EIO (also past the end of the device). */
#define BCACHE_BLOCK_SIZE 4096
int bcache_read(struct block_device *dev, uint64_t byte_offset, void *buf, size_t len);
/* Forgets a device's cached blocks (after writing to it behind the cache). */
void bcache_invalidate(struct block_device *dev);

/* --blktest (drivers/block_test.c): reads, writes and reads back vblk0, printing checksums. */
void block_self_test(void);
