/* Signal state syscalls: handlers, the blocked mask and the alternate stack are recorded as Linux
 * would; delivery comes with threads and signals (faults are fatal until then, linux/exit.c). */
#include "errno.h"
#include "lib.h"
#include "linux/linux.h"

#define SIGSTOP 19
#define SIG_BLOCK 0
#define SIG_UNBLOCK 1
#define SIG_SETMASK 2
#define SS_ONSTACK 1
#define SS_DISABLE 2
#define MINSIGSTKSZ 2048
#define UNBLOCKABLE ((1UL << (SIGKILL - 1)) | (1UL << (SIGSTOP - 1)))

SYSCALL_DEFINE(rt_sigaction)
{
	int sig = (int)a0;
	if (a3 != 8 || sig < 1 || sig > NSIG)
		return -EINVAL;
	if (a1 && (sig == SIGKILL || sig == SIGSTOP))
		return -EINVAL;
	struct k_sigaction old = current->actions[sig], next;
	if (a1) {
		if (copy_from_user(&next, a1, sizeof(next)) < 0)
			return -EFAULT;
		next.mask &= ~UNBLOCKABLE;
	}
	if (a2 && copy_to_user(a2, &old, sizeof(old)) < 0)
		return -EFAULT;
	if (a1)
		current->actions[sig] = next;
	return 0;
}

SYSCALL_DEFINE(rt_sigprocmask)
{
	if (a3 != 8)
		return -EINVAL;
	uint64_t old = current->signal_mask, set = 0;
	if (a1) {
		if (copy_from_user(&set, a1, 8) < 0)
			return -EFAULT;
		if (a0 != SIG_BLOCK && a0 != SIG_UNBLOCK && a0 != SIG_SETMASK)
			return -EINVAL;
	}
	if (a2 && copy_to_user(a2, &old, 8) < 0)
		return -EFAULT;
	if (a1) {
		uint64_t mask = a0 == SIG_BLOCK ? old | set : a0 == SIG_UNBLOCK ? old & ~set : set;
		current->signal_mask = mask & ~UNBLOCKABLE;
	}
	return 0;
}

struct stack_t {
	uint64_t sp;
	int32_t flags, pad;
	uint64_t size;
};

SYSCALL_DEFINE(sigaltstack)
{
	struct stack_t old = {current->altstack_sp, current->altstack_sp ? current->altstack_flags : SS_DISABLE, 0,
			      current->altstack_size};
	if (a0) {
		struct stack_t next;
		if (copy_from_user(&next, a0, sizeof(next)) < 0)
			return -EFAULT;
		if (next.flags & ~(SS_DISABLE | (1 << 31)))
			return -EINVAL;
		if (!(next.flags & SS_DISABLE) && next.size < MINSIGSTKSZ)
			return -ENOMEM;
		bool disable = next.flags & SS_DISABLE;
		current->altstack_sp = disable ? 0 : next.sp;
		current->altstack_size = disable ? 0 : next.size;
		current->altstack_flags = next.flags;
	}
	if (a1 && copy_to_user(a1, &old, sizeof(old)) < 0)
		return -EFAULT;
	return 0;
}
