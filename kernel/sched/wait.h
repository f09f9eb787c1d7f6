/* Blocking (sched/wait.c): wait queues, waiting for a condition with a deadline, sleeping, and
 * halting in place.
 *
 * A thread that waits for a condition puts itself on a wait queue, marks itself blocked, checks the
 * condition and only then gives up the CPU; a waker that comes in between makes it runnable again, so
 * no wake-up is lost. Waits are interruptible by signals where Linux's are (the caller decides). */
#pragma once
#include "list.h"
#include "types.h"

struct wait_queue {
	struct list waiters; /* [sched_lock] struct wait_entry */
};

#define WAIT_QUEUE_INIT(name) {LIST_INIT((name).waiters)}

static inline void wait_queue_init(struct wait_queue *wq) { list_init(&wq->waiters); }
/* Wakes every thread waiting on wq (they re-check their conditions). */
void wake_up_all(struct wait_queue *wq);
/* The same with sched_lock already held. */
void wake_up_all_locked(struct wait_queue *wq);

/* Waits on wq until cond(arg) is true (checked first and after every wake-up), deadline passes
 * (absolute monotonic ns; 0: never), or, when interruptible, a signal is pending. cond is also
 * re-checked every recheck_ns without a wake-up (0: only on wake-ups). 0, -ETIMEDOUT or -EINTR.
 * Before threads run (boot), the CPU halts in place instead (see halt_until). */
int wait_event(struct wait_queue *wq, bool (*cond)(void *arg), void *arg, uint64_t deadline, uint64_t recheck_ns,
	       bool interruptible);
/* Sleeps until deadline (absolute monotonic ns); 0, or -EINTR when interruptible and a signal came. */
int sleep_until(uint64_t deadline, bool interruptible);

/* Halts the CPU in place, letting no other thread run, until done(arg) is true or deadline passes,
 * re-checking done(arg) at least every poll_ns (so a lost interrupt costs time, never a hang) and
 * running deferred work before each check. For waits inside code that must not switch threads (device
 * requests in the middle of a filesystem operation) and for boot. True when done(arg) became true.
 * Interrupts are enabled while halted and restored to their previous state on return. */
bool halt_until(uint64_t deadline, uint64_t poll_ns, bool (*done)(void *arg), void *arg);
