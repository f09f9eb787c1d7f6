/* Writable shared mappings of tmpfs files and memfds, memfd seals, nice values per thread and POSIX
 * timers on thread CPU clocks, compared with Linux. argv[1] is a directory on a tmpfs: /tmp in osv, a
 * fresh directory under /dev/shm on the host (so seals and holes behave as tmpfs's there too).
 * - shared mappings: stores seen by pread and by other mappings (also made later, after munmap, close
 *   and reopen), writes and truncation seen through them, the bytes past the end of the file in its
 *   last page, SIGBUS on pages wholly past it, shrinking while mapped (private copies included), read()
 *   into and write() from a mapping of the same file, mremap, madvise, msync, mprotect and the
 *   access errors; private mappings stay copy-on-write;
 * - seals: memfd_create's flags, F_ADD_SEALS/F_GET_SEALS and what each seal refuses (EPERM), EBUSY for
 *   F_SEAL_WRITE while a shared mapping may write, the errors on other files;
 * - getpriority/setpriority with a thread id (and 0: the caller) act on that thread only, inherited by
 *   threads it makes;
 * - timer_create on CLOCK_THREAD_CPUTIME_ID and pthread_getcpuclockid clocks fires after that thread's
 *   CPU time, not another's; CLOCK_PROCESS_CPUTIME_ID too.
 * Prints results, never addresses or times; the last line counts the checks. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "checks.h"

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x10
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x20
#endif
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 8
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x10
#endif

#define PAGE 4096

static char dir[512];

static const char *at(const char *name)
{
	static char paths[4][600];
	static int next;
	char *p = paths[next++ % 4];
	snprintf(p, sizeof(paths[0]), "%s/%s", dir, name);
	return p;
}

static unsigned char pattern[4 * PAGE];

static void fill_pattern(void)
{
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (unsigned char)((i * 2654435761u) >> 24);
}

/* ---- touching mapped bytes that may fault ---- */

static sigjmp_buf probe_jump;
static volatile sig_atomic_t probe_sig, probe_code;
static void *volatile probe_addr;

static void on_fault(int sig, siginfo_t *info, void *context)
{
	(void)context;
	probe_sig = sig;
	probe_code = info->si_code;
	probe_addr = info->si_addr;
	siglongjmp(probe_jump, 1);
}

/* Reads (or writes, when value >= 0) the byte at p; what happened, as text. */
static const char *touch(volatile unsigned char *p, int value)
{
	static char text[64];
	probe_sig = 0;
	if (sigsetjmp(probe_jump, 1) == 0) {
		if (value >= 0)
			*p = (unsigned char)value;
		snprintf(text, sizeof(text), "byte %d", *p);
	} else {
		snprintf(text, sizeof(text), "%s code=%d at=%d", probe_sig == SIGBUS ? "SIGBUS" : "SIGSEGV", probe_code,
			 probe_addr == (void *)p);
	}
	return text;
}

/* The bytes of the file at [offset, offset + n) equal want. */
static int file_holds(int fd, off_t offset, const void *want, size_t n)
{
	static unsigned char buf[4 * PAGE];
	return pread(fd, buf, n, offset) == (ssize_t)n && memcmp(buf, want, n) == 0;
}

static int all_zero(const volatile unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* The permissions /proc/self/maps shows for the region at p ("rw-s"...). */
static const char *maps_perms(const void *p)
{
	static char perms[8];
	strcpy(perms, "none");
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long start, end;
		char seen[8];
		if (sscanf(line, "%lx-%lx %7s", &start, &end, seen) == 3 && start <= (uintptr_t)p && (uintptr_t)p < end)
			strcpy(perms, seen);
	}
	if (f)
		fclose(f);
	return perms;
}

static long file_size(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? (long)st.st_size : -1;
}

/* ---- shared mappings of a file made by name ---- */

/* Stores through one mapping seen by read(), by a second mapping, and writes seen through both. */
static void coherence(int fd)
{
	unsigned char *a = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK("mmap shared rw", a != MAP_FAILED);
	SHOW("maps perms %s", maps_perms(a));
	SHOW("shows file=%d", memcmp(a, pattern, 2 * PAGE + 100) == 0);
	memcpy(a + 10, "stored!", 7);
	a[PAGE + 5] = 0xee;
	SHOW("pread sees stores=%d,%d", file_holds(fd, 10, "stored!", 7), file_holds(fd, PAGE + 5, "\xee", 1));
	CHECK("pwrite", pwrite(fd, "written", 7, 2 * PAGE + 20));
	SHOW("mapping sees pwrite=%d", memcmp(a + 2 * PAGE + 20, "written", 7) == 0);
	unsigned char *b = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, PAGE);
	SHOW("second mapping sees=%d", b != MAP_FAILED && b[5] == 0xee);
	b[100] = 0x42;
	SHOW("first sees second=%d", a[PAGE + 100] == 0x42);
	unsigned char *ro = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
	SHOW("read-only shared sees=%d perms %s", memcmp(ro + 10, "stored!", 7) == 0, maps_perms(ro));
	CHECK("msync sync", msync(a, 3 * PAGE, MS_SYNC));
	CHECK("msync async invalidate", msync(a, PAGE, MS_ASYNC | MS_INVALIDATE));
	CHECK("msync both", msync(a, PAGE, MS_ASYNC | MS_SYNC));
	/* read() into the mapping and write() out of it: the kernel goes through the file's own pages. */
	CHECK("pread into own mapping", pread(fd, a + PAGE + 200, 50, 0));
	SHOW("file took it=%d", file_holds(fd, PAGE + 200, a, 50));
	CHECK("pwrite from own mapping", pwrite(fd, a + 10, 7, 300));
	SHOW("mapping shows it=%d", memcmp(a + 300, "stored!", 7) == 0);
	munmap(ro, PAGE);
	munmap(b, PAGE);
	munmap(a, 3 * PAGE);
}

/* Private mappings stay copy-on-write; a read-only one shows the file until written. */
static void private_copies(int fd)
{
	unsigned char *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	unsigned char *s = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
	p[0] = 0x77;
	SHOW("private store: own=%d file unchanged=%d shared unchanged=%d", p[0] == 0x77, !file_holds(fd, 0, "\x77", 1),
	     s[0] != 0x77);
	unsigned char *r = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
	pwrite(fd, "\x31", 1, 1);
	SHOW("untouched private sees write=%d", r[1] == 0x31);
	CHECK("mprotect private writable", mprotect(r, PAGE, PROT_READ | PROT_WRITE));
	r[1] = 0x32;
	SHOW("then private: file keeps=%d", file_holds(fd, 1, "\x31", 1));
	munmap(r, PAGE);
	munmap(s, PAGE);
	munmap(p, PAGE);
}

/* The last page's bytes past the end, pages wholly past it, and the file growing and shrinking under
 * its mappings. */
static void end_of_file(int fd)
{
	unsigned char *m = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	unsigned char *priv = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	SHOW("size=%ld past end in last page zero=%d", file_size(fd), all_zero(m + 2 * PAGE + 100, PAGE - 100));
	SHOW("page past end read: %s", touch(m + 3 * PAGE, -1));
	SHOW("page past end write: %s", touch(m + 3 * PAGE + 8, 1));
	SHOW("private page past end: %s", touch(priv + 3 * PAGE, -1));
	CHECK("ftruncate grow", ftruncate(fd, 4 * PAGE));
	SHOW("grown page: %s", touch(m + 3 * PAGE + 8, 9));
	SHOW("file took it=%d", file_holds(fd, 3 * PAGE + 8, "\x09", 1));
	priv[3 * PAGE] = 0x55; /* a private copy of a page that is about to go */
	priv[0] = 0x56;
	CHECK("ftruncate shrink", ftruncate(fd, PAGE + 10));
	SHOW("kept page=%d tail zero=%d", m[PAGE + 5] == 0xee, all_zero(m + PAGE + 10, PAGE - 10));
	SHOW("dropped page: %s", touch(m + 2 * PAGE, -1));
	SHOW("dropped private copy: %s", touch(priv + 3 * PAGE, -1));
	SHOW("kept private copy=%d", priv[0] == 0x56);
	CHECK("write extends", pwrite(fd, "xyz", 3, 2 * PAGE + 1));
	SHOW("extended page: %s", touch(m + 2 * PAGE + 1, -1));
	SHOW("gap zero=%d", all_zero(m + PAGE + 10, PAGE - 10) && m[2 * PAGE] == 0);
	/* The file as a sparse one: a page far past the data, touched through the mapping. */
	CHECK("ftruncate sparse", ftruncate(fd, 64 * PAGE));
	unsigned char *big = mmap(NULL, 64 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	big[63 * PAGE + 1] = 0x63;
	SHOW("sparse page stored=%d hole zero=%d", file_holds(fd, 63 * PAGE + 1, "\x63", 1), all_zero(big + 10 * PAGE, PAGE));
	munmap(big, 64 * PAGE);
	munmap(priv, 4 * PAGE);
	munmap(m, 4 * PAGE);
}

/* mremap, madvise and mprotect of shared mappings, and the access errors. */
static void calls(int fd, const char *path)
{
	ftruncate(fd, 3 * PAGE);
	pwrite(fd, pattern, 3 * PAGE, 0);
	unsigned char *m = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	m = mremap(m, PAGE, 3 * PAGE, MREMAP_MAYMOVE);
	SHOW("mremap grown: ok=%d shows=%d", m != MAP_FAILED, memcmp(m, pattern, 3 * PAGE) == 0);
	m[2 * PAGE] = 0x99;
	SHOW("stores after mremap reach file=%d", file_holds(fd, 2 * PAGE, "\x99", 1));
	unsigned char *twin = mremap(m, 0, PAGE, MREMAP_MAYMOVE);
	twin[3] = 0x13;
	SHOW("mremap twin shares=%d", m[3] == 0x13);
	munmap(twin, PAGE);
	CHECK("madvise dontneed", madvise(m, PAGE, MADV_DONTNEED));
	SHOW("after dontneed=%d", m[3] == 0x13);
	CHECK("madvise remove", madvise(m + PAGE, PAGE, MADV_REMOVE));
	static unsigned char zeros[PAGE];
	SHOW("removed: mapping zero=%d file zero=%d size=%ld", all_zero(m + PAGE, PAGE), file_holds(fd, PAGE, zeros, PAGE),
	     file_size(fd));
	CHECK("fallocate punch", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 10, 20));
	SHOW("punched zero=%d kept=%d", all_zero(m + 10, 20), m[3] == 0x13 && m[30] == pattern[30]);
	CHECK("fallocate punch without keep size", fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 10));
	CHECK("fallocate keep size", fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 8 * PAGE));
	SHOW("size=%ld", file_size(fd));
	CHECK("fallocate grow", fallocate(fd, 0, 0, 4 * PAGE));
	SHOW("size=%ld", file_size(fd));
	CHECK("mprotect read-only", mprotect(m, 3 * PAGE, PROT_READ));
	SHOW("perms %s", maps_perms(m));
	CHECK("mprotect writable again", mprotect(m, 3 * PAGE, PROT_READ | PROT_WRITE));
	m[7] = 0x70;
	SHOW("store after mprotect reaches file=%d", file_holds(fd, 7, "\x70", 1));
	CHECK("mprotect none", mprotect(m, PAGE, PROT_NONE));
	CHECK("mprotect back", mprotect(m, PAGE, PROT_READ | PROT_WRITE));
	SHOW("kept through PROT_NONE=%d", m[7] == 0x70);
	munmap(m, 3 * PAGE);

	int ro = open(path, O_RDONLY);
	CHECK("mmap shared rw on read-only fd", mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0) == MAP_FAILED ? -1 : 0);
	unsigned char *r = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, ro, 0);
	CHECK("mprotect write on read-only fd mapping", mprotect(r, PAGE, PROT_READ | PROT_WRITE));
	CHECK("madvise remove read-only fd mapping", madvise(r, PAGE, MADV_REMOVE));
	munmap(r, PAGE);
	unsigned char *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	CHECK("madvise remove private", madvise(p, PAGE, MADV_REMOVE));
	munmap(p, PAGE);
	close(ro);
	int wo = open(path, O_WRONLY);
	CHECK("mmap shared on write-only fd", mmap(NULL, PAGE, PROT_WRITE, MAP_SHARED, wo, 0) == MAP_FAILED ? -1 : 0);
	close(wo);
}

static void named_file(void)
{
	const char *path = at("shared.bin");
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK("open", fd >= 0);
	CHECK("write", write(fd, pattern, 2 * PAGE + 100));
	CHECK("F_GET_SEALS of a tmpfs file", fcntl(fd, F_GET_SEALS));
	CHECK("F_ADD_SEALS of a tmpfs file", fcntl(fd, F_ADD_SEALS, F_SEAL_GROW));
	coherence(fd);
	private_copies(fd);
	/* What the mappings stored stays in the file after they and the descriptor are gone. */
	close(fd);
	fd = open(path, O_RDWR);
	SHOW("reopened holds stores=%d,%d", file_holds(fd, 10, "stored!", 7), file_holds(fd, PAGE + 100, "\x42", 1));
	unsigned char *again = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
	SHOW("new mapping shows=%d", again != MAP_FAILED && memcmp(again + 10, "stored!", 7) == 0);
	munmap(again, PAGE);
	end_of_file(fd);
	calls(fd, path);
	close(fd);
	unlink(path);
}

/* ---- memfd and seals ---- */

static void seal_errors(void)
{
	int fd = memfd_create("plain", 0);
	CHECK("F_GET_SEALS without sealing", fcntl(fd, F_GET_SEALS));
	CHECK("F_ADD_SEALS without sealing", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
	close(fd);
	fd = memfd_create("sealable", MFD_ALLOW_SEALING);
	CHECK("F_GET_SEALS sealable", fcntl(fd, F_GET_SEALS));
	CHECK("F_ADD_SEALS unknown bit", fcntl(fd, F_ADD_SEALS, 0x100));
	close(fd);
	CHECK("memfd_create exec and noexec", memfd_create("both", MFD_EXEC | MFD_NOEXEC_SEAL));
	fd = memfd_create("noexec", MFD_NOEXEC_SEAL);
	struct stat st;
	fstat(fd, &st);
	SHOW("noexec mode=%o", st.st_mode & 07777);
	CHECK("F_GET_SEALS noexec", fcntl(fd, F_GET_SEALS));
	CHECK("fchmod +x under F_SEAL_EXEC", fchmod(fd, 0777));
	CHECK("fchmod other bits", fchmod(fd, 0600));
	CHECK("F_ADD_SEALS after noexec", fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK));
	close(fd);
	fd = memfd_create("exec", MFD_ALLOW_SEALING);
	CHECK("F_ADD_SEALS exec on executable", fcntl(fd, F_ADD_SEALS, F_SEAL_EXEC));
	CHECK("F_GET_SEALS exec", fcntl(fd, F_GET_SEALS));
	CHECK("write under exec seal", write(fd, "x", 1));
	close(fd);
	int self = open("/proc/self/exe", O_RDONLY);
	CHECK("F_GET_SEALS not tmpfs", fcntl(self, F_GET_SEALS));
	CHECK("F_ADD_SEALS read-only fd", fcntl(self, F_ADD_SEALS, F_SEAL_SEAL));
	close(self);
	int pipes[2];
	pipe(pipes);
	CHECK("F_ADD_SEALS pipe write end", fcntl(pipes[1], F_ADD_SEALS, F_SEAL_SEAL));
	CHECK("F_ADD_SEALS pipe read end", fcntl(pipes[0], F_ADD_SEALS, F_SEAL_SEAL));
	CHECK("F_GET_SEALS pipe", fcntl(pipes[0], F_GET_SEALS));
	close(pipes[0]);
	close(pipes[1]);
}

static void write_seals(void)
{
	int fd = memfd_create("write", MFD_ALLOW_SEALING | MFD_CLOEXEC);
	CHECK("ftruncate", ftruncate(fd, 2 * PAGE));
	unsigned char *w = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	memcpy(w, "memfd", 5);
	SHOW("memfd mapping reaches file=%d", file_holds(fd, 0, "memfd", 5));
	CHECK("F_SEAL_WRITE while writable mapping", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
	munmap(w, 2 * PAGE);
	unsigned char *r = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
	CHECK("F_SEAL_WRITE while read-only shared mapping of O_RDWR", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
	munmap(r, PAGE);
	unsigned char *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	CHECK("F_SEAL_WRITE with private mapping", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
	CHECK("F_GET_SEALS", fcntl(fd, F_GET_SEALS));
	CHECK("write sealed", write(fd, "x", 1));
	CHECK("pwrite sealed", pwrite(fd, "x", 1, 0));
	CHECK("write nothing sealed", write(fd, "x", 0));
	CHECK("mmap shared rw sealed", mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED ? -1 : 0);
	r = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
	CHECK("mmap shared ro sealed", r == MAP_FAILED ? -1 : 0);
	CHECK("mprotect it writable", mprotect(r, PAGE, PROT_READ | PROT_WRITE));
	munmap(r, PAGE);
	p[0] = 'P';
	SHOW("private store under seal=%d file keeps=%d", p[0] == 'P', file_holds(fd, 0, "memfd", 5));
	munmap(p, PAGE);
	CHECK("punch hole sealed", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, PAGE));
	CHECK("ftruncate shrink under write seal", ftruncate(fd, PAGE));
	CHECK("ftruncate grow under write seal", ftruncate(fd, 3 * PAGE));
	close(fd);
}

static void size_seals(void)
{
	int fd = memfd_create("size", MFD_ALLOW_SEALING);
	write(fd, pattern, 2 * PAGE + 50);
	CHECK("F_SEAL_SHRINK", fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK));
	CHECK("ftruncate shrink", ftruncate(fd, PAGE));
	CHECK("ftruncate same", ftruncate(fd, 2 * PAGE + 50));
	CHECK("ftruncate grow", ftruncate(fd, 2 * PAGE + 60));
	CHECK("F_SEAL_GROW", fcntl(fd, F_ADD_SEALS, F_SEAL_GROW));
	CHECK("ftruncate grow sealed", ftruncate(fd, 3 * PAGE));
	CHECK("pwrite inside", pwrite(fd, "in", 2, 2 * PAGE + 10));
	CHECK("pwrite past end", pwrite(fd, "out", 3, 2 * PAGE + 58));
	CHECK("pwrite across pages", pwrite(fd, pattern, 2 * PAGE, PAGE));
	CHECK("fallocate past end", fallocate(fd, 0, 0, 3 * PAGE));
	CHECK("fallocate keep size past end", fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 3 * PAGE));
	CHECK("fallocate inside", fallocate(fd, 0, 0, PAGE));
	SHOW("size=%ld", file_size(fd));
	CHECK("F_SEAL_SEAL", fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL));
	CHECK("F_ADD_SEALS after F_SEAL_SEAL", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
	CHECK("F_GET_SEALS", fcntl(fd, F_GET_SEALS));
	close(fd);
}

static void future_write_seal(void)
{
	int fd = memfd_create("future", MFD_ALLOW_SEALING);
	ftruncate(fd, PAGE);
	unsigned char *w = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK("F_SEAL_FUTURE_WRITE with writable mapping", fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE));
	w[1] = 'w';
	SHOW("old mapping still writes=%d", file_holds(fd, 1, "w", 1));
	CHECK("write", write(fd, "x", 1));
	CHECK("mmap shared rw", mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED ? -1 : 0);
	unsigned char *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	SHOW("private rw ok=%d", p != MAP_FAILED && p[1] == 'w');
	CHECK("F_SEAL_WRITE too", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
	munmap(w, PAGE);
	CHECK("F_SEAL_WRITE after munmap", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
	CHECK("F_GET_SEALS", fcntl(fd, F_GET_SEALS));
	munmap(p, PAGE);
	close(fd);
}

/* A memfd's mapping outlives its descriptor; a second descriptor (dup) and mapping share it. */
static void memfd_lifetime(void)
{
	int fd = memfd_create("life", 0);
	ftruncate(fd, 2 * PAGE);
	unsigned char *m = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	int other = dup(fd);
	close(fd);
	memcpy(m + PAGE, "alive", 5);
	SHOW("dup sees=%d", file_holds(other, PAGE, "alive", 5));
	close(other);
	SHOW("mapping after close=%d", memcmp(m + PAGE, "alive", 5) == 0);
	munmap(m, 2 * PAGE);
}

/* ---- nice values per thread ---- */

static long long ns_of(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static sem_t nice_ready, nice_go;
static volatile pid_t nice_tid;

static void *nice_child(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)getpriority(PRIO_PROCESS, 0);
}

static void *nice_thread(void *arg)
{
	(void)arg;
	nice_tid = (pid_t)syscall(SYS_gettid);
	CHECK("thread setpriority self", setpriority(PRIO_PROCESS, 0, 7));
	SHOW("thread getpriority self=%d", getpriority(PRIO_PROCESS, 0));
	sem_post(&nice_ready);
	sem_wait(&nice_go);
	SHOW("thread sees=%d", getpriority(PRIO_PROCESS, 0));
	pthread_t child;
	void *result;
	pthread_create(&child, NULL, nice_child, NULL);
	pthread_join(child, &result);
	return result;
}

/* Two busy threads on one CPU, nice 0 and nice 10: the nicer one gets much less of it (Linux weighs
 * them 1024 to 110). Each spins for the same wall time and reports its CPU time. */
static pthread_barrier_t share_start;

static void *share_spinner(void *arg)
{
	cpu_set_t one;
	CPU_ZERO(&one);
	sched_getaffinity(0, sizeof(one), &one);
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) { /* the first CPU this process may use */
		if (CPU_ISSET(cpu, &one)) {
			CPU_ZERO(&one);
			CPU_SET(cpu, &one);
			break;
		}
	}
	sched_setaffinity(0, sizeof(one), &one);
	setpriority(PRIO_PROCESS, 0, (int)(intptr_t)arg);
	pthread_barrier_wait(&share_start);
	long long start = ns_of(CLOCK_THREAD_CPUTIME_ID), until = ns_of(CLOCK_MONOTONIC) + 400000000LL;
	while (ns_of(CLOCK_MONOTONIC) < until)
		for (volatile int i = 0; i < 1000; i++)
			;
	return (void *)(intptr_t)((ns_of(CLOCK_THREAD_CPUTIME_ID) - start) / 1000);
}

static void nice_shares_cpu(void)
{
	pthread_barrier_init(&share_start, NULL, 2);
	pthread_t normal, nicer;
	void *normal_us, *nicer_us;
	pthread_create(&normal, NULL, share_spinner, (void *)0);
	pthread_create(&nicer, NULL, share_spinner, (void *)10);
	pthread_join(normal, &normal_us);
	pthread_join(nicer, &nicer_us);
	long a = (long)(intptr_t)normal_us, b = (long)(intptr_t)nicer_us;
	SHOW("nice 10 got under a third of nice 0's CPU=%d", b * 3 < a);
}

static void nice_per_thread(void)
{
	sem_init(&nice_ready, 0, 0);
	sem_init(&nice_go, 0, 0);
	pthread_t t;
	pthread_create(&t, NULL, nice_thread, NULL);
	sem_wait(&nice_ready);
	SHOW("main=%d thread=%d by pid=%d", getpriority(PRIO_PROCESS, 0), getpriority(PRIO_PROCESS, nice_tid),
	     getpriority(PRIO_PROCESS, getpid()));
	CHECK("raw getpriority thread", syscall(SYS_getpriority, PRIO_PROCESS, nice_tid));
	CHECK("setpriority thread", setpriority(PRIO_PROCESS, nice_tid, 3));
	CHECK("setpriority by pid", setpriority(PRIO_PROCESS, getpid(), 1));
	SHOW("main=%d thread=%d", getpriority(PRIO_PROCESS, 0), getpriority(PRIO_PROCESS, nice_tid));
	sem_post(&nice_go);
	void *child_nice;
	pthread_join(t, &child_nice);
	SHOW("thread's child inherits=%ld", (long)(intptr_t)child_nice);
	CHECK("getpriority gone thread", getpriority(PRIO_PROCESS, 4000000));
	CHECK("setpriority gone thread", setpriority(PRIO_PROCESS, 4000000, 1));
	CHECK("setpriority back", setpriority(PRIO_PROCESS, 0, 0));
	SHOW("main=%d", getpriority(PRIO_PROCESS, 0));
	nice_shares_cpu();
}

/* ---- POSIX timers on CPU clocks ---- */

static volatile sig_atomic_t usr1_count, usr2_count;
static void on_usr1(int sig) { (void)sig; usr1_count++; }
static void on_usr2(int sig) { (void)sig; usr2_count++; }

/* Spins until *flag reaches want (or 20 s of wall time pass: a timer that never fires). */
static void burn_until(volatile sig_atomic_t *flag, int want)
{
	long long give_up = ns_of(CLOCK_MONOTONIC) + 20000000000LL;
	while (*flag < want && ns_of(CLOCK_MONOTONIC) < give_up)
		for (volatile int i = 0; i < 10000; i++)
			;
}

static void unblock(int sig)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

/* A timer on clock sending sig, armed; timer_create's result. */
static int cpu_timer(clockid_t clock, int sig, long long value_ns, long long interval_ns, timer_t *t)
{
	struct sigevent ev;
	memset(&ev, 0, sizeof(ev));
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = sig;
	int r = timer_create(clock, &ev, t);
	if (r != 0)
		return r;
	struct itimerspec its = {{interval_ns / 1000000000, interval_ns % 1000000000},
				 {value_ns / 1000000000, value_ns % 1000000000}};
	return timer_settime(*t, 0, &its, NULL);
}

/* A thread's timer on its own CPU clock: one-shot, then periodic. SIGUSR1 reaches only this thread
 * (the others block it). */
static void *own_clock_thread(void *arg)
{
	(void)arg;
	unblock(SIGUSR1);
	long long start = ns_of(CLOCK_THREAD_CPUTIME_ID);
	timer_t t;
	CHECK("timer_create CLOCK_THREAD_CPUTIME_ID", cpu_timer(CLOCK_THREAD_CPUTIME_ID, SIGUSR1, 30000000, 0, &t));
	struct itimerspec left;
	timer_gettime(t, &left);
	SHOW("armed=%d", left.it_value.tv_sec == 0 && left.it_value.tv_nsec > 0 && left.it_value.tv_nsec <= 30000000);
	burn_until(&usr1_count, 1);
	SHOW("own clock fired=%d after its cpu time=%d", usr1_count, ns_of(CLOCK_THREAD_CPUTIME_ID) - start >= 30000000);
	timer_gettime(t, &left);
	SHOW("disarmed=%d", left.it_value.tv_sec == 0 && left.it_value.tv_nsec == 0);
	struct itimerspec periodic = {{0, 10000000}, {0, 10000000}};
	usr1_count = 0;
	timer_settime(t, 0, &periodic, NULL);
	burn_until(&usr1_count, 3);
	SHOW("periodic fired>=3: %d", usr1_count >= 3);
	timer_delete(t);
	return NULL;
}

static volatile sig_atomic_t burner_done;

/* Burns CPU until a timer another thread set on this thread's clock fires (SIGUSR1). */
static void *burner_thread(void *arg)
{
	(void)arg;
	unblock(SIGUSR1);
	burn_until(&usr1_count, 1);
	return NULL;
}

static void cpu_timers(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_usr2;
	sigaction(SIGUSR2, &sa, NULL);
	sigset_t both;
	sigemptyset(&both);
	sigaddset(&both, SIGUSR1);
	sigaddset(&both, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &both, NULL); /* threads made from now on start with both blocked */

	pthread_t t;
	pthread_create(&t, NULL, own_clock_thread, NULL);
	pthread_join(t, NULL);

	/* Timers on another thread's clock (pthread_getcpuclockid) and on the main thread's own: while the
	 * main thread waits, only the other's fires. */
	usr1_count = 0;
	pthread_create(&t, NULL, burner_thread, NULL);
	clockid_t other;
	CHECK("pthread_getcpuclockid", pthread_getcpuclockid(t, &other));
	timer_t on_other, on_main;
	CHECK("timer_create on another thread's clock", cpu_timer(other, SIGUSR1, 30000000, 0, &on_other));
	CHECK("timer_create on the main thread's clock", cpu_timer(CLOCK_THREAD_CPUTIME_ID, SIGUSR2, 50000000, 0, &on_main));
	unblock(SIGUSR2);
	pthread_join(t, NULL); /* the burner ends when its timer fires */
	SHOW("other's timer fired=%d main's not yet=%d", usr1_count, usr2_count == 0);
	burn_until(&usr2_count, 1);
	SHOW("main's fired after main burned=%d", usr2_count);
	timer_delete(on_other);
	timer_delete(on_main);

	usr2_count = 0;
	timer_t process;
	CHECK("timer_create CLOCK_PROCESS_CPUTIME_ID", cpu_timer(CLOCK_PROCESS_CPUTIME_ID, SIGUSR2, 20000000, 0, &process));
	burn_until(&usr2_count, 1);
	SHOW("process clock fired=%d", usr2_count);
	timer_delete(process);

	timer_t bad;
	struct sigevent ev = {.sigev_notify = SIGEV_NONE};
	CHECK("timer_create thread clock of a thread not ours", timer_create((clockid_t)((~4000000 << 3) | 6), &ev, &bad));
	CHECK("timer_create bad cpu clock", timer_create((clockid_t)((~0 << 3) | 7), &ev, &bad));
	CHECK("timer_create own thread clock by id", timer_create((clockid_t)((~0 << 3) | 6), &ev, &bad));
	timer_delete(bad);
	CHECK("timer_create CLOCK_MONOTONIC_RAW", timer_create(CLOCK_MONOTONIC_RAW, &ev, &bad));
	CHECK("timer_create CLOCK_REALTIME_COARSE", timer_create(CLOCK_REALTIME_COARSE, &ev, &bad));
	CHECK("timer_create CLOCK_TAI", timer_create(CLOCK_TAI, &ev, &bad));
	timer_delete(bad);
	CHECK("timer_create unknown clock", timer_create(10, &ev, &bad));
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	snprintf(dir, sizeof(dir), "%s", argc > 1 ? argv[1] : "/tmp");
	fill_pattern();
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	named_file();
	seal_errors();
	write_seals();
	size_seals();
	future_write_seal();
	memfd_lifetime();
	nice_per_thread();
	cpu_timers();
	return checks_done();
}
