/* --bootchart: each boot phase with its absolute and delta time since kernel entry, as OSv prints it. */
#include "arch/x86_64/clock.h"
#include "arch/x86_64/cpu.h"
#include "boot.h"
#include "lib.h"

#define MAX_PHASES 16

static struct {
	const char *name;
	uint64_t tsc;
} phases[MAX_PHASES];
static int phase_count;

/* Only the TSC is read here: converting to time (which may calibrate) waits until printing. */
void bootchart_mark(const char *phase)
{
	if (phase_count < MAX_PHASES)
		phases[phase_count++] = (typeof(phases[0])){phase, rdtsc()};
}

static void print_ms(const char *label, uint64_t ns)
{
	kprintf("%s%lu.%02lums", label, ns / 1000000, (ns / 10000) % 100);
}

void bootchart_print(void)
{
	uint64_t hz = clock_tsc_hz(), previous = 0;
	for (int i = 0; i < phase_count; i++) {
		uint64_t ns = clock_tsc_to_ns(phases[i].tsc);
		kprintf("  %-14s", phases[i].name);
		print_ms(" ", ns);
		print_ms(" (+", ns - previous);
		kprintf(")\n");
		previous = ns;
	}
	kprintf("  %-14s clock %s, TSC %lu MHz\n", "", clock_source(), hz / 1000000);
}
