/* The vDSO: clock_gettime, gettimeofday, time and getcpu as user-mode functions, mapped into every app
 * (linux/vdso.c) and found by the C library through AT_SYSINFO_EHDR. Time is the TSC (rdtsc works in
 * ring 3) scaled with what the kernel publishes in the data page below the image (vdso_data.h), by the
 * same formula as the kernel's own clock (arch/x86_64/clock.c), so both always agree. Until the kernel
 * has calibrated the TSC (lazily, on the first time syscall) and for the CPU-time clocks, the functions
 * make the syscall instead. Built by kernel/build.ts as position-independent user code, apart from the
 * kernel; it must need no relocations and no writable data. */
#include "vdso/vdso_data.h"

#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1
#define CLOCK_MONOTONIC_RAW 4
#define CLOCK_REALTIME_COARSE 5
#define CLOCK_MONOTONIC_COARSE 6
#define CLOCK_BOOTTIME 7
#define CLOCK_TAI 11
#define SYS_gettimeofday 96
#define SYS_time 201
#define SYS_clock_gettime 228
#define NSEC_PER_SEC 1000000000UL

struct timespec {
	int64_t sec, nsec;
};
struct timeval {
	int64_t sec, usec;
};
struct timezone {
	int32_t minuteswest, dsttime;
};

extern const struct vdso_data vvar_page __attribute__((visibility("hidden")));

static long syscall2(long nr, long a, long b)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"(nr), "D"(a), "S"(b) : "rcx", "r11", "memory");
	return r;
}

static inline uint64_t read_tsc(void)
{
	uint32_t low, high;
	__asm__ volatile("rdtsc" : "=a"(low), "=d"(high));
	return low | (uint64_t)high << 32;
}

#define barrier() __asm__ volatile("" ::: "memory")

/* Nanoseconds on CLOCK_MONOTONIC, or on CLOCK_REALTIME when realtime; false when the kernel has not
 * published what that takes yet. */
static bool now_ns(bool realtime, uint64_t *ns)
{
	const volatile struct vdso_data *d = &vvar_page;
	for (;;) {
		uint32_t seq = d->seq;
		barrier();
		if (seq & 1)
			continue;
		if (!d->clock_ready || (realtime && !d->realtime_ready))
			return false;
		uint64_t delta = read_tsc() - d->tsc_base;
		uint64_t value = (uint64_t)(((unsigned __int128)delta * d->tsc_mult) >> 32);
		if (realtime)
			value += d->realtime_offset_ns;
		barrier();
		if (d->seq == seq) {
			*ns = value;
			return true;
		}
	}
}

int __vdso_clock_gettime(int clock, struct timespec *ts)
{
	bool realtime;
	switch (clock) {
	case CLOCK_REALTIME:
	case CLOCK_REALTIME_COARSE:
	case CLOCK_TAI:
		realtime = true;
		break;
	case CLOCK_MONOTONIC:
	case CLOCK_MONOTONIC_RAW:
	case CLOCK_MONOTONIC_COARSE:
	case CLOCK_BOOTTIME:
		realtime = false;
		break;
	default: /* CPU-time and alarm clocks, and errors: the kernel knows */
		return (int)syscall2(SYS_clock_gettime, clock, (long)ts);
	}
	uint64_t ns;
	if (!now_ns(realtime, &ns))
		return (int)syscall2(SYS_clock_gettime, clock, (long)ts);
	ts->sec = (int64_t)(ns / NSEC_PER_SEC);
	ts->nsec = (int64_t)(ns % NSEC_PER_SEC);
	return 0;
}

int __vdso_gettimeofday(struct timeval *tv, struct timezone *tz)
{
	uint64_t ns;
	if (tv) {
		if (!now_ns(true, &ns))
			return (int)syscall2(SYS_gettimeofday, (long)tv, (long)tz);
		tv->sec = (int64_t)(ns / NSEC_PER_SEC);
		tv->usec = (int64_t)(ns % NSEC_PER_SEC / 1000);
	}
	if (tz) { /* the kernel keeps UTC, no DST */
		tz->minuteswest = 0;
		tz->dsttime = 0;
	}
	return 0;
}

int64_t __vdso_time(int64_t *t)
{
	uint64_t ns;
	if (!now_ns(true, &ns))
		return syscall2(SYS_time, (long)t, 0);
	int64_t sec = (int64_t)(ns / NSEC_PER_SEC);
	if (t)
		*t = sec;
	return sec;
}

int __vdso_getcpu(uint32_t *cpu, uint32_t *node, void *unused)
{
	if (cpu)
		*cpu = vvar_page.cpu;
	if (node)
		*node = 0; /* one NUMA node */
	return 0;
}

int clock_gettime(int clock, struct timespec *ts) __attribute__((weak, alias("__vdso_clock_gettime")));
int gettimeofday(struct timeval *tv, struct timezone *tz) __attribute__((weak, alias("__vdso_gettimeofday")));
int64_t time(int64_t *t) __attribute__((weak, alias("__vdso_time")));
int getcpu(uint32_t *cpu, uint32_t *node, void *unused) __attribute__((weak, alias("__vdso_getcpu")));
