/* Syscall dispatch: the table is linux/syscalls.def expanded twice (handlers and names). Numbers
 * without a handler return -ENOSYS, and with --verbose each is named once on the console. Called from
 * syscall_entry in entry.S (or traps.c under kvm_pvm) with the user's registers in a trap frame.
 * Also the common way back to user mode (return_to_user): due deferred work (sched/deferred.h), the
 * end of a time slice, pending signals (linux/signal.c). */
#include "errno.h"
#include "fs/file.h"
#include "lib.h"
#include "linux/linux.h"
#include "sched/deferred.h"
#include "sched/sched.h"

#define IMPL(nr, name) SYSCALL_DEFINE(name);
#define NONE(nr, name)
#include "linux/syscalls.def"
#undef IMPL
#undef NONE

#define MAX_SYSCALL 457

static const syscall_fn syscall_table[MAX_SYSCALL] = {
#define IMPL(nr, name) [nr] = sys_##name,
#define NONE(nr, name)
#include "linux/syscalls.def"
#undef IMPL
#undef NONE
};

static const char *const syscall_names[MAX_SYSCALL] = {
#define IMPL(nr, name) [nr] = #name,
#define NONE(nr, name) [nr] = #name,
#include "linux/syscalls.def"
#undef IMPL
#undef NONE
};

static uint8_t reported[MAX_SYSCALL];

static long missing_syscall(uint64_t nr)
{
	if (verbose) {
		if (nr >= MAX_SYSCALL)
			kprintf("osv: unknown syscall %lu: returning ENOSYS\n", nr);
		else if (!reported[nr]++)
			kprintf("osv: syscall %lu (%s) is not implemented: returning ENOSYS\n", nr,
				syscall_names[nr] ? syscall_names[nr] : "unknown");
	}
	return -ENOSYS;
}

long syscall_dispatch(struct trap_frame *f)
{
	uint64_t nr = f->rax;
	syscall_fn fn = nr < MAX_SYSCALL ? syscall_table[nr] : NULL;
	long ret = fn ? fn(f->rdi, f->rsi, f->rdx, f->r10, f->r8, f->r9) : missing_syscall(nr);
	f->rax = ret;
	/* (rt_sigreturn's result is the interrupted code's RAX, never a syscall to restart) */
	if (unlikely((uint64_t)(ret + ERESTART_RESTARTBLOCK) <= ERESTART_RESTARTBLOCK - ERESTARTSYS) && nr != 15) {
		struct thread *self = current_thread(); /* interrupted by a signal */
		self->syscall_nr = nr;
		self->work |= THREAD_WORK_RESTART;
	}
	cli(); /* nothing may arrive unseen between the last check and the return to user mode */
	return_to_user(f);
	return ret;
}

/* The slow part of return_to_user: something is to be done. Interrupts are off. */
static void return_work(struct trap_frame *f)
{
	struct thread *self = current_thread();
	for (;;) {
		if (deferred_pending())
			deferred_run(); /* packets that arrived meanwhile */
		if (this_cpu()->need_resched) {
			schedule();
			if (self->rseq)
				self->work |= THREAD_WORK_RSEQ;
			continue;
		}
		if (self->work) {
			uint32_t work = self->work;
			self->work = 0;
			if (work & THREAD_WORK_FILES)
				file_return_borrowed(self); /* the syscall is over */
			if (work & ~THREAD_WORK_FILES)
				signal_deliver(f, work);
			continue;
		}
		break;
	}
}

void return_to_user(struct trap_frame *f)
{
	if (unlikely(deferred_pending() || this_cpu()->need_resched || current_thread()->work))
		return_work(f);
}
