/* eventfd and eventfd2: a 64-bit counter read and written as a file, 8 bytes at a time. A write adds
 * to the counter and blocks while that would pass EVENTFD_MAX; a read takes the whole counter (or 1
 * with EFD_SEMAPHORE) and blocks while it is 0. Both fail with EAGAIN instead under EFD_NONBLOCK.
 * Readable for poll, select and epoll while the counter is not 0, writable while it is below
 * EVENTFD_MAX. Waits are on the deferred-work wait queue (sched/deferred.h), woken by deferred_notify
 * after every change; only syscalls touch the counter, one at a time, so it needs no lock. */
#include "errno.h"
#include "fs/file.h"
#include "lib.h"
#include "linux/linux.h"
#include "sched/deferred.h"

#define EFD_SEMAPHORE 1
#define EFD_CLOEXEC O_CLOEXEC
#define EFD_NONBLOCK O_NONBLOCK
#define EVENTFD_MAX 0xfffffffffffffffeUL

struct eventfd {
	uint64_t count;
	bool semaphore;
	uint32_t seq; /* changes with the counter (EPOLLET) */
};

static struct eventfd *eventfd_of(struct file *f) { return f->private_data; }

static bool has_count(void *arg) { return ((struct eventfd *)arg)->count != 0; }

struct addition {
	struct eventfd *efd;
	uint64_t value;
};

static bool has_room(void *arg)
{
	struct addition *a = arg;
	return a->value <= EVENTFD_MAX - a->efd->count;
}

static long eventfd_read(struct file *f, uint64_t buf, size_t n, uint64_t *pos)
{
	struct eventfd *efd = eventfd_of(f);
	if (n < 8)
		return -EINVAL;
	while (!efd->count) {
		if (f->flags & O_NONBLOCK)
			return -EAGAIN;
		if (deferred_wait(has_count, efd, 0, 0, true) == -EINTR)
			return -ERESTARTSYS;
	}
	uint64_t value = efd->semaphore ? 1 : efd->count;
	if (copy_to_user(buf, &value, 8) < 0)
		return -EFAULT;
	efd->count -= value;
	efd->seq++;
	deferred_notify();
	return 8;
}

static long eventfd_write(struct file *f, uint64_t buf, size_t n, uint64_t *pos)
{
	struct eventfd *efd = eventfd_of(f);
	uint64_t value;
	if (n < 8)
		return -EINVAL;
	if (copy_from_user(&value, buf, 8) < 0)
		return -EFAULT;
	if (value == ~0UL)
		return -EINVAL;
	struct addition a = {efd, value};
	while (!has_room(&a)) {
		if (f->flags & O_NONBLOCK)
			return -EAGAIN;
		if (deferred_wait(has_room, &a, 0, 0, true) == -EINTR)
			return -ERESTARTSYS;
	}
	efd->count += value;
	if (value) {
		efd->seq++;
		deferred_notify();
	}
	return 8;
}

static uint32_t eventfd_poll(struct file *f)
{
	struct eventfd *efd = eventfd_of(f);
	return (efd->count ? POLLIN | POLLRDNORM : 0) | (efd->count < EVENTFD_MAX ? POLLOUT | POLLWRNORM : 0);
}

static uint32_t eventfd_seq(struct file *f) { return eventfd_of(f)->seq; }

static void eventfd_release(struct file *f) { kfree(eventfd_of(f)); }

static const struct file_ops eventfd_ops = {
    .anon_name = "eventfd",
    .read = eventfd_read,
    .write = eventfd_write,
    .stat = anon_inode_stat,
    .poll = eventfd_poll,
    .event_seq = eventfd_seq,
    .release = eventfd_release,
};

static long make_eventfd(uint64_t initial, uint64_t flags)
{
	if (flags & ~(uint64_t)(EFD_SEMAPHORE | EFD_CLOEXEC | EFD_NONBLOCK))
		return -EINVAL;
	struct eventfd *efd = kzalloc(sizeof(*efd));
	if (!efd)
		return -ENOMEM;
	efd->count = (uint32_t)initial;
	efd->semaphore = flags & EFD_SEMAPHORE;
	int fd = fd_install_new(&eventfd_ops, O_RDWR | (flags & EFD_NONBLOCK), efd, flags & EFD_CLOEXEC);
	if (fd == -ENOMEM)
		kfree(efd);
	return fd;
}

SYSCALL_DEFINE(eventfd) { return make_eventfd(a0, 0); }
SYSCALL_DEFINE(eventfd2) { return make_eventfd(a0, a1); }
