/* Thread objects: allocation of the kernel stack and FPU save area, thread ids (the first thread is 1,
 * the process id, as on Linux), the list of live threads and lookup by tid. Scheduling is in
 * sched/sched.c, the Linux side (clone, exit) in linux/sys_thread.c. */
#include "arch/x86_64/context.h"
#include "arch/x86_64/fpu.h"
#include "lib.h"
#include "mm/mm.h"
#include "param.h"
#include "sched/sched.h"

#define MAX_TID 4194304 /* Linux's pid_max on 64-bit */

static struct list all_threads = LIST_INIT(all_threads);
static int live_threads;
static int next_tid = 1;

static void timeout_fired(struct ktimer *timer)
{
	struct thread *t = list_entry(timer, struct thread, timeout);
	sched_wake_locked(t, WAKE_TIMEOUT);
}

struct thread *thread_by_tid(int tid)
{
	list_for_each(l, &all_threads) {
		struct thread *t = list_entry(l, struct thread, all_link);
		if (t->tid == tid && t->state != THREAD_DEAD)
			return t;
	}
	return NULL;
}

static int allocate_tid(void)
{
	for (int tries = 0; tries < MAX_TID; tries++) {
		int tid = next_tid;
		next_tid = next_tid + 1 >= MAX_TID ? 2 : next_tid + 1;
		if (!thread_by_tid(tid))
			return tid;
	}
	return -1;
}

struct thread *thread_create(void)
{
	struct thread *t = kmalloc(sizeof(*t));
	if (!t)
		return NULL;
	memset(t, 0, offsetof(struct thread, sig));
	uint64_t stack = phys_alloc(KERNEL_STACK_SIZE / PAGE_SIZE); /* no need to clear a stack */
	t->fpu_alloc = kmalloc(fpu_state_size() + 64);
	if (!stack || !t->fpu_alloc) {
		if (stack)
			phys_free(stack, KERNEL_STACK_SIZE / PAGE_SIZE);
		kfree(t->fpu_alloc);
		kfree(t);
		return NULL;
	}
	t->kstack = phys_to_virt(stack);
	t->kstack_top = (uint64_t)t->kstack + KERNEL_STACK_SIZE;
	t->fpu = (uint8_t *)ALIGN_UP((uint64_t)t->fpu_alloc, 64);
	/* XSAVE writes only the header's first 8 bytes and XRSTOR faults (#GP) unless the rest is zero, so a
	 * reused allocation must not keep what it held: start from the initial state. */
	fpu_init_state(t->fpu);
	t->state = THREAD_NEW;
	list_init(&t->run_link);
	list_init(&t->all_link);
	timer_init(&t->timeout, timeout_fired);
	timer_init(&t->cpu_alarm, sched_cpu_alarm_fired);
	signal_thread_init(&t->sig);
	uint64_t flags = spin_lock_irqsave(&sched_lock);
	t->tid = allocate_tid();
	if (t->tid > 0) {
		list_add_tail(&all_threads, &t->all_link);
		live_threads++;
	}
	spin_unlock_irqrestore(&sched_lock, flags);
	if (t->tid < 0) {
		thread_release_memory(t); /* never linked */
		return NULL;
	}
	return t;
}

void thread_start_user(struct thread *t, const struct trap_frame *frame)
{
	arch_thread_prepare(t, frame);
	sched_add(t);
}

/* sched_lock held: unlinks a thread that is gone (or never ran). */
void thread_unlink_locked(struct thread *t)
{
	if (list_linked(&t->all_link)) {
		list_remove(&t->all_link);
		if (!t->left)
			live_threads--;
	}
}

int thread_leave(struct thread *t)
{
	uint64_t flags = spin_lock_irqsave(&sched_lock);
	if (!t->left) {
		t->left = true;
		live_threads--;
	}
	int remaining = live_threads;
	spin_unlock_irqrestore(&sched_lock, flags);
	return remaining;
}

void thread_release_memory(struct thread *t)
{
	arch_thread_forget(t);
	signal_thread_free(&t->sig);
	phys_free(virt_to_phys(t->kstack), KERNEL_STACK_SIZE / PAGE_SIZE);
	kfree(t->fpu_alloc);
	kfree(t);
}

int thread_count(void) { return live_threads; }

void thread_for_each(void (*fn)(struct thread *t, void *arg), void *arg)
{
	list_for_each_safe(l, &all_threads) fn(list_entry(l, struct thread, all_link), arg);
}
