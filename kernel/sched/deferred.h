/* Deferred work: what device interrupts and the timer leave to be done outside interrupt context (the
 * network stack's receive processing and timers, net/net.c). Interrupt handlers only note that work is
 * due; it runs at safe points where no kernel state is half-changed: on every way back to user mode
 * (return_to_user, linux/syscall.c), in the idle loop (sched/sched.c) and in the halt loops of waits
 * that halt in place (halt_until, sched/wait.c). The LAPIC timer is kept armed for the earliest
 * deadline of the registered work (sched/timer.c), so timers run while the app computes too.
 *
 * Threads that wait for something the work may bring about (a socket becoming ready) wait with
 * deferred_wait: they are woken after every run of the work and by deferred_notify. */
#pragma once
#include "types.h"

/* Registers work: run() is called at a safe point after deferred_kick() or once next_deadline() (an
 * absolute clock_monotonic_ns time, 0 for none) has passed. */
void deferred_register(void (*run)(void), uint64_t (*next_deadline)(void));
/* From interrupt handlers: the work should run at the next safe point. */
void deferred_kick(void);
/* Whether deferred_run has something to do (cheap: a flag). */
extern volatile bool deferred_kicked;
static inline bool deferred_pending(void) { return deferred_kicked; }
/* Runs due work (never nested inside itself), wakes the threads in deferred_wait, then re-arms the
 * LAPIC timer for the next deadline. */
void deferred_run(void);
/* The earliest deadline of the registered work; 0 when none. */
uint64_t deferred_deadline(void);
/* The same as of the end of the last run or timer tick (cheap; work that arms an earlier timer kicks a
 * run); while a run is due, DEFERRED_RETRY_NS from now. */
uint64_t deferred_known_deadline(void);
/* From the LAPIC timer interrupt: marks work due when its deadline has passed. */
void deferred_timer_tick(uint64_t now);
/* Blocks the calling thread until cond(arg) holds (see wait_event in sched/wait.h): re-checked after
 * every run of the work, on deferred_notify, and every recheck_ns. 0, -ETIMEDOUT or (interruptible)
 * -EINTR. */
int deferred_wait(bool (*cond)(void *arg), void *arg, uint64_t deadline, uint64_t recheck_ns, bool interruptible);
/* Something a waiter may be waiting for changed outside deferred work (a socket shut down, an epoll
 * set changed): wakes the waiters to re-check. */
void deferred_notify(void);
/* The same with sched_lock held (timer callbacks: a timerfd expired). */
void deferred_notify_locked(void);
