/* The network stack's shared definitions: byte order, big-endian field access for parsing packets,
 * IPv4 address helpers, the Internet checksum (net/checksum.c), the stack's timers (net/timer.c),
 * counters, and the entry points the rest of the kernel calls (net/net.c). Addresses and ports are
 * kept in host byte order inside the stack and converted where packets are read and written. */
#pragma once
#include "net/netbuf.h"
#include "poll.h"
#include "types.h"

struct boot_options;

static inline uint16_t htons(uint16_t v) { return __builtin_bswap16(v); }
static inline uint16_t ntohs(uint16_t v) { return __builtin_bswap16(v); }
static inline uint32_t htonl(uint32_t v) { return __builtin_bswap32(v); }
static inline uint32_t ntohl(uint32_t v) { return __builtin_bswap32(v); }

/* Header fields are read byte by byte: packets may start anywhere and come from anyone. */
static inline uint16_t get_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = (uint8_t)v;
}
static inline void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))
#define IP_ANY 0u
#define IP_BROADCAST 0xffffffffu
#define IP_LOOPBACK IP4(127, 0, 0, 1)
static inline bool ip_is_loopback(uint32_t a) { return (a >> 24) == 127; }
static inline bool ip_is_multicast(uint32_t a) { return (a >> 28) == 14; }

#define IPPROTO_ICMP 1
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* Internet checksum (RFC 1071). csum_partial accumulates (odd lengths only in the last call);
 * csum_fold gives the final complemented 16-bit value in the byte order it is stored in. */
uint64_t csum_partial(const void *data, size_t len, uint64_t sum);
uint16_t csum_fold(uint64_t sum);
/* The IPv4 pseudo-header's contribution for an L4 checksum. */
uint64_t csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len);
/* Folds without complementing: the pseudo-header seed devices expect in NB_CSUM_PARTIAL packets. */
uint16_t csum_fold_raw(uint64_t sum);

/* Timers of the stack (TCP retransmission, delayed ACK, ARP, reassembly, DHCP). They run from
 * net_poll, never from interrupt context. */
struct net_timer {
	struct net_timer *prev, *next;
	uint64_t deadline;
	void (*fn)(struct net_timer *t);
	bool armed;
};
void net_timer_init(struct net_timer *t, void (*fn)(struct net_timer *t));
/* (Re)arms t for an absolute clock_monotonic_ns deadline. */
void net_timer_arm(struct net_timer *t, uint64_t deadline);
void net_timer_cancel(struct net_timer *t);
/* Runs every timer whose deadline is <= now. */
void net_timers_run(uint64_t now);
/* The earliest armed deadline; 0 when none. */
uint64_t net_timers_next(void);

/* Counters for diagnostics (printed with --verbose at exit). */
struct net_stats {
	uint64_t ip_in, ip_out, ip_bad_header, ip_bad_checksum, ip_not_ours, ip_fragments, ip_reassembled,
	    ip_reassembly_dropped, ip_no_route;
	uint64_t icmp_in, icmp_out, icmp_bad;
	uint64_t udp_in, udp_out, udp_bad, udp_no_port, udp_queue_full;
	uint64_t tcp_in, tcp_out, tcp_bad, tcp_retransmits, tcp_fast_retransmits, tcp_out_of_order,
	    tcp_dropped, tcp_resets_sent, tcp_syn_dropped, tcp_half_open_peak,
	    tcp_syn_cookies_sent, tcp_syn_cookies_ok;
	uint64_t arp_in, arp_out, arp_dropped;
	uint64_t out_of_memory;
};
extern struct net_stats net_stats;

/* Network configuration beyond interface addresses: from --defaultgw/--nameserver or DHCP. */
#define MAX_NAMESERVERS 3
struct net_config {
	uint32_t gateway;
	uint32_t nameservers[MAX_NAMESERVERS];
	int nameserver_count;
	char domain[64];
};
extern struct net_config net_config;

/* Brings the stack up at boot (called by kmain after drivers_init): the loopback interface, then eth0
 * from --ip/--defaultgw/--nameserver or DHCP. Without a NIC it only sets up loopback. 0, or -1 after
 * printing what is wrong with the options. */
int net_init(const struct boot_options *options);
/* Processes received packets and due timers (deferred work; never nested). */
void net_poll(void);
/* Blocks the calling thread until cond(arg) holds (re-checked whenever the stack has run) or deadline
 * passes (0: no deadline); 0, -ETIMEDOUT, or -EINTR when a signal came. Halts in place at boot. */
int net_wait(uint64_t deadline, bool (*cond)(void *arg), void *arg);
/* Called by exit_group: gives TCP connections up to timeout_ns to deliver what the app wrote. */
void net_drain(uint64_t timeout_ns);
/* Prints the counters (exit with --verbose). */
void net_report(void);
/* A random 32-bit value (ISNs, ports, DHCP transaction ids). */
uint32_t net_random32(void);
/* Formats an address as a.b.c.d into buf (16 bytes); buf. */
char *ip_format(uint32_t addr, char *buf);
/* Parses a.b.c.d; false when it is not one. */
bool ip_parse(const char *text, uint32_t *addr);
