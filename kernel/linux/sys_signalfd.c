/* signalfd and signalfd4: pending signals read as a file. Reading takes the reading thread's (then the
 * process's) pending signals of the descriptor's mask, as struct signalfd_siginfo records of 128 bytes,
 * as many as fit; it blocks while none is pending (EAGAIN under SFD_NONBLOCK). The signals are normally
 * blocked, so nothing else takes them first; signal.c wakes the deferred-work wait queue whenever it
 * queues one, which is where readers, poll and epoll wait. */
#include "errno.h"
#include "fs/file.h"
#include "lib.h"
#include "linux/linux.h"
#include "sched/deferred.h"
#include "sched/sched.h"
#include "sched/thread.h"

#define SFD_CLOEXEC O_CLOEXEC
#define SFD_NONBLOCK O_NONBLOCK

struct signalfd_siginfo {
	uint32_t signo;
	int32_t errnum, code;
	uint32_t pid, uid;
	int32_t fd;
	uint32_t tid, band, overrun, trapno;
	int32_t status, value_int;
	uint64_t value_ptr, utime, stime, addr;
	uint16_t addr_lsb, pad2;
	int32_t syscall;
	uint64_t call_addr;
	uint32_t arch;
	uint8_t pad[28];
};
static_assert(sizeof(struct signalfd_siginfo) == 128, "signalfd_siginfo layout");

struct signalfd {
	uint64_t mask;
};

static const struct file_ops signalfd_ops;

static uint64_t mask_of(struct file *f) { return ((struct signalfd *)f->private_data)->mask; }

/* Whether the calling thread has a pending signal of mask (its own or the process's). */
static bool has_signal(void *mask)
{
	struct thread *t = current_thread();
	return ((t->sig.pending.mask | current->shared_pending.mask) & *(uint64_t *)mask) != 0;
}

/* The record Linux fills for a signal, by the kind of its siginfo. */
static void fill(struct signalfd_siginfo *out, const struct ksiginfo *info)
{
	memset(out, 0, sizeof(*out));
	out->signo = (uint32_t)info->signo;
	out->errnum = info->errnum;
	out->code = info->code;
	uint32_t low = (uint32_t)info->fields[0], high = (uint32_t)(info->fields[0] >> 32);
	if (info->code == SI_TIMER) {
		out->tid = low;
		out->overrun = high;
		out->value_int = (int32_t)info->fields[1];
		out->value_ptr = info->fields[1];
	} else if (info->code > 0 && info->code != SI_KERNEL) {
		out->addr = info->fields[0]; /* a fault */
	} else {
		out->pid = low;
		out->uid = high;
		if (info->code < 0) { /* sent by a program: sigqueue, tkill... */
			out->value_int = (int32_t)info->fields[1];
			out->value_ptr = info->fields[1];
		}
	}
}

static long signalfd_read(struct file *f, uint64_t buf, size_t n, uint64_t *pos)
{
	uint64_t mask = mask_of(f);
	if (n < sizeof(struct signalfd_siginfo))
		return -EINVAL;
	size_t done = 0;
	while (done + sizeof(struct signalfd_siginfo) <= n) {
		struct ksiginfo info;
		uint64_t flags = spin_lock_irqsave(&sched_lock);
		int sig = signal_take(current_thread(), mask, &info);
		spin_unlock_irqrestore(&sched_lock, flags);
		if (!sig) {
			if (done)
				break;
			if (f->flags & O_NONBLOCK)
				return -EAGAIN;
			if (deferred_wait(has_signal, &mask, 0, 0, true) == -EINTR)
				return -ERESTARTSYS;
			continue;
		}
		struct signalfd_siginfo record;
		fill(&record, &info);
		if (copy_to_user(buf + done, &record, sizeof(record)) < 0)
			return done ? (long)done : -EFAULT;
		done += sizeof(record);
	}
	return (long)done;
}

static uint32_t signalfd_poll(struct file *f)
{
	uint64_t mask = mask_of(f);
	return has_signal(&mask) ? POLLIN | POLLRDNORM : 0;
}

static void signalfd_release(struct file *f) { kfree(f->private_data); }

static const struct file_ops signalfd_ops = {
    .anon_name = "signalfd",
    .read = signalfd_read,
    .stat = anon_inode_stat,
    .poll = signalfd_poll,
    .release = signalfd_release,
};

static long make_signalfd(int fd, uint64_t user_mask, uint64_t size, uint64_t flags)
{
	if (size != 8 || (flags & ~(uint64_t)(SFD_CLOEXEC | SFD_NONBLOCK)))
		return -EINVAL;
	uint64_t mask;
	if (copy_from_user(&mask, user_mask, 8) < 0)
		return -EFAULT;
	mask &= ~UNBLOCKABLE;
	if (fd != -1) {
		struct file *f = fd_get(fd);
		if (!f)
			return -EBADF;
		if (f->ops != &signalfd_ops)
			return -EINVAL;
		((struct signalfd *)f->private_data)->mask = mask;
		deferred_notify();
		return fd;
	}
	struct signalfd *sfd = kzalloc(sizeof(*sfd));
	if (!sfd)
		return -ENOMEM;
	sfd->mask = mask;
	int r = fd_install_new(&signalfd_ops, O_RDWR | (flags & SFD_NONBLOCK), sfd, flags & SFD_CLOEXEC);
	if (r == -ENOMEM)
		kfree(sfd);
	return r;
}

SYSCALL_DEFINE(signalfd) { return make_signalfd((int)a0, a1, a2, 0); }
SYSCALL_DEFINE(signalfd4) { return make_signalfd((int)a0, a1, a2, a3); }
