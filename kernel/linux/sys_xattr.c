/* Extended attributes. The ramfs and tmpfs keep none, so these behave as on a Linux filesystem without
 * xattr support: reading or removing one says EOPNOTSUPP, setting one EROFS outside tmpfs and
 * EOPNOTSUPP inside, and every list is empty; the file and the attribute name are still checked first
 * (ENOENT, EBADF, ERANGE), as Linux checks them. Programs ask through ls -l (ACLs) and cp -a. */
#include "errno.h"
#include "fs/file.h"
#include "fs/tmpfs.h"
#include "lib.h"
#include "linux/linux.h"

#define AT_FDCWD (-100)
#define XATTR_NAME_MAX 255
#define PATH_MAX 4096

/* The node a path (following a final symlink when follow) names. */
static long path_node(uint64_t user_path, bool follow, struct ramfs_node **node)
{
	char path[PATH_MAX];
	long r = get_path(user_path, path);
	return r < 0 ? r : resolve_path(AT_FDCWD, path, follow, node);
}

static long fd_node(int fd, struct ramfs_node **node)
{
	struct file *f = fd_get(fd);
	if (!f)
		return -EBADF;
	*node = f->node; /* NULL for the console: it has no attributes either */
	return 0;
}

static long check_name(uint64_t user_name)
{
	char name[XATTR_NAME_MAX + 1];
	long n = strncpy_from_user(name, user_name, sizeof(name));
	if (n == -ENAMETOOLONG || n == 0)
		return -ERANGE;
	return n < 0 ? n : 0;
}

static long get(long found, uint64_t user_name)
{
	long r = found < 0 ? found : check_name(user_name);
	return r < 0 ? r : -EOPNOTSUPP;
}

static long set(long found, struct ramfs_node *node, uint64_t user_name)
{
	long r = found < 0 ? found : check_name(user_name);
	if (r < 0)
		return r;
	return node && tmpfs_writable(node) ? -EOPNOTSUPP : -EROFS;
}

static long list(long found) { return found < 0 ? found : 0; }

SYSCALL_DEFINE(getxattr)
{
	struct ramfs_node *node;
	return get(path_node(a0, true, &node), a1);
}

SYSCALL_DEFINE(lgetxattr)
{
	struct ramfs_node *node;
	return get(path_node(a0, false, &node), a1);
}

SYSCALL_DEFINE(fgetxattr)
{
	struct ramfs_node *node;
	return get(fd_node((int)a0, &node), a1);
}

SYSCALL_DEFINE(listxattr)
{
	struct ramfs_node *node;
	return list(path_node(a0, true, &node));
}

SYSCALL_DEFINE(llistxattr)
{
	struct ramfs_node *node;
	return list(path_node(a0, false, &node));
}

SYSCALL_DEFINE(flistxattr)
{
	struct ramfs_node *node;
	return list(fd_node((int)a0, &node));
}

SYSCALL_DEFINE(setxattr)
{
	struct ramfs_node *node = NULL;
	long found = path_node(a0, true, &node);
	return set(found, node, a1);
}

SYSCALL_DEFINE(lsetxattr)
{
	struct ramfs_node *node = NULL;
	long found = path_node(a0, false, &node);
	return set(found, node, a1);
}

SYSCALL_DEFINE(fsetxattr)
{
	struct ramfs_node *node = NULL;
	long found = fd_node((int)a0, &node);
	return set(found, node, a1);
}

SYSCALL_DEFINE(removexattr)
{
	struct ramfs_node *node = NULL;
	long found = path_node(a0, true, &node);
	return set(found, node, a1);
}

SYSCALL_DEFINE(lremovexattr)
{
	struct ramfs_node *node = NULL;
	long found = path_node(a0, false, &node);
	return set(found, node, a1);
}

SYSCALL_DEFINE(fremovexattr)
{
	struct ramfs_node *node = NULL;
	long found = fd_node((int)a0, &node);
	return set(found, node, a1);
}
