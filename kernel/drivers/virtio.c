/* The virtio core: status handshake and feature negotiation (virtio 1.x §3.1, and the legacy variant),
 * consistent config reads, and the table of device drivers. Called by the transports (virtio_pci.c,
 * virtio_mmio.c) and by drivers (virtio_blk.c, virtio_net.c). */
#include "arch/x86_64/clock.h"
#include "arch/x86_64/cpu.h"
#include "drivers/virtio.h"
#include "errno.h"
#include "lib.h"

struct virtio_driver {
	uint32_t device_id;
	void (*probe)(struct virtio_device *dev);
};

static const struct virtio_driver drivers[] = {
    {VIRTIO_ID_NET, virtio_net_probe},
    {VIRTIO_ID_BLOCK, virtio_blk_probe},
};

void virtio_device_found(struct virtio_device *dev)
{
	for (size_t i = 0; i < ARRAY_SIZE(drivers); i++) {
		if (drivers[i].device_id == dev->device_id) {
			drivers[i].probe(dev);
			return;
		}
	}
	kverbose("osv: virtio %s: device type %u has no driver\n", dev->location, dev->device_id);
}

void virtio_fail(struct virtio_device *dev)
{
	dev->transport->set_status(dev, dev->transport->get_status(dev) | VIRTIO_STATUS_FAILED);
}

/* Writes 0 and waits (bounded) for the device to read back 0. */
static int virtio_reset(struct virtio_device *dev)
{
	dev->transport->set_status(dev, 0);
	if (dev->transport->get_status(dev) == 0)
		return 0; /* the usual case: no need to read (and so calibrate) the clock */
	uint64_t deadline = clock_monotonic_ns() + DEVICE_TIMEOUT_NS;
	while (dev->transport->get_status(dev) != 0) {
		if (clock_monotonic_ns() >= deadline)
			return -EIO;
		cpu_relax();
	}
	return 0;
}

int virtio_negotiate(struct virtio_device *dev, uint64_t wanted)
{
	const struct virtio_transport *t = dev->transport;
	if (virtio_reset(dev) < 0) {
		kprintf("osv: virtio %s: the device does not reset\n", dev->location);
		return -EIO;
	}
	t->set_status(dev, VIRTIO_STATUS_ACKNOWLEDGE);
	t->set_status(dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	uint64_t offered = t->get_features(dev);
	if (!dev->legacy) {
		if (!(offered & (1UL << VIRTIO_F_VERSION_1))) {
			kprintf("osv: virtio %s: the device does not offer VIRTIO_F_VERSION_1\n", dev->location);
			goto fail;
		}
		wanted |= 1UL << VIRTIO_F_VERSION_1;
	} else {
		wanted &= 0xffffffffUL & ~(1UL << VIRTIO_F_VERSION_1);
	}
	dev->features = offered & wanted;
	t->set_features(dev, dev->features);
	if (dev->legacy)
		return 0;
	t->set_status(dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	if (!(t->get_status(dev) & VIRTIO_STATUS_FEATURES_OK)) {
		kprintf("osv: virtio %s: the device refused features %lx\n", dev->location, dev->features);
		goto fail;
	}
	return 0;
fail:
	virtio_fail(dev);
	return -EIO;
}

void virtio_ready(struct virtio_device *dev)
{
	dev->transport->set_status(dev, dev->transport->get_status(dev) | VIRTIO_STATUS_DRIVER_OK);
}

static void config_read_once(struct virtio_device *dev, uint32_t offset, uint8_t *out, uint32_t len)
{
	for (uint32_t i = 0; i < len;) {
		uint32_t at = offset + i;
		int size = (at % 4 == 0 && len - i >= 4) ? 4 : (at % 2 == 0 && len - i >= 2) ? 2 : 1;
		uint32_t v = dev->transport->config_read(dev, at, size);
		for (int b = 0; b < size; b++)
			out[i + b] = v >> (8 * b);
		i += size;
	}
}

int virtio_config_read(struct virtio_device *dev, uint32_t offset, void *buf, uint32_t len)
{
	if (offset > dev->config_size || len > dev->config_size - offset)
		return -EINVAL;
	for (int tries = 0; tries < 100; tries++) {
		uint32_t before = dev->transport->config_generation(dev);
		config_read_once(dev, offset, buf, len);
		if (dev->transport->config_generation(dev) == before)
			return 0;
	}
	return -EIO;
}
