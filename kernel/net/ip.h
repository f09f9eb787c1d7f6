/* IPv4 (net/ipv4.c): input checks and dispatch, output with routing, L4 checksums (in software or
 * offloaded to the device) and fragmentation; reassembly (net/ip_reassembly.c); ICMP (net/icmp.c);
 * and the transports' input entry points (net/udp.c, net/tcp_input.c). */
#pragma once
#include "net/net.h"

struct netif;

#define IP_HEADER_LEN 20
#define IP_MAX_PACKET 65535
#define IP_FLAG_DF 0x4000
#define IP_FLAG_MF 0x2000
#define IP_OFFSET_MASK 0x1fff
#define IP_DEFAULT_TTL 64
#define L4_NO_CHECKSUM 0xffff

/* What ip_input tells a transport about the datagram it hands over (nb->data is then the L4 header,
 * nb->len its length). */
struct ip_packet {
	uint32_t src, dst;
	uint8_t proto, ttl, tos;
	bool broadcast;        /* to a broadcast or multicast address: never answered with ICMP or RST */
	const uint8_t *header; /* the IP header, still in the buffer in front of nb->data */
	uint32_t header_len;
	struct netif *netif;
};

void ip_input(struct netif *ifp, struct netbuf *nb);

struct ip_send_options {
	uint8_t ttl, tos;        /* 0: defaults */
	bool dont_fragment;
	struct netif *netif;     /* send on this interface whatever the routes say (DHCP before an address) */
};
/* Sends nb (data = the L4 header) from src to dst: routes it, fills the L4 checksum whose field is at
 * csum_offset in the L4 header (L4_NO_CHECKSUM: the caller did it), prepends the IPv4 header and
 * fragments when needed. Takes nb. 0, or -ENETUNREACH, -EMSGSIZE (too big with DF), -ENOMEM. */
int ip_output(struct netbuf *nb, uint32_t src, uint32_t dst, uint8_t proto, uint16_t csum_offset,
	      const struct ip_send_options *options);
/* The interface towards dst and the next hop there; NULL when there is no route. */
struct netif *ip_route(uint32_t dst, uint32_t *next_hop);
/* The source address a packet to dst gets (0 without a route). */
uint32_t ip_source_for(uint32_t dst);
/* The largest IP packet towards dst (its interface's MTU); 576 without a route. */
uint32_t ip_mtu_towards(uint32_t dst);
/* Whether dst is a broadcast address for us (255.255.255.255 or an interface's subnet broadcast). */
bool ip_is_broadcast(uint32_t dst);

/* Reassembly: takes a fragment (nb->data at its IP header); returns the whole datagram with a rebuilt
 * header once every piece is there, else NULL. Bounded in datagrams, bytes and time. */
struct netbuf *ip_reassemble(struct netbuf *nb);

/* ICMP. */
#define ICMP_ECHO_REPLY 0
#define ICMP_DEST_UNREACHABLE 3
#define ICMP_ECHO_REQUEST 8
#define ICMP_TIME_EXCEEDED 11
#define ICMP_UNREACH_NET 0
#define ICMP_UNREACH_HOST 1
#define ICMP_UNREACH_PROTOCOL 2
#define ICMP_UNREACH_PORT 3
#define ICMP_UNREACH_NEEDFRAG 4
void icmp_input(struct netbuf *nb, const struct ip_packet *ip);
/* Answers the datagram in nb (data = its L4 header, ip its IP header) with an ICMP error, unless
 * RFC 1122 forbids it (broadcasts, fragments after the first, ICMP errors). Does not take nb. */
void icmp_send_error(const struct netbuf *nb, const struct ip_packet *ip, uint8_t type, uint8_t code);

/* Transports. Each takes nb. */
void udp_input(struct netbuf *nb, const struct ip_packet *ip);
void tcp_input(struct netbuf *nb, const struct ip_packet *ip);
/* ICMP errors about datagrams we sent: quoted is our original L4 header's first 8 bytes. */
void udp_icmp_error(uint32_t src, uint32_t dst, const uint8_t *quoted, uint8_t type, uint8_t code);
void tcp_icmp_error(uint32_t src, uint32_t dst, const uint8_t *quoted, uint8_t type, uint8_t code);
