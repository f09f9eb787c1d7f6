/* Interval timers of the process: setitimer, getitimer and alarm. ITIMER_REAL counts wall time and
 * sends SIGALRM; ITIMER_VIRTUAL and ITIMER_PROF count the process's CPU time (all of it, user and
 * kernel alike) and send SIGVTALRM and SIGPROF. Each is a kernel timer (sched/timer.h) whose callback
 * runs in the timer interrupt: a CPU-time timer is armed for the wall time at which the CPU time
 * could at the earliest be reached, and re-armed until it is. */
#include "arch/x86_64/clock.h"
#include "errno.h"
#include "lib.h"
#include "linux/linux.h"
#include "sched/sched.h"

#define ITIMER_REAL 0
#define ITIMER_VIRTUAL 1
#define ITIMER_PROF 2
#define NSEC_PER_SEC 1000000000UL
#define NSEC_PER_USEC 1000UL

struct itimer {
	struct ktimer timer;
	uint64_t expires;  /* monotonic ns (REAL) or process CPU ns (the others); 0: disarmed */
	uint64_t interval; /* ns; 0: one-shot */
	int signo;
};

static struct itimer itimers[3]; /* [sched_lock] */

/* The clock an interval timer counts. */
static uint64_t itimer_clock(int which) { return which == ITIMER_REAL ? clock_monotonic_ns() : sched_process_cpu_ns(); }

/* sched_lock held: arms the kernel timer for when it.expires could be reached. */
static void schedule_expiry(int which)
{
	struct itimer *it = &itimers[which];
	if (!it->expires) {
		timer_cancel(&it->timer);
		return;
	}
	uint64_t now = itimer_clock(which);
	uint64_t wait = it->expires > now ? it->expires - now : 0;
	timer_arm(&it->timer, clock_monotonic_ns() + MAX(wait, 1));
}

static void expired(struct ktimer *t)
{
	struct itimer *it = (struct itimer *)t;
	int which = (int)(it - itimers);
	uint64_t now = itimer_clock(which);
	if (now >= it->expires) {
		struct ksiginfo info = {it->signo, 0, SI_KERNEL, 0, {0, 0, 0, 0}};
		signal_send_process_locked(&info);
		if (it->interval) {
			it->expires += it->interval;
			if (it->expires <= now) /* overrun: the missed expirations count as one, as signals merge */
				it->expires = now + it->interval;
		} else {
			it->expires = 0;
		}
	}
	schedule_expiry(which);
}

struct timeval {
	int64_t sec, usec;
};

struct itimerval {
	struct timeval interval, value;
};

static struct timeval to_timeval(uint64_t ns)
{
	return (struct timeval){(int64_t)(ns / NSEC_PER_SEC), (int64_t)(ns % NSEC_PER_SEC / NSEC_PER_USEC)};
}

/* sched_lock held: the timer's state as getitimer reports it. */
static struct itimerval current_value(int which)
{
	struct itimer *it = &itimers[which];
	uint64_t now = itimer_clock(which);
	uint64_t left = it->expires > now ? it->expires - now : (it->expires ? 1000 : 0);
	return (struct itimerval){to_timeval(it->interval), to_timeval(left)};
}

static void init_once(void)
{
	static bool ready;
	if (ready)
		return;
	static const int signals[3] = {SIGALRM, SIGVTALRM, SIGPROF};
	for (int i = 0; i < 3; i++) {
		timer_init(&itimers[i].timer, expired);
		itimers[i].signo = signals[i];
	}
	ready = true;
}

static long set_timer(int which, const struct itimerval *next, struct itimerval *old)
{
	if (which < ITIMER_REAL || which > ITIMER_PROF)
		return -EINVAL;
	init_once();
	uint64_t flags = spin_lock_irqsave(&sched_lock);
	if (old)
		*old = current_value(which);
	if (next) {
		struct itimer *it = &itimers[which];
		uint64_t value = (uint64_t)next->value.sec * NSEC_PER_SEC + (uint64_t)next->value.usec * NSEC_PER_USEC;
		it->interval = (uint64_t)next->interval.sec * NSEC_PER_SEC + (uint64_t)next->interval.usec * NSEC_PER_USEC;
		it->expires = value ? itimer_clock(which) + value : 0;
		schedule_expiry(which);
	}
	spin_unlock_irqrestore(&sched_lock, flags);
	return 0;
}

static bool valid(const struct timeval *tv)
{
	return tv->sec >= 0 && tv->usec >= 0 && tv->usec < 1000000 && tv->sec < (1L << 32);
}

SYSCALL_DEFINE(setitimer)
{
	struct itimerval next, old;
	if (a1) {
		if (copy_from_user(&next, a1, sizeof(next)) < 0)
			return -EFAULT;
		if (!valid(&next.value) || !valid(&next.interval))
			return -EINVAL;
	} else {
		memset(&next, 0, sizeof(next)); /* Linux: a NULL new value disarms */
	}
	long r = set_timer((int)a0, &next, &old);
	if (r == 0 && a2 && copy_to_user(a2, &old, sizeof(old)) < 0)
		return -EFAULT;
	return r;
}

SYSCALL_DEFINE(getitimer)
{
	struct itimerval value;
	long r = set_timer((int)a0, NULL, &value);
	if (r == 0 && copy_to_user(a1, &value, sizeof(value)) < 0)
		return -EFAULT;
	return r;
}

SYSCALL_DEFINE(alarm)
{
	struct itimerval next = {{0, 0}, {(int64_t)(uint32_t)a0, 0}}, old;
	set_timer(ITIMER_REAL, &next, &old);
	/* The seconds left of the previous alarm, rounded as Linux does (never 0 for one still pending). */
	uint64_t left = (uint64_t)old.value.sec;
	if ((!left && old.value.usec) || old.value.usec >= 500000)
		left++;
	return (long)left;
}
