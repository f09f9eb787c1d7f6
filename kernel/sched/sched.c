/* The scheduler: run queue, context switches, time slices (as long as a thread's nice value weighs),
 * blocking and waking, the idle loop, CPU time accounting and CPU-time alarms. See sched/sched.h for
 * the rules; one run queue (one CPU today). */
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
	timer_init(&boot_idle.cpu_alarm, sched_cpu_alarm_fired);
	c->idle = &boot_idle;
	c->thread = &boot_idle;
}

static void account_switch_out(struct thread *t, uint64_t now)
{
	if (t->idle)
		this_cpu()->idle_ns += now - t->ran_since;
	else
		t->run_ns += now - t->ran_since;
	timer_cancel(&t->cpu_alarm); /* its CPU time stands still until it runs again */
}

/* Linux's weight of each nice value (-20..19; nice 0 weighs 1024, each step about 1.25 times less). */
static const uint32_t nice_weight[40] = {
    88761, 71755, 56483, 46273, 36291, 29154, 23254, 18705, 14949, 11916, 9548, 7620, 6100, 4904,
    3906,  3121,  2501,  1991,  1586,  1277,  1024,  820,   655,   526,   423,   335,  272,  215,
    172,   137,   110,   87,    70,    56,    45,    36,    29,    23,    18,    15,
};

/* The time slice of t: round robin gives each ready thread one slice per turn, so slices as long as
 * the threads' weights share the CPU among busy threads in those proportions (as Linux's scheduler
 * does), within SCHED_MIN_SLICE_NS..SCHED_MAX_SLICE_NS so that no thread waits too long. */
static uint64_t slice_of(const struct thread *t)
{
	uint64_t slice = SCHED_SLICE_NS * nice_weight[t->nice + 20] / 1024;
	return MAX(SCHED_MIN_SLICE_NS, MIN(slice, SCHED_MAX_SLICE_NS));
}

static void (*cpu_alarm_handler)(struct thread *t);

void sched_set_cpu_alarm_handler(void (*handler)(struct thread *t)) { cpu_alarm_handler = handler; }

/* sched_lock held, t on this CPU since ran_since: arms its alarm timer for the wall time at which its
 * CPU time could reach cpu_alarm_at (it cannot run faster than the clock). */
static void arm_cpu_alarm(struct thread *t, uint64_t now)
{
	uint64_t used = t->run_ns + (now - t->ran_since);
	timer_arm(&t->cpu_alarm, now + (t->cpu_alarm_at > used ? t->cpu_alarm_at - used : 0));
}

void sched_cpu_alarm_fired(struct ktimer *timer)
{
	struct thread *t = list_entry(timer, struct thread, cpu_alarm);
	if (!t->cpu_alarm_at || !t->on_cpu || t != current_thread())
		return; /* disarmed, or switched out meanwhile: re-armed when it runs again */
	uint64_t now = clock_monotonic_ns();
	if (t->run_ns + (now - t->ran_since) < t->cpu_alarm_at) {
		arm_cpu_alarm(t, now);
		return;
	}
	t->cpu_alarm_at = 0;
	if (cpu_alarm_handler)
		cpu_alarm_handler(t); /* may set the next alarm */
}

void sched_set_cpu_alarm_locked(struct thread *t, uint64_t at)
{
	t->cpu_alarm_at = at;
	if (at && t->on_cpu && t == current_thread())
		arm_cpu_alarm(t, clock_monotonic_ns());
	else if (!at)
		timer_cancel(&t->cpu_alarm);
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
	c->slice_end = now + (next->idle ? SCHED_SLICE_NS : slice_of(next));
	if (next->cpu_alarm_at)
		arm_cpu_alarm(next, now);
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
	timer_cancel(&self->cpu_alarm);
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
	timer_cancel(&t->cpu_alarm);
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
