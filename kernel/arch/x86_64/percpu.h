/* Per-CPU data, reached through the GS base in kernel mode. Field offsets 0..16 are used by entry.S. */
#pragma once
#include "types.h"

struct thread;

struct percpu {
	struct percpu *self;  /* 0: for reading the pointer itself */
	uint64_t kernel_rsp;  /* 8: stack for syscalls (top): the running thread's kernel stack */
	uint64_t user_rsp;    /* 16: user RSP saved on syscall entry */
	uint32_t cpu_id;
	bool need_resched;        /* set by the timer and wake-ups; honoured on the way back to user mode */
	struct thread *thread;    /* the thread running on this CPU */
	struct thread *idle;      /* this CPU's idle thread (the boot stack) */
	struct thread *user_owner; /* whose FPU/SSE state and FS/GS bases are in the registers (NULL: nobody) */
	uint64_t slice_end;       /* when the running thread's time slice ends (sched/sched.c) */
	uint64_t idle_ns;         /* time spent halted in the idle loop */
};

static inline struct percpu *this_cpu(void)
{
	struct percpu *p;
	__asm__ volatile("mov %%gs:0, %0" : "=r"(p));
	return p;
}
