/* Threads (sched/thread.c): each has a kernel stack whose top holds its user registers (a struct
 * trap_frame) while it is in the kernel, a save area for its FPU/SSE state, its TLS bases, and the
 * Linux per-thread state (tid, signal mask and pending signals, alternate stack, clear_child_tid,
 * robust list, rseq). Fields marked [sched] are protected by sched_lock (sched/sched.c); the rest
 * belong to the thread itself. */
#pragma once
#include "arch/x86_64/cpu.h"
#include "linux/signal.h"
#include "list.h"
#include "sched/timer.h"
#include "types.h"

struct file;

enum thread_state {
	THREAD_NEW,     /* made, not started yet */
	THREAD_RUNNING, /* on a CPU */
	THREAD_READY,   /* on the run queue, or woken while still on its CPU before it could block */
	THREAD_BLOCKED, /* waiting: a wait queue, a futex, a timeout */
	THREAD_DEAD,    /* exited; freed by the next thread to run on its CPU */
};

/* What the way back to user mode (return_to_user, linux/syscall.c) must look at besides deferred work
 * and the end of a time slice: a cheap test of one word when nothing is to be done. */
#define THREAD_WORK_SIGNAL 1  /* a signal may be deliverable, or a temporary mask is to be put back */
#define THREAD_WORK_RESTART 2 /* the syscall returned -ERESTART*: EINTR or a restart, once signals are seen */
#define THREAD_WORK_RSEQ 4    /* preempted: its rseq critical section may need aborting */
#define THREAD_WORK_FILES 8   /* the syscall holds files (fs/file.c: fd_get) */
#define THREAD_BORROWED_FILES 4

/* Why a blocked thread was woken (thread->wake_reason). */
enum wake_reason {
	WAKE_NONE,
	WAKE_EVENT,   /* what it waited for happened (or it should re-check) */
	WAKE_TIMEOUT, /* its deadline passed */
	WAKE_SIGNAL,  /* a signal arrived while it waited interruptibly */
};

struct thread {
	uint64_t ksp;                 /* saved kernel RSP while switched out (switch.S: offset 0) */
	int tid;
	enum thread_state state;      /* [sched] */
	enum wake_reason wake_reason; /* [sched] */
	bool on_cpu;                  /* [sched] running on a CPU (or switching away from it) */
	bool interruptible;           /* [sched] blocked in a wait a signal ends */
	bool killed;                  /* [sched] the process is exiting: never run again */
	bool left;                    /* [sched] has called exit: no longer counted as a member */
	bool idle;                    /* a CPU's idle thread: kernel only */
	uint8_t *kstack;              /* KERNEL_STACK_SIZE bytes; NULL for an idle thread (boot stack) */
	uint64_t kstack_top;
	uint8_t *fpu;                 /* FPU/SSE/AVX save area (64-byte aligned) */
	void *fpu_alloc;
	uint64_t fs_base, gs_base;    /* user TLS bases while switched out */
	struct list run_link;         /* [sched] run queue */
	struct list all_link;         /* [sched] every live thread */
	struct ktimer timeout;        /* [sched] deadline of the current wait */
	uint64_t run_ns;              /* CPU time used before the current run */
	uint64_t ran_since;           /* when it last got the CPU */
	int nice;                     /* [sched] -20..19: the length of its time slices (sched.c); setpriority */
	uint64_t cpu_alarm_at;        /* [sched] CPU time (ns) at which its CPU-time alarm is due; 0: none */
	struct ktimer cpu_alarm;      /* [sched] checks cpu_alarm_at; armed only while it is on a CPU */
	uint64_t voluntary_switches, involuntary_switches;
	/* Linux */
	uint64_t clear_child_tid;
	uint64_t robust_list, robust_list_len;
	uint64_t rseq, rseq_len;
	uint32_t rseq_sig;
	uint64_t syscall_nr;          /* an interrupted syscall's number (for restarting it after a signal) */
	uint32_t work;                /* THREAD_WORK_*: what return_to_user must look at */
	int borrowed_count;           /* files the running syscall holds (fs/file.c) */
	struct file *borrowed[THREAD_BORROWED_FILES];
	bool kernel_buffers;          /* "user" addresses of copies may be kernel ones (sendfile; mm/mm.h) */
	uint64_t fault_addr;          /* CR2 of the fault behind a pending synchronous signal */
	char name[16];                /* prctl(PR_SET_NAME) */
	struct thread_signals sig;    /* mask, pending, alternate stack (linux/signal.h); last: its tail
				       * of per-signal records is never cleared (cleared memory is costly
				       * where kernel code is emulated) */
};

/* A new thread with a kernel stack and an FPU area (not initialised: the caller fills it); NULL when
 * out of memory or thread ids. Not started. */
struct thread *thread_create(void);
/* Starts t in user mode with the registers of frame (copied to the top of its kernel stack). */
void thread_start_user(struct thread *t, const struct trap_frame *frame);
/* The live thread with this tid, or NULL. sched_lock held. */
struct thread *thread_by_tid(int tid);
/* The user registers of t while it is in the kernel (the top of its kernel stack). */
static inline struct trap_frame *thread_user_frame(const struct thread *t)
{
	return (struct trap_frame *)(t->kstack_top - sizeof(struct trap_frame));
}
/* Number of threads in the process (those that have not left with exit). */
int thread_count(void);
/* Takes the calling thread out of the count before it wakes its joiners, so a joiner never
   counts it; returns how many threads remain (0: it was the last, the process ends). */
int thread_leave(struct thread *t);
/* sched_lock held: takes a dead or never-started thread off the list of live threads. */
void thread_unlink_locked(struct thread *t);
/* Frees the memory of an unlinked thread (not the running one). */
void thread_release_memory(struct thread *t);
/* Calls fn for every live thread (sched_lock held; fn may unlink the thread it is given). */
void thread_for_each(void (*fn)(struct thread *t, void *arg), void *arg);
