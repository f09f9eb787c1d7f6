/* Block devices: what disk drivers (virtio-blk, ...) register and filesystems (rofs, ...) read.
 * Sectors are 512 bytes. Calls block until the transfer is done; several may be in flight when
 * threads arrive. Implemented by each driver; the registry is in drivers/block.c. */
#pragma once
#include "types.h"

#define SECTOR_SIZE 512

struct block_device;

struct block_ops {
	/* Reads count sectors from sector into buf (a kernel address); 0 or -EIO. */
	int (*read)(struct block_device *dev, uint64_t sector, uint32_t count, void *buf);
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
