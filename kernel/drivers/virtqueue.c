/* Split virtqueues (virtio 1.x §2.7): the descriptor free list, publishing available chains, taking used
 * ones, VIRTIO_F_RING_EVENT_IDX suppression, and the interrupt-driven wait. Used by drivers
 * (virtio_blk.c, virtio_net.c); queues are handed to devices by the transports' queue_enable. */
#include "arch/x86_64/clock.h"
#include "arch/x86_64/cpu.h"
#include "drivers/virtio.h"
#include "errno.h"
#include "lib.h"
#include "mm/mm.h"
#include "sched/wait.h"

static size_t ring_bytes(uint16_t size)
{
	size_t first = ALIGN_UP(16UL * size + 6 + 2UL * size, PAGE_SIZE); /* descriptors + avail */
	return first + ALIGN_UP(6 + 8UL * size, PAGE_SIZE);              /* used */
}

struct virtqueue *virtq_create(struct virtio_device *dev, uint16_t index, uint16_t max_size)
{
	uint16_t size = dev->transport->queue_max_size(dev, index);
	if (size == 0) {
		kprintf("osv: virtio %s: queue %u is missing\n", dev->location, index);
		return NULL;
	}
	if (size > max_size)
		size = max_size;
	while (size & (size - 1)) /* split rings of legacy devices must be a power of two */
		size &= size - 1;
	struct virtqueue *vq = kzalloc(sizeof(*vq));
	if (!vq)
		return NULL;
	vq->cookies = kzalloc(size * sizeof(void *));
	if (!vq->cookies)
		goto fail_cookies;
	vq->pages = ring_bytes(size) / PAGE_SIZE;
	vq->memory = page_alloc(vq->pages);
	if (!vq->memory)
		goto fail_memory;
	vq->dev = dev;
	vq->index = index;
	vq->size = size;
	vq->desc = vq->memory;
	vq->avail = (struct vring_avail *)((char *)vq->memory + 16UL * size);
	vq->used = (struct vring_used *)((char *)vq->memory + ALIGN_UP(16UL * size + 6 + 2UL * size, PAGE_SIZE));
	vq->desc_pa = virt_to_phys(vq->desc);
	vq->avail_pa = virt_to_phys(vq->avail);
	vq->used_pa = virt_to_phys((void *)vq->used);
	vq->event_idx = virtio_has_feature(dev, VIRTIO_F_RING_EVENT_IDX);
	for (uint16_t i = 0; i < size; i++)
		vq->desc[i].next = i + 1;
	vq->num_free = size;
	if (dev->transport->queue_enable(dev, vq) < 0)
		goto fail_enable;
	return vq;
fail_enable:
	page_free(vq->memory, vq->pages);
fail_memory:
	kfree(vq->cookies);
fail_cookies:
	kfree(vq);
	kprintf("osv: virtio %s: cannot set up queue %u\n", dev->location, index);
	return NULL;
}

int virtq_add(struct virtqueue *vq, const struct virtq_buffer *buffers, int count, void *cookie)
{
	if (count <= 0 || count > vq->num_free)
		return -ENOSPC;
	uint16_t head = vq->free_head, i = head, last = head;
	for (int n = 0; n < count; n++) {
		struct vring_desc *d = &vq->desc[i];
		d->addr = buffers[n].phys;
		d->len = buffers[n].len;
		d->flags = (buffers[n].device_writes ? VRING_DESC_F_WRITE : 0) | (n + 1 < count ? VRING_DESC_F_NEXT : 0);
		last = i;
		i = d->next;
	}
	vq->free_head = vq->desc[last].next;
	vq->num_free -= count;
	vq->cookies[head] = cookie;
	vq->avail->ring[vq->avail_idx % vq->size] = head;
	vq->avail_idx++;
	return 0;
}

void virtq_kick(struct virtqueue *vq)
{
	uint16_t old = vq->avail->idx, new = vq->avail_idx;
	if (old == new)
		return;
	memory_barrier(); /* descriptors and ring entries before the index */
	*(volatile uint16_t *)&vq->avail->idx = new;
	memory_barrier(); /* the index before reading the device's suppression hints */
	bool notify;
	if (vq->event_idx) {
		uint16_t event = *(volatile uint16_t *)&vq->used->ring[vq->size];
		notify = (uint16_t)(new - event - 1) < (uint16_t)(new - old);
	} else {
		notify = !(vq->used->flags & 1); /* VRING_USED_F_NO_NOTIFY */
	}
	if (notify)
		vq->dev->transport->notify(vq->dev, vq);
}

bool virtq_has_used(struct virtqueue *vq) { return vq->used->idx != vq->last_used; }

void *virtq_get_used(struct virtqueue *vq, uint32_t *len)
{
	if (!virtq_has_used(vq))
		return NULL;
	__asm__ volatile("" ::: "memory"); /* x86 keeps loads in order: the index before the entry */
	volatile struct vring_used_elem *e = &vq->used->ring[vq->last_used % vq->size];
	uint32_t id = e->id;
	if (len)
		*len = e->len;
	vq->last_used++;
	if (id >= vq->size || !vq->cookies[id]) {
		kprintf("osv: virtio %s: the device returned a bad descriptor %u\n", vq->dev->location, id);
		return NULL;
	}
	void *cookie = vq->cookies[id];
	vq->cookies[id] = NULL;
	/* Give the chain back to the free list. */
	uint16_t i = id;
	int count = 1;
	while ((vq->desc[i].flags & VRING_DESC_F_NEXT) && count < vq->size) {
		i = vq->desc[i].next;
		count++;
	}
	vq->desc[i].next = vq->free_head;
	vq->free_head = id;
	vq->num_free += count;
	return cookie;
}

bool virtq_interrupts(struct virtqueue *vq, bool on)
{
	if (vq->event_idx) {
		/* Off: an event index half the ring space away is never reached in practice. */
		uint16_t event = on ? vq->last_used : (uint16_t)(vq->last_used + 0x8000);
		*(volatile uint16_t *)&vq->avail->ring[vq->size] = event; /* used_event */
	} else {
		*(volatile uint16_t *)&vq->avail->flags = on ? 0 : VRING_AVAIL_F_NO_INTERRUPT;
	}
	memory_barrier(); /* publish before re-reading the used index */
	return on && virtq_has_used(vq);
}

static bool has_used(void *arg) { return virtq_has_used(arg); }

/* Spins up to DEVICE_SPIN_TSC ticks for the device when the clock is not calibrated yet and calibrating it
 * would cost a PIT measurement (no kvmclock: TCG). The first disk requests at boot usually finish within
 * that, so a boot that never asks for the time never pays for the calibration. */
static bool spin_before_calibrating(struct virtqueue *vq)
{
	uint64_t base, mult;
	if (cpu.kvm_clock || clock_tsc_conversion(&base, &mult))
		return false;
	uint64_t start = rdtsc();
	while (rdtsc() - start < DEVICE_SPIN_TSC) {
		if (virtq_has_used(vq))
			return true;
		cpu_relax();
	}
	return false;
}

bool virtq_wait(struct virtqueue *vq, uint64_t timeout_ns)
{
	if (vq->event_idx) {
		*(volatile uint16_t *)&vq->avail->ring[vq->size] = vq->last_used; /* used_event */
		memory_barrier();
	}
	if (spin_before_calibrating(vq))
		return true;
	uint64_t poll = vq->dev->use_interrupts ? DEVICE_POLL_NS : DEVICE_POLL_NS / 10;
	return halt_until(clock_monotonic_ns() + timeout_ns, poll, has_used, vq);
}
