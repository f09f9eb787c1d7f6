/* File syscalls: descriptors (open/openat, close, dup family, fcntl), I/O (read/write and their
 * vectored and positioned forms, lseek), metadata (fstat, newfstatat, statx, access, readlink,
 * getdents64), and the working directory. Files come from fs/file.h; paths are resolved in the ramfs,
 * which is read-only (EROFS) except in tmpfs directories (fs/tmpfs.h; namespace changes in sys_fs.c). */
#include "errno.h"
#include "fs/file.h"
#include "fs/ramfs.h"
#include "fs/tmpfs.h"
#include "lib.h"
#include "linux/linux.h"

#define AT_FDCWD (-100)
#define AT_SYMLINK_NOFOLLOW 0x100
#define AT_REMOVEDIR 0x200
#define AT_EACCESS 0x200
#define AT_SYMLINK_FOLLOW 0x400
#define AT_NO_AUTOMOUNT 0x800
#define AT_EMPTY_PATH 0x1000
#define AT_STATX_SYNC_TYPE 0x6000
#define F_DUPFD 0
#define F_GETFD 1
#define F_SETFD 2
#define F_GETFL 3
#define F_SETFL 4
#define F_SETLK 6
#define F_SETLKW 7
#define F_GETLK 5
#define F_DUPFD_CLOEXEC 1030
#define F_SETPIPE_SZ 1031
#define F_GETPIPE_SZ 1032
#define F_ADD_SEALS 1033
#define F_GET_SEALS 1034
#define FD_CLOEXEC 1
#define SEEK_SET 0
#define SEEK_CUR 1
#define SEEK_END 2
#define MAX_IOV 1024
#define PATH_MAX 4096

struct iovec {
	uint64_t base, len;
};

long get_path(uint64_t user_path, char *buf)
{
	long r = strncpy_from_user(buf, user_path, PATH_MAX);
	return r < 0 ? r : 0;
}

/* The directory a relative path starts from: the cwd, or the directory open on dirfd. */
long start_dir(int dirfd, const char *path, struct ramfs_node **out)
{
	if (path[0] == '/' || dirfd == AT_FDCWD) {
		*out = current->cwd;
		return 0;
	}
	struct file *f = fd_get(dirfd);
	if (!f)
		return -EBADF;
	if (!f->node || (f->node->mode & S_IFMT) != S_IFDIR)
		return -ENOTDIR;
	*out = f->node;
	return 0;
}

long resolve_path(int dirfd, const char *path, bool follow, struct ramfs_node **out)
{
	struct ramfs_node *start;
	long r = start_dir(dirfd, path, &start);
	if (r < 0)
		return r;
	int error = 0;
	*out = ramfs_lookup(path, start, follow, &error);
	return *out ? 0 : error;
}

/* Creates path's last component as a new node of mode in a tmpfs directory (sys_fs.c). */

static long do_openat(int dirfd, uint64_t user_path, uint64_t flags, uint64_t a_mode)
{
	char path[PATH_MAX];
	long r = get_path(user_path, path);
	if (r < 0)
		return r;
	struct ramfs_node *node;
	r = resolve_path(dirfd, path, !(flags & O_NOFOLLOW) && !((flags & O_CREAT) && (flags & O_EXCL)), &node);
	bool created = false;
	if (r == -ENOENT && (flags & O_CREAT)) {
		r = create_at(dirfd, path, S_IFREG | (a_mode & 07777 & ~process_umask()), &node);
		created = true;
	}
	if (r < 0)
		return r;
	if ((flags & O_CREAT) && (flags & O_EXCL) && !created)
		return -EEXIST;
	uint32_t type = node->mode & S_IFMT;
	if (type == S_IFLNK) /* only reached with O_NOFOLLOW */
		return (flags & O_PATH) ? -ENOTSUP : -ELOOP;
	if ((flags & O_DIRECTORY) && type != S_IFDIR)
		return -ENOTDIR;
	if (type == S_IFSOCK && !(flags & O_PATH))
		return -ENXIO; /* a bound AF_UNIX name: reached with connect, not open */
	bool writes = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC) || (flags & O_TMPFILE) == O_TMPFILE;
	if ((writes || (flags & O_CREAT)) && type == S_IFDIR)
		return -EISDIR;
	if (writes && type != S_IFCHR && !tmpfs_writable(node))
		return -EROFS;
	if ((flags & O_TRUNC) && type == S_IFREG && tmpfs_writable(node) && node->size) {
		r = tmpfs_resize(node, 0);
		if (r < 0)
			return r;
	}
	struct file *f = ramfs_open_file(node, (uint32_t)flags);
	if (!f)
		return -ENOMEM;
	int fd = fd_install(f, flags & O_CLOEXEC, 0);
	if (fd < 0)
		file_put(f);
	return fd;
}

SYSCALL_DEFINE(open) { return do_openat(AT_FDCWD, a0, a1, a2); }
SYSCALL_DEFINE(creat) { return do_openat(AT_FDCWD, a0, O_CREAT | O_WRONLY | O_TRUNC, a1); }
SYSCALL_DEFINE(openat) { return do_openat((int)a0, a1, a2, a3); }
SYSCALL_DEFINE(close) { return fd_close((int)a0); }

static long do_read(struct file *f, uint64_t buf, size_t n, uint64_t *pos)
{
	if ((f->flags & O_ACCMODE) == O_WRONLY || (f->flags & O_PATH))
		return -EBADF;
	if (f->ops->getdents)
		return -EISDIR;
	if (!f->ops->read)
		return -EINVAL;
	return f->ops->read(f, buf, n, pos);
}

static long do_write(struct file *f, uint64_t buf, size_t n, uint64_t *pos)
{
	if ((f->flags & O_ACCMODE) == O_RDONLY || (f->flags & O_PATH))
		return -EBADF;
	if (!f->ops->write)
		return -EINVAL;
	return f->ops->write(f, buf, n, pos);
}

typedef long (*io_fn)(struct file *f, uint64_t buf, size_t n, uint64_t *pos);

/* One transfer at the file position (pos == NULL) or at an explicit offset (pread/pwrite). */
static long transfer(int fd, io_fn io, uint64_t buf, size_t n, const int64_t *offset)
{
	struct file *f = fd_get(fd);
	if (!f)
		return -EBADF;
	if ((int64_t)n < 0)
		return -EINVAL;
	if (offset) {
		if (!f->ops->seekable)
			return -ESPIPE;
		if (*offset < 0)
			return -EINVAL;
		uint64_t pos = (uint64_t)*offset;
		return io(f, buf, n, &pos);
	}
	return io(f, buf, n, &f->pos);
}

static long transfer_vector(int fd, io_fn io, uint64_t user_iov, uint64_t count, const int64_t *offset)
{
	struct file *f = fd_get(fd);
	if (!f)
		return -EBADF;
	if (count > MAX_IOV)
		return -EINVAL;
	if (offset && !f->ops->seekable)
		return -ESPIPE;
	if (offset && *offset < 0)
		return -EINVAL;
	uint64_t pos = offset ? (uint64_t)*offset : 0, *where = offset ? &pos : &f->pos;
	long total = 0;
	for (uint64_t i = 0; i < count; i++) {
		struct iovec iov;
		if (copy_from_user(&iov, user_iov + i * sizeof(iov), sizeof(iov)) < 0)
			return total ? total : -EFAULT;
		if (iov.len == 0)
			continue;
		long n = io(f, iov.base, iov.len, where);
		if (n < 0)
			return total ? total : n;
		total += n;
		if ((uint64_t)n < iov.len)
			break;
	}
	return total;
}

SYSCALL_DEFINE(read) { return transfer((int)a0, do_read, a1, a2, NULL); }
SYSCALL_DEFINE(write) { return transfer((int)a0, do_write, a1, a2, NULL); }
SYSCALL_DEFINE(pread64) { return transfer((int)a0, do_read, a1, a2, (const int64_t *)&a3); }
SYSCALL_DEFINE(pwrite64) { return transfer((int)a0, do_write, a1, a2, (const int64_t *)&a3); }
SYSCALL_DEFINE(readv) { return transfer_vector((int)a0, do_read, a1, a2, NULL); }
SYSCALL_DEFINE(writev) { return transfer_vector((int)a0, do_write, a1, a2, NULL); }
SYSCALL_DEFINE(preadv) { return transfer_vector((int)a0, do_read, a1, a2, (const int64_t *)&a3); }
SYSCALL_DEFINE(pwritev) { return transfer_vector((int)a0, do_write, a1, a2, (const int64_t *)&a3); }

#define RWF_KNOWN 0x1f /* RWF_HIPRI, RWF_DSYNC, RWF_SYNC, RWF_NOWAIT, RWF_APPEND: hints here */

/* preadv2/pwritev2: preadv/pwritev, at the file position when the offset is -1. */
static long transfer_vector2(io_fn io, const uint64_t *a)
{
	if (a[5] & ~(uint64_t)RWF_KNOWN)
		return -EOPNOTSUPP;
	const int64_t *offset = (const int64_t *)&a[3];
	return transfer_vector((int)a[0], io, a[1], a[2], *offset == -1 ? NULL : offset);
}

SYSCALL_DEFINE(preadv2)
{
	uint64_t a[6] = {a0, a1, a2, a3, a4, a5};
	return transfer_vector2(do_read, a);
}

SYSCALL_DEFINE(pwritev2)
{
	uint64_t a[6] = {a0, a1, a2, a3, a4, a5};
	return transfer_vector2(do_write, a);
}

SYSCALL_DEFINE(lseek)
{
	struct file *f = fd_get((int)a0);
	if (!f)
		return -EBADF;
	if (!f->ops->seekable)
		return -ESPIPE;
	int64_t offset = (int64_t)a1, base;
	switch (a2) {
	case SEEK_SET:
		base = 0;
		break;
	case SEEK_CUR:
		base = (int64_t)f->pos;
		break;
	case SEEK_END: {
		struct linux_stat st;
		f->ops->stat(f, &st);
		base = st.size;
		break;
	}
	default:
		return -EINVAL;
	}
	if (base + offset < 0)
		return -EINVAL;
	f->pos = (uint64_t)(base + offset);
	return (long)f->pos;
}

#define POSIX_FADV_NOREUSE 5

/* fadvise64: advice about a file's future reads; files are all in memory, so only the checks remain. */
SYSCALL_DEFINE(fadvise64)
{
	struct file *f = fd_get((int)a0);
	if (!f)
		return -EBADF;
	struct linux_stat st;
	f->ops->stat(f, &st);
	if ((st.mode & S_IFMT) == S_IFIFO)
		return -ESPIPE;
	if (a3 > POSIX_FADV_NOREUSE || (int64_t)a2 < 0)
		return -EINVAL;
	return 0;
}

SYSCALL_DEFINE(getdents64)
{
	struct file *f = fd_get((int)a0);
	if (!f)
		return -EBADF;
	if (!f->ops->getdents)
		return -ENOTDIR;
	return f->ops->getdents(f, a1, a2, &f->pos);
}

SYSCALL_DEFINE(ioctl)
{
	struct file *f = fd_get((int)a0);
	if (!f)
		return -EBADF;
	return f->ops->ioctl ? f->ops->ioctl(f, a1, a2) : -ENOTTY;
}

/* ---- descriptors ---- */

SYSCALL_DEFINE(dup)
{
	struct file *f = fd_get((int)a0);
	return f ? fd_install_another(f, false, 0) : -EBADF;
}

SYSCALL_DEFINE(dup2)
{
	if (!fd_get((int)a0))
		return -EBADF;
	if (a0 == a1)
		return (long)a1;
	return fd_dup_to((int)a0, (int)a1, false);
}

SYSCALL_DEFINE(dup3)
{
	if (a0 == a1 || (a2 & ~(uint64_t)O_CLOEXEC))
		return -EINVAL;
	return fd_dup_to((int)a0, (int)a1, a2 & O_CLOEXEC);
}

/* F_ADD_SEALS: only through a descriptor open for writing, and only on tmpfs files (Linux: shmem). */
static long add_seals(struct file *f, uint64_t arg)
{
	uint32_t seals = (uint32_t)arg;
	if ((f->flags & O_ACCMODE) == O_RDONLY || (f->flags & O_PATH))
		return -EPERM;
	if (seals & ~(uint32_t)F_SEAL_ALL)
		return -EINVAL;
	if (!f->node || !tmpfs_is_file(f->node))
		return -EINVAL;
	return tmpfs_add_seals(f->node, seals);
}

/* F_GET_SEALS: a tmpfs file's seals; any other node of a tmpfs can never have one added. */
static long get_seals(struct file *f)
{
	if (!f->node || !tmpfs_writable(f->node))
		return -EINVAL;
	return tmpfs_is_file(f->node) ? f->node->seals : F_SEAL_SEAL;
}

SYSCALL_DEFINE(fcntl)
{
	int fd = (int)a0;
	struct file *f = fd_get(fd);
	if (!f)
		return -EBADF;
	switch (a1) {
	case F_DUPFD:
	case F_DUPFD_CLOEXEC: {
		if ((int64_t)a2 < 0 || a2 >= MAX_FDS)
			return -EINVAL;
		return fd_install_another(f, a1 == F_DUPFD_CLOEXEC, (int)a2);
	}
	case F_GETFD:
		return fd_cloexec(fd) ? FD_CLOEXEC : 0;
	case F_SETFD:
		fd_set_cloexec(fd, a2 & FD_CLOEXEC);
		return 0;
	case F_GETFL:
		return f->flags & ~(uint32_t)O_CLOEXEC;
	case F_SETFL: /* only these status flags can change after open */
		f->flags = (f->flags & ~(uint32_t)(O_APPEND | O_NONBLOCK)) | (a2 & (O_APPEND | O_NONBLOCK));
		return 0;
	case F_SETPIPE_SZ:
	case F_GETPIPE_SZ:
		return pipe_fcntl(f, a1, a2);
	case F_ADD_SEALS:
		return add_seals(f, a2);
	case F_GET_SEALS:
		return get_seals(f);
	case F_GETLK:
	case F_SETLK:
	case F_SETLKW:
		return 0; /* one process: record locks always succeed */
	default:
		return -EINVAL;
	}
}

/* ---- metadata ---- */

SYSCALL_DEFINE(fstat)
{
	struct file *f = fd_get((int)a0);
	if (!f)
		return -EBADF;
	struct linux_stat st;
	f->ops->stat(f, &st);
	return copy_to_user(a1, &st, sizeof(st));
}

/* stat of dirfd/path with AT_ flags, shared by newfstatat and statx. */
static long stat_at(int dirfd, uint64_t user_path, uint64_t flags, struct linux_stat *st)
{
	char path[PATH_MAX];
	long r = get_path(user_path, path);
	if (r < 0)
		return r;
	if (path[0] == 0) {
		if (!(flags & AT_EMPTY_PATH))
			return -ENOENT;
		if (dirfd == AT_FDCWD) {
			ramfs_stat(current->cwd, st);
			return 0;
		}
		struct file *f = fd_get(dirfd);
		if (!f)
			return -EBADF;
		f->ops->stat(f, st);
		return 0;
	}
	struct ramfs_node *node;
	r = resolve_path(dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW), &node);
	if (r < 0)
		return r;
	ramfs_stat(node, st);
	return 0;
}

SYSCALL_DEFINE(newfstatat)
{
	struct linux_stat st;
	long r = stat_at((int)a0, a1, a3, &st);
	return r < 0 ? r : copy_to_user(a2, &st, sizeof(st));
}

SYSCALL_DEFINE(stat)
{
	struct linux_stat st;
	long r = stat_at(AT_FDCWD, a0, 0, &st);
	return r < 0 ? r : copy_to_user(a1, &st, sizeof(st));
}

SYSCALL_DEFINE(lstat)
{
	struct linux_stat st;
	long r = stat_at(AT_FDCWD, a0, AT_SYMLINK_NOFOLLOW, &st);
	return r < 0 ? r : copy_to_user(a1, &st, sizeof(st));
}

struct statx_timestamp {
	int64_t sec;
	uint32_t nsec, pad;
};

struct statx {
	uint32_t mask, blksize;
	uint64_t attributes;
	uint32_t nlink, uid, gid;
	uint16_t mode, pad1;
	uint64_t ino, size, blocks, attributes_mask;
	struct statx_timestamp atime, btime, ctime, mtime;
	uint32_t rdev_major, rdev_minor, dev_major, dev_minor;
	uint64_t spare[14];
};

#define STATX_BASIC_STATS 0x7ff

SYSCALL_DEFINE(statx)
{
	if (a2 & ~(uint64_t)(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_SYNC_TYPE))
		return -EINVAL;
	struct linux_stat st;
	long r = stat_at((int)a0, a1, a2, &st);
	if (r < 0)
		return r;
	struct statx sx;
	memset(&sx, 0, sizeof(sx));
	sx.mask = STATX_BASIC_STATS;
	sx.blksize = (uint32_t)st.blksize;
	sx.nlink = (uint32_t)st.nlink;
	sx.uid = st.uid;
	sx.gid = st.gid;
	sx.mode = (uint16_t)st.mode;
	sx.ino = st.ino;
	sx.size = (uint64_t)st.size;
	sx.blocks = (uint64_t)st.blocks;
	sx.atime.sec = (int64_t)st.atime;
	sx.mtime.sec = (int64_t)st.mtime;
	sx.ctime.sec = (int64_t)st.ctime;
	sx.rdev_major = (uint32_t)(st.rdev >> 8);
	sx.rdev_minor = (uint32_t)(st.rdev & 0xff);
	sx.dev_major = (uint32_t)(st.dev >> 8);
	sx.dev_minor = (uint32_t)(st.dev & 0xff);
	return copy_to_user(a4, &sx, sizeof(sx));
}

#define W_OK 2

static long access_at(int dirfd, uint64_t user_path, uint64_t mode, uint64_t flags)
{
	if (mode & ~7UL)
		return -EINVAL;
	struct linux_stat st;
	long r = stat_at(dirfd, user_path, flags, &st);
	if (r < 0)
		return r;
	/* We run as root: only the read-only filesystem says no (devices stay writable). */
	if (!(mode & W_OK) || (st.mode & S_IFMT) == S_IFCHR)
		return 0;
	struct ramfs_node *node;
	char path[PATH_MAX];
	if (get_path(user_path, path) < 0 || !path[0] || resolve_path(dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW), &node) < 0)
		return -EROFS;
	return tmpfs_writable(node) ? 0 : -EROFS;
}

SYSCALL_DEFINE(access) { return access_at(AT_FDCWD, a0, a1, 0); }
SYSCALL_DEFINE(faccessat) { return access_at((int)a0, a1, a2, 0); }
SYSCALL_DEFINE(faccessat2) { return access_at((int)a0, a1, a2, a3); }

static long readlink_at(int dirfd, uint64_t user_path, uint64_t buf, uint64_t size)
{
	char path[PATH_MAX];
	long r = get_path(user_path, path);
	if (r < 0)
		return r;
	if ((int64_t)size <= 0)
		return -EINVAL;
	struct ramfs_node *node;
	r = resolve_path(dirfd, path, false, &node);
	if (r < 0)
		return r;
	if ((node->mode & S_IFMT) != S_IFLNK)
		return -EINVAL;
	const char *target = (const char *)node->data;
	size_t len = node->size;
	len = MIN(len, size);
	return copy_to_user(buf, target, len) < 0 ? -EFAULT : (long)len;
}

SYSCALL_DEFINE(readlink) { return readlink_at(AT_FDCWD, a0, a1, a2); }
SYSCALL_DEFINE(readlinkat) { return readlink_at((int)a0, a1, a2, a3); }

/* ---- working directory ---- */

SYSCALL_DEFINE(getcwd)
{
	char path[PATH_MAX];
	long len = ramfs_path(current->cwd, path, sizeof(path));
	if (len < 0)
		return len;
	if ((uint64_t)len > a1)
		return -ERANGE;
	return copy_to_user(a0, path, len) < 0 ? -EFAULT : len;
}

static long change_dir(struct ramfs_node *node)
{
	if ((node->mode & S_IFMT) != S_IFDIR)
		return -ENOTDIR;
	ramfs_node_get(node);
	ramfs_node_put(current->cwd);
	current->cwd = node;
	return 0;
}

SYSCALL_DEFINE(chdir)
{
	char path[PATH_MAX];
	long r = get_path(a0, path);
	if (r < 0)
		return r;
	struct ramfs_node *node;
	r = resolve_path(AT_FDCWD, path, true, &node);
	return r < 0 ? r : change_dir(node);
}

SYSCALL_DEFINE(fchdir)
{
	struct file *f = fd_get((int)a0);
	if (!f)
		return -EBADF;
	return f->node ? change_dir(f->node) : -ENOTDIR;
}
