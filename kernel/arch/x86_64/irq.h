/* Device interrupts: vectors 48..254 handed to drivers (irq.c), the I/O APIC that routes wired
 * interrupt lines (GSIs) to them (ioapic.c), and the MSI message that targets the boot CPU. */
#pragma once
#include "types.h"

#define IRQ_FIRST_VECTOR 48
#define IRQ_LAST_VECTOR 254
#define MSI_ADDRESS_BASE 0xfee00000UL

typedef void (*irq_handler_t)(void *data);

/* A free vector for a device; its number, or -EBUSY when all are taken. */
int irq_alloc_vector(void);
/* Calls handler(data) on each interrupt at vector (then EOI); 0, -EINVAL or -EBUSY. */
int irq_register(int vector, irq_handler_t handler, void *data);
/* Called by trap_dispatch for vectors IRQ_FIRST_VECTOR..IRQ_LAST_VECTOR. */
void irq_dispatch(uint64_t vector);
/* Interrupts handled per vector, for diagnostics. */
uint64_t irq_count(int vector);
/* Device interrupts handled so far, all vectors. */
uint64_t irq_total(void);

/* Routes a GSI to vector on the boot CPU (level-triggered when level, active high); 0, or -ENODEV when
 * no I/O APIC serves that GSI. */
int ioapic_route(uint32_t gsi, int vector, bool level);
/* Whether an I/O APIC serves gsi. */
bool ioapic_present(uint32_t gsi);
