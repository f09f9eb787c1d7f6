/* Futex waiting, waking, requeueing, WAKE_OP, PI locks and robust lists (see sched/futex.h).
 *
 * A waiter lives on its own kernel stack while it waits, linked into the bucket of its address. The
 * value check and the queueing happen under sched_lock, and wakers unlink a waiter before waking it,
 * so counts are exact and no wake-up is lost. The word is read once before taking the lock, so that a
 * page fault (which may have to read a file) never happens with the lock held. */
#include "arch/x86_64/clock.h"
#include "errno.h"
#include "lib.h"
#include "mm/mm.h"
#include "sched/futex.h"
#include "sched/sched.h"

#define BUCKETS 64
#define ROBUST_LIST_LIMIT 2048

struct futex_waiter {
	struct list link;
	struct thread *thread;
	uint64_t uaddr;
	uint32_t bitset;
	bool pi;    /* waiting in futex_lock_pi */
	bool woken; /* unlinked by a waker (for PI: handed the lock) */
};

static struct list buckets[BUCKETS]; /* [sched_lock] */
static bool buckets_ready;

static struct list *bucket_of(uint64_t uaddr)
{
	if (!buckets_ready) {
		for (int i = 0; i < BUCKETS; i++)
			list_init(&buckets[i]);
		buckets_ready = true;
	}
	return &buckets[((uaddr >> 2) * 0x9e3779b97f4a7c15UL) >> 58];
}

static long read_word(uint64_t uaddr, uint32_t *value)
{
	if (uaddr & 3)
		return -EINVAL;
	return copy_from_user(value, uaddr, 4);
}

/* sched_lock held: unlinks w and wakes its thread. */
static void wake_waiter(struct futex_waiter *w)
{
	list_remove(&w->link);
	w->woken = true;
	sched_wake_locked(w->thread, WAKE_EVENT);
}

/* sched_lock held: blocks until woken, deadline or a signal; 0, -ETIMEDOUT or -EINTR. w stays
 * linked unless a waker took it. */
static long block_on(struct futex_waiter *w, uint64_t deadline)
{
	struct thread *self = current_thread();
	for (;;) {
		if (w->woken)
			return 0;
		if (signal_pending(self))
			return -EINTR;
		if (deadline && clock_monotonic_ns() >= deadline)
			return -ETIMEDOUT;
		enum wake_reason why = sched_block_locked(deadline, true);
		if (w->woken)
			return 0;
		if (why == WAKE_TIMEOUT)
			return -ETIMEDOUT;
		if (w->pi && why == WAKE_EVENT)
			return -EAGAIN; /* PI: the lock changed hands without us, try again */
	}
}

long futex_wait(uint64_t uaddr, uint32_t val, uint64_t deadline, uint32_t bitset)
{
	if (!bitset)
		return -EINVAL;
	uint32_t value;
	long r = read_word(uaddr, &value);
	if (r < 0)
		return r;
	struct futex_waiter w = {LIST_INIT(w.link), current_thread(), uaddr, bitset, false, false};
	uint64_t flags = spin_lock_irqsave(&sched_lock);
	r = read_word(uaddr, &value);
	if (r == 0 && value != val)
		r = -EAGAIN;
	if (r == 0) {
		list_add_tail(bucket_of(uaddr), &w.link);
		r = block_on(&w, deadline);
		if (list_linked(&w.link))
			list_remove(&w.link);
	}
	spin_unlock_irqrestore(&sched_lock, flags);
	return r;
}

/* sched_lock held: wakes up to nr (at least one) plain waiters of uaddr matching bitset. */
static int wake_locked(uint64_t uaddr, int nr, uint32_t bitset)
{
	int woken = 0;
	list_for_each_safe(l, bucket_of(uaddr)) {
		struct futex_waiter *w = list_entry(l, struct futex_waiter, link);
		if (w->uaddr != uaddr || w->pi || !(w->bitset & bitset))
			continue;
		wake_waiter(w);
		if (++woken >= nr)
			break;
	}
	return woken;
}

long futex_wake(uint64_t uaddr, int nr, uint32_t bitset)
{
	if (!bitset)
		return -EINVAL;
	if (uaddr & 3)
		return -EINVAL;
	uint64_t flags = spin_lock_irqsave(&sched_lock);
	long woken = wake_locked(uaddr, nr, bitset);
	spin_unlock_irqrestore(&sched_lock, flags);
	return woken;
}

long futex_requeue(uint64_t uaddr, int nr_wake, int nr_requeue, uint64_t uaddr2, bool check, uint32_t cmp)
{
	if (nr_wake < 0 || nr_requeue < 0 || (uaddr & 3) || (uaddr2 & 3))
		return -EINVAL;
	uint32_t value;
	if (check && read_word(uaddr, &value) < 0)
		return -EFAULT;
	uint64_t flags = spin_lock_irqsave(&sched_lock);
	long r = 0;
	if (check && (read_word(uaddr, &value) < 0 || value != cmp))
		r = read_word(uaddr, &value) < 0 ? -EFAULT : -EAGAIN;
	if (r == 0) {
		int woken = 0, moved = 0;
		struct list *target = bucket_of(uaddr2);
		list_for_each_safe(l, bucket_of(uaddr)) {
			struct futex_waiter *w = list_entry(l, struct futex_waiter, link);
			if (w->uaddr != uaddr || w->pi)
				continue;
			if (woken < nr_wake) {
				wake_waiter(w);
				woken++;
			} else if (moved < nr_requeue) {
				if (uaddr2 != uaddr) { /* (onto itself: counted, left in place, as Linux does) */
					list_remove(&w->link);
					w->uaddr = uaddr2;
					list_add_tail(target, &w->link);
				}
				moved++;
			} else {
				break;
			}
		}
		r = woken + moved;
	}
	spin_unlock_irqrestore(&sched_lock, flags);
	return r;
}

static int32_t sign_extend12(uint32_t v) { return (int32_t)(v << 20) >> 20; }

long futex_wake_op(uint64_t uaddr, int nr_wake, int nr_wake2, uint64_t uaddr2, uint32_t op)
{
	uint32_t kind = (op >> 28) & 7, cmp = (op >> 24) & 15;
	int32_t oparg = sign_extend12((op >> 12) & 0xfff), cmparg = sign_extend12(op & 0xfff);
	if (op & 0x80000000U) /* FUTEX_OP_OPARG_SHIFT */
		oparg = (oparg < 0 || oparg > 31) ? 0 : (int32_t)(1U << oparg);
	if (kind > 4 || cmp > 5 || (uaddr & 3) || (uaddr2 & 3))
		return -ENOSYS;
	uint32_t old;
	if (read_word(uaddr2, &old) < 0)
		return -EFAULT;
	uint64_t flags = spin_lock_irqsave(&sched_lock);
	long found;
	for (;;) {
		uint32_t next = kind == 0 ? (uint32_t)oparg
				: kind == 1 ? old + (uint32_t)oparg
				: kind == 2 ? old | (uint32_t)oparg
				: kind == 3 ? old & ~(uint32_t)oparg
					    : old ^ (uint32_t)oparg;
		found = user_cmpxchg_u32(uaddr2, old, next);
		if (found < 0 || (uint32_t)found == old)
			break;
		old = (uint32_t)found;
	}
	long r = found;
	if (found >= 0) {
		int32_t o = (int32_t)old;
		bool pass = cmp == 0 ? o == cmparg : cmp == 1 ? o != cmparg : cmp == 2 ? o < cmparg
			  : cmp == 3 ? o <= cmparg : cmp == 4 ? o > cmparg : o >= cmparg;
		r = wake_locked(uaddr, nr_wake, FUTEX_BITSET_ANY);
		if (pass)
			r += wake_locked(uaddr2, nr_wake2, FUTEX_BITSET_ANY);
	}
	spin_unlock_irqrestore(&sched_lock, flags);
	return r;
}

/* ---- PI locks ---- */

/* sched_lock held: the first PI waiter of uaddr, and whether there is another. */
static struct futex_waiter *first_pi_waiter(uint64_t uaddr, bool *more)
{
	struct futex_waiter *first = NULL;
	*more = false;
	list_for_each(l, bucket_of(uaddr)) {
		struct futex_waiter *w = list_entry(l, struct futex_waiter, link);
		if (w->uaddr != uaddr || !w->pi)
			continue;
		if (first) {
			*more = true;
			break;
		}
		first = w;
	}
	return first;
}

/* sched_lock held: one attempt to take the lock; 0 (taken), -EDEADLK, -ESRCH, -EFAULT, or 1 (held by
 * someone else, FUTEX_WAITERS now set). */
static long try_take(uint64_t uaddr, uint32_t tid)
{
	for (;;) {
		uint32_t value;
		if (read_word(uaddr, &value) < 0)
			return -EFAULT;
		uint32_t owner = value & FUTEX_TID_MASK;
		if (owner == tid)
			return -EDEADLK;
		uint32_t next;
		if (owner == 0) {
			bool more;
			next = tid | (first_pi_waiter(uaddr, &more) ? FUTEX_WAITERS : 0) | (value & FUTEX_OWNER_DIED);
		} else if (!thread_by_tid((int)owner)) {
			if (!(value & FUTEX_OWNER_DIED))
				return -ESRCH;
			next = tid | FUTEX_OWNER_DIED | (value & FUTEX_WAITERS); /* a dead robust owner: take it over */
		} else if (value & FUTEX_WAITERS) {
			return 1;
		} else {
			next = value | FUTEX_WAITERS;
			long found = user_cmpxchg_u32(uaddr, value, next);
			if (found < 0)
				return -EFAULT;
			if ((uint32_t)found == value)
				return 1;
			continue;
		}
		long found = user_cmpxchg_u32(uaddr, value, next);
		if (found < 0)
			return -EFAULT;
		if ((uint32_t)found == value)
			return 0;
	}
}

long futex_lock_pi(uint64_t uaddr, uint64_t deadline, bool try_only)
{
	struct thread *self = current_thread();
	uint32_t value;
	long r = read_word(uaddr, &value);
	if (r < 0)
		return r;
	uint64_t flags = spin_lock_irqsave(&sched_lock);
	for (;;) {
		r = try_take(uaddr, (uint32_t)self->tid);
		if (r <= 0)
			break;
		if (try_only) {
			r = -EAGAIN;
			break;
		}
		struct futex_waiter w = {LIST_INIT(w.link), self, uaddr, FUTEX_BITSET_ANY, true, false};
		list_add_tail(bucket_of(uaddr), &w.link);
		r = block_on(&w, deadline);
		if (list_linked(&w.link))
			list_remove(&w.link);
		if (r != -EAGAIN)
			break; /* 0: the unlocker made us the owner */
	}
	spin_unlock_irqrestore(&sched_lock, flags);
	return r == -EINTR ? -ERESTARTNOINTR : r;
}

long futex_unlock_pi(uint64_t uaddr)
{
	uint32_t tid = (uint32_t)current_thread()->tid, value;
	long r = read_word(uaddr, &value);
	if (r < 0)
		return r;
	uint64_t flags = spin_lock_irqsave(&sched_lock);
	for (;;) {
		if (read_word(uaddr, &value) < 0) {
			r = -EFAULT;
			break;
		}
		if ((value & FUTEX_TID_MASK) != tid) {
			r = -EPERM;
			break;
		}
		bool more;
		struct futex_waiter *w = first_pi_waiter(uaddr, &more);
		uint32_t next = w ? (uint32_t)w->thread->tid | (more ? FUTEX_WAITERS : 0) : 0;
		long found = user_cmpxchg_u32(uaddr, value, next);
		if (found < 0) {
			r = -EFAULT;
			break;
		}
		if ((uint32_t)found != value)
			continue;
		if (w)
			wake_waiter(w);
		r = 0;
		break;
	}
	spin_unlock_irqrestore(&sched_lock, flags);
	return r;
}

/* ---- thread exit ---- */

struct robust_list_head {
	uint64_t next;
	int64_t futex_offset;
	uint64_t list_op_pending;
};

/* A robust futex at uaddr whose owner tid died: FUTEX_OWNER_DIED, and a waiter woken to notice. */
static void owner_died(uint64_t uaddr, uint32_t tid, bool pi)
{
	for (;;) {
		uint32_t value;
		if (read_word(uaddr, &value) < 0 || (value & FUTEX_TID_MASK) != tid)
			return;
		uint32_t next = (value & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
		long found = user_cmpxchg_u32(uaddr, value, next);
		if (found < 0)
			return;
		if ((uint32_t)found != value)
			continue;
		if (value & FUTEX_WAITERS) {
			uint64_t flags = spin_lock_irqsave(&sched_lock);
			if (pi) {
				bool more;
				struct futex_waiter *w = first_pi_waiter(uaddr, &more);
				if (w)
					sched_wake_locked(w->thread, WAKE_EVENT); /* it retries and takes over */
			} else {
				wake_locked(uaddr, 1, FUTEX_BITSET_ANY);
			}
			spin_unlock_irqrestore(&sched_lock, flags);
		}
		return;
	}
}

static void walk_robust_list(struct thread *t)
{
	struct robust_list_head head;
	if (copy_from_user(&head, t->robust_list, sizeof(head)) < 0)
		return;
	uint64_t entry = head.next, pending = head.list_op_pending;
	for (int n = 0; entry != t->robust_list && n < ROBUST_LIST_LIMIT; n++) {
		uint64_t next;
		if (copy_from_user(&next, entry & ~1UL, 8) < 0)
			return;
		if (entry != pending)
			owner_died((entry & ~1UL) + head.futex_offset, (uint32_t)t->tid, entry & 1);
		entry = next;
	}
	if (pending)
		owner_died((pending & ~1UL) + head.futex_offset, (uint32_t)t->tid, pending & 1);
}

void futex_thread_exit(struct thread *t)
{
	if (t->robust_list)
		walk_robust_list(t);
	if (t->clear_child_tid) {
		uint32_t zero = 0;
		if (copy_to_user(t->clear_child_tid, &zero, 4) == 0)
			futex_wake(t->clear_child_tid, 1, FUTEX_BITSET_ANY);
	}
}
