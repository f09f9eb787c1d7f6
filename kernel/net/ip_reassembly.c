/* IPv4 fragment reassembly (RFC 791, with RFC 815's idea of tracking what is missing by sorting the
 * pieces). Bounded against hostile input: at most IP_REASS_MAX_DATAGRAMS datagrams and
 * IP_REASS_MAX_BYTES bytes held, IP_REASS_TIMEOUT_NS per datagram, and overlapping fragments (other
 * than exact duplicates) make the whole datagram be dropped, as with the "teardrop" attacks. */
#include "lib.h"
#include "mm/mm.h"
#include "net/ip.h"
#include "param.h"
#include "arch/x86_64/clock.h"

struct fragment {
	struct fragment *next;  /* sorted by offset */
	struct netbuf *nb;
	const uint8_t *data;    /* this fragment's payload, inside nb */
	uint32_t offset, len;
};

struct reassembly {
	bool used;
	uint32_t src, dst;
	uint16_t id;
	uint8_t proto;
	uint32_t total;         /* payload length, known once the last fragment came; 0 before */
	uint32_t bytes;         /* payload bytes held */
	struct netbuf *first;   /* the offset-0 fragment (its header is reused) */
	uint32_t first_header_len;
	struct fragment *pieces;
	bool all_csum_valid;
	struct net_timer timer;
};

static struct reassembly slots[IP_REASS_MAX_DATAGRAMS];
static uint32_t held_bytes;

static void release(struct reassembly *r)
{
	for (struct fragment *f = r->pieces, *next; f; f = next) {
		next = f->next;
		held_bytes -= f->len;
		netbuf_free(f->nb);
		kfree(f);
	}
	net_timer_cancel(&r->timer);
	r->pieces = NULL;
	r->first = NULL;
	r->used = false;
}

static void expired(struct net_timer *t)
{
	struct reassembly *r = container_of(t, struct reassembly, timer);
	net_stats.ip_reassembly_dropped++;
	release(r);
}

static struct reassembly *find(uint32_t src, uint32_t dst, uint16_t id, uint8_t proto)
{
	struct reassembly *free_slot = NULL;
	for (int i = 0; i < IP_REASS_MAX_DATAGRAMS; i++) {
		struct reassembly *r = &slots[i];
		if (r->used && r->src == src && r->dst == dst && r->id == id && r->proto == proto)
			return r;
		if (!r->used && !free_slot)
			free_slot = r;
	}
	if (!free_slot)
		return NULL;
	*free_slot = (struct reassembly){.used = true, .src = src, .dst = dst, .id = id, .proto = proto,
					 .all_csum_valid = true};
	net_timer_init(&free_slot->timer, expired);
	net_timer_arm(&free_slot->timer, clock_monotonic_ns() + IP_REASS_TIMEOUT_NS);
	return free_slot;
}

/* Inserts a piece in order; false when it overlaps another (other than an exact duplicate, which
 * *duplicate reports). */
static bool insert(struct reassembly *r, struct fragment *piece, bool *duplicate)
{
	struct fragment **at = &r->pieces;
	while (*at && (*at)->offset < piece->offset)
		at = &(*at)->next;
	struct fragment *before = NULL;
	for (struct fragment *f = r->pieces; f && f != *at; f = f->next)
		before = f;
	struct fragment *after = *at;
	if (after && after->offset == piece->offset && after->len == piece->len) {
		*duplicate = true;
		return true;
	}
	if (before && before->offset + before->len > piece->offset)
		return false;
	if (after && piece->offset + piece->len > after->offset)
		return false;
	piece->next = after;
	*at = piece;
	return true;
}

static struct netbuf *assemble(struct reassembly *r)
{
	const uint8_t *h = r->first->data;
	uint32_t header_len = (h[0] & 0xf) * 4u;
	struct netbuf *whole = netbuf_alloc(header_len + r->total, NETBUF_HEADROOM);
	if (!whole)
		return NULL;
	memcpy(whole->data, h, header_len);
	uint32_t at = header_len;
	for (struct fragment *f = r->pieces; f; f = f->next) {
		memcpy(whole->data + at, f->data, f->len);
		at += f->len;
	}
	uint8_t *wh = whole->data;
	put_be16(wh + 2, (uint16_t)(header_len + r->total));
	put_be16(wh + 6, 0);
	wh[10] = wh[11] = 0;
	uint16_t sum = csum_fold(csum_partial(wh, header_len, 0));
	memcpy(wh + 10, &sum, 2);
	whole->netif = r->first->netif;
	whole->flags = (r->first->flags & NB_LINK_BROADCAST) | (r->all_csum_valid ? NB_CSUM_VALID : 0);
	return whole;
}

struct netbuf *ip_reassemble(struct netbuf *nb)
{
	const uint8_t *h = nb->data;
	uint32_t header_len = (h[0] & 0xf) * 4u;
	uint16_t field = get_be16(h + 6);
	uint32_t offset = (field & IP_OFFSET_MASK) * 8u, len = nb->len - header_len;
	bool more = field & IP_FLAG_MF;
	if ((more && (len == 0 || len % 8)) || offset + len > IP_MAX_PACKET - header_len) {
		net_stats.ip_reassembly_dropped++;
		netbuf_free(nb);
		return NULL;
	}
	struct reassembly *r = find(get_be32(h + 12), get_be32(h + 16), get_be16(h + 4), h[9]);
	if (!r || held_bytes + len > IP_REASS_MAX_BYTES) {
		net_stats.ip_reassembly_dropped++;
		netbuf_free(nb);
		return NULL;
	}
	if (!more) {
		if (r->total && r->total != offset + len)
			goto bad; /* two different ends */
		r->total = offset + len;
	}
	if (r->total && offset + len > r->total)
		goto bad;
	struct fragment *piece = kmalloc(sizeof(*piece));
	if (!piece)
		goto bad;
	piece->nb = nb;
	piece->offset = offset;
	piece->len = len;
	bool duplicate = false;
	if (!insert(r, piece, &duplicate)) {
		kfree(piece);
		goto bad;
	}
	if (duplicate) {
		kfree(piece);
		netbuf_free(nb);
		return NULL;
	}
	if (offset == 0) {
		r->first = nb; /* its header is still in the buffer in front of its data */
		r->first_header_len = header_len;
	}
	if (!(nb->flags & NB_CSUM_VALID))
		r->all_csum_valid = false;
	netbuf_pull(nb, header_len);
	piece->data = nb->data;
	held_bytes += len;
	r->bytes += len;
	if (!r->total || r->bytes != r->total || !r->first)
		return NULL;
	/* Non-overlapping pieces adding up to the total: complete. */
	netbuf_push(r->first, r->first_header_len);
	struct netbuf *whole = assemble(r);
	release(r);
	if (whole)
		net_stats.ip_reassembled++;
	return whole;
bad:
	net_stats.ip_reassembly_dropped++;
	netbuf_free(nb);
	release(r);
	return NULL;
}
