/* Ethernet II framing: input filtering by destination MAC and dispatch by EtherType (IPv4, ARP);
 * output prepends the header. The driver hands over frames without the FCS. */
#include "lib.h"
#include "net/ip.h"
#include "net/netif.h"

static const uint8_t broadcast_mac[ETH_ALEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

void ethernet_send(struct netif *ifp, struct netbuf *nb, const uint8_t *dst_mac, uint16_t ethertype)
{
	uint8_t *h = netbuf_push(nb, ETH_HEADER_LEN);
	memcpy(h, dst_mac, ETH_ALEN);
	memcpy(h + 6, ifp->mac, ETH_ALEN);
	put_be16(h + 12, ethertype);
	ifp->transmit(ifp, nb);
}

void ethernet_input(struct netif *ifp, struct netbuf *nb)
{
	if (nb->len < ETH_HEADER_LEN) {
		ifp->stats.rx_errors++;
		netbuf_free(nb);
		return;
	}
	const uint8_t *h = nb->data;
	if (h[0] & 1) /* group address: broadcast or multicast */
		nb->flags |= NB_LINK_BROADCAST;
	else if (memcmp(h, ifp->mac, ETH_ALEN) != 0)
		goto drop; /* someone else's (a bridge flooding) */
	if (memcmp(h + 6, ifp->mac, ETH_ALEN) == 0 || (h[6] & 1))
		goto drop; /* our own frame looped back, or a group source address */
	if ((nb->flags & NB_LINK_BROADCAST) && memcmp(h, broadcast_mac, ETH_ALEN) != 0)
		goto drop; /* multicast: we join no groups */
	uint16_t type = get_be16(h + 12);
	netbuf_pull(nb, ETH_HEADER_LEN);
	switch (type) {
	case ETHERTYPE_IPV4:
		ip_input(ifp, nb);
		return;
	case ETHERTYPE_ARP:
		arp_input(ifp, nb);
		return;
	}
drop:
	ifp->stats.rx_dropped++;
	netbuf_free(nb);
}
