/* Signals as programs use them: handlers with and without SA_SIGINFO (si_signo, si_code, si_pid,
 * si_value), masks and pending sets, sigwaitinfo/sigtimedwait, real-time signals queued in order,
 * SA_RESETHAND, SA_NODEFER, sa_mask, handlers that change the interrupted context (uc_mcontext,
 * uc_sigmask), faults delivered to handlers (SIGSEGV with si_addr and si_code, fixed and retried or
 * left with siglongjmp; SIGFPE, SIGILL, SIGTRAP, SIGBUS), stack overflow caught on an alternate
 * stack, SA_RESTART against EINTR (recv, nanosleep, pause), alarm and interval timers, tgkill to
 * another thread and process signals reaching the thread that does not block them, FPU state kept
 * across handlers, SIGPIPE ignored or handled; and timerfd (read, poll, epoll, intervals). One line per
 * check; the same on any Linux.
 *
 * `signals --die=NAME` instead ends the program the way NAME says (default actions): sigpipe (a write
 * to a closed connection), term (raise SIGTERM), abort, segv (an unhandled fault). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

static int failures;

static void check(int ok, const char *what)
{
	printf("%s: %s\n", ok ? "ok" : "FAIL", what);
	if (!ok)
		failures++;
}

static pid_t gettid_raw(void) { return (pid_t)syscall(SYS_gettid); }

static void set_handler(int sig, void (*fn)(int, siginfo_t *, void *), int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = fn;
	sa.sa_flags = SA_SIGINFO | flags;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

static void set_default(int sig) { signal(sig, SIG_DFL); }

static sigset_t current_mask(void)
{
	sigset_t m;
	sigprocmask(SIG_BLOCK, NULL, &m);
	return m;
}

static long elapsed_ms(const struct timespec *since)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

/* ---- handlers and siginfo ---- */

static volatile sig_atomic_t hits, last_sig, last_code, last_value, in_handler_tid;
static volatile pid_t last_pid;
static volatile int order[8], order_count;

static void record(int sig, siginfo_t *info, void *uc)
{
	hits++;
	last_sig = sig;
	last_code = info->si_code;
	last_pid = info->si_pid;
	last_value = info->si_value.sival_int;
	in_handler_tid = gettid_raw();
	if (order_count < 8)
		order[order_count++] = info->si_value.sival_int;
}

static int plain_hits;
static void plain(int sig) { plain_hits += sig; }

static void test_basics(void)
{
	set_handler(SIGUSR1, record, 0);
	hits = 0;
	kill(getpid(), SIGUSR1);
	check(hits == 1 && last_sig == SIGUSR1, "kill(getpid()) runs the SA_SIGINFO handler once");
	check(last_code == SI_USER && last_pid == getpid(), "si_code SI_USER and si_pid for kill");
	raise(SIGUSR1);
	check(hits == 2 && last_code == SI_TKILL, "raise is tgkill: si_code SI_TKILL");
	union sigval v = {.sival_int = 1234};
	sigqueue(getpid(), SIGUSR1, v);
	check(hits == 3 && last_code == SI_QUEUE && last_value == 1234, "sigqueue carries si_value, si_code SI_QUEUE");
	signal(SIGUSR2, plain);
	raise(SIGUSR2);
	check(plain_hits == SIGUSR2, "a plain handler gets the signal number");
	check(kill(getpid(), 0) == 0 && kill(999999, 0) == -1 && errno == ESRCH, "kill(pid, 0) probes: ours yes, others ESRCH");
	check(kill(getpid(), 99) == -1 && errno == EINVAL, "kill with a bad signal number is EINVAL");
	struct sigaction old;
	check(sigaction(SIGKILL, &(struct sigaction){.sa_handler = plain}, NULL) == -1 && errno == EINVAL,
	      "SIGKILL cannot be caught");
	sigaction(SIGUSR1, NULL, &old);
	check(old.sa_sigaction == record && (old.sa_flags & SA_SIGINFO), "sigaction reports the installed action");
	signal(SIGCHLD, SIG_DFL);
	raise(SIGCHLD);
	raise(SIGURG);
	check(1, "SIGCHLD and SIGURG are ignored by default");
}

/* ---- masks, pending, sigwait ---- */

static void test_masks(void)
{
	set_handler(SIGUSR1, record, 0);
	hits = 0;
	sigset_t block, old, pending;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &old);
	raise(SIGUSR1);
	raise(SIGUSR1);
	sigpending(&pending);
	check(hits == 0 && sigismember(&pending, SIGUSR1), "a blocked signal stays pending");
	sigprocmask(SIG_SETMASK, &old, NULL);
	check(hits == 1, "unblocking delivers it, once for two sends (standard signals merge)");
	sigpending(&pending);
	check(!sigismember(&pending, SIGUSR1), "and it is no longer pending");

	sigset_t mask = current_mask();
	check(!sigismember(&mask, SIGKILL), "SIGKILL is never blocked");
	sigfillset(&block);
	sigprocmask(SIG_SETMASK, &block, &old);
	mask = current_mask();
	check(!sigismember(&mask, SIGKILL) && !sigismember(&mask, SIGSTOP) && sigismember(&mask, SIGTERM),
	      "blocking everything leaves SIGKILL and SIGSTOP out");
	sigprocmask(SIG_SETMASK, &old, NULL);

	/* sigwaitinfo takes a blocked signal without running the handler */
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	sigprocmask(SIG_BLOCK, &block, &old);
	plain_hits = 0;
	raise(SIGUSR2);
	siginfo_t info;
	int sig = sigwaitinfo(&block, &info);
	/* (glibc's sigwaitinfo folds the kernel's SI_TKILL into SI_USER; musl's does not) */
	check(sig == SIGUSR2 && (info.si_code == SI_TKILL || info.si_code == SI_USER) && plain_hits == 0,
	      "sigwaitinfo takes it, no handler runs");
	struct timespec ts = {0, 10 * 1000000};
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	check(sigtimedwait(&block, &info, &ts) == -1 && errno == EAGAIN && elapsed_ms(&start) >= 9,
	      "sigtimedwait with nothing pending times out with EAGAIN");
	sigprocmask(SIG_SETMASK, &old, NULL);

	/* real-time signals queue, in order */
	set_handler(SIGRTMIN, record, 0);
	sigemptyset(&block);
	sigaddset(&block, SIGRTMIN);
	sigprocmask(SIG_BLOCK, &block, &old);
	hits = 0;
	order_count = 0;
	for (int i = 1; i <= 3; i++)
		sigqueue(getpid(), SIGRTMIN, (union sigval){.sival_int = i * 11});
	sigprocmask(SIG_SETMASK, &old, NULL);
	check(hits == 3 && order_count == 3 && order[0] == 11 && order[1] == 22 && order[2] == 33,
	      "three queued SIGRTMIN arrive three times, in order");
}

/* ---- handler flags ---- */

static volatile int depth, max_depth, nested_seen;

static void nodefer(int sig, siginfo_t *info, void *uc)
{
	depth++;
	if (depth > max_depth)
		max_depth = depth;
	if (depth == 1)
		raise(sig); /* with SA_NODEFER: runs nested, right now */
	depth--;
}

static void deferred(int sig, siginfo_t *info, void *uc)
{
	depth++;
	if (depth > max_depth)
		max_depth = depth;
	if (nested_seen++ == 0)
		raise(sig); /* blocked while we run: comes after we return */
	depth--;
}

static volatile int mask_ok;
static void check_mask(int sig, siginfo_t *info, void *uc)
{
	sigset_t m = current_mask();
	mask_ok = sigismember(&m, SIGUSR1) && sigismember(&m, SIGUSR2) && !sigismember(&m, SIGTERM);
}

static void test_flags(void)
{
	set_handler(SIGUSR1, record, SA_RESETHAND);
	hits = 0;
	raise(SIGUSR1);
	struct sigaction now;
	sigaction(SIGUSR1, NULL, &now);
	check(hits == 1 && now.sa_handler == SIG_DFL, "SA_RESETHAND: the action is back to SIG_DFL after one delivery");

	depth = max_depth = 0;
	set_handler(SIGUSR1, nodefer, SA_NODEFER);
	raise(SIGUSR1);
	check(max_depth == 2, "SA_NODEFER: the signal interrupts its own handler");
	depth = max_depth = nested_seen = 0;
	set_handler(SIGUSR1, deferred, 0);
	raise(SIGUSR1);
	check(max_depth == 1 && nested_seen == 2, "without it the second one waits for the handler to return");

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = check_mask;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR2);
	sigaction(SIGUSR1, &sa, NULL);
	raise(SIGUSR1);
	sigset_t after = current_mask();
	check(mask_ok && !sigismember(&after, SIGUSR1) && !sigismember(&after, SIGUSR2),
	      "sa_mask and the signal itself are blocked during the handler, and not after");
	set_default(SIGUSR1);
}

/* ---- the interrupted context ---- */

static void skip_ud2(int sig, siginfo_t *info, void *ctx)
{
	ucontext_t *uc = ctx;
	last_code = info->si_code;
	last_value = (char *)info->si_addr == (char *)uc->uc_mcontext.gregs[REG_RIP];
	uc->uc_mcontext.gregs[REG_RIP] += 2; /* past ud2 */
	uc->uc_mcontext.gregs[REG_RAX] = 42;
	sigaddset(&uc->uc_sigmask, SIGUSR2); /* blocked once we return */
}

static void test_context(void)
{
	set_handler(SIGILL, skip_ud2, 0);
	long out;
	__asm__ volatile("mov $7, %%rax\n\tud2\n\tmov %%rax, %0" : "=r"(out)::"rax");
	check(out == 42, "a handler edits RIP and RAX in uc_mcontext: ud2 skipped, RAX changed");
	check(last_code == ILL_ILLOPN && last_value == 1, "SIGILL: si_code ILL_ILLOPN, si_addr the instruction");
	sigset_t m = current_mask();
	check(sigismember(&m, SIGUSR2), "uc_sigmask edited by the handler is the mask after it");
	sigprocmask(SIG_UNBLOCK, &(sigset_t){0}, NULL);
	sigemptyset(&m);
	sigprocmask(SIG_SETMASK, &m, NULL);
	set_default(SIGILL);
}

/* ---- faults ---- */

static sigjmp_buf jump;
static volatile uintptr_t fault_addr;
static volatile int fault_code, fault_sig;

static void escape(int sig, siginfo_t *info, void *uc)
{
	fault_sig = sig;
	fault_addr = (uintptr_t)info->si_addr;
	fault_code = info->si_code;
	siglongjmp(jump, 1);
}

static char *readonly_page;
static void make_writable(int sig, siginfo_t *info, void *uc)
{
	fault_addr = (uintptr_t)info->si_addr;
	fault_code = info->si_code;
	mprotect(readonly_page, 4096, PROT_READ | PROT_WRITE); /* and the write is retried */
}

static volatile int trap_hits;
static void on_trap(int sig, siginfo_t *info, void *uc)
{
	trap_hits++;
	fault_code = info->si_code;
}

static volatile int quotient;
static void divide(volatile int a, volatile int b) { quotient = a / b; }

static void test_faults(void)
{
	set_handler(SIGSEGV, escape, 0);
	fault_sig = 0;
	if (sigsetjmp(jump, 1) == 0)
		*(volatile int *)0 = 1;
	check(fault_sig == SIGSEGV && fault_addr == 0 && fault_code == SEGV_MAPERR,
	      "a NULL write: SIGSEGV, si_addr 0, SEGV_MAPERR, left with siglongjmp");
	sigset_t m = current_mask();
	check(!sigismember(&m, SIGSEGV), "siglongjmp out of the handler restored the mask");

	readonly_page = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	set_handler(SIGSEGV, make_writable, 0);
	*(volatile char *)&readonly_page[100] = 5;
	check(*(volatile char *)&readonly_page[100] == 5 && fault_addr == (uintptr_t)readonly_page + 100 && fault_code == SEGV_ACCERR,
	      "a write to a read-only page: SEGV_ACCERR at the address; the handler fixes it and the write is retried");
	munmap(readonly_page, 4096);

	set_handler(SIGFPE, escape, 0);
	fault_sig = 0;
	if (sigsetjmp(jump, 1) == 0)
		divide(1, 0);
	check(fault_sig == SIGFPE && fault_code == FPE_INTDIV, "integer division by zero: SIGFPE, FPE_INTDIV");

	set_handler(SIGTRAP, on_trap, 0);
	__asm__ volatile("int3");
	check(trap_hits == 1 && fault_code == SI_KERNEL, "int3: SIGTRAP (SI_KERNEL), execution goes on after it");

	char path[] = "/tmp/sigbus-XXXXXX";
	int fd = mkstemp(path);
	if (write(fd, "x", 1) != 1)
		perror("write");
	char *map = mmap(NULL, 3 * 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	set_handler(SIGBUS, escape, 0);
	fault_sig = 0;
	volatile char c = 0;
	if (sigsetjmp(jump, 1) == 0)
		c = map[2 * 4096];
	(void)c;
	check(fault_sig == SIGBUS && fault_code == BUS_ADRERR && fault_addr == (uintptr_t)map + 2 * 4096,
	      "reading a mapped page past the end of the file: SIGBUS, BUS_ADRERR, si_addr");
	munmap(map, 3 * 4096);
	close(fd);
	unlink(path);
	set_default(SIGSEGV);
	set_default(SIGFPE);
	set_default(SIGBUS);
	set_default(SIGTRAP);
}

/* ---- alternate stack: a stack overflow caught ---- */

static char *alt_base;
static volatile int on_alt, alt_flags_seen;

static void overflow_handler(int sig, siginfo_t *info, void *uc)
{
	char here;
	on_alt = &here > alt_base && &here < alt_base + 65536;
	stack_t now;
	sigaltstack(NULL, &now);
	alt_flags_seen = now.ss_flags;
	siglongjmp(jump, 1);
}

static int recurse(int n)
{
	volatile char pad[512];
	pad[0] = (char)n;
	return recurse(n + 1) + pad[0];
}

static void *overflow_thread(void *arg)
{
	alt_base = malloc(65536);
	stack_t ss = {.ss_sp = alt_base, .ss_size = 65536, .ss_flags = 0};
	sigaltstack(&ss, NULL);
	set_handler(SIGSEGV, overflow_handler, SA_ONSTACK);
	if (sigsetjmp(jump, 1) == 0)
		recurse(0);
	stack_t after;
	sigaltstack(NULL, &after);
	return (void *)(intptr_t)(after.ss_flags == 0 && after.ss_sp == alt_base);
}

static void test_altstack(void)
{
	stack_t none;
	sigaltstack(NULL, &none);
	check(none.ss_flags == SS_DISABLE, "no alternate stack at first");
	stack_t tiny = {.ss_sp = malloc(256), .ss_size = 256, .ss_flags = 0};
	check(sigaltstack(&tiny, NULL) == -1 && errno == ENOMEM, "an alternate stack below MINSIGSTKSZ is ENOMEM");
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 128 * 1024);
	pthread_t t;
	void *r;
	pthread_create(&t, &attr, overflow_thread, NULL);
	pthread_join(t, &r);
	check(on_alt && (alt_flags_seen & SS_ONSTACK), "a thread's stack overflow is caught on its alternate stack (SS_ONSTACK)");
	check((intptr_t)r == 1, "the alternate stack is still set up after siglongjmp out of it");
	set_default(SIGSEGV);
}

/* ---- EINTR and SA_RESTART ---- */

struct kick {
	pthread_t target;
	int sig, port;
	int send_after_ms;  /* then send a datagram to port (0: none) */
	volatile int done;  /* set by the target once its call returned: no more signals */
};

/* Signals the target every 20 ms until its call returns (a signal that comes before the call
 * blocks is handled and the next one interrupts it), or once, followed by a datagram. */
static void *kicker(void *arg)
{
	struct kick *k = arg;
	for (int i = 0; i < 250 && !k->done; i++) {
		usleep(20000);
		if (!k->done)
			pthread_kill(k->target, k->sig);
		if (k->send_after_ms)
			break;
	}
	if (k->send_after_ms) {
		usleep(k->send_after_ms * 1000);
		int s = socket(AF_INET, SOCK_DGRAM, 0);
		struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(k->port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		sendto(s, "hi", 2, 0, (struct sockaddr *)&to, sizeof(to));
		close(s);
	}
	return NULL;
}

static int udp_socket(int *port)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	bind(s, (struct sockaddr *)&a, sizeof(a));
	socklen_t len = sizeof(a);
	getsockname(s, (struct sockaddr *)&a, &len);
	*port = ntohs(a.sin_port);
	return s;
}

static void test_restart(void)
{
	int port, s = udp_socket(&port);
	char buf[8];
	pthread_t t;
	struct kick k = {pthread_self(), SIGUSR1, port, 0, 0};

	set_handler(SIGUSR1, record, 0); /* no SA_RESTART */
	hits = 0;
	pthread_create(&t, NULL, kicker, &k);
	ssize_t n = recv(s, buf, sizeof(buf), 0);
	int err = errno;
	k.done = 1;
	pthread_join(t, NULL);
	check(n == -1 && err == EINTR && hits >= 1, "a blocking recv interrupted by a handler without SA_RESTART: EINTR");

	set_handler(SIGUSR1, record, SA_RESTART);
	k = (struct kick){pthread_self(), SIGUSR1, port, 30, 0};
	int before = hits;
	pthread_create(&t, NULL, kicker, &k);
	n = recv(s, buf, sizeof(buf), 0);
	pthread_join(t, NULL);
	check(n == 2 && hits == before + 1, "with SA_RESTART the recv goes on and gets the datagram sent after the signal");
	close(s);

	k = (struct kick){pthread_self(), SIGUSR1, port, 0, 0};
	pthread_create(&t, NULL, kicker, &k);
	struct timespec req = {5, 0}, rem = {0, 0};
	int r = nanosleep(&req, &rem);
	err = errno;
	k.done = 1;
	pthread_join(t, NULL);
	check(r == -1 && err == EINTR && rem.tv_sec >= 3 && rem.tv_sec <= 5,
	      "nanosleep is never restarted: EINTR even with SA_RESTART, with the time left");

	k = (struct kick){pthread_self(), SIGUSR1, port, 0, 0};
	before = hits;
	pthread_create(&t, NULL, kicker, &k);
	r = pause();
	err = errno;
	k.done = 1;
	pthread_join(t, NULL);
	check(r == -1 && err == EINTR && hits > before, "pause returns EINTR after the handler");

	sigset_t block, old, wait_mask;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &old);
	k = (struct kick){pthread_self(), SIGUSR1, port, 0, 0};
	before = hits;
	pthread_create(&t, NULL, kicker, &k);
	sigemptyset(&wait_mask);
	r = sigsuspend(&wait_mask);
	err = errno;
	k.done = 1;
	pthread_join(t, NULL);
	sigset_t m = current_mask();
	check(r == -1 && err == EINTR && hits == before + 1 && sigismember(&m, SIGUSR1),
	      "sigsuspend: the handler runs inside it, the old mask comes back");
	sigprocmask(SIG_SETMASK, &old, NULL);
	set_default(SIGUSR1);
}

/* ---- timers ---- */

static volatile int alarms;
static void on_alarm(int sig, siginfo_t *info, void *uc) { alarms++; }

static void test_timers(void)
{
	check(alarm(5) == 0, "alarm(5) with none pending returns 0");
	check(alarm(0) == 5, "alarm(0) cancels it and returns the 5 s left");
	set_handler(SIGALRM, on_alarm, 0);
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	struct itimerval it = {{0, 0}, {0, 30000}};
	setitimer(ITIMER_REAL, &it, NULL);
	int r = -1, err = EINTR;
	while (!alarms) { /* (it may come before pause if this thread is kept from running 30 ms) */
		r = pause();
		err = errno;
	}
	check(r == -1 && err == EINTR && alarms == 1 && elapsed_ms(&start) >= 29, "a 30 ms ITIMER_REAL sends SIGALRM and ends pause");
	struct itimerval periodic = {{0, 10000}, {0, 10000}}, got;
	alarms = 0;
	setitimer(ITIMER_REAL, &periodic, NULL);
	getitimer(ITIMER_REAL, &got);
	check(got.it_interval.tv_usec == 10000 && got.it_value.tv_usec <= 10000, "getitimer reports the interval and what is left");
	while (alarms < 3)
		pause();
	setitimer(ITIMER_REAL, &(struct itimerval){{0, 0}, {0, 0}}, NULL);
	getitimer(ITIMER_REAL, &got);
	check(alarms >= 3 && got.it_value.tv_sec == 0 && got.it_value.tv_usec == 0, "a periodic timer fires again and again until disarmed");

	/* CPU time: SIGPROF after 20 ms of computing */
	alarms = 0;
	set_handler(SIGPROF, on_alarm, 0);
	struct itimerval prof = {{0, 0}, {0, 20000}};
	setitimer(ITIMER_PROF, &prof, NULL);
	volatile unsigned long spin = 0;
	while (!alarms)
		spin++;
	check(alarms == 1, "ITIMER_PROF sends SIGPROF once the process used its CPU time");
	set_default(SIGALRM);
	set_default(SIGPROF);
}

/* ---- timerfd ---- */

static void test_timerfd(void)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	uint64_t n = 0;
	check(fd >= 0 && read(fd, &n, 8) == -1 && errno == EAGAIN, "a new timerfd has nothing to read (EAGAIN)");
	check(read(fd, &n, 4) == -1 && errno == EINVAL, "a read of less than 8 bytes is EINVAL");
	struct itimerspec its = {{0, 10000000}, {0, 20000000}}, cur;
	check(timerfd_settime(fd, 0, &its, NULL) == 0, "timerfd_settime: 20 ms, then every 10 ms");
	timerfd_gettime(fd, &cur);
	check(cur.it_interval.tv_nsec == 10000000 && cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 &&
		  cur.it_value.tv_nsec <= 20000000,
	      "timerfd_gettime: the interval and the time left");
	struct pollfd p = {fd, POLLIN, 0};
	check(poll(&p, 1, 2000) == 1 && (p.revents & POLLIN), "poll wakes when it expires");
	check(read(fd, &n, 8) == 8 && n >= 1, "read returns the number of expirations");
	fcntl(fd, F_SETFL, 0);
	usleep(35000);
	check(read(fd, &n, 8) == 8 && n >= 2, "expirations add up while nobody reads");
	check(read(fd, &n, 8) == 8 && n >= 1, "a blocking read waits for the next one");
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 7}, out;
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	check(epoll_wait(ep, &out, 1, 2000) == 1 && out.data.u32 == 7, "epoll_wait wakes for it");
	memset(&its, 0, sizeof(its));
	timerfd_settime(fd, 0, &its, NULL);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	timerfd_gettime(fd, &cur);
	check(read(fd, &n, 8) == -1 && errno == EAGAIN && cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0,
	      "disarmed: nothing to read, nothing left");
	close(ep);
	close(fd);

	int rt = timerfd_create(CLOCK_REALTIME, 0);
	struct timespec when, start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	clock_gettime(CLOCK_REALTIME, &when);
	when.tv_nsec += 15000000;
	if (when.tv_nsec >= 1000000000) {
		when.tv_sec++;
		when.tv_nsec -= 1000000000;
	}
	its = (struct itimerspec){{0, 0}, when};
	timerfd_settime(rt, TFD_TIMER_ABSTIME, &its, NULL);
	check(read(rt, &n, 8) == 8 && n == 1 && elapsed_ms(&start) >= 14, "an absolute CLOCK_REALTIME deadline, read blocking");
	close(rt);
	check(timerfd_create(99, 0) == -1 && errno == EINVAL, "an unknown clock is EINVAL");
}

/* ---- threads ---- */

static volatile pid_t handled_by;
static void who(int sig, siginfo_t *info, void *uc) { handled_by = gettid_raw(); }

static volatile int thread_ready, thread_done;
static volatile pid_t thread_tid;

static void *waits_for_signal(void *arg)
{
	thread_tid = gettid_raw();
	sigset_t none;
	sigemptyset(&none);
	pthread_sigmask(SIG_SETMASK, &none, NULL);
	thread_ready = 1;
	while (!handled_by)
		pause();
	thread_done = 1;
	return NULL;
}

static void test_threads(void)
{
	set_handler(SIGUSR2, who, 0);
	handled_by = 0;
	thread_ready = 0;
	pthread_t t;
	pthread_create(&t, NULL, waits_for_signal, NULL);
	while (!thread_ready)
		usleep(1000);
	pthread_kill(t, SIGUSR2);
	pthread_join(t, NULL);
	check(handled_by == thread_tid && handled_by != getpid(), "pthread_kill runs the handler in the target thread");

	/* a process signal goes to a thread that does not block it */
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	handled_by = 0;
	thread_ready = 0;
	pthread_create(&t, NULL, waits_for_signal, NULL);
	while (!thread_ready)
		usleep(1000);
	kill(getpid(), SIGUSR2);
	pthread_join(t, NULL);
	check(handled_by == thread_tid, "kill(getpid()) is handled by the one thread not blocking it");
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	check(syscall(SYS_tgkill, getpid(), 999999, SIGUSR2) == -1 && errno == ESRCH, "tgkill of a thread that is not there: ESRCH");
	set_default(SIGUSR2);
}

/* ---- FPU across handlers ---- */

static volatile double handler_result;
static void float_work(int sig, siginfo_t *info, void *uc)
{
	double x = 1.0;
	for (int i = 0; i < 50; i++)
		x = x * 1.5 + 0.25;
	handler_result = x;
	alarms++;
}

static void test_fpu(void)
{
	set_handler(SIGALRM, float_work, 0);
	alarms = 0;
	/* (not much faster: where kernel code is emulated a delivery takes milliseconds) */
	struct itimerval periodic = {{0, 15000}, {0, 15000}};
	setitimer(ITIMER_REAL, &periodic, NULL);
	double acc = 0, want = 0;
	int rounds = 0;
	while (alarms < 3 && rounds < 1000000) {
		for (int i = 1; i <= 1000; i++)
			acc += 1.0 / i;
		rounds++;
	}
	setitimer(ITIMER_REAL, &(struct itimerval){{0, 0}, {0, 0}}, NULL);
	for (int r = 0; r < rounds; r++)
		for (int i = 1; i <= 1000; i++)
			want += 1.0 / i;
	check(alarms >= 3 && acc == want, "floating-point work is exact while handlers using the FPU interrupt it");
	set_default(SIGALRM);
}

/* ---- SIGPIPE ---- */

static int connected_pair(int *client)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	bind(l, (struct sockaddr *)&a, sizeof(a));
	listen(l, 1);
	socklen_t len = sizeof(a);
	getsockname(l, (struct sockaddr *)&a, &len);
	*client = socket(AF_INET, SOCK_STREAM, 0);
	connect(*client, (struct sockaddr *)&a, sizeof(a));
	int server = accept(l, NULL, NULL);
	close(l);
	return server;
}

/* A write to a connection the peer closed: the first may still go out, a later one fails. */
static ssize_t write_to_closed(void)
{
	int c, s = connected_pair(&c);
	close(s);
	usleep(20000);
	ssize_t r = 0;
	for (int i = 0; i < 5 && r >= 0; i++) {
		r = write(c, "data", 4);
		usleep(10000);
	}
	int err = errno;
	close(c);
	errno = err;
	return r;
}

static volatile int pipes;
static void on_pipe(int sig, siginfo_t *info, void *uc) { pipes++; }

static void test_sigpipe(void)
{
	signal(SIGPIPE, SIG_IGN);
	ssize_t r = write_to_closed();
	check(r == -1 && errno == EPIPE, "SIGPIPE ignored: the write fails with EPIPE");
	set_handler(SIGPIPE, on_pipe, 0);
	r = write_to_closed();
	check(r == -1 && errno == EPIPE && pipes == 1, "SIGPIPE handled: the handler runs and the write fails with EPIPE");
	set_default(SIGPIPE);
}

static int die(const char *how)
{
	if (strcmp(how, "sigpipe") == 0) {
		write_to_closed();
		printf("not reached\n");
	} else if (strcmp(how, "term") == 0) {
		raise(SIGTERM);
	} else if (strcmp(how, "abort") == 0) {
		abort();
	} else if (strcmp(how, "segv") == 0) {
		*(volatile int *)8 = 1;
	}
	printf("still alive\n");
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && strncmp(argv[1], "--die=", 6) == 0)
		return die(argv[1] + 6);
	test_basics();
	test_masks();
	test_flags();
	test_context();
	test_faults();
	test_altstack();
	test_restart();
	test_timers();
	test_timerfd();
	test_threads();
	test_fpu();
	test_sigpipe();
	printf("%s\n", failures ? "SOME CHECKS FAILED" : "all signal checks passed");
	return failures ? 1 : 0;
}
