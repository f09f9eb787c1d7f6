/* Packet buffers: one contiguous allocation per packet with headroom in front, so each layer on the
 * way out prepends its header without copying (netbuf_push) and each layer on the way in strips its
 * own (netbuf_pull). Implemented in net/netbuf.c; used by every module of the stack and by drivers. */
#pragma once
#include "types.h"

/* Room reserved in front of data built for sending: virtio-net header (12), Ethernet (14), IPv4 with
 * options (60) and TCP with options (60) all fit. */
#define NETBUF_HEADROOM 160

#define NB_CSUM_VALID 1   /* rx: the L4 checksum is known good (the device checked it, or loopback) */
#define NB_CSUM_PARTIAL 2 /* tx: the L4 checksum field holds only the pseudo-header sum; the device
			   * completes it. rx: the same from the host (trusted data, nothing to check) */
#define NB_LINK_BROADCAST 4 /* rx: sent to the link-layer broadcast or a multicast address */

struct netif;

struct netbuf {
	struct netbuf *next; /* queues */
	uint8_t *data;       /* first valid byte */
	uint32_t len;        /* valid bytes */
	uint32_t size;       /* bytes of buf[] */
	struct netif *netif; /* rx: where it came in */
	uint8_t flags;       /* NB_* */
	uint8_t *csum_start; /* NB_CSUM_PARTIAL: the first byte the checksum covers (the L4 header) */
	uint16_t csum_offset; /* NB_CSUM_PARTIAL: the checksum field's offset from csum_start */
	uint16_t gso_size;    /* tx: a TCP super-segment the device cuts into segments of this payload (0: none) */
	uint8_t buf[];
};

/* A buffer with headroom bytes in front of room for len bytes of data (data == buf + headroom,
 * len == given len, contents undefined); NULL when out of memory. */
struct netbuf *netbuf_alloc(uint32_t len, uint32_t headroom);
void netbuf_free(struct netbuf *nb);
/* A copy of nb's data with fresh headroom; NULL when out of memory. */
struct netbuf *netbuf_clone(const struct netbuf *nb, uint32_t headroom);

static inline uint32_t netbuf_headroom(const struct netbuf *nb) { return (uint32_t)(nb->data - nb->buf); }

/* Prepends n bytes (the caller checked the headroom); the new start. */
static inline uint8_t *netbuf_push(struct netbuf *nb, uint32_t n)
{
	nb->data -= n;
	nb->len += n;
	return nb->data;
}

/* Drops n bytes from the front (n <= len). */
static inline void netbuf_pull(struct netbuf *nb, uint32_t n)
{
	nb->data += n;
	nb->len -= n;
}

/* Drops bytes past len (link-layer padding). */
static inline void netbuf_trim(struct netbuf *nb, uint32_t len)
{
	if (len < nb->len)
		nb->len = len;
}

/* A FIFO of buffers. */
struct netbuf_queue {
	struct netbuf *head, *tail;
	uint32_t count;
};

static inline void netbuf_enqueue(struct netbuf_queue *q, struct netbuf *nb)
{
	nb->next = NULL;
	if (q->tail)
		q->tail->next = nb;
	else
		q->head = nb;
	q->tail = nb;
	q->count++;
}

static inline struct netbuf *netbuf_dequeue(struct netbuf_queue *q)
{
	struct netbuf *nb = q->head;
	if (nb) {
		q->head = nb->next;
		if (!q->head)
			q->tail = NULL;
		q->count--;
		nb->next = NULL;
	}
	return nb;
}

static inline void netbuf_queue_purge(struct netbuf_queue *q)
{
	struct netbuf *nb;
	while ((nb = netbuf_dequeue(q)))
		netbuf_free(nb);
}
