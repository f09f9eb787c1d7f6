/* File mappings and the rest of the mmap family, as ld.so and programs use them: private and shared
 * read-only mappings of files (the program's own executable, the file named by argv[1], a file written
 * in /tmp), offsets, the zero-filled tail of the last page, private writes that never reach the file,
 * MAP_FIXED overlays on a reservation (the ld.so pattern), mprotect, partial munmap, mremap (shrink,
 * grow in place, move, MREMAP_FIXED, of a file mapping), madvise(MADV_DONTNEED), msync, mincore,
 * /dev/zero, the errors Linux gives, and the lines /proc/self/maps shows for file mappings. Prints
 * no addresses, so the output is the same on Linux and in osv.
 * Usage: mmap BIG-FILE SMALL-FILE (at least 8 pages, and less than a page), or mmap --sigbus FILE,
 * which touches a mapped page past the end of the file (SIGBUS). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static long page;

static const char *err(void)
{
	switch (errno) {
	case EACCES:
		return "EACCES";
	case EBADF:
		return "EBADF";
	case EEXIST:
		return "EEXIST";
	case EFAULT:
		return "EFAULT";
	case EINVAL:
		return "EINVAL";
	case ENODEV:
		return "ENODEV";
	case ENOMEM:
		return "ENOMEM";
	default:
		return "other";
	}
}

/* A syscall's result as the output shows it: "0", or "-1 " and the errno's name. */
static const char *outcome(long r)
{
	static char text[32];
	if (r == -1)
		snprintf(text, sizeof(text), "-1 %s", err());
	else
		snprintf(text, sizeof(text), "%ld", r);
	return text;
}

/* An mmap or mremap result: "mapped", or the errno's name. */
static const char *mapped(void *p) { return p == MAP_FAILED ? err() : "mapped"; }

/* The whole file, read with read(): what every mapping is compared with. */
static unsigned char *slurp(int fd, size_t *size)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return NULL;
	unsigned char *buf = malloc(st.st_size + 1);
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = pread(fd, buf + got, st.st_size - got, got);
		if (n <= 0)
			return NULL;
		got += n;
	}
	*size = got;
	return buf;
}

static int all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* The /proc/self/maps line of the mapping that starts at addr, or "" (a static buffer). */
static const char *maps_line(const void *addr)
{
	static char line[4096];
	char start[32];
	snprintf(start, sizeof(start), "%08lx-", (unsigned long)addr);
	FILE *f = fopen("/proc/self/maps", "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, start, strlen(start)) == 0) {
			fclose(f);
			line[strcspn(line, "\n")] = 0;
			return line;
		}
	}
	if (f)
		fclose(f);
	return "";
}

/* Checks a maps line against the file: rights, offset, device and inode as fstat gives them, and the
 * path (its real path, with " (deleted)" after an unlink). Prints the rights and offset. */
static void check_maps(const char *what, const void *addr, int fd, const char *path)
{
	const char *line = maps_line(addr);
	char perms[8] = "", name[4096] = "";
	unsigned long long offset = 0, inode = 0;
	unsigned dev_major = 0, dev_minor = 0;
	int fields = sscanf(line, "%*x-%*x %7s %llx %x:%x %llu %4095[^\n]", perms, &offset, &dev_major, &dev_minor, &inode, name);
	struct stat st;
	fstat(fd, &st);
	char *real = path ? realpath(path, NULL) : NULL;
	int path_ok = path ? real && strcmp(name, real) == 0 : strstr(name, " (deleted)") != NULL;
	printf("%s maps: fields=%d perms=%s offset=%llx dev=%d inode=%d path=%d\n", what, fields, perms, offset,
	       dev_major == major(st.st_dev) && dev_minor == minor(st.st_dev), inode == st.st_ino, path_ok);
	free(real);
}

static void private_and_shared(const char *what, const char *path)
{
	int fd = open(path, O_RDONLY);
	size_t size = 0;
	unsigned char *data = fd >= 0 ? slurp(fd, &size) : NULL;
	if (!data) {
		printf("%s: cannot read %s\n", what, path);
		exit(1);
	}
	size_t len = (size + page - 1) & ~(page - 1);
	unsigned char *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	printf("%s private: ok=%d same=%d tail zero=%d\n", what, m != MAP_FAILED, memcmp(m, data, size) == 0,
	       all_zero(m + size, len - size));
	check_maps(what, m, fd, path);

	/* A window at an offset, then the same pages written privately: the file does not change. */
	if (size > 3 * page) {
		unsigned char *w = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, page);
		int same = memcmp(w, data + page, 2 * page) == 0;
		memset(w + 100, 0xab, 5000);
		unsigned char again[5000];
		pread(fd, again, sizeof(again), page + 100);
		printf("%s offset window: same=%d written=%d file unchanged=%d other mapping unchanged=%d\n", what,
		       same, w[100] == 0xab && w[5099] == 0xab, memcmp(again, data + page + 100, sizeof(again)) == 0,
		       memcmp(m + page + 100, data + page + 100, 5000) == 0);
		check_maps("window", w, fd, path);
		/* MADV_DONTNEED on a private file mapping: the written pages show the file again. */
		int dropped = madvise(w, 2 * page, MADV_DONTNEED);
		printf("%s dontneed=%d file again=%d\n", what, dropped, memcmp(w, data + page, 2 * page) == 0);
		munmap(w, 2 * page);
	}

	unsigned char *s = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	printf("%s shared: ok=%d same=%d\n", what, s != MAP_FAILED, memcmp(s, data, size) == 0);
	check_maps("shared", s, fd, path);
	printf("%s shared mprotect write: %s\n", what, outcome(mprotect(s, page, PROT_READ | PROT_WRITE)));
	printf("%s shared writable map: %s\n", what,
	       mapped(mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)));
	printf("%s msync=%d\n", what, msync(s, len, MS_SYNC));
	/* mremap with old size 0: a second mapping of the same shared pages. */
	unsigned char *twin = mremap(s, 0, len, MREMAP_MAYMOVE);
	printf("%s shared twin: %s same=%d\n", what, mapped(twin), twin != MAP_FAILED && memcmp(twin, data, size) == 0);
	if (twin != MAP_FAILED)
		munmap(twin, len);
	printf("%s private twin: %s\n", what, mapped(mremap(m, 0, len, MREMAP_MAYMOVE)));
	munmap(s, size);
	munmap(m, size);
	free(data);
	close(fd);
}

/* What ld.so does with a library: reserve the whole span with one mapping of the file, map segments
 * over it with MAP_FIXED at their offsets and rights, mprotect a gap to PROT_NONE, zero-fill bss with
 * anonymous MAP_FIXED memory, make RELRO read-only, and unmap parts. */
static void ld_so_pattern(const char *path)
{
	int fd = open(path, O_RDONLY);
	size_t size = 0;
	unsigned char *data = slurp(fd, &size);
	if (size < 6 * page) {
		printf("ld.so pattern: file too small\n");
		return;
	}
	size_t span = 8 * page;
	unsigned char *base = mmap(NULL, span, PROT_READ, MAP_PRIVATE, fd, 0);
	unsigned char *text = mmap(base + page, 2 * page, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_FIXED, fd, 3 * page);
	int gap = mprotect(base + 3 * page, page, PROT_NONE);
	unsigned char *rw = mmap(base + 4 * page, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd, 4 * page);
	unsigned char *bss = mmap(base + 6 * page, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0);
	printf("ld.so pattern: text=%d gap=%d rw=%d bss=%d\n", text == base + page, gap, rw == base + 4 * page,
	       bss == base + 6 * page);
	printf("ld.so pattern: head same=%d text same=%d rw same=%d bss zero=%d\n", memcmp(base, data, page) == 0,
	       memcmp(text, data + 3 * page, 2 * page) == 0, memcmp(rw, data + 4 * page, 2 * page) == 0,
	       all_zero(bss, 2 * page));
	memset(rw + page - 8, 0, 8);
	bss[0] = 1;
	printf("ld.so pattern: relro=%d\n", mprotect(rw, page, PROT_READ));
	check_maps("ld.so head", base, fd, path);
	check_maps("ld.so text", text, fd, path);
	check_maps("ld.so gap", base + 3 * page, fd, path);
	check_maps("ld.so relro", rw, fd, path);
	check_maps("ld.so data", rw + page, fd, path);
	/* mprotect back: the two halves become one region again. */
	printf("ld.so pattern: unrelro=%d\n", mprotect(rw, page, PROT_READ | PROT_WRITE));
	check_maps("ld.so rw merged", rw, fd, path);
	printf("ld.so pattern: munmap middle=%d\n", munmap(base + page, 2 * page));
	printf("ld.so pattern: mincore hole: %s\n", outcome(mincore(base + page, page, (unsigned char[1]){0})));
	printf("ld.so pattern: msync hole: %s\n", outcome(msync(base + page, page, MS_ASYNC)));
	printf("ld.so pattern: head still same=%d rw still same=%d\n", memcmp(base, data, page) == 0,
	       memcmp(rw + page, data + 5 * page, page) == 0);
	munmap(base, span);
	free(data);
	close(fd);
}

static void remaps(const char *path)
{
	/* shrink */
	unsigned char *a = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(a, 0x11, 4 * page);
	unsigned char *r = mremap(a, 4 * page, 2 * page, 0);
	printf("mremap shrink: same place=%d kept=%d\n", r == a, r[2 * page - 1] == 0x11);
	/* grow in place: the pages after were just given back */
	r = mremap(a, 2 * page, 4 * page, 0);
	printf("mremap grow in place: same place=%d kept=%d new zero=%d\n", r == a, r[page] == 0x11,
	       all_zero(r + 2 * page, 2 * page));
	/* grow where something is in the way: fails without MREMAP_MAYMOVE, moves with it */
	unsigned char *guard = mmap(NULL, 3 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *b = mmap(guard, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	guard += 2 * page;
	memset(b, 0x22, 2 * page);
	errno = 0;
	r = mremap(b, 2 * page, 8 * page, 0);
	printf("mremap blocked: %s\n", mapped(r));
	r = mremap(b, 2 * page, 8 * page, MREMAP_MAYMOVE);
	printf("mremap move: moved=%d kept=%d new zero=%d old gone=%d\n", r != MAP_FAILED && r != b,
	       r[0] == 0x22 && r[2 * page - 1] == 0x22, all_zero(r + 2 * page, 6 * page),
	       mincore(b, page, (unsigned char[1]){0}) < 0 && errno == ENOMEM);
	printf("mremap of nothing: %s\n", mapped(mremap(b, page, 2 * page, MREMAP_MAYMOVE)));
	/* MREMAP_FIXED onto a reserved place */
	unsigned char *place = mmap(NULL, 8 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *f = mremap(r, 8 * page, 8 * page, MREMAP_MAYMOVE | MREMAP_FIXED, place);
	printf("mremap fixed: there=%d kept=%d\n", f == place, f[page] == 0x22);
	printf("mremap fixed onto itself: %s\n", mapped(mremap(f, 2 * page, 2 * page, MREMAP_MAYMOVE | MREMAP_FIXED, f + page)));
	munmap(f, 8 * page);
	munmap(a, 4 * page);
	munmap(guard, page);

	/* a file mapping moved and grown: the new pages go on in the file */
	int fd = open(path, O_RDONLY);
	size_t size = 0;
	unsigned char *data = slurp(fd, &size);
	unsigned char *g = mmap(NULL, 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *m = mmap(g, page, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, page);
	g += page;
	unsigned char *grown = mremap(m, page, 3 * page, MREMAP_MAYMOVE);
	printf("mremap file: moved=%d same=%d\n", grown != m, memcmp(grown, data + page, 3 * page) == 0);
	check_maps("mremap file", grown, fd, path);
	munmap(grown, 3 * page);
	munmap(g, page);
	free(data);
	close(fd);
}

static void anonymous_advice(void)
{
	size_t n = 200 * page;
	unsigned char *a = mmap(NULL, n + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(a + n, page); /* a hole for the errors below */
	unsigned char vec[200];
	a[0] = 1;
	a[50 * page] = 5;
	mincore(a, n, vec);
	printf("mincore: touched=%d,%d untouched=%d\n", vec[0], vec[50], vec[150]);
	int dropped = madvise(a, 60 * page, MADV_DONTNEED);
	mincore(a, n, vec);
	printf("dontneed=%d resident=%d,%d\n", dropped, vec[0], vec[50]);
	printf("zero after dontneed=%d\n", a[0] == 0 && a[50 * page] == 0);
	printf("madvise bad advice: %s\n", outcome(madvise(a, page, 12345)));
	printf("madvise unmapped: %s\n", outcome(madvise(a + n, page, MADV_DONTNEED)));
	printf("madvise willneed=%d\n", madvise(a, page, MADV_WILLNEED));
	printf("mincore unaligned: %s\n", outcome(mincore(a + 1, page, vec)));
	printf("mincore unmapped: %s\n", outcome(mincore(a + n, page, vec)));
	munmap(a, n);
}

static void errors_and_devices(const char *path)
{
	int wfd = open("/dev/null", O_WRONLY);
	printf("mmap write-only fd: %s\n", mapped(mmap(NULL, page, PROT_READ, MAP_PRIVATE, wfd, 0)));
	int dfd = open("/", O_RDONLY | O_DIRECTORY);
	printf("mmap directory: %s\n", mapped(mmap(NULL, page, PROT_READ, MAP_PRIVATE, dfd, 0)));
	printf("mmap bad fd: %s\n", mapped(mmap(NULL, page, PROT_READ, MAP_PRIVATE, 999, 0)));
	int fd = open(path, O_RDONLY);
	printf("mmap unaligned offset: %s\n", mapped(mmap(NULL, page, PROT_READ, MAP_PRIVATE, fd, 100)));
	unsigned char *m = mmap(NULL, page, PROT_READ, MAP_PRIVATE, fd, 0);
	printf("mmap fixed noreplace: %s\n",
	       mapped(mmap(m, page, PROT_READ, MAP_PRIVATE | MAP_FIXED_NOREPLACE, fd, 0)));
	int zfd = open("/dev/zero", O_RDWR);
	unsigned char *z = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE, zfd, 0);
	printf("/dev/zero: ok=%d zero=%d\n", z != MAP_FAILED, z != MAP_FAILED && all_zero(z, 3 * page));
	if (z != MAP_FAILED)
		z[5] = 1;
	close(wfd);
	close(dfd);
	close(fd);
	close(zfd);
}

/* A file this program writes in /tmp, mapped, then unlinked while mapped. */
static void written_file(void)
{
	char path[] = "/tmp/osv-mmap-XXXXXX";
	int fd = mkstemp(path);
	static unsigned char pattern[3 * 4096 + 123];
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (unsigned char)(i * 7 + 3);
	write(fd, pattern, sizeof(pattern));
	private_and_shared("tmp file", path);
	unsigned char *m = mmap(NULL, sizeof(pattern), PROT_READ, MAP_PRIVATE, fd, 0);
	unlink(path);
	printf("tmp file after unlink: same=%d\n", memcmp(m, pattern, sizeof(pattern)) == 0);
	check_maps("unlinked", m, fd, NULL);
	munmap(m, sizeof(pattern));
	close(fd);
}

int main(int argc, char **argv)
{
	page = sysconf(_SC_PAGESIZE);
	if (argc != 3) {
		fprintf(stderr, "usage: mmap BIG-FILE SMALL-FILE | mmap --sigbus FILE\n");
		return 2;
	}
	if (strcmp(argv[1], "--sigbus") == 0) {
		int fd = open(argv[2], O_RDONLY);
		struct stat st;
		fstat(fd, &st);
		size_t len = ((st.st_size + page - 1) & ~(page - 1)) + page;
		volatile unsigned char *m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
		printf("last byte of the file read=%d\n", m[st.st_size - 1] == m[st.st_size - 1]);
		fflush(stdout);
		return m[len - 1]; /* the page after the file's last page: SIGBUS */
	}
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = 0;
	private_and_shared("exe", exe);
	private_and_shared("big", argv[1]);
	private_and_shared("small", argv[2]);
	ld_so_pattern(argv[1]);
	remaps(argv[1]);
	anonymous_advice();
	errors_and_devices(argv[2]);
	written_file();
	return 0;
}
