/* Wait queues, waiting for conditions, sleeping and halting in place (see sched/wait.h). */
#include "arch/x86_64/clock.h"
#include "errno.h"
#include "lib.h"
#include "linux/signal.h"
#include "sched/deferred.h"
#include "sched/sched.h"
#include "sched/wait.h"

struct wait_entry {
	struct list link;
	struct thread *thread;
};

void wake_up_all_locked(struct wait_queue *wq)
{
	list_for_each(l, &wq->waiters) sched_wake_locked(list_entry(l, struct wait_entry, link)->thread, WAKE_EVENT);
}

void wake_up_all(struct wait_queue *wq)
{
	uint64_t flags = spin_lock_irqsave(&sched_lock);
	wake_up_all_locked(wq);
	spin_unlock_irqrestore(&sched_lock, flags);
}

static bool never(void *arg) { return false; }

int wait_event(struct wait_queue *wq, bool (*cond)(void *arg), void *arg, uint64_t deadline, uint64_t recheck_ns,
	       bool interruptible)
{
	struct thread *self = current_thread();
	if (self->idle) {
		bool done = halt_until(deadline ? deadline : ~0UL, recheck_ns ? recheck_ns : ~0UL, cond, arg);
		return done ? 0 : -ETIMEDOUT;
	}
	struct wait_entry entry = {LIST_INIT(entry.link), self};
	int result;
	for (;;) {
		uint64_t flags = spin_lock_irqsave(&sched_lock);
		if (wq && !list_linked(&entry.link))
			list_add_tail(&wq->waiters, &entry.link);
		self->state = THREAD_BLOCKED;
		self->wake_reason = WAKE_NONE;
		self->interruptible = interruptible; /* a signal from here on wakes it */
		spin_unlock_irqrestore(&sched_lock, flags);
		if (cond(arg)) {
			result = 0;
			break;
		}
		if (interruptible && signal_pending(self)) {
			result = -EINTR;
			break;
		}
		uint64_t now = clock_monotonic_ns(), wake = deadline;
		if (deadline && now >= deadline) {
			result = -ETIMEDOUT;
			break;
		}
		if (recheck_ns && (!wake || now + recheck_ns < wake))
			wake = now + recheck_ns;
		flags = spin_lock_irqsave(&sched_lock);
		sched_block_locked(wake, interruptible);
		spin_unlock_irqrestore(&sched_lock, flags);
	}
	uint64_t flags = spin_lock_irqsave(&sched_lock);
	if (list_linked(&entry.link))
		list_remove(&entry.link);
	self->state = THREAD_RUNNING;
	self->interruptible = false;
	spin_unlock_irqrestore(&sched_lock, flags);
	return result;
}

int sleep_until(uint64_t deadline, bool interruptible)
{
	int r = wait_event(NULL, never, NULL, deadline, 0, interruptible);
	return r == -ETIMEDOUT ? 0 : r;
}

static void nothing(struct ktimer *t) {}

bool halt_until(uint64_t deadline, uint64_t poll_ns, bool (*done)(void *arg), void *arg)
{
	bool interrupts_were_on = read_rflags() & RFLAGS_IF;
	struct ktimer alarm;
	timer_init(&alarm, nothing);
	bool finished;
	for (;;) {
		cli();
		deferred_run(); /* received packets and network timers are handled while we wait */
		finished = done(arg);
		if (finished)
			break;
		uint64_t now = clock_monotonic_ns();
		if (now >= deadline)
			break;
		uint64_t wake = deadline - now < poll_ns ? deadline : now + poll_ns;
		uint64_t flags = spin_lock_irqsave(&sched_lock);
		timer_arm(&alarm, wake);
		spin_unlock_irqrestore(&sched_lock, flags);
		timer_reprogram();
		sti_hlt();
	}
	uint64_t flags = spin_lock_irqsave(&sched_lock);
	timer_cancel(&alarm);
	spin_unlock_irqrestore(&sched_lock, flags);
	if (interrupts_were_on)
		sti();
	return finished;
}
