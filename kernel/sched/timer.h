/* Kernel timers (sched/timer.c): a callback at an absolute clock_monotonic_ns deadline, run from the
 * LAPIC timer interrupt with sched_lock held (so callbacks only wake threads, queue signals or set
 * flags). The timer module is the one place that decides when the LAPIC fires next: the earliest of
 * the armed timers, deferred work's next deadline (sched/deferred.h) and the end of the running
 * thread's time slice when others are waiting to run. */
#pragma once
#include "list.h"
#include "types.h"

struct ktimer {
	struct list link; /* in the sorted timer list while armed */
	uint64_t deadline;
	void (*fn)(struct ktimer *t);
};

void timer_init(struct ktimer *t, void (*fn)(struct ktimer *t));
/* Arms (or re-arms) t for deadline. sched_lock held. */
void timer_arm(struct ktimer *t, uint64_t deadline);
/* Disarms t if armed. sched_lock held. */
void timer_cancel(struct ktimer *t);
static inline bool timer_armed(const struct ktimer *t) { return list_linked(&t->link); }
/* Programs the LAPIC for the next thing due (interrupts off). */
void timer_reprogram(void);
/* The LAPIC timer interrupt: runs due timers, marks deferred work and preemption due, re-arms. */
void timer_interrupt(void);
