/* The scheduler: run queue, context switches, time slices, blocking and waking, the idle loop, CPU
 * time accounting. See sched/sched.h for the rules; one run queue (one CPU today). */
#include "arch/x86_64/clock.h"
#include "arch/x86_64/context.h"
#include "lib.h"
#include "param.h"
#include "sched/deferred.h"
#include "sched/sched.h"

struct spinlock sched_lock = SPINLOCK_INIT("sched");
static struct list run_queue = LIST_INIT(run_queue); /* [sched_lock] ready threads, in order */
static struct thread boot_idle;                      /* the boot CPU's idle thread: the boot stack */

NORETURN void spin_deadlock(struct spinlock *l) { panic("deadlock on %s lock", l->name); }

void sched_init(void)
{
	struct percpu *c = this_cpu();
	boot_idle.idle = true;
	boot_idle.state = THREAD_RUNNING;
	boot_idle.on_cpu = true;
	list_init(&boot_idle.run_link);
	list_init(&boot_idle.all_link);
	c->idle = &boot_idle;
	c->thread = &boot_idle;
}

static void account_switch_out(struct thread *t, uint64_t now)
{
	if (t->idle)
		this_cpu()->idle_ns += now - t->ran_since;
	else
		t->run_ns += now - t->ran_since;
}

uint64_t sched_thread_cpu_ns(const struct thread *t)
{
	uint64_t ns = t->run_ns;
	if (t->on_cpu && t == current_thread())
		ns += clock_monotonic_ns() - t->ran_since;
	return ns;
}

uint64_t sched_process_cpu_ns(void)
{
	struct percpu *c = this_cpu();
	uint64_t now = clock_monotonic_ns(), idle = c->idle_ns;
	if (c->thread->idle)
		idle += now - c->thread->ran_since;
	return now > idle ? now - idle : 0;
}

/* sched_lock held: puts a ready thread at the back of the run queue. When it is the first one
 * waiting, the running thread gets at most SCHED_WAKEUP_NS more (or what is left of its slice). */
static void enqueue(struct thread *t)
{
	bool first = list_empty(&run_queue);
	list_add_tail(&run_queue, &t->run_link);
	struct percpu *c = this_cpu();
	if (c->thread->idle) {
		c->need_resched = true;
	} else if (first) {
		uint64_t soon = clock_monotonic_ns() + SCHED_WAKEUP_NS;
		if (c->slice_end < soon)
			c->slice_end = soon;
		timer_reprogram();
	}
}

void sched_add(struct thread *t)
{
	uint64_t flags = spin_lock_irqsave(&sched_lock);
	t->state = THREAD_READY;
	enqueue(t);
	spin_unlock_irqrestore(&sched_lock, flags);
}

bool sched_wake_locked(struct thread *t, enum wake_reason why)
{
	if (t->state != THREAD_BLOCKED || t->killed)
		return false;
	if (why == WAKE_SIGNAL && !t->interruptible)
		return false;
	t->state = THREAD_READY;
	t->wake_reason = why;
	if (!t->on_cpu)
		enqueue(t);
	return true;
}

/* After a switch, in the new thread's context: the old thread is off its CPU now. */
static void after_switch(struct thread *prev)
{
	prev->on_cpu = false;
	if (prev->state == THREAD_DEAD)
		thread_release_memory(prev);
	if (!list_empty(&run_queue))
		timer_reprogram(); /* the new slice's end, since others wait */
}

void sched_thread_first_run(struct thread *prev)
{
	after_switch(prev);
	spin_unlock_irqrestore(&sched_lock, 0); /* interrupts stay off until iretq */
}

static struct thread *pick_next(void)
{
	for (;;) {
		struct list *l = list_pop_head(&run_queue);
		if (!l)
			return this_cpu()->idle;
		struct thread *t = list_entry(l, struct thread, run_link);
		if (!t->killed)
			return t;
	}
}

void schedule_locked(void)
{
	struct percpu *c = this_cpu();
	struct thread *prev = c->thread;
	c->need_resched = false;
	if (prev->state == THREAD_READY && prev->on_cpu && !list_linked(&prev->run_link)) {
		prev->state = THREAD_RUNNING; /* woken before it could block: carry on */
		return;
	}
	if (prev->state == THREAD_RUNNING && !prev->idle) {
		if (list_empty(&run_queue))
			return; /* nobody else wants the CPU */
		prev->state = THREAD_READY;
		prev->involuntary_switches++;
		list_add_tail(&run_queue, &prev->run_link);
	} else if (prev->state == THREAD_BLOCKED) {
		prev->voluntary_switches++;
	}
	struct thread *next = pick_next();
	if (next == prev) {
		prev->state = THREAD_RUNNING;
		return;
	}
	uint64_t now;
	now = clock_monotonic_ns();
	account_switch_out(prev, now);
	next->state = THREAD_RUNNING;
	next->on_cpu = true;
	next->ran_since = now;
	c->slice_end = now + SCHED_SLICE_NS;
	struct thread *last;
	last = arch_switch(prev, next);
	after_switch(last);
}

void schedule(void)
{
	uint64_t flags = spin_lock_irqsave(&sched_lock);
	schedule_locked();
	spin_unlock_irqrestore(&sched_lock, flags);
}

enum wake_reason sched_block_locked(uint64_t deadline, bool interruptible)
{
	struct thread *self = current_thread();
	if (self->state == THREAD_RUNNING) {
		self->state = THREAD_BLOCKED;
		self->wake_reason = WAKE_NONE;
	}
	self->interruptible = interruptible;
	if (self->state == THREAD_BLOCKED) {
		if (deadline)
			timer_arm(&self->timeout, deadline);
		schedule_locked();
		timer_cancel(&self->timeout);
	}
	self->state = THREAD_RUNNING;
	self->interruptible = false;
	return self->wake_reason;
}

NORETURN void sched_exit_current(void)
{
	spin_lock_irqsave(&sched_lock);
	struct thread *self = current_thread();
	timer_cancel(&self->timeout);
	self->state = THREAD_DEAD;
	thread_unlink_locked(self);
	schedule_locked();
	panic("a dead thread ran again");
}

static void kill_one(struct thread *t, void *self)
{
	if (t == self)
		return;
	t->killed = true;
	timer_cancel(&t->timeout);
	if (list_linked(&t->run_link))
		list_remove(&t->run_link);
}

void sched_kill_others(void)
{
	uint64_t flags = spin_lock_irqsave(&sched_lock);
	thread_for_each(kill_one, current_thread());
	spin_unlock_irqrestore(&sched_lock, flags);
}

uint64_t sched_preempt_deadline(void)
{
	struct percpu *c = this_cpu();
	if (c->thread->idle || c->need_resched || list_empty(&run_queue))
		return 0; /* (a switch already asked for happens on the way back to user mode) */
	return c->slice_end;
}

void sched_timer_tick(uint64_t now)
{
	uint64_t deadline = sched_preempt_deadline();
	if (deadline && now >= deadline)
		this_cpu()->need_resched = true;
}

NORETURN void sched_start(void)
{
	struct percpu *c = this_cpu();
	c->thread->ran_since = clock_monotonic_ns();
	for (;;) {
		cli();
		if (deferred_pending()) /* (the timer interrupt kicks it when a deadline passes) */
			deferred_run(); /* received packets and network timers, which may wake threads */
		if (!list_empty(&run_queue)) {
			schedule();
			continue;
		}
		timer_reprogram();
		sti_hlt();
	}
}
