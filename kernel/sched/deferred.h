/* Deferred work: what device interrupts and the timer leave to be done outside interrupt context (the
 * network stack's receive processing and timers, net/net.c). Interrupt handlers only note that work is
 * due; it runs at safe points where no kernel state is half-changed: when an interrupt arrives while
 * the app runs in ring 3 (trap_dispatch), at the end of every syscall (syscall_dispatch), and in the
 * halt loops of blocking waits (halt_until, arch/x86_64/lapic.c). The local APIC timer is kept armed
 * for the earliest deadline of the registered work, so timers run while the app computes too. */
#pragma once
#include "types.h"

/* Registers work: run() is called at a safe point after deferred_kick() or once next_deadline() (an
 * absolute clock_monotonic_ns time, 0 for none) has passed. */
void deferred_register(void (*run)(void), uint64_t (*next_deadline)(void));
/* From interrupt handlers: the work should run at the next safe point. */
void deferred_kick(void);
/* Whether deferred_run has something to do (cheap: a flag). */
bool deferred_pending(void);
/* Runs due work (never nested inside itself), then arms the LAPIC timer for the next deadline. */
void deferred_run(void);
/* The earliest deadline of the registered work; 0 when none. */
uint64_t deferred_deadline(void);
/* From the LAPIC timer interrupt: marks work due when its deadline has passed. */
void deferred_timer_tick(uint64_t now);
