/* Machine side of threads (arch/x86_64/context.c, switch.S). */
#pragma once
#include "arch/x86_64/cpu.h"

struct thread;
/* Lays out t's kernel stack so that its first switch_to enters user mode with frame's registers. */
void arch_thread_prepare(struct thread *t, const struct trap_frame *frame);
/* Hands the CPU to next (user state, kernel stack, the per-CPU current thread) and switches stacks;
 * returns in next's context the thread switched away from. */
struct thread *arch_switch(struct thread *prev, struct thread *next);
/* Gives child a copy of the running thread's FPU state and FS/GS bases. */
void arch_thread_copy_user_state(struct thread *child);
/* t is gone: its registers are no longer worth saving. */
void arch_thread_forget(struct thread *t);
