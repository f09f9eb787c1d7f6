/* UDP (RFC 768): demultiplexing to bound sockets (the most specific match; every match for
 * broadcasts), per-socket queues bounded by SO_RCVBUF, ICMP port unreachable for datagrams nobody
 * wants, and errors from ICMP reported on connected sockets as Linux does (ECONNREFUSED). The kernel's
 * own DHCP client takes port 68 through udp_kernel_port. */
#include "errno.h"
#include "lib.h"
#include "net/ip.h"
#include "net/netif.h"
#include "net/socket.h"
#include "net/udp.h"
#include "param.h"

#define UDP_HEADER_LEN 8
#define UDP_MAX_PAYLOAD (IP_MAX_PACKET - IP_HEADER_LEN - UDP_HEADER_LEN)

static struct socket *bound;
static struct {
	uint16_t port;
	udp_kernel_handler handler;
} kernel_ports[2];

void udp_kernel_port(uint16_t port, udp_kernel_handler handler)
{
	for (size_t i = 0; i < ARRAY_SIZE(kernel_ports); i++) {
		if (kernel_ports[i].port == port || !kernel_ports[i].handler) {
			kernel_ports[i].port = port;
			kernel_ports[i].handler = handler;
			return;
		}
	}
}

bool udp_port_used(uint32_t addr, uint16_t port, const struct socket *except, bool reuse_ok)
{
	for (struct socket *s = bound; s; s = s->next) {
		if (s == except || s->local_port != port)
			continue;
		if (addr && s->local_addr && addr != s->local_addr)
			continue;
		if (reuse_ok && except && ((except->reuse_addr && s->reuse_addr) || (except->reuse_port && s->reuse_port)))
			continue;
		return true;
	}
	for (size_t i = 0; i < ARRAY_SIZE(kernel_ports); i++)
		if (kernel_ports[i].handler && kernel_ports[i].port == port)
			return true;
	return false;
}

int udp_bind(struct socket *s)
{
	s->next = bound;
	bound = s;
	s->bound = true;
	return 0;
}

void udp_unbind(struct socket *s)
{
	for (struct socket **p = &bound; *p; p = &(*p)->next) {
		if (*p == s) {
			*p = s->next;
			break;
		}
	}
	netbuf_queue_purge(&s->rx);
	s->rx_bytes = 0;
	s->bound = false;
}

/* How well s matches a datagram: -1 not at all, higher is more specific. */
static int match(const struct socket *s, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport)
{
	if (s->local_port != dport)
		return -1;
	int score = 0;
	if (s->local_addr) {
		if (s->local_addr != dst && !ip_is_broadcast(dst))
			return -1;
		score += 2;
	}
	if (s->connected) {
		if (s->remote_addr != src || s->remote_port != sport)
			return -1;
		score += 4;
	}
	return score;
}

static void deliver(struct socket *s, struct netbuf *nb, uint32_t src)
{
	uint32_t payload = nb->len - UDP_HEADER_LEN;
	if ((s->shutdown & RCV_SHUTDOWN) || s->rx_bytes + payload > s->rcvbuf) {
		net_stats.udp_queue_full++;
		netbuf_free(nb);
		return;
	}
	/* The header's length and checksum are not needed any more: the source address goes there. */
	put_be32(nb->data + 4, src);
	netbuf_enqueue(&s->rx, nb);
	s->rx_bytes += payload;
	socket_wake(s);
}

void udp_input(struct netbuf *nb, const struct ip_packet *ip)
{
	net_stats.udp_in++;
	if (nb->len < UDP_HEADER_LEN)
		goto bad;
	const uint8_t *h = nb->data;
	uint16_t sport = get_be16(h), dport = get_be16(h + 2), len = get_be16(h + 4);
	if (len < UDP_HEADER_LEN || len > nb->len)
		goto bad;
	netbuf_trim(nb, len);
	if (get_be16(h + 6) && !(nb->flags & (NB_CSUM_VALID | NB_CSUM_PARTIAL)) &&
	    csum_fold(csum_partial(h, len, csum_pseudo(ip->src, ip->dst, IPPROTO_UDP, len))) != 0)
		goto bad;
	for (size_t i = 0; i < ARRAY_SIZE(kernel_ports); i++) {
		if (kernel_ports[i].handler && kernel_ports[i].port == dport) {
			netbuf_pull(nb, UDP_HEADER_LEN);
			kernel_ports[i].handler(nb, ip, sport);
			return;
		}
	}
	if (ip->broadcast) {
		/* Every socket that matches gets a copy. */
		struct socket *last = NULL;
		for (struct socket *s = bound; s; s = s->next) {
			if (match(s, ip->src, sport, ip->dst, dport) < 0)
				continue;
			if (last) {
				struct netbuf *copy = netbuf_clone(nb, 0);
				if (copy)
					deliver(last, copy, ip->src);
			}
			last = s;
		}
		if (last)
			deliver(last, nb, ip->src);
		else
			netbuf_free(nb);
		return;
	}
	struct socket *best = NULL;
	int best_score = -1;
	for (struct socket *s = bound; s; s = s->next) {
		int score = match(s, ip->src, sport, ip->dst, dport);
		if (score > best_score) {
			best = s;
			best_score = score;
		}
	}
	if (!best) {
		net_stats.udp_no_port++;
		icmp_send_error(nb, ip, ICMP_DEST_UNREACHABLE, ICMP_UNREACH_PORT);
		netbuf_free(nb);
		return;
	}
	deliver(best, nb, ip->src);
	return;
bad:
	net_stats.udp_bad++;
	netbuf_free(nb);
}

int udp_send_raw(struct netbuf *nb, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
		 const struct ip_send_options *options)
{
	uint8_t *h = netbuf_push(nb, UDP_HEADER_LEN);
	put_be16(h, sport);
	put_be16(h + 2, dport);
	put_be16(h + 4, (uint16_t)nb->len);
	put_be16(h + 6, 0);
	net_stats.udp_out++;
	return ip_output(nb, src, dst, IPPROTO_UDP, 6, options);
}

long udp_send(struct socket *s, struct iov_iter *it, const struct inet_address *to)
{
	uint32_t dst;
	uint16_t dport;
	if (to) {
		dst = to->addr;
		dport = to->port;
	} else if (s->connected) {
		dst = s->remote_addr;
		dport = s->remote_port;
	} else {
		return -EDESTADDRREQ;
	}
	if (dst == IP_ANY)
		dst = IP_LOOPBACK; /* as Linux: INADDR_ANY means this host */
	if (dport == 0)
		return -EINVAL;
	if (ip_is_broadcast(dst) && !s->broadcast)
		return -EACCES;
	size_t len = it->remaining;
	if (len > UDP_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (!s->bound) {
		uint16_t port = port_ephemeral(IPPROTO_UDP, 0);
		if (!port)
			return -EAGAIN;
		s->local_port = port;
		udp_bind(s);
	}
	uint32_t src = s->local_addr ? s->local_addr : ip_source_for(dst);
	if (!src)
		return -ENETUNREACH;
	struct netbuf *nb = netbuf_alloc((uint32_t)len, NETBUF_HEADROOM);
	if (!nb)
		return -ENOBUFS;
	if (iov_copy_from_user(it, nb->data, len) != (long)len) {
		netbuf_free(nb);
		return -EFAULT;
	}
	struct ip_send_options options = {.ttl = s->ttl, .tos = s->tos};
	int err = udp_send_raw(nb, src, s->local_port, dst, dport, &options);
	return err < 0 ? err : (long)len;
}

long udp_recv(struct socket *s, struct iov_iter *it, int flags, struct inet_address *from, bool *truncated)
{
	struct netbuf *nb = s->rx.head;
	if (!nb)
		return -EAGAIN;
	uint32_t payload = nb->len - UDP_HEADER_LEN;
	size_t room = it->remaining;
	long copied = iov_copy_to_user(it, nb->data + UDP_HEADER_LEN, MIN(room, payload));
	if (copied < 0 && payload)
		return copied;
	if (from) {
		from->addr = get_be32(nb->data + 4);
		from->port = get_be16(nb->data);
	}
	*truncated = payload > room;
	if (!(flags & MSG_PEEK)) {
		netbuf_dequeue(&s->rx);
		s->rx_bytes -= payload;
		netbuf_free(nb);
	}
	return (flags & MSG_TRUNC) ? (long)payload : (copied < 0 ? 0 : copied);
}

void udp_icmp_error(uint32_t src, uint32_t dst, const uint8_t *quoted, uint8_t type, uint8_t code)
{
	uint16_t sport = get_be16(quoted), dport = get_be16(quoted + 2);
	for (struct socket *s = bound; s; s = s->next) {
		if (s->local_port != sport || !s->connected || s->remote_addr != dst || s->remote_port != dport)
			continue;
		if (type == ICMP_DEST_UNREACHABLE)
			s->error = code == ICMP_UNREACH_PORT ? ECONNREFUSED
				   : code == ICMP_UNREACH_NEEDFRAG ? EMSGSIZE
				   : code == ICMP_UNREACH_NET ? ENETUNREACH : EHOSTUNREACH;
		else
			s->error = EHOSTUNREACH;
		socket_wake(s);
	}
}
