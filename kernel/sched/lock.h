/* Spinlocks that also keep interrupts off while held, so that interrupt handlers (the timer waking
 * threads) can take the same locks. Another CPU holding the lock is waited for; the same CPU holding
 * it means re-entry (on one CPU, the only way to find it taken), a bug reported as a panic. The irq_*
 * helpers save and restore the interrupt flag.
 *
 * Locks in the kernel (each documented where it lives): sched_lock (sched/sched.c) protects the run
 * queue, thread states, wait queues, timers, futex buckets and signal state. The rest of the kernel
 * (heap, filesystems, network stack) is not preemptible and runs one thread at a time: threads switch
 * only where they block or on their way back to user mode. */
#pragma once
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/percpu.h"
#include "types.h"

struct spinlock {
	volatile uint32_t locked;
	uint32_t holder; /* 1 + the holding CPU's id */
	const char *name;
};

#define SPINLOCK_INIT(n) {0, 0, n}

static inline uint64_t irq_save(void)
{
	uint64_t flags = read_rflags();
	cli();
	return flags;
}

static inline void irq_restore(uint64_t flags)
{
	if (flags & RFLAGS_IF)
		sti();
}

NORETURN void spin_deadlock(struct spinlock *l);

static inline uint64_t spin_lock_irqsave(struct spinlock *l)
{
	uint64_t flags = irq_save();
	uint32_t me = this_cpu()->cpu_id + 1;
	for (;;) {
		uint32_t taken = 1;
		__asm__ volatile("xchgl %0, %1" : "+r"(taken), "+m"(l->locked)::"memory");
		if (!taken)
			break;
		if (l->holder == me)
			spin_deadlock(l);
		cpu_relax();
	}
	l->holder = me;
	return flags;
}

static inline void spin_unlock_irqrestore(struct spinlock *l, uint64_t flags)
{
	l->holder = 0;
	__asm__ volatile("" ::: "memory");
	l->locked = 0;
	irq_restore(flags);
}

static inline bool spin_held(const struct spinlock *l) { return l->locked; }
