/* The futex syscall: decodes the operation, its timeout (relative for FUTEX_WAIT, absolute on
 * CLOCK_MONOTONIC or CLOCK_REALTIME for the others) and arguments, and calls sched/futex.c. An
 * interrupted wait returns -ERESTARTSYS (restarted under SA_RESTART), or for a relative timeout
 * -ERESTART_RESTARTBLOCK (EINTR when a handler ran), as Linux does. FUTEX_FD and the requeue-PI
 * operations are not supported (ENOSYS; glibc has not used them since 2.25). */
#include "arch/x86_64/clock.h"
#include "errno.h"
#include "lib.h"
#include "linux/linux.h"
#include "sched/futex.h"

#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_REQUEUE 3
#define FUTEX_CMP_REQUEUE 4
#define FUTEX_WAKE_OP 5
#define FUTEX_LOCK_PI 6
#define FUTEX_UNLOCK_PI 7
#define FUTEX_TRYLOCK_PI 8
#define FUTEX_WAIT_BITSET 9
#define FUTEX_WAKE_BITSET 10
#define FUTEX_WAIT_REQUEUE_PI 11
#define FUTEX_LOCK_PI2 13
#define FUTEX_CMD_MASK 127
#define FUTEX_CLOCK_REALTIME 256
#define NSEC_PER_SEC 1000000000L

/* The deadline a user timespec gives (absolute monotonic ns; 0 for no timeout); 0 or an error. */
static long timeout_deadline(uint64_t user, bool absolute, bool realtime, uint64_t *deadline)
{
	*deadline = 0;
	if (!user)
		return 0;
	struct {
		int64_t sec, nsec;
	} ts;
	if (copy_from_user(&ts, user, sizeof(ts)) < 0)
		return -EFAULT;
	if (ts.sec < 0 || ts.nsec < 0 || ts.nsec >= NSEC_PER_SEC)
		return -EINVAL;
	uint64_t ns = (uint64_t)MIN(ts.sec, 1L << 32) * NSEC_PER_SEC + (uint64_t)ts.nsec;
	uint64_t now = clock_monotonic_ns();
	if (!absolute) {
		*deadline = now + ns;
	} else if (realtime) {
		uint64_t real_now = clock_realtime_ns();
		*deadline = ns > real_now ? now + (ns - real_now) : 1;
	} else {
		*deadline = ns ? ns : 1;
	}
	return 0;
}

SYSCALL_DEFINE(futex)
{
	uint64_t uaddr = a0, uaddr2 = a4;
	uint32_t val = (uint32_t)a2, val3 = (uint32_t)a5;
	int cmd = (int)(a1 & FUTEX_CMD_MASK);
	bool realtime = a1 & FUTEX_CLOCK_REALTIME;
	if (realtime && cmd != FUTEX_WAIT && cmd != FUTEX_WAIT_BITSET && cmd != FUTEX_WAIT_REQUEUE_PI &&
	    cmd != FUTEX_LOCK_PI2)
		return -ENOSYS;
	uint64_t deadline;
	long r;
	switch (cmd) {
	case FUTEX_WAIT:
	case FUTEX_WAIT_BITSET: {
		bool relative = cmd == FUTEX_WAIT;
		r = timeout_deadline(a3, !relative, realtime, &deadline);
		if (r < 0)
			return r;
		r = futex_wait(uaddr, val, deadline, relative ? FUTEX_BITSET_ANY : val3);
		if (r == -EINTR)
			r = relative && deadline ? -ERESTART_RESTARTBLOCK : -ERESTARTSYS;
		return r;
	}
	case FUTEX_WAKE:
		return futex_wake(uaddr, (int)val, FUTEX_BITSET_ANY);
	case FUTEX_WAKE_BITSET:
		return futex_wake(uaddr, (int)val, val3);
	case FUTEX_REQUEUE:
		return futex_requeue(uaddr, (int)val, (int)a3, uaddr2, false, 0);
	case FUTEX_CMP_REQUEUE:
		return futex_requeue(uaddr, (int)val, (int)a3, uaddr2, true, val3);
	case FUTEX_WAKE_OP:
		return futex_wake_op(uaddr, (int)val, (int)a3, uaddr2, val3);
	case FUTEX_LOCK_PI:
	case FUTEX_LOCK_PI2:
		r = timeout_deadline(a3, true, cmd == FUTEX_LOCK_PI || realtime, &deadline);
		if (r < 0)
			return r;
		return futex_lock_pi(uaddr, deadline, false);
	case FUTEX_TRYLOCK_PI:
		return futex_lock_pi(uaddr, 0, true);
	case FUTEX_UNLOCK_PI:
		return futex_unlock_pi(uaddr);
	default:
		return -ENOSYS;
	}
}
