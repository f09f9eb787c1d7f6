/* virtio: the device model shared by the transports (virtio_pci.c, virtio_mmio.c), the core that
 * negotiates features and drives the status handshake (virtio.c), split virtqueues (virtqueue.c), and
 * the device drivers that use them (virtio_blk.c, virtio_net.c). */
#pragma once
#include "param.h"
#include "types.h"

struct pci_device;

#define VIRTIO_PCI_VENDOR 0x1af4

#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_FAILED 128

#define VIRTIO_F_ANY_LAYOUT 27
#define VIRTIO_F_RING_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32

#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2

#define VRING_DESC_F_NEXT 1
#define VRING_DESC_F_WRITE 2
#define VRING_AVAIL_F_NO_INTERRUPT 1

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

struct vring_avail {
	uint16_t flags, idx;
	uint16_t ring[]; /* size entries, then used_event (VIRTIO_F_RING_EVENT_IDX) */
};

struct vring_used_elem {
	uint32_t id, len;
};

struct vring_used {
	uint16_t flags, idx;
	struct vring_used_elem ring[]; /* size entries, then avail_event (uint16_t) */
};

struct virtio_device;

/* A split virtqueue in one zeroed, physically contiguous allocation laid out as legacy devices need it:
 * descriptors, available ring, then (page aligned) used ring. Single-threaded: the caller serializes. */
struct virtqueue {
	struct virtio_device *dev;
	uint16_t index, size;
	uint16_t free_head, num_free;
	uint16_t avail_idx; /* next avail->idx to publish */
	uint16_t last_used; /* used entries consumed so far */
	bool event_idx;
	struct vring_desc *desc;
	struct vring_avail *avail;
	volatile struct vring_used *used;
	uint64_t desc_pa, avail_pa, used_pa;
	void *memory;
	size_t pages;
	void **cookies; /* by head descriptor */
	volatile uint16_t *notify; /* virtio-pci: the doorbell of this queue */
};

/* What a transport does for the core. Offsets in config_* are into the device-specific config. */
struct virtio_transport {
	uint64_t (*get_features)(struct virtio_device *dev);
	void (*set_features)(struct virtio_device *dev, uint64_t features);
	uint8_t (*get_status)(struct virtio_device *dev);
	void (*set_status)(struct virtio_device *dev, uint8_t status);
	/* One naturally aligned read of size 1, 2 or 4 bytes. */
	uint32_t (*config_read)(struct virtio_device *dev, uint32_t offset, int size);
	uint32_t (*config_generation)(struct virtio_device *dev);
	/* The largest size queue index may have; 0 when absent. */
	uint16_t (*queue_max_size)(struct virtio_device *dev, uint16_t index);
	/* Gives the device a queue built by virtq_create; 0 or -errno. */
	int (*queue_enable)(struct virtio_device *dev, struct virtqueue *vq);
	void (*notify)(struct virtio_device *dev, struct virtqueue *vq);
};

struct virtio_device {
	const struct virtio_transport *transport;
	char location[32];  /* "pci 00:04.0", "mmio 0xfeb00e00" */
	uint32_t device_id; /* VIRTIO_ID_* */
	bool legacy;        /* virtio 0.9.5 (virtio-mmio version 1): no VERSION_1, no FEATURES_OK */
	bool use_interrupts; /* false: waits poll the rings */
	uint64_t features;  /* negotiated */
	uint32_t config_size; /* bytes of device config the transport can reach */
	void *transport_data;
	void *driver_data;
	/* Called by the transport from the device's interrupt handler (interrupt context: keep it short). */
	void (*on_interrupt)(struct virtio_device *dev);
};

/* Called by transports for each device found: picks the driver by device_id. */
void virtio_device_found(struct virtio_device *dev);
/* Reset, ACKNOWLEDGE, DRIVER, feature negotiation (wanted & offered, plus VERSION_1 which modern
 * devices must offer), FEATURES_OK. 0 or -errno (the device is then marked FAILED). */
int virtio_negotiate(struct virtio_device *dev, uint64_t wanted);
static inline bool virtio_has_feature(const struct virtio_device *dev, int bit)
{
	return dev->features & (1UL << bit);
}
/* DRIVER_OK: the device may start using its queues. */
void virtio_ready(struct virtio_device *dev);
/* Marks the device FAILED (after a driver error). */
void virtio_fail(struct virtio_device *dev);
/* Reads len bytes of device config at offset, consistently (retrying on a generation change); 0 or
 * -EINVAL when outside the config the transport exposes. */
int virtio_config_read(struct virtio_device *dev, uint32_t offset, void *buf, uint32_t len);

/* Virtqueues (virtqueue.c). */
struct virtq_buffer {
	uint64_t phys;
	uint32_t len;
	bool device_writes;
};
/* Creates queue index with at most max_size descriptors and hands it to the device; NULL on failure
 * (absent queue, bad size, out of memory). */
struct virtqueue *virtq_create(struct virtio_device *dev, uint16_t index, uint16_t max_size);
/* Chains count buffers (device-readable ones first) and makes them available; cookie comes back from
 * virtq_get_used. 0, or -ENOSPC when too few descriptors are free. The device sees them at virtq_kick. */
int virtq_add(struct virtqueue *vq, const struct virtq_buffer *buffers, int count, void *cookie);
/* Notifies the device of newly added buffers (unless it asked not to be). */
void virtq_kick(struct virtqueue *vq);
/* True when the device has returned buffers not yet taken. */
bool virtq_has_used(struct virtqueue *vq);
/* Takes one returned chain: its cookie (len: bytes the device wrote), or NULL when none. */
void *virtq_get_used(struct virtqueue *vq, uint32_t *len);
/* Asks for an interrupt on the next returned buffer, then halts until there is one or timeout_ns
 * passes; true when there is one. */
bool virtq_wait(struct virtqueue *vq, uint64_t timeout_ns);
/* Asks for an interrupt on the next returned buffer (or, when off, for none at all: a hint devices
 * may ignore); true when buffers came back meanwhile (the caller must take them: no interrupt will). */
bool virtq_interrupts(struct virtqueue *vq, bool on);

/* Transports. */
void virtio_pci_probe(struct pci_device *pci);
/* Parses `virtio_mmio.device=` values and probes each. */
void virtio_mmio_init(const char *const *devices, int count);
/* Probes QEMU microvm's fixed virtio-mmio slots (for when the command line names none). */
void virtio_mmio_scan_microvm(void);

/* Drivers. */
void virtio_blk_probe(struct virtio_device *dev);
void virtio_net_probe(struct virtio_device *dev);
