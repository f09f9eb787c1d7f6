/* epoll: epoll_create/epoll_create1, epoll_ctl, epoll_wait/epoll_pwait/epoll_pwait2 over every kind of
 * descriptor that poll understands (fs/file.h: file_ops.poll). Readiness is computed when asked, not
 * pushed: epoll_wait scans the interest list, and blocks the thread in net_wait (woken whenever the
 * network stack has run, or the interest list changed) until something is ready. Level-triggered by default; EPOLLET reports a descriptor again
 * only after its event counter moved (file_ops.event_seq: new data, room, a connection, an error) or
 * its readiness changed; EPOLLONESHOT disables an entry after one report until EPOLL_CTL_MOD. Entries
 * go away when their file is finally closed, as on Linux. */
#include "arch/x86_64/clock.h"
#include "errno.h"
#include "sched/deferred.h"
#include "fs/file.h"
#include "fs/ramfs.h"
#include "lib.h"
#include "linux/linux.h"
#include "mm/mm.h"
#include "net/net.h"

#define EPOLL_CLOEXEC 02000000
#define EPOLL_CTL_ADD 1
#define EPOLL_CTL_DEL 2
#define EPOLL_CTL_MOD 3
#define EPOLLEXCLUSIVE (1u << 28)
#define EPOLLWAKEUP (1u << 29)
#define EPOLLONESHOT (1u << 30)
#define EPOLLET (1u << 31)
#define MAX_EVENTS (1 << 20)

struct epoll_event {
	uint32_t events;
	uint64_t data;
} PACKED;

struct epoll_item {
	struct epoll_item *next;
	struct file *file; /* not a reference: the item goes when the file goes */
	int fd;
	uint32_t events;
	uint64_t data;
	bool disabled;          /* EPOLLONESHOT fired */
	uint32_t reported_seq;  /* EPOLLET: the event counter and readiness last reported */
	uint32_t reported_mask;
};

struct epoll {
	struct epoll *next; /* every instance, so closing a file can reach its items */
	struct file *self;
	struct epoll_item *items;
};

static struct epoll *instances;
static const struct file_ops epoll_ops;

static void forget_file(struct file *f)
{
	for (struct epoll *ep = instances; ep; ep = ep->next) {
		for (struct epoll_item **p = &ep->items; *p;) {
			if ((*p)->file == f) {
				struct epoll_item *gone = *p;
				*p = gone->next;
				kfree(gone);
			} else {
				p = &(*p)->next;
			}
		}
	}
}

static uint32_t seq_of(struct epoll_item *it) { return it->file->ops->event_seq ? it->file->ops->event_seq(it->file) : 0; }

/* What the item would report now (0: nothing). */
static uint32_t item_events(struct epoll_item *it)
{
	if (it->disabled)
		return 0;
	uint32_t mask = file_poll(it->file) & (it->events | POLLERR | POLLHUP);
	if (mask && (it->events & EPOLLET) && seq_of(it) == it->reported_seq && mask == it->reported_mask)
		return 0; /* edge-triggered: nothing new since the last report */
	return mask;
}

static uint32_t epoll_file_poll(struct file *f)
{
	struct epoll *ep = f->private_data;
	for (struct epoll_item *it = ep->items; it; it = it->next)
		if (item_events(it))
			return POLLIN | POLLRDNORM;
	return 0;
}

static void epoll_file_release(struct file *f)
{
	struct epoll *ep = f->private_data;
	for (struct epoll **p = &instances; *p; p = &(*p)->next) {
		if (*p == ep) {
			*p = ep->next;
			break;
		}
	}
	for (struct epoll_item *it = ep->items, *next; it; it = next) {
		next = it->next;
		kfree(it);
	}
	kfree(ep);
}

static const struct file_ops epoll_ops = {
    .anon_name = "eventpoll",
    .stat = anon_inode_stat,
    .poll = epoll_file_poll,
    .release = epoll_file_release,
};

static long create(uint64_t flags)
{
	if (flags & ~(uint64_t)EPOLL_CLOEXEC)
		return -EINVAL;
	struct epoll *ep = kzalloc(sizeof(*ep));
	if (!ep)
		return -ENOMEM;
	struct file *f = file_new(&epoll_ops, O_RDWR);
	if (!f) {
		kfree(ep);
		return -ENOMEM;
	}
	f->private_data = ep;
	ep->self = f;
	ep->next = instances;
	instances = ep;
	static bool hooked;
	if (!hooked) {
		file_set_close_hook(forget_file);
		hooked = true;
	}
	int fd = fd_install(f, flags & EPOLL_CLOEXEC, 0);
	if (fd < 0)
		file_put(f);
	return fd;
}

SYSCALL_DEFINE(epoll_create) { return (int)a0 <= 0 ? -EINVAL : create(0); }
SYSCALL_DEFINE(epoll_create1) { return create(a0); }

static struct epoll *epoll_of(int fd)
{
	struct file *f = fd_get(fd);
	return f && f->ops == &epoll_ops ? f->private_data : NULL;
}

static long control(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
	int epfd = (int)a0, op = (int)a1, fd = (int)a2;
	struct file *ef = fd_get(epfd), *f = fd_get(fd);
	if (!ef || !f)
		return -EBADF;
	struct epoll *ep = epoll_of(epfd);
	if (!ep || fd == epfd)
		return -EINVAL;
	/* Regular files and directories are always ready: Linux refuses them. */
	if (f->node && ((f->node->mode & S_IFMT) == S_IFREG || (f->node->mode & S_IFMT) == S_IFDIR))
		return -EPERM;
	struct epoll_event ev = {0, 0};
	if (op != EPOLL_CTL_DEL && copy_from_user(&ev, a3, sizeof(ev)) < 0)
		return -EFAULT;
	struct epoll_item **at = &ep->items;
	while (*at && !((*at)->fd == fd && (*at)->file == f))
		at = &(*at)->next;
	switch (op) {
	case EPOLL_CTL_ADD: {
		if (*at)
			return -EEXIST;
		if (f->ops == &epoll_ops) {
			struct epoll *inner = f->private_data;
			for (struct epoll_item *it = inner->items; it; it = it->next)
				if (it->file == ef)
					return -ELOOP; /* a cycle of epoll instances */
		}
		struct epoll_item *it = kzalloc(sizeof(*it));
		if (!it)
			return -ENOMEM;
		it->file = f;
		it->fd = fd;
		it->events = ev.events;
		it->data = ev.data;
		it->reported_seq = seq_of(it) - 1; /* whatever is ready now is news */
		it->next = ep->items;
		ep->items = it;
		return 0;
	}
	case EPOLL_CTL_MOD:
		if (!*at)
			return -ENOENT;
		(*at)->events = ev.events;
		(*at)->data = ev.data;
		(*at)->disabled = false;
		(*at)->reported_seq = seq_of(*at) - 1;
		return 0;
	case EPOLL_CTL_DEL: {
		if (!*at)
			return -ENOENT;
		struct epoll_item *gone = *at;
		*at = gone->next;
		kfree(gone);
		return 0;
	}
	default:
		return -EINVAL;
	}
}

SYSCALL_DEFINE(epoll_ctl)
{
	long r = control(a0, a1, a2, a3);
	if (r == 0)
		deferred_notify(); /* a thread in epoll_wait re-checks the changed set */
	return r;
}

struct harvest {
	struct epoll *ep;
	struct epoll_event *out;
	int max, count;
};

static int collect(struct harvest *h)
{
	h->count = 0;
	for (struct epoll_item *it = h->ep->items; it && h->count < h->max; it = it->next) {
		uint32_t mask = item_events(it);
		if (!mask)
			continue;
		h->out[h->count++] = (struct epoll_event){mask, it->data};
		it->reported_seq = seq_of(it);
		it->reported_mask = mask;
		if (it->events & EPOLLONESHOT)
			it->disabled = true;
	}
	return h->count;
}

static bool ready(void *arg) { return collect(arg) > 0; }

/* deadline: 0 for "do not wait", ~0 for "wait forever". */
static long do_wait(int epfd, uint64_t user_events, int max, uint64_t deadline)
{
	if (!fd_get(epfd))
		return -EBADF;
	struct epoll *ep = epoll_of(epfd);
	if (!ep || max <= 0 || max > MAX_EVENTS)
		return -EINVAL;
	int room = MIN(max, 1024);
	struct harvest h = {ep, kmalloc(room * sizeof(struct epoll_event)), room, 0};
	if (!h.out)
		return -ENOMEM;
	long r = 0;
	if (!collect(&h) && deadline && net_wait(deadline == ~0UL ? 0 : deadline, ready, &h) == -EINTR) {
		kfree(h.out);
		return -EINTR; /* never restarted, as on Linux */
	}
	r = h.count;
	if (r && copy_to_user(user_events, h.out, r * sizeof(struct epoll_event)) < 0)
		r = -EFAULT;
	kfree(h.out);
	return r;
}

static uint64_t deadline_ms(int timeout) { return timeout < 0 ? ~0UL : timeout == 0 ? 0 : clock_monotonic_ns() + timeout * 1000000UL; }

/* The wait with the signal mask at user (when not NULL) in place meanwhile. */
static long wait_masked(int epfd, uint64_t user_events, int max, uint64_t deadline, uint64_t user_mask, uint64_t size)
{
	if (user_mask) {
		uint64_t mask;
		if (size != 8)
			return -EINVAL;
		if (copy_from_user(&mask, user_mask, 8) < 0)
			return -EFAULT;
		signal_set_temporary_mask(mask);
	}
	long r = do_wait(epfd, user_events, max, deadline);
	if (r != -EINTR)
		signal_restore_mask(); /* else after the handler's frame saved it */
	return r;
}

SYSCALL_DEFINE(epoll_wait) { return do_wait((int)a0, a1, (int)a2, deadline_ms((int)a3)); }
SYSCALL_DEFINE(epoll_pwait) { return wait_masked((int)a0, a1, (int)a2, deadline_ms((int)a3), a4, a5); }

SYSCALL_DEFINE(epoll_pwait2)
{
	uint64_t deadline = ~0UL;
	if (a3) {
		struct {
			int64_t sec, nsec;
		} ts;
		if (copy_from_user(&ts, a3, sizeof(ts)) < 0)
			return -EFAULT;
		if (ts.sec < 0 || ts.nsec < 0 || ts.nsec >= 1000000000L)
			return -EINVAL;
		uint64_t ns = (uint64_t)MIN(ts.sec, 1L << 32) * 1000000000UL + (uint64_t)ts.nsec;
		deadline = ns ? clock_monotonic_ns() + ns : 0;
	}
	return wait_masked((int)a0, a1, (int)a2, deadline, a4, a5);
}
