/* The I/O APIC: routes wired interrupt lines (GSIs) to vectors on the boot CPU. Called by the virtio-mmio
 * probe (drivers/virtio_mmio.c) and the PCI INTx fallback (drivers/pci.c). The PC layout is assumed (no
 * ACPI MADT parsing yet): the first I/O APIC at 0xfec00000 serves GSIs 0-23; QEMU microvm with ACPI
 * adds a second one at 0xfec10000 for GSIs 24-47. Each is checked by its version register before use. */
#include "arch/x86_64/clock.h"
#include "arch/x86_64/irq.h"
#include "errno.h"
#include "lib.h"
#include "mm/mm.h"

#define IOAPIC_REGSEL 0x00
#define IOAPIC_WINDOW 0x10
#define IOAPIC_REG_VERSION 0x01
#define IOAPIC_REG_REDIRECT 0x10
#define REDIRECT_LEVEL (1u << 15)
#define REDIRECT_MASKED (1u << 16)

struct ioapic {
	uint64_t phys;
	uint32_t gsi_base;
	bool probed;
	volatile uint32_t *regs; /* NULL when absent */
	uint32_t pins;
};

static struct ioapic ioapics[] = {
    {.phys = 0xfec00000, .gsi_base = 0},
    {.phys = 0xfec10000, .gsi_base = 24},
};

static uint32_t ioapic_read(struct ioapic *io, uint32_t reg)
{
	io->regs[IOAPIC_REGSEL / 4] = reg;
	return io->regs[IOAPIC_WINDOW / 4];
}

static void ioapic_write(struct ioapic *io, uint32_t reg, uint32_t value)
{
	io->regs[IOAPIC_REGSEL / 4] = reg;
	io->regs[IOAPIC_WINDOW / 4] = value;
}

/* Maps the I/O APIC and reads its pin count; false when nothing sane answers there. */
static bool ioapic_probe(struct ioapic *io)
{
	if (io->probed)
		return io->regs != NULL;
	io->probed = true;
	io->regs = vm_map_mmio(io->phys, PAGE_SIZE);
	if (!io->regs)
		return false;
	uint32_t version = ioapic_read(io, IOAPIC_REG_VERSION);
	uint32_t pins = ((version >> 16) & 0xff) + 1;
	if (version == 0xffffffff || version == 0 || (version & 0xff) < 0x10 || pins > 120) {
		io->regs = NULL;
		return false;
	}
	io->pins = pins;
	return true;
}

/* The I/O APIC serving gsi, or NULL. */
static struct ioapic *ioapic_of(uint32_t gsi)
{
	for (size_t i = 0; i < ARRAY_SIZE(ioapics); i++) {
		struct ioapic *io = &ioapics[i];
		if (gsi >= io->gsi_base && ioapic_probe(io) && gsi < io->gsi_base + io->pins)
			return io;
	}
	return NULL;
}

bool ioapic_present(uint32_t gsi) { return ioapic_of(gsi) != NULL; }

int ioapic_route(uint32_t gsi, int vector, bool level)
{
	struct ioapic *io = ioapic_of(gsi);
	if (io) {
		uint32_t pin = gsi - io->gsi_base;
		uint32_t low = (uint32_t)vector | (level ? REDIRECT_LEVEL : 0); /* fixed, physical, active high */
		ioapic_write(io, IOAPIC_REG_REDIRECT + 2 * pin, REDIRECT_MASKED);
		ioapic_write(io, IOAPIC_REG_REDIRECT + 2 * pin + 1, lapic_id() << 24);
		ioapic_write(io, IOAPIC_REG_REDIRECT + 2 * pin, low);
		return 0;
	}
	return -ENODEV;
}
