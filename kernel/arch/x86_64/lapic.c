/* The local APIC: mapped and enabled on first use, its timer in one-shot mode at an absolute
 * deadline that sched/timer.c chooses (the earliest of kernel timers, deferred work and the end of a
 * time slice). The LAPIC's counting rate is measured against the TSC when a timer is first set, over
 * the time since the LAPIC was enabled (its counter runs masked from then), so usually without a wait. */
#include "arch/x86_64/clock.h"
#include "arch/x86_64/cpu.h"
#include "lib.h"
#include "mm/mm.h"
#include "sched/lock.h"
#include "sched/timer.h"

#define REG_ID 0x020
#define REG_EOI 0x0b0
#define REG_SPURIOUS 0x0f0
#define REG_LVT_TIMER 0x320
#define REG_TIMER_INITIAL 0x380
#define REG_TIMER_CURRENT 0x390
#define REG_TIMER_DIVIDE 0x3e0
#define LVT_MASKED (1u << 16)

static volatile uint32_t *lapic;
static uint64_t lapic_hz;
static uint64_t count_start_tsc; /* when the masked counter was started from 0xffffffff */
/* Shadows of the timer's state: every LAPIC access is a trap where kernel code is emulated (kvm_pvm),
 * and the timer is re-armed on every wake-up and context switch. */
static uint64_t armed_until; /* what the one-shot is counting down to; 0: stopped */
static bool lvt_unmasked;

static uint32_t lapic_read(uint32_t reg) { return lapic[reg / 4]; }
static void lapic_write(uint32_t reg, uint32_t v) { lapic[reg / 4] = v; }

/* Starts the masked counter from its top, as the reference lapic_calibrate measures against. */
static void start_reference_count(void)
{
	uint64_t before = rdtsc();
	lapic_write(REG_TIMER_INITIAL, 0xffffffff);
	count_start_tsc = before + (rdtsc() - before) / 2;
}

/* Maps and enables the local APIC; the timer's rate is measured only when a timer is first set, so
 * that routing interrupts at boot (which needs the APIC ID) does not calibrate the clocks. */
static void lapic_init(void)
{
	uint64_t base = rdmsr(MSR_APIC_BASE);
	wrmsr(MSR_APIC_BASE, base | (1UL << 11)); /* global enable */
	lapic = vm_map_mmio(base & 0xfffff000UL, PAGE_SIZE);
	if (!lapic)
		panic("cannot map the local APIC");
	lapic_write(REG_SPURIOUS, 0x100 | SPURIOUS_VECTOR);
	lapic_write(REG_TIMER_DIVIDE, 0xb); /* divide by 1 */
	lapic_write(REG_LVT_TIMER, LVT_MASKED | TIMER_VECTOR);
	start_reference_count();
}

/* The timer's counting rate: counts against TSC ticks since lapic_init, over at least ~1 ms (waiting
 * for the rest if less passed; starting over if the counter ran out, after seconds). */
static void lapic_calibrate(void)
{
	uint64_t tsc_hz = clock_tsc_hz();
	if (lapic_read(REG_TIMER_CURRENT) == 0)
		start_reference_count();
	while (rdtsc() - count_start_tsc < tsc_hz / 1000)
		cpu_relax();
	uint64_t before = rdtsc();
	uint32_t counted = 0xffffffff - lapic_read(REG_TIMER_CURRENT);
	uint64_t elapsed_ns = clock_tsc_to_ns(before + (rdtsc() - before) / 2) - clock_tsc_to_ns(count_start_tsc);
	lapic_write(REG_TIMER_INITIAL, 0);
	lapic_hz = elapsed_ns ? counted * 1000000000UL / elapsed_ns : 1000000000UL;
	if (!lapic_hz)
		lapic_hz = 1000000000UL;
}

void lapic_eoi(void)
{
	if (lapic)
		lapic_write(REG_EOI, 0);
}

void lapic_timer_arm(uint64_t deadline)
{
	/* Only ever earlier: an interrupt that comes before it is needed finds nothing due and re-arms
	 * (sched/timer.c), which costs less than re-programming on every change (each switch moves the
	 * end of a time slice). */
	if (!deadline || (armed_until && deadline >= armed_until))
		return;
	uint64_t flags = irq_save();
	if (!lapic)
		lapic_init();
	if (!lapic_hz)
		lapic_calibrate();
	uint64_t now = clock_monotonic_ns();
	uint64_t ns = deadline > now ? deadline - now : 1;
	if (ns > 4000000000UL) { /* callers loop until their deadline; this also keeps the product in 64 bits */
		ns = 4000000000UL;
		deadline = now + ns;
	}
	uint64_t count = ns * lapic_hz / 1000000000UL;
	if (count == 0)
		count = 1;
	if (count > 0xffffffffUL)
		count = 0xffffffffUL;
	if (!lvt_unmasked) {
		lapic_write(REG_LVT_TIMER, TIMER_VECTOR);
		lvt_unmasked = true;
	}
	lapic_write(REG_TIMER_INITIAL, (uint32_t)count);
	armed_until = deadline;
	irq_restore(flags);
}

void lapic_timer_interrupt(void)
{
	lapic_eoi();
	armed_until = 0; /* the one-shot has run out */
	timer_interrupt();
}

uint32_t lapic_id(void)
{
	if (!lapic)
		lapic_init();
	return lapic_read(REG_ID) >> 24;
}
