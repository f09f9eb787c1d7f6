/* POSIX threads as programs use them: create/join with return values and pthread_exit, detached
 * threads, thread ids, thread-local storage and errno, 8 threads sharing a mutex, a condition variable,
 * a barrier and a read-write lock, a bounded queue between producers and consumers, thread-specific
 * data destructors, pthread_once, cancellation of a sleeping thread, FPU state kept per thread across
 * switches, many short-lived threads, /proc/self/status thread counts. Prints what holds on any Linux
 * (no ids or times), one line per check. Static glibc, musl, or dynamic glibc.
 *
 * `threads --fork` instead tries to make new processes (fork, vfork through posix_spawn, a raw clone
 * without CLONE_VM) and prints what each returned: osv runs one process, so each must fail cleanly.
 * `threads --main-exits` ends the main thread first (pthread_exit); the other thread then ends with
 * the exit syscall of its own: the process's status is the main thread's, 0. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int failures;

static void check(int ok, const char *what)
{
	printf("%s: %s\n", ok ? "ok" : "FAIL", what);
	if (!ok)
		failures++;
}

static pid_t gettid_raw(void) { return (pid_t)syscall(SYS_gettid); }

/* ---- create, join, return values ---- */

static void *twice(void *arg) { return (void *)((intptr_t)arg * 2); }

static void nested_exit(int depth)
{
	if (depth == 0)
		pthread_exit((void *)42);
	nested_exit(depth - 1);
}

static void *exits_deep(void *arg)
{
	nested_exit(5);
	return NULL;
}

static void test_create_join(void)
{
	pthread_t t[4];
	for (intptr_t i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, twice, (void *)(i + 10));
	int good = 1;
	for (intptr_t i = 0; i < 4; i++) {
		void *r;
		if (pthread_join(t[i], &r) != 0 || (intptr_t)r != (i + 10) * 2)
			good = 0;
	}
	check(good, "4 threads return their argument doubled through pthread_join");
	pthread_t e;
	void *r = NULL;
	pthread_create(&e, NULL, exits_deep, NULL);
	check(pthread_join(e, &r) == 0 && (intptr_t)r == 42, "pthread_exit(42) from a nested call is the join value");
	pthread_t done;
	pthread_create(&done, NULL, twice, (void *)1);
	usleep(20000); /* it has surely finished */
	check(pthread_join(done, &r) == 0 && (intptr_t)r == 2, "joining a thread that already ended");
	check(pthread_equal(pthread_self(), pthread_self()) && !pthread_equal(pthread_self(), done),
	      "pthread_self and pthread_equal");
}

/* ---- ids ---- */

struct ids {
	pid_t tid, pid;
};

static void *report_ids(void *arg)
{
	struct ids *ids = arg;
	ids->tid = gettid_raw();
	ids->pid = getpid();
	return NULL;
}

static void test_ids(void)
{
	struct ids ids[3];
	pthread_t t[3];
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, report_ids, &ids[i]);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	check(gettid_raw() == getpid(), "the main thread's tid is the pid");
	int same_pid = 1, distinct = 1;
	for (int i = 0; i < 3; i++) {
		same_pid &= ids[i].pid == getpid();
		distinct &= ids[i].tid != getpid() && ids[i].tid > 0;
		for (int j = 0; j < i; j++)
			distinct &= ids[i].tid != ids[j].tid;
	}
	check(same_pid, "every thread sees the same getpid");
	check(distinct, "every thread has its own tid, none the pid's");
}

/* ---- thread-local storage ---- */

static __thread int tls_value = 7;
static __thread char tls_text[32] = "initial";

static void *use_tls(void *arg)
{
	int id = (int)(intptr_t)arg;
	int ok = tls_value == 7 && strcmp(tls_text, "initial") == 0;
	tls_value = id * 100;
	snprintf(tls_text, sizeof(tls_text), "thread %d", id);
	errno = id;
	for (int i = 0; i < 20; i++)
		sched_yield();
	char want[32];
	snprintf(want, sizeof(want), "thread %d", id);
	ok = ok && tls_value == id * 100 && strcmp(tls_text, want) == 0 && errno == id;
	return (void *)(intptr_t)ok;
}

static void test_tls(void)
{
	pthread_t t[4];
	tls_value = 1;
	errno = 0;
	for (intptr_t i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, use_tls, (void *)(i + 1));
	int good = 1;
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(t[i], &r);
		good &= (intptr_t)r == 1;
	}
	check(good, "each thread starts with the TLS initial values and keeps its own across yields");
	check(tls_value == 1 && strcmp(tls_text, "initial") == 0, "the main thread's TLS is untouched");
	check(errno == 0, "errno is per thread");
}

/* ---- 8 threads: mutex, condition variable, barrier, rwlock ---- */

#define WORKERS 8
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go_cond = PTHREAD_COND_INITIALIZER;
static int go, waiting;
static long counter;
static pthread_barrier_t barrier;
static int serial_count;
static pthread_rwlock_t rwlock = PTHREAD_RWLOCK_INITIALIZER;
static long shared_pair[2];
static int torn_reads;

static void *worker(void *arg)
{
	pthread_mutex_lock(&lock);
	waiting++;
	while (!go)
		pthread_cond_wait(&go_cond, &lock);
	pthread_mutex_unlock(&lock);
	for (int i = 0; i < 1000; i++) {
		pthread_mutex_lock(&lock);
		long v = counter;
		if (i % 61 == 0)
			sched_yield(); /* let others find the mutex taken */
		counter = v + 1;
		pthread_mutex_unlock(&lock);
	}
	if (pthread_barrier_wait(&barrier) == PTHREAD_BARRIER_SERIAL_THREAD)
		__atomic_fetch_add(&serial_count, 1, __ATOMIC_SEQ_CST);
	for (int i = 0; i < 200; i++) {
		if (i % 4 == 0) {
			pthread_rwlock_wrlock(&rwlock);
			shared_pair[0]++;
			sched_yield();
			shared_pair[1]++;
			pthread_rwlock_unlock(&rwlock);
		} else {
			pthread_rwlock_rdlock(&rwlock);
			if (shared_pair[0] != shared_pair[1])
				__atomic_fetch_add(&torn_reads, 1, __ATOMIC_SEQ_CST);
			pthread_rwlock_unlock(&rwlock);
		}
	}
	return NULL;
}

static void test_mutex_condvar(void)
{
	pthread_t t[WORKERS];
	pthread_barrier_init(&barrier, NULL, WORKERS);
	for (int i = 0; i < WORKERS; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	for (;;) { /* all 8 parked on the condition variable */
		pthread_mutex_lock(&lock);
		int n = waiting;
		pthread_mutex_unlock(&lock);
		if (n == WORKERS)
			break;
		usleep(1000);
	}
	pthread_mutex_lock(&lock);
	go = 1;
	pthread_cond_broadcast(&go_cond);
	pthread_mutex_unlock(&lock);
	for (int i = 0; i < WORKERS; i++)
		pthread_join(t[i], NULL);
	check(counter == WORKERS * 1000, "8 threads x 1000 increments under one mutex lose none");
	check(serial_count == 1, "pthread_barrier_wait names exactly one serial thread");
	check(shared_pair[0] == WORKERS * 50 && shared_pair[1] == WORKERS * 50 && torn_reads == 0,
	      "readers never see a writer's half-done update (rwlock)");
	pthread_barrier_destroy(&barrier);
}

/* ---- bounded queue ---- */

#define QUEUE_SIZE 4
#define ITEMS_PER_PRODUCER 80
static int queue[QUEUE_SIZE], queue_head, queue_count;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER, not_empty = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;

static void *producer(void *arg)
{
	int base = (int)(intptr_t)arg * 1000;
	for (int i = 1; i <= ITEMS_PER_PRODUCER; i++) {
		pthread_mutex_lock(&queue_lock);
		while (queue_count == QUEUE_SIZE)
			pthread_cond_wait(&not_full, &queue_lock);
		queue[(queue_head + queue_count++) % QUEUE_SIZE] = base + i;
		pthread_cond_signal(&not_empty);
		pthread_mutex_unlock(&queue_lock);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	long sum = 0;
	for (;;) {
		pthread_mutex_lock(&queue_lock);
		while (queue_count == 0)
			pthread_cond_wait(&not_empty, &queue_lock);
		int item = queue[queue_head];
		queue_head = (queue_head + 1) % QUEUE_SIZE;
		queue_count--;
		pthread_cond_signal(&not_full);
		pthread_mutex_unlock(&queue_lock);
		if (item < 0)
			break;
		sum += item;
	}
	return (void *)sum;
}

static void test_queue(void)
{
	pthread_t p[3], c[3];
	for (intptr_t i = 0; i < 3; i++) {
		pthread_create(&c[i], NULL, consumer, NULL);
		pthread_create(&p[i], NULL, producer, (void *)(i + 1));
	}
	for (int i = 0; i < 3; i++)
		pthread_join(p[i], NULL);
	for (int i = 0; i < 3; i++) { /* one end marker per consumer */
		pthread_mutex_lock(&queue_lock);
		while (queue_count == QUEUE_SIZE)
			pthread_cond_wait(&not_full, &queue_lock);
		queue[(queue_head + queue_count++) % QUEUE_SIZE] = -1;
		pthread_cond_signal(&not_empty);
		pthread_mutex_unlock(&queue_lock);
	}
	long total = 0;
	for (int i = 0; i < 3; i++) {
		void *r;
		pthread_join(c[i], &r);
		total += (long)r;
	}
	long want = 0;
	for (int k = 1; k <= 3; k++)
		want += (long)k * 1000 * ITEMS_PER_PRODUCER + ITEMS_PER_PRODUCER * (ITEMS_PER_PRODUCER + 1) / 2;
	check(total == want, "3 producers and 3 consumers pass every item once through a 4-slot queue");
}

/* ---- detach, keys, once, cancel ---- */

static sem_t detached_done;
static int detached_saw;

static void *detached(void *arg)
{
	detached_saw = (int)(intptr_t)arg;
	sem_post(&detached_done);
	return NULL;
}

static pthread_key_t key;
static int destructor_calls;
static void destructor(void *value) { __atomic_fetch_add(&destructor_calls, (int)(intptr_t)value, __ATOMIC_SEQ_CST); }

static void *set_key(void *arg)
{
	pthread_setspecific(key, arg);
	return pthread_getspecific(key);
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int once_runs;
static void run_once(void) { once_runs++; }
static void *call_once(void *arg)
{
	pthread_once(&once, run_once);
	return NULL;
}

static void *sleeper(void *arg)
{
	sleep(100); /* a cancellation point: cancelled while blocked in nanosleep */
	return (void *)1;
}

static void test_misc(void)
{
	sem_init(&detached_done, 0, 0);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_t d;
	check(pthread_create(&d, &attr, detached, (void *)5) == 0, "a detached thread is created");
	sem_wait(&detached_done);
	check(detached_saw == 5, "the detached thread ran (semaphore)");
	pthread_attr_destroy(&attr);

	pthread_key_create(&key, destructor);
	pthread_t k[3];
	int values_ok = 1;
	for (intptr_t i = 0; i < 3; i++)
		pthread_create(&k[i], NULL, set_key, (void *)(i + 1));
	for (intptr_t i = 0; i < 3; i++) {
		void *r;
		pthread_join(k[i], &r);
		values_ok &= (intptr_t)r == i + 1;
	}
	check(values_ok, "pthread_setspecific values are per thread");
	check(destructor_calls == 6, "key destructors run at each thread's exit");

	pthread_t o[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&o[i], NULL, call_once, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(o[i], NULL);
	check(once_runs == 1, "pthread_once runs its routine once for 4 threads");

	pthread_t s;
	void *r = NULL;
	pthread_create(&s, NULL, sleeper, NULL);
	usleep(20000);
	check(pthread_cancel(s) == 0, "pthread_cancel of a sleeping thread");
	check(pthread_join(s, &r) == 0 && r == PTHREAD_CANCELED, "the cancelled thread's join value is PTHREAD_CANCELED");
}

/* ---- FPU state per thread ---- */

static void *fpu_work(void *arg)
{
	double seed = (double)(intptr_t)arg, acc = 0;
	for (int i = 1; i <= 3000; i++) {
		acc += seed / i;
		if (i % 300 == 0)
			sched_yield(); /* others run with their own values in the same registers */
	}
	double want = 0;
	for (int i = 1; i <= 3000; i++)
		want += seed / i;
	return (void *)(intptr_t)(acc == want);
}

static void test_fpu(void)
{
	pthread_t t[4];
	for (intptr_t i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, fpu_work, (void *)(i * 3 + 1));
	int good = 1;
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(t[i], &r);
		good &= (intptr_t)r == 1;
	}
	check(good, "floating-point results are exact with 4 threads switching");
}

/* ---- many threads, /proc ---- */

static int status_threads(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	int n = -1;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	if (f)
		fclose(f);
	return n;
}

static sem_t hold;
static void *held(void *arg)
{
	sem_wait(&hold);
	return NULL;
}

static void test_many(void)
{
	int good = 1;
	for (int round = 0; round < 20; round++) {
		pthread_t t[5];
		for (intptr_t i = 0; i < 5; i++)
			good &= pthread_create(&t[i], NULL, twice, (void *)i) == 0;
		for (intptr_t i = 0; i < 5; i++) {
			void *r;
			pthread_join(t[i], &r);
			good &= (intptr_t)r == i * 2;
		}
	}
	check(good, "100 short-lived threads come and go");
	sem_init(&hold, 0, 0);
	pthread_t t[3];
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, held, NULL);
	check(status_threads() == 4, "/proc/self/status counts 4 threads while 3 wait");
	for (int i = 0; i < 3; i++)
		sem_post(&hold);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	check(status_threads() == 1, "and 1 once they are joined");
	clockid_t cpu;
	struct timespec ts;
	check(pthread_getcpuclockid(pthread_self(), &cpu) == 0 && clock_gettime(cpu, &ts) == 0,
	      "the main thread's CPU clock can be read");
}

static const char *errno_name(int e) { return e == ENOSYS ? "ENOSYS" : e == EAGAIN ? "EAGAIN" : e ? "other" : "none"; }

static int try_processes(void)
{
	errno = 0;
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	printf("fork=%d errno=%s\n", pid < 0 ? -1 : 1, errno_name(errno));
	char *argv[] = {"/threads", NULL};
	int r = posix_spawn(&pid, "/threads", NULL, NULL, argv, NULL);
	printf("posix_spawn=%s\n", errno_name(r));
	errno = 0;
	long c = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
	if (c == 0)
		_exit(0);
	printf("clone(SIGCHLD)=%d errno=%s\n", c < 0 ? -1 : 1, errno_name(errno));
	return 0;
}

static void *outlives_main(void *arg)
{
	usleep(20000);
	printf("the main thread is gone, %d thread left\n", status_threads());
	syscall(SYS_exit, 7); /* the thread only: the process's status stays the main thread's */
	return NULL;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && strcmp(argv[1], "--fork") == 0)
		return try_processes();
	if (argc > 1 && strcmp(argv[1], "--main-exits") == 0) {
		pthread_t t;
		pthread_create(&t, NULL, outlives_main, NULL);
		pthread_exit(NULL);
	}
	test_create_join();
	test_ids();
	test_tls();
	test_mutex_condvar();
	test_queue();
	test_misc();
	test_fpu();
	test_many();
	printf("%s\n", failures ? "SOME CHECKS FAILED" : "all threads checks passed");
	return failures ? 1 : 0;
}
