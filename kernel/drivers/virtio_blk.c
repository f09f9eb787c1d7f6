/* virtio-blk (virtio 1.x §5.2): one request queue, several requests in flight, interrupt-driven waits
 * with a timeout, read-only and flush support. Probed by the virtio core (virtio.c) for device type 2;
 * registers each disk as vblkN with the block registry (block.c) for filesystems and the block cache. */
#include "arch/x86_64/clock.h"
#include "drivers/block.h"
#include "drivers/virtio.h"
#include "errno.h"
#include "lib.h"
#include "mm/mm.h"

#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_FLUSH 9

#define CONFIG_CAPACITY 0
#define CONFIG_SIZE_MAX 8

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_S_OK 0

#define MAX_SLOTS 32             /* requests in flight per disk */
#define DEFAULT_CHUNK_SECTORS 512 /* 256 KiB per request */
#define MAX_REQUEST_SEGMENTS 66   /* data buffers per request: 256 KiB in pages, plus partial ends */

/* One request's header and status, in DMA-able memory (the page of slots). */
struct request {
	uint32_t type, reserved;
	uint64_t sector;
	uint8_t status;
	bool busy;
};

struct vblk {
	struct block_device block;
	struct virtio_device *vdev;
	struct virtqueue *vq;
	struct request *slots;
	int slot_count;
	uint32_t chunk_sectors;
	bool broken; /* a request timed out: the ring state is unknown, refuse further I/O */
};

static int disk_count;

static struct request *take_slot(struct vblk *d)
{
	for (int i = 0; i < d->slot_count; i++) {
		if (!d->slots[i].busy) {
			d->slots[i].busy = true;
			return &d->slots[i];
		}
	}
	return NULL;
}

/* Queues one request: header, data buffers (physical ranges), status; 0 or -ENOSPC. */
static int submit(struct vblk *d, struct request *r, uint32_t type, uint64_t sector, const struct virtq_buffer *data,
		  int data_count)
{
	r->type = type;
	r->reserved = 0;
	r->sector = sector;
	r->status = 0xff;
	struct virtq_buffer buffers[2 + MAX_REQUEST_SEGMENTS];
	int n = 0;
	buffers[n++] = (struct virtq_buffer){virt_to_phys(r), 16, false};
	for (int i = 0; i < data_count; i++)
		buffers[n++] = data[i];
	buffers[n++] = (struct virtq_buffer){virt_to_phys(&r->status), 1, true};
	return virtq_add(d->vq, buffers, n, r);
}

/* Waits for at least one request to finish, then collects every finished one; 0, or -EIO when a
 * request failed or the device stopped answering. */
static int collect(struct vblk *d, int *in_flight)
{
	if (!virtq_wait(d->vq, DEVICE_TIMEOUT_NS)) {
		kprintf("osv: %s: the device did not answer within %lu s; giving up on it\n", d->block.name,
			DEVICE_TIMEOUT_NS / 1000000000UL);
		d->broken = true;
		virtio_fail(d->vdev);
		return -EIO;
	}
	int err = 0;
	struct request *r;
	while ((r = virtq_get_used(d->vq, NULL))) {
		if (r->status != VIRTIO_BLK_S_OK)
			err = -EIO;
		r->busy = false;
		(*in_flight)--;
	}
	return err;
}

/* Fills one request's data buffers from the segments at *si/*so: at most limit bytes and
 * MAX_REQUEST_SEGMENTS buffers, trimmed to whole sectors. Returns the bytes taken (0: none fit). */
static uint32_t take_segments(const struct block_segment *segs, int nsegs, int *si, uint32_t *so, uint32_t limit,
			      bool device_writes, struct virtq_buffer *out, int *count)
{
	int starts_si[MAX_REQUEST_SEGMENTS];
	uint32_t starts_so[MAX_REQUEST_SEGMENTS];
	uint32_t bytes = 0;
	int n = 0;
	while (bytes < limit && n < MAX_REQUEST_SEGMENTS && *si < nsegs) {
		uint32_t take = MIN(segs[*si].len - *so, limit - bytes);
		starts_si[n] = *si;
		starts_so[n] = *so;
		out[n++] = (struct virtq_buffer){segs[*si].pa + *so, take, device_writes};
		bytes += take;
		*so += take;
		if (*so == segs[*si].len) {
			(*si)++;
			*so = 0;
		}
	}
	/* A request moves whole sectors: give back the tail, possibly whole buffers. */
	for (uint32_t trim = bytes % SECTOR_SIZE; trim;) {
		struct virtq_buffer *last = &out[n - 1];
		uint32_t cut = MIN(trim, last->len);
		last->len -= cut;
		trim -= cut;
		bytes -= cut;
		*si = starts_si[n - 1];
		*so = starts_so[n - 1] + last->len;
		if (last->len == 0)
			n--;
	}
	*count = n;
	return bytes;
}

/* Splits a transfer into requests, keeps as many in flight as the ring allows, waits for all. The
 * segments' lengths add up to count sectors. */
static int transfer(struct vblk *d, uint32_t type, uint64_t sector, uint32_t count, const struct block_segment *segs,
		    int nsegs)
{
	if (d->broken)
		return -EIO;
	if (sector > d->block.sectors || count > d->block.sectors - sector)
		return -EIO;
	int in_flight = 0, err = 0, si = 0;
	uint32_t so = 0;
	while (count || in_flight) {
		bool added = false;
		while (count && !err) {
			struct request *r = take_slot(d);
			if (!r)
				break;
			struct virtq_buffer data[MAX_REQUEST_SEGMENTS];
			int data_count, saved_si = si;
			uint32_t saved_so = so;
			uint32_t limit = MIN(count, d->chunk_sectors) * SECTOR_SIZE;
			uint32_t bytes = take_segments(segs, nsegs, &si, &so, limit, type == VIRTIO_BLK_T_IN, data,
						       &data_count);
			if (bytes == 0) {
				r->busy = false;
				err = -EINVAL; /* segments smaller than a sector each: not a valid transfer */
				break;
			}
			if (submit(d, r, type, sector, data, data_count) < 0) {
				r->busy = false;
				si = saved_si;
				so = saved_so;
				break;
			}
			added = true;
			in_flight++;
			sector += bytes / SECTOR_SIZE;
			count -= bytes / SECTOR_SIZE;
		}
		if (added)
			virtq_kick(d->vq);
		if (!in_flight) {
			if (count && !err)
				err = -EIO; /* nothing in flight yet nothing could be queued */
			break;
		}
		int e = collect(d, &in_flight);
		if (e < 0)
			err = e;
		if (d->broken)
			return -EIO;
	}
	return err;
}

/* One segment over a kernel buffer (direct map or kernel image: physically contiguous). */
static int transfer_buffer(struct vblk *d, uint32_t type, uint64_t sector, uint32_t count, void *buf)
{
	if ((uint64_t)buf < DIRECT_MAP)
		return -EIO; /* not a kernel address: not known to be physically contiguous */
	struct block_segment seg = {virt_to_phys(buf), count * SECTOR_SIZE};
	return transfer(d, type, sector, count, &seg, 1);
}

static int vblk_read(struct block_device *dev, uint64_t sector, uint32_t count, void *buf)
{
	return transfer_buffer(dev->driver_data, VIRTIO_BLK_T_IN, sector, count, buf);
}

static int vblk_read_segments(struct block_device *dev, uint64_t sector, uint32_t count,
			      const struct block_segment *segs, int nsegs)
{
	return transfer(dev->driver_data, VIRTIO_BLK_T_IN, sector, count, segs, nsegs);
}

static int vblk_write(struct block_device *dev, uint64_t sector, uint32_t count, const void *buf)
{
	if (dev->read_only)
		return -EROFS;
	return transfer_buffer(dev->driver_data, VIRTIO_BLK_T_OUT, sector, count, (void *)buf);
}

static int vblk_flush(struct block_device *dev)
{
	struct vblk *d = dev->driver_data;
	if (!virtio_has_feature(d->vdev, VIRTIO_BLK_F_FLUSH))
		return 0; /* no volatile write cache to flush */
	if (d->broken)
		return -EIO;
	struct request *r = take_slot(d);
	if (!r || submit(d, r, VIRTIO_BLK_T_FLUSH, 0, NULL, 0) < 0) {
		if (r)
			r->busy = false;
		return -EIO;
	}
	virtq_kick(d->vq);
	int in_flight = 1, err = 0;
	while (in_flight && !err)
		err = collect(d, &in_flight);
	return err;
}

static const struct block_ops vblk_ops = {
    .read = vblk_read,
    .read_segments = vblk_read_segments,
    .write = vblk_write,
    .flush = vblk_flush,
};

void virtio_blk_probe(struct virtio_device *vdev)
{
	struct vblk *d = kzalloc(sizeof(*d));
	if (!d) {
		kprintf("osv: virtio-blk: out of memory\n");
		return;
	}
	uint64_t wanted = 1UL << VIRTIO_BLK_F_RO | 1UL << VIRTIO_BLK_F_FLUSH | 1UL << VIRTIO_BLK_F_SIZE_MAX |
			  1UL << VIRTIO_F_RING_EVENT_IDX;
	if (virtio_negotiate(vdev, wanted) < 0)
		goto fail_negotiate;
	uint64_t capacity = 0;
	if (virtio_config_read(vdev, CONFIG_CAPACITY, &capacity, 8) < 0) {
		kprintf("osv: virtio %s: block device config too short\n", vdev->location);
		goto fail_device;
	}
	d->chunk_sectors = DEFAULT_CHUNK_SECTORS;
	uint32_t size_max = 0;
	if (virtio_has_feature(vdev, VIRTIO_BLK_F_SIZE_MAX) && virtio_config_read(vdev, CONFIG_SIZE_MAX, &size_max, 4) == 0 &&
	    size_max)
		d->chunk_sectors = MAX(1u, MIN(d->chunk_sectors, size_max / SECTOR_SIZE));
	d->vq = virtq_create(vdev, 0, VIRTQUEUE_MAX_SIZE);
	if (!d->vq)
		goto fail_device;
	if (d->vq->size < 3) {
		kprintf("osv: virtio %s: request queue of %u descriptors is too small\n", vdev->location, d->vq->size);
		goto fail_device;
	}
	d->slot_count = MIN(MAX_SLOTS, d->vq->size / 3);
	static_assert(MAX_SLOTS * sizeof(struct request) <= PAGE_SIZE, "request slots fit a page");
	d->slots = page_alloc(1);
	if (!d->slots)
		goto fail_device;
	d->vdev = vdev;
	vdev->driver_data = d;
	snprintf(d->block.name, sizeof(d->block.name), "vblk%d", disk_count);
	d->block.sectors = capacity;
	d->block.read_only = virtio_has_feature(vdev, VIRTIO_BLK_F_RO);
	d->block.ops = &vblk_ops;
	d->block.driver_data = d;
	virtio_ready(vdev);
	if (block_register(&d->block) < 0) {
		kprintf("osv: virtio %s: too many block devices\n", vdev->location);
		goto fail_device;
	}
	disk_count++;
	kverbose("osv: virtio-blk %s: %lu sectors, %s, queue %u, %s, %s at %s\n", d->block.name, capacity,
		 d->block.read_only ? "read-only" : "read-write", d->vq->size,
		 virtio_has_feature(vdev, VIRTIO_BLK_F_FLUSH) ? "flush" : "no flush",
		 vdev->use_interrupts ? "interrupts" : "polling", vdev->location);
	return;
fail_device:
	virtio_fail(vdev);
fail_negotiate:
	kfree(d);
}
