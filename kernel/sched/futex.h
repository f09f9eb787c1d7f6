/* Futexes (sched/futex.c): threads waiting on a 32-bit user word, keyed by its address (one address
 * space, so private and shared futexes are the same thing here), in hash buckets under sched_lock.
 * The syscall's argument decoding is in linux/sys_futex.c. Deadlines are absolute monotonic ns, 0 for
 * none. */
#pragma once
#include "types.h"

#define FUTEX_BITSET_ANY 0xffffffffU
#define FUTEX_WAITERS 0x80000000U
#define FUTEX_OWNER_DIED 0x40000000U
#define FUTEX_TID_MASK 0x3fffffffU

struct thread;

/* Blocks while *uaddr == val, until woken with a matching bitset, deadline, or a signal: 0, -EAGAIN
 * (the word differs), -ETIMEDOUT, -EINTR (a signal), -EFAULT, -EINVAL. */
long futex_wait(uint64_t uaddr, uint32_t val, uint64_t deadline, uint32_t bitset);
/* Wakes up to nr (at least one) waiters of uaddr whose bitset meets bitset; how many. */
long futex_wake(uint64_t uaddr, int nr, uint32_t bitset);
/* Wakes nr_wake waiters of uaddr and moves up to nr_requeue others to uaddr2; with check, only if
 * *uaddr == cmp (else -EAGAIN). The number woken plus moved. */
long futex_requeue(uint64_t uaddr, int nr_wake, int nr_requeue, uint64_t uaddr2, bool check, uint32_t cmp);
/* FUTEX_WAKE_OP: atomically applies the operation encoded in op to *uaddr2, wakes nr_wake waiters of
 * uaddr and, if the old value of *uaddr2 passes op's comparison, nr_wake2 of uaddr2. */
long futex_wake_op(uint64_t uaddr, int nr_wake, int nr_wake2, uint64_t uaddr2, uint32_t op);
/* Priority-inheritance locks without the priority inheritance: the owner's tid in the word,
 * FUTEX_WAITERS while others wait, ownership handed to the first waiter on unlock. */
long futex_lock_pi(uint64_t uaddr, uint64_t deadline, bool try_only);
long futex_unlock_pi(uint64_t uaddr);
/* At a thread's exit: marks the robust futexes it still holds FUTEX_OWNER_DIED and wakes a waiter
 * of each, then clears and wakes its clear_child_tid word (pthread_join). */
void futex_thread_exit(struct thread *t);
