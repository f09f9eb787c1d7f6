/* The output of guest tests compared with Linux: CHECK prints a call's result and errno, SHOW a line of
 * facts; both count towards the closing "N checks passed" line (checks_done). */
#pragma once
#include <errno.h>
#include <stdio.h>

static int checks;

#define CHECK(label, expr)                                                                             \
	do {                                                                                           \
		errno = 0;                                                                             \
		long r_ = (long)(expr);                                                                \
		printf("%s=%ld errno=%d\n", label, r_, r_ < 0 ? errno : 0);                            \
		checks++;                                                                              \
	} while (0)

#define SHOW(fmt, ...)                                                                                 \
	do {                                                                                           \
		printf(fmt "\n", __VA_ARGS__);                                                         \
		checks++;                                                                              \
	} while (0)

static inline int checks_done(void)
{
	printf("%d checks passed\n", checks);
	return 0;
}
