/* ARP (RFC 826) for IPv4 over Ethernet: a fixed-size cache of address -> MAC. An entry being resolved
 * holds up to ARP_PENDING_MAX packets and is re-asked every ARP_RETRY_NS, ARP_RETRIES times, before
 * its packets are dropped. Resolved entries are trusted for ARP_REACHABLE_NS; after that they are
 * still used while a fresh request is sent, and dropped if nobody answers. Replies only update
 * addresses we asked about or that talk to us (no cache poisoning by unsolicited broadcasts). */
#include "arch/x86_64/clock.h"
#include "lib.h"
#include "net/ip.h"
#include "net/netif.h"
#include "param.h"

#define ARP_REQUEST 1
#define ARP_REPLY 2
#define ARP_PACKET_LEN 28

enum arp_state { ARP_FREE, ARP_RESOLVING, ARP_RESOLVED };

struct arp_entry {
	enum arp_state state;
	struct netif *netif;
	uint32_t ip;
	uint8_t mac[ETH_ALEN];
	uint64_t confirmed;   /* when a reply last vouched for mac */
	uint64_t last_used;
	int tries;            /* requests sent without an answer */
	bool refreshing;      /* resolved but stale: a request is out */
	struct netbuf_queue pending;
	struct net_timer timer;
};

static struct arp_entry cache[ARP_CACHE_SIZE];
static const uint8_t broadcast_mac[ETH_ALEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static void send_arp(struct netif *ifp, uint16_t op, const uint8_t *dst_mac, const uint8_t *target_mac,
		     uint32_t target_ip, uint32_t sender_ip)
{
	struct netbuf *nb = netbuf_alloc(ARP_PACKET_LEN, NETBUF_HEADROOM);
	if (!nb)
		return;
	uint8_t *p = nb->data;
	put_be16(p, 1);               /* Ethernet */
	put_be16(p + 2, ETHERTYPE_IPV4);
	p[4] = ETH_ALEN;
	p[5] = 4;
	put_be16(p + 6, op);
	memcpy(p + 8, ifp->mac, ETH_ALEN);
	put_be32(p + 14, sender_ip);
	memcpy(p + 18, target_mac, ETH_ALEN);
	put_be32(p + 24, target_ip);
	net_stats.arp_out++;
	ethernet_send(ifp, nb, dst_mac, ETHERTYPE_ARP);
}

static void send_request(struct arp_entry *e)
{
	static const uint8_t zero_mac[ETH_ALEN];
	/* A stale entry is asked directly (unicast), as Linux does; a new one by broadcast. */
	send_arp(e->netif, ARP_REQUEST, e->state == ARP_RESOLVED ? e->mac : broadcast_mac, zero_mac, e->ip, e->netif->addr);
	e->tries++;
	net_timer_arm(&e->timer, clock_monotonic_ns() + ARP_RETRY_NS);
}

static void entry_free(struct arp_entry *e)
{
	net_stats.arp_dropped += e->pending.count;
	netbuf_queue_purge(&e->pending);
	net_timer_cancel(&e->timer);
	e->state = ARP_FREE;
	e->refreshing = false;
}

static void entry_timer(struct net_timer *t)
{
	struct arp_entry *e = container_of(t, struct arp_entry, timer);
	if (e->state == ARP_RESOLVED && !e->refreshing)
		return;
	if (e->tries >= ARP_RETRIES) {
		entry_free(e); /* nobody answers: drop what waits, forget the address */
		return;
	}
	send_request(e);
}

static struct arp_entry *lookup(struct netif *ifp, uint32_t ip)
{
	for (int i = 0; i < ARP_CACHE_SIZE; i++)
		if (cache[i].state != ARP_FREE && cache[i].netif == ifp && cache[i].ip == ip)
			return &cache[i];
	return NULL;
}

/* A free entry, or else the least recently used resolved one. */
static struct arp_entry *allocate(void)
{
	struct arp_entry *victim = NULL;
	for (int i = 0; i < ARP_CACHE_SIZE; i++) {
		struct arp_entry *e = &cache[i];
		if (e->state == ARP_FREE)
			return e;
		if (e->state == ARP_RESOLVED && (!victim || e->last_used < victim->last_used))
			victim = e;
	}
	if (victim)
		entry_free(victim);
	return victim;
}

static void learned(struct arp_entry *e, const uint8_t *mac)
{
	memcpy(e->mac, mac, ETH_ALEN);
	e->state = ARP_RESOLVED;
	e->confirmed = clock_monotonic_ns();
	e->tries = 0;
	e->refreshing = false;
	net_timer_cancel(&e->timer);
	struct netbuf *nb;
	while ((nb = netbuf_dequeue(&e->pending)))
		ethernet_send(e->netif, nb, e->mac, ETHERTYPE_IPV4);
}

void arp_input(struct netif *ifp, struct netbuf *nb)
{
	net_stats.arp_in++;
	const uint8_t *p = nb->data;
	if (nb->len < ARP_PACKET_LEN || get_be16(p) != 1 || get_be16(p + 2) != ETHERTYPE_IPV4 || p[4] != ETH_ALEN ||
	    p[5] != 4)
		goto drop;
	uint16_t op = get_be16(p + 6);
	const uint8_t *sender_mac = p + 8;
	uint32_t sender_ip = get_be32(p + 14), target_ip = get_be32(p + 24);
	if ((op != ARP_REQUEST && op != ARP_REPLY) || (sender_mac[0] & 1) || sender_ip == 0 ||
	    ip_is_broadcast(sender_ip) || ip_is_multicast(sender_ip))
		goto drop;
	if (ifp->addr && sender_ip == ifp->addr)
		goto drop; /* someone claims our address: ignore (no conflict handling yet) */
	struct arp_entry *e = lookup(ifp, sender_ip);
	if (e)
		learned(e, sender_mac); /* RFC 826: update whoever we already know */
	bool for_us = ifp->addr && target_ip == ifp->addr;
	if (for_us) {
		if (!e && (e = allocate())) {
			e->netif = ifp;
			e->ip = sender_ip;
			e->last_used = clock_monotonic_ns();
			net_timer_init(&e->timer, entry_timer);
			learned(e, sender_mac); /* they talk to us: we will answer them */
		}
		if (op == ARP_REQUEST)
			send_arp(ifp, ARP_REPLY, sender_mac, sender_mac, sender_ip, ifp->addr);
	}
drop:
	netbuf_free(nb);
}

void arp_output(struct netif *ifp, struct netbuf *nb, uint32_t ip)
{
	if (ip_is_broadcast(ip)) {
		ethernet_send(ifp, nb, broadcast_mac, ETHERTYPE_IPV4);
		return;
	}
	uint64_t now = clock_monotonic_ns();
	struct arp_entry *e = lookup(ifp, ip);
	if (e && e->state == ARP_RESOLVED) {
		e->last_used = now;
		if (now - e->confirmed > ARP_REACHABLE_NS && !e->refreshing) {
			e->refreshing = true; /* keep using it while we ask again */
			e->tries = 0;
			send_request(e);
		}
		ethernet_send(ifp, nb, e->mac, ETHERTYPE_IPV4);
		return;
	}
	if (!e) {
		e = allocate();
		if (!e) {
			net_stats.arp_dropped++;
			netbuf_free(nb);
			return;
		}
		e->state = ARP_RESOLVING;
		e->netif = ifp;
		e->ip = ip;
		e->tries = 0;
		e->last_used = now;
		e->pending = (struct netbuf_queue){0};
		net_timer_init(&e->timer, entry_timer);
		send_request(e);
	}
	if (e->pending.count >= ARP_PENDING_MAX) {
		struct netbuf *oldest = netbuf_dequeue(&e->pending);
		netbuf_free(oldest);
		net_stats.arp_dropped++;
	}
	netbuf_enqueue(&e->pending, nb);
}

void arp_announce(struct netif *ifp)
{
	static const uint8_t zero_mac[ETH_ALEN];
	send_arp(ifp, ARP_REQUEST, broadcast_mac, zero_mac, ifp->addr, ifp->addr);
}

void arp_flush(struct netif *ifp)
{
	for (int i = 0; i < ARP_CACHE_SIZE; i++)
		if (cache[i].state != ARP_FREE && cache[i].netif == ifp)
			entry_free(&cache[i]);
}
