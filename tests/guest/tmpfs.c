/* A writable directory (argv[1]: /tmp in osv, a fresh temp dir on the host): creating, writing, reading
 * back, truncating, renaming, linking, removing, chmod and utimensat, with the errno values Linux gives.
 * Prints nothing that differs between machines (no inode numbers or absolute times). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <dirent.h>
#include <unistd.h>

#define CHECK(label, expr)                                                                             \
	do {                                                                                           \
		errno = 0;                                                                             \
		long r_ = (long)(expr);                                                                \
		printf("%s=%ld errno=%d\n", label, r_, r_ < 0 ? errno : 0);                            \
	} while (0)

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void list(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d) {
		printf("list %s: errno=%d\n", dir, errno);
		return;
	}
	char *names[256];
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < 256)
		names[n++] = strdup(e->d_name);
	closedir(d);
	qsort(names, n, sizeof(*names), cmp);
	printf("list:");
	for (int i = 0; i < n; i++) {
		printf(" %s", names[i]);
		free(names[i]);
	}
	printf("\n");
}

static void show(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0) {
		printf("stat %s: errno=%d\n", strrchr(path, '/') + 1, errno);
		return;
	}
	printf("stat %s: type=%o mode=%o size=%ld\n", strrchr(path, '/') + 1, st.st_mode & S_IFMT,
	       st.st_mode & 07777, S_ISDIR(st.st_mode) ? 0L : (long)st.st_size);
}

static void contents(const char *path)
{
	char buf[256];
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		printf("read %s: errno=%d\n", strrchr(path, '/') + 1, errno);
		return;
	}
	ssize_t n = read(fd, buf, sizeof(buf));
	close(fd);
	printf("read %s: %zd [", strrchr(path, '/') + 1, n);
	for (ssize_t i = 0; i < n; i++)
		putchar(buf[i] ? buf[i] : '.');
	printf("]\n");
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	char p[1024], q[1024];
	if (chdir(argv[1]) < 0)
		return 3;
	umask(022);
#define P(name) (snprintf(p, sizeof(p), "%s/%s", argv[1], name), p)
#define Q(name) (snprintf(q, sizeof(q), "%s/%s", argv[1], name), q)
	/* create, write, read back */
	int fd = open(P("a.txt"), O_CREAT | O_WRONLY | O_EXCL, 0666);
	printf("open create fd>=0: %d\n", fd >= 0);
	CHECK("write", write(fd, "hello", 5));
	CHECK("pwrite past end", pwrite(fd, "XY", 2, 10));
	struct iovec iov[2] = {{"ab", 2}, {"cd", 2}};
	CHECK("writev", writev(fd, iov, 2));
	CHECK("pwritev", pwritev(fd, iov, 2, 20));
	CHECK("fsync", fsync(fd));
	CHECK("fdatasync", fdatasync(fd));
	CHECK("read on O_WRONLY", read(fd, q, 1));
	close(fd);
	show(P("a.txt"));
	contents(P("a.txt"));
	CHECK("open excl existing", open(P("a.txt"), O_CREAT | O_EXCL | O_WRONLY, 0600));
	/* append and truncate */
	fd = open(P("a.txt"), O_WRONLY | O_APPEND);
	CHECK("lseek 0", lseek(fd, 0, SEEK_SET));
	CHECK("append", write(fd, "END", 3));
	close(fd);
	contents(P("a.txt"));
	CHECK("truncate 3", truncate(P("a.txt"), 3));
	contents(P("a.txt"));
	fd = open(P("a.txt"), O_RDWR);
	CHECK("ftruncate 8", ftruncate(fd, 8));
	CHECK("ftruncate -1", ftruncate(fd, -1));
	CHECK("fallocate", fallocate(fd, 0, 0, 12));
	close(fd);
	contents(P("a.txt"));
	fd = open(P("a.txt"), O_RDONLY);
	CHECK("ftruncate rdonly", ftruncate(fd, 1));
	CHECK("write rdonly", write(fd, "x", 1));
	close(fd);
	fd = open(P("a.txt"), O_RDWR | O_TRUNC);
	CHECK("after O_TRUNC lseek end", lseek(fd, 0, SEEK_END));
	CHECK("write", write(fd, "new", 3));
	CHECK("lseek", lseek(fd, 0, SEEK_SET));
	char buf[16] = {0};
	CHECK("read", read(fd, buf, sizeof(buf)));
	printf("buf=[%s]\n", buf);
	close(fd);
	/* a bigger file */
	fd = open(P("big"), O_CREAT | O_RDWR, 0640);
	static char block[10000];
	long sum = 0;
	for (int i = 0; i < 30; i++) {
		memset(block, 'a' + i % 26, sizeof(block));
		sum += write(fd, block, sizeof(block));
	}
	printf("big written=%ld\n", sum);
	CHECK("big pread", pread(fd, buf, 4, 299998));
	printf("big tail=[%.2s]\n", buf);
	close(fd);
	show(P("big"));
	/* umask */
	umask(077);
	fd = open(P("masked"), O_CREAT | O_WRONLY, 0666);
	close(fd);
	show(P("masked"));
	umask(022);
	/* directories */
	CHECK("mkdir d", mkdir(P("d"), 0777));
	CHECK("mkdir d again", mkdir(P("d"), 0777));
	CHECK("mkdir d/e", mkdir(P("d/e"), 0700));
	CHECK("mkdir missing/x", mkdir(P("missing/x"), 0700));
	CHECK("mkdir a.txt/x", mkdir(P("a.txt/x"), 0700));
	CHECK("mkdirat", mkdirat(AT_FDCWD, "d/f", 0755));
	show(P("d"));
	show(P("d/e"));
	CHECK("rmdir d", rmdir(P("d")));
	CHECK("rmdir a.txt", rmdir(P("a.txt")));
	CHECK("rmdir missing", rmdir(P("missing")));
	CHECK("unlink d", unlink(P("d")));
	CHECK("unlinkat removedir d/f", unlinkat(AT_FDCWD, "d/f", AT_REMOVEDIR));
	CHECK("open d for writing", open(P("d"), O_WRONLY));
	CHECK("open d/ O_CREAT", open(P("d"), O_CREAT | O_WRONLY, 0644));
	char longname[300];
	memset(longname, 'n', 256);
	longname[256] = 0;
	CHECK("create long name", open(P(longname), O_CREAT | O_WRONLY, 0644));
	CHECK("mkdir long name", mkdir(P(longname), 0755));
	longname[255] = 0;
	fd = open(P(longname), O_CREAT | O_WRONLY, 0644);
	printf("255-byte name ok: %d\n", fd >= 0);
	close(fd);
	CHECK("unlink 255", unlink(P(longname)));
	list(argv[1]);
	list(P("d"));
	/* rename */
	fd = open(P("r1"), O_CREAT | O_WRONLY, 0644);
	write(fd, "one", 3);
	close(fd);
	fd = open(P("r2"), O_CREAT | O_WRONLY, 0644);
	write(fd, "two", 3);
	close(fd);
	CHECK("rename r1 r3", rename(P("r1"), Q("r3")));
	CHECK("rename missing", rename(P("r1"), Q("r4")));
	CHECK("renameat2 noreplace", renameat2(AT_FDCWD, "r3", AT_FDCWD, "r2", RENAME_NOREPLACE));
	CHECK("rename replace", rename(P("r3"), Q("r2")));
	contents(P("r2"));
	CHECK("rename into dir", renameat(AT_FDCWD, "r2", AT_FDCWD, "d/e/r2"));
	contents(P("d/e/r2"));
	CHECK("rename file over dir", rename(P("d/e/r2"), Q("d")));
	CHECK("rename dir over file", rename(P("d/e"), Q("big")));
	CHECK("rename dir into itself", rename(P("d"), Q("d/e/x")));
	CHECK("rename dir over nonempty dir", rename(P("d/e"), Q("d")));
	CHECK("mkdir empty", mkdir(P("empty"), 0755));
	CHECK("rename dir over empty dir", rename(P("d"), Q("empty")));
	CHECK("renameat2 bad flags", renameat2(AT_FDCWD, "empty", AT_FDCWD, "x", 0x40));
	list(argv[1]);
	list(P("empty/e"));
	CHECK("rename read-only file", rename("/proc/self/exe", Q("x")));
	/* symlinks */
	CHECK("symlink", symlink("empty/e/r2", P("link")));
	CHECK("symlink exists", symlink("x", P("link")));
	CHECK("symlinkat", symlinkat("nowhere", AT_FDCWD, "dangling"));
	char target[64] = {0};
	CHECK("readlink", readlink(P("link"), target, sizeof(target)));
	printf("target=[%s]\n", target);
	contents(P("link"));
	contents(P("dangling"));
	show(P("link"));
	CHECK("unlink link", unlink(P("link")));
	CHECK("unlink dangling", unlink(P("dangling")));
	/* chmod */
	CHECK("chmod", chmod(P("big"), 0600));
	show(P("big"));
	fd = open(P("big"), O_RDONLY);
	CHECK("fchmod", fchmod(fd, 0711));
	close(fd);
	show(P("big"));
	CHECK("fchmodat", fchmodat(AT_FDCWD, "big", 04755, 0));
	show(P("big"));
	CHECK("chmod missing", chmod(P("nothing"), 0600));
	/* times */
	struct timespec old[2] = {{1000000, 0}, {2000000, 0}};
	CHECK("utimensat", utimensat(AT_FDCWD, P("big"), old, 0));
	struct stat st;
	stat(P("big"), &st);
	printf("atime=%ld mtime=%ld\n", (long)st.st_atime, (long)st.st_mtime);
	struct timespec omit[2] = {{0, UTIME_OMIT}, {3000000, 0}};
	CHECK("utimensat omit", utimensat(AT_FDCWD, P("big"), omit, 0));
	stat(P("big"), &st);
	printf("atime=%ld mtime=%ld\n", (long)st.st_atime, (long)st.st_mtime);
	fd = open(P("big"), O_WRONLY);
	write(fd, "z", 1);
	close(fd);
	stat(P("big"), &st);
	printf("mtime changed by write: %d\n", st.st_mtime > 3000000);
	struct timespec now[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
	CHECK("utimensat now", utimensat(AT_FDCWD, P("big"), now, 0));
	stat(P("big"), &st);
	printf("atime now: %d\n", st.st_atime > 3000000);
	CHECK("utimensat bad nsec", utimensat(AT_FDCWD, P("big"), (struct timespec[2]){{0, -5}, {0, 0}}, 0));
	CHECK("utimensat missing", utimensat(AT_FDCWD, P("nothing"), NULL, 0));
	/* unlinked while open */
	fd = open(P("ghost"), O_CREAT | O_RDWR, 0644);
	write(fd, "boo", 3);
	CHECK("unlink ghost", unlink(P("ghost")));
	show(P("ghost"));
	CHECK("write ghost", write(fd, "!!", 2));
	CHECK("lseek ghost", lseek(fd, 0, SEEK_SET));
	memset(buf, 0, sizeof(buf));
	CHECK("read ghost", read(fd, buf, sizeof(buf)));
	printf("ghost=[%s]\n", buf);
	fstat(fd, &st);
	printf("ghost nlink=%ld size=%ld\n", (long)st.st_nlink, (long)st.st_size);
	CHECK("close ghost", close(fd));
	CHECK("truncate missing", truncate(P("nothing"), 0));
	/* cleanup */
	CHECK("unlink a.txt", unlink(P("a.txt")));
	CHECK("unlink a.txt again", unlink(P("a.txt")));
	CHECK("unlink big", unlink(P("big")));
	CHECK("unlink masked", unlink(P("masked")));
	CHECK("unlink r2", unlink(P("empty/e/r2")));
	CHECK("rmdir empty", rmdir(P("empty")));
	CHECK("rmdir empty/e", rmdir(P("empty/e")));
	CHECK("rmdir empty", rmdir(P("empty")));
	list(argv[1]);
	return 0;
}
