/* memfd_create: an anonymous file in memory. It is a tmpfs file (fs/tmpfs.c) made in /tmp and removed
 * from it at once, so it lives as long as a descriptor or mapping holds it, reads, writes, truncates
 * and maps like any tmpfs file (shared writable mappings included), and its name ("memfd:NAME", at
 * most 249 bytes of NAME as on Linux) is only a label. Seals as on Linux: none can be added unless
 * MFD_ALLOW_SEALING (the file starts with F_SEAL_SEAL); MFD_NOEXEC_SEAL drops the exec bits and seals
 * them (F_SEAL_EXEC), which allows sealing too. fcntl F_ADD_SEALS/F_GET_SEALS are in sys_file.c, what
 * each seal refuses in fs/tmpfs_file.c and sys_mem.c (mmap). */
#include "errno.h"
#include "fs/file.h"
#include "fs/ramfs.h"
#include "fs/tmpfs.h"
#include "lib.h"
#include "linux/linux.h"

#define MFD_CLOEXEC 1
#define MFD_ALLOW_SEALING 2
#define MFD_HUGETLB 4
#define MFD_NOEXEC_SEAL 8
#define MFD_EXEC 0x10
#define MEMFD_NAME_MAX 249

SYSCALL_DEFINE(memfd_create)
{
	if (a1 & ~(uint64_t)(MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL | MFD_EXEC))
		return -EINVAL; /* MFD_HUGETLB among them */
	if ((a1 & MFD_EXEC) && (a1 & MFD_NOEXEC_SEAL))
		return -EINVAL;
	char name[MEMFD_NAME_MAX + 2];
	long len = strncpy_from_user(name, a0, sizeof(name));
	if (len < 0)
		return len == -ENAMETOOLONG ? -EINVAL : len;
	if (len > MEMFD_NAME_MAX)
		return -EINVAL;
	int error = 0;
	struct ramfs_node *tmp = ramfs_lookup("/tmp", NULL, true, &error), *node;
	if (!tmp || !tmpfs_writable(tmp))
		return -ENOSYS; /* no writable /tmp to hold the file: say so plainly */
	char label[32];
	snprintf(label, sizeof(label), ".memfd-%u", ramfs_new_ino());
	bool noexec = a1 & MFD_NOEXEC_SEAL;
	long r = tmpfs_create(tmp, label, S_IFREG | (noexec ? 0666 : 0777), NULL, &node);
	if (r < 0)
		return r;
	if (noexec)
		node->seals = F_SEAL_EXEC;
	else if (a1 & MFD_ALLOW_SEALING)
		node->seals = 0;
	struct file *f = ramfs_open_file(node, O_RDWR);
	tmpfs_remove(node);
	if (!f)
		return -ENOMEM;
	int fd = fd_install(f, a1 & MFD_CLOEXEC, 0);
	if (fd < 0)
		file_put(f);
	return fd;
}
