/* PCI: devices found by drivers/pci.c through configuration mechanism #1 (ports 0xcf8/0xcfc), their
 * BARs, capabilities, MSI-X and the legacy INTx fallback. Used by PCI drivers (drivers/virtio_pci.c). */
#pragma once
#include "types.h"

#define PCI_CAP_MSIX 0x11
#define PCI_CAP_VENDOR 0x09

struct pci_bar {
	uint64_t base, size; /* size 0: not implemented */
	bool io, is64, prefetchable;
};

struct pci_device {
	uint8_t bus, slot, function;
	uint16_t vendor, device, subsystem_vendor, subsystem_id;
	uint8_t class_code, subclass, prog_if, revision, header_type;
	uint8_t irq_line, irq_pin;
	struct pci_bar bars[6];
	/* MSI-X, once pci_msix_enable() succeeded */
	volatile uint32_t *msix_table;
	uint16_t msix_entries;
};

uint8_t pci_read8(const struct pci_device *dev, uint16_t offset);
uint16_t pci_read16(const struct pci_device *dev, uint16_t offset);
uint32_t pci_read32(const struct pci_device *dev, uint16_t offset);
void pci_write16(const struct pci_device *dev, uint16_t offset, uint16_t value);
void pci_write32(const struct pci_device *dev, uint16_t offset, uint32_t value);

/* Offset of the first capability with id at or after the one following `after` (0: from the start);
 * 0 when none. */
uint8_t pci_find_capability(const struct pci_device *dev, uint8_t id, uint8_t after);
/* Maps [offset, offset+length) of a memory BAR (uncached) of an enabled device; NULL when the BAR is an
 * I/O BAR, absent, or too small. */
volatile void *pci_map_bar(const struct pci_device *dev, int bar, uint64_t offset, uint64_t length);
/* Turns MSI-X on with every entry masked; the number of entries, or -ENODEV / -EINVAL. */
int pci_msix_enable(struct pci_device *dev);
/* Points MSI-X entry at vector on the boot CPU and unmasks it; 0 or -EINVAL. */
int pci_msix_set(struct pci_device *dev, uint16_t entry, int vector);
/* Legacy INTx: routes the interrupt line to vector through the I/O APIC; 0 or -ENODEV. */
int pci_intx_route(struct pci_device *dev, int vector);
/* Sizes the BARs (which pci_map_bar needs), then turns mem/IO decoding and bus mastering on. */
void pci_enable(struct pci_device *dev);

/* Scans all buses (following bridges) and hands each device to its driver; the number of devices, or
 * -ENODEV when there is no PCI. */
int pci_init(void);
