/* The scheduler (sched/sched.c): one run queue per CPU (one CPU today), round robin with time slices
 * of SCHED_SLICE_NS enforced by the LAPIC timer, an idle thread per CPU that halts, and the low-level
 * blocking primitive everything else (wait queues, futexes, sleeps) is built on.
 *
 * The kernel is not preemptible: a thread gives up its CPU only where it blocks or yields, or on its
 * way back to user mode when its slice is over (need_resched). sched_lock protects the run queue,
 * thread states, wait queues, timers, futex buckets and signal state; it is an interrupt-disabling
 * spinlock (sched/lock.h) and is handed over across a context switch. */
#pragma once
#include "arch/x86_64/percpu.h"
#include "sched/lock.h"
#include "sched/thread.h"

extern struct spinlock sched_lock;

/* The thread running on this CPU (the idle thread while booting). */
static inline struct thread *current_thread(void) { return this_cpu()->thread; }

/* Makes the boot context this CPU's idle thread; called once from kmain. */
void sched_init(void);
/* Switches to the first runnable thread and becomes the idle loop (halts while nothing can run). */
NORETURN void sched_start(void);
/* Gives the CPU to the next ready thread, if any (the caller stays runnable). */
void schedule(void);
/* sched_lock held: switches away from the current thread, whose state the caller set (BLOCKED,
 * DEAD) or that is RUNNING (then it goes to the back of the run queue). Returns, with sched_lock
 * held again, when the thread runs next. */
void schedule_locked(void);
/* sched_lock held: makes a BLOCKED thread ready (for WAKE_SIGNAL only if it waits interruptibly);
 * whether it was woken. */
bool sched_wake_locked(struct thread *t, enum wake_reason why);
/* sched_lock held: blocks the current thread (state BLOCKED set here) until woken or deadline
 * (absolute monotonic ns; 0: none); why it was woken. A thread woken between setting BLOCKED and
 * getting here does not block at all. */
enum wake_reason sched_block_locked(uint64_t deadline, bool interruptible);
/* Marks t ready to run (a new thread). */
void sched_add(struct thread *t);
/* Ends the current thread: it never runs again and its memory is freed after the switch. */
NORETURN void sched_exit_current(void);
/* Stops every other thread for good (exit_group and fatal signals); they are never run again. */
void sched_kill_others(void);
/* When the running thread must give up the CPU (end of its slice while others wait); 0: never. */
uint64_t sched_preempt_deadline(void);
/* From the timer interrupt: asks for a reschedule when the slice is over. */
void sched_timer_tick(uint64_t now);
/* CPU time of a thread (its runs so far, plus the current one). */
uint64_t sched_thread_cpu_ns(const struct thread *t);
/* CPU time of the whole process: time not spent in the idle loop. */
uint64_t sched_process_cpu_ns(void);
/* CPU-time alarms (POSIX timers on thread CPU clocks): once t has used `at` ns of CPU time, the
 * handler is called with t (from the timer interrupt, sched_lock held). A kernel timer checks it, armed
 * only while t is on a CPU, so a thread that waits costs nothing. at 0 disarms. sched_lock held. */
void sched_set_cpu_alarm_locked(struct thread *t, uint64_t at);
void sched_set_cpu_alarm_handler(void (*handler)(struct thread *t));
/* The kernel timer callback of thread->cpu_alarm (sched/thread.c sets it up). */
void sched_cpu_alarm_fired(struct ktimer *timer);
/* Called by a new thread's first instructions (switch.S): frees a dead predecessor and releases
 * sched_lock, which the switch handed over. */
void sched_thread_first_run(struct thread *prev);
