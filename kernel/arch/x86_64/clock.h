/* Time: the TSC as the clock (arch/x86_64/clock.c) and the LAPIC timer (lapic.c). */
#pragma once
#include "types.h"

void clock_init(uint64_t boot_tsc);
/* Nanoseconds since kernel entry. Calibrates the TSC on first use (kvmclock, CPUID or the PIT). */
uint64_t clock_monotonic_ns(void);
/* Nanoseconds since the Unix epoch. */
uint64_t clock_realtime_ns(void);
uint64_t clock_tsc_hz(void);
/* Calibrates now if that needs no wait (the PIT reference has run 5 ms, and not yet out): called before
 * the app starts, so that its first request for the time, maybe after the reference ran out, never waits. */
void clock_calibrate_if_free(void);
/* Nanoseconds from kernel entry to the moment the TSC read tsc. */
uint64_t clock_tsc_to_ns(uint64_t tsc);
const char *clock_source(void);
/* The conversion clock_monotonic_ns() makes, for clocks read in user mode (the vDSO): nanoseconds =
 * (tsc - *base) * *mult >> 32. False (and nothing calibrated) while no one has asked for the time. */
bool clock_tsc_conversion(uint64_t *base, uint64_t *mult);
/* clock_realtime_ns() - clock_monotonic_ns(), constant once known; false until the wall clock was read. */
bool clock_realtime_offset(uint64_t *offset_ns);

/* The LAPIC timer interrupt: end of interrupt, then sched/timer.c's timer_interrupt. */
void lapic_timer_interrupt(void);
/* Makes the LAPIC one-shot fire by an absolute clock_monotonic_ns deadline: nothing when it is already
 * armed for that or earlier (or deadline is 0); the interrupt then finds out what is due. Only
 * sched/timer.c decides the deadline. */
void lapic_timer_arm(uint64_t deadline);
/* End of interrupt for the interrupt being handled. */
void lapic_eoi(void);
/* The boot CPU's local APIC id (maps the LAPIC on first use): the destination of MSI-X and I/O APIC
 * interrupts. */
uint32_t lapic_id(void);
#define TIMER_VECTOR 32
#define SPURIOUS_VECTOR 255
