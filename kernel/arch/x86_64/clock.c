/* The TSC clock. Its frequency comes, in order of preference, from KVM's paravirtual clock, CPUID
 * leaf 0x15/0x16, or the PIT (TCG): PIT channel 0 starts counting at kernel entry, and calibration
 * (lazy, on the first request for the time) compares the TSC with it over everything that ran since,
 * waiting only if less than 5 ms passed. Wall-clock time comes from kvmclock or the CMOS RTC. */
#include "arch/x86_64/clock.h"
#include "arch/x86_64/cpu.h"
#include "lib.h"
#include "mm/mm.h"

struct pvclock_time {
	uint32_t version, pad0;
	uint64_t tsc_timestamp, system_time;
	uint32_t tsc_to_system_mul;
	int8_t tsc_shift;
	uint8_t flags, pad[2];
} PACKED;

struct pvclock_wall {
	uint32_t version, sec, nsec;
} PACKED;

#define PIT_HZ 1193182

static uint64_t boot_tsc, tsc_hz, ns_per_tsc_mult; /* ns = delta * mult >> 32 */
static uint64_t realtime_at_boot_ns;
static bool realtime_known;
static const char *source = "uncalibrated";
static struct pvclock_time pvclock __attribute__((aligned(64)));
static struct pvclock_wall pvwall __attribute__((aligned(64)));

static uint64_t kvmclock_hz(void)
{
	wrmsr(MSR_KVM_SYSTEM_TIME, virt_to_phys(&pvclock) | 1);
	uint64_t mul = pvclock.tsc_to_system_mul;
	int shift = pvclock.tsc_shift;
	if (!mul)
		return 0;
	uint64_t hz = (1000000000UL << 32) / mul; /* ticks per second before the shift */
	return shift >= 0 ? hz >> shift : hz << -shift;
}

static uint64_t cpuid_hz(void)
{
	uint32_t max, b, c, d, denominator, numerator, crystal;
	cpuid(0, 0, &max, &b, &c, &d);
	if (max >= 0x15) {
		cpuid(0x15, 0, &denominator, &numerator, &crystal, &d);
		if (denominator && numerator && crystal)
			return (uint64_t)crystal * numerator / denominator;
	}
	if (max >= 0x16) {
		uint32_t base_mhz;
		cpuid(0x16, 0, &base_mhz, &b, &c, &d);
		if (base_mhz)
			return (uint64_t)base_mhz * 1000000;
	}
	return 0;
}

/* The PIT reference: channel 0's count and the TSC when it was latched. */
static struct {
	uint64_t tsc;
	uint16_t count;
	bool running;
} pit_start_point;

/* Latches PIT channel 0's count and status together (read-back command, so no PC speaker port is
 * needed: microvm has none); false when the output has gone high, i.e. the count ran out (~55 ms after
 * it started) and may have wrapped, or there is no PIT (the bus floats). */
static bool pit_read(uint16_t *count, uint64_t *tsc)
{
	uint64_t before = rdtsc();
	outb(0x43, 0xc2); /* read back channel 0: count and status */
	*tsc = before + (rdtsc() - before) / 2;
	uint8_t status = inb(0x40);
	uint8_t low = inb(0x40);
	*count = low | (uint16_t)inb(0x40) << 8;
	return !(status & 0x80);
}

/* Starts channel 0 counting down from 0xffff in mode 0 (its IRQ is masked) and notes the start. */
static void pit_start(void)
{
	outb(0x43, 0x30); /* channel 0, lobyte/hibyte, mode 0 */
	outb(0x40, 0xff);
	outb(0x40, 0xff);
	pit_start_point.running = pit_read(&pit_start_point.count, &pit_start_point.tsc);
}

/* TSC ticks per second over at least 5 ms of PIT time since pit_start(), restarting it once if the
 * count ran out; 0 when there is no PIT. */
static uint64_t pit_hz(void)
{
	const uint32_t ticks = PIT_HZ / 200;
	bool restarted = false;
	if (!pit_start_point.running) {
		pit_start();
		restarted = true;
	}
	for (uint32_t polls = 0; polls < 50000000 && pit_start_point.running; polls++) {
		uint16_t now;
		uint64_t tsc;
		if (!pit_read(&now, &tsc) || now > pit_start_point.count) {
			if (restarted)
				break;
			pit_start();
			restarted = true;
			continue;
		}
		uint32_t counted = pit_start_point.count - now;
		if (counted >= ticks)
			return (tsc - pit_start_point.tsc) * PIT_HZ / counted;
	}
	return 0;
}

/* CPUID's KVM leaves offer the paravirtual clock. */
static bool kvmclock_offered(void)
{
	uint32_t a, b, c, d;
	cpuid(0x40000000, 0, &a, &b, &c, &d);
	if (b != 0x4b4d564b || c != 0x564b4d56 || d != 0x4d) /* "KVMKVMKVM" */
		return false;
	cpuid(0x40000001, 0, &a, &b, &c, &d);
	return a & (1u << 3);
}

void clock_init(uint64_t tsc_at_entry)
{
	boot_tsc = tsc_at_entry;
	/* The PIT is the only way left to calibrate (TCG): start its reference now, so that the boot work
	 * before the first request for the time replaces the wait. */
	if (!kvmclock_offered() && !cpuid_hz())
		pit_start();
}

static void calibrate(void)
{
	if (cpu.kvm_clock && (tsc_hz = kvmclock_hz()))
		source = "kvmclock";
	else if ((tsc_hz = cpuid_hz()))
		source = "cpuid";
	else if ((tsc_hz = pit_hz()))
		source = "pit";
	else {
		tsc_hz = 1000000000UL;
		source = "assumed 1 GHz";
		kprintf("osv: warning: cannot calibrate the TSC; assuming 1 GHz\n");
	}
	ns_per_tsc_mult = (1000000000UL << 32) / tsc_hz;
}

void clock_calibrate_if_free(void)
{
	uint16_t now;
	uint64_t tsc;
	if (tsc_hz || !pit_start_point.running || !pit_read(&now, &tsc) || now > pit_start_point.count ||
	    (uint32_t)(pit_start_point.count - now) < PIT_HZ / 200)
		return;
	calibrate();
}

uint64_t clock_tsc_hz(void)
{
	if (!tsc_hz)
		calibrate();
	return tsc_hz;
}

const char *clock_source(void) { return source; }

uint64_t clock_tsc_to_ns(uint64_t tsc)
{
	if (!tsc_hz)
		calibrate();
	return (uint64_t)(((unsigned __int128)(tsc - boot_tsc) * ns_per_tsc_mult) >> 32);
}

uint64_t clock_monotonic_ns(void) { return clock_tsc_to_ns(rdtsc()); }

bool clock_tsc_conversion(uint64_t *base, uint64_t *mult)
{
	*base = boot_tsc;
	*mult = ns_per_tsc_mult;
	return tsc_hz != 0;
}

bool clock_realtime_offset(uint64_t *offset_ns)
{
	*offset_ns = realtime_at_boot_ns;
	return realtime_known;
}

static uint8_t cmos_read(uint8_t reg)
{
	outb(0x70, reg);
	return inb(0x71);
}

static uint64_t bcd(uint8_t v, bool is_bcd) { return is_bcd ? (v & 0xf) + (v >> 4) * 10 : v; }

/* Days from 1970-01-01 to the given civil date (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static uint64_t rtc_epoch_seconds(void)
{
	for (int tries = 0; tries < 1000000 && (cmos_read(0x0a) & 0x80); tries++)
		cpu_relax(); /* update in progress */
	uint8_t status_b = cmos_read(0x0b);
	bool is_bcd = !(status_b & 0x04);
	uint64_t sec = bcd(cmos_read(0x00), is_bcd), min = bcd(cmos_read(0x02), is_bcd);
	uint8_t hour_raw = cmos_read(0x04);
	uint64_t hour = bcd(hour_raw & 0x7f, is_bcd);
	if (!(status_b & 0x02) && (hour_raw & 0x80))
		hour = (hour % 12) + 12; /* 12-hour clock, PM */
	uint64_t day = bcd(cmos_read(0x07), is_bcd), month = bcd(cmos_read(0x08), is_bcd);
	uint64_t year = bcd(cmos_read(0x09), is_bcd) + 2000;
	if (month < 1 || month > 12 || day < 1 || day > 31)
		return 0;
	return days_from_civil(year, month, day) * 86400 + hour * 3600 + min * 60 + sec;
}

uint64_t clock_realtime_ns(void)
{
	uint64_t now = clock_monotonic_ns();
	if (!realtime_known) {
		if (cpu.kvm_clock) {
			wrmsr(MSR_KVM_WALL_CLOCK, virt_to_phys(&pvwall));
			/* pvwall is the wall time at kvmclock zero; pvclock.system_time is kvmclock now-ish. */
			uint64_t tsc = rdtsc();
			uint64_t since_sample = (uint64_t)(((unsigned __int128)(tsc - pvclock.tsc_timestamp) *
							    ns_per_tsc_mult) >> 32);
			uint64_t wall_now = pvwall.sec * 1000000000UL + pvwall.nsec + pvclock.system_time + since_sample;
			realtime_at_boot_ns = wall_now - now;
		} else {
			realtime_at_boot_ns = rtc_epoch_seconds() * 1000000000UL - now;
		}
		realtime_known = true;
	}
	return realtime_at_boot_ns + now;
}
