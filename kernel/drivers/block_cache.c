/* The block cache: up to BCACHE_BLOCKS blocks of 4 KiB from any block device, found through a hash of
 * (device, block number) and evicted least recently used first. Read by filesystems through
 * bcache_read(); filled through each device's block_ops. Single-threaded for now (no lock). */
#include "drivers/block.h"
#include "errno.h"
#include "lib.h"
#include "mm/mm.h"

#define HASH_BUCKETS 64
#define SECTORS_PER_BLOCK (BCACHE_BLOCK_SIZE / SECTOR_SIZE)

struct cached_block {
	struct block_device *dev;
	uint64_t number;
	void *data;                          /* one page */
	struct cached_block *hash_next;      /* bucket chain */
	struct cached_block *newer, *older;  /* LRU list */
};

static struct cached_block *buckets[HASH_BUCKETS];
static struct cached_block *newest, *oldest;
static int cached_count;

static struct cached_block **bucket_of(struct block_device *dev, uint64_t number)
{
	uint64_t h = ((uint64_t)dev >> 4) * 31 + number;
	return &buckets[(h ^ (h >> 7)) % HASH_BUCKETS];
}

static void lru_unlink(struct cached_block *b)
{
	if (b->newer)
		b->newer->older = b->older;
	else
		newest = b->older;
	if (b->older)
		b->older->newer = b->newer;
	else
		oldest = b->newer;
	b->newer = b->older = NULL;
}

static void lru_push_newest(struct cached_block *b)
{
	b->older = newest;
	b->newer = NULL;
	if (newest)
		newest->newer = b;
	newest = b;
	if (!oldest)
		oldest = b;
}

static void hash_unlink(struct cached_block *b)
{
	for (struct cached_block **p = bucket_of(b->dev, b->number); *p; p = &(*p)->hash_next) {
		if (*p == b) {
			*p = b->hash_next;
			return;
		}
	}
}

static struct cached_block *lookup(struct block_device *dev, uint64_t number)
{
	for (struct cached_block *b = *bucket_of(dev, number); b; b = b->hash_next)
		if (b->dev == dev && b->number == number)
			return b;
	return NULL;
}

/* A block record to fill: a new one while under the limit (and memory allows), else the oldest. */
static struct cached_block *take_block(void)
{
	if (cached_count < BCACHE_BLOCKS) {
		struct cached_block *b = kzalloc(sizeof(*b));
		if (b) {
			b->data = page_alloc(1);
			if (b->data) {
				cached_count++;
				return b;
			}
			kfree(b);
		}
	}
	struct cached_block *b = oldest;
	if (!b)
		return NULL;
	lru_unlink(b);
	hash_unlink(b);
	return b;
}

static void release_block(struct cached_block *b)
{
	page_free(b->data, 1);
	kfree(b);
	cached_count--;
}

/* The cached block number of dev, read on a miss; NULL on an I/O error or out of memory. */
static struct cached_block *get_block(struct block_device *dev, uint64_t number)
{
	struct cached_block *b = lookup(dev, number);
	if (b) {
		lru_unlink(b);
		lru_push_newest(b);
		return b;
	}
	b = take_block();
	if (!b)
		return NULL;
	uint64_t first = number * SECTORS_PER_BLOCK;
	uint32_t count = (uint32_t)MIN((uint64_t)SECTORS_PER_BLOCK, dev->sectors - first);
	if (count < SECTORS_PER_BLOCK)
		memset((char *)b->data + count * SECTOR_SIZE, 0, (SECTORS_PER_BLOCK - count) * SECTOR_SIZE);
	if (dev->ops->read(dev, first, count, b->data) < 0) {
		release_block(b);
		return NULL;
	}
	b->dev = dev;
	b->number = number;
	struct cached_block **bucket = bucket_of(dev, number);
	b->hash_next = *bucket;
	*bucket = b;
	lru_push_newest(b);
	return b;
}

int bcache_read(struct block_device *dev, uint64_t byte_offset, void *buf, size_t len)
{
	uint64_t device_bytes = dev->sectors * SECTOR_SIZE;
	if (byte_offset > device_bytes || len > device_bytes - byte_offset)
		return -EIO;
	char *out = buf;
	while (len) {
		uint64_t number = byte_offset / BCACHE_BLOCK_SIZE, within = byte_offset % BCACHE_BLOCK_SIZE;
		size_t n = MIN(len, BCACHE_BLOCK_SIZE - within);
		struct cached_block *b = get_block(dev, number);
		if (!b)
			return -EIO;
		memcpy(out, (char *)b->data + within, n);
		out += n;
		byte_offset += n;
		len -= n;
	}
	return 0;
}

void bcache_invalidate(struct block_device *dev)
{
	struct cached_block *b = oldest;
	while (b) {
		struct cached_block *next = b->newer;
		if (b->dev == dev) {
			lru_unlink(b);
			hash_unlink(b);
			release_block(b);
		}
		b = next;
	}
}
