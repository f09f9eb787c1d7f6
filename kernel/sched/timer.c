/* Kernel timers and the LAPIC deadline (see sched/timer.h). The armed timers are kept in one list
 * sorted by deadline (few are armed at once: sleeping threads, wait timeouts, interval timers), under
 * sched_lock. */
#include "arch/x86_64/clock.h"
#include "lib.h"
#include "sched/deferred.h"
#include "sched/sched.h"

static struct list timers = LIST_INIT(timers); /* [sched_lock] armed, earliest first */

void timer_init(struct ktimer *t, void (*fn)(struct ktimer *t))
{
	list_init(&t->link);
	t->deadline = 0;
	t->fn = fn;
}

void timer_arm(struct ktimer *t, uint64_t deadline)
{
	if (timer_armed(t))
		list_remove(&t->link);
	t->deadline = deadline;
	struct list *pos = timers.next;
	while (pos != &timers && list_entry(pos, struct ktimer, link)->deadline <= deadline)
		pos = pos->next;
	list_add_before(pos, &t->link);
	if (timers.next == &t->link)
		timer_reprogram(); /* the new earliest */
}

void timer_cancel(struct ktimer *t)
{
	if (timer_armed(t))
		list_remove(&t->link); /* the LAPIC may fire for nothing: harmless */
}

static void consider(uint64_t *earliest, uint64_t deadline)
{
	if (deadline && (!*earliest || deadline < *earliest))
		*earliest = deadline;
}

void timer_reprogram(void)
{
	uint64_t next = 0;
	if (!list_empty(&timers))
		consider(&next, list_entry(timers.next, struct ktimer, link)->deadline);
	consider(&next, deferred_known_deadline());
	consider(&next, sched_preempt_deadline());
	lapic_timer_arm(next);
}

void timer_interrupt(void)
{
	uint64_t now = clock_monotonic_ns();
	uint64_t flags = spin_lock_irqsave(&sched_lock);
	while (!list_empty(&timers)) {
		struct ktimer *t = list_entry(timers.next, struct ktimer, link);
		if (t->deadline > now)
			break;
		list_remove(&t->link);
		if (t->fn)
			t->fn(t);
	}
	sched_timer_tick(now);
	spin_unlock_irqrestore(&sched_lock, flags);
	deferred_timer_tick(now);
	timer_reprogram();
}
