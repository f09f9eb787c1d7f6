/* --blktest: a boot-time check of the first disk that needs no filesystem. Reads sector 0, the last
 * sector and the first MiB (several requests in flight; its sectors 127, 255, ... are checksummed, since
 * hashing every byte takes seconds where kernel code is emulated), prints FNV-1a checksums a test can compare
 * with the disk file on the host, writes a pattern to the last sector, flushes, reads it back, and
 * checks the block cache against a direct read. Called by drivers_init (drivers/drivers.c). */
#include "arch/x86_64/irq.h"
#include "drivers/block.h"
#include "lib.h"
#include "mm/mm.h"

#define WHOLE_PAGES 256 /* the first MiB */

#define SAMPLE_STRIDE 128 /* sectors: one request's worth */
#define FNV_OFFSET 2166136261u

static uint32_t fnv1a_continue(uint32_t h, const void *data, size_t len)
{
	const uint8_t *p = data;
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static uint32_t fnv1a(const void *data, size_t len) { return fnv1a_continue(FNV_OFFSET, data, len); }

/* The pattern written to the last sector: "osv-blktest" then bytes (i * 7 + 3) & 0xff. */
static void fill_pattern(uint8_t *sector)
{
	static const char tag[] = "osv-blktest";
	for (int i = 0; i < SECTOR_SIZE; i++)
		sector[i] = (uint8_t)(i * 7 + 3);
	memcpy(sector, tag, sizeof(tag) - 1);
}

void block_self_test(void)
{
	struct block_device *dev = block_get(0);
	if (!dev) {
		kprintf("osv: blktest: no block device\n");
		return;
	}
	uint8_t *page = page_alloc(1), *whole = page_alloc(WHOLE_PAGES);
	if (!page || !whole) {
		kprintf("osv: blktest: out of memory\n");
		goto out;
	}
	uint64_t last = dev->sectors - 1;
	uint8_t *first = page, *tail = page + SECTOR_SIZE, *pattern = page + 2 * SECTOR_SIZE, *back = page + 3 * SECTOR_SIZE;
	if (!dev->sectors || dev->ops->read(dev, 0, 1, first) < 0 || dev->ops->read(dev, last, 1, tail) < 0) {
		kprintf("osv: blktest: %s: read failed\n", dev->name);
		goto out;
	}
	uint32_t whole_sectors = (uint32_t)MIN(dev->sectors, (uint64_t)WHOLE_PAGES * PAGE_SIZE / SECTOR_SIZE);
	if (dev->ops->read(dev, 0, whole_sectors, whole) < 0) {
		kprintf("osv: blktest: %s: read of %u sectors failed\n", dev->name, whole_sectors);
		goto out;
	}
	uint32_t sampled = FNV_OFFSET;
	for (uint32_t s = SAMPLE_STRIDE - 1; s < whole_sectors; s += SAMPLE_STRIDE)
		sampled = fnv1a_continue(sampled, whole + (size_t)s * SECTOR_SIZE, SECTOR_SIZE);
	kprintf("osv: blktest: %s sectors=%lu first=%08x last=%08x head%u-sampled=%08x\n", dev->name,
		dev->sectors, fnv1a(first, SECTOR_SIZE), fnv1a(tail, SECTOR_SIZE), whole_sectors, sampled);
	uint8_t cached[SECTOR_SIZE];
	bool cache_ok = bcache_read(dev, last * SECTOR_SIZE, cached, SECTOR_SIZE) == 0 &&
			memcmp(cached, tail, SECTOR_SIZE) == 0;
	kprintf("osv: blktest: bcache %s\n", cache_ok ? "match" : "MISMATCH");
	if (dev->read_only) {
		kprintf("osv: blktest: read-only, write skipped\n");
		goto out;
	}
	fill_pattern(pattern);
	int err = dev->ops->write(dev, last, 1, pattern);
	int flushed = err < 0 ? err : dev->ops->flush(dev);
	int reread = flushed < 0 ? flushed : dev->ops->read(dev, last, 1, back);
	bcache_invalidate(dev);
	if (err < 0 || flushed < 0 || reread < 0)
		kprintf("osv: blktest: write/flush/read back failed (%d %d %d)\n", err, flushed, reread);
	else
		kprintf("osv: blktest: wrote pattern=%08x, read back %s\n", fnv1a(pattern, SECTOR_SIZE),
			memcmp(pattern, back, SECTOR_SIZE) == 0 ? "match" : "MISMATCH");
	kverbose("osv: blktest: %lu device interrupts so far\n", irq_total());
out:
	if (page)
		page_free(page, 1);
	if (whole)
		page_free(whole, WHOLE_PAGES);
}
