/* The stack's timers (net/net.h): a list sorted by deadline. Arming searches from the tail, where
 * new deadlines (now + RTO, now + delayed-ACK time) almost always belong, so it is O(1) in practice.
 * Expired timers run from net_poll. Arming a timer earlier than everything armed so far kicks the
 * deferred work so that the LAPIC timer gets re-armed for it. */
#include "net/net.h"
#include "sched/deferred.h"

static struct net_timer *head, *tail;

void net_timer_init(struct net_timer *t, void (*fn)(struct net_timer *t))
{
	t->prev = t->next = NULL;
	t->deadline = 0;
	t->fn = fn;
	t->armed = false;
}

void net_timer_cancel(struct net_timer *t)
{
	if (!t->armed)
		return;
	if (t->prev)
		t->prev->next = t->next;
	else
		head = t->next;
	if (t->next)
		t->next->prev = t->prev;
	else
		tail = t->prev;
	t->prev = t->next = NULL;
	t->armed = false;
}

void net_timer_arm(struct net_timer *t, uint64_t deadline)
{
	net_timer_cancel(t);
	if (deadline == 0)
		deadline = 1;
	t->deadline = deadline;
	t->armed = true;
	struct net_timer *after = tail;
	while (after && after->deadline > deadline)
		after = after->prev;
	t->prev = after;
	t->next = after ? after->next : head;
	if (t->next)
		t->next->prev = t;
	else
		tail = t;
	if (after)
		after->next = t;
	else
		head = t;
	if (head == t)
		deferred_kick(); /* a new earliest deadline: the LAPIC timer must learn it */
}

void net_timers_run(uint64_t now)
{
	/* Bounded: a timer that re-arms itself for "now" must not loop forever. */
	for (int budget = 4096; head && head->deadline <= now && budget; budget--) {
		struct net_timer *t = head;
		net_timer_cancel(t);
		t->fn(t);
	}
}

uint64_t net_timers_next(void) { return head ? head->deadline : 0; }
