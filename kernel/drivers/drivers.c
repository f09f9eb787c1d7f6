/* drivers_init: finds the machine's devices at boot, called by kmain (main.c) after memory_init. PCI
 * enumeration (drivers/pci.c, skipped with --nopci) and the virtio-mmio devices the command line names
 * (drivers/virtio_mmio.c; without any, without PCI but with ACPI, QEMU microvm's fixed slots) each hand
 * their devices to the drivers; --blktest then exercises vblk0. Without ACPI (acpi=off, as osv runs
 * microvm) QEMU names every device on the command line, so there is nothing to scan: scanning costs
 * ~40 ms where the kernel is emulated (kvm_pvm). */
#include "drivers/block.h"
#include "drivers/drivers.h"
#include "drivers/pci.h"
#include "drivers/virtio.h"

void drivers_init(const struct boot_options *options)
{
	bool has_pci = !options->nopci && pci_init() >= 0;
	if (options->virtio_mmio_count)
		virtio_mmio_init(options->virtio_mmio, options->virtio_mmio_count);
	else if (!has_pci && !options->nopci && options->acpi)
		virtio_mmio_scan_microvm(); /* QEMU microvm with ACPI names its devices only in ACPI tables */
	if (options->blktest)
		block_self_test();
}
