/* Time syscalls: clock_gettime/getres for every Linux clock id (and the CPU clocks of threads and the
 * process that pthread_getcpuclockid and clock_getcpuclockid make), gettimeofday, time, nanosleep,
 * clock_nanosleep (blocking the thread, interruptible by signals), times and getrusage. CPU time
 * comes from the scheduler: a thread's time on the CPU; the process's is all time not idle. */
#include "arch/x86_64/clock.h"
#include "errno.h"
#include "lib.h"
#include "linux/linux.h"
#include "sched/sched.h"
#include "sched/wait.h"

#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1
#define CLOCK_PROCESS_CPUTIME_ID 2
#define CLOCK_THREAD_CPUTIME_ID 3
#define CLOCK_MONOTONIC_RAW 4
#define CLOCK_REALTIME_COARSE 5
#define CLOCK_MONOTONIC_COARSE 6
#define CLOCK_BOOTTIME 7
#define CLOCK_REALTIME_ALARM 8
#define CLOCK_BOOTTIME_ALARM 9
#define CLOCK_TAI 11
#define TIMER_ABSTIME 1
#define NSEC_PER_SEC 1000000000UL
#define MAX_SLEEP_SECONDS (1L << 32) /* keeps nanoseconds inside 64 bits */

struct timespec {
	int64_t sec, nsec;
};

static uint64_t cpu_ns(void) { return sched_process_cpu_ns(); }

/* A dynamic CPU clock id (Linux's CPUCLOCK encoding: ~pid << 3 | per-thread 4 | which): the CPU time
 * of the process or of one of its threads; -EINVAL when it names nothing of ours. */
static int64_t cpu_clock_now(int64_t id)
{
	int64_t pid = ~id >> 3;
	if ((id & 7) == 7 || (id & 3) == 3)
		return -EINVAL;
	if (!(id & 4)) /* the process */
		return pid == 0 || pid == 1 ? (int64_t)cpu_ns() : -EINVAL;
	struct thread *t = current_thread();
	if (pid) {
		uint64_t flags = spin_lock_irqsave(&sched_lock);
		t = pid < 0x40000000 ? thread_by_tid((int)pid) : NULL;
		uint64_t ns = t ? sched_thread_cpu_ns(t) : 0;
		spin_unlock_irqrestore(&sched_lock, flags);
		return t ? (int64_t)ns : -EINVAL;
	}
	return (int64_t)sched_thread_cpu_ns(t);
}

/* Nanoseconds on the given clock; -EINVAL for an unknown id. */
static int64_t clock_now(uint64_t id)
{
	if ((int64_t)id < 0)
		return cpu_clock_now((int64_t)id);
	switch (id) {
	case CLOCK_REALTIME:
	case CLOCK_REALTIME_COARSE:
	case CLOCK_REALTIME_ALARM:
	case CLOCK_TAI:
		return (int64_t)clock_realtime_ns();
	case CLOCK_MONOTONIC:
	case CLOCK_MONOTONIC_RAW:
	case CLOCK_MONOTONIC_COARSE:
	case CLOCK_BOOTTIME:
	case CLOCK_BOOTTIME_ALARM:
		return (int64_t)clock_monotonic_ns();
	case CLOCK_PROCESS_CPUTIME_ID:
		return (int64_t)cpu_ns();
	case CLOCK_THREAD_CPUTIME_ID:
		return (int64_t)sched_thread_cpu_ns(current_thread());
	default:
		return -EINVAL;
	}
}

static long put_timespec(uint64_t user, int64_t ns)
{
	struct timespec ts = {ns / (int64_t)NSEC_PER_SEC, ns % (int64_t)NSEC_PER_SEC};
	return copy_to_user(user, &ts, sizeof(ts));
}

/* The vDSO makes these three syscalls until the clock is calibrated: then it can take over. */
SYSCALL_DEFINE(clock_gettime)
{
	int64_t ns = clock_now(a0);
	vdso_sync_clock();
	return ns < 0 ? ns : put_timespec(a1, ns);
}

SYSCALL_DEFINE(clock_getres)
{
	if (clock_now(a0) < 0)
		return -EINVAL;
	bool coarse = a0 == CLOCK_REALTIME_COARSE || a0 == CLOCK_MONOTONIC_COARSE;
	return a1 ? put_timespec(a1, coarse ? 4000000 : 1) : 0;
}

SYSCALL_DEFINE(gettimeofday)
{
	uint64_t ns = clock_realtime_ns();
	vdso_sync_clock();
	if (a0) {
		struct {
			int64_t sec, usec;
		} tv = {(int64_t)(ns / NSEC_PER_SEC), (int64_t)(ns % NSEC_PER_SEC / 1000)};
		if (copy_to_user(a0, &tv, sizeof(tv)) < 0)
			return -EFAULT;
	}
	if (a1) {
		int32_t tz[2] = {0, 0}; /* UTC, no DST */
		if (copy_to_user(a1, tz, sizeof(tz)) < 0)
			return -EFAULT;
	}
	return 0;
}

SYSCALL_DEFINE(time)
{
	int64_t sec = (int64_t)(clock_realtime_ns() / NSEC_PER_SEC);
	vdso_sync_clock();
	if (a0 && copy_to_user(a0, &sec, sizeof(sec)) < 0)
		return -EFAULT;
	return sec;
}

static long read_timespec(uint64_t user, int64_t *ns)
{
	struct timespec ts;
	if (copy_from_user(&ts, user, sizeof(ts)) < 0)
		return -EFAULT;
	if (ts.sec < 0 || ts.nsec < 0 || ts.nsec >= (int64_t)NSEC_PER_SEC)
		return -EINVAL;
	if (ts.sec > MAX_SLEEP_SECONDS)
		ts.sec = MAX_SLEEP_SECONDS;
	*ns = ts.sec * (int64_t)NSEC_PER_SEC + ts.nsec;
	return 0;
}

/* Sleeps until the monotonic deadline; 0, or (a signal came first) -ERESTART_RESTARTBLOCK, which
 * becomes EINTR when a handler runs (nanosleep is never restarted after one, as on Linux), with the
 * time left stored in rem when given. */
static long sleep_to(uint64_t deadline, uint64_t rem)
{
	if (sleep_until(deadline, true) == 0)
		return 0;
	if (rem) {
		uint64_t now = clock_monotonic_ns(), left = deadline > now ? deadline - now : 0;
		if (put_timespec(rem, (int64_t)left) < 0)
			return -EFAULT;
	}
	return -ERESTART_RESTARTBLOCK;
}

SYSCALL_DEFINE(nanosleep)
{
	int64_t ns;
	long r = read_timespec(a0, &ns);
	if (r < 0)
		return r;
	return sleep_to(clock_monotonic_ns() + (uint64_t)ns, a1);
}

SYSCALL_DEFINE(clock_nanosleep)
{
	int64_t ns, now = clock_now(a0);
	if (now < 0 || a0 == CLOCK_PROCESS_CPUTIME_ID || a0 == CLOCK_THREAD_CPUTIME_ID || (int64_t)a0 < 0)
		return now < 0 ? -EINVAL : -ENOTSUP;
	long r = read_timespec(a2, &ns);
	if (r < 0)
		return r;
	bool absolute = a1 & TIMER_ABSTIME;
	int64_t wait = absolute ? ns - now : ns;
	if (wait <= 0)
		return 0;
	r = sleep_to(clock_monotonic_ns() + (uint64_t)wait, absolute ? 0 : a3);
	return absolute && r == -ERESTART_RESTARTBLOCK ? -ERESTARTNOHAND : r;
}

SYSCALL_DEFINE(times)
{
	uint64_t ticks = cpu_ns() / 10000000; /* USER_HZ = 100 */
	if (a0) {
		int64_t t[4] = {(int64_t)ticks, 0, 0, 0}; /* utime, stime, cutime, cstime */
		if (copy_to_user(a0, t, sizeof(t)) < 0)
			return -EFAULT;
	}
	return (long)(clock_monotonic_ns() / 10000000);
}

#define RUSAGE_SELF 0
#define RUSAGE_CHILDREN (-1)
#define RUSAGE_THREAD 1

SYSCALL_DEFINE(getrusage)
{
	int who = (int)a0;
	if (who != RUSAGE_SELF && who != RUSAGE_CHILDREN && who != RUSAGE_THREAD)
		return -EINVAL;
	int64_t usage[18];
	memset(usage, 0, sizeof(usage));
	if (who != RUSAGE_CHILDREN) {
		uint64_t ns = who == RUSAGE_THREAD ? sched_thread_cpu_ns(current_thread()) : cpu_ns();
		usage[0] = (int64_t)(ns / NSEC_PER_SEC);        /* ru_utime.tv_sec */
		usage[1] = (int64_t)(ns % NSEC_PER_SEC / 1000); /* ru_utime.tv_usec */
		usage[4] = (int64_t)((phys_total_bytes() - phys_free_bytes()) >> 10); /* ru_maxrss (KiB) */
	}
	return copy_to_user(a1, usage, sizeof(usage));
}
