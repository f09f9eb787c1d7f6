/* Files: walks the tree given as argv[1] (getdents64 through readdir) and prints, in sorted order,
 * each entry's relative path, type, size and content hash (read with read, pread, readv and lseek
 * in uneven chunks, which must agree) or symlink target; then checks descriptor calls (dup family,
 * fcntl, O_CLOEXEC), the working directory and the errors of common mistakes. Reads only. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_ENTRIES 20000

static char *paths[MAX_ENTRIES];
static int count;

static void walk(const char *root, const char *rel)
{
	char full[4096];
	snprintf(full, sizeof(full), "%s/%s", root, rel);
	DIR *d = opendir(full);
	if (!d) {
		printf("opendir %s failed: errno %d\n", rel, errno);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char child[4096];
		snprintf(child, sizeof(child), "%s%s%s", rel, *rel ? "/" : "", e->d_name);
		if (count < MAX_ENTRIES)
			paths[count++] = strdup(child);
		if (e->d_type == DT_DIR)
			walk(root, child);
	}
	closedir(d);
}

static int by_name(const void *a, const void *b) { return strcmp(*(char **)a, *(char **)b); }

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

/* Hashes the file three ways; prints a mismatch if they disagree. */
static void hash_file(const char *path, const char *rel, off_t size)
{
	static unsigned char buf[1 << 16];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		printf("%s: open failed errno %d\n", rel, errno);
		return;
	}
	uint64_t h1 = 14695981039346656037ULL, h2 = h1, h3 = h1;
	size_t chunk = 1;
	ssize_t n;
	while ((n = read(fd, buf, chunk)) > 0) {
		h1 = fnv(h1, buf, n);
		chunk = chunk * 3 + 7;
		if (chunk > sizeof(buf))
			chunk = 4093;
	}
	off_t end = lseek(fd, 0, SEEK_END);
	for (off_t at = 0; at < size; at += 10007) {
		ssize_t got = pread(fd, buf, 10007, at);
		if (got <= 0)
			break;
		h2 = fnv(h2, buf, got);
	}
	lseek(fd, 0, SEEK_SET);
	unsigned char a[100], b[3000];
	for (;;) {
		struct iovec iov[2] = {{a, sizeof(a)}, {b, sizeof(b)}};
		ssize_t got = readv(fd, iov, 2);
		if (got <= 0)
			break;
		h3 = fnv(h3, a, got < (ssize_t)sizeof(a) ? got : sizeof(a));
		if (got > (ssize_t)sizeof(a))
			h3 = fnv(h3, b, got - sizeof(a));
	}
	struct stat st;
	fstat(fd, &st);
	close(fd);
	printf("%s file %lld %016llx%s%s\n", rel, (long long)size, (unsigned long long)h1,
	       h1 == h2 && h2 == h3 ? "" : " READS DISAGREE", end == size && st.st_size == size ? "" : " SIZE DISAGREES");
}

static void descriptor_checks(const char *root, const char *a_file)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", root, a_file);
	int fd = open(path, O_RDONLY);
	int d1 = dup(fd);
	int d2 = dup2(fd, 100);
	int d3 = dup3(fd, 101, O_CLOEXEC);
	printf("dup>fd=%d dup2=%d dup3=%d\n", d1 > fd, d2, d3);
	printf("cloexec: 101=%d 100=%d\n", fcntl(101, F_GETFD), fcntl(100, F_GETFD));
	fcntl(100, F_SETFD, FD_CLOEXEC);
	printf("after F_SETFD 100=%d\n", fcntl(100, F_GETFD));
	int d4 = fcntl(fd, F_DUPFD_CLOEXEC, 200);
	printf("F_DUPFD_CLOEXEC=%d flags=%d\n", d4, fcntl(d4, F_GETFD));
	printf("F_GETFL accmode=%d\n", fcntl(fd, F_GETFL) & O_ACCMODE);
	char x, y;
	read(fd, &x, 1);
	read(d1, &y, 1); /* shares the offset */
	printf("shared offset=%ld\n", (long)lseek(fd, 0, SEEK_CUR));
	close(d1), close(100), close(101), close(d4);
	errno = 0;
	int r = close(d1);
	printf("close twice=%d errno=%d\n", r, errno);
	errno = 0;
	r = dup3(fd, fd, 0);
	printf("dup3 same=%d errno=%d\n", r, errno);
	errno = 0;
	ssize_t w = write(fd, "x", 1);
	printf("write to O_RDONLY=%zd errno=%d\n", w, errno);
	close(fd);
	errno = 0;
	r = open("/no/such/file", O_RDONLY);
	printf("open missing=%d errno=%d\n", r, errno);
	errno = 0;
	r = open(path, O_RDONLY | O_DIRECTORY);
	printf("O_DIRECTORY on a file=%d errno=%d\n", r, errno);
	int dfd = open(root, O_RDONLY | O_DIRECTORY);
	errno = 0;
	w = read(dfd, &x, 1);
	printf("read a directory=%zd errno=%d\n", w, errno);
	int rel = openat(dfd, a_file, O_RDONLY);
	struct stat st1, st2;
	fstat(rel, &st1);
	stat(path, &st2);
	printf("openat relative ok=%d same inode=%d\n", rel >= 0, st1.st_ino == st2.st_ino);
	printf("fstatat=%d\n", fstatat(dfd, a_file, &st1, 0));
	errno = 0;
	r = lseek(rel, -1, SEEK_SET);
	printf("lseek negative=%d errno=%d\n", r, errno);
	close(rel);
	printf("access F_OK=%d R_OK=%d missing=%d\n", access(path, F_OK), access(path, R_OK), access("/nope", F_OK));
	char cwd[4096];
	printf("chdir=%d\n", chdir(root));
	printf("relative stat=%d\n", stat(a_file, &st1));
	printf("fchdir=%d\n", fchdir(dfd));
	errno = 0;
	char *got = getcwd(cwd, 2);
	printf("getcwd small=%d errno=%d\n", got == NULL, errno);
	close(dfd);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: files DIR\n");
		return 2;
	}
	const char *root = argv[1];
	walk(root, "");
	qsort(paths, count, sizeof(paths[0]), by_name);
	const char *a_file = NULL;
	for (int i = 0; i < count; i++) {
		char full[4096];
		snprintf(full, sizeof(full), "%s/%s", root, paths[i]);
		struct stat st;
		if (lstat(full, &st) < 0) {
			printf("%s: lstat failed errno %d\n", paths[i], errno);
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			printf("%s dir\n", paths[i]);
		} else if (S_ISLNK(st.st_mode)) {
			char target[4096];
			ssize_t n = readlink(full, target, sizeof(target) - 1);
			target[n > 0 ? n : 0] = 0;
			printf("%s link -> %s\n", paths[i], target);
		} else if (S_ISREG(st.st_mode)) {
			hash_file(full, paths[i], st.st_size);
			if (!a_file && st.st_size > 0)
				a_file = paths[i];
		}
	}
	printf("%d entries\n", count);
	if (a_file)
		descriptor_checks(root, a_file);
	return 0;
}
