/* Preemption: threads that never block must not starve the others. A thread spinning on a flag only
 * another thread can set, two busy threads that must both make progress, a thread that sleeps in a
 * loop while the main thread computes, sched_yield, and per-thread CPU clocks (a sleeper uses less
 * CPU time than a spinner, which uses at most its wall time). On one CPU all of this needs the timer to take the CPU
 * away. One line per check; what it prints holds on any Linux. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static int failures;

static void check(int ok, const char *what)
{
	printf("%s: %s\n", ok ? "ok" : "FAIL", what);
	if (!ok)
		failures++;
}

static long long now_ms(clockid_t clock)
{
	struct timespec t;
	clock_gettime(clock, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static volatile int flag, stop;

static void *spin_until_flag(void *arg)
{
	unsigned long spins = 0;
	while (!flag)
		spins++;
	return (void *)spins;
}

static volatile unsigned long counters[2];

static void *busy(void *arg)
{
	int i = (int)(intptr_t)arg;
	while (!stop)
		counters[i]++;
	return NULL;
}

static volatile int naps;

static void *napper(void *arg)
{
	for (int i = 0; i < 5; i++) {
		usleep(5000);
		naps++;
	}
	return NULL;
}

static void *sleeper(void *arg)
{
	while (!stop)
		usleep(10000);
	clockid_t c;
	pthread_getcpuclockid(pthread_self(), &c);
	return (void *)(intptr_t)now_ms(c);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* 1. A spinner that never blocks: the main thread still gets to set its flag. */
	pthread_t t;
	pthread_create(&t, NULL, spin_until_flag, NULL);
	usleep(20000);
	flag = 1;
	void *spins;
	pthread_join(t, &spins);
	check((unsigned long)spins > 0, "a thread spinning on a flag does not keep the setter from running");

	/* 2. Two busy threads both make progress. */
	pthread_t a, b;
	pthread_create(&a, NULL, busy, (void *)0);
	pthread_create(&b, NULL, busy, (void *)1);
	long long start = now_ms(CLOCK_MONOTONIC);
	unsigned long seen0 = 0, seen1 = 0;
	while (now_ms(CLOCK_MONOTONIC) - start < 200 && !(seen0 && seen1)) {
		usleep(10000);
		seen0 = counters[0];
		seen1 = counters[1];
	}
	usleep(50000);
	stop = 1;
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	check(counters[0] > 0 && counters[1] > 0, "two busy threads both run");
	unsigned long lo = counters[0] < counters[1] ? counters[0] : counters[1];
	unsigned long hi = counters[0] < counters[1] ? counters[1] : counters[0];
	check(lo * 20 > hi, "and share the CPU (neither gets 20 times the other's share)");

	/* 3. The main thread computes; a thread that sleeps in a loop still gets its turns. */
	stop = 0;
	naps = 0;
	pthread_create(&t, NULL, napper, NULL);
	start = now_ms(CLOCK_MONOTONIC);
	volatile unsigned long work = 0;
	while (naps < 5 && now_ms(CLOCK_MONOTONIC) - start < 5000)
		work++;
	pthread_join(t, NULL);
	check(naps == 5, "a thread sleeping 5 times 5 ms wakes on time while the main thread computes");

	/* 4. sched_yield lets a ready thread run. */
	flag = 0;
	pthread_create(&t, NULL, spin_until_flag, NULL);
	for (int i = 0; i < 3; i++)
		sched_yield();
	flag = 1;
	pthread_join(t, NULL);
	check(1, "sched_yield with another thread ready returns");

	/* 5. CPU clocks: a sleeping thread uses little CPU time while the main thread spins for 150 ms. */
	stop = 0;
	pthread_create(&t, NULL, sleeper, NULL);
	long long cpu0 = now_ms(CLOCK_THREAD_CPUTIME_ID), wall0 = now_ms(CLOCK_MONOTONIC);
	while (now_ms(CLOCK_MONOTONIC) - wall0 < 150)
		work++;
	long long spun = now_ms(CLOCK_THREAD_CPUTIME_ID) - cpu0;
	stop = 1;
	void *slept_cpu;
	pthread_join(t, &slept_cpu);
	long long wall = now_ms(CLOCK_MONOTONIC) - wall0;
	check(spun > 0 && spun <= wall + 20, "the spinning thread's CPU clock advanced, at most as fast as the wall clock");
	check((intptr_t)slept_cpu < spun, "the sleeping thread's CPU clock advanced less");
	check(now_ms(CLOCK_PROCESS_CPUTIME_ID) >= spun, "the process's CPU clock counts at least the spinner's time");

	printf("%s\n", failures ? "SOME CHECKS FAILED" : "all preemption checks passed");
	return failures ? 1 : 0;
}
