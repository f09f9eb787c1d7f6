/* The machine side of threads: preparing a new thread's kernel stack so that switch_to starts it in
 * user mode, and handing the CPU's user-visible state (FPU/SSE/AVX registers, FS and GS bases, the
 * kernel stack that traps from user mode land on) from one thread to the next. The idle thread never
 * runs user code, so the registers stay with their owner while the CPU idles, and a thread that
 * blocks and wakes with nothing else run in between pays for no save or restore. */
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/fpu.h"
#include "arch/x86_64/percpu.h"
#include "lib.h"
#include "sched/thread.h"

struct thread *switch_to(struct thread *prev, struct thread *next);
extern char thread_first_run[];

/* The callee-saved registers switch_to pops, then its return address. */
struct switch_frame {
	uint64_t r15, r14, r13, r12, rbx, rbp, ret;
};

void arch_thread_prepare(struct thread *t, const struct trap_frame *frame)
{
	struct trap_frame *user = thread_user_frame(t);
	*user = *frame;
	struct switch_frame *sf = (struct switch_frame *)user - 1;
	memset(sf, 0, sizeof(*sf));
	sf->ret = (uint64_t)thread_first_run;
	t->ksp = (uint64_t)sf;
}

/* Saves the owner's registers into its thread and loads next's. Without user FSGSBASE the bases
 * change only through arch_prctl, which keeps thread->fs_base/gs_base current: no need to read them
 * back, nor to write the ones that do not differ. */
static void take_user_state(struct percpu *c, struct thread *next)
{
	struct thread *owner = c->user_owner;
	if (owner) {
		fpu_save(owner->fpu);
		if (cpu.user_fsgsbase) {
			owner->fs_base = rdmsr(MSR_FS_BASE);
			owner->gs_base = rdmsr(MSR_KERNEL_GS_BASE);
		}
	}
	fpu_restore(next->fpu);
	if (!owner || cpu.user_fsgsbase || owner->fs_base != next->fs_base)
		wrmsr(MSR_FS_BASE, next->fs_base);
	if (!owner || cpu.user_fsgsbase || owner->gs_base != next->gs_base)
		wrmsr(MSR_KERNEL_GS_BASE, next->gs_base);
	c->user_owner = next;
}

struct thread *arch_switch(struct thread *prev, struct thread *next)
{
	struct percpu *c = this_cpu();
	if (!next->idle) {
		if (c->user_owner != next)
			take_user_state(c, next);
		if (c->kernel_rsp != next->kstack_top)
			cpu_set_kernel_stack(next->kstack_top);
	}
	c->thread = next;
	return switch_to(prev, next);
}

void arch_thread_copy_user_state(struct thread *child)
{
	/* The caller is the running thread, so its state is in the registers. */
	struct thread *self = this_cpu()->user_owner;
	fpu_save(child->fpu);
	child->fs_base = cpu.user_fsgsbase ? rdmsr(MSR_FS_BASE) : self->fs_base;
	child->gs_base = cpu.user_fsgsbase ? rdmsr(MSR_KERNEL_GS_BASE) : self->gs_base;
}

void arch_thread_forget(struct thread *t)
{
	struct percpu *c = this_cpu();
	if (c->user_owner == t)
		c->user_owner = NULL;
}
