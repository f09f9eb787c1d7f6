/* Thread syscalls: clone and clone3 for threads (what pthread_create and Go's runtime ask for), exit of
 * one thread (its robust futexes and clear_child_tid word, then the process's end if it was the last),
 * set_tid_address, gettid, set/get_robust_list, rseq. New processes (fork, vfork, clone without
 * CLONE_VM|CLONE_THREAD, posix_spawn) are not supported: ENOSYS, named once with --verbose; so wait4 and
 * waitid find no child (ECHILD). */
#include "arch/x86_64/context.h"
#include "errno.h"
#include "fs/file.h"
#include "lib.h"
#include "linux/linux.h"
#include "sched/futex.h"
#include "sched/sched.h"

#define CSIGNAL 0xff
#define CLONE_VM 0x100
#define CLONE_FS 0x200
#define CLONE_FILES 0x400
#define CLONE_SIGHAND 0x800
#define CLONE_PIDFD 0x1000
#define CLONE_PTRACE 0x2000
#define CLONE_VFORK 0x4000
#define CLONE_PARENT 0x8000
#define CLONE_THREAD 0x10000
#define CLONE_SYSVSEM 0x40000
#define CLONE_SETTLS 0x80000
#define CLONE_PARENT_SETTID 0x100000
#define CLONE_CHILD_CLEARTID 0x200000
#define CLONE_DETACHED 0x400000
#define CLONE_UNTRACED 0x800000
#define CLONE_CHILD_SETTID 0x1000000
#define CLONE_IO 0x80000000UL
/* What a thread of this process may be created with. */
#define THREAD_FLAGS_REQUIRED (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD)
#define THREAD_FLAGS_ALLOWED                                                                                  \
	(THREAD_FLAGS_REQUIRED | CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID |     \
	 CLONE_DETACHED | CLONE_UNTRACED | CLONE_CHILD_SETTID | CLONE_IO | CLONE_PTRACE)

static bool process_reported, sharing_reported;

static long unsupported_process(const char *how)
{
	if (verbose && !process_reported) {
		kprintf("osv: %s of a new process (fork, vfork, posix_spawn) is not supported: returning ENOSYS\n", how);
		process_reported = true;
	}
	return -ENOSYS;
}

static long create_thread(uint64_t flags, uint64_t stack, uint64_t parent_tid, uint64_t child_tid, uint64_t tls,
			  const char *how)
{
	if ((flags & CLONE_THREAD) && !(flags & CLONE_SIGHAND))
		return -EINVAL;
	if ((flags & CLONE_SIGHAND) && !(flags & CLONE_VM))
		return -EINVAL;
	if (!(flags & CLONE_VM) || !(flags & CLONE_THREAD))
		return unsupported_process(how);
	if ((flags & THREAD_FLAGS_REQUIRED) != THREAD_FLAGS_REQUIRED || (flags & ~THREAD_FLAGS_ALLOWED & ~CSIGNAL)) {
		if (verbose && !sharing_reported) {
			kprintf("osv: %s of a thread with flags %lx (not sharing files, cwd, or with namespaces) is not "
				"supported: returning ENOSYS\n", how, flags);
			sharing_reported = true;
		}
		return -ENOSYS;
	}
	if ((flags & CLONE_SETTLS) && tls >= USER_TOP)
		return -EPERM;
	struct thread *self = current_thread();
	struct thread *t = thread_create();
	if (!t)
		return -EAGAIN;
	arch_thread_copy_user_state(t); /* FPU state and FS/GS bases of the creator */
	if (flags & CLONE_SETTLS)
		t->fs_base = tls;
	signal_thread_inherit(&t->sig, &self->sig);
	t->work = THREAD_WORK_SIGNAL; /* what the process has pending may be for it */
	memcpy(t->name, self->name, sizeof(t->name));
	t->nice = self->nice; /* as Linux: a new thread starts with its creator's nice value */
	t->clear_child_tid = (flags & CLONE_CHILD_CLEARTID) ? child_tid : 0;
	uint32_t tid = (uint32_t)t->tid;
	if (flags & CLONE_PARENT_SETTID)
		copy_to_user(parent_tid, &tid, 4); /* Linux ignores a bad address here too */
	if (flags & CLONE_CHILD_SETTID)
		copy_to_user(child_tid, &tid, 4);
	struct trap_frame frame = *thread_user_frame(self);
	frame.rax = 0; /* the child's return value */
	if (stack)
		frame.rsp = stack;
	thread_start_user(t, &frame);
	return t->tid;
}

/* clone(flags, stack, parent_tid, child_tid, tls): x86-64 argument order. */
SYSCALL_DEFINE(clone) { return create_thread(a0, a1, a2, a3, a4, "clone"); }

struct clone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size,
	    cgroup;
};

SYSCALL_DEFINE(clone3)
{
	struct clone_args args;
	uint64_t size = a1;
	if (size < 64 || size > PAGE_SIZE)
		return -EINVAL;
	memset(&args, 0, sizeof(args));
	if (copy_from_user(&args, a0, MIN(size, sizeof(args))) < 0)
		return -EFAULT;
	for (uint64_t off = sizeof(args); off < size; off += 8) { /* a newer struct: the rest must be zero */
		uint64_t word = 0;
		if (copy_from_user(&word, a0 + off, MIN(8, size - off)) < 0)
			return -EFAULT;
		if (word)
			return -E2BIG;
	}
	if (args.exit_signal > NSIG || args.set_tid || args.set_tid_size || (args.flags & CSIGNAL))
		return -EINVAL;
	if ((args.stack == 0) != (args.stack_size == 0))
		return -EINVAL;
	if ((args.flags & CLONE_THREAD) && args.exit_signal)
		return -EINVAL;
	uint64_t stack = args.stack ? args.stack + args.stack_size : 0;
	return create_thread(args.flags | args.exit_signal, stack, args.parent_tid, args.child_tid, args.tls,
			     "clone3");
}

SYSCALL_DEFINE(fork) { return unsupported_process("fork"); }
SYSCALL_DEFINE(vfork) { return unsupported_process("vfork"); }

#define WNOHANG 1
#define WUNTRACED 2
#define WEXITED 4
#define WCONTINUED 8
#define WNOWAIT 0x01000000
#define WAIT_SELECTORS 0xe0000000 /* __WNOTHREAD, __WALL, __WCLONE */
#define P_PIDFD 3

/* No child process can exist (see fork above): waiting for one says so. */
SYSCALL_DEFINE(wait4)
{
	if (a2 & ~(uint64_t)(WNOHANG | WUNTRACED | WCONTINUED | WAIT_SELECTORS))
		return -EINVAL;
	return -ECHILD;
}

SYSCALL_DEFINE(waitid)
{
	if (a0 > P_PIDFD || (a3 & ~(uint64_t)(WNOHANG | WUNTRACED | WEXITED | WCONTINUED | WNOWAIT | WAIT_SELECTORS)))
		return -EINVAL;
	if (!(a3 & (WUNTRACED | WEXITED | WCONTINUED)))
		return -EINVAL;
	return -ECHILD;
}

SYSCALL_DEFINE(exit)
{
	struct thread *self = current_thread();
	int code = (int)(a0 & 0xff);
	/* Leave first: two threads exiting at once cannot both see the other still counted. */
	bool last = thread_leave(self) == 0;
	futex_thread_exit(self);
	file_return_borrowed(self);
	if (last) /* the last thread: the process ends with its status (as Linux 6 does) */
		process_exit(code);
	if (self->tid == 1)
		current->leader_exited = true; /* still counted in /proc/self/status, as Linux's zombie leader */
	sched_exit_current();
}

SYSCALL_DEFINE(gettid) { return current_thread()->tid; }

SYSCALL_DEFINE(set_tid_address)
{
	struct thread *self = current_thread();
	self->clear_child_tid = a0;
	return self->tid;
}

SYSCALL_DEFINE(set_robust_list)
{
	if (a1 != 24) /* sizeof(struct robust_list_head) */
		return -EINVAL;
	struct thread *self = current_thread();
	self->robust_list = a0;
	self->robust_list_len = a1;
	return 0;
}

SYSCALL_DEFINE(get_robust_list)
{
	int tid = (int)a0;
	struct thread *t = current_thread();
	if (tid) {
		uint64_t flags = spin_lock_irqsave(&sched_lock);
		t = thread_by_tid(tid);
		spin_unlock_irqrestore(&sched_lock, flags);
		if (!t)
			return -ESRCH;
	}
	uint64_t len = 24;
	if (copy_to_user(a1, &t->robust_list, 8) < 0 || copy_to_user(a2, &len, 8) < 0)
		return -EFAULT;
	return 0;
}

#define RSEQ_FLAG_UNREGISTER 1

/* rseq: the area gets cpu_id 0 (one CPU); a thread preempted or signalled inside a critical section
 * resumes at its abort handler (linux/signal.c). */
SYSCALL_DEFINE(rseq)
{
	uint64_t area = a0, len = a1, flags = a2;
	uint32_t sig = (uint32_t)a3;
	struct thread *self = current_thread();
	if (flags & ~(uint64_t)RSEQ_FLAG_UNREGISTER)
		return -EINVAL;
	if (flags & RSEQ_FLAG_UNREGISTER) {
		if (self->rseq != area || self->rseq_len != len)
			return -EINVAL;
		if (self->rseq_sig != sig)
			return -EPERM;
		self->rseq = 0;
		return 0;
	}
	if (self->rseq)
		return self->rseq == area && self->rseq_len == len ? (self->rseq_sig == sig ? -EBUSY : -EPERM) : -EINVAL;
	if (len < 32 || (area & 31))
		return -EINVAL;
	uint32_t ids[2] = {0, 0}; /* cpu_id_start, cpu_id */
	if (copy_to_user(area, ids, sizeof(ids)) < 0)
		return -EFAULT;
	self->rseq = area;
	self->rseq_len = len;
	self->rseq_sig = sig;
	return 0;
}
