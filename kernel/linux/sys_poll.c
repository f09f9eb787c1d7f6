/* Waiting on descriptors: poll, ppoll, select and pselect6 over every kind of file (sockets report
 * their readiness through file_ops.poll; other files are always ready, as regular files are on
 * Linux). A wait blocks the thread in net_wait until the network stack has made something ready, the
 * timeout passes or a signal comes (EINTR: never restarted after a handler, as on Linux). ppoll and
 * pselect6 wait with the signal mask they are given. */
#include "arch/x86_64/clock.h"
#include "errno.h"
#include "fs/file.h"
#include "lib.h"
#include "linux/linux.h"
#include "mm/mm.h"
#include "net/net.h"
#include "param.h"

#define NSEC_PER_SEC 1000000000UL
#define FD_SETSIZE 1024
/* What select counts as readable, writable and exceptional (Linux's POLL*_SET). */
#define SELECT_IN (POLLIN | POLLRDNORM | POLLRDBAND | POLLHUP | POLLERR)
#define SELECT_OUT (POLLOUT | POLLWRNORM | POLLWRBAND | POLLERR)
#define SELECT_EX POLLPRI

struct pollfd {
	int32_t fd;
	int16_t events, revents;
};

struct timespec_k {
	int64_t sec, nsec;
};

struct poll_set {
	struct pollfd *fds;
	uint64_t count;
	int ready;
};

static int poll_scan(struct poll_set *p)
{
	int ready = 0;
	for (uint64_t i = 0; i < p->count; i++) {
		struct pollfd *pfd = &p->fds[i];
		pfd->revents = 0;
		if (pfd->fd < 0)
			continue;
		struct file *f = fd_get(pfd->fd);
		uint32_t mask = f ? file_poll(f) & ((uint16_t)pfd->events | POLLERR | POLLHUP) : POLLNVAL;
		pfd->revents = (int16_t)mask;
		if (mask)
			ready++;
	}
	p->ready = ready;
	return ready;
}

static bool poll_ready(void *arg) { return poll_scan(arg) > 0; }

/* Polls until something is ready or deadline (0: now only, ~0: never); the count ready. */
static long do_poll(uint64_t user_fds, uint64_t count, uint64_t deadline)
{
	if (count > MAX_FDS)
		return -EINVAL;
	struct poll_set p = {NULL, count, 0};
	if (count) {
		p.fds = kmalloc(count * sizeof(struct pollfd));
		if (!p.fds)
			return -ENOMEM;
		if (copy_from_user(p.fds, user_fds, count * sizeof(struct pollfd)) < 0) {
			kfree(p.fds);
			return -EFAULT;
		}
	}
	long r = 0;
	if (!poll_scan(&p) && deadline && net_wait(deadline == ~0UL ? 0 : deadline, poll_ready, &p) == -EINTR) {
		kfree(p.fds);
		return -ERESTARTNOHAND;
	}
	r = p.ready;
	for (uint64_t i = 0; i < count; i++) /* only revents changes */
		if (copy_to_user(user_fds + i * sizeof(struct pollfd) + 6, &p.fds[i].revents, 2) < 0)
			r = -EFAULT;
	kfree(p.fds);
	return r;
}

/* A relative timeout as an absolute deadline: 0 for "do not wait", ~0 for "wait forever". */
static uint64_t deadline_after(uint64_t ns) { return ns == 0 ? 0 : clock_monotonic_ns() + ns; }

static long timespec_deadline(uint64_t user, uint64_t *deadline)
{
	if (!user) {
		*deadline = ~0UL;
		return 0;
	}
	struct timespec_k ts;
	if (copy_from_user(&ts, user, sizeof(ts)) < 0)
		return -EFAULT;
	if (ts.sec < 0 || ts.nsec < 0 || (uint64_t)ts.nsec >= NSEC_PER_SEC)
		return -EINVAL;
	uint64_t ns = (uint64_t)MIN(ts.sec, 1L << 32) * NSEC_PER_SEC + (uint64_t)ts.nsec;
	*deadline = deadline_after(ns);
	return 0;
}

/* Stores the time left until deadline into a timespec (or timeval when usec), as Linux does. */
static void store_remaining(uint64_t user, uint64_t deadline, bool usec)
{
	if (!user || deadline == ~0UL)
		return;
	uint64_t now = clock_monotonic_ns(), left = deadline > now ? deadline - now : 0;
	struct timespec_k ts = {(int64_t)(left / NSEC_PER_SEC), (int64_t)(left % NSEC_PER_SEC)};
	if (usec)
		ts.nsec /= 1000;
	copy_to_user(user, &ts, sizeof(ts));
}

SYSCALL_DEFINE(poll)
{
	int timeout_ms = (int)a2;
	uint64_t deadline = timeout_ms < 0 ? ~0UL : deadline_after((uint64_t)timeout_ms * 1000000UL);
	return do_poll(a0, a1, deadline);
}

SYSCALL_DEFINE(ppoll)
{
	uint64_t deadline;
	long r = timespec_deadline(a2, &deadline);
	if (r < 0)
		return r;
	if (a3) {
		uint64_t mask;
		if (a4 != 8)
			return -EINVAL;
		if (copy_from_user(&mask, a3, 8) < 0)
			return -EFAULT;
		signal_set_temporary_mask(mask);
	}
	r = do_poll(a0, a1, deadline);
	if (r >= 0)
		store_remaining(a2, deadline, false);
	if (r != -ERESTARTNOHAND)
		signal_restore_mask(); /* else after the handler's frame saved it */
	return r;
}

struct select_set {
	int nfds;
	uint64_t in[FD_SETSIZE / 64], out[FD_SETSIZE / 64], ex[FD_SETSIZE / 64];
	uint64_t rin[FD_SETSIZE / 64], rout[FD_SETSIZE / 64], rex[FD_SETSIZE / 64];
	int ready;
};

static bool bit(const uint64_t *set, int fd) { return set[fd / 64] >> (fd % 64) & 1; }

static int select_scan(struct select_set *s)
{
	int ready = 0;
	int words = (s->nfds + 63) / 64;
	memset(s->rin, 0, words * 8);
	memset(s->rout, 0, words * 8);
	memset(s->rex, 0, words * 8);
	for (int fd = 0; fd < s->nfds; fd++) {
		bool want_in = bit(s->in, fd), want_out = bit(s->out, fd), want_ex = bit(s->ex, fd);
		if (!want_in && !want_out && !want_ex)
			continue;
		struct file *f = fd_get(fd);
		if (!f) {
			s->ready = -EBADF;
			return -EBADF;
		}
		uint32_t mask = file_poll(f);
		if (want_in && (mask & SELECT_IN)) {
			s->rin[fd / 64] |= 1UL << (fd % 64);
			ready++;
		}
		if (want_out && (mask & SELECT_OUT)) {
			s->rout[fd / 64] |= 1UL << (fd % 64);
			ready++;
		}
		if (want_ex && (mask & SELECT_EX)) {
			s->rex[fd / 64] |= 1UL << (fd % 64);
			ready++;
		}
	}
	s->ready = ready;
	return ready;
}

static bool select_ready(void *arg) { return select_scan(arg) != 0; }

static long do_select(int nfds, uint64_t uin, uint64_t uout, uint64_t uex, uint64_t deadline)
{
	if (nfds < 0 || nfds > FD_SETSIZE)
		return -EINVAL;
	struct select_set *s = kzalloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->nfds = nfds;
	size_t bytes = (size_t)(nfds + 63) / 64 * 8;
	long r = 0;
	if ((uin && copy_from_user(s->in, uin, bytes) < 0) || (uout && copy_from_user(s->out, uout, bytes) < 0) ||
	    (uex && copy_from_user(s->ex, uex, bytes) < 0)) {
		r = -EFAULT;
		goto out;
	}
	r = select_scan(s);
	if (r == 0 && deadline && net_wait(deadline == ~0UL ? 0 : deadline, select_ready, s) == -EINTR) {
		r = -ERESTARTNOHAND;
		goto out;
	}
	r = s->ready;
	if (r < 0)
		goto out;
	if ((uin && copy_to_user(uin, s->rin, bytes) < 0) || (uout && copy_to_user(uout, s->rout, bytes) < 0) ||
	    (uex && copy_to_user(uex, s->rex, bytes) < 0))
		r = -EFAULT;
out:
	kfree(s);
	return r;
}

SYSCALL_DEFINE(select)
{
	uint64_t deadline = ~0UL;
	if (a4) {
		struct {
			int64_t sec, usec;
		} tv;
		if (copy_from_user(&tv, a4, sizeof(tv)) < 0)
			return -EFAULT;
		if (tv.sec < 0 || tv.usec < 0)
			return -EINVAL;
		uint64_t ns = (uint64_t)MIN(tv.sec, 1L << 32) * NSEC_PER_SEC + (uint64_t)(tv.usec % 1000000) * 1000 +
			      (uint64_t)(tv.usec / 1000000) * NSEC_PER_SEC;
		deadline = deadline_after(ns);
	}
	long r = do_select((int)a0, a1, a2, a3, deadline);
	if (r >= 0)
		store_remaining(a4, deadline, true);
	return r;
}

SYSCALL_DEFINE(pselect6)
{
	uint64_t deadline;
	long r = timespec_deadline(a4, &deadline);
	if (r < 0)
		return r;
	if (a5) { /* { const sigset_t *mask; size_t size; } */
		uint64_t arg[2], mask;
		if (copy_from_user(arg, a5, sizeof(arg)) < 0)
			return -EFAULT;
		if (arg[0]) {
			if (arg[1] != 8)
				return -EINVAL;
			if (copy_from_user(&mask, arg[0], 8) < 0)
				return -EFAULT;
			signal_set_temporary_mask(mask);
		}
	}
	r = do_select((int)a0, a1, a2, a3, deadline);
	if (r >= 0)
		store_remaining(a4, deadline, false);
	if (r != -ERESTARTNOHAND)
		signal_restore_mask();
	return r;
}
