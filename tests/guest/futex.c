/* The futex syscall called directly, as libcs and runtimes use it: WAIT (value check, relative
 * timeouts), WAKE counts, WAIT_BITSET/WAKE_BITSET with absolute CLOCK_MONOTONIC and CLOCK_REALTIME
 * timeouts, REQUEUE and CMP_REQUEUE, WAKE_OP, private and shared, errors (EAGAIN, ETIMEDOUT, EINVAL,
 * EFAULT, ENOSYS), a wait interrupted by a signal (EINTR, or restarted under SA_RESTART), PI locks
 * (LOCK_PI, TRYLOCK_PI, UNLOCK_PI, EDEADLK, EPERM), robust lists (FUTEX_OWNER_DIED at thread exit,
 * pthread robust mutexes), and CLONE_CHILD_CLEARTID waking a joiner. One line per check. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* <linux/futex.h>, which musl's toolchain does not have */
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_REQUEUE 3
#define FUTEX_CMP_REQUEUE 4
#define FUTEX_WAKE_OP 5
#define FUTEX_LOCK_PI 6
#define FUTEX_UNLOCK_PI 7
#define FUTEX_TRYLOCK_PI 8
#define FUTEX_WAIT_BITSET 9
#define FUTEX_WAKE_BITSET 10
#define FUTEX_PRIVATE_FLAG 128
#define FUTEX_CLOCK_REALTIME 256
#define FUTEX_WAIT_PRIVATE (FUTEX_WAIT | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAKE_PRIVATE (FUTEX_WAKE | FUTEX_PRIVATE_FLAG)
#define FUTEX_REQUEUE_PRIVATE (FUTEX_REQUEUE | FUTEX_PRIVATE_FLAG)
#define FUTEX_CMP_REQUEUE_PRIVATE (FUTEX_CMP_REQUEUE | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAKE_OP_PRIVATE (FUTEX_WAKE_OP | FUTEX_PRIVATE_FLAG)
#define FUTEX_LOCK_PI_PRIVATE (FUTEX_LOCK_PI | FUTEX_PRIVATE_FLAG)
#define FUTEX_UNLOCK_PI_PRIVATE (FUTEX_UNLOCK_PI | FUTEX_PRIVATE_FLAG)
#define FUTEX_TRYLOCK_PI_PRIVATE (FUTEX_TRYLOCK_PI | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAIT_BITSET_PRIVATE (FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAKE_BITSET_PRIVATE (FUTEX_WAKE_BITSET | FUTEX_PRIVATE_FLAG)
#define FUTEX_BITSET_MATCH_ANY 0xffffffffU
#define FUTEX_WAITERS 0x80000000U
#define FUTEX_OWNER_DIED 0x40000000U
#define FUTEX_TID_MASK 0x3fffffffU
#define FUTEX_OP_SET 0
#define FUTEX_OP_ADD 1
#define FUTEX_OP_OR 2
#define FUTEX_OP_OPARG_SHIFT 8
#define FUTEX_OP_CMP_EQ 0
#define FUTEX_OP_CMP_GT 4
#define FUTEX_OP(op, oparg, cmp, cmparg) \
	((((op) & 0xf) << 28) | (((cmp) & 0xf) << 24) | (((oparg) & 0xfff) << 12) | ((cmparg) & 0xfff))

struct robust_list {
	struct robust_list *next;
};

struct robust_list_head {
	struct robust_list list;
	long futex_offset;
	struct robust_list *list_op_pending;
};

static int failures;

static void check(int ok, const char *what)
{
	printf("%s: %s\n", ok ? "ok" : "FAIL", what);
	if (!ok)
		failures++;
}

static long futex(volatile uint32_t *addr, int op, uint32_t val, const struct timespec *ts, volatile uint32_t *addr2,
		  uint32_t val3)
{
	return syscall(SYS_futex, addr, op, val, ts, addr2, val3);
}

/* futex with the 4th argument as a number (val2 of REQUEUE, CMP_REQUEUE and WAKE_OP) */
static long futex2(volatile uint32_t *addr, int op, uint32_t val, uint32_t val2, volatile uint32_t *addr2, uint32_t val3)
{
	return syscall(SYS_futex, addr, op, val, (unsigned long)val2, addr2, val3);
}

static pid_t gettid_raw(void) { return (pid_t)syscall(SYS_gettid); }

static long ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static void sleep_ms(int ms) { usleep(ms * 1000); }

/* ---- waiters in threads ---- */

struct waiter {
	volatile uint32_t *addr;
	int op;
	uint32_t val, bitset;
	long result;
	int err;
	volatile int started, done;
};

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;
	w->started = 1;
	w->result = futex(w->addr, w->op, w->val, NULL, NULL, w->bitset);
	w->err = errno;
	w->done = 1;
	return NULL;
}

/* How many threads wait on addr: a requeue onto itself moves nobody and counts them. */
static long waiting_on(volatile uint32_t *addr) { return futex2(addr, FUTEX_REQUEUE_PRIVATE, 0, INT_MAX, addr, 0); }

/* Waits (up to 5 s) until n threads wait on addr in the kernel. */
static void until_waiting(volatile uint32_t *addr, long n)
{
	for (int i = 0; i < 5000 && waiting_on(addr) < n; i++)
		sleep_ms(1);
}

static void start_waiters(struct waiter *w, pthread_t *t, int n)
{
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, wait_thread, &w[i]);
	until_waiting(w[0].addr, n);
}

/* Waits (up to 5 s) until n of the waiters are done. */
static void until_done(struct waiter *w, int total, int n)
{
	for (int i = 0; i < 5000; i++) {
		int done = 0;
		for (int k = 0; k < total; k++)
			done += w[k].done;
		if (done >= n)
			return;
		sleep_ms(1);
	}
}

static int count_done(struct waiter *w, int n)
{
	int c = 0;
	for (int i = 0; i < n; i++)
		c += w[i].done;
	return c;
}

/* ---- basics ---- */

static void test_basics(void)
{
	static uint32_t word = 1;
	errno = 0;
	check(futex(&word, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0) == -1 && errno == EAGAIN,
	      "FUTEX_WAIT on a word that differs: EAGAIN");
	struct timespec t0, rel = {0, 30 * 1000000};
	clock_gettime(CLOCK_MONOTONIC, &t0);
	check(futex(&word, FUTEX_WAIT_PRIVATE, 1, &rel, NULL, 0) == -1 && errno == ETIMEDOUT && ms_since(&t0) >= 29,
	      "FUTEX_WAIT with a 30 ms relative timeout: ETIMEDOUT after 30 ms");
	struct timespec zero = {0, 0};
	check(futex(&word, FUTEX_WAIT_PRIVATE, 1, &zero, NULL, 0) == -1 && errno == ETIMEDOUT,
	      "a zero timeout: ETIMEDOUT at once");
	/* (t0 is read first: the deadline is at least 20 ms after it however long reading the clocks takes) */
	struct timespec abs;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	clock_gettime(CLOCK_MONOTONIC, &abs);
	abs.tv_nsec += 20 * 1000000;
	if (abs.tv_nsec >= 1000000000) {
		abs.tv_sec++;
		abs.tv_nsec -= 1000000000;
	}
	check(futex(&word, FUTEX_WAIT_BITSET_PRIVATE, 1, &abs, NULL, FUTEX_BITSET_MATCH_ANY) == -1 && errno == ETIMEDOUT &&
		  ms_since(&t0) >= 19,
	      "FUTEX_WAIT_BITSET with an absolute CLOCK_MONOTONIC deadline");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	clock_gettime(CLOCK_REALTIME, &abs);
	abs.tv_nsec += 20 * 1000000;
	if (abs.tv_nsec >= 1000000000) {
		abs.tv_sec++;
		abs.tv_nsec -= 1000000000;
	}
	check(futex(&word, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 1, &abs, NULL, FUTEX_BITSET_MATCH_ANY) == -1 &&
		  errno == ETIMEDOUT && ms_since(&t0) >= 19,
	      "... and with FUTEX_CLOCK_REALTIME");
	struct timespec past = {1, 0};
	check(futex(&word, FUTEX_WAIT_BITSET_PRIVATE, 1, &past, NULL, FUTEX_BITSET_MATCH_ANY) == -1 && errno == ETIMEDOUT,
	      "a deadline in the past: ETIMEDOUT");
	check(futex(&word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) == 0, "FUTEX_WAKE with nobody waiting wakes 0");
	check(futex(&word, FUTEX_WAIT_BITSET_PRIVATE, 1, NULL, NULL, 0) == -1 && errno == EINVAL,
	      "a zero bitset is EINVAL");
	check(futex((uint32_t *)((char *)&word + 1), FUTEX_WAIT_PRIVATE, 1, NULL, NULL, 0) == -1 && errno == EINVAL,
	      "an unaligned word is EINVAL");
	check(futex((uint32_t *)16, FUTEX_WAIT_PRIVATE, 1, NULL, NULL, 0) == -1 && errno == EFAULT,
	      "an unmapped word is EFAULT");
	struct timespec bad = {0, 2000000000};
	check(futex(&word, FUTEX_WAIT_PRIVATE, 1, &bad, NULL, 0) == -1 && errno == EINVAL,
	      "a timeout with tv_nsec out of range is EINVAL");
	check(futex(&word, 99, 1, NULL, NULL, 0) == -1 && errno == ENOSYS, "an unknown operation is ENOSYS");
	check(futex(&word, FUTEX_WAKE | FUTEX_CLOCK_REALTIME, 1, NULL, NULL, 0) == -1 && errno == ENOSYS,
	      "FUTEX_CLOCK_REALTIME on FUTEX_WAKE is ENOSYS");
}

/* ---- wake counts, bitsets, shared ---- */

static void test_wake(void)
{
	static uint32_t word;
	struct waiter w[3];
	pthread_t t[3];
	memset(w, 0, sizeof(w));
	for (int i = 0; i < 3; i++)
		w[i] = (struct waiter){&word, FUTEX_WAIT_PRIVATE, 0, 0, 0, 0, 0, 0};
	start_waiters(w, t, 3);
	check(waiting_on(&word) == 3, "a requeue of a word onto itself counts its waiters");
	long woken = futex(&word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	until_done(w, 3, 1);
	sleep_ms(10);
	check(woken == 1 && count_done(w, 3) == 1 && waiting_on(&word) == 2, "FUTEX_WAKE 1 of 3 waiters wakes exactly one");
	woken = futex(&word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	check(woken == 2 && w[0].result == 0 && w[1].result == 0 && w[2].result == 0, "FUTEX_WAKE INT_MAX wakes the other two; each wait returns 0");

	/* bitsets: waiters on 1, 2 and 4; a wake for 2|8 reaches only the second */
	for (int i = 0; i < 3; i++)
		w[i] = (struct waiter){&word, FUTEX_WAIT_BITSET_PRIVATE, 0, 1u << i, 0, 0, 0, 0};
	start_waiters(w, t, 3);
	woken = futex(&word, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, NULL, NULL, 2 | 8);
	until_done(w, 3, 1);
	sleep_ms(10);
	check(woken == 1 && w[1].done && !w[0].done && !w[2].done, "FUTEX_WAKE_BITSET wakes only waiters whose bitset meets it");
	woken = futex(&word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	check(woken == 2, "plain FUTEX_WAKE matches every bitset");

	/* shared (no PRIVATE flag) */
	w[0] = (struct waiter){&word, FUTEX_WAIT, 0, 0, 0, 0, 0, 0};
	start_waiters(w, t, 1);
	woken = futex(&word, FUTEX_WAKE, 1, NULL, NULL, 0);
	pthread_join(t[0], NULL);
	check(woken == 1 && w[0].result == 0, "shared futexes (no FUTEX_PRIVATE_FLAG) wait and wake the same");
}

/* ---- requeue and wake_op ---- */

static void test_requeue(void)
{
	static uint32_t a, b;
	struct waiter w[4];
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		w[i] = (struct waiter){&a, FUTEX_WAIT_PRIVATE, 0, 0, 0, 0, 0, 0};
	start_waiters(w, t, 4);
	long r = futex2(&a, FUTEX_REQUEUE_PRIVATE, 1, 2, &b, 0);
	until_done(w, 4, 1);
	sleep_ms(10);
	check(r == 3 && count_done(w, 4) == 1, "FUTEX_REQUEUE wakes 1 and moves 2 (returns 3)");
	check(waiting_on(&a) == 1 && waiting_on(&b) == 2, "one waiter is left on the first word, two wait on the second");
	check(futex(&a, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0) == 1 && futex(&b, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0) == 2,
	      "and they wake from there");
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);

	a = 5;
	check(futex2(&a, FUTEX_CMP_REQUEUE_PRIVATE, 1, 1, &b, 4) == -1 && errno == EAGAIN,
	      "FUTEX_CMP_REQUEUE with a value that does not match: EAGAIN");
	check(futex2(&a, FUTEX_CMP_REQUEUE_PRIVATE, 1, 1, &b, 5) == 0, "... and with the right one, nobody to move: 0");
	check(futex2(&a, FUTEX_CMP_REQUEUE_PRIVATE, (uint32_t)-1, 1, &b, 5) == -1 && errno == EINVAL,
	      "a negative count is EINVAL");

	/* wake_op: *b += 1 (was 0); wake 1 on a; since old b == 0, also wake 1 on b */
	a = 0;
	b = 0;
	w[0] = (struct waiter){&a, FUTEX_WAIT_PRIVATE, 0, 0, 0, 0, 0, 0};
	w[1] = (struct waiter){&b, FUTEX_WAIT_PRIVATE, 0, 0, 0, 0, 0, 0};
	start_waiters(w, t, 1);
	start_waiters(w + 1, t + 1, 1);
	r = futex2(&a, FUTEX_WAKE_OP_PRIVATE, 1, 1, &b, FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_EQ, 0));
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	check(r == 2 && b == 1, "FUTEX_WAKE_OP adds to the second word and wakes both when the old value passes");
	r = futex2(&a, FUTEX_WAKE_OP_PRIVATE, 1, 1, &b, FUTEX_OP(FUTEX_OP_OR, 4, FUTEX_OP_CMP_GT, 5));
	check(r == 0 && b == 5, "... and FUTEX_OP_OR with a comparison that fails");
	r = futex2(&a, FUTEX_WAKE_OP_PRIVATE, 1, 1, &b, FUTEX_OP(FUTEX_OP_SET, 3, FUTEX_OP_CMP_EQ, 0) | (FUTEX_OP_OPARG_SHIFT << 28));
	check(r == 0 && b == 8, "FUTEX_OP_OPARG_SHIFT: SET 1 << 3");
}

/* ---- signals ---- */

static volatile int signalled;
static void on_usr1(int sig) { signalled++; }

static uint32_t sig_word;

static pthread_t main_thread;

/* Signals the main thread once it waits on sig_word; with arg, waits for the restarted wait too; then
 * wakes it for real. */
static void *signal_later(void *arg)
{
	until_waiting(&sig_word, 1);
	pthread_kill(main_thread, SIGUSR1);
	if (arg) {
		sleep_ms(10); /* the handler runs and the wait starts again */
		until_waiting(&sig_word, 1);
	} else {
		for (int i = 0; i < 5000 && waiting_on(&sig_word) > 0; i++)
			sleep_ms(1); /* the wait ended with EINTR */
	}
	__atomic_store_n(&sig_word, 1, __ATOMIC_SEQ_CST);
	futex(&sig_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	return NULL;
}

static void test_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	pthread_t t;
	main_thread = pthread_self();
	sig_word = 0;
	pthread_create(&t, NULL, signal_later, NULL);
	long r = futex(&sig_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	int err = errno;
	pthread_join(t, NULL);
	check(r == -1 && err == EINTR && signalled == 1, "a signal handler without SA_RESTART ends FUTEX_WAIT with EINTR");

	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	sig_word = 0;
	pthread_create(&t, NULL, signal_later, (void *)1);
	r = futex(&sig_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	pthread_join(t, NULL);
	check(r == 0 && signalled == 2, "with SA_RESTART the wait goes on until the wake");
	signal(SIGUSR1, SIG_DFL);
}

/* ---- PI ---- */

static uint32_t pi_word;
static volatile long pi_result;
static volatile int pi_tid, pi_has;

static void *pi_locker(void *arg)
{
	pi_tid = gettid_raw();
	if (arg) { /* try only */
		pi_result = futex(&pi_word, FUTEX_TRYLOCK_PI_PRIVATE, 0, NULL, NULL, 0) == -1 ? errno : 0;
		return NULL;
	}
	pi_result = futex(&pi_word, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0);
	pi_has = (pi_word & FUTEX_TID_MASK) == (uint32_t)gettid_raw();
	futex(&pi_word, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0);
	return NULL;
}

static void test_pi(void)
{
	pid_t me = gettid_raw();
	check(futex(&pi_word, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0) == 0 && pi_word == (uint32_t)me,
	      "FUTEX_LOCK_PI on a free word makes the caller's tid its value");
	check(futex(&pi_word, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0) == -1 && errno == EDEADLK,
	      "locking it again: EDEADLK");
	pthread_t t;
	pthread_create(&t, NULL, pi_locker, (void *)1);
	pthread_join(t, NULL);
	check(pi_result == EAGAIN || pi_result == EWOULDBLOCK, "FUTEX_TRYLOCK_PI from another thread: EWOULDBLOCK");
	pi_has = 0;
	pthread_create(&t, NULL, pi_locker, NULL);
	for (int i = 0; i < 5000 && !(__atomic_load_n(&pi_word, __ATOMIC_SEQ_CST) & FUTEX_WAITERS); i++)
		sleep_ms(1);
	sleep_ms(10);
	check((pi_word & FUTEX_WAITERS) && (pi_word & FUTEX_TID_MASK) == (uint32_t)me, "a blocked locker sets FUTEX_WAITERS");
	check(futex(&pi_word, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0) == 0, "FUTEX_UNLOCK_PI by the owner");
	pthread_join(t, NULL);
	check(pi_result == 0 && pi_has && pi_word == 0, "the waiter got the lock from the unlock, then released it");
	check(futex(&pi_word, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0) == -1 && errno == EPERM,
	      "FUTEX_UNLOCK_PI of a lock we do not own: EPERM");

	pthread_mutexattr_t attr;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setprotocol(&attr, PTHREAD_PRIO_INHERIT);
	pthread_mutex_t m;
	pthread_mutex_init(&m, &attr);
	check(pthread_mutex_lock(&m) == 0 && pthread_mutex_unlock(&m) == 0, "a PTHREAD_PRIO_INHERIT mutex locks and unlocks");
	pthread_mutex_destroy(&m);
}

/* ---- robust lists ---- */

struct robust_lock {
	struct robust_list list;
	uint32_t word;
};

static struct robust_lock held;
static struct robust_list_head head;

static void *dies_holding(void *arg)
{
	head.list.next = &head.list;
	head.futex_offset = offsetof(struct robust_lock, word) - offsetof(struct robust_lock, list);
	head.list_op_pending = NULL;
	held.word = (uint32_t)gettid_raw();
	held.list.next = &head.list;
	head.list.next = &held.list;
	syscall(SYS_set_robust_list, &head, sizeof(head));
	struct robust_list_head *got = NULL;
	size_t len = 0;
	syscall(SYS_get_robust_list, 0, &got, &len);
	return (void *)(intptr_t)(got == &head && len == sizeof(head));
}

static pthread_mutex_t robust;

static void *dies_with_mutex(void *arg)
{
	pthread_mutex_lock(&robust);
	return NULL;
}

static void test_robust(void)
{
	pthread_t t;
	void *r;
	pthread_create(&t, NULL, dies_holding, NULL);
	pthread_join(t, &r);
	check((intptr_t)r == 1, "get_robust_list returns what set_robust_list registered");
	check(held.word == FUTEX_OWNER_DIED, "a robust futex held at thread exit gets FUTEX_OWNER_DIED");

	pthread_mutexattr_t attr;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&robust, &attr);
	pthread_create(&t, NULL, dies_with_mutex, NULL);
	pthread_join(t, NULL);
	int e = pthread_mutex_lock(&robust);
	check(e == EOWNERDEAD, "a robust mutex whose owner exited: EOWNERDEAD");
	check(pthread_mutex_consistent(&robust) == 0 && pthread_mutex_unlock(&robust) == 0 &&
		  pthread_mutex_lock(&robust) == 0 && pthread_mutex_unlock(&robust) == 0,
	      "made consistent, it works again");
}

/* ---- clear_child_tid ---- */

static void *quick(void *arg) { return arg; }

static void test_join(void)
{
	int good = 1;
	for (intptr_t i = 0; i < 10; i++) {
		pthread_t t;
		void *r;
		pthread_create(&t, NULL, quick, (void *)i);
		good &= pthread_join(t, &r) == 0 && (intptr_t)r == i;
	}
	check(good, "10 joins woken by CLONE_CHILD_CLEARTID at thread exit");
	check(syscall(SYS_set_tid_address, NULL) == gettid_raw(), "set_tid_address returns the tid");
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_basics();
	test_wake();
	test_requeue();
	test_signals();
	test_pi();
	test_robust();
	test_join();
	printf("%s\n", failures ? "SOME CHECKS FAILED" : "all futex checks passed");
	return failures ? 1 : 0;
}
