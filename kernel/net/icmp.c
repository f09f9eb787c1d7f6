/* ICMP (RFC 792, RFC 1122 §3.2.2): echo replies, destination-unreachable errors for datagrams nobody
 * takes, and errors about our own datagrams handed to UDP and TCP. */
#include "lib.h"
#include "net/ip.h"
#include "net/netif.h"

#define ICMP_HEADER_LEN 8

static void send_icmp(struct netbuf *nb, uint32_t src, uint32_t dst)
{
	nb->data[2] = nb->data[3] = 0;
	uint16_t sum = csum_fold(csum_partial(nb->data, nb->len, 0));
	memcpy(nb->data + 2, &sum, 2);
	net_stats.icmp_out++;
	ip_output(nb, src, dst, IPPROTO_ICMP, L4_NO_CHECKSUM, NULL);
}

static void echo_reply(struct netbuf *nb, const struct ip_packet *ip)
{
	if (ip->broadcast) { /* no answers to broadcast pings (Linux's icmp_echo_ignore_broadcasts) */
		netbuf_free(nb);
		return;
	}
	struct netbuf *reply = netbuf_alloc(nb->len, NETBUF_HEADROOM);
	if (!reply) {
		netbuf_free(nb);
		return;
	}
	memcpy(reply->data, nb->data, nb->len);
	reply->data[0] = ICMP_ECHO_REPLY;
	reply->data[1] = 0;
	uint32_t dst = ip->src, src = ip->dst;
	netbuf_free(nb);
	send_icmp(reply, src, dst);
}

void icmp_input(struct netbuf *nb, const struct ip_packet *ip)
{
	net_stats.icmp_in++;
	if (nb->len < ICMP_HEADER_LEN ||
	    (!(nb->flags & NB_CSUM_VALID) && csum_fold(csum_partial(nb->data, nb->len, 0)) != 0)) {
		net_stats.icmp_bad++;
		netbuf_free(nb);
		return;
	}
	uint8_t type = nb->data[0], code = nb->data[1];
	switch (type) {
	case ICMP_ECHO_REQUEST:
		echo_reply(nb, ip);
		return;
	case ICMP_DEST_UNREACHABLE:
	case ICMP_TIME_EXCEEDED: {
		/* The quoted datagram: its IP header and at least 8 bytes of its L4 header. */
		const uint8_t *q = nb->data + ICMP_HEADER_LEN;
		uint32_t len = nb->len - ICMP_HEADER_LEN;
		if (len < IP_HEADER_LEN || (q[0] >> 4) != 4)
			break;
		uint32_t qlen = (q[0] & 0xf) * 4u;
		if (qlen < IP_HEADER_LEN || len < qlen + 8)
			break;
		uint32_t src = get_be32(q + 12), dst = get_be32(q + 16);
		if (!netif_is_local(src))
			break; /* not about something we sent */
		if (q[9] == IPPROTO_UDP)
			udp_icmp_error(src, dst, q + qlen, type, code);
		else if (q[9] == IPPROTO_TCP)
			tcp_icmp_error(src, dst, q + qlen, type, code);
		break;
	}
	default:
		break;
	}
	netbuf_free(nb);
}

void icmp_send_error(const struct netbuf *nb, const struct ip_packet *ip, uint8_t type, uint8_t code)
{
	if (ip->broadcast || !ip->src || ip_is_broadcast(ip->src))
		return;
	if ((get_be16(ip->header + 6) & IP_OFFSET_MASK) != 0)
		return; /* only about the first fragment */
	if (ip->proto == IPPROTO_ICMP && nb->len >= 1) {
		uint8_t t = nb->data[0];
		if (t != ICMP_ECHO_REQUEST && t != ICMP_ECHO_REPLY)
			return; /* never an error about an error */
	}
	/* RFC 1812's suggestion: as much of the original as fits in 576 bytes. */
	uint32_t quoted = MIN(ip->header_len + nb->len, 576u - IP_HEADER_LEN - ICMP_HEADER_LEN);
	struct netbuf *e = netbuf_alloc(ICMP_HEADER_LEN + quoted, NETBUF_HEADROOM);
	if (!e)
		return;
	memset(e->data, 0, ICMP_HEADER_LEN);
	e->data[0] = type;
	e->data[1] = code;
	uint32_t from_header = MIN(ip->header_len, quoted);
	memcpy(e->data + ICMP_HEADER_LEN, ip->header, from_header);
	memcpy(e->data + ICMP_HEADER_LEN + from_header, nb->data, quoted - from_header);
	uint32_t src = netif_is_local(ip->dst) ? ip->dst : ip_source_for(ip->src);
	send_icmp(e, src, ip->src);
}
