/* Host stand-ins for the kernel services the network stack uses (heap, clock, console, user copies,
 * deferred work, halting), so that kernel/net/ sources can be compiled and tested as an ordinary program
 * (net_test.c). The clock is fake: tests move it with shim_advance(). User memory is host memory. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool verbose;
static uint64_t now_ns = 1000000000;
static uint64_t random_state = 0x9e3779b97f4a7c15ULL;

long shim_allocations; /* live kmalloc/kzalloc blocks: the fuzz target checks nothing is left behind */

void *kmalloc(size_t n)
{
	shim_allocations++;
	return malloc(n ? n : 1);
}

void *kzalloc(size_t n)
{
	shim_allocations++;
	return calloc(1, n ? n : 1);
}

void kfree(void *p)
{
	if (p)
		shim_allocations--;
	free(p);
}
uint64_t clock_monotonic_ns(void) { return now_ns; }
void shim_advance(uint64_t ns) { now_ns += ns; }
void deferred_kick(void) {}
void deferred_register(void (*run)(void), uint64_t (*next)(void)) {}
void bootchart_mark(const char *phase) {}

void kprintf(const char *fmt, ...)
{
	if (!verbose)
		return;
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

/* Deterministic "randomness": runs are reproducible. */
void random_bytes(void *buf, size_t n)
{
	uint8_t *p = buf;
	for (size_t i = 0; i < n; i++) {
		random_state ^= random_state << 13;
		random_state ^= random_state >> 7;
		random_state ^= random_state << 17;
		p[i] = (uint8_t)random_state;
	}
}

long copy_from_user(void *dst, uint64_t src, size_t n)
{
	if (!src && n)
		return -14;
	memcpy(dst, (const void *)src, n);
	return 0;
}

long copy_to_user(uint64_t dst, const void *src, size_t n)
{
	if (!dst && n)
		return -14;
	memcpy((void *)dst, src, n);
	return 0;
}

void net_poll(void);
void net_timers_run(uint64_t now);
uint64_t net_timers_next(void);

/* A blocking wait: runs the stack and moves the clock to the next timer until done (0) or the
 * deadline (0: none) passes (-ETIMEDOUT). No signals on the host. */
int deferred_wait(bool (*done)(void *arg), void *arg, uint64_t deadline, uint64_t recheck_ns, bool interruptible)
{
	if (!deadline)
		deadline = ~0ULL;
	for (int i = 0; i < 100000; i++) {
		net_poll();
		if (done(arg))
			return 0;
		uint64_t next = net_timers_next();
		if (!next || next > deadline)
			next = deadline;
		if (now_ns >= deadline)
			return -110;
		now_ns = next > now_ns ? next : now_ns + 1000000;
	}
	return -110;
}
