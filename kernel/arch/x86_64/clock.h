/* Time: the TSC as the clock (arch/x86_64/clock.c) and the LAPIC timer for sleeping (lapic.c). */
#pragma once
#include "types.h"

void clock_init(uint64_t boot_tsc);
/* Nanoseconds since kernel entry. Calibrates the TSC on first use (kvmclock, CPUID or the PIT). */
uint64_t clock_monotonic_ns(void);
/* Nanoseconds since the Unix epoch. */
uint64_t clock_realtime_ns(void);
uint64_t clock_tsc_hz(void);
/* Nanoseconds from kernel entry to the moment the TSC read tsc. */
uint64_t clock_tsc_to_ns(uint64_t tsc);
const char *clock_source(void);

void lapic_timer_interrupt(void);
/* Sleeps (hlt, woken by the LAPIC timer) until clock_monotonic_ns() >= deadline. */
void sleep_until_ns(uint64_t deadline);
#define TIMER_VECTOR 32
#define SPURIOUS_VECTOR 255
