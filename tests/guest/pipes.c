/* Pipes, eventfd, signalfd and POSIX timers, with threads where blocking matters: a reader blocked on an
 * empty pipe woken by a writer, a writer blocked on a full pipe, PIPE_BUF atomicity between two
 * writers, EOF and EPIPE/SIGPIPE, poll/select/epoll readiness of each kind of descriptor. Prints only
 * what is the same on Linux and osv (no pids, addresses or times); the last line counts the checks. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "checks.h"

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif


static short poll_one(int fd, short events)
{
	struct pollfd p = {fd, events, 0};
	return poll(&p, 1, 0) == 1 ? p.revents : 0;
}

/* ---- pipes ---- */

static void pipe_basics(void)
{
	int p[2];
	char buf[64];
	CHECK("pipe", pipe(p));
	CHECK("write", write(p[1], "hello", 5));
	int avail = -1;
	CHECK("fionread", ioctl(p[0], FIONREAD, &avail));
	SHOW("available=%d", avail);
	memset(buf, 0, sizeof(buf));
	CHECK("read", read(p[0], buf, sizeof(buf)));
	SHOW("got=%s", buf);
	struct stat st;
	CHECK("fstat", fstat(p[0], &st));
	SHOW("fifo=%d mode=%o", S_ISFIFO(st.st_mode), st.st_mode & 0777);
	CHECK("lseek", lseek(p[0], 0, SEEK_SET));
	CHECK("pread", pread(p[0], buf, 1, 0));
	CHECK("posix_fadvise", posix_fadvise(p[0], 0, 0, POSIX_FADV_SEQUENTIAL));
	SHOW("getfl read=%o write=%o", fcntl(p[0], F_GETFL) & O_ACCMODE, fcntl(p[1], F_GETFL) & O_ACCMODE);
	CHECK("write to read end", write(p[0], "x", 1));
	CHECK("read from write end", read(p[1], buf, 1));
	CHECK("getpipe_sz", fcntl(p[0], F_GETPIPE_SZ));
	CHECK("setpipe_sz 100000", fcntl(p[1], F_SETPIPE_SZ, 100000));
	CHECK("getpipe_sz", fcntl(p[0], F_GETPIPE_SZ));
	CHECK("setpipe_sz 0", fcntl(p[1], F_SETPIPE_SZ, 0));
	static char block[8192];
	CHECK("write 4096", write(p[1], block, 4096));
	CHECK("write when full", fcntl(p[1], F_SETFL, O_NONBLOCK) | write(p[1], block, 1));
	CHECK("setpipe_sz 8192", fcntl(p[1], F_SETPIPE_SZ, 8192));
	CHECK("write 4096", write(p[1], block, 4096));
	CHECK("setpipe_sz shrink", fcntl(p[1], F_SETPIPE_SZ, 4096));
	CHECK("read 8192", read(p[0], block, 8192));
	CHECK("getpipe_sz on file", fcntl(0, F_GETPIPE_SZ) < 0 ? -1 : 0);
	close(p[0]);
	close(p[1]);

	CHECK("pipe2 bad flags", pipe2(p, 0x1));
	CHECK("pipe2 cloexec|nonblock", pipe2(p, O_CLOEXEC | O_NONBLOCK));
	SHOW("cloexec=%d nonblock=%d", fcntl(p[0], F_GETFD), (fcntl(p[1], F_GETFL) & O_NONBLOCK) != 0);
	CHECK("read empty nonblock", read(p[0], buf, 1));
	CHECK("read 0 bytes", read(p[0], buf, 0));
	SHOW("poll empty: read=%#x write=%#x", poll_one(p[0], POLLIN), poll_one(p[1], POLLOUT));
	/* Fill it: 16 writes of 4096 bytes, then no more room. */
	int writes = 0;
	while (write(p[1], block, 4096) == 4096)
		writes++;
	SHOW("writes until full=%d errno=%d", writes, errno);
	CHECK("write 1 when full", write(p[1], "x", 1));
	SHOW("poll full: read=%#x write=%#x", poll_one(p[0], POLLIN), poll_one(p[1], POLLOUT));
	CHECK("read 4096", read(p[0], block, 4096));
	SHOW("poll after read: write=%#x", poll_one(p[1], POLLOUT));
	CHECK("write 8192 into 4096 of room", write(p[1], block, 8192));
	CHECK("write 100 when full", write(p[1], block, 100));
	close(p[1]);
	SHOW("poll writer gone: read=%#x", poll_one(p[0], POLLIN));
	long total = 0, n;
	while ((n = read(p[0], block, sizeof(block))) > 0)
		total += n;
	SHOW("drained=%ld last=%ld", total, n);
	SHOW("poll eof: read=%#x", poll_one(p[0], POLLIN));
	close(p[0]);

	/* A dup of the writer keeps the pipe open. */
	CHECK("pipe2 nonblock", pipe2(p, O_NONBLOCK));
	int extra = dup(p[1]);
	close(p[1]);
	CHECK("read with a writer left", read(p[0], buf, 1));
	close(extra);
	CHECK("read with no writer", read(p[0], buf, 1));
	close(p[0]);
}

static volatile sig_atomic_t sigpipes;
static void on_sigpipe(int sig) { sigpipes++; }

static void pipe_broken(void)
{
	int p[2];
	CHECK("pipe", pipe(p));
	close(p[0]);
	signal(SIGPIPE, on_sigpipe);
	CHECK("write no reader", write(p[1], "x", 1));
	SHOW("sigpipes=%d", (int)sigpipes);
	SHOW("poll no reader: write=%#x", poll_one(p[1], POLLOUT));
	signal(SIGPIPE, SIG_IGN);
	CHECK("write no reader, ignored", write(p[1], "x", 1));
	SHOW("sigpipes=%d", (int)sigpipes);
	signal(SIGPIPE, SIG_DFL);
	close(p[1]);
}

struct pipe_job {
	int fd;
	long count;
	char letter;
	long result;
	volatile int started;
};

static void *blocked_reader(void *arg)
{
	struct pipe_job *job = arg;
	char buf[16] = {0};
	job->started = 1;
	job->result = read(job->fd, buf, sizeof(buf) - 1);
	if (job->result > 0)
		job->letter = buf[0];
	return NULL;
}

static void *bulk_writer(void *arg)
{
	struct pipe_job *job = arg;
	static char chunk[10000];
	long done = 0;
	for (long i = 0; i < (long)sizeof(chunk); i++)
		chunk[i] = (char)('a' + i % 26);
	while (done < job->count) {
		long n = write(job->fd, chunk, (size_t)(job->count - done < (long)sizeof(chunk) ? job->count - done : (long)sizeof(chunk)));
		if (n <= 0)
			break;
		done += n;
	}
	job->result = done;
	return NULL;
}

static void *message_writer(void *arg)
{
	struct pipe_job *job = arg;
	char message[512];
	memset(message, job->letter, sizeof(message));
	long ok = 0;
	for (long i = 0; i < job->count; i++)
		ok += write(job->fd, message, sizeof(message)) == (long)sizeof(message);
	job->result = ok;
	return NULL;
}

static void pipe_threads(void)
{
	int p[2];
	pthread_t t, u;
	CHECK("pipe", pipe(p));
	/* A reader blocked on an empty pipe, woken by a write. */
	struct pipe_job r = {p[0], 0, 0, 0, 0};
	pthread_create(&t, NULL, blocked_reader, &r);
	while (!r.started)
		sched_yield();
	for (int i = 0; i < 3; i++)
		sched_yield();
	CHECK("write wakes reader", write(p[1], "Z", 1));
	pthread_join(t, NULL);
	SHOW("reader got=%ld letter=%c", r.result, r.letter);
	/* ... and one woken by the last writer closing. */
	struct pipe_job e = {p[0], 0, 0, 0, 0};
	pthread_create(&t, NULL, blocked_reader, &e);
	while (!e.started)
		sched_yield();
	close(p[1]);
	pthread_join(t, NULL);
	SHOW("reader at eof got=%ld", e.result);
	close(p[0]);

	/* A writer of more than the pipe holds, blocked until the reader makes room. */
	CHECK("pipe", pipe(p));
	struct pipe_job w = {p[1], 200000, 0, 0, 0};
	pthread_create(&t, NULL, bulk_writer, &w);
	static char buf[4096];
	long total = 0, sum = 0, n;
	while (total < w.count && (n = read(p[0], buf, sizeof(buf))) > 0) {
		for (long i = 0; i < n; i++)
			sum += buf[i] == (char)('a' + (total + i) % 10000 % 26);
		total += n;
	}
	pthread_join(t, NULL);
	SHOW("bulk written=%ld read=%ld in order=%d", w.result, total, sum == total);
	close(p[0]);
	close(p[1]);

	/* Two writers of 512-byte messages: each arrives whole (PIPE_BUF atomicity). */
	CHECK("pipe", pipe(p));
	struct pipe_job a = {p[1], 150, 'A', 0, 0}, b = {p[1], 150, 'B', 0, 0};
	pthread_create(&t, NULL, message_writer, &a);
	pthread_create(&u, NULL, message_writer, &b);
	long whole = 0, counts[2] = {0, 0};
	for (int i = 0; i < 300; i++) {
		char m[512];
		long got = 0;
		while (got < (long)sizeof(m) && (n = read(p[0], m + got, sizeof(m) - (size_t)got)) > 0)
			got += n;
		int same = 1;
		for (int k = 1; k < 512; k++)
			same &= m[k] == m[0];
		whole += same;
		if (m[0] == 'A' || m[0] == 'B')
			counts[m[0] - 'A']++;
	}
	pthread_join(t, NULL);
	pthread_join(u, NULL);
	SHOW("messages whole=%ld A=%ld B=%ld written=%ld+%ld", whole, counts[0], counts[1], a.result, b.result);
	close(p[0]);
	close(p[1]);
}

static void pipe_multiplexing(void)
{
	int p[2];
	CHECK("pipe2", pipe2(p, O_NONBLOCK));
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 7}, out[4];
	CHECK("epoll_ctl read end", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
	struct epoll_event wev = {.events = EPOLLOUT, .data.u32 = 8};
	CHECK("epoll_ctl write end", epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &wev));
	CHECK("epoll_wait empty", epoll_wait(ep, out, 4, 0));
	SHOW("event=%u data=%u", out[0].events, out[0].data.u32);
	write(p[1], "abc", 3);
	int n = epoll_wait(ep, out, 4, 0);
	unsigned seen = 0;
	for (int i = 0; i < n; i++)
		seen |= out[i].data.u32 == 7 ? out[i].events << 8 : out[i].events;
	SHOW("epoll_wait with data=%d events=%#x", n, seen);
	fd_set rs, ws;
	FD_ZERO(&rs);
	FD_ZERO(&ws);
	FD_SET(p[0], &rs);
	FD_SET(p[1], &ws);
	struct timeval zero = {0, 0};
	CHECK("select", select(p[1] + 1, &rs, &ws, NULL, &zero));
	SHOW("select read=%d write=%d", FD_ISSET(p[0], &rs), FD_ISSET(p[1], &ws));
	char buf[8];
	read(p[0], buf, sizeof(buf));
	close(p[1]);
	n = epoll_wait(ep, out, 4, 0);
	SHOW("epoll_wait writer closed=%d events=%#x", n, n > 0 ? out[0].events : 0);
	close(p[0]);
	close(ep);
}

/* ---- eventfd ---- */

static void *eventfd_reader(void *arg)
{
	struct pipe_job *job = arg;
	uint64_t v = 0;
	job->started = 1;
	job->result = read(job->fd, &v, 8);
	job->count = (long)v;
	return NULL;
}

static void *eventfd_writer(void *arg)
{
	struct pipe_job *job = arg;
	uint64_t v = 1;
	job->started = 1;
	job->result = write(job->fd, &v, 8);
	return NULL;
}

static void eventfd_tests(void)
{
	uint64_t v;
	int fd;
	CHECK("eventfd bad flags", eventfd(0, 0x10));
	CHECK("eventfd(3)", (fd = eventfd(3, 0)) >= 0);
	CHECK("read", read(fd, &v, 8));
	SHOW("value=%llu", (unsigned long long)v);
	close(fd);
	fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	SHOW("cloexec=%d flags=%o", fcntl(fd, F_GETFD), fcntl(fd, F_GETFL) & (O_ACCMODE | O_NONBLOCK));
	CHECK("read empty", read(fd, &v, 8));
	SHOW("poll empty=%#x", poll_one(fd, POLLIN | POLLOUT));
	v = 5;
	CHECK("write 5", write(fd, &v, 8));
	v = 7;
	CHECK("write 7", write(fd, &v, 8));
	SHOW("poll=%#x", poll_one(fd, POLLIN | POLLOUT));
	CHECK("read 4 bytes", read(fd, &v, 4));
	CHECK("write 4 bytes", write(fd, &v, 4));
	uint64_t wide[2] = {0, 0};
	CHECK("read 16 bytes", read(fd, wide, 16));
	v = wide[0];
	SHOW("value=%llu", (unsigned long long)v);
	v = UINT64_MAX;
	CHECK("write max", write(fd, &v, 8));
	v = UINT64_MAX - 1;
	CHECK("write max-1", write(fd, &v, 8));
	SHOW("poll at max=%#x", poll_one(fd, POLLIN | POLLOUT));
	v = 1;
	CHECK("write overflow", write(fd, &v, 8));
	v = 0;
	CHECK("write 0 at max", write(fd, &v, 8));
	CHECK("read", read(fd, &v, 8));
	SHOW("value=%#llx", (unsigned long long)v);
	struct stat st;
	fstat(fd, &st);
	SHOW("anon mode=%o", st.st_mode);
	close(fd);

	fd = eventfd(3, EFD_SEMAPHORE | EFD_NONBLOCK);
	for (int i = 0; i < 4; i++) {
		v = 0;
		long r = read(fd, &v, 8);
		SHOW("semaphore read=%ld value=%llu", r, (unsigned long long)v);
	}
	close(fd);

	/* A reader blocked at 0, woken by a write; a writer blocked at the top, woken by a read. */
	fd = eventfd(0, 0);
	pthread_t t;
	struct pipe_job r = {fd, 0, 0, 0, 0};
	pthread_create(&t, NULL, eventfd_reader, &r);
	while (!r.started)
		sched_yield();
	v = 42;
	write(fd, &v, 8);
	pthread_join(t, NULL);
	SHOW("blocked reader=%ld value=%ld", r.result, r.count);
	v = UINT64_MAX - 1;
	write(fd, &v, 8);
	struct pipe_job w = {fd, 0, 0, 0, 0};
	pthread_create(&t, NULL, eventfd_writer, &w);
	while (!w.started)
		sched_yield();
	read(fd, &v, 8);
	pthread_join(t, NULL);
	read(fd, &v, 8);
	SHOW("blocked writer=%ld then value=%llu", w.result, (unsigned long long)v);
	close(fd);

	/* epoll, level and edge triggered. */
	fd = eventfd(0, EFD_NONBLOCK);
	int ep = epoll_create1(EPOLL_CLOEXEC), et = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN}, out[2];
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	ev.events = EPOLLIN | EPOLLET;
	epoll_ctl(et, EPOLL_CTL_ADD, fd, &ev);
	CHECK("epoll empty", epoll_wait(ep, out, 2, 0));
	v = 1;
	write(fd, &v, 8);
	CHECK("epoll level", epoll_wait(ep, out, 2, 0));
	CHECK("epoll level again", epoll_wait(ep, out, 2, 0));
	CHECK("epoll edge", epoll_wait(et, out, 2, 0));
	CHECK("epoll edge again", epoll_wait(et, out, 2, 0));
	write(fd, &v, 8);
	CHECK("epoll edge after write", epoll_wait(et, out, 2, 0));
	close(ep);
	close(et);
	close(fd);
}

/* ---- signalfd ---- */

static void show_info(const char *what, const struct signalfd_siginfo *si)
{
	SHOW("%s: signo=%u code=%d from_me=%d int=%d", what, si->ssi_signo, si->ssi_code,
	     si->ssi_pid == (uint32_t)getpid(), si->ssi_int);
}

static void *signalfd_reader(void *arg)
{
	struct pipe_job *job = arg;
	struct signalfd_siginfo si;
	job->started = 1;
	job->result = read(job->fd, &si, sizeof(si));
	job->count = si.ssi_signo;
	return NULL;
}

static void signalfd_tests(void)
{
	sigset_t mask, old;
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGUSR2);
	sigaddset(&mask, SIGRTMIN + 1);
	sigprocmask(SIG_BLOCK, &mask, &old);
	sigset_t one;
	sigemptyset(&one);
	sigaddset(&one, SIGUSR1);
	int fd = signalfd(-1, &one, SFD_NONBLOCK | SFD_CLOEXEC);
	CHECK("signalfd", fd >= 0);
	SHOW("cloexec=%d", fcntl(fd, F_GETFD));
	struct signalfd_siginfo si[4];
	CHECK("read none", read(fd, si, sizeof(si)));
	CHECK("read short buffer", read(fd, si, 100));
	SHOW("poll none=%#x", poll_one(fd, POLLIN));
	raise(SIGUSR1);
	SHOW("poll pending=%#x", poll_one(fd, POLLIN));
	CHECK("read", read(fd, si, sizeof(si)));
	show_info("raise", &si[0]);
	union sigval val = {.sival_int = 77};
	sigqueue(getpid(), SIGUSR1, val);
	CHECK("read", read(fd, si, sizeof(si)));
	show_info("sigqueue", &si[0]);
	/* A signal outside the mask stays pending for others. */
	raise(SIGUSR2);
	CHECK("read other signal", read(fd, si, sizeof(si)));
	CHECK("signalfd update", signalfd(fd, &mask, 0) == fd);
	raise(SIGUSR1);
	for (int i = 1; i <= 3; i++) {
		val.sival_int = i;
		sigqueue(getpid(), SIGRTMIN + 1, val);
	}
	CHECK("read four", read(fd, si, sizeof(si)));
	for (int i = 0; i < 4; i++)
		show_info("batch", &si[i]);
	CHECK("read last", read(fd, si, sizeof(si)));
	show_info("last", &si[0]);
	int efd = eventfd(0, 0);
	CHECK("signalfd on an eventfd", signalfd(efd, &mask, 0));
	close(efd);
	CHECK("signalfd4 bad size", syscall(SYS_signalfd4, -1, &mask, 4, 0));
	CHECK("signalfd4 bad flags", syscall(SYS_signalfd4, -1, &mask, 8, 1));
	struct stat st;
	fstat(fd, &st);
	SHOW("anon mode=%o", st.st_mode);

	/* epoll sees a pending signal. */
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 3}, out[2];
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	CHECK("epoll none", epoll_wait(ep, out, 2, 0));
	kill(getpid(), SIGUSR2);
	CHECK("epoll pending", epoll_wait(ep, out, 2, 0));
	SHOW("epoll events=%#x data=%u", out[0].events, out[0].data.u32);
	read(fd, si, sizeof(si));
	show_info("kill", &si[0]);
	close(ep);
	close(fd);

	/* A thread blocked in read, woken by a signal sent to the process. */
	fd = signalfd(-1, &mask, 0);
	pthread_t t;
	struct pipe_job r = {fd, 0, 0, 0, 0};
	pthread_create(&t, NULL, signalfd_reader, &r);
	while (!r.started)
		sched_yield();
	for (int i = 0; i < 3; i++)
		sched_yield();
	kill(getpid(), SIGUSR2);
	pthread_join(t, NULL);
	SHOW("blocked reader=%ld signo=%ld", r.result, r.count);
	close(fd);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

/* ---- POSIX timers ---- */

static sem_t fired;
static volatile int thread_notified;

static void on_timer_thread(union sigval v)
{
	thread_notified = v.sival_int;
	sem_post(&fired);
}

struct waiter {
	sigset_t set;
	pid_t tid;
	volatile int ready;
	siginfo_t info;
};

static void *timer_waiter(void *arg)
{
	struct waiter *w = arg;
	w->tid = (pid_t)syscall(SYS_gettid);
	w->ready = 1;
	sigwaitinfo(&w->set, &w->info);
	return NULL;
}

static void timer_tests(void)
{
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGALRM);
	sigprocmask(SIG_BLOCK, &set, &old);
	siginfo_t info;
	int kid;

	CHECK("timer_create bad clock", syscall(SYS_timer_create, 123, NULL, &kid));
	struct sigevent sev = {0};
	sev.sigev_notify = 99;
	CHECK("timer_create bad notify", syscall(SYS_timer_create, CLOCK_MONOTONIC, &sev, &kid));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = 0;
	CHECK("timer_create bad signal", syscall(SYS_timer_create, CLOCK_MONOTONIC, &sev, &kid));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGUSR1;
	sev.sigev_notify_thread_id = -5;
	CHECK("timer_create bad thread", syscall(SYS_timer_create, CLOCK_MONOTONIC, &sev, &kid));
	CHECK("timer_delete unknown", syscall(SYS_timer_delete, 9999));
	CHECK("timer_gettime unknown", syscall(SYS_timer_gettime, 9999, NULL));

	/* One-shot, relative, SIGEV_SIGNAL with a value. */
	timer_t timer;
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGUSR1;
	sev.sigev_value.sival_int = 1234;
	CHECK("timer_create", timer_create(CLOCK_MONOTONIC, &sev, &timer));
	struct itimerspec its = {{0, 0}, {0, 1000000}}, cur;
	its.it_value.tv_nsec = 1000000000;
	CHECK("timer_settime bad nsec", timer_settime(timer, 0, &its, NULL));
	its.it_value.tv_nsec = 1000000;
	CHECK("timer_settime", timer_settime(timer, 0, &its, NULL));
	CHECK("sigwaitinfo", sigwaitinfo(&set, &info));
	SHOW("timer signal: code=%d value=%d overrun=%d", info.si_code, info.si_value.sival_int, info.si_overrun);
	CHECK("timer_getoverrun", timer_getoverrun(timer));
	CHECK("timer_gettime", timer_gettime(timer, &cur));
	SHOW("expired: value=%ld.%09ld interval=%ld.%09ld", (long)cur.it_value.tv_sec, cur.it_value.tv_nsec,
	     (long)cur.it_interval.tv_sec, cur.it_interval.tv_nsec);

	/* Armed far ahead with an interval: what gettime and the old value say. */
	struct itimerspec far = {{2, 500}, {100, 0}}, prev;
	CHECK("timer_settime far", timer_settime(timer, 0, &far, NULL));
	timer_gettime(timer, &cur);
	SHOW("far: value in (99,100]=%d interval=%ld.%09ld", cur.it_value.tv_sec >= 99 && cur.it_value.tv_sec <= 100,
	     (long)cur.it_interval.tv_sec, cur.it_interval.tv_nsec);
	struct itimerspec off = {{0, 0}, {0, 0}};
	CHECK("timer_settime disarm", timer_settime(timer, 0, &off, &prev));
	SHOW("old interval=%ld.%09ld", (long)prev.it_interval.tv_sec, prev.it_interval.tv_nsec);
	timer_gettime(timer, &cur);
	SHOW("disarmed: value=%ld interval=%ld", (long)cur.it_value.tv_sec + cur.it_value.tv_nsec,
	     (long)cur.it_interval.tv_sec + cur.it_interval.tv_nsec);

	/* Absolute, in the past: fires at once. */
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	timer_t real;
	sev.sigev_signo = SIGUSR2;
	sev.sigev_value.sival_int = 55;
	CHECK("timer_create realtime", timer_create(CLOCK_REALTIME, &sev, &real));
	struct itimerspec past = {{0, 0}, {now.tv_sec - 1, now.tv_nsec}};
	CHECK("timer_settime absolute", timer_settime(real, TIMER_ABSTIME, &past, NULL));
	sigwaitinfo(&set, &info);
	SHOW("absolute: signo=%d code=%d value=%d", info.si_signo == SIGUSR2, info.si_code, info.si_value.sival_int);
	CHECK("timer_delete", timer_delete(real));

	/* An interval timer: three signals, then disarmed. */
	struct itimerspec every = {{0, 50000000}, {0, 50000000}}; /* slow enough for emulated kernels */
	timer_settime(timer, 0, &every, NULL);
	int got = 0;
	for (int i = 0; i < 3; i++)
		got += sigwaitinfo(&set, &info) == SIGUSR1 && info.si_code == SI_TIMER;
	timer_settime(timer, 0, &off, NULL);
	struct timespec zero = {0, 0};
	while (sigtimedwait(&set, &info, &zero) > 0)
		;
	SHOW("interval signals=%d", got);
	CHECK("timer_delete", timer_delete(timer));
	CHECK("timer_delete again", syscall(SYS_timer_delete, (long)(intptr_t)timer));

	/* SIGEV_NONE: nothing is sent, the time still runs. */
	sev.sigev_notify = SIGEV_NONE;
	CHECK("timer_create none", timer_create(CLOCK_BOOTTIME, &sev, &timer));
	struct itimerspec soon = {{0, 0}, {0, 1000000}};
	timer_settime(timer, 0, &soon, NULL);
	struct timespec pause = {0, 5000000};
	do
		timer_gettime(timer, &cur);
	while ((cur.it_value.tv_sec || cur.it_value.tv_nsec) && nanosleep(&pause, NULL) == 0);
	SHOW("none expired: value=%ld pending=%d", (long)cur.it_value.tv_nsec, sigtimedwait(&set, &info, &zero) > 0);
	timer_delete(timer);

	/* SIGEV_THREAD_ID: to one thread, which waits for it. */
	struct waiter w = {.ready = 0};
	sigemptyset(&w.set);
	sigaddset(&w.set, SIGALRM);
	pthread_t t;
	pthread_create(&t, NULL, timer_waiter, &w);
	while (!w.ready)
		sched_yield();
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGALRM;
	sev.sigev_value.sival_int = 9;
	sev.sigev_notify_thread_id = w.tid;
	CHECK("timer_create thread id", timer_create(CLOCK_MONOTONIC, &sev, &timer));
	if (timer_settime(timer, 0, &soon, NULL) < 0)
		pthread_kill(t, SIGALRM); /* never hang: the output says what failed */
	pthread_join(t, NULL);
	SHOW("thread got: signo=%d code=%d value=%d", w.info.si_signo == SIGALRM, w.info.si_code,
	     w.info.si_value.sival_int);
	timer_delete(timer);

	/* SIGEV_THREAD: the C library runs the function in a thread of its own. */
	sem_init(&fired, 0, 0);
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD;
	sev.sigev_notify_function = on_timer_thread;
	sev.sigev_value.sival_int = 31;
	CHECK("timer_create thread", timer_create(CLOCK_MONOTONIC, &sev, &timer));
	if (timer_settime(timer, 0, &soon, NULL) < 0)
		sem_post(&fired);
	while (sem_wait(&fired) < 0 && errno == EINTR)
		;
	SHOW("thread notified=%d", thread_notified);
	timer_delete(timer);

	/* CPU time: the timer fires once the process has used 20 ms. */
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGUSR1;
	CHECK("timer_create cputime", timer_create(CLOCK_PROCESS_CPUTIME_ID, &sev, &timer));
	struct itimerspec cpu = {{0, 0}, {0, 20000000}};
	if (timer_settime(timer, 0, &cpu, NULL) < 0)
		return;
	sigset_t pending;
	volatile unsigned long spin = 0;
	do {
		for (int i = 0; i < 100000; i++)
			spin++;
		sigpending(&pending);
	} while (!sigismember(&pending, SIGUSR1));
	sigwaitinfo(&set, &info);
	SHOW("cpu timer: code=%d", info.si_code);
	timer_delete(timer);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && strcmp(argv[1], "--sigpipe") == 0) { /* SIGPIPE's default action ends the app */
		int p[2];
		pipe(p);
		close(p[0]);
		write(p[1], "x", 1);
		printf("still alive\n");
		return 0;
	}
	pipe_basics();
	pipe_broken();
	pipe_threads();
	pipe_multiplexing();
	eventfd_tests();
	signalfd_tests();
	timer_tests();
	return checks_done();
}
