/* Deferred work (see deferred.h): a flag set by interrupt handlers, the registered work functions and
 * their deadlines, and the wait queue of threads waiting for what the work brings about. Interrupt
 * handlers only set the flag; the work runs at safe points with interrupts off, never nested. */
#include "arch/x86_64/clock.h"
#include "param.h"
#include "sched/deferred.h"
#include "sched/timer.h"
#include "sched/wait.h"

#define MAX_DEFERRED 4

static struct {
	void (*run)(void);
	uint64_t (*next_deadline)(void);
} work[MAX_DEFERRED];
static int work_count;
volatile bool deferred_kicked;
static bool running;
static uint64_t known_deadline;
static struct wait_queue waiters = WAIT_QUEUE_INIT(waiters);

void deferred_register(void (*run)(void), uint64_t (*next_deadline)(void))
{
	if (work_count < MAX_DEFERRED)
		work[work_count++] = (typeof(work[0])){run, next_deadline};
}

void deferred_kick(void) { deferred_kicked = true; }

/* While kicked the work is due: it runs at the next safe point, which computes the next deadline. Until
 * then the timer need only come back now and then, in case the CPU is in user mode with nothing else
 * to bring it into the kernel (a past deadline would make it fire again and again in the meantime). */
uint64_t deferred_known_deadline(void)
{
	return deferred_kicked ? clock_monotonic_ns() + DEFERRED_RETRY_NS : known_deadline;
}

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
	known_deadline = d;
	if (d && now >= d)
		deferred_kicked = true;
}

void deferred_run(void)
{
	if (running || !work_count)
		return;
	running = true;
	uint64_t d = deferred_deadline();
	if (deferred_kicked || (d && clock_monotonic_ns() >= d)) {
		deferred_kicked = false;
		for (int i = 0; i < work_count; i++)
			work[i].run();
		wake_up_all(&waiters);
	}
	known_deadline = deferred_deadline();
	timer_reprogram();
	running = false;
}

int deferred_wait(bool (*cond)(void *arg), void *arg, uint64_t deadline, uint64_t recheck_ns, bool interruptible)
{
	return wait_event(&waiters, cond, arg, deadline, recheck_ns, interruptible);
}

void deferred_notify(void) { wake_up_all(&waiters); }

void deferred_notify_locked(void) { wake_up_all_locked(&waiters); }
