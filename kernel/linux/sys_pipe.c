/* Pipes: pipe and pipe2. A pipe is a ring buffer (PIPE_DEFAULT_SIZE bytes, 64 KiB like Linux; F_SETPIPE_SZ
 * changes it) shared by two files, its read end and its write end. Reads block while the pipe is empty
 * and some writer remains (end of file otherwise); writes block while it is full, and write up to
 * PIPE_BUF bytes at once or not at all. A write with no reader left raises SIGPIPE in the writing thread
 * and fails with EPIPE. Blocked threads wait on the deferred-work wait queue (sched/deferred.h) and are
 * woken by deferred_notify whenever the other end reads, writes or closes; poll, select and epoll see
 * the same state through the ops. Only syscalls touch a pipe, and the kernel runs one at a time, so the
 * pipe needs no lock of its own. fcntl's F_GETPIPE_SZ/F_SETPIPE_SZ come here through pipe_fcntl. */
#include "errno.h"
#include "fs/file.h"
#include "fs/ramfs.h"
#include "lib.h"
#include "param.h"
#include "linux/linux.h"
#include "sched/deferred.h"
#include "sched/sched.h"

#define PIPE_BUF 4096
#define PIPE_MAX_SIZE (1024 * 1024) /* /proc/sys/fs/pipe-max-size */
#define PAGE 4096
#define O_DIRECT 040000
#define F_SETPIPE_SZ 1031
#define F_GETPIPE_SZ 1032
#define FIONREAD 0x541b

struct pipe {
	uint8_t *buffer;
	size_t size;          /* capacity of buffer */
	size_t head, length;  /* the bytes not read yet: length of them from head on (wrapping) */
	int readers, writers; /* open files of each end */
	uint32_t ino;
	uint32_t seq;         /* changes with every read, write and close (EPOLLET) */
};

static const struct file_ops pipe_read_ops, pipe_write_ops;

static struct pipe *pipe_of(struct file *f) { return f->private_data; }

static void changed(struct pipe *p)
{
	p->seq++;
	deferred_notify();
}

static bool readable(void *arg)
{
	struct pipe *p = arg;
	return p->length || !p->writers;
}

/* Copies up to n bytes out of the ring to the user; the count, or -EFAULT when nothing was copied. */
static long take_bytes(struct pipe *p, uint64_t buf, size_t n)
{
	size_t done = 0;
	while (done < n && p->length) {
		size_t chunk = MIN(MIN(n - done, p->length), p->size - p->head);
		if (copy_to_user(buf + done, p->buffer + p->head, chunk) < 0)
			return done ? (long)done : -EFAULT;
		p->head = (p->head + chunk) % p->size;
		p->length -= chunk;
		done += chunk;
	}
	return (long)done;
}

static long pipe_read(struct file *f, uint64_t buf, size_t n, uint64_t *pos)
{
	struct pipe *p = pipe_of(f);
	if (n == 0)
		return 0;
	while (!p->length) {
		if (!p->writers)
			return 0;
		if (f->flags & O_NONBLOCK)
			return -EAGAIN;
		if (deferred_wait(readable, p, 0, 0, true) == -EINTR)
			return -ERESTARTSYS;
	}
	long r = take_bytes(p, buf, n);
	if (r > 0)
		changed(p);
	return r;
}

/* Whether a write of want bytes can go on now: enough room (all of it up to PIPE_BUF, any
 * otherwise), or no reader left. */
struct write_wait {
	struct pipe *pipe;
	size_t want;
};

static bool writable(void *arg)
{
	struct write_wait *w = arg;
	size_t room = w->pipe->size - w->pipe->length;
	return !w->pipe->readers || room >= MIN(w->want, PIPE_BUF) || (w->want > PIPE_BUF && room);
}

static long put_bytes(struct pipe *p, uint64_t buf, size_t n)
{
	size_t done = 0;
	while (done < n && p->length < p->size) {
		size_t tail = (p->head + p->length) % p->size;
		size_t chunk = MIN(MIN(n - done, p->size - p->length), p->size - tail);
		if (copy_from_user(p->buffer + tail, buf + done, chunk) < 0)
			return done ? (long)done : -EFAULT;
		p->length += chunk;
		done += chunk;
	}
	return (long)done;
}

static long broken_pipe(void)
{
	struct ksiginfo info = {SIGPIPE, 0, SI_USER, 0, {1 /* si_pid */, 0, 0, 0}};
	signal_send_thread(current_thread(), &info);
	return -EPIPE;
}

static long pipe_write(struct file *f, uint64_t buf, size_t n, uint64_t *pos)
{
	struct pipe *p = pipe_of(f);
	size_t done = 0;
	if (!p->readers)
		return broken_pipe();
	while (done < n) {
		struct write_wait w = {p, n - done};
		if (!writable(&w)) {
			if (f->flags & O_NONBLOCK)
				return done ? (long)done : -EAGAIN;
			if (deferred_wait(writable, &w, 0, 0, true) == -EINTR)
				return done ? (long)done : -ERESTARTSYS;
		}
		if (!p->readers)
			return done ? (long)done : broken_pipe();
		long r = put_bytes(p, buf + done, n - done);
		if (r < 0)
			return done ? (long)done : r;
		done += (size_t)r;
		changed(p);
	}
	return (long)done;
}

static uint32_t pipe_read_poll(struct file *f)
{
	struct pipe *p = pipe_of(f);
	return (p->length ? POLLIN | POLLRDNORM : 0) | (p->writers ? 0 : POLLHUP);
}

static uint32_t pipe_write_poll(struct file *f)
{
	struct pipe *p = pipe_of(f);
	return (p->size - p->length >= PIPE_BUF ? POLLOUT | POLLWRNORM : 0) | (p->readers ? 0 : POLLERR);
}

static uint32_t pipe_seq(struct file *f) { return pipe_of(f)->seq; }

static long pipe_ioctl(struct file *f, uint64_t cmd, uint64_t arg)
{
	if (cmd != FIONREAD)
		return -ENOTTY;
	int count = (int)pipe_of(f)->length;
	return copy_to_user(arg, &count, sizeof(count));
}

static void pipe_stat(struct file *f, struct linux_stat *st)
{
	memset(st, 0, sizeof(*st));
	st->dev = 14; /* pipefs */
	st->ino = pipe_of(f)->ino;
	st->nlink = 1;
	st->mode = S_IFIFO | 0600;
	st->blksize = PAGE;
}

static void pipe_release(struct file *f)
{
	struct pipe *p = pipe_of(f);
	if (f->ops == &pipe_read_ops)
		p->readers--;
	else
		p->writers--;
	if (!p->readers && !p->writers) {
		kfree(p->buffer);
		kfree(p);
		return;
	}
	changed(p);
}

static const struct file_ops pipe_read_ops = {
    .read = pipe_read,
    .stat = pipe_stat,
    .ioctl = pipe_ioctl,
    .poll = pipe_read_poll,
    .event_seq = pipe_seq,
    .release = pipe_release,
};

static const struct file_ops pipe_write_ops = {
    .write = pipe_write,
    .stat = pipe_stat,
    .ioctl = pipe_ioctl,
    .poll = pipe_write_poll,
    .event_seq = pipe_seq,
    .release = pipe_release,
};

long pipe_fcntl(struct file *f, uint64_t cmd, uint64_t arg)
{
	if (f->ops != &pipe_read_ops && f->ops != &pipe_write_ops)
		return -EBADF;
	struct pipe *p = pipe_of(f);
	if (cmd == F_GETPIPE_SZ)
		return (long)p->size;
	if (arg > PIPE_MAX_SIZE)
		return -EPERM; /* as for an unprivileged process */
	size_t size = PAGE;
	while (size < arg)
		size <<= 1;
	if (size == p->size)
		return (long)size;
	if (size < p->length)
		return -EBUSY;
	uint8_t *buffer = kmalloc(size);
	if (!buffer)
		return -ENOMEM;
	size_t length = p->length;
	for (size_t i = 0; i < length; i++) /* unwrap the ring into the new buffer */
		buffer[i] = p->buffer[(p->head + i) % p->size];
	kfree(p->buffer);
	p->buffer = buffer;
	p->size = size;
	p->head = 0;
	changed(p);
	return (long)size;
}

static long make_pipe(uint64_t user_fds, uint64_t flags)
{
	if (flags & ~(uint64_t)(O_CLOEXEC | O_NONBLOCK | O_DIRECT))
		return -EINVAL;
	if (flags & O_DIRECT)
		return -EINVAL; /* packet mode is not supported */
	struct pipe *p = kzalloc(sizeof(*p));
	uint8_t *buffer = kmalloc(PIPE_DEFAULT_SIZE);
	struct file *reader = file_new(&pipe_read_ops, O_RDONLY | (flags & O_NONBLOCK));
	struct file *writer = file_new(&pipe_write_ops, O_WRONLY | (flags & O_NONBLOCK));
	if (!p || !buffer || !reader || !writer) {
		kfree(p);
		kfree(buffer);
		kfree(reader);
		kfree(writer);
		return -ENOMEM;
	}
	*p = (struct pipe){buffer, PIPE_DEFAULT_SIZE, 0, 0, 1, 1, ramfs_new_ino(), 0};
	reader->private_data = writer->private_data = p;
	int fds[2] = {fd_install(reader, flags & O_CLOEXEC, 0), -1};
	if (fds[0] >= 0)
		fds[1] = fd_install(writer, flags & O_CLOEXEC, 0);
	long r = fds[1] < 0 ? (fds[0] < 0 ? fds[0] : fds[1]) : copy_to_user(user_fds, fds, sizeof(fds));
	if (r < 0) {
		if (fds[0] >= 0)
			fd_close(fds[0]);
		else
			file_put(reader);
		if (fds[1] >= 0)
			fd_close(fds[1]);
		else
			file_put(writer);
	}
	return r;
}

SYSCALL_DEFINE(pipe) { return make_pipe(a0, 0); }
SYSCALL_DEFINE(pipe2) { return make_pipe(a0, a1); }
