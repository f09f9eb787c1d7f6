/* Signal syscalls: rt_sigaction, rt_sigprocmask (per thread), sigaltstack, rt_sigreturn, kill, tkill,
 * tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo, rt_sigpending, rt_sigsuspend, rt_sigtimedwait, pause.
 * The machinery (queues, delivery, frames) is in linux/signal.c. The process is pid 1; its threads
 * are the only other targets (kill of any other pid is ESRCH). */
#include "arch/x86_64/clock.h"
#include "errno.h"
#include "lib.h"
#include "linux/linux.h"
#include "sched/sched.h"
#include "sched/wait.h"

#define SIG_BLOCK 0
#define SIG_UNBLOCK 1
#define SIG_SETMASK 2
#define SS_ONSTACK 1
#define SS_DISABLE 2
#define SS_AUTODISARM (1U << 31)
#define MINSIGSTKSZ 2048

SYSCALL_DEFINE(rt_sigaction)
{
	int sig = (int)a0;
	if (a3 != 8 || sig < 1 || sig > NSIG)
		return -EINVAL;
	if (a1 && (sig == SIGKILL || sig == SIGSTOP))
		return -EINVAL;
	struct k_sigaction next;
	if (a1) {
		if (copy_from_user(&next, a1, sizeof(next)) < 0)
			return -EFAULT;
		next.mask &= ~UNBLOCKABLE;
	}
	uint64_t flags = spin_lock_irqsave(&sched_lock);
	struct k_sigaction old = current->actions[sig];
	if (a1) {
		current->actions[sig] = next;
		signal_discard_ignored(sig); /* pending instances go when the action becomes "ignore" */
	}
	spin_unlock_irqrestore(&sched_lock, flags);
	if (a2 && copy_to_user(a2, &old, sizeof(old)) < 0)
		return -EFAULT;
	return 0;
}

SYSCALL_DEFINE(rt_sigprocmask)
{
	if (a3 != 8)
		return -EINVAL;
	struct thread *self = current_thread();
	uint64_t set = 0;
	if (a1) {
		if (copy_from_user(&set, a1, 8) < 0)
			return -EFAULT;
		if (a0 != SIG_BLOCK && a0 != SIG_UNBLOCK && a0 != SIG_SETMASK)
			return -EINVAL;
	}
	uint64_t flags = spin_lock_irqsave(&sched_lock);
	uint64_t old = self->sig.blocked;
	if (a1) {
		uint64_t mask = a0 == SIG_BLOCK ? old | set : a0 == SIG_UNBLOCK ? old & ~set : set;
		self->sig.blocked = mask & ~UNBLOCKABLE;
		signal_recheck(self); /* newly unblocked signals are delivered on the way out */
	}
	spin_unlock_irqrestore(&sched_lock, flags);
	if (a2 && copy_to_user(a2, &old, 8) < 0)
		return -EFAULT;
	return 0;
}

SYSCALL_DEFINE(rt_sigreturn) { return signal_return(thread_user_frame(current_thread())); }

struct stack_t {
	uint64_t sp;
	int32_t flags, pad;
	uint64_t size;
};

static bool on_altstack(const struct thread *t, uint64_t sp)
{
	return t->sig.altstack_size && sp > t->sig.altstack_sp && sp - t->sig.altstack_sp <= t->sig.altstack_size;
}

SYSCALL_DEFINE(sigaltstack)
{
	struct thread *self = current_thread();
	uint64_t sp = thread_user_frame(self)->rsp;
	bool on = on_altstack(self, sp);
	struct stack_t old = {self->sig.altstack_sp,
			      self->sig.altstack_size ? (on ? SS_ONSTACK : 0) | self->sig.altstack_flags : SS_DISABLE, 0,
			      self->sig.altstack_size};
	if (a0) {
		struct stack_t next;
		if (copy_from_user(&next, a0, sizeof(next)) < 0)
			return -EFAULT;
		if (on)
			return -EPERM;
		uint32_t mode = (uint32_t)next.flags & ~SS_AUTODISARM;
		if (mode != 0 && mode != SS_DISABLE && mode != SS_ONSTACK)
			return -EINVAL;
		if (mode == SS_DISABLE) {
			self->sig.altstack_sp = 0;
			self->sig.altstack_size = 0;
			self->sig.altstack_flags = 0;
		} else {
			if (next.size < MINSIGSTKSZ)
				return -ENOMEM;
			self->sig.altstack_sp = next.sp;
			self->sig.altstack_size = next.size;
			self->sig.altstack_flags = (int)((uint32_t)next.flags & SS_AUTODISARM);
		}
	}
	if (a1 && copy_to_user(a1, &old, sizeof(old)) < 0)
		return -EFAULT;
	return 0;
}

static struct ksiginfo user_info(int sig, int code)
{
	return (struct ksiginfo){sig, 0, code, 0, {APP_PID /* si_pid; si_uid 0 */, 0, 0, 0}};
}

/* The live thread tid, or NULL. */
static struct thread *find_thread(int tid)
{
	uint64_t flags = spin_lock_irqsave(&sched_lock);
	struct thread *t = thread_by_tid(tid);
	spin_unlock_irqrestore(&sched_lock, flags);
	return t;
}

/* kill's pid names our process: itself, one of its threads (Linux sends to the whole group), its
 * process group, or everything we may signal. */
static bool names_process(int64_t pid)
{
	if (pid == 0 || pid == -1 || pid == APP_PID || pid == -APP_PID)
		return true;
	return pid > 0 && pid < 0x40000000 && find_thread((int)pid);
}

SYSCALL_DEFINE(kill)
{
	int64_t pid = (int32_t)a0;
	int sig = (int)a1;
	if (sig < 0 || sig > NSIG)
		return -EINVAL;
	if (!names_process(pid))
		return -ESRCH;
	if (sig == 0)
		return 0;
	struct ksiginfo info = user_info(sig, SI_USER);
	return signal_send_process(&info);
}

static long kill_thread(int64_t tgid, int64_t tid, int sig, const struct ksiginfo *given)
{
	if (sig < 0 || sig > NSIG || tid <= 0)
		return -EINVAL;
	if (tgid != -1 && tgid != APP_PID)
		return tgid <= 0 ? -EINVAL : -ESRCH;
	struct thread *t = tid < 0x40000000 ? find_thread((int)tid) : NULL;
	if (!t)
		return -ESRCH;
	if (sig == 0)
		return 0;
	struct ksiginfo info = given ? *given : user_info(sig, SI_TKILL);
	info.signo = sig;
	return signal_send_thread(t, &info);
}

SYSCALL_DEFINE(tkill) { return kill_thread(-1, (int32_t)a0, (int)a1, NULL); }
SYSCALL_DEFINE(tgkill) { return kill_thread((int32_t)a0, (int32_t)a1, (int)a2, NULL); }

/* The siginfo a program passes to rt_sigqueueinfo: it may not pretend to be the kernel. */
static long read_user_info(uint64_t user, int sig, struct ksiginfo *info)
{
	uint8_t raw[48];
	if (copy_from_user(raw, user, sizeof(raw)) < 0)
		return -EFAULT;
	memcpy(info, raw, sizeof(*info));
	info->signo = sig;
	if (info->code >= 0 || info->code == SI_TKILL)
		return -EPERM;
	return 0;
}

SYSCALL_DEFINE(rt_sigqueueinfo)
{
	int sig = (int)a1;
	struct ksiginfo info;
	if (sig < 0 || sig > NSIG)
		return -EINVAL;
	if (!names_process((int32_t)a0) || (int32_t)a0 <= 0)
		return -ESRCH;
	long r = read_user_info(a2, sig, &info);
	if (r < 0)
		return r;
	return sig ? signal_send_process(&info) : 0;
}

SYSCALL_DEFINE(rt_tgsigqueueinfo)
{
	int sig = (int)a2;
	struct ksiginfo info;
	long r = read_user_info(a3, sig, &info);
	if (r < 0)
		return r;
	return kill_thread((int32_t)a0, (int32_t)a1, sig, &info);
}

SYSCALL_DEFINE(rt_sigpending)
{
	if (a1 > 8)
		return -EINVAL;
	struct thread *self = current_thread();
	uint64_t flags = spin_lock_irqsave(&sched_lock);
	uint64_t pending = (self->sig.pending.mask | current->shared_pending.mask) & self->sig.blocked;
	spin_unlock_irqrestore(&sched_lock, flags);
	return copy_to_user(a0, &pending, a1);
}

/* Blocks until a signal is pending (a handler then runs with the old mask restored after it). */
static long wait_for_signal(void)
{
	while (!signal_pending(current_thread()))
		sleep_until(0, true);
	return -ERESTARTNOHAND;
}

SYSCALL_DEFINE(pause) { return wait_for_signal(); }

SYSCALL_DEFINE(rt_sigsuspend)
{
	uint64_t mask;
	if (a1 != 8)
		return -EINVAL;
	if (copy_from_user(&mask, a0, 8) < 0)
		return -EFAULT;
	signal_set_temporary_mask(mask);
	return wait_for_signal();
}

struct wanted {
	struct thread *self;
	uint64_t set;
};

static bool wanted_pending(void *arg)
{
	struct wanted *w = arg;
	return ((w->self->sig.pending.mask | current->shared_pending.mask) & w->set) != 0;
}

/* rt_sigtimedwait(set, info, timeout, size): takes a pending signal of set (normally blocked) without
 * running its handler; waits for one meanwhile. */
SYSCALL_DEFINE(rt_sigtimedwait)
{
	uint64_t set;
	if (a3 != 8)
		return -EINVAL;
	if (copy_from_user(&set, a0, 8) < 0)
		return -EFAULT;
	set &= ~UNBLOCKABLE;
	uint64_t deadline = 0;
	bool poll_only = false;
	if (a2) {
		struct {
			int64_t sec, nsec;
		} ts;
		if (copy_from_user(&ts, a2, sizeof(ts)) < 0)
			return -EFAULT;
		if (ts.sec < 0 || ts.nsec < 0 || ts.nsec >= 1000000000L)
			return -EINVAL;
		uint64_t ns = (uint64_t)MIN(ts.sec, 1L << 32) * 1000000000UL + (uint64_t)ts.nsec;
		poll_only = ns == 0;
		deadline = clock_monotonic_ns() + ns;
	}
	struct thread *self = current_thread();
	struct wanted w = {self, set};
	struct ksiginfo info;
	int sig = 0;
	for (;;) {
		uint64_t flags = spin_lock_irqsave(&sched_lock);
		sig = signal_take(self, set, &info);
		/* While waiting, the signals of set wake us as if unblocked (Linux's real_blocked). */
		uint64_t blocked = self->sig.blocked;
		if (!sig && !poll_only)
			self->sig.blocked &= ~set;
		spin_unlock_irqrestore(&sched_lock, flags);
		if (sig || poll_only)
			break;
		int r = wait_event(NULL, wanted_pending, &w, deadline, 0, true);
		flags = spin_lock_irqsave(&sched_lock);
		self->sig.blocked = blocked;
		signal_recheck(self);
		sig = signal_take(self, set, &info);
		spin_unlock_irqrestore(&sched_lock, flags);
		if (sig)
			break;
		if (r == -ETIMEDOUT)
			return -EAGAIN;
		if (r == -EINTR || signal_pending(self))
			return -EINTR;
	}
	if (!sig)
		return -EAGAIN;
	if (a1) {
		uint8_t raw[128];
		memset(raw, 0, sizeof(raw));
		memcpy(raw, &info, sizeof(info));
		if (copy_to_user(a1, raw, sizeof(raw)) < 0)
			return -EFAULT;
	}
	return sig;
}
