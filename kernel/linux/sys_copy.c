/* Copies from one file to another inside the kernel: sendfile and copy_file_range. The bytes go
 * through a kernel buffer handed to the files' own read and write operations (which take user
 * addresses: the thread's kernel_buffers flag lets them through, mm/mm.h), COPY_CHUNK at a time;
 * below the size at which rofs reads straight into user pages. A short write puts the source's
 * position back to just after what was written, so nothing read is lost. */
#include "errno.h"
#include "fs/file.h"
#include "fs/ramfs.h"
#include "lib.h"
#include "linux/linux.h"
#include "sched/sched.h"
#include "sched/thread.h"

#define COPY_CHUNK (8 * 1024)
#define MAX_RW_COUNT 0x7ffff000L /* the most one read or write moves on Linux */

static long read_kernel(struct file *f, void *buf, size_t n, uint64_t *pos)
{
	struct thread *self = current_thread();
	self->kernel_buffers = true;
	long r = f->ops->read(f, (uint64_t)buf, n, pos);
	self->kernel_buffers = false;
	return r;
}

static long write_kernel(struct file *f, const void *buf, size_t n, uint64_t *pos)
{
	struct thread *self = current_thread();
	self->kernel_buffers = true;
	long r = f->ops->write(f, (uint64_t)buf, n, pos);
	self->kernel_buffers = false;
	return r;
}

/* Up to len bytes from in at *in_pos to out at *out_pos; the count, or -errno when nothing moved. */
static long copy_between(struct file *in, uint64_t *in_pos, struct file *out, uint64_t *out_pos, size_t len)
{
	uint8_t *buffer = kmalloc(COPY_CHUNK);
	if (!buffer)
		return -ENOMEM;
	long total = 0, r = 0;
	while ((size_t)total < len) {
		uint64_t before = *in_pos;
		size_t want = MIN(len - (size_t)total, COPY_CHUNK);
		long got = read_kernel(in, buffer, want, in_pos);
		if (got <= 0) {
			r = got;
			break;
		}
		long put = write_kernel(out, buffer, (size_t)got, out_pos);
		if (put < 0) {
			*in_pos = before;
			r = put;
			break;
		}
		total += put;
		if (put < got) {
			*in_pos = before + (uint64_t)put;
			break;
		}
		if ((size_t)got < want)
			break; /* the end of the source, or all a pipe or socket had */
	}
	kfree(buffer);
	return total ? total : r;
}

static bool can_read(struct file *f) { return (f->flags & O_ACCMODE) != O_WRONLY && !(f->flags & O_PATH); }
static bool can_write(struct file *f) { return (f->flags & O_ACCMODE) != O_RDONLY && !(f->flags & O_PATH); }

SYSCALL_DEFINE(sendfile)
{
	struct file *out = fd_get((int)a0), *in = fd_get((int)a1);
	if (!out || !in || !can_read(in) || !can_write(out))
		return -EBADF;
	if (!in->ops->read || in->ops->getdents || !out->ops->write || (out->flags & O_APPEND))
		return -EINVAL;
	size_t count = MIN(a3, (uint64_t)MAX_RW_COUNT);
	if (!a2)
		return copy_between(in, &in->pos, out, &out->pos, count);
	if (!in->ops->seekable)
		return -ESPIPE;
	int64_t offset;
	if (copy_from_user(&offset, a2, sizeof(offset)) < 0)
		return -EFAULT;
	if (offset < 0)
		return -EINVAL;
	uint64_t pos = (uint64_t)offset;
	long r = copy_between(in, &pos, out, &out->pos, count);
	offset = (int64_t)pos;
	if (copy_to_user(a2, &offset, sizeof(offset)) < 0)
		return -EFAULT;
	return r;
}

static bool regular(struct file *f) { return f->node && (f->node->mode & S_IFMT) == S_IFREG && !f->node->dev_ops; }

/* An explicit offset of copy_file_range (user pointer, or 0 for the file position). */
static long offset_of(uint64_t user, uint64_t *out)
{
	int64_t offset;
	if (copy_from_user(&offset, user, sizeof(offset)) < 0)
		return -EFAULT;
	if (offset < 0)
		return -EINVAL;
	*out = (uint64_t)offset;
	return 0;
}

SYSCALL_DEFINE(copy_file_range)
{
	struct file *in = fd_get((int)a0), *out = fd_get((int)a2);
	if (a5)
		return -EINVAL;
	if (!in || !out || !can_read(in) || !can_write(out) || (out->flags & O_APPEND))
		return -EBADF;
	if ((in->node && (in->node->mode & S_IFMT) == S_IFDIR) || (out->node && (out->node->mode & S_IFMT) == S_IFDIR))
		return -EISDIR;
	if (!regular(in) || !regular(out))
		return -EINVAL;
	uint64_t in_pos = in->pos, out_pos = out->pos;
	long r = a1 ? offset_of(a1, &in_pos) : 0;
	if (r == 0 && a3)
		r = offset_of(a3, &out_pos);
	if (r < 0)
		return r;
	size_t len = MIN(a4, (uint64_t)MAX_RW_COUNT);
	if (in->node == out->node && in_pos < out_pos + len && out_pos < in_pos + len)
		return -EINVAL; /* overlapping ranges of one file */
	if (in_pos >= in->node->size)
		return 0;
	r = copy_between(in, &in_pos, out, &out_pos, len);
	if (r <= 0)
		return r;
	if (a1) {
		int64_t v = (int64_t)in_pos;
		copy_to_user(a1, &v, sizeof(v));
	} else {
		in->pos = in_pos;
	}
	if (a3) {
		int64_t v = (int64_t)out_pos;
		copy_to_user(a3, &v, sizeof(v));
	} else {
		out->pos = out_pos;
	}
	return r;
}
