/* Signal machinery (see linux/signal.h): pending sets per thread and per process, sending (kill,
 * tgkill, faults, SIGPIPE, timers), choosing the thread a process-directed signal wakes, delivery on
 * the way back to user mode — handler frames in Linux's x86-64 rt_sigframe layout (siginfo, ucontext
 * with the registers and FPU state), default actions, SA_RESTART and friends for interrupted
 * syscalls — and rt_sigreturn. The syscalls are in linux/sys_signal.c. State is under sched_lock. */
#include "arch/x86_64/fpu.h"
#include "errno.h"
#include "lib.h"
#include "linux/linux.h"
#include "mm/mm.h"
#include "sched/deferred.h"
#include "sched/sched.h"

#define UC_FP_XSTATE 0x1
#define UC_SIGCONTEXT_SS 0x2
#define UC_STRICT_RESTORE_SS 0x4
#define SS_ONSTACK 1
#define SS_DISABLE 2
#define SS_AUTODISARM (1U << 31)
#define RED_ZONE 128
#define NR_restart_syscall 219
/* Signals the CPU raises for the instruction that just ran: delivered before any other. */
#define SYNCHRONOUS_MASK (sigbit(SIGSEGV) | sigbit(SIGBUS) | sigbit(SIGILL) | sigbit(SIGTRAP) | sigbit(SIGFPE) | sigbit(SIGSYS))
/* RFLAGS bits rt_sigreturn takes from the frame (Linux's FIX_EFLAGS). */
#define FIX_EFLAGS 0x40dd5UL /* AC OF DF TF SF ZF AF PF CF */
#define RFLAGS_TF (1UL << 8)
#define RFLAGS_DF (1UL << 10)
#define RFLAGS_RF (1UL << 16)

struct sigcontext {
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
	uint16_t cs, gs, fs, ss;
	uint64_t err, trapno, oldmask, cr2;
	uint64_t fpstate;
	uint64_t reserved[8];
};

struct user_stack {
	uint64_t sp;
	int32_t flags, pad;
	uint64_t size;
};

struct ucontext {
	uint64_t flags, link;
	struct user_stack stack;
	struct sigcontext mcontext;
	uint64_t sigmask;
};

/* What the handler's stack pointer points at: its return address (sa_restorer, which calls
 * rt_sigreturn), the context, then the siginfo. The FPU state lies above, 64-byte aligned. */
struct rt_sigframe {
	uint64_t restorer;
	struct ucontext uc;
	uint8_t info[128];
};

static_assert(sizeof(struct sigcontext) == 256, "sigcontext layout");
static_assert(offsetof(struct rt_sigframe, info) == 312, "rt_sigframe layout");

static const char *const names[32] = {
    NULL,      "SIGHUP",  "SIGINT",    "SIGQUIT", "SIGILL",  "SIGTRAP", "SIGABRT", "SIGBUS",
    "SIGFPE",  "SIGKILL", "SIGUSR1",   "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM",
    "SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG",
    "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS",
};

const char *signal_name(int signo)
{
	if (signo > 0 && signo < 32)
		return names[signo];
	return signo >= SIGRTMIN && signo <= NSIG ? "a real-time signal" : "signal";
}

/* Default action "ignore". Stop signals are ignored too: nothing could continue a stopped unikernel. */
static bool default_ignored(int sig)
{
	return sig == SIGCHLD || sig == SIGURG || sig == SIGWINCH || sig == SIGCONT || sig == SIGSTOP ||
	       sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

static bool action_ignores(int sig)
{
	uint64_t handler = current->actions[sig].handler;
	return sig != SIGKILL && (handler == SIG_IGN || (handler == SIG_DFL && default_ignored(sig)));
}

void signal_thread_init(struct thread_signals *s)
{
	memset(s, 0, offsetof(struct thread_signals, pending.standard));
	list_init(&s->pending.queued);
}

void signal_thread_inherit(struct thread_signals *s, const struct thread_signals *parent)
{
	signal_thread_init(s);
	s->blocked = parent->blocked;
}

static void flush_queued(struct sigpending *p, int only)
{
	list_for_each_safe(l, &p->queued) {
		struct sigqueue_entry *e = list_entry(l, struct sigqueue_entry, link);
		if (!only || e->info.signo == only) {
			list_remove(&e->link);
			kfree(e);
		}
	}
}

void signal_thread_free(struct thread_signals *s) { flush_queued(&s->pending, 0); }

static int enqueue(struct sigpending *p, const struct ksiginfo *info, bool may_allocate)
{
	int sig = info->signo;
	if (sig < SIGRTMIN) {
		if (!(p->mask & sigbit(sig))) /* a standard signal already pending is not queued twice */
			p->standard[sig] = *info;
	} else {
		struct sigqueue_entry *e = may_allocate ? kmalloc(sizeof(*e)) : NULL;
		if (!e)
			return -EAGAIN;
		e->info = *info;
		list_add_tail(&p->queued, &e->link);
	}
	p->mask |= sigbit(sig);
	return 0;
}

/* Takes the lowest pending signal of allowed (synchronous ones first) from p; its number, or 0. */
static int take(struct sigpending *p, uint64_t allowed, struct ksiginfo *out)
{
	uint64_t ready = p->mask & allowed;
	if (!ready)
		return 0;
	if (ready & SYNCHRONOUS_MASK)
		ready &= SYNCHRONOUS_MASK;
	int sig = __builtin_ctzl(ready) + 1;
	if (sig < SIGRTMIN) {
		*out = p->standard[sig];
		p->mask &= ~sigbit(sig);
		return sig;
	}
	bool more = false, found = false;
	list_for_each_safe(l, &p->queued) {
		struct sigqueue_entry *e = list_entry(l, struct sigqueue_entry, link);
		if (e->info.signo != sig)
			continue;
		if (found) {
			more = true;
			break;
		}
		*out = e->info;
		list_remove(&e->link);
		kfree(e);
		found = true;
	}
	if (!more)
		p->mask &= ~sigbit(sig);
	return found ? sig : 0;
}

/* sched_lock held: a thread's own pending signals first, then the process's. */
static int dequeue(struct thread *t, uint64_t allowed, struct ksiginfo *out)
{
	int sig = take(&t->sig.pending, allowed, out);
	return sig ? sig : take(&current->shared_pending, allowed, out);
}

int signal_take(struct thread *t, uint64_t set, struct ksiginfo *out) { return dequeue(t, set, out); }

static void discard(struct sigpending *p, int sig)
{
	if (sig >= SIGRTMIN)
		flush_queued(p, sig);
	p->mask &= ~sigbit(sig);
}

static void discard_from_thread(struct thread *t, void *sig) { discard(&t->sig.pending, *(int *)sig); }

void signal_discard_ignored(int sig)
{
	if (!action_ignores(sig))
		return;
	thread_for_each(discard_from_thread, &sig);
	discard(&current->shared_pending, sig);
}

bool signal_pending(const struct thread *t)
{
	return ((t->sig.pending.mask | current->shared_pending.mask) & ~t->sig.blocked) != 0;
}

void signal_recheck(struct thread *t) { t->work |= THREAD_WORK_SIGNAL; }

/* sched_lock held: t has a signal to act on: end its interruptible wait. */
static void notify(struct thread *t)
{
	t->work |= THREAD_WORK_SIGNAL;
	sched_wake_locked(t, WAKE_SIGNAL);
}

static int send_thread(struct thread *t, const struct ksiginfo *info, bool may_allocate)
{
	int sig = info->signo;
	if (sig < 1 || sig > NSIG)
		return -EINVAL;
	if (action_ignores(sig) && !(t->sig.blocked & sigbit(sig)))
		return 0;
	int r = enqueue(&t->sig.pending, info, may_allocate);
	if (r == 0 && !(t->sig.blocked & sigbit(sig)))
		notify(t);
	else if (r == 0)
		deferred_notify_locked(); /* a blocked signal: signalfd readers, poll and epoll re-check */
	return r;
}

struct pick {
	int sig;
	struct thread *chosen, *leader;
};

static void consider_thread(struct thread *t, void *arg)
{
	struct pick *p = arg;
	if (t->tid == 1)
		p->leader = t;
	if (!p->chosen && !t->killed && !(t->sig.blocked & sigbit(p->sig)))
		p->chosen = t;
}

static int send_process(const struct ksiginfo *info, bool may_allocate)
{
	int sig = info->signo;
	if (sig < 1 || sig > NSIG)
		return -EINVAL;
	struct thread *self = current_thread();
	struct pick p = {sig, NULL, NULL};
	if (!self->idle && !(self->sig.blocked & sigbit(sig)))
		p.chosen = self; /* the sender itself, as Linux prefers */
	thread_for_each(consider_thread, &p);
	struct thread *leader = p.leader ? p.leader : p.chosen;
	if (action_ignores(sig) && !(leader && (leader->sig.blocked & sigbit(sig))))
		return 0;
	int r = enqueue(&current->shared_pending, info, may_allocate);
	if (r == 0 && p.chosen)
		notify(p.chosen);
	else if (r == 0)
		deferred_notify_locked(); /* blocked everywhere: signalfd readers, poll and epoll re-check */
	return r;
}

int signal_send_process_locked(const struct ksiginfo *info) { return send_process(info, false); }

int signal_send_thread(struct thread *t, const struct ksiginfo *info)
{
	uint64_t flags = spin_lock_irqsave(&sched_lock);
	int r = send_thread(t, info, true);
	spin_unlock_irqrestore(&sched_lock, flags);
	return r;
}

int signal_send_process(const struct ksiginfo *info)
{
	uint64_t flags = spin_lock_irqsave(&sched_lock);
	int r = send_process(info, true);
	spin_unlock_irqrestore(&sched_lock, flags);
	return r;
}

void signal_set_temporary_mask(uint64_t mask)
{
	struct thread *self = current_thread();
	uint64_t flags = spin_lock_irqsave(&sched_lock);
	if (!self->sig.restore_blocked) {
		self->sig.saved_blocked = self->sig.blocked;
		self->sig.restore_blocked = true;
	}
	self->sig.blocked = mask & ~UNBLOCKABLE;
	self->work |= THREAD_WORK_SIGNAL; /* newly unblocked signals, and the mask to put back */
	spin_unlock_irqrestore(&sched_lock, flags);
}

void signal_restore_mask(void)
{
	struct thread *self = current_thread();
	uint64_t flags = spin_lock_irqsave(&sched_lock);
	if (self->sig.restore_blocked) {
		self->sig.blocked = self->sig.saved_blocked;
		self->sig.restore_blocked = false;
	}
	spin_unlock_irqrestore(&sched_lock, flags);
}

/* ---- delivery ---- */

/* An interrupted syscall, once we know whether a handler runs (ka) or not (NULL): EINTR, or the
 * same syscall again (RIP back over the 2-byte `syscall`, RAX its number again). */
static void resolve_restart(struct thread *self, struct trap_frame *f, const struct k_sigaction *ka)
{
	long r = (long)f->rax;
	if (!signal_is_restart_code(f->rax))
		return;
	bool restart;
	switch (-r) {
	case ERESTARTSYS:
		restart = !ka || (ka->flags & SA_RESTART);
		break;
	case ERESTARTNOINTR:
		restart = true;
		break;
	default: /* ERESTARTNOHAND, ERESTART_RESTARTBLOCK */
		restart = !ka;
		break;
	}
	if (restart) {
		f->rax = self->syscall_nr;
		f->rip -= 2;
	} else {
		f->rax = (uint64_t)-EINTR;
	}
}

static bool on_altstack(const struct thread *t, uint64_t sp)
{
	return t->sig.altstack_size && sp > t->sig.altstack_sp && sp - t->sig.altstack_sp <= t->sig.altstack_size;
}

static int altstack_flags(const struct thread *t, uint64_t sp)
{
	if (!t->sig.altstack_size)
		return SS_DISABLE;
	return on_altstack(t, sp) ? SS_ONSTACK : 0;
}

/* The rseq area's critical-section descriptor (struct rseq_cs). */
struct rseq_cs {
	uint32_t version, flags;
	uint64_t start_ip, post_commit_offset, abort_ip;
};

/* A thread preempted or signalled inside an rseq critical section resumes at its abort handler
 * (and the section is cleared), as Linux does. False when the rseq area is unusable (SIGSEGV). */
static bool rseq_fixup(struct thread *self, struct trap_frame *f)
{
	if (!self->rseq)
		return true;
	uint64_t cs_addr = 0;
	if (copy_from_user(&cs_addr, self->rseq + 8, 8) < 0)
		return false;
	if (!cs_addr)
		return true;
	struct rseq_cs cs;
	if (copy_from_user(&cs, cs_addr, sizeof(cs)) < 0)
		return false;
	uint64_t zero = 0;
	if (f->rip >= cs.start_ip && f->rip - cs.start_ip < cs.post_commit_offset) {
		uint32_t sig = 0;
		if (copy_from_user(&sig, cs.abort_ip - 4, 4) < 0 || sig != self->rseq_sig)
			return false;
		f->rip = cs.abort_ip;
	}
	return copy_to_user(self->rseq + 8, &zero, 8) == 0;
}

/* Builds the handler's frame on the user stack (or the alternate stack) and points the registers at
 * the handler; false when the frame cannot be written. */
static bool setup_frame(struct thread *self, struct trap_frame *f, int sig, const struct ksiginfo *info,
			const struct k_sigaction *ka, uint64_t mask_to_restore)
{
	if (!(ka->flags & SA_RESTORER))
		return false; /* x86-64 handlers return through sa_restorer; libcs always set it */
	uint64_t sp = f->rsp - RED_ZONE;
	bool switch_stack = (ka->flags & SA_ONSTACK) && self->sig.altstack_size && !on_altstack(self, f->rsp);
	if (switch_stack)
		sp = self->sig.altstack_sp + self->sig.altstack_size;
	uint64_t fpstate = ALIGN_DOWN(sp - fpu_sigframe_size(), 64);
	uint64_t frame_addr = ALIGN_DOWN(fpstate - sizeof(struct rt_sigframe), 16) - 8;

	fpu_save(self->fpu); /* the thread's live registers */
	if (fpu_to_sigframe(self->fpu, fpstate) < 0)
		return false;
	struct rt_sigframe frame;
	memset(&frame, 0, sizeof(frame));
	frame.restorer = ka->restorer;
	frame.uc.flags = UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS | (fpu_sigframe_size() > 512 ? UC_FP_XSTATE : 0);
	frame.uc.stack = (struct user_stack){self->sig.altstack_sp, altstack_flags(self, f->rsp) | self->sig.altstack_flags,
					     0, self->sig.altstack_size};
	struct sigcontext *mc = &frame.uc.mcontext;
	*mc = (struct sigcontext){
	    .r8 = f->r8, .r9 = f->r9, .r10 = f->r10, .r11 = f->r11, .r12 = f->r12, .r13 = f->r13,
	    .r14 = f->r14, .r15 = f->r15, .rdi = f->rdi, .rsi = f->rsi, .rbp = f->rbp, .rbx = f->rbx,
	    .rdx = f->rdx, .rax = f->rax, .rcx = f->rcx, .rsp = f->rsp, .rip = f->rip, .eflags = f->rflags,
	    .cs = USER_CS, .ss = USER_DS, .oldmask = mask_to_restore, .fpstate = fpstate,
	};
	if (f->vector < 32 && (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGTRAP)) {
		mc->trapno = f->vector;
		mc->err = f->error;
		mc->cr2 = self->fault_addr;
	}
	frame.uc.sigmask = mask_to_restore;
	memcpy(frame.info, info, sizeof(*info));
	if (copy_to_user(frame_addr, &frame, sizeof(frame)) < 0)
		return false;
	fpu_load_initial(); /* the handler starts with a clean FPU, as on Linux */
	if (switch_stack && (self->sig.altstack_flags & SS_AUTODISARM)) {
		self->sig.altstack_sp = 0; /* disarmed while the handler runs; rt_sigreturn re-arms it */
		self->sig.altstack_size = 0;
		self->sig.altstack_flags = 0;
	}
	f->rdi = (uint64_t)sig;
	f->rsi = frame_addr + offsetof(struct rt_sigframe, info);
	f->rdx = frame_addr + offsetof(struct rt_sigframe, uc);
	f->rax = 0;
	f->rsp = frame_addr;
	f->rip = ka->handler;
	f->rflags &= ~(RFLAGS_DF | RFLAGS_TF | RFLAGS_RF);
	f->cs = USER_CS;
	f->ss = USER_DS;
	return true;
}

/* Default action "terminate" (with or without core: both end the VM with 128 + sig). */
static NORETURN void terminate(int sig)
{
	kverbose("osv: %s terminated by %s\n", current->exe_path, signal_name(sig));
	process_exit(128 + sig);
}

void signal_deliver(struct trap_frame *f, uint32_t work)
{
	struct thread *self = current_thread();
	bool handled = false, interrupted = work & THREAD_WORK_RESTART;
	if ((work & THREAD_WORK_RSEQ) && !rseq_fixup(self, f))
		app_fatal_fault(f, SIGSEGV, self->rseq);
	for (;;) {
		struct ksiginfo info;
		uint64_t flags = spin_lock_irqsave(&sched_lock);
		int sig = dequeue(self, ~self->sig.blocked, &info);
		if (!sig) {
			spin_unlock_irqrestore(&sched_lock, flags);
			break;
		}
		struct k_sigaction ka = current->actions[sig];
		if (ka.handler == SIG_IGN || (ka.handler == SIG_DFL && default_ignored(sig))) {
			spin_unlock_irqrestore(&sched_lock, flags);
			continue;
		}
		if (ka.handler == SIG_DFL) {
			spin_unlock_irqrestore(&sched_lock, flags);
			terminate(sig);
		}
		if (ka.flags & SA_RESETHAND)
			current->actions[sig].handler = SIG_DFL;
		uint64_t restore = self->sig.restore_blocked ? self->sig.saved_blocked : self->sig.blocked;
		self->sig.restore_blocked = false;
		spin_unlock_irqrestore(&sched_lock, flags);

		if (interrupted)
			resolve_restart(self, f, &ka);
		interrupted = false;
		if (self->rseq && !rseq_fixup(self, f))
			app_fatal_fault(f, SIGSEGV, self->rseq);
		if (!setup_frame(self, f, sig, &info, &ka, restore)) {
			kprintf("\nosv: %s: cannot write the frame of a %s handler (stack at %lx)\n", current->exe_path,
				signal_name(sig), f->rsp);
			app_fatal_fault(f, SIGSEGV, f->rsp);
		}
		flags = spin_lock_irqsave(&sched_lock);
		self->sig.blocked |= ka.mask | ((ka.flags & SA_NODEFER) ? 0 : sigbit(sig));
		self->sig.blocked &= ~UNBLOCKABLE;
		spin_unlock_irqrestore(&sched_lock, flags);
		handled = true;
	}
	if (!handled) {
		if (interrupted)
			resolve_restart(self, f, NULL);
		signal_restore_mask();
	}
}

long signal_return(struct trap_frame *f)
{
	struct thread *self = current_thread();
	uint64_t frame_addr = f->rsp - 8; /* the handler's `ret` popped the restorer's address */
	struct rt_sigframe frame;
	if (copy_from_user(&frame, frame_addr, sizeof(frame)) < 0) {
		kprintf("\nosv: %s: rt_sigreturn with no signal frame at %lx\n", current->exe_path, frame_addr);
		app_fatal_fault(f, SIGSEGV, frame_addr);
	}
	const struct sigcontext *mc = &frame.uc.mcontext;
	bool was_on_altstack = on_altstack(self, f->rsp);
	if (mc->fpstate) {
		if (fpu_from_sigframe(self->fpu, mc->fpstate) < 0) {
			kprintf("\nosv: %s: rt_sigreturn with unreadable FPU state at %lx\n", current->exe_path, mc->fpstate);
			app_fatal_fault(f, SIGSEGV, mc->fpstate);
		}
		fpu_restore(self->fpu);
	} else {
		fpu_load_initial();
	}
	f->r8 = mc->r8, f->r9 = mc->r9, f->r10 = mc->r10, f->r11 = mc->r11;
	f->r12 = mc->r12, f->r13 = mc->r13, f->r14 = mc->r14, f->r15 = mc->r15;
	f->rdi = mc->rdi, f->rsi = mc->rsi, f->rbp = mc->rbp, f->rbx = mc->rbx;
	f->rdx = mc->rdx, f->rax = mc->rax, f->rcx = mc->rcx, f->rsp = mc->rsp, f->rip = mc->rip;
	f->rflags = (f->rflags & ~FIX_EFLAGS) | (mc->eflags & FIX_EFLAGS) | RFLAGS_IF | 0x2;
	f->cs = USER_CS;
	f->ss = USER_DS;
	uint64_t flags = spin_lock_irqsave(&sched_lock);
	self->sig.blocked = frame.uc.sigmask & ~UNBLOCKABLE;
	self->sig.restore_blocked = false;
	spin_unlock_irqrestore(&sched_lock, flags);
	/* The alternate stack settings come back unless the handler ran on it (Linux ignores the EPERM). */
	const struct user_stack *ss = &frame.uc.stack;
	if (!was_on_altstack && !((uint32_t)ss->flags & ~(SS_DISABLE | SS_ONSTACK | SS_AUTODISARM))) {
		bool disable = (ss->flags & SS_DISABLE) || !ss->size;
		self->sig.altstack_sp = disable ? 0 : ss->sp;
		self->sig.altstack_size = disable ? 0 : ss->size;
		self->sig.altstack_flags = disable ? 0 : (int)((uint32_t)ss->flags & SS_AUTODISARM);
	}
	self->work |= THREAD_WORK_SIGNAL; /* the restored mask may unblock pending signals */
	/* The restored RAX is returned as is: syscall_dispatch sees no restart code in it unless the
	 * interrupted code had one in RAX, which only a syscall result can be. */
	return (long)f->rax;
}

/* ---- faults ---- */

void signal_fault(struct trap_frame *f, int signo, int code, uint64_t addr)
{
	struct thread *self = current_thread();
	uint64_t flags = spin_lock_irqsave(&sched_lock);
	uint64_t handler = current->actions[signo].handler;
	bool caught = handler != SIG_DFL && handler != SIG_IGN && !(self->sig.blocked & sigbit(signo));
	if (caught) {
		struct ksiginfo info = {signo, 0, code, 0, {addr, 0, 0, 0}};
		self->fault_addr = addr;
		self->work |= THREAD_WORK_SIGNAL;
		/* Forced: a second fault while the first is pending must not be merged away silently. */
		self->sig.pending.mask &= ~sigbit(signo);
		enqueue(&self->sig.pending, &info, false);
	}
	spin_unlock_irqrestore(&sched_lock, flags);
	if (!caught)
		app_fatal_fault(f, signo, addr);
}
