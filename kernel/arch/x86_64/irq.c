/* The device interrupt table: drivers (virtio-pci MSI-X, virtio-mmio and PCI INTx through the I/O APIC)
 * register a handler per vector; trap_dispatch (traps.c) calls irq_dispatch for vectors 48..254, which
 * runs the handler and signals end of interrupt to the local APIC. */
#include "arch/x86_64/clock.h"
#include "arch/x86_64/irq.h"
#include "errno.h"

struct irq_slot {
	irq_handler_t handler;
	void *data;
	uint64_t count;
};

static struct irq_slot slots[IRQ_LAST_VECTOR + 1];
static int next_free = IRQ_FIRST_VECTOR;
static uint64_t total;

int irq_alloc_vector(void)
{
	while (next_free <= IRQ_LAST_VECTOR && slots[next_free].handler)
		next_free++;
	if (next_free > IRQ_LAST_VECTOR)
		return -EBUSY;
	return next_free++;
}

int irq_register(int vector, irq_handler_t handler, void *data)
{
	if (vector < IRQ_FIRST_VECTOR || vector > IRQ_LAST_VECTOR || !handler)
		return -EINVAL;
	if (slots[vector].handler)
		return -EBUSY;
	slots[vector].data = data;
	slots[vector].handler = handler;
	return 0;
}

void irq_dispatch(uint64_t vector)
{
	if (vector >= IRQ_FIRST_VECTOR && vector <= IRQ_LAST_VECTOR) {
		struct irq_slot *slot = &slots[vector];
		slot->count++;
		total++;
		if (slot->handler)
			slot->handler(slot->data);
	}
	lapic_eoi();
}

uint64_t irq_count(int vector)
{
	return vector >= IRQ_FIRST_VECTOR && vector <= IRQ_LAST_VECTOR ? slots[vector].count : 0;
}

uint64_t irq_total(void) { return total; }
