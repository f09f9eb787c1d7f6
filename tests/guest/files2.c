/* More of the file and process ABI, in a writable directory (argv[1]: /tmp in osv, a fresh temp dir on
 * the host): memfd_create, sendfile, copy_file_range, statfs/fstatfs, hard links, the chown family,
 * wait4/waitid without children, preadv2/pwritev2, flock, priorities and scheduling policies,
 * membarrier, mlock, sync/syncfs. Prints only what is the same on Linux and osv (relative facts about
 * filesystems, never their sizes); the last line counts the checks. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checks.h"


static char dir[512];

static const char *at(const char *name)
{
	static char paths[4][600];
	static int next;
	char *p = paths[next++ % 4];
	snprintf(p, sizeof(paths[0]), "%s/%s", dir, name);
	return p;
}

static char pattern[20000];

/* Whether the file at path holds exactly the n bytes of pattern from offset. */
static int holds(int fd, long offset, long n)
{
	static char buf[sizeof(pattern)];
	long got = pread(fd, buf, sizeof(buf), 0);
	return got == n && memcmp(buf, pattern + offset, (size_t)n) == 0;
}

static void memfd_tests(void)
{
	int fd = memfd_create("test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	CHECK("memfd_create", fd >= 0);
	SHOW("cloexec=%d", fcntl(fd, F_GETFD));
	CHECK("write", write(fd, pattern, 10000));
	struct stat st;
	fstat(fd, &st);
	SHOW("regular=%d size=%ld", S_ISREG(st.st_mode), (long)st.st_size);
	CHECK("lseek", lseek(fd, 0, SEEK_CUR));
	char buf[16] = {0};
	CHECK("pread", pread(fd, buf, 10, 26));
	SHOW("bytes=%.10s", buf);
	CHECK("ftruncate", ftruncate(fd, 100));
	fstat(fd, &st);
	SHOW("size=%ld", (long)st.st_size);
	char *map = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	SHOW("mapped=%d same=%d", map != MAP_FAILED, map != MAP_FAILED && memcmp(map, pattern, 100) == 0);
	if (map != MAP_FAILED)
		munmap(map, 4096);
	close(fd);
	CHECK("memfd_create bad flags", memfd_create("x", 0x100));
	char long_name[300];
	memset(long_name, 'n', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = 0;
	CHECK("memfd_create long name", memfd_create(long_name, 0));
	fd = memfd_create("", 0);
	CHECK("memfd_create empty name", fd >= 0);
	SHOW("cloexec=%d", fcntl(fd, F_GETFD));
	close(fd);
}

static void sendfile_tests(void)
{
	int src = open(at("src"), O_RDWR | O_CREAT | O_TRUNC, 0644);
	write(src, pattern, sizeof(pattern));
	lseek(src, 0, SEEK_SET);
	int out = open(at("out"), O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK("sendfile", sendfile(out, src, NULL, sizeof(pattern)));
	SHOW("copied whole=%d src pos=%ld out pos=%ld", holds(out, 0, sizeof(pattern)), (long)lseek(src, 0, SEEK_CUR),
	     (long)lseek(out, 0, SEEK_CUR));
	CHECK("sendfile at end", sendfile(out, src, NULL, 100));
	off_t off = 100;
	ftruncate(out, 0);
	lseek(out, 0, SEEK_SET);
	CHECK("sendfile offset", sendfile(out, src, &off, 50));
	SHOW("offset now=%ld src pos=%ld copied=%d", (long)off, (long)lseek(src, 0, SEEK_CUR), holds(out, 100, 50));
	off = sizeof(pattern) - 10;
	CHECK("sendfile past end", sendfile(out, src, &off, 100));
	SHOW("offset now=%ld", (long)off);
	int p[2];
	pipe(p);
	off = 0;
	CHECK("sendfile to pipe", sendfile(p[1], src, &off, 1000));
	char buf[1000];
	long got = read(p[0], buf, sizeof(buf));
	SHOW("pipe got=%ld same=%d", got, memcmp(buf, pattern, 1000) == 0);
	int wronly = open(at("src"), O_WRONLY);
	CHECK("sendfile from write-only", sendfile(out, wronly, NULL, 10));
	int rdonly = open(at("out"), O_RDONLY);
	CHECK("sendfile to read-only", sendfile(rdonly, src, NULL, 10));
	int append = open(at("out"), O_WRONLY | O_APPEND);
	off = 0;
	CHECK("sendfile to append", sendfile(append, src, &off, 10));
	CHECK("sendfile bad fd", sendfile(out, 999, NULL, 10));
	off = -1;
	CHECK("sendfile negative offset", sendfile(out, src, &off, 10));
	close(wronly);
	close(rdonly);
	close(append);

	/* copy_file_range */
	int dst = open(at("dst"), O_RDWR | O_CREAT | O_TRUNC, 0644);
	lseek(src, 0, SEEK_SET);
	CHECK("copy_file_range", copy_file_range(src, NULL, dst, NULL, sizeof(pattern), 0));
	SHOW("copied whole=%d src pos=%ld dst pos=%ld", holds(dst, 0, sizeof(pattern)), (long)lseek(src, 0, SEEK_CUR),
	     (long)lseek(dst, 0, SEEK_CUR));
	CHECK("copy_file_range at end", copy_file_range(src, NULL, dst, NULL, 10, 0));
	loff_t in_off = 500, out_off = 0;
	ftruncate(dst, 0);
	CHECK("copy_file_range offsets", copy_file_range(src, &in_off, dst, &out_off, 300, 0));
	SHOW("offsets now=%ld,%ld dst pos=%ld copied=%d", (long)in_off, (long)out_off, (long)lseek(dst, 0, SEEK_CUR),
	     holds(dst, 500, 300));
	CHECK("copy_file_range flags", copy_file_range(src, NULL, dst, NULL, 10, 1));
	in_off = 0;
	out_off = 100;
	CHECK("copy_file_range overlap", copy_file_range(src, &in_off, src, &out_off, 200, 0));
	int d = open(dir, O_RDONLY | O_DIRECTORY);
	CHECK("copy_file_range from dir", copy_file_range(d, NULL, dst, NULL, 10, 0));
	CHECK("copy_file_range from pipe", copy_file_range(p[0], NULL, dst, NULL, 10, 0));
	CHECK("copy_file_range bad fd", copy_file_range(999, NULL, dst, NULL, 10, 0));
	close(d);
	close(p[0]);
	close(p[1]);
	close(dst);
	close(out);
	close(src);
}

static void statfs_tests(void)
{
	struct statfs a, b, proc;
	CHECK("statfs dir", statfs(dir, &a));
	int fd = open(at("src"), O_RDONLY);
	CHECK("fstatfs file", fstatfs(fd, &b));
	SHOW("same type=%d namelen=%ld", a.f_type == b.f_type, (long)a.f_namelen);
	close(fd);
	CHECK("statfs /proc", statfs("/proc", &proc));
	SHOW("proc type=%#lx", (unsigned long)proc.f_type);
	CHECK("statfs /proc/self/maps", statfs("/proc/self/maps", &b));
	SHOW("proc file type=%#lx", (unsigned long)b.f_type);
	CHECK("statfs missing", statfs(at("missing"), &a));
	CHECK("fstatfs bad fd", fstatfs(999, &a));
	int p[2];
	pipe(p);
	CHECK("fstatfs pipe", fstatfs(p[0], &a));
	SHOW("pipe type=%#lx", (unsigned long)a.f_type);
	close(p[0]);
	close(p[1]);
	int efd = eventfd(0, 0);
	CHECK("fstatfs eventfd", fstatfs(efd, &a));
	SHOW("eventfd type=%#lx", (unsigned long)a.f_type);
	close(efd);
}

static void link_and_owner_tests(void)
{
	CHECK("link missing", link(at("missing"), at("new")));
	CHECK("link onto existing", link(at("src"), at("dst")));
	CHECK("link a directory", link(dir, at("newdir")));
	CHECK("linkat bad flags", linkat(AT_FDCWD, at("src"), AT_FDCWD, at("new"), 0x1));
	CHECK("link into missing dir", link(at("src"), at("nodir/new")));

	/* Hard links: two names for one file, which lives until the last name and descriptor go. */
	CHECK("link", link(at("src"), at("second")));
	struct stat a, b;
	stat(at("src"), &a);
	stat(at("second"), &b);
	printf("same inode %d, links %lu\n", a.st_ino == b.st_ino, (unsigned long)a.st_nlink);
	int w = open(at("second"), O_WRONLY | O_APPEND);
	CHECK("append through the second name", write(w, "+more", 5));
	close(w);
	struct stat grown;
	stat(at("src"), &grown);
	printf("the first name sees the write: %d\n", grown.st_size == a.st_size + 5);
	CHECK("link a third name", linkat(AT_FDCWD, at("second"), AT_FDCWD, at("third"), 0));
	stat(at("src"), &a);
	printf("links now %lu\n", (unsigned long)a.st_nlink);
	CHECK("unlink the first name", unlink(at("src")));
	stat(at("third"), &b);
	printf("after unlinking the first: links %lu, size kept %d\n", (unsigned long)b.st_nlink, b.st_size == grown.st_size);
	CHECK("rename a name", rename(at("third"), at("src")));
	CHECK("unlink the second name", unlink(at("second")));
	stat(at("src"), &b);
	printf("one name left: links %lu\n", (unsigned long)b.st_nlink);
	int keep = open(at("src"), O_RDONLY);
	CHECK("unlink the last name", unlink(at("src")));
	fstat(keep, &b);
	printf("an open file with no name: links %lu, readable %d\n", (unsigned long)b.st_nlink,
	       (int)pread(keep, pattern, 5, 0) == 5);
	close(keep);
	int again = open(at("src"), O_WRONLY | O_CREAT | O_TRUNC, 0644); /* what later checks expect */
	CHECK("src again", write(again, pattern, sizeof(pattern)));
	close(again);
	CHECK("link a symlink itself", (symlink("src", at("sym2")), link(at("sym2"), at("sym3"))));
	struct stat ls;
	lstat(at("sym3"), &ls);
	printf("the link of a symlink is a symlink: %d\n", S_ISLNK(ls.st_mode));
	CHECK("linkat following a symlink", linkat(AT_FDCWD, at("sym2"), AT_FDCWD, at("sym4"), AT_SYMLINK_FOLLOW));
	lstat(at("sym4"), &ls);
	printf("AT_SYMLINK_FOLLOW links the file: %d\n", S_ISREG(ls.st_mode));
	unlink(at("sym2"));
	unlink(at("sym3"));
	unlink(at("sym4"));

	symlink("src", at("sym"));
	CHECK("chown", chown(at("src"), getuid(), getgid()));
	CHECK("chown unchanged", chown(at("src"), -1, -1));
	CHECK("chown missing", chown(at("missing"), -1, -1));
	CHECK("lchown", lchown(at("sym"), -1, -1));
	int fd = open(at("src"), O_RDONLY);
	CHECK("fchown", fchown(fd, -1, -1));
	CHECK("fchown bad fd", fchown(999, -1, -1));
	CHECK("fchownat", fchownat(AT_FDCWD, at("sym"), -1, -1, AT_SYMLINK_NOFOLLOW));
	CHECK("fchownat empty path", fchownat(fd, "", -1, -1, AT_EMPTY_PATH));
	CHECK("fchownat empty path without flag", fchownat(fd, "", -1, -1, 0));
	CHECK("fchownat bad flags", fchownat(AT_FDCWD, at("src"), -1, -1, 0x4));
	close(fd);
	unlink(at("sym"));
}

/* The raw syscalls (musl has no wrappers): the offset's high half is 0 on x86-64. */
static long raw_preadv2(int fd, const struct iovec *iov, int count, off_t offset, int flags)
{
	return syscall(SYS_preadv2, fd, iov, count, offset, 0, flags);
}

static long raw_pwritev2(int fd, const struct iovec *iov, int count, off_t offset, int flags)
{
	return syscall(SYS_pwritev2, fd, iov, count, offset, 0, flags);
}

static void vector_and_lock_tests(void)
{
	int fd = open(at("vec"), O_RDWR | O_CREAT | O_TRUNC, 0644);
	struct iovec iov[2] = {{pattern, 10}, {pattern + 10, 20}};
	CHECK("pwritev2 at position", raw_pwritev2(fd, iov, 1, -1, 0));
	CHECK("position", lseek(fd, 0, SEEK_CUR));
	CHECK("pwritev2 at 5", raw_pwritev2(fd, iov, 2, 5, 0));
	CHECK("position", lseek(fd, 0, SEEK_CUR));
	char a[8], b[8];
	struct iovec in[2] = {{a, 8}, {b, 8}};
	CHECK("preadv2 at 5", raw_preadv2(fd, in, 2, 5, 0));
	SHOW("same=%d", memcmp(a, pattern, 8) == 0 && memcmp(b, pattern + 8, 8) == 0);
	lseek(fd, 0, SEEK_SET);
	CHECK("preadv2 at position", raw_preadv2(fd, in, 1, -1, 0));
	CHECK("position", lseek(fd, 0, SEEK_CUR));
	CHECK("preadv2 bad flags", raw_preadv2(fd, in, 1, 0, 0x10000));
	int p[2];
	pipe(p);
	write(p[1], "pipe", 4);
	CHECK("preadv2 pipe at position", raw_preadv2(p[0], in, 1, -1, 0));
	CHECK("preadv2 pipe at offset", raw_preadv2(p[0], in, 1, 0, 0));
	close(p[0]);
	close(p[1]);

	CHECK("flock exclusive", flock(fd, LOCK_EX));
	CHECK("flock shared nonblocking", flock(fd, LOCK_SH | LOCK_NB));
	CHECK("flock unlock", flock(fd, LOCK_UN));
	CHECK("flock bad op", flock(fd, LOCK_SH | LOCK_EX));
	CHECK("flock bad fd", flock(999, LOCK_EX));
	CHECK("syncfs", syncfs(fd));
	CHECK("syncfs bad fd", syncfs(999));
	sync();
	CHECK("fsync", fsync(fd));
	close(fd);
}

static void process_tests(void)
{
	int status;
	CHECK("wait4", wait4(-1, &status, 0, NULL));
	CHECK("waitpid nohang", waitpid(-1, &status, WNOHANG));
	CHECK("wait", wait(&status));
	siginfo_t si;
	CHECK("waitid", waitid(P_ALL, 0, &si, WEXITED));
	CHECK("waitid no options", waitid(P_ALL, 0, &si, 0));
	CHECK("wait4 bad options", wait4(-1, &status, 0x40, NULL));

	CHECK("setpriority", setpriority(PRIO_PROCESS, 0, 5));
	errno = 0;
	int nice_now = getpriority(PRIO_PROCESS, 0);
	SHOW("getpriority=%d errno=%d", nice_now, errno);
	CHECK("setpriority back", setpriority(PRIO_PROCESS, 0, 0));
	SHOW("getpriority=%d", getpriority(PRIO_PROCESS, 0));
	CHECK("getpriority raw", syscall(SYS_getpriority, PRIO_PROCESS, 0));
	CHECK("getpriority bad which", getpriority(7, 0));
	CHECK("setpriority bad which", setpriority(7, 0, 0));

	/* Raw syscalls: musl's wrappers of these say ENOSYS on purpose. */
	struct sched_param sp = {0};
	CHECK("sched_getscheduler", syscall(SYS_sched_getscheduler, 0));
	CHECK("sched_getparam", syscall(SYS_sched_getparam, 0, &sp));
	SHOW("priority=%d", sp.sched_priority);
	CHECK("sched_setscheduler other", syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, &sp));
	CHECK("sched_setparam", syscall(SYS_sched_setparam, 0, &sp));
	sp.sched_priority = 5;
	CHECK("sched_setscheduler other with priority", syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, &sp));
	CHECK("sched_setscheduler bad policy", syscall(SYS_sched_setscheduler, 0, 99, &sp));
	CHECK("sched_getscheduler bad pid", syscall(SYS_sched_getscheduler, -1));
	CHECK("sched_getparam bad pid", syscall(SYS_sched_getparam, -1, &sp));

	CHECK("membarrier query has private expedited", (syscall(SYS_membarrier, 0, 0) & 8) != 0);
	CHECK("membarrier private expedited unregistered", syscall(SYS_membarrier, 8, 0));
	CHECK("membarrier register", syscall(SYS_membarrier, 16, 0));
	CHECK("membarrier private expedited", syscall(SYS_membarrier, 8, 0));
	CHECK("membarrier bad flags", syscall(SYS_membarrier, 0, 4));
	CHECK("membarrier bad command", syscall(SYS_membarrier, 12345, 0));

	static char page[4096] __attribute__((aligned(4096)));
	CHECK("mlock", mlock(page, sizeof(page)));
	CHECK("munlock", munlock(page, sizeof(page)));
	CHECK("mlock2 bad flags", syscall(SYS_mlock2, page, sizeof(page), 0x8));
	void *hole = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(hole, 4096);
	CHECK("mlock unmapped", mlock(hole, 4096));
	CHECK("mlockall no flags", mlockall(0));
	CHECK("munlockall", munlockall());
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		fprintf(stderr, "usage: files2 DIR\n");
		return 2;
	}
	snprintf(dir, sizeof(dir), "%s", argv[1]);
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (char)('a' + i % 26);
	memfd_tests();
	sendfile_tests();
	statfs_tests();
	link_and_owner_tests();
	vector_and_lock_tests();
	process_tests();
	return checks_done();
}
