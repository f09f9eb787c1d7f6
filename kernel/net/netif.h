/* Network interfaces: what a driver registers (net/netif.c), the loopback interface (net/loopback.c),
 * and the glue between drivers and the protocols: frames in (netif_input), IP packets out
 * (netif_output: ARP and Ethernet for Ethernet devices, straight through for loopback). */
#pragma once
#include "net/net.h"

#define IFNAMSIZ 16
#define IFF_UP 0x1
#define IFF_BROADCAST 0x2
#define IFF_LOOPBACK 0x8
#define IFF_RUNNING 0x40
#define IFF_MULTICAST 0x1000
#define ETH_ALEN 6

struct netif {
	char name[IFNAMSIZ];
	int index;      /* 1 for lo, then in registration order */
	uint32_t flags; /* IFF_* */
	uint32_t mtu;   /* largest IP packet */
	uint8_t mac[ETH_ALEN];
	bool ethernet;  /* frames carry an Ethernet header; next hops are resolved with ARP */
	bool tx_csum;   /* the device completes checksums of NB_CSUM_PARTIAL packets */
	uint32_t gso_max; /* TCP segmentation offload: the largest IPv4 packet it takes and cuts (0: none) */
	bool no_interrupts; /* the driver must be polled: waits re-check often */
	uint32_t addr, netmask; /* host byte order; 0 until configured */
	/* Sends one frame (Ethernet devices) or IP packet (loopback) and takes ownership of nb. */
	void (*transmit)(struct netif *ifp, struct netbuf *nb);
	/* Hands received frames to netif_input and reclaims sent buffers; true when it did anything. */
	bool (*poll)(struct netif *ifp);
	void *driver;
	struct {
		uint64_t rx_packets, rx_bytes, rx_dropped, rx_errors, tx_packets, tx_bytes, tx_dropped;
	} stats;
};

/* Adds an interface (a driver calls it at probe time; the name is given, e.g. "eth0"); 0 or -ENOSPC. */
int netif_register(struct netif *ifp);
/* The registered interfaces, lo first. */
int netif_count(void);
struct netif *netif_at(int i);
struct netif *netif_by_index(int index);
struct netif *netif_by_name(const char *name);
/* The first Ethernet interface (eth0), or NULL. */
struct netif *netif_primary(void);
/* The interface owning addr, or NULL. */
struct netif *netif_by_addr(uint32_t addr);
/* Whether addr is one of ours (an interface address, any 127/8 address, or a broadcast we accept). */
bool netif_is_local(uint32_t addr);
/* Gives an interface its address (0 to remove it). */
void netif_set_addr(struct netif *ifp, uint32_t addr, uint32_t netmask);

/* A frame (Ethernet interfaces) or packet (loopback) from the driver: dispatched to ARP or IPv4.
 * Takes ownership of nb. */
void netif_input(struct netif *ifp, struct netbuf *nb);
/* Sends the IP packet in nb towards next_hop on ifp (ARP resolves it on Ethernet); takes nb. */
void netif_output(struct netif *ifp, struct netbuf *nb, uint32_t next_hop);

/* The loopback interface (lo, 127.0.0.1/8): packets sent are queued and received at the next poll. */
struct netif *loopback_init(void);

/* Ethernet (net/ethernet.c). */
#define ETH_HEADER_LEN 14
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP 0x0806
/* Prepends an Ethernet header to nb and transmits it. */
void ethernet_send(struct netif *ifp, struct netbuf *nb, const uint8_t *dst_mac, uint16_t ethertype);
void ethernet_input(struct netif *ifp, struct netbuf *nb);

/* ARP (net/arp.c): a cache of IPv4 -> MAC with timeouts; one packet per unresolved address waits. */
void arp_input(struct netif *ifp, struct netbuf *nb);
/* Sends the IP packet nb to ip on ifp, resolving ip first if needed; takes nb. */
void arp_output(struct netif *ifp, struct netbuf *nb, uint32_t ip);
/* Announces our address (gratuitous ARP) after configuration. */
void arp_announce(struct netif *ifp);
/* Forgets every entry of ifp (its address changed). */
void arp_flush(struct netif *ifp);

/* The SIOCGIF* ioctls (linux/ifreq.c), which any socket answers (the address ones only when inet: an
 * AF_INET socket); -ENOTTY for other commands. */
long netif_ioctl(uint64_t cmd, uint64_t arg, bool inet);
