/* Syscalls that change the file tree or a node's metadata: mkdir, unlink/rmdir, rename, symlink, link,
 * chmod, the chown family, utimensat, truncate, fallocate; and about filesystems: statfs/fstatfs, the
 * sync family, flock. Changes are allowed in tmpfs directories only (fs/tmpfs.h); elsewhere they fail
 * with EROFS as on a read-only root (EXDEV for a rename across). */
#include "errno.h"
#include "fs/file.h"
#include "fs/tmpfs.h"
#include "lib.h"
#include "linux/linux.h"
#include "mm/mm.h"

#define AT_FDCWD (-100)
#define AT_SYMLINK_NOFOLLOW 0x100
#define AT_REMOVEDIR 0x200
#define AT_SYMLINK_FOLLOW 0x400
#define AT_EMPTY_PATH 0x1000
#define RENAME_NOREPLACE 1
#define UTIME_NOW ((1L << 30) - 1)
#define UTIME_OMIT ((1L << 30) - 2)
#define PATH_MAX 4096


static bool is_dir(const struct ramfs_node *n) { return (n->mode & S_IFMT) == S_IFDIR; }

/* The directory and last name of path: checks the name's length; *existing is the entry or NULL. */
static long parent_of(int dirfd, char *path, struct ramfs_node **dir, const char **name,
		      struct ramfs_node **existing, bool *trailing_slash)
{
	struct ramfs_node *start;
	long r = start_dir(dirfd, path, &start);
	if (r < 0)
		return r;
	r = ramfs_lookup_parent(path, start, dir, name, trailing_slash);
	if (r < 0)
		return r;
	size_t len = strlen(*name);
	if (len > NAME_MAX)
		return -ENAMETOOLONG;
	if (len == 0 || strcmp(*name, ".") == 0)
		*existing = *dir;
	else if (strcmp(*name, "..") == 0)
		*existing = (*dir)->parent ? (*dir)->parent : *dir;
	else
		*existing = ramfs_find_child(*dir, *name, len);
	return 0;
}

long create_at(int dirfd, char *path, uint32_t mode, struct ramfs_node **out)
{
	struct ramfs_node *dir, *existing;
	const char *name;
	bool slash;
	long r = parent_of(dirfd, path, &dir, &name, &existing, &slash);
	if (r < 0)
		return r;
	if (existing)
		return -EEXIST;
	if (slash && (mode & S_IFMT) != S_IFDIR)
		return (mode & S_IFMT) == S_IFREG ? -EISDIR : -ENOENT;
	if (!tmpfs_writable(dir))
		return -EROFS;
	return tmpfs_create(dir, name, mode, NULL, out);
}

static long mkdir_at(int dirfd, uint64_t user_path, uint64_t mode)
{
	char path[PATH_MAX];
	long r = get_path(user_path, path);
	if (r < 0)
		return r;
	struct ramfs_node *node;
	return create_at(dirfd, path, S_IFDIR | (mode & 01777 & ~process_umask()), &node);
}

SYSCALL_DEFINE(mkdir) { return mkdir_at(AT_FDCWD, a0, a1); }
SYSCALL_DEFINE(mkdirat) { return mkdir_at((int)a0, a1, a2); }

static long unlink_at(int dirfd, uint64_t user_path, uint64_t flags)
{
	if (flags & ~(uint64_t)AT_REMOVEDIR)
		return -EINVAL;
	char path[PATH_MAX];
	long r = get_path(user_path, path);
	if (r < 0)
		return r;
	struct ramfs_node *dir, *node;
	const char *name;
	bool slash;
	r = parent_of(dirfd, path, &dir, &name, &node, &slash);
	if (r < 0)
		return r;
	if (!node)
		return -ENOENT;
	bool rmdir = flags & AT_REMOVEDIR;
	if (rmdir) {
		if (!is_dir(node))
			return -ENOTDIR;
		if (strcmp(name, ".") == 0)
			return -EINVAL;
		if (node == dir->parent || node == dir)
			return node == dir ? -EBUSY : -ENOTEMPTY;
	} else {
		if (slash)
			return is_dir(node) ? -EISDIR : -ENOTDIR;
		if (is_dir(node))
			return -EISDIR;
	}
	if (!tmpfs_writable(dir))
		return -EROFS;
	if (rmdir && node->children)
		return -ENOTEMPTY;
	tmpfs_remove(node);
	return 0;
}

SYSCALL_DEFINE(unlink) { return unlink_at(AT_FDCWD, a0, 0); }
SYSCALL_DEFINE(rmdir) { return unlink_at(AT_FDCWD, a0, AT_REMOVEDIR); }
SYSCALL_DEFINE(unlinkat) { return unlink_at((int)a0, a1, a2); }

static long rename_at(int olddirfd, uint64_t user_old, int newdirfd, uint64_t user_new, uint64_t flags)
{
	if (flags & ~(uint64_t)RENAME_NOREPLACE)
		return -EINVAL;
	static char old_path[PATH_MAX], new_path[PATH_MAX];
	long r = get_path(user_old, old_path);
	if (r < 0)
		return r;
	r = get_path(user_new, new_path);
	if (r < 0)
		return r;
	struct ramfs_node *old_dir, *node, *new_dir, *target;
	const char *old_name, *new_name;
	bool old_slash, new_slash;
	r = parent_of(olddirfd, old_path, &old_dir, &old_name, &node, &old_slash);
	if (r < 0)
		return r;
	if (!node)
		return -ENOENT;
	r = parent_of(newdirfd, new_path, &new_dir, &new_name, &target, &new_slash);
	if (r < 0)
		return r;
	if (node == old_dir || node == old_dir->parent || !*new_name || strcmp(new_name, ".") == 0 ||
	    strcmp(new_name, "..") == 0)
		return -EBUSY;
	if ((old_slash || new_slash) && !is_dir(node))
		return -ENOTDIR;
	if (tmpfs_writable(old_dir) != tmpfs_writable(new_dir))
		return -EXDEV;
	if (!tmpfs_writable(old_dir))
		return -EROFS;
	if (target && (flags & RENAME_NOREPLACE))
		return -EEXIST;
	if (target == node)
		return 0;
	for (struct ramfs_node *up = new_dir; up; up = up->parent)
		if (up == node)
			return -EINVAL;
	if (target) {
		if (target->children)
			return -ENOTEMPTY;
		if (is_dir(node) && !is_dir(target))
			return -ENOTDIR;
		if (!is_dir(node) && is_dir(target))
			return -EISDIR;
	}
	char name[NAME_MAX + 1];
	memcpy(name, new_name, strlen(new_name) + 1);
	if (target)
		tmpfs_remove(target);
	return tmpfs_move(node, new_dir, name);
}

SYSCALL_DEFINE(rename) { return rename_at(AT_FDCWD, a0, AT_FDCWD, a1, 0); }
SYSCALL_DEFINE(renameat) { return rename_at((int)a0, a1, (int)a2, a3, 0); }
SYSCALL_DEFINE(renameat2) { return rename_at((int)a0, a1, (int)a2, a3, a4); }

static long symlink_at(uint64_t user_target, int dirfd, uint64_t user_path)
{
	static char target[PATH_MAX];
	char path[PATH_MAX];
	long r = get_path(user_target, target);
	if (r < 0)
		return r;
	if (!target[0])
		return -ENOENT;
	r = get_path(user_path, path);
	if (r < 0)
		return r;
	struct ramfs_node *dir, *existing, *node;
	const char *name;
	bool slash;
	r = parent_of(dirfd, path, &dir, &name, &existing, &slash);
	if (r < 0)
		return r;
	if (existing)
		return -EEXIST;
	if (slash)
		return -ENOENT;
	if (!tmpfs_writable(dir))
		return -EROFS;
	return tmpfs_create(dir, name, S_IFLNK | 0777, target, &node);
}

SYSCALL_DEFINE(symlink) { return symlink_at(a0, AT_FDCWD, a1); }
SYSCALL_DEFINE(symlinkat) { return symlink_at(a0, (int)a1, a2); }

/* The node of dirfd/path (path may be NULL for dirfd itself, as utimensat allows). */
static long node_at(int dirfd, uint64_t user_path, bool follow, struct ramfs_node **out)
{
	char path[PATH_MAX];
	if (user_path) {
		long r = get_path(user_path, path);
		if (r < 0)
			return r;
	}
	if (!user_path || !path[0]) {
		if (user_path && dirfd == AT_FDCWD)
			return -ENOENT;
		struct file *f = fd_get(dirfd);
		if (!f)
			return -EBADF;
		if (!f->node)
			return -EROFS;
		*out = f->node;
		return 0;
	}
	return resolve_path(dirfd, path, follow, out);
}

static long change_mode(struct ramfs_node *node, uint64_t mode)
{
	if (!tmpfs_writable(node))
		return -EROFS;
	if ((node->seals & F_SEAL_EXEC) && ((node->mode ^ mode) & 0111))
		return -EPERM; /* the exec bits of a file sealed with F_SEAL_EXEC stay */
	node->mode = (node->mode & S_IFMT) | (mode & 07777);
	tmpfs_touch(node, false);
	return 0;
}

SYSCALL_DEFINE(chmod)
{
	if (!a0)
		return -EFAULT;
	struct ramfs_node *node;
	long r = node_at(AT_FDCWD, a0, true, &node);
	return r < 0 ? r : change_mode(node, a1);
}

SYSCALL_DEFINE(fchmodat)
{
	if (!a1)
		return -EFAULT;
	struct ramfs_node *node;
	long r = node_at((int)a0, a1, true, &node);
	return r < 0 ? r : change_mode(node, a2);
}

SYSCALL_DEFINE(fchmod)
{
	struct file *f = fd_get((int)a0);
	if (!f)
		return -EBADF;
	return f->node ? change_mode(f->node, a1) : -EROFS;
}

struct kernel_timespec {
	int64_t sec, nsec;
};

SYSCALL_DEFINE(utimensat)
{
	if (a3 & ~(uint64_t)(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	struct kernel_timespec times[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
	if (a2 && copy_from_user(times, a2, sizeof(times)) < 0)
		return -EFAULT;
	for (int i = 0; i < 2; i++)
		if (times[i].nsec != UTIME_NOW && times[i].nsec != UTIME_OMIT &&
		    (times[i].nsec < 0 || times[i].nsec >= 1000000000L))
			return -EINVAL;
	struct ramfs_node *node;
	long r = node_at((int)a0, a1, !(a3 & AT_SYMLINK_NOFOLLOW), &node);
	if (r < 0)
		return r;
	if (times[0].nsec == UTIME_OMIT && times[1].nsec == UTIME_OMIT)
		return 0;
	if (!tmpfs_writable(node))
		return -EROFS;
	uint64_t now = tmpfs_now();
	if (times[0].nsec != UTIME_OMIT)
		node->atime = times[0].nsec == UTIME_NOW ? now : (uint64_t)times[0].sec;
	if (times[1].nsec != UTIME_OMIT)
		node->mtime = times[1].nsec == UTIME_NOW ? now : (uint64_t)times[1].sec;
	node->ctime = now;
	return 0;
}

static long truncate_node(struct ramfs_node *node, int64_t length)
{
	if (length < 0)
		return -EINVAL;
	if (is_dir(node))
		return -EISDIR;
	if ((node->mode & S_IFMT) != S_IFREG || node->dev_ops)
		return -EINVAL;
	if (!tmpfs_writable(node))
		return -EROFS;
	return tmpfs_resize(node, (uint64_t)length);
}

SYSCALL_DEFINE(truncate)
{
	struct ramfs_node *node;
	if (!a0)
		return -EFAULT;
	long r = node_at(AT_FDCWD, a0, true, &node);
	return r < 0 ? r : truncate_node(node, (int64_t)a1);
}

/* The tmpfs file open for writing on fd, for ftruncate and fallocate. */
static long writable_file(int fd, struct ramfs_node **out)
{
	struct file *f = fd_get(fd);
	if (!f)
		return -EBADF;
	if ((f->flags & O_ACCMODE) == O_RDONLY || (f->flags & O_PATH))
		return -EBADF;
	if (!f->node || (f->node->mode & S_IFMT) != S_IFREG)
		return -EINVAL;
	*out = f->node;
	return 0;
}

SYSCALL_DEFINE(ftruncate)
{
	struct ramfs_node *node;
	if ((int64_t)a1 < 0)
		return -EINVAL;
	long r = writable_file((int)a0, &node);
	if (r == -EBADF && fd_get((int)a0))
		return -EINVAL; /* Linux: not open for writing */
	return r < 0 ? r : truncate_node(node, (int64_t)a1);
}

#define FALLOC_FL_KEEP_SIZE 1
#define FALLOC_FL_PUNCH_HOLE 2

/* fallocate on tmpfs files, as Linux's shmem offers it: allocation (growing the file unless
 * FALLOC_FL_KEEP_SIZE) and FALLOC_FL_PUNCH_HOLE (with FALLOC_FL_KEEP_SIZE); other modes EOPNOTSUPP. */
SYSCALL_DEFINE(fallocate)
{
	int64_t offset = (int64_t)a2, length = (int64_t)a3;
	uint64_t mode = a1;
	if (!fd_get((int)a0))
		return -EBADF;
	if (offset < 0 || length <= 0)
		return -EINVAL;
	if ((mode & ~(uint64_t)(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) ||
	    mode == FALLOC_FL_PUNCH_HOLE) /* a hole never changes the size: KEEP_SIZE must say so */
		return -EOPNOTSUPP;
	struct ramfs_node *node;
	long r = writable_file((int)a0, &node);
	if (r < 0)
		return r == -EINVAL ? -ENODEV : r;
	if ((uint64_t)offset + (uint64_t)length > 0x7fffffffffffffffUL)
		return -EFBIG;
	if (!tmpfs_writable(node))
		return -EROFS;
	if (mode & FALLOC_FL_PUNCH_HOLE)
		return tmpfs_punch_hole(node, (uint64_t)offset, (uint64_t)length);
	return tmpfs_allocate(node, (uint64_t)offset, (uint64_t)length, mode & FALLOC_FL_KEEP_SIZE);
}

static long sync_fd(int fd) { return fd_get(fd) ? 0 : -EBADF; }

/* An empty path with AT_EMPTY_PATH names dirfd itself (or the cwd). */
static long dirfd_exists(int dirfd) { return dirfd == AT_FDCWD ? 0 : sync_fd(dirfd); }

SYSCALL_DEFINE(fsync) { return sync_fd((int)a0); }
SYSCALL_DEFINE(fdatasync) { return sync_fd((int)a0); }
SYSCALL_DEFINE(sync) { return 0; } /* everything written is in memory already */
SYSCALL_DEFINE(syncfs) { return sync_fd((int)a0); }

#define LOCK_SH 1
#define LOCK_EX 2
#define LOCK_NB 4
#define LOCK_UN 8

/* flock: one process holds every lock, so each is granted at once. */
SYSCALL_DEFINE(flock)
{
	if (!fd_get((int)a0))
		return -EBADF;
	uint64_t op = a1 & ~(uint64_t)LOCK_NB;
	return op == LOCK_SH || op == LOCK_EX || op == LOCK_UN ? 0 : -EINVAL;
}

/* link, linkat: a second name for a tmpfs file (fs/tmpfs.c); files of the read-only root cannot get one
 * in a tmpfs directory (EXDEV, another filesystem), directories never (EPERM). */
static long link_at(int olddirfd, uint64_t user_old, int newdirfd, uint64_t user_new, uint64_t flags)
{
	if (flags & ~(uint64_t)(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	struct ramfs_node *node, *dir, *existing;
	long r = node_at(olddirfd, user_old, flags & AT_SYMLINK_FOLLOW, &node);
	if (r < 0)
		return r == -EROFS ? -ENOENT : r;
	char path[PATH_MAX];
	r = get_path(user_new, path);
	if (r < 0)
		return r;
	const char *name;
	bool slash;
	r = parent_of(newdirfd, path, &dir, &name, &existing, &slash);
	if (r < 0)
		return r;
	if (existing)
		return -EEXIST;
	if (is_dir(node))
		return -EPERM;
	if (!tmpfs_writable(dir))
		return -EROFS;
	if (!tmpfs_writable(node) || ramfs_device(node) != ramfs_device(dir))
		return -EXDEV;
	return tmpfs_link(dir, name, node);
}

SYSCALL_DEFINE(link) { return link_at(AT_FDCWD, a0, AT_FDCWD, a1, 0); }
SYSCALL_DEFINE(linkat) { return link_at((int)a0, a1, (int)a2, a3, a4); }

/* The chown family: every file belongs to root, the only user; a change of owner is accepted and
 * forgotten for any file that exists. */
SYSCALL_DEFINE(chown)
{
	struct ramfs_node *node;
	return a0 ? node_at(AT_FDCWD, a0, true, &node) : -EFAULT;
}

SYSCALL_DEFINE(lchown)
{
	struct ramfs_node *node;
	return a0 ? node_at(AT_FDCWD, a0, false, &node) : -EFAULT;
}

SYSCALL_DEFINE(fchown) { return fd_get((int)a0) ? 0 : -EBADF; }

SYSCALL_DEFINE(fchownat)
{
	if (a4 & ~(uint64_t)(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	if (!a1)
		return -EFAULT;
	char path[PATH_MAX];
	long r = get_path(a1, path);
	if (r < 0)
		return r;
	if (!path[0])
		return !(a4 & AT_EMPTY_PATH) ? -ENOENT : dirfd_exists((int)a0);
	struct ramfs_node *node;
	return resolve_path((int)a0, path, !(a4 & AT_SYMLINK_NOFOLLOW), &node);
}

#define TMPFS_MAGIC 0x01021994
#define RAMFS_MAGIC 0x858458f6
#define ROMFS_MAGIC 0x7275
#define PROC_SUPER_MAGIC 0x9fa0
#define SYSFS_MAGIC 0x62656572
#define PIPEFS_MAGIC 0x50495045
#define SOCKFS_MAGIC 0x534f434b
#define ANON_INODE_FS_MAGIC 0x09041934
#define ST_RDONLY 1
#define ST_NOSUID 2
#define ST_NODEV 4
#define ST_NOEXEC 8
#define ST_RELATIME 0x1000
#define FS_BLOCK 4096

struct linux_statfs {
	int64_t type, bsize;
	uint64_t blocks, bfree, bavail, files, ffree;
	int32_t fsid[2];
	int64_t namelen, frsize, flags, spare[4];
};

/* What statfs says of the filesystem node is on: tmpfs, /proc, /sys, /dev, or the root's ramfs/rofs. */
static void describe_fs(const struct ramfs_node *node, struct linux_statfs *out)
{
	memset(out, 0, sizeof(*out));
	out->bsize = out->frsize = FS_BLOCK;
	out->namelen = NAME_MAX;
	out->flags = ST_RELATIME;
	const struct ramfs_node *top = node;
	while (top->parent && top->parent->parent)
		top = top->parent;
	const char *area = top->parent ? top->name : "";
	if (tmpfs_writable(node) || strcmp(area, "dev") == 0) {
		out->type = TMPFS_MAGIC;
		out->flags |= ST_NOSUID | ST_NODEV;
		out->blocks = phys_total_bytes() / 2 / FS_BLOCK; /* Linux's default size: half the memory */
		out->bfree = out->bavail = MIN(out->blocks, phys_free_bytes() / FS_BLOCK);
		out->files = phys_total_bytes() / 2 / FS_BLOCK;
		out->ffree = out->files - MIN(out->files, ramfs_file_count());
		out->fsid[0] = 2;
		return;
	}
	out->flags |= ST_RDONLY;
	if (strcmp(area, "proc") == 0 || strcmp(area, "sys") == 0) {
		out->type = area[0] == 'p' ? PROC_SUPER_MAGIC : SYSFS_MAGIC;
		out->flags |= ST_NOSUID | ST_NODEV | ST_NOEXEC;
		out->fsid[0] = area[0] == 'p' ? 3 : 4;
		return;
	}
	out->type = strcmp(ramfs_root_type(), "rofs") == 0 ? ROMFS_MAGIC : RAMFS_MAGIC;
	out->files = ramfs_file_count();
	out->fsid[0] = 1;
}

SYSCALL_DEFINE(statfs)
{
	struct ramfs_node *node;
	if (!a0)
		return -EFAULT;
	long r = node_at(AT_FDCWD, a0, true, &node);
	if (r < 0)
		return r;
	struct linux_statfs st;
	describe_fs(node, &st);
	return copy_to_user(a1, &st, sizeof(st));
}

SYSCALL_DEFINE(fstatfs)
{
	struct file *f = fd_get((int)a0);
	if (!f)
		return -EBADF;
	struct linux_statfs st;
	if (f->node) {
		describe_fs(f->node, &st);
	} else {
		struct linux_stat file_st;
		f->ops->stat(f, &file_st);
		uint32_t type = file_st.mode & S_IFMT;
		memset(&st, 0, sizeof(st));
		st.type = type == S_IFIFO ? PIPEFS_MAGIC : type == S_IFSOCK ? SOCKFS_MAGIC : ANON_INODE_FS_MAGIC;
		st.bsize = st.frsize = FS_BLOCK;
		st.namelen = NAME_MAX;
	}
	return copy_to_user(a1, &st, sizeof(st));
}
