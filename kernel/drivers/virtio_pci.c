/* The virtio-pci modern transport (virtio 1.x §4.1): finds the COMMON, NOTIFY, ISR and DEVICE config
 * structures through the vendor capabilities, maps them, and routes queue interrupts through MSI-X
 * (falling back to INTx through the I/O APIC). Called by pci_init (drivers/pci.c) for vendor 0x1af4. */
#include "arch/x86_64/irq.h"
#include "drivers/pci.h"
#include "drivers/virtio.h"
#include "errno.h"
#include "lib.h"
#include "mm/mm.h"

#define CAP_COMMON 1
#define CAP_NOTIFY 2
#define CAP_ISR 3
#define CAP_DEVICE 4

/* struct virtio_pci_common_cfg offsets */
#define COMMON_DEVICE_FEATURE_SELECT 0x00
#define COMMON_DEVICE_FEATURE 0x04
#define COMMON_DRIVER_FEATURE_SELECT 0x08
#define COMMON_DRIVER_FEATURE 0x0c
#define COMMON_MSIX_CONFIG 0x10
#define COMMON_NUM_QUEUES 0x12
#define COMMON_STATUS 0x14
#define COMMON_CONFIG_GENERATION 0x15
#define COMMON_QUEUE_SELECT 0x16
#define COMMON_QUEUE_SIZE 0x18
#define COMMON_QUEUE_MSIX_VECTOR 0x1a
#define COMMON_QUEUE_ENABLE 0x1c
#define COMMON_QUEUE_NOTIFY_OFF 0x1e
#define COMMON_QUEUE_DESC 0x20
#define COMMON_QUEUE_DRIVER 0x28
#define COMMON_QUEUE_DEVICE 0x30
#define COMMON_LENGTH 0x38
#define NO_VECTOR 0xffff

struct virtio_pci {
	struct virtio_device vdev;
	struct pci_device *pci;
	volatile uint8_t *common, *isr, *device;
	volatile uint8_t *notify_base;
	uint32_t notify_multiplier, notify_length;
	bool msix;
	int vector;
};

static struct virtio_pci *of(struct virtio_device *dev) { return dev->transport_data; }
static uint8_t common_read8(struct virtio_pci *p, uint32_t o) { return *(volatile uint8_t *)(p->common + o); }
static uint16_t common_read16(struct virtio_pci *p, uint32_t o) { return *(volatile uint16_t *)(p->common + o); }
static uint32_t common_read32(struct virtio_pci *p, uint32_t o) { return *(volatile uint32_t *)(p->common + o); }
static void common_write8(struct virtio_pci *p, uint32_t o, uint8_t v) { *(volatile uint8_t *)(p->common + o) = v; }
static void common_write16(struct virtio_pci *p, uint32_t o, uint16_t v) { *(volatile uint16_t *)(p->common + o) = v; }
static void common_write32(struct virtio_pci *p, uint32_t o, uint32_t v) { *(volatile uint32_t *)(p->common + o) = v; }
static void common_write64(struct virtio_pci *p, uint32_t o, uint64_t v)
{
	common_write32(p, o, (uint32_t)v);
	common_write32(p, o + 4, (uint32_t)(v >> 32));
}

static uint64_t get_features(struct virtio_device *dev)
{
	struct virtio_pci *p = of(dev);
	common_write32(p, COMMON_DEVICE_FEATURE_SELECT, 0);
	uint64_t low = common_read32(p, COMMON_DEVICE_FEATURE);
	common_write32(p, COMMON_DEVICE_FEATURE_SELECT, 1);
	return low | (uint64_t)common_read32(p, COMMON_DEVICE_FEATURE) << 32;
}

static void set_features(struct virtio_device *dev, uint64_t features)
{
	struct virtio_pci *p = of(dev);
	common_write32(p, COMMON_DRIVER_FEATURE_SELECT, 0);
	common_write32(p, COMMON_DRIVER_FEATURE, (uint32_t)features);
	common_write32(p, COMMON_DRIVER_FEATURE_SELECT, 1);
	common_write32(p, COMMON_DRIVER_FEATURE, (uint32_t)(features >> 32));
}

static uint8_t get_status(struct virtio_device *dev) { return common_read8(of(dev), COMMON_STATUS); }
static void set_status(struct virtio_device *dev, uint8_t status) { common_write8(of(dev), COMMON_STATUS, status); }
static uint32_t config_generation(struct virtio_device *dev) { return common_read8(of(dev), COMMON_CONFIG_GENERATION); }

static uint32_t config_read(struct virtio_device *dev, uint32_t offset, int size)
{
	volatile uint8_t *at = of(dev)->device + offset;
	return size == 4 ? *(volatile uint32_t *)at : size == 2 ? *(volatile uint16_t *)at : *at;
}

static uint16_t queue_max_size(struct virtio_device *dev, uint16_t index)
{
	struct virtio_pci *p = of(dev);
	if (index >= common_read16(p, COMMON_NUM_QUEUES))
		return 0;
	common_write16(p, COMMON_QUEUE_SELECT, index);
	return common_read16(p, COMMON_QUEUE_SIZE);
}

static int queue_enable(struct virtio_device *dev, struct virtqueue *vq)
{
	struct virtio_pci *p = of(dev);
	common_write16(p, COMMON_QUEUE_SELECT, vq->index);
	common_write16(p, COMMON_QUEUE_SIZE, vq->size);
	if (p->msix) {
		common_write16(p, COMMON_QUEUE_MSIX_VECTOR, 0);
		if (common_read16(p, COMMON_QUEUE_MSIX_VECTOR) != 0) {
			kprintf("osv: virtio %s: the device refused MSI-X for queue %u\n", dev->location, vq->index);
			dev->use_interrupts = false;
		}
	}
	uint32_t offset = common_read16(p, COMMON_QUEUE_NOTIFY_OFF) * p->notify_multiplier;
	if (offset > p->notify_length || p->notify_length - offset < 2) {
		kprintf("osv: virtio %s: queue %u notifies outside its notify area\n", dev->location, vq->index);
		return -EINVAL;
	}
	vq->notify = (volatile uint16_t *)(p->notify_base + offset);
	common_write64(p, COMMON_QUEUE_DESC, vq->desc_pa);
	common_write64(p, COMMON_QUEUE_DRIVER, vq->avail_pa);
	common_write64(p, COMMON_QUEUE_DEVICE, vq->used_pa);
	common_write16(p, COMMON_QUEUE_ENABLE, 1);
	return 0;
}

static void notify(struct virtio_device *dev, struct virtqueue *vq) { *vq->notify = vq->index; }

static const struct virtio_transport pci_transport = {
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

/* MSI-X: nothing to acknowledge. INTx: reading the ISR acknowledges and lowers the line. Then the
 * driver hears of it. */
static void msix_interrupt(void *data)
{
	struct virtio_pci *p = data;
	if (p->vdev.on_interrupt)
		p->vdev.on_interrupt(&p->vdev);
}

static void intx_interrupt(void *data)
{
	struct virtio_pci *p = data;
	if (*p->isr && p->vdev.on_interrupt)
		p->vdev.on_interrupt(&p->vdev);
}

/* Maps the structure a virtio capability at cap describes; NULL when it is unusable. */
static volatile uint8_t *map_capability(struct pci_device *pci, uint8_t cap, uint32_t min_length, uint32_t *length)
{
	uint8_t bar = pci_read8(pci, cap + 4);
	uint32_t offset = pci_read32(pci, cap + 8), len = pci_read32(pci, cap + 12);
	if (len < min_length)
		return NULL;
	if (length)
		*length = len;
	return pci_map_bar(pci, bar, offset, len);
}

static int find_structures(struct virtio_pci *p)
{
	struct pci_device *pci = p->pci;
	for (uint8_t cap = pci_find_capability(pci, PCI_CAP_VENDOR, 0); cap;
	     cap = pci_find_capability(pci, PCI_CAP_VENDOR, cap)) {
		uint8_t type = pci_read8(pci, cap + 3), cap_len = pci_read8(pci, cap + 2);
		if (cap_len < 16)
			continue;
		if (type == CAP_COMMON && !p->common) {
			p->common = map_capability(pci, cap, COMMON_LENGTH, NULL);
		} else if (type == CAP_NOTIFY && !p->notify_base && cap_len >= 20) {
			p->notify_base = map_capability(pci, cap, 2, &p->notify_length);
			p->notify_multiplier = pci_read32(pci, cap + 16);
		} else if (type == CAP_ISR && !p->isr) {
			p->isr = map_capability(pci, cap, 1, NULL);
		} else if (type == CAP_DEVICE && !p->device) {
			uint32_t length = 0;
			p->device = map_capability(pci, cap, 1, &length);
			p->vdev.config_size = p->device ? length : 0;
		}
	}
	return p->common && p->notify_base && p->isr ? 0 : -ENODEV;
}

static int setup_interrupts(struct virtio_pci *p)
{
	p->vector = irq_alloc_vector();
	if (p->vector < 0)
		return p->vector;
	if (pci_msix_enable(p->pci) > 0 && pci_msix_set(p->pci, 0, p->vector) == 0) {
		p->msix = true;
		common_write16(p, COMMON_MSIX_CONFIG, NO_VECTOR);
		return irq_register(p->vector, msix_interrupt, p);
	}
	int err = irq_register(p->vector, intx_interrupt, p);
	if (err < 0)
		return err;
	return pci_intx_route(p->pci, p->vector);
}

void virtio_pci_probe(struct pci_device *pci)
{
	if (pci->device < 0x1000 || pci->device > 0x107f)
		return;
	struct virtio_pci *p = kzalloc(sizeof(*p));
	if (!p) {
		kprintf("osv: virtio-pci: out of memory\n");
		return;
	}
	p->pci = pci;
	p->vdev.transport = &pci_transport;
	p->vdev.transport_data = p;
	p->vdev.device_id = pci->device >= 0x1040 ? pci->device - 0x1040u : pci->subsystem_id;
	snprintf(p->vdev.location, sizeof(p->vdev.location), "pci %02x:%02x.%x", pci->bus, pci->slot, pci->function);
	pci_enable(pci);
	if (find_structures(p) < 0) {
		kprintf("osv: virtio %s: no modern (1.x) interface; legacy-only virtio-pci is not supported\n",
			p->vdev.location);
		kfree(p);
		return;
	}
	int err = setup_interrupts(p);
	p->vdev.use_interrupts = err == 0;
	if (err < 0)
		kverbose("osv: virtio %s: no interrupt (%d), polling\n", p->vdev.location, err);
	virtio_device_found(&p->vdev);
}
