/* Per-CPU data, reached through the GS base in kernel mode. Field offsets are used by entry.S. */
#pragma once
#include "types.h"

struct percpu {
	struct percpu *self;  /* 0: for reading the pointer itself */
	uint64_t kernel_rsp;  /* 8: stack for syscalls (top) */
	uint64_t user_rsp;    /* 16: user RSP saved on syscall entry */
	uint32_t cpu_id;
};

static inline struct percpu *this_cpu(void)
{
	struct percpu *p;
	__asm__ volatile("mov %%gs:0, %0" : "=r"(p));
	return p;
}
