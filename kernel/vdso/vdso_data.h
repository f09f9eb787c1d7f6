/* The vDSO's data page ([vvar]): what the kernel (linux/vdso.c) publishes for the user-mode clock
 * functions of the vDSO (vdso/vdso.c), which read it without a syscall. Shared by both builds. */
#pragma once
#include "types.h"

struct vdso_data {
	/* Odd while the kernel changes the fields below; readers retry when it moved under them. */
	volatile uint32_t seq;
	uint32_t clock_ready;    /* the TSC is calibrated: tsc_base and tsc_mult are valid */
	uint32_t realtime_ready; /* the wall clock has been read: realtime_offset_ns is valid */
	uint32_t cpu;            /* the CPU the app runs on (getcpu) */
	uint64_t tsc_base;       /* TSC at time zero of CLOCK_MONOTONIC */
	uint64_t tsc_mult;       /* nanoseconds = (tsc - tsc_base) * tsc_mult >> 32 */
	uint64_t realtime_offset_ns; /* CLOCK_REALTIME = CLOCK_MONOTONIC + this */
};
