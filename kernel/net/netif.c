/* The interface table (net/netif.h) and the dispatch of frames between drivers and protocols. */
#include "errno.h"
#include "lib.h"
#include "net/ip.h"
#include "net/netif.h"
#include "param.h"

static struct netif *interfaces[NET_MAX_INTERFACES];
static int interface_count;

int netif_register(struct netif *ifp)
{
	/* lo is always index 1, as on Linux, even when a driver registers before net_init. */
	if (interface_count == 0 && !(ifp->flags & IFF_LOOPBACK) && !loopback_init())
		return -ENOSPC;
	if (interface_count == NET_MAX_INTERFACES)
		return -ENOSPC;
	interfaces[interface_count++] = ifp;
	ifp->index = interface_count;
	return 0;
}

int netif_count(void) { return interface_count; }
struct netif *netif_at(int i) { return i >= 0 && i < interface_count ? interfaces[i] : NULL; }
struct netif *netif_by_index(int index) { return netif_at(index - 1); }

struct netif *netif_by_name(const char *name)
{
	for (int i = 0; i < interface_count; i++)
		if (strncmp(interfaces[i]->name, name, IFNAMSIZ) == 0)
			return interfaces[i];
	return NULL;
}

struct netif *netif_primary(void)
{
	for (int i = 0; i < interface_count; i++)
		if (interfaces[i]->ethernet)
			return interfaces[i];
	return NULL;
}

struct netif *netif_by_addr(uint32_t addr)
{
	for (int i = 0; i < interface_count; i++)
		if (interfaces[i]->addr && interfaces[i]->addr == addr)
			return interfaces[i];
	return NULL;
}

bool netif_is_local(uint32_t addr) { return ip_is_loopback(addr) || netif_by_addr(addr); }

void netif_set_addr(struct netif *ifp, uint32_t addr, uint32_t netmask)
{
	if (ifp->addr != addr && ifp->ethernet)
		arp_flush(ifp);
	ifp->addr = addr;
	ifp->netmask = addr ? netmask : 0;
	if (addr && ifp->ethernet)
		arp_announce(ifp);
}

void netif_input(struct netif *ifp, struct netbuf *nb)
{
	nb->netif = ifp;
	ifp->stats.rx_packets++;
	ifp->stats.rx_bytes += nb->len;
	if (ifp->ethernet)
		ethernet_input(ifp, nb);
	else
		ip_input(ifp, nb);
}

void netif_output(struct netif *ifp, struct netbuf *nb, uint32_t next_hop)
{
	if (!(ifp->flags & IFF_UP)) {
		ifp->stats.tx_dropped++;
		netbuf_free(nb);
		return;
	}
	if (ifp->ethernet)
		arp_output(ifp, nb, next_hop);
	else
		ifp->transmit(ifp, nb);
}
