/* IPv4 input and output (RFC 791, RFC 1122 host requirements): header checks, dispatch to ICMP, UDP
 * and TCP, routing over the interface table (loopback, directly connected subnets, the default
 * gateway), L4 checksums in software or offloaded, and output fragmentation. We are a host, never a
 * router: packets for other addresses are dropped. */
#include "errno.h"
#include "lib.h"
#include "net/ip.h"
#include "net/netif.h"

static uint16_t next_id;

bool ip_is_broadcast(uint32_t dst)
{
	if (dst == IP_BROADCAST)
		return true;
	for (int i = 0; i < netif_count(); i++) {
		struct netif *ifp = netif_at(i);
		if (ifp->addr && ifp->netmask != 0xffffffffu && dst == (ifp->addr | ~ifp->netmask))
			return true;
	}
	return false;
}

/* Whether a packet to dst that came in on ifp is ours to take. */
static bool accepted_destination(struct netif *ifp, uint32_t dst)
{
	if (netif_is_local(dst) || ip_is_broadcast(dst))
		return true;
	/* Before DHCP configured the interface, the server may answer to the address it offers. */
	return ifp->ethernet && !ifp->addr;
}

void ip_input(struct netif *ifp, struct netbuf *nb)
{
	net_stats.ip_in++;
	if (nb->len < IP_HEADER_LEN)
		goto bad_header;
	const uint8_t *h = nb->data;
	uint32_t header_len = (h[0] & 0xf) * 4u, total = get_be16(h + 2);
	if ((h[0] >> 4) != 4 || header_len < IP_HEADER_LEN || header_len > nb->len || total < header_len ||
	    total > nb->len)
		goto bad_header;
	if (csum_fold(csum_partial(h, header_len, 0)) != 0) {
		net_stats.ip_bad_checksum++;
		goto drop;
	}
	netbuf_trim(nb, total); /* Ethernet pads short frames */
	uint32_t src = get_be32(h + 12), dst = get_be32(h + 16);
	if (ip_is_multicast(src) || src == IP_BROADCAST || (ip_is_loopback(src) && !(ifp->flags & IFF_LOOPBACK)) ||
	    (ip_is_loopback(dst) && !(ifp->flags & IFF_LOOPBACK)))
		goto bad_header; /* martians */
	if (!accepted_destination(ifp, dst)) {
		net_stats.ip_not_ours++;
		goto drop;
	}
	uint16_t fragment = get_be16(h + 6);
	if (fragment & (IP_FLAG_MF | IP_OFFSET_MASK)) {
		net_stats.ip_fragments++;
		nb = ip_reassemble(nb);
		if (!nb)
			return;
		h = nb->data;
		header_len = (h[0] & 0xf) * 4u;
		total = nb->len;
	}
	struct ip_packet ip = {
	    .src = src,
	    .dst = dst,
	    .proto = h[9],
	    .ttl = h[8],
	    .tos = h[1],
	    .broadcast = ip_is_broadcast(dst) || ip_is_multicast(dst) || (nb->flags & NB_LINK_BROADCAST),
	    .header = h,
	    .header_len = header_len,
	    .netif = ifp,
	};
	netbuf_pull(nb, header_len);
	switch (ip.proto) {
	case IPPROTO_ICMP:
		icmp_input(nb, &ip);
		return;
	case IPPROTO_UDP:
		udp_input(nb, &ip);
		return;
	case IPPROTO_TCP:
		tcp_input(nb, &ip);
		return;
	default:
		icmp_send_error(nb, &ip, ICMP_DEST_UNREACHABLE, ICMP_UNREACH_PROTOCOL);
		goto drop;
	}
bad_header:
	net_stats.ip_bad_header++;
drop:
	netbuf_free(nb);
}

struct netif *ip_route(uint32_t dst, uint32_t *next_hop)
{
	*next_hop = dst;
	if (netif_is_local(dst))
		return netif_at(0); /* lo: our own addresses never go out on a wire */
	struct netif *primary = netif_primary();
	if (dst == IP_BROADCAST)
		return primary;
	for (int i = 0; i < netif_count(); i++) {
		struct netif *ifp = netif_at(i);
		if (ifp->ethernet && ifp->addr && (dst & ifp->netmask) == (ifp->addr & ifp->netmask))
			return ifp;
	}
	if (net_config.gateway && primary && primary->addr) {
		*next_hop = net_config.gateway;
		return primary;
	}
	return NULL;
}

uint32_t ip_source_for(uint32_t dst)
{
	uint32_t next_hop;
	struct netif *ifp = ip_route(dst, &next_hop);
	if (!ifp)
		return 0;
	if (ifp->flags & IFF_LOOPBACK)
		return ip_is_loopback(dst) ? IP_LOOPBACK : dst;
	return ifp->addr;
}

uint32_t ip_mtu_towards(uint32_t dst)
{
	uint32_t next_hop;
	struct netif *ifp = ip_route(dst, &next_hop);
	return ifp ? ifp->mtu : 576;
}

static void write_header(uint8_t *h, uint32_t total, uint16_t id, uint16_t fragment, uint8_t ttl, uint8_t tos,
			 uint8_t proto, uint32_t src, uint32_t dst)
{
	h[0] = 0x45;
	h[1] = tos;
	put_be16(h + 2, (uint16_t)total);
	put_be16(h + 4, id);
	put_be16(h + 6, fragment);
	h[8] = ttl;
	h[9] = proto;
	h[10] = h[11] = 0;
	put_be32(h + 12, src);
	put_be32(h + 16, dst);
	uint16_t sum = csum_fold(csum_partial(h, IP_HEADER_LEN, 0));
	memcpy(h + 10, &sum, 2);
}

/* Splits a datagram too big for the MTU into fragments (RFC 791): each carries a multiple of 8 bytes
 * except the last. Takes nb. */
static int send_fragments(struct netif *ifp, uint32_t next_hop, struct netbuf *nb, uint16_t id, uint8_t ttl,
			  uint8_t tos, uint8_t proto, uint32_t src, uint32_t dst)
{
	uint32_t per_fragment = ALIGN_DOWN(ifp->mtu - IP_HEADER_LEN, 8u);
	for (uint32_t offset = 0; offset < nb->len; offset += per_fragment) {
		uint32_t n = MIN(per_fragment, nb->len - offset);
		struct netbuf *f = netbuf_alloc(n, NETBUF_HEADROOM);
		if (!f) {
			netbuf_free(nb);
			return -ENOMEM;
		}
		memcpy(f->data, nb->data + offset, n);
		bool more = offset + n < nb->len;
		write_header(netbuf_push(f, IP_HEADER_LEN), IP_HEADER_LEN + n, id,
			     (uint16_t)((more ? IP_FLAG_MF : 0) | (offset / 8)), ttl, tos, proto, src, dst);
		net_stats.ip_out++;
		netif_output(ifp, f, next_hop);
	}
	netbuf_free(nb);
	return 0;
}

int ip_output(struct netbuf *nb, uint32_t src, uint32_t dst, uint8_t proto, uint16_t csum_offset,
	      const struct ip_send_options *options)
{
	uint32_t next_hop = dst;
	struct netif *ifp = options && options->netif ? options->netif : ip_route(dst, &next_hop);
	if (!ifp) {
		net_stats.ip_no_route++;
		netbuf_free(nb);
		return -ENETUNREACH;
	}
	uint8_t ttl = options && options->ttl ? options->ttl : IP_DEFAULT_TTL;
	uint8_t tos = options ? options->tos : 0;
	bool dont_fragment = options && options->dont_fragment;
	uint32_t total = IP_HEADER_LEN + nb->len;
	bool offloaded = nb->gso_size && ifp->tx_csum && total <= ifp->gso_max; /* the device segments it */
	if (!offloaded)
		nb->gso_size = 0;
	if (total > IP_MAX_PACKET || (total > ifp->mtu && dont_fragment && !offloaded)) {
		netbuf_free(nb);
		return -EMSGSIZE;
	}
	bool fragmenting = total > ifp->mtu && !offloaded;
	if (csum_offset != L4_NO_CHECKSUM) {
		uint8_t *field = nb->data + csum_offset;
		uint64_t pseudo = csum_pseudo(src, dst, proto, (uint16_t)nb->len);
		if (ifp->tx_csum && !fragmenting) {
			uint16_t seed = csum_fold_raw(pseudo);
			memcpy(field, &seed, 2);
			nb->flags |= NB_CSUM_PARTIAL;
			nb->csum_start = nb->data;
			nb->csum_offset = csum_offset;
		} else {
			field[0] = field[1] = 0;
			uint16_t sum = csum_fold(csum_partial(nb->data, nb->len, pseudo));
			if (sum == 0 && proto == IPPROTO_UDP)
				sum = 0xffff; /* 0 means "no checksum" in UDP */
			memcpy(field, &sum, 2);
		}
	}
	uint16_t id = next_id++;
	if (fragmenting)
		return send_fragments(ifp, next_hop, nb, id, ttl, tos, proto, src, dst);
	if (netbuf_headroom(nb) < IP_HEADER_LEN + ETH_HEADER_LEN + 12) {
		netbuf_free(nb);
		return -ENOMEM; /* a caller bug: every sender reserves NETBUF_HEADROOM */
	}
	write_header(netbuf_push(nb, IP_HEADER_LEN), total, id, dont_fragment ? IP_FLAG_DF : 0, ttl, tos, proto, src,
		     dst);
	net_stats.ip_out++;
	netif_output(ifp, nb, next_hop);
	return 0;
}
