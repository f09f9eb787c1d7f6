/* Syscall dispatch: the table is linux/syscalls.def expanded twice (handlers and names). Numbers
 * without a handler return -ENOSYS, and with --verbose each is named once on the console. Called from
 * syscall_entry in entry.S with the user's registers in a trap frame; runs due deferred work
 * (sched/deferred.h) on the way out. */
#include "errno.h"
#include "lib.h"
#include "linux/linux.h"
#include "sched/deferred.h"

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
	if (deferred_pending())
		deferred_run(); /* packets that arrived during the syscall */
	f->rax = ret;
	return ret;
}
