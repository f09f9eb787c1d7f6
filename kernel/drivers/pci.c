/* PCI enumeration through configuration mechanism #1 (ports 0xcf8/0xcfc): bus 0 and every bus behind a
 * PCI-PCI bridge, each function's ids, the BARs of those a driver enables (sized by the all-ones probe
 * then: each configuration access is a trip into the hypervisor, and each change of the command
 * register's decoding bits makes QEMU rebuild its memory map), capabilities, MSI-X and INTx. Called by drivers_init (drivers/drivers.c) unless the command line says --nopci; hands devices
 * to drivers (virtio_pci_probe). */
#include "arch/x86_64/clock.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/irq.h"
#include "drivers/pci.h"
#include "drivers/virtio.h"
#include "errno.h"
#include "lib.h"
#include "mm/mm.h"

#define CONFIG_ADDRESS 0xcf8
#define CONFIG_DATA 0xcfc

#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0 0x10
#define PCI_SECONDARY_BUS 0x19
#define PCI_SUBSYSTEM_VENDOR 0x2c
#define PCI_CAPABILITIES 0x34
#define PCI_INTERRUPT_LINE 0x3c
#define COMMAND_IO (1u << 0)
#define COMMAND_MEMORY (1u << 1)
#define COMMAND_MASTER (1u << 2)
#define COMMAND_INTX_DISABLE (1u << 10)
#define STATUS_CAPABILITIES (1u << 4)
#define MSIX_ENABLE (1u << 15)
#define MSIX_FUNCTION_MASK (1u << 14)

static struct pci_device devices[MAX_PCI_DEVICES];
static int device_count;

static uint32_t config_address(uint8_t bus, uint8_t slot, uint8_t function, uint16_t offset)
{
	return 0x80000000u | (uint32_t)bus << 16 | (uint32_t)slot << 11 | (uint32_t)function << 8 | (offset & 0xfc);
}

static uint32_t config_read(uint8_t bus, uint8_t slot, uint8_t function, uint16_t offset)
{
	outl(CONFIG_ADDRESS, config_address(bus, slot, function, offset));
	return inl(CONFIG_DATA);
}

uint32_t pci_read32(const struct pci_device *dev, uint16_t offset)
{
	return config_read(dev->bus, dev->slot, dev->function, offset);
}

uint16_t pci_read16(const struct pci_device *dev, uint16_t offset)
{
	return pci_read32(dev, offset) >> ((offset & 2) * 8);
}

uint8_t pci_read8(const struct pci_device *dev, uint16_t offset)
{
	return pci_read32(dev, offset) >> ((offset & 3) * 8);
}

void pci_write32(const struct pci_device *dev, uint16_t offset, uint32_t value)
{
	outl(CONFIG_ADDRESS, config_address(dev->bus, dev->slot, dev->function, offset));
	outl(CONFIG_DATA, value);
}

void pci_write16(const struct pci_device *dev, uint16_t offset, uint16_t value)
{
	outl(CONFIG_ADDRESS, config_address(dev->bus, dev->slot, dev->function, offset));
	outw(CONFIG_DATA + (offset & 2), value);
}

uint8_t pci_find_capability(const struct pci_device *dev, uint8_t id, uint8_t after)
{
	if (!(pci_read16(dev, PCI_STATUS) & STATUS_CAPABILITIES))
		return 0;
	uint8_t offset = after ? pci_read8(dev, after + 1) : pci_read8(dev, PCI_CAPABILITIES);
	for (int guard = 0; guard < 48 && offset >= 0x40; guard++) { /* a looping list must not hang us */
		offset &= 0xfc;
		if (pci_read8(dev, offset) == id)
			return offset;
		offset = pci_read8(dev, offset + 1);
	}
	return 0;
}

/* Reads BAR i's address and size (decoding must be off); the number of slots it takes (1 or 2). */
static int read_bar(struct pci_device *dev, int i)
{
	uint16_t offset = PCI_BAR0 + 4 * i;
	uint32_t low = pci_read32(dev, offset);
	struct pci_bar *bar = &dev->bars[i];
	pci_write32(dev, offset, 0xffffffff);
	uint32_t mask = pci_read32(dev, offset);
	pci_write32(dev, offset, low);
	if (low & 1) {
		bar->io = true;
		bar->base = low & ~3u;
		uint32_t size_mask = mask & ~3u & 0xffff;
		bar->size = size_mask ? (~size_mask & 0xffff) + 1 : 0;
		return 1;
	}
	bar->prefetchable = low & 8;
	uint64_t base = low & ~0xfu, size_mask = (mask & ~0xfu) | 0xffffffff00000000UL;
	int slots = 1;
	if (((low >> 1) & 3) == 2 && i < 5) {
		bar->is64 = true;
		uint32_t high = pci_read32(dev, offset + 4);
		pci_write32(dev, offset + 4, 0xffffffff);
		uint32_t mask_high = pci_read32(dev, offset + 4);
		pci_write32(dev, offset + 4, high);
		base |= (uint64_t)high << 32;
		size_mask = ((uint64_t)mask_high << 32) | (mask & ~0xfu);
		slots = 2;
	}
	bar->base = base;
	bar->size = (mask & ~0xfu) ? ~size_mask + 1 : 0;
	return slots;
}

static void read_device(struct pci_device *dev)
{
	uint32_t class = pci_read32(dev, 0x08);
	dev->revision = class & 0xff;
	dev->prog_if = class >> 8;
	dev->subclass = class >> 16;
	dev->class_code = class >> 24;
	dev->header_type = pci_read8(dev, PCI_HEADER_TYPE) & 0x7f;
	if (dev->header_type != 0)
		return; /* bridges: no BARs we use */
	uint32_t subsystem = pci_read32(dev, PCI_SUBSYSTEM_VENDOR);
	dev->subsystem_vendor = subsystem;
	dev->subsystem_id = subsystem >> 16;
	uint32_t interrupt = pci_read32(dev, PCI_INTERRUPT_LINE);
	dev->irq_line = interrupt;
	dev->irq_pin = interrupt >> 8;
}


static void scan_bus(uint8_t bus, int depth);

static void scan_function(uint8_t bus, uint8_t slot, uint8_t function, int depth)
{
	uint32_t id = config_read(bus, slot, function, 0);
	if ((id & 0xffff) == 0xffff || (id & 0xffff) == 0)
		return;
	if (device_count == MAX_PCI_DEVICES) {
		kprintf("osv: pci: more than %d devices, ignoring %02x:%02x.%x\n", MAX_PCI_DEVICES, bus, slot, function);
		return;
	}
	struct pci_device *dev = &devices[device_count++];
	*dev = (struct pci_device){.bus = bus, .slot = slot, .function = function, .vendor = id, .device = id >> 16};
	read_device(dev);
	kverbose("osv: pci %02x:%02x.%x %04x:%04x class %02x%02x\n", bus, slot, function, dev->vendor, dev->device,
		 dev->class_code, dev->subclass);
	if (dev->class_code == 0x06 && dev->subclass == 0x04 && depth < 8) { /* PCI-PCI bridge */
		uint8_t secondary = pci_read8(dev, PCI_SECONDARY_BUS);
		if (secondary > bus)
			scan_bus(secondary, depth + 1);
	}
}

static void scan_bus(uint8_t bus, int depth)
{
	for (uint8_t slot = 0; slot < 32; slot++) {
		uint32_t id = config_read(bus, slot, 0, 0);
		if ((id & 0xffff) == 0xffff)
			continue;
		bool multifunction = config_read(bus, slot, 0, PCI_HEADER_TYPE & 0xfc) >> 16 & 0x80;
		for (uint8_t function = 0; function < (multifunction ? 8 : 1); function++)
			scan_function(bus, slot, function, depth);
	}
}

volatile void *pci_map_bar(const struct pci_device *dev, int bar, uint64_t offset, uint64_t length)
{
	if (bar < 0 || bar > 5)
		return NULL;
	const struct pci_bar *b = &dev->bars[bar];
	if (b->io || !b->size || !b->base || offset > b->size || length > b->size - offset)
		return NULL;
	if (b->base + b->size < b->base || b->base + b->size > (1UL << 46))
		return NULL; /* wraps or beyond the direct map */
	return vm_map_mmio(b->base + offset, length);
}

void pci_enable(struct pci_device *dev)
{
	uint16_t command = pci_read16(dev, PCI_COMMAND);
	if (command & (COMMAND_IO | COMMAND_MEMORY))
		pci_write16(dev, PCI_COMMAND, command & ~(COMMAND_IO | COMMAND_MEMORY));
	for (int i = 0; i < 6;)
		i += read_bar(dev, i);
	pci_write16(dev, PCI_COMMAND, command | COMMAND_IO | COMMAND_MEMORY | COMMAND_MASTER);
}

int pci_msix_enable(struct pci_device *dev)
{
	uint8_t cap = pci_find_capability(dev, PCI_CAP_MSIX, 0);
	if (!cap)
		return -ENODEV;
	uint16_t control = pci_read16(dev, cap + 2);
	uint32_t table = pci_read32(dev, cap + 4);
	uint16_t entries = (control & 0x7ff) + 1;
	volatile uint32_t *map = pci_map_bar(dev, table & 7, table & ~7u, entries * 16UL);
	if (!map)
		return -EINVAL;
	for (uint16_t i = 0; i < entries; i++)
		map[i * 4 + 3] = 1; /* masked */
	dev->msix_table = map;
	dev->msix_entries = entries;
	pci_write16(dev, cap + 2, (control | MSIX_ENABLE) & ~MSIX_FUNCTION_MASK);
	pci_write16(dev, PCI_COMMAND, pci_read16(dev, PCI_COMMAND) | COMMAND_INTX_DISABLE);
	return entries;
}

int pci_msix_set(struct pci_device *dev, uint16_t entry, int vector)
{
	if (!dev->msix_table || entry >= dev->msix_entries)
		return -EINVAL;
	volatile uint32_t *e = dev->msix_table + entry * 4;
	e[0] = MSI_ADDRESS_BASE | lapic_id() << 12;
	e[1] = 0;
	e[2] = vector; /* fixed delivery, edge */
	e[3] = 0;      /* unmasked */
	return 0;
}

int pci_intx_route(struct pci_device *dev, int vector)
{
	if (!dev->irq_pin || dev->irq_line == 0xff || dev->irq_line == 0)
		return -ENODEV;
	pci_write16(dev, PCI_COMMAND, pci_read16(dev, PCI_COMMAND) & ~COMMAND_INTX_DISABLE);
	return ioapic_route(dev->irq_line, vector, true);
}

/* Mechanism #1 is present when the address port keeps what we write. */
static bool pci_present(void)
{
	outl(CONFIG_ADDRESS, 0x80000000u);
	return inl(CONFIG_ADDRESS) == 0x80000000u;
}

int pci_init(void)
{
	if (!pci_present()) {
		kverbose("osv: pci: no configuration mechanism #1\n");
		return -ENODEV;
	}
	scan_bus(0, 0);
	for (int i = 0; i < device_count; i++)
		if (devices[i].vendor == VIRTIO_PCI_VENDOR && devices[i].header_type == 0)
			virtio_pci_probe(&devices[i]);
	return device_count;
}
