/* Linux signals (linux/signal.c): numbers, the kernel's siginfo, per-thread and per-process state, and
 * the operations the rest of the kernel uses — sending, checking, delivering on the way back to user
 * mode (rt_sigframe on the user stack), rt_sigreturn, and turning CPU faults into signals. */
#pragma once
#include "arch/x86_64/cpu.h"
#include "errno.h"
#include "list.h"
#include "types.h"

#define SIGHUP 1
#define SIGINT 2
#define SIGQUIT 3
#define SIGILL 4
#define SIGTRAP 5
#define SIGABRT 6
#define SIGBUS 7
#define SIGFPE 8
#define SIGKILL 9
#define SIGUSR1 10
#define SIGSEGV 11
#define SIGUSR2 12
#define SIGPIPE 13
#define SIGALRM 14
#define SIGTERM 15
#define SIGSTKFLT 16
#define SIGCHLD 17
#define SIGCONT 18
#define SIGSTOP 19
#define SIGTSTP 20
#define SIGTTIN 21
#define SIGTTOU 22
#define SIGURG 23
#define SIGXCPU 24
#define SIGXFSZ 25
#define SIGVTALRM 26
#define SIGPROF 27
#define SIGWINCH 28
#define SIGIO 29
#define SIGPWR 30
#define SIGSYS 31
#define SIGRTMIN 32
#define NSIG 64

#define SIG_DFL 0
#define SIG_IGN 1

#define SA_NOCLDSTOP 0x00000001
#define SA_NOCLDWAIT 0x00000002
#define SA_SIGINFO 0x00000004
#define SA_RESTORER 0x04000000
#define SA_ONSTACK 0x08000000
#define SA_RESTART 0x10000000
#define SA_NODEFER 0x40000000
#define SA_RESETHAND 0x80000000

/* si_code values */
#define SI_USER 0
#define SI_KERNEL 0x80
#define SI_QUEUE (-1)
#define SI_TIMER (-2)
#define SI_TKILL (-6)
#define SEGV_MAPERR 1
#define SEGV_ACCERR 2
#define BUS_ADRERR 2
#define ILL_ILLOPN 2
#define FPE_INTDIV 1
#define FPE_FLTDIV 3
#define FPE_FLTOVF 4
#define FPE_FLTUND 5
#define FPE_FLTRES 6
#define FPE_FLTINV 7
#define FPE_FLTSUB 8
#define TRAP_BRKPT 1


static inline bool signal_is_restart_code(uint64_t rax)
{
	long r = (long)rax;
	return r == -ERESTARTSYS || r == -ERESTARTNOINTR || r == -ERESTARTNOHAND || r == -ERESTART_RESTARTBLOCK;
}

static inline uint64_t sigbit(int sig) { return 1UL << (sig - 1); }
#define UNBLOCKABLE (sigbit(SIGKILL) | sigbit(SIGSTOP))

/* Linux's siginfo without its padding: signo, errno, code, then the first 32 bytes of the union
 * (kill: pid and uid; rt/timer: + value; fault: address; ...). 128 bytes when copied out. */
struct ksiginfo {
	int32_t signo, errnum, code, pad;
	uint64_t fields[4];
};

struct sigqueue_entry {
	struct list link;
	struct ksiginfo info;
};

/* Pending signals: one instance of each standard signal (1..31), any number of real-time ones. */
struct sigpending {
	uint64_t mask;
	struct list queued;           /* struct sigqueue_entry of real-time signals, oldest first */
	struct ksiginfo standard[32]; /* [signo] while its bit is in mask (last: never needs clearing) */
};

struct thread_signals {
	uint64_t blocked;
	uint64_t saved_blocked; /* ppoll, pselect6, epoll_pwait, rt_sigsuspend: mask to put back */
	bool restore_blocked;   /* ... on the way back to user mode, after a handler's frame took it */
	uint64_t altstack_sp, altstack_size;
	int altstack_flags;
	struct sigpending pending; /* last (see struct sigpending) */
};

struct k_sigaction {
	uint64_t handler, flags, restorer, mask;
};

struct thread;

void signal_thread_init(struct thread_signals *s);
/* A new thread's signal state from its creator's: the mask is inherited, nothing is pending, no
 * alternate stack (as Linux does for CLONE_VM threads). */
void signal_thread_inherit(struct thread_signals *s, const struct thread_signals *parent);
void signal_thread_free(struct thread_signals *s);
/* Sends a signal to one thread / to the process (any thread not blocking it); 0, -EINVAL, or
 * -EAGAIN when a real-time signal cannot be queued. Signals ignored on arrival are dropped. */
int signal_send_thread(struct thread *t, const struct ksiginfo *info);
int signal_send_process(const struct ksiginfo *info);
/* The same with sched_lock held (timer callbacks): standard signals only (no allocation). */
int signal_send_process_locked(const struct ksiginfo *info);
/* sched_lock held: takes t's (or else the process's) lowest pending signal of set; its number or 0. */
int signal_take(struct thread *t, uint64_t set, struct ksiginfo *out);
/* sched_lock held: drops the pending instances of sig if its action now ignores it (POSIX). */
void signal_discard_ignored(int sig);
/* Whether t has a pending signal it does not block (its own or the process's). */
bool signal_pending(const struct thread *t);
/* On the way back to user mode, for the THREAD_WORK_* bits in work (sched/thread.h): delivers pending
 * signals (handler frames, default actions, ignoring), resolves an interrupted syscall (-ERESTART*),
 * aborts an rseq critical section, puts a temporary mask back. f is the thread's user frame. */
void signal_deliver(struct trap_frame *f, uint32_t work);
/* Tells t (sched_lock held, or t itself) to look at its signals on its way back to user mode. */
void signal_recheck(struct thread *t);
/* rt_sigreturn: restores the registers, mask, FPU state and alternate stack the frame saved; the
 * restored RAX. */
long signal_return(struct trap_frame *f);
/* A fault in user mode: delivered to the app's handler, else the fatal report (app_fatal_fault). */
void signal_fault(struct trap_frame *f, int signo, int code, uint64_t addr);
/* Temporarily replaces the blocked mask (ppoll, pselect6, epoll_pwait, rt_sigsuspend): the old one
 * comes back on the way to user mode, after any handler frame saved it. */
void signal_set_temporary_mask(uint64_t mask);
/* Puts the temporary mask back when the syscall ends without a signal to deliver. */
void signal_restore_mask(void);
/* The name of a signal ("SIGSEGV"). */
const char *signal_name(int signo);
