/* POSIX timers of the process: timer_create, timer_settime, timer_gettime, timer_getoverrun and
 * timer_delete, on CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME (and their _ALARM forms), CLOCK_TAI,
 * CLOCK_PROCESS_CPUTIME_ID and thread CPU clocks (CLOCK_THREAD_CPUTIME_ID, and the ids
 * pthread_getcpuclockid and clock_getcpuclockid make); notification by a signal to the process
 * (SIGEV_SIGNAL), to one thread (SIGEV_THREAD_ID, which glibc's SIGEV_THREAD uses) or none
 * (SIGEV_NONE). A timer on a wall or process CPU clock is a kernel timer (sched/timer.h) whose
 * callback, in the timer interrupt, counts expirations and re-arms an interval timer; CLOCK_REALTIME
 * deadlines are converted to the monotonic clock when set, process CPU-time deadlines re-checked at the
 * wall time they could first be reached. A timer on a thread's CPU clock sets that thread's CPU-time
 * alarm (sched/sched.h) for the earliest of its timers, checked only while the thread runs. The
 * signals are sent from deferred work (sched/deferred.h), which may allocate the queue entry of a
 * real-time signal. Expirations that come before their signal is sent make the overrun count
 * timer_getoverrun reports. */
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
#define CLOCK_THREAD_CPUTIME_ID 3
#define CLOCK_MONOTONIC_RAW 4
#define CLOCK_MONOTONIC_COARSE 6
#define CLOCK_BOOTTIME 7
#define CLOCK_REALTIME_ALARM 8
#define CLOCK_BOOTTIME_ALARM 9
#define CLOCK_TAI 11
#define TIMER_ABSTIME 1
#define SIGEV_SIGNAL 0
#define SIGEV_NONE 1
#define SIGEV_THREAD_ID 4

struct posix_timer {
	struct ktimer timer; /* first: the callback finds its timer (not used on thread CPU clocks) */
	bool used;
	int clock, notify, signo, tid;
	int clock_tid;     /* CLOCK_THREAD_CPUTIME_ID: the thread whose CPU time it counts */
	uint64_t value;    /* sigev_value, given with the signal */
	uint64_t expires;  /* monotonic ns, or process CPU ns; 0: disarmed [sched_lock] */
	uint64_t interval; /* ns; 0: one-shot [sched_lock] */
	uint64_t fired;    /* expirations whose signal is not sent yet [sched_lock] */
	int overrun;       /* of the last signal sent */
};

static struct posix_timer timers[MAX_POSIX_TIMERS];
static bool any_fired; /* some timer has fired expirations: deferred work looks at them [sched_lock] */

static bool is_realtime(int clock)
{
	return clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_ALARM || clock == CLOCK_TAI; /* TAI reads as realtime */
}

/* sched_lock held: the thread whose CPU clock pt counts; NULL when it has exited. */
static struct thread *clock_thread(const struct posix_timer *pt) { return thread_by_tid(pt->clock_tid); }

/* sched_lock held: the time on pt's clock (0 for the clock of a thread that has exited). */
static uint64_t clock_of(const struct posix_timer *pt)
{
	if (pt->clock == CLOCK_THREAD_CPUTIME_ID) {
		struct thread *t = clock_thread(pt);
		return t ? sched_thread_cpu_ns(t) : 0;
	}
	return pt->clock == CLOCK_PROCESS_CPUTIME_ID ? sched_process_cpu_ns() : clock_monotonic_ns();
}

/* sched_lock held: sets t's CPU-time alarm for the earliest timer on its clock. */
static void set_thread_alarm(struct thread *t)
{
	uint64_t earliest = 0;
	for (int id = 0; id < MAX_POSIX_TIMERS; id++) {
		struct posix_timer *pt = &timers[id];
		if (pt->used && pt->clock == CLOCK_THREAD_CPUTIME_ID && pt->clock_tid == t->tid && pt->expires &&
		    (!earliest || pt->expires < earliest))
			earliest = pt->expires;
	}
	sched_set_cpu_alarm_locked(t, earliest);
}

/* sched_lock held: arms the kernel timer (or the thread's alarm) for when pt->expires could be reached. */
static void schedule_expiry(struct posix_timer *pt)
{
	if (pt->clock == CLOCK_THREAD_CPUTIME_ID) {
		struct thread *t = clock_thread(pt);
		if (t)
			set_thread_alarm(t);
		return;
	}
	if (!pt->expires) {
		timer_cancel(&pt->timer);
		return;
	}
	uint64_t now = clock_of(pt);
	timer_arm(&pt->timer, clock_monotonic_ns() + MAX(pt->expires > now ? pt->expires - now : 0, 1));
}

/* sched_lock held: counts the expirations of pt up to now on its clock and moves its deadline on (an
 * interval timer) or disarms it. */
static void count_expirations(struct posix_timer *pt, uint64_t now)
{
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
}

/* The kernel timer of a timer on a wall or process CPU clock. */
static void expired(struct ktimer *t)
{
	struct posix_timer *pt = (struct posix_timer *)t;
	count_expirations(pt, clock_of(pt));
	schedule_expiry(pt);
}

/* The CPU-time alarm of thread t (sched_lock held): its timers that are due. */
static void thread_alarm(struct thread *t)
{
	uint64_t now = sched_thread_cpu_ns(t);
	for (int id = 0; id < MAX_POSIX_TIMERS; id++) {
		struct posix_timer *pt = &timers[id];
		if (pt->used && pt->clock == CLOCK_THREAD_CPUTIME_ID && pt->clock_tid == t->tid)
			count_expirations(pt, now);
	}
	set_thread_alarm(t);
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

#define CPUCLOCK_PERTHREAD 4
#define CPUCLOCK_MAX 3

/* The clock of a timer_create id: a static id, or a dynamic CPU clock id (Linux's encoding: ~pid << 3,
 * 4 for a thread, and which of PROF, VIRT, SCHED; all three count the same CPU time here). A thread's
 * clock (pid 0: the caller) sets *tid. The clock, -EOPNOTSUPP for a clock Linux has no timers on (raw
 * and coarse), or -EINVAL for one that is not ours. */
static int timer_clock(int id, int *tid)
{
	*tid = current_thread()->tid;
	if (id == CLOCK_THREAD_CPUTIME_ID)
		return id;
	if (id >= CLOCK_MONOTONIC_RAW && id <= CLOCK_MONOTONIC_COARSE)
		return -EOPNOTSUPP;
	if (id >= 0)
		return id == CLOCK_REALTIME || id == CLOCK_MONOTONIC || id == CLOCK_BOOTTIME || id == CLOCK_TAI ||
			       id == CLOCK_REALTIME_ALARM || id == CLOCK_BOOTTIME_ALARM || id == CLOCK_PROCESS_CPUTIME_ID
			   ? id
			   : -EINVAL;
	int pid = ~id >> 3;
	if ((id & 3) == CPUCLOCK_MAX)
		return -EINVAL;
	if (!(id & CPUCLOCK_PERTHREAD))
		return pid == 0 || pid == APP_PID ? CLOCK_PROCESS_CPUTIME_ID : -EINVAL;
	if (pid == 0)
		return CLOCK_THREAD_CPUTIME_ID;
	uint64_t flags = spin_lock_irqsave(&sched_lock);
	bool found = thread_by_tid(pid) != NULL;
	spin_unlock_irqrestore(&sched_lock, flags);
	*tid = pid;
	return found ? CLOCK_THREAD_CPUTIME_ID : -EINVAL;
}

SYSCALL_DEFINE(timer_create)
{
	int clock_tid, clock = timer_clock((int)a0, &clock_tid);
	if (clock < 0)
		return clock;
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
		sched_set_cpu_alarm_handler(thread_alarm);
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
	*pt = (struct posix_timer){.used = true, .clock = clock, .notify = ev.notify, .signo = ev.signo, .tid = ev.tid,
				   .clock_tid = clock_tid};
	pt->value = a1 ? ev.value : (uint64_t)id;
	timer_init(&pt->timer, expired);
	return 0;
}

static struct posix_timer *timer_at(uint64_t id)
{
	return id < MAX_POSIX_TIMERS && timers[id].used ? &timers[id] : NULL;
}

/* sched_lock held: what timer_gettime reports (the time left, and the interval; nothing for the clock
 * of a thread that has exited, as on Linux). */
static struct itimerspec current_setting(struct posix_timer *pt)
{
	if (pt->clock == CLOCK_THREAD_CPUTIME_ID && !clock_thread(pt))
		return (struct itimerspec){{0, 0}, {0, 0}};
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
	uint64_t flags = spin_lock_irqsave(&sched_lock);
	if (pt->clock == CLOCK_THREAD_CPUTIME_ID && !clock_thread(pt)) {
		spin_unlock_irqrestore(&sched_lock, flags);
		return -ESRCH; /* its thread has exited */
	}
	uint64_t value = timespec_to_ns(&next.value), now = clock_of(pt);
	uint64_t expires = itimerspec_deadline(value, a1 & TIMER_ABSTIME, is_realtime(pt->clock), now);
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
	struct thread *t = pt->clock == CLOCK_THREAD_CPUTIME_ID ? clock_thread(pt) : NULL;
	if (t)
		set_thread_alarm(t); /* without this timer */
	spin_unlock_irqrestore(&sched_lock, flags);
	return 0;
}
