/* Kernel library: strings, memory, formatted output, panics. Implemented in lib/. */
#pragma once
#include "types.h"

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
void *memchr(const void *s, int c, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
char *strrchr(const char *s, int c);
bool str_starts_with(const char *s, const char *prefix);

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Console output (COM1). */
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void console_write(const char *buf, size_t n);

/* Fatal kernel error: message, backtrace-free register-less report, exit status 125. */
NORETURN void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Symbol of a kernel address: name and offset; NULL when not inside the kernel. */
const char *ksym_lookup(uint64_t addr, uint64_t *offset);

/* Kernel log lines shown only with --verbose. */
extern bool verbose;
#define kverbose(...)                                                                                \
	do {                                                                                         \
		if (verbose)                                                                         \
			kprintf(__VA_ARGS__);                                                        \
	} while (0)
