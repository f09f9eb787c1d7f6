/* The virtio-mmio transport (virtio 1.x §4.2), both version 2 ("modern") and version 1 ("legacy",
 * QEMU microvm's default). Devices are announced on the kernel command line as Linux reads them,
 * `virtio_mmio.device=<size>@<base>:<irq>` (lib/cmdline.c collects the words); the irq is a GSI routed
 * through the I/O APIC. Called by drivers_init (drivers/drivers.c). */
#include "arch/x86_64/irq.h"
#include "drivers/virtio.h"
#include "errno.h"
#include "lib.h"
#include "mm/mm.h"

#define MMIO_MAGIC 0x000
#define MMIO_VERSION 0x004
#define MMIO_DEVICE_ID 0x008
#define MMIO_DEVICE_FEATURES 0x010
#define MMIO_DEVICE_FEATURES_SEL 0x014
#define MMIO_DRIVER_FEATURES 0x020
#define MMIO_DRIVER_FEATURES_SEL 0x024
#define MMIO_GUEST_PAGE_SIZE 0x028 /* legacy */
#define MMIO_QUEUE_SEL 0x030
#define MMIO_QUEUE_NUM_MAX 0x034
#define MMIO_QUEUE_NUM 0x038
#define MMIO_QUEUE_ALIGN 0x03c /* legacy */
#define MMIO_QUEUE_PFN 0x040   /* legacy */
#define MMIO_QUEUE_READY 0x044
#define MMIO_QUEUE_NOTIFY 0x050
#define MMIO_INTERRUPT_STATUS 0x060
#define MMIO_INTERRUPT_ACK 0x064
#define MMIO_STATUS 0x070
#define MMIO_QUEUE_DESC_LOW 0x080
#define MMIO_QUEUE_DRIVER_LOW 0x090
#define MMIO_QUEUE_DEVICE_LOW 0x0a0
#define MMIO_CONFIG_GENERATION 0x0fc
#define MMIO_CONFIG 0x100
#define MAGIC_VIRT 0x74726976 /* "virt" */

struct virtio_mmio {
	struct virtio_device vdev;
	volatile uint8_t *regs;
	uint64_t base, size;
	uint32_t irq;
};

static struct virtio_mmio *of(struct virtio_device *dev) { return dev->transport_data; }
static uint32_t reg_read(struct virtio_mmio *m, uint32_t r) { return *(volatile uint32_t *)(m->regs + r); }
static void reg_write(struct virtio_mmio *m, uint32_t r, uint32_t v) { *(volatile uint32_t *)(m->regs + r) = v; }

static uint64_t get_features(struct virtio_device *dev)
{
	struct virtio_mmio *m = of(dev);
	reg_write(m, MMIO_DEVICE_FEATURES_SEL, 0);
	uint64_t low = reg_read(m, MMIO_DEVICE_FEATURES);
	if (dev->legacy)
		return low;
	reg_write(m, MMIO_DEVICE_FEATURES_SEL, 1);
	return low | (uint64_t)reg_read(m, MMIO_DEVICE_FEATURES) << 32;
}

static void set_features(struct virtio_device *dev, uint64_t features)
{
	struct virtio_mmio *m = of(dev);
	reg_write(m, MMIO_DRIVER_FEATURES_SEL, 0);
	reg_write(m, MMIO_DRIVER_FEATURES, (uint32_t)features);
	reg_write(m, MMIO_DRIVER_FEATURES_SEL, 1);
	reg_write(m, MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
	if (dev->legacy)
		reg_write(m, MMIO_GUEST_PAGE_SIZE, PAGE_SIZE);
}

static uint8_t get_status(struct virtio_device *dev) { return reg_read(of(dev), MMIO_STATUS); }
static void set_status(struct virtio_device *dev, uint8_t status) { reg_write(of(dev), MMIO_STATUS, status); }

static uint32_t config_generation(struct virtio_device *dev)
{
	return dev->legacy ? 0 : reg_read(of(dev), MMIO_CONFIG_GENERATION);
}

static uint32_t config_read(struct virtio_device *dev, uint32_t offset, int size)
{
	volatile uint8_t *at = of(dev)->regs + MMIO_CONFIG + offset;
	return size == 4 ? *(volatile uint32_t *)at : size == 2 ? *(volatile uint16_t *)at : *at;
}

static uint16_t queue_max_size(struct virtio_device *dev, uint16_t index)
{
	struct virtio_mmio *m = of(dev);
	reg_write(m, MMIO_QUEUE_SEL, index);
	uint32_t in_use = dev->legacy ? reg_read(m, MMIO_QUEUE_PFN) : reg_read(m, MMIO_QUEUE_READY);
	uint32_t max = reg_read(m, MMIO_QUEUE_NUM_MAX);
	return in_use ? 0 : (uint16_t)MIN(max, 32768u);
}

static int queue_enable(struct virtio_device *dev, struct virtqueue *vq)
{
	struct virtio_mmio *m = of(dev);
	reg_write(m, MMIO_QUEUE_SEL, vq->index);
	reg_write(m, MMIO_QUEUE_NUM, vq->size);
	if (dev->legacy) {
		if (vq->desc_pa >> (32 + PAGE_SHIFT))
			return -EINVAL;
		reg_write(m, MMIO_QUEUE_ALIGN, PAGE_SIZE);
		reg_write(m, MMIO_QUEUE_PFN, (uint32_t)(vq->desc_pa >> PAGE_SHIFT));
		return 0;
	}
	reg_write(m, MMIO_QUEUE_DESC_LOW, (uint32_t)vq->desc_pa);
	reg_write(m, MMIO_QUEUE_DESC_LOW + 4, (uint32_t)(vq->desc_pa >> 32));
	reg_write(m, MMIO_QUEUE_DRIVER_LOW, (uint32_t)vq->avail_pa);
	reg_write(m, MMIO_QUEUE_DRIVER_LOW + 4, (uint32_t)(vq->avail_pa >> 32));
	reg_write(m, MMIO_QUEUE_DEVICE_LOW, (uint32_t)vq->used_pa);
	reg_write(m, MMIO_QUEUE_DEVICE_LOW + 4, (uint32_t)(vq->used_pa >> 32));
	reg_write(m, MMIO_QUEUE_READY, 1);
	return 0;
}

static void notify(struct virtio_device *dev, struct virtqueue *vq) { reg_write(of(dev), MMIO_QUEUE_NOTIFY, vq->index); }

static const struct virtio_transport mmio_transport = {
    .get_features = get_features,
    .set_features = set_features,
    .get_status = get_status,
    .set_status = set_status,
    .config_read = config_read,
    .config_generation = config_generation,
    .queue_max_size = queue_max_size,
    .queue_enable = queue_enable,
    .notify = notify,
};

/* Acknowledging lowers the (level) interrupt line; then the driver hears of it. */
static void mmio_interrupt(void *data)
{
	struct virtio_mmio *m = data;
	uint32_t status = reg_read(m, MMIO_INTERRUPT_STATUS);
	if (status)
		reg_write(m, MMIO_INTERRUPT_ACK, status);
	if (status && m->vdev.on_interrupt)
		m->vdev.on_interrupt(&m->vdev);
}

/* A number as Linux's memparse reads it: decimal, 0x hex or 0 octal, with an optional K/M/G suffix.
 * Advances *s; false when there are no digits. */
static bool parse_number(const char **s, uint64_t *out)
{
	const char *p = *s;
	unsigned base = 10;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	} else if (p[0] == '0' && p[1] >= '0' && p[1] <= '7') {
		base = 8;
	}
	uint64_t v = 0;
	const char *start = p;
	for (;; p++) {
		unsigned d;
		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (*p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else if (*p >= 'A' && *p <= 'F')
			d = *p - 'A' + 10;
		else
			break;
		if (d >= base)
			break;
		v = v * base + d;
	}
	if (p == start)
		return false;
	if (*p == 'K' || *p == 'k')
		v <<= 10, p++;
	else if (*p == 'M' || *p == 'm')
		v <<= 20, p++;
	else if (*p == 'G' || *p == 'g')
		v <<= 30, p++;
	*s = p;
	*out = v;
	return true;
}

/* "<size>@<base>:<irq>[:<id>]"; 0 or -EINVAL. */
static int parse_device(const char *text, uint64_t *size, uint64_t *base, uint64_t *irq)
{
	const char *p = text;
	if (!parse_number(&p, size) || *p++ != '@' || !parse_number(&p, base) || *p++ != ':' || !parse_number(&p, irq))
		return -EINVAL;
	if (*p && *p != ':')
		return -EINVAL;
	return 0;
}

static void probe_device(const char *text, bool quiet)
{
	uint64_t size, base, irq;
	if (parse_device(text, &size, &base, &irq) < 0 || size < MMIO_CONFIG || size > (1UL << 20) || !base ||
	    base + size < base || base + size > (1UL << 46) || irq > 255) {
		kprintf("osv: virtio-mmio: ignoring malformed virtio_mmio.device=%s\n", text);
		return;
	}
	volatile uint8_t *regs = vm_map_mmio(base, size);
	if (!regs) {
		kprintf("osv: virtio-mmio: cannot map %lx (inside RAM?)\n", base);
		return;
	}
	uint32_t magic = *(volatile uint32_t *)(regs + MMIO_MAGIC);
	uint32_t version = *(volatile uint32_t *)(regs + MMIO_VERSION);
	uint32_t device_id = *(volatile uint32_t *)(regs + MMIO_DEVICE_ID);
	if (magic != MAGIC_VIRT || (version != 1 && version != 2)) {
		if (quiet)
			return;
		kprintf("osv: virtio-mmio: no virtio device at %lx (magic %x, version %u)\n", base, magic, version);
		return;
	}
	if (device_id == 0)
		return; /* an empty slot */
	struct virtio_mmio *m = kzalloc(sizeof(*m));
	if (!m) {
		kprintf("osv: virtio-mmio: out of memory\n");
		return;
	}
	m->regs = regs;
	m->base = base;
	m->size = size;
	m->irq = irq;
	m->vdev.transport = &mmio_transport;
	m->vdev.transport_data = m;
	m->vdev.device_id = device_id;
	m->vdev.legacy = version == 1;
	m->vdev.config_size = size - MMIO_CONFIG;
	snprintf(m->vdev.location, sizeof(m->vdev.location), "mmio %lx%s", base, version == 1 ? " (legacy)" : "");
	int vector = irq_alloc_vector();
	int err = vector < 0 ? vector : irq_register(vector, mmio_interrupt, m);
	if (err == 0)
		err = ioapic_route(irq, vector, true);
	m->vdev.use_interrupts = err == 0;
	if (err < 0)
		kverbose("osv: virtio %s: cannot route irq %lu (%d), polling\n", m->vdev.location, irq, err);
	virtio_device_found(&m->vdev);
}

void virtio_mmio_init(const char *const *devices, int count)
{
	for (int i = 0; i < count; i++)
		probe_device(devices[i], false);
}

/* QEMU microvm with ACPI (its default) describes its virtio-mmio slots only in the DSDT and adds no
 * command line words. Its fixed layout: slots of 0x200 bytes from 0xfeb00000; with ACPI a second I/O
 * APIC (GSIs 24-47) serves 24 slots from GSI 24, without it 8 slots from GSI 5. */
#define MICROVM_MMIO_BASE 0xfeb00000UL
#define MICROVM_MMIO_SLOT 0x200

void virtio_mmio_scan_microvm(void)
{
	bool second_ioapic = ioapic_present(24);
	int slots = second_ioapic ? 24 : 8, irq_base = second_ioapic ? 24 : 5;
	for (int i = 0; i < slots; i++) {
		char text[48];
		snprintf(text, sizeof(text), "%u@0x%lx:%d", MICROVM_MMIO_SLOT, MICROVM_MMIO_BASE + i * MICROVM_MMIO_SLOT,
			 irq_base + i);
		probe_device(text, true);
	}
}
