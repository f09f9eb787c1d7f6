/* Timer settings as timerfd_settime/gettime and timer_settime/gettime pass them (struct itimerspec),
 * and the arithmetic both families share: checking, converting, and the first deadline of a setting. */
#pragma once
#include "arch/x86_64/clock.h"
#include "lib.h"
#include "types.h"

#define NSEC_PER_SEC 1000000000UL

struct timespec_k {
	int64_t sec, nsec;
};

struct itimerspec {
	struct timespec_k interval, value;
};

static inline bool timespec_valid(const struct timespec_k *ts)
{
	return ts->sec >= 0 && ts->nsec >= 0 && (uint64_t)ts->nsec < NSEC_PER_SEC;
}

static inline bool itimerspec_valid(const struct itimerspec *its)
{
	return timespec_valid(&its->value) && timespec_valid(&its->interval);
}

/* Nanoseconds (seconds capped at 2^32, which keeps them inside 64 bits). */
static inline uint64_t timespec_to_ns(const struct timespec_k *ts)
{
	return (uint64_t)MIN(ts->sec, 1L << 32) * NSEC_PER_SEC + (uint64_t)ts->nsec;
}

static inline struct timespec_k ns_to_timespec(uint64_t ns)
{
	return (struct timespec_k){(int64_t)(ns / NSEC_PER_SEC), (int64_t)(ns % NSEC_PER_SEC)};
}

/* What gettime reports of a timer due at expires (0: disarmed) on a clock now at now: the time left
 * (at least 1 ns while armed) and the interval. */
static inline struct itimerspec itimerspec_left(uint64_t expires, uint64_t interval, uint64_t now)
{
	uint64_t left = expires > now ? expires - now : (expires ? 1 : 0);
	return (struct itimerspec){ns_to_timespec(interval), ns_to_timespec(left)};
}

/* The deadline, on a clock now at now, of a setting's value (relative, or absolute on that clock or
 * on the wall clock when realtime, converted at once); 0 when value disarms. */
static inline uint64_t itimerspec_deadline(uint64_t value, bool absolute, bool realtime, uint64_t now)
{
	if (!value)
		return 0;
	uint64_t expires = value;
	if (!absolute) {
		expires = now + value;
	} else if (realtime) {
		uint64_t real_now = clock_realtime_ns();
		expires = value > real_now ? now + (value - real_now) : now;
	}
	return MAX(expires, 1);
}
