/* File descriptor syscalls for this stage: the console on fds 0, 1 and 2 (stdin reads EOF), and stat
 * of files in the ramfs. */
#include "arch/x86_64/clock.h"
#include "errno.h"
#include "fs/ramfs.h"
#include "lib.h"
#include "linux/linux.h"

#define AT_FDCWD (-100)
#define AT_SYMLINK_NOFOLLOW 0x100
#define AT_EMPTY_PATH 0x1000
#define TCGETS 0x5401
#define TIOCGWINSZ 0x5413
#define CONSOLE_RDEV ((5 << 8) | 1) /* /dev/console */

struct linux_stat {
	uint64_t dev, ino, nlink;
	uint32_t mode, uid, gid, pad0;
	uint64_t rdev;
	int64_t size, blksize, blocks;
	uint64_t atime, atime_nsec, mtime, mtime_nsec, ctime, ctime_nsec;
	int64_t unused[3];
};

struct iovec {
	uint64_t base, len;
};

static bool console_open[3] = {true, true, true};

static bool is_console(uint64_t fd) { return fd < 3 && console_open[fd]; }

static long console_write_user(uint64_t buf, uint64_t n)
{
	char chunk[512];
	uint64_t done = 0;
	while (done < n) {
		size_t len = MIN(n - done, sizeof(chunk));
		if (copy_from_user(chunk, buf + done, len) < 0)
			return done ? (long)done : -EFAULT;
		console_write(chunk, len);
		done += len;
	}
	return (long)done;
}

SYSCALL_DEFINE(write)
{
	if (!is_console(a0))
		return -EBADF;
	if (a0 == 0)
		return -EBADF; /* stdin is read-only */
	return console_write_user(a1, a2);
}

SYSCALL_DEFINE(writev)
{
	if (!is_console(a0) || a0 == 0)
		return -EBADF;
	if (a2 > 1024)
		return -EINVAL;
	long total = 0;
	for (uint64_t i = 0; i < a2; i++) {
		struct iovec iov;
		if (copy_from_user(&iov, a1 + i * sizeof(iov), sizeof(iov)) < 0)
			return total ? total : -EFAULT;
		long n = console_write_user(iov.base, iov.len);
		if (n < 0)
			return total ? total : n;
		total += n;
	}
	return total;
}

SYSCALL_DEFINE(read)
{
	if (!is_console(a0))
		return -EBADF;
	return a0 == 0 ? 0 : -EBADF; /* no console input yet: stdin is at end of file */
}

SYSCALL_DEFINE(close)
{
	if (!is_console(a0))
		return -EBADF;
	console_open[a0] = false;
	return 0;
}

static void console_stat(struct linux_stat *st)
{
	memset(st, 0, sizeof(*st));
	st->dev = 6;
	st->ino = 3;
	st->nlink = 1;
	st->mode = S_IFCHR | 0620;
	st->rdev = CONSOLE_RDEV;
	st->blksize = 1024;
}

static void node_stat(const struct ramfs_node *n, struct linux_stat *st)
{
	memset(st, 0, sizeof(*st));
	st->dev = 1;
	st->ino = n->ino;
	st->nlink = (n->mode & S_IFMT) == S_IFDIR ? 2 : 1;
	st->mode = n->mode;
	st->size = (n->mode & S_IFMT) == S_IFDIR ? 4096 : (int64_t)n->size;
	st->blksize = 4096;
	st->blocks = (st->size + 511) / 512;
	st->atime = st->mtime = st->ctime = n->mtime;
}

SYSCALL_DEFINE(fstat)
{
	if (!is_console(a0))
		return -EBADF;
	struct linux_stat st;
	console_stat(&st);
	return copy_to_user(a1, &st, sizeof(st));
}

SYSCALL_DEFINE(newfstatat)
{
	int dirfd = (int)a0;
	char path[4096];
	long len = strncpy_from_user(path, a1, sizeof(path));
	if (len < 0)
		return len;
	struct linux_stat st;
	if (len == 0) {
		if (!(a3 & AT_EMPTY_PATH))
			return -ENOENT;
		if (!is_console(dirfd))
			return -EBADF;
		console_stat(&st);
		return copy_to_user(a2, &st, sizeof(st));
	}
	if (path[0] != '/' && dirfd != AT_FDCWD)
		return -EBADF; /* directory descriptors come with the VFS */
	int error = 0;
	struct ramfs_node *n = ramfs_lookup(path, current->cwd, !(a3 & AT_SYMLINK_NOFOLLOW), &error);
	if (!n)
		return error;
	node_stat(n, &st);
	return copy_to_user(a2, &st, sizeof(st));
}

SYSCALL_DEFINE(ioctl)
{
	if (!is_console(a0))
		return -EBADF;
	switch (a1) {
	case TCGETS: {
		struct {
			uint32_t iflag, oflag, cflag, lflag;
			uint8_t line, cc[19];
		} termios = {0x500, 0x5, 0xbf, 0x8a3b, 0, {3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22}};
		return copy_to_user(a2, &termios, sizeof(termios));
	}
	case TIOCGWINSZ: {
		uint16_t winsize[4] = {24, 80, 0, 0};
		return copy_to_user(a2, winsize, sizeof(winsize));
	}
	default:
		return -ENOTTY;
	}
}

static long readlink_path(const char *path, uint64_t buf, uint64_t size)
{
	if ((int64_t)size <= 0)
		return -EINVAL;
	const char *target;
	size_t len;
	if (strcmp(path, "/proc/self/exe") == 0 || strcmp(path, "/proc/1/exe") == 0) {
		target = current->exe_path;
		len = strlen(target);
	} else {
		int error = 0;
		struct ramfs_node *n = ramfs_lookup(path, current->cwd, false, &error);
		if (!n)
			return error;
		if ((n->mode & S_IFMT) != S_IFLNK)
			return -EINVAL;
		target = (const char *)n->data;
		len = n->size;
	}
	len = MIN(len, size);
	if (copy_to_user(buf, target, len) < 0)
		return -EFAULT;
	return (long)len;
}

SYSCALL_DEFINE(readlink)
{
	char path[4096];
	long r = strncpy_from_user(path, a0, sizeof(path));
	return r < 0 ? r : readlink_path(path, a1, a2);
}

SYSCALL_DEFINE(readlinkat)
{
	char path[4096];
	long r = strncpy_from_user(path, a1, sizeof(path));
	if (r < 0)
		return r;
	if (path[0] != '/' && (int)a0 != AT_FDCWD)
		return -EBADF;
	return readlink_path(path, a2, a3);
}
