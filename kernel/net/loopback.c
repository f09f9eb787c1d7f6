/* The loopback interface lo (127.0.0.1/8, and every packet to one of our own addresses). Sent packets
 * wait in a queue and are received at the next net_poll, so that a reply never runs inside the code
 * that sent the request. Checksums are not computed: the data never leaves memory. */
#include "lib.h"
#include "net/netif.h"
#include "param.h"
#include "sched/deferred.h"

static struct netif lo;
static struct netbuf_queue queue;

static void loopback_transmit(struct netif *ifp, struct netbuf *nb)
{
	if (queue.count >= LOOPBACK_QUEUE_MAX) {
		ifp->stats.tx_dropped++;
		netbuf_free(nb);
		return;
	}
	ifp->stats.tx_packets++;
	ifp->stats.tx_bytes += nb->len;
	nb->flags = (nb->flags & ~NB_CSUM_PARTIAL) | NB_CSUM_VALID;
	netbuf_enqueue(&queue, nb);
	deferred_kick();
}

static bool loopback_poll(struct netif *ifp)
{
	/* Only what was queued before this poll: replies wait for the next round. */
	uint32_t n = queue.count;
	for (uint32_t i = 0; i < n; i++)
		netif_input(ifp, netbuf_dequeue(&queue));
	return n != 0;
}

struct netif *loopback_init(void)
{
	if (lo.index)
		return &lo;
	memcpy(lo.name, "lo", 3);
	lo.flags = IFF_UP | IFF_RUNNING | IFF_LOOPBACK;
	lo.mtu = LOOPBACK_MTU;
	lo.tx_csum = true;
	lo.transmit = loopback_transmit;
	lo.poll = loopback_poll;
	lo.addr = IP_LOOPBACK;
	lo.netmask = IP4(255, 0, 0, 0);
	return netif_register(&lo) == 0 ? &lo : NULL;
}
