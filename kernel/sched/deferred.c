/* Deferred work (see deferred.h): a flag set by interrupt handlers, the registered work functions and
 * their deadlines. Single CPU: interrupt handlers only set the flag, everything else runs at safe
 * points with interrupts off or from code that interrupts never re-enter. */
#include "arch/x86_64/clock.h"
#include "sched/deferred.h"

#define MAX_DEFERRED 4

static struct {
	void (*run)(void);
	uint64_t (*next_deadline)(void);
} work[MAX_DEFERRED];
static int work_count;
static volatile bool kicked;
static bool running;

void deferred_register(void (*run)(void), uint64_t (*next_deadline)(void))
{
	if (work_count < MAX_DEFERRED)
		work[work_count++] = (typeof(work[0])){run, next_deadline};
}

void deferred_kick(void) { kicked = true; }

bool deferred_pending(void) { return kicked; }

uint64_t deferred_deadline(void)
{
	uint64_t earliest = 0;
	for (int i = 0; i < work_count; i++) {
		uint64_t d = work[i].next_deadline ? work[i].next_deadline() : 0;
		if (d && (!earliest || d < earliest))
			earliest = d;
	}
	return earliest;
}

void deferred_timer_tick(uint64_t now)
{
	uint64_t d = deferred_deadline();
	if (d && now >= d)
		kicked = true;
}

void deferred_run(void)
{
	if (running || !work_count)
		return;
	running = true;
	uint64_t d = deferred_deadline();
	if (kicked || (d && clock_monotonic_ns() >= d)) {
		kicked = false;
		for (int i = 0; i < work_count; i++)
			work[i].run();
	}
	lapic_arm_background(deferred_deadline());
	running = false;
}
