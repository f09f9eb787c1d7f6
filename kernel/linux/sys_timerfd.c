/* timerfd: timers read as files (timerfd_create, timerfd_settime, timerfd_gettime). A read returns
 * the number of expirations since the last read (8 bytes) and blocks until there is one (EAGAIN with
 * O_NONBLOCK); poll, select and epoll see it readable then. Each is a kernel timer (sched/timer.h)
 * whose callback, in the timer interrupt, counts expirations, re-arms an interval timer and wakes the
 * threads waiting in read, poll or epoll (the deferred-work wait queue). CLOCK_REALTIME deadlines are
 * converted to the monotonic clock when set (the wall clock is never stepped here). */
#include "arch/x86_64/clock.h"
#include "errno.h"
#include "fs/file.h"
#include "lib.h"
#include "linux/itimerspec.h"
#include "linux/linux.h"
#include "sched/deferred.h"
#include "sched/sched.h"

#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1
#define CLOCK_BOOTTIME 7
#define CLOCK_REALTIME_ALARM 8
#define CLOCK_BOOTTIME_ALARM 9
#define TFD_TIMER_ABSTIME 1
#define TFD_TIMER_CANCEL_ON_SET 2
#define TFD_CLOEXEC O_CLOEXEC
#define TFD_NONBLOCK O_NONBLOCK

struct timerfd {
	struct ktimer timer; /* first: the callback finds its timerfd */
	int clock;
	uint64_t expires;  /* monotonic ns; 0: disarmed [sched_lock] */
	uint64_t interval; /* ns; 0: one-shot [sched_lock] */
	uint64_t ticks;    /* expirations not read yet [sched_lock] */
	uint32_t seq;      /* counts expirations, for EPOLLET */
};

static bool is_realtime(int clock) { return clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_ALARM; }

static void expired(struct ktimer *t)
{
	struct timerfd *tfd = (struct timerfd *)t;
	uint64_t now = clock_monotonic_ns();
	if (!tfd->expires || now < tfd->expires)
		return;
	uint64_t count = 1;
	if (tfd->interval) {
		count += (now - tfd->expires) / tfd->interval; /* periods missed count too */
		tfd->expires += count * tfd->interval;
		timer_arm(&tfd->timer, tfd->expires);
	} else {
		tfd->expires = 0;
	}
	tfd->ticks += count;
	tfd->seq++;
	deferred_notify_locked(); /* readers, poll and epoll re-check */
}

static struct timerfd *timerfd_of(struct file *f) { return f->private_data; }

static bool has_ticks(void *arg)
{
	struct timerfd *tfd = arg;
	return __atomic_load_n(&tfd->ticks, __ATOMIC_RELAXED) != 0;
}

static long timerfd_read(struct file *f, uint64_t buf, size_t n, uint64_t *pos)
{
	struct timerfd *tfd = timerfd_of(f);
	if (n < 8)
		return -EINVAL;
	for (;;) {
		uint64_t flags = spin_lock_irqsave(&sched_lock);
		uint64_t ticks = tfd->ticks;
		tfd->ticks = 0;
		spin_unlock_irqrestore(&sched_lock, flags);
		if (ticks) {
			if (copy_to_user(buf, &ticks, 8) < 0) {
				flags = spin_lock_irqsave(&sched_lock);
				tfd->ticks += ticks; /* nothing was read after all */
				spin_unlock_irqrestore(&sched_lock, flags);
				return -EFAULT;
			}
			return 8;
		}
		if (f->flags & O_NONBLOCK)
			return -EAGAIN;
		if (deferred_wait(has_ticks, tfd, 0, 0, true) == -EINTR)
			return -ERESTARTSYS;
	}
}

static uint32_t timerfd_poll(struct file *f) { return has_ticks(timerfd_of(f)) ? POLLIN | POLLRDNORM : 0; }

static uint32_t timerfd_seq(struct file *f) { return timerfd_of(f)->seq; }

static void timerfd_release(struct file *f)
{
	struct timerfd *tfd = timerfd_of(f);
	uint64_t flags = spin_lock_irqsave(&sched_lock);
	timer_cancel(&tfd->timer);
	spin_unlock_irqrestore(&sched_lock, flags);
	kfree(tfd);
}

static const struct file_ops timerfd_ops = {
    .anon_name = "timerfd",
    .read = timerfd_read,
    .stat = anon_inode_stat,
    .poll = timerfd_poll,
    .event_seq = timerfd_seq,
    .release = timerfd_release,
};

SYSCALL_DEFINE(timerfd_create)
{
	int clock = (int)a0;
	if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC && clock != CLOCK_BOOTTIME &&
	    clock != CLOCK_REALTIME_ALARM && clock != CLOCK_BOOTTIME_ALARM)
		return -EINVAL;
	if (a1 & ~(uint64_t)(TFD_CLOEXEC | TFD_NONBLOCK))
		return -EINVAL;
	struct timerfd *tfd = kzalloc(sizeof(*tfd));
	if (!tfd)
		return -ENOMEM;
	timer_init(&tfd->timer, expired);
	tfd->clock = clock;
	int fd = fd_install_new(&timerfd_ops, O_RDWR | (a1 & TFD_NONBLOCK), tfd, a1 & TFD_CLOEXEC);
	if (fd == -ENOMEM)
		kfree(tfd);
	return fd;
}

/* sched_lock held: what timerfd_gettime reports (the time left, and the interval). */
static struct itimerspec current_setting(struct timerfd *tfd)
{
	uint64_t now = clock_monotonic_ns();
	return itimerspec_left(tfd->expires, tfd->interval, now);
}

static struct timerfd *timerfd_at(int fd)
{
	struct file *f = fd_get(fd);
	return f && f->ops == &timerfd_ops ? f->private_data : NULL;
}

SYSCALL_DEFINE(timerfd_settime)
{
	if (!fd_get((int)a0))
		return -EBADF;
	struct timerfd *tfd = timerfd_at((int)a0);
	if (!tfd || (a1 & ~(uint64_t)(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET)))
		return -EINVAL;
	struct itimerspec next, old;
	if (copy_from_user(&next, a2, sizeof(next)) < 0)
		return -EFAULT;
	if (!itimerspec_valid(&next))
		return -EINVAL;
	uint64_t value = timespec_to_ns(&next.value), now = clock_monotonic_ns();
	uint64_t expires = itimerspec_deadline(value, a1 & TFD_TIMER_ABSTIME, is_realtime(tfd->clock), now);
	uint64_t flags = spin_lock_irqsave(&sched_lock);
	old = current_setting(tfd);
	tfd->expires = expires;
	tfd->interval = timespec_to_ns(&next.interval);
	tfd->ticks = 0;
	if (expires)
		timer_arm(&tfd->timer, MAX(expires, now));
	else
		timer_cancel(&tfd->timer);
	spin_unlock_irqrestore(&sched_lock, flags);
	if (a3 && copy_to_user(a3, &old, sizeof(old)) < 0)
		return -EFAULT;
	return 0;
}

SYSCALL_DEFINE(timerfd_gettime)
{
	if (!fd_get((int)a0))
		return -EBADF;
	struct timerfd *tfd = timerfd_at((int)a0);
	if (!tfd)
		return -EINVAL;
	uint64_t flags = spin_lock_irqsave(&sched_lock);
	struct itimerspec now = current_setting(tfd);
	spin_unlock_irqrestore(&sched_lock, flags);
	return copy_to_user(a1, &now, sizeof(now));
}
