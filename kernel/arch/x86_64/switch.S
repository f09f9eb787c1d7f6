/* Switching kernel stacks between threads (called by sched/sched.c through arch/x86_64/context.c):
 * switch_to saves the callee-saved registers on the old thread's stack, its RSP in thread->ksp
 * (offset 0 of struct thread), and resumes the new thread where it last called switch_to — or, for a
 * thread that never ran, at thread_first_run, which finishes the switch in C and leaves for user mode
 * through trap_return with the registers thread_start_user put at the top of its stack. */

/* struct thread *switch_to(struct thread *prev, struct thread *next): returns, in next's context,
 * the thread that was switched away from. */
.text
.globl switch_to
switch_to:
	push %rbp
	push %rbx
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, (%rdi)
	mov (%rsi), %rsp
	mov %rdi, %rax
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbx
	pop %rbp
	ret

/* A new thread's first return from switch_to lands here, RSP at its user trap frame. */
.globl thread_first_run
thread_first_run:
	mov %rax, %rdi
	call sched_thread_first_run     /* frees a dead predecessor, releases sched_lock */
	mov %rsp, %rdi
	call return_to_user             /* signals queued before it ran */
	jmp trap_return
