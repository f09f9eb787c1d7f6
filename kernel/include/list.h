/* Intrusive circular doubly-linked lists (the Linux list_head idea): a struct list inside each
 * element, one more as the head. Used by the scheduler's run queue, wait queues, futex buckets and
 * timers. No locking here: callers hold whatever lock protects the list. */
#pragma once
#include "types.h"

struct list {
	struct list *next, *prev;
};

#define LIST_INIT(name) {&(name), &(name)}
#define list_entry(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#define list_for_each(pos, head) for (struct list *pos = (head)->next; pos != (head); pos = pos->next)
/* Iterates allowing pos to be unlinked inside the loop. */
#define list_for_each_safe(pos, head)                                                                \
	for (struct list *pos = (head)->next, *pos##_next = pos->next; pos != (head);                  \
	     pos = pos##_next, pos##_next = pos->next)

static inline void list_init(struct list *l) { l->next = l->prev = l; }
static inline bool list_empty(const struct list *head) { return head->next == head; }
/* Whether an element (list_init'ed when not on a list) is linked. */
static inline bool list_linked(const struct list *l) { return l->next != l; }

static inline void list_insert_between(struct list *l, struct list *prev, struct list *next)
{
	l->prev = prev;
	l->next = next;
	prev->next = l;
	next->prev = l;
}

static inline void list_add_tail(struct list *head, struct list *l) { list_insert_between(l, head->prev, head); }
static inline void list_add_head(struct list *head, struct list *l) { list_insert_between(l, head, head->next); }
/* Inserts l just before pos. */
static inline void list_add_before(struct list *pos, struct list *l) { list_insert_between(l, pos->prev, pos); }

/* Unlinks l and leaves it self-linked (list_linked() is then false). */
static inline void list_remove(struct list *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
	list_init(l);
}

static inline struct list *list_pop_head(struct list *head)
{
	if (list_empty(head))
		return NULL;
	struct list *l = head->next;
	list_remove(l);
	return l;
}
