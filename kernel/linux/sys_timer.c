/* POSIX timers of the process: timer_create, timer_settime, timer_gettime, timer_getoverrun and
 * timer_delete, on CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME (and their _ALARM forms) and
 * CLOCK_PROCESS_CPUTIME_ID (not thread CPU clocks); notification by a signal to the process (SIGEV_SIGNAL), to one thread
 * (SIGEV_THREAD_ID, which glibc's SIGEV_THREAD uses) or none (SIGEV_NONE). Each timer is a kernel
 * timer (sched/timer.h) whose callback, in the timer interrupt, counts expirations and re-arms an
 * interval timer; the signals are sent from deferred work (sched/deferred.h), which may allocate the
 * queue entry of a real-time signal. Expirations that come before their signal is sent make the
 * overrun count timer_getoverrun reports. CLOCK_REALTIME deadlines are converted to the monotonic clock
 * when set; CPU-time deadlines are re-checked at the wall time they could first be reached. */
#include "arch/x86_64/clock.h"
#include "errno.h"
#include "lib.h"
#include "linux/itimerspec.h"
#include "linux/linux.h"
#include "param.h"
#include "sched/deferred.h"
#include "sched/sched.h"
#include "sched/thread.h"

#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1
#define CLOCK_PROCESS_CPUTIME_ID 2
#define CLOCK_BOOTTIME 7
#define CLOCK_REALTIME_ALARM 8
#define CLOCK_BOOTTIME_ALARM 9
#define TIMER_ABSTIME 1
#define SIGEV_SIGNAL 0
#define SIGEV_NONE 1
#define SIGEV_THREAD_ID 4

struct posix_timer {
	struct ktimer timer; /* first: the callback finds its timer */
	bool used;
	int clock, notify, signo, tid;
	uint64_t value;    /* sigev_value, given with the signal */
	uint64_t expires;  /* monotonic ns, or process CPU ns; 0: disarmed [sched_lock] */
	uint64_t interval; /* ns; 0: one-shot [sched_lock] */
	uint64_t fired;    /* expirations whose signal is not sent yet [sched_lock] */
	int overrun;       /* of the last signal sent */
};

static struct posix_timer timers[MAX_POSIX_TIMERS];
static bool any_fired; /* some timer has fired expirations: deferred work looks at them [sched_lock] */

static bool is_realtime(int clock) { return clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_ALARM; }

static uint64_t clock_of(const struct posix_timer *pt)
{
	return pt->clock == CLOCK_PROCESS_CPUTIME_ID ? sched_process_cpu_ns() : clock_monotonic_ns();
}

/* sched_lock held: arms the kernel timer for when pt->expires could be reached. */
static void schedule_expiry(struct posix_timer *pt)
{
	if (!pt->expires) {
		timer_cancel(&pt->timer);
		return;
	}
	uint64_t now = clock_of(pt);
	timer_arm(&pt->timer, clock_monotonic_ns() + MAX(pt->expires > now ? pt->expires - now : 0, 1));
}

static void expired(struct ktimer *t)
{
	struct posix_timer *pt = (struct posix_timer *)t;
	uint64_t now = clock_of(pt);
	if (pt->expires && now >= pt->expires) {
		uint64_t count = 1;
		if (pt->interval) {
			count += (now - pt->expires) / pt->interval; /* periods missed count too */
			pt->expires += count * pt->interval;
		} else {
			pt->expires = 0;
		}
		if (pt->notify != SIGEV_NONE) {
			pt->fired += count;
			any_fired = true;
			deferred_kick();
		}
	}
	schedule_expiry(pt);
}

/* Deferred work: the signals of the timers that expired. */
static void send_signals(void)
{
	uint64_t flags = spin_lock_irqsave(&sched_lock);
	bool due = any_fired;
	any_fired = false;
	spin_unlock_irqrestore(&sched_lock, flags);
	if (!due)
		return; /* the common case: other work ran (kernel code is slow where it is emulated) */
	for (int id = 0; id < MAX_POSIX_TIMERS; id++) {
		struct posix_timer *pt = &timers[id];
		flags = spin_lock_irqsave(&sched_lock);
		uint64_t fired = pt->used ? pt->fired : 0;
		pt->fired = 0;
		struct thread *target = fired && pt->notify == SIGEV_THREAD_ID ? thread_by_tid(pt->tid) : NULL;
		spin_unlock_irqrestore(&sched_lock, flags);
		if (!fired)
			continue;
		pt->overrun = (int)MIN(fired - 1, 0x7fffffffUL);
		uint64_t who = (uint32_t)id | (uint64_t)(uint32_t)pt->overrun << 32;
		struct ksiginfo info = {pt->signo, 0, SI_TIMER, 0, {who, pt->value, 0, 0}};
		if (pt->notify == SIGEV_THREAD_ID) {
			if (target)
				signal_send_thread(target, &info);
		} else {
			signal_send_process(&info);
		}
	}
}

struct sigevent_k {
	uint64_t value;
	int32_t signo, notify;
	int32_t tid;
	int32_t pad[11];
};

/* The process's CPU clock by its dynamic id (~pid << 3 | CPUCLOCK_SCHED, pid 0 or ours), which is
 * what the C libraries pass for CLOCK_PROCESS_CPUTIME_ID. Per-thread CPU clocks are not supported. */
static bool process_cpu_clock(int clock) { return clock < 0 && (clock & 7) == 2 && (~clock >> 3) <= 1; }

SYSCALL_DEFINE(timer_create)
{
	int clock = (int)a0;
	if (process_cpu_clock(clock))
		clock = CLOCK_PROCESS_CPUTIME_ID;
	if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC && clock != CLOCK_BOOTTIME &&
	    clock != CLOCK_REALTIME_ALARM && clock != CLOCK_BOOTTIME_ALARM && clock != CLOCK_PROCESS_CPUTIME_ID)
		return -EINVAL;
	struct sigevent_k ev = {0, SIGALRM, SIGEV_SIGNAL, 0, {0}};
	if (a1 && copy_from_user(&ev, a1, sizeof(ev)) < 0)
		return -EFAULT;
	if (ev.notify != SIGEV_SIGNAL && ev.notify != SIGEV_NONE && ev.notify != SIGEV_THREAD_ID)
		return -EINVAL;
	if (ev.notify != SIGEV_NONE && (ev.signo < 1 || ev.signo > NSIG))
		return -EINVAL;
	if (ev.notify == SIGEV_THREAD_ID) {
		uint64_t flags = spin_lock_irqsave(&sched_lock);
		bool found = thread_by_tid(ev.tid) != NULL;
		spin_unlock_irqrestore(&sched_lock, flags);
		if (!found)
			return -EINVAL;
	}
	static bool registered;
	if (!registered) {
		deferred_register(send_signals, NULL);
		registered = true;
	}
	int id = 0;
	while (id < MAX_POSIX_TIMERS && timers[id].used)
		id++;
	if (id == MAX_POSIX_TIMERS)
		return -EAGAIN;
	int32_t user_id = id;
	if (copy_to_user(a2, &user_id, sizeof(user_id)) < 0)
		return -EFAULT;
	struct posix_timer *pt = &timers[id];
	*pt = (struct posix_timer){.used = true, .clock = clock, .notify = ev.notify, .signo = ev.signo, .tid = ev.tid};
	pt->value = a1 ? ev.value : (uint64_t)id;
	timer_init(&pt->timer, expired);
	return 0;
}

static struct posix_timer *timer_at(uint64_t id)
{
	return id < MAX_POSIX_TIMERS && timers[id].used ? &timers[id] : NULL;
}

/* sched_lock held: what timer_gettime reports (the time left, and the interval). */
static struct itimerspec current_setting(struct posix_timer *pt)
{
	uint64_t now = clock_of(pt);
	return itimerspec_left(pt->expires, pt->interval, now);
}

SYSCALL_DEFINE(timer_settime)
{
	struct posix_timer *pt = timer_at(a0);
	if (!pt)
		return -EINVAL;
	struct itimerspec next, old;
	if (copy_from_user(&next, a2, sizeof(next)) < 0)
		return -EFAULT;
	if (!itimerspec_valid(&next))
		return -EINVAL;
	uint64_t value = timespec_to_ns(&next.value), now = clock_of(pt);
	uint64_t expires = itimerspec_deadline(value, a1 & TIMER_ABSTIME, is_realtime(pt->clock), now);
	uint64_t flags = spin_lock_irqsave(&sched_lock);
	old = current_setting(pt);
	pt->expires = expires;
	pt->interval = value ? timespec_to_ns(&next.interval) : 0;
	pt->fired = 0;
	schedule_expiry(pt);
	spin_unlock_irqrestore(&sched_lock, flags);
	if (a3 && copy_to_user(a3, &old, sizeof(old)) < 0)
		return -EFAULT;
	return 0;
}

SYSCALL_DEFINE(timer_gettime)
{
	struct posix_timer *pt = timer_at(a0);
	if (!pt)
		return -EINVAL;
	uint64_t flags = spin_lock_irqsave(&sched_lock);
	struct itimerspec now = current_setting(pt);
	spin_unlock_irqrestore(&sched_lock, flags);
	return copy_to_user(a1, &now, sizeof(now));
}

SYSCALL_DEFINE(timer_getoverrun)
{
	struct posix_timer *pt = timer_at(a0);
	return pt ? pt->overrun : -EINVAL;
}

SYSCALL_DEFINE(timer_delete)
{
	struct posix_timer *pt = timer_at(a0);
	if (!pt)
		return -EINVAL;
	uint64_t flags = spin_lock_irqsave(&sched_lock);
	timer_cancel(&pt->timer);
	pt->used = false;
	pt->fired = 0;
	spin_unlock_irqrestore(&sched_lock, flags);
	return 0;
}
