/* Futex wake latency: two threads pass a turn back and forth through one futex word, each waking the
 * other with FUTEX_WAKE and sleeping in FUTEX_WAIT until its turn comes; prints the mean time of one
 * round trip (two wakes, two waits) in nanoseconds. Runs the same on the host and in osv. */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static _Atomic int turn; /* 0: the main thread's turn, 1: the partner's */
static long rounds;

static void futex_wait(int expected) { syscall(SYS_futex, &turn, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0); }
static void futex_wake(void) { syscall(SYS_futex, &turn, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0); }

/* Waits until the word says it is `mine`'s turn, sleeping in the kernel while it is the other's. */
static void await_turn(int mine)
{
	int now;
	while ((now = atomic_load(&turn)) != mine)
		futex_wait(now);
}

static void pass_turn(int to)
{
	atomic_store(&turn, to);
	futex_wake();
}

static void *partner(void *arg)
{
	for (long i = 0; i < rounds; i++) {
		await_turn(1);
		pass_turn(0);
	}
	return arg;
}

int main(int argc, char **argv)
{
	rounds = argc > 1 ? atol(argv[1]) : 20000;
	pthread_t thread;
	if (pthread_create(&thread, NULL, partner, NULL) != 0) {
		perror("pthread_create");
		return 1;
	}
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < rounds; i++) {
		pass_turn(1);
		await_turn(0);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	pthread_join(thread, NULL);
	double ns = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / (double)rounds;
	printf("futex %.1f ns per round trip (%ld rounds)\n", ns, rounds);
	return 0;
}
