/* The stack as the rest of the kernel sees it: bring-up at boot (loopback, then eth0 from --ip or
 * DHCP), the poll that drives drivers, loopback and timers (registered as deferred work, so it runs
 * after interrupts and while blocking calls wait), net_wait for blocking socket calls (the thread
 * blocks; see deferred_wait), and the drain at exit that lets TCP deliver what the app wrote. */
#include "arch/x86_64/clock.h"
#include "boot.h"
#include "lib.h"
#include "linux/linux.h"
#include "net/dhcp.h"
#include "net/netif.h"
#include "net/tcp.h"
#include "param.h"
#include "sched/deferred.h"

struct net_stats net_stats;
struct net_config net_config;
static bool polling;

uint32_t net_random32(void)
{
	uint32_t v;
	random_bytes(&v, sizeof(v));
	return v;
}

char *ip_format(uint32_t a, char *buf)
{
	snprintf(buf, 16, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
	return buf;
}

bool ip_parse(const char *text, uint32_t *addr)
{
	uint32_t value = 0;
	for (int part = 0; part < 4; part++) {
		if (*text < '0' || *text > '9')
			return false;
		uint32_t n = 0;
		int digits = 0;
		while (*text >= '0' && *text <= '9' && digits < 4) {
			n = n * 10 + (uint32_t)(*text++ - '0');
			digits++;
		}
		if (n > 255 || digits > 3)
			return false;
		value = value << 8 | n;
		if (part < 3 && *text++ != '.')
			return false;
	}
	if (*text)
		return false;
	*addr = value;
	return true;
}

void net_poll(void)
{
	if (polling)
		return;
	polling = true;
	/* Rounds until nothing moves (loopback replies produce more work), bounded so a flood cannot
	 * keep the app from running. */
	for (int round = 0; round < NET_POLL_ROUNDS; round++) {
		bool busy = false;
		for (int i = 0; i < netif_count(); i++) {
			struct netif *ifp = netif_at(i);
			if (ifp->poll && ifp->poll(ifp))
				busy = true;
		}
		net_timers_run(clock_monotonic_ns());
		if (!busy)
			break;
	}
	polling = false;
}

static bool any_polled_interface(void)
{
	for (int i = 0; i < netif_count(); i++)
		if (netif_at(i)->no_interrupts)
			return true;
	return false;
}

static uint64_t recheck_interval(void) { return any_polled_interface() ? NET_POLLED_WAIT_NS : NET_WAIT_RECHECK_NS; }

int net_wait(uint64_t deadline, bool (*cond)(void *arg), void *arg)
{
	deferred_kick(); /* run the stack once before the first check */
	return deferred_wait(cond, arg, deadline, recheck_interval(), true);
}

void net_report(void)
{
	const struct net_stats *n = &net_stats;
	kprintf("osv: net: ip in %lu out %lu bad %lu/%lu frag %lu reassembled %lu; udp in %lu out %lu; tcp in %lu out %lu "
		"retransmits %lu fast %lu ooo %lu bad %lu resets %lu syn dropped %lu half-open peak %lu syn cookies %lu/%lu; "
		"icmp in %lu out %lu; "
		"arp in %lu out %lu\n",
		n->ip_in, n->ip_out, n->ip_bad_header, n->ip_bad_checksum, n->ip_fragments, n->ip_reassembled, n->udp_in,
		n->udp_out, n->tcp_in, n->tcp_out, n->tcp_retransmits, n->tcp_fast_retransmits, n->tcp_out_of_order,
		n->tcp_bad, n->tcp_resets_sent, n->tcp_syn_dropped, n->tcp_half_open_peak,
		n->tcp_syn_cookies_sent, n->tcp_syn_cookies_ok, n->icmp_in, n->icmp_out, n->arp_in, n->arp_out);
	for (int i = 0; i < netif_count(); i++) {
		struct netif *ifp = netif_at(i);
		kprintf("osv: net: %s rx %lu packets %lu bytes (%lu dropped, %lu errors), tx %lu packets %lu bytes (%lu dropped)\n",
			ifp->name, ifp->stats.rx_packets, ifp->stats.rx_bytes, ifp->stats.rx_dropped, ifp->stats.rx_errors,
			ifp->stats.tx_packets, ifp->stats.tx_bytes, ifp->stats.tx_dropped);
	}
}

static bool drained(void *arg) { return !tcp_draining(); }

void net_drain(uint64_t timeout_ns)
{
	if (!tcp_draining())
		return;
	deferred_kick();
	deferred_wait(drained, NULL, clock_monotonic_ns() + timeout_ns, recheck_interval(), false);
}

/* --ip=eth0,ADDR,NETMASK: 0, or -1 after saying what is wrong. */
static int static_config(const struct boot_options *o, struct netif *eth)
{
	for (int i = 0; i < o->ip_count; i++) {
		const char *spec = o->ip[i];
		const char *comma = strchr(spec, ',');
		char name[IFNAMSIZ], addr[16], mask[16];
		const char *second = comma ? strchr(comma + 1, ',') : NULL;
		if (!comma || !second || (size_t)(comma - spec) >= sizeof(name) || (size_t)(second - comma - 1) >= sizeof(addr) ||
		    strlen(second + 1) >= sizeof(mask)) {
			kprintf("osv: --ip=%s: expected --ip=IFACE,ADDRESS,NETMASK\n", spec);
			return -1;
		}
		memcpy(name, spec, comma - spec);
		name[comma - spec] = 0;
		memcpy(addr, comma + 1, second - comma - 1);
		addr[second - comma - 1] = 0;
		memcpy(mask, second + 1, strlen(second + 1) + 1);
		uint32_t a, m;
		if (!ip_parse(addr, &a) || !ip_parse(mask, &m)) {
			kprintf("osv: --ip=%s: bad address or netmask\n", spec);
			return -1;
		}
		struct netif *ifp = netif_by_name(name);
		if (!ifp) {
			kprintf("osv: --ip=%s: no interface %s; ignored\n", spec, name); /* the image may run without a NIC */
			continue;
		}
		netif_set_addr(ifp, a, m);
	}
	(void)eth;
	return 0;
}

int net_init(const struct boot_options *o)
{
	loopback_init();
	deferred_register(net_poll, net_timers_next);
	struct netif *eth = netif_primary();
	if (o->defaultgw && !ip_parse(o->defaultgw, &net_config.gateway)) {
		kprintf("osv: --defaultgw=%s: not an IPv4 address\n", o->defaultgw);
		return -1;
	}
	for (int i = 0; i < o->nameserver_count && net_config.nameserver_count < MAX_NAMESERVERS; i++) {
		uint32_t a;
		if (!ip_parse(o->nameserver[i], &a)) {
			kprintf("osv: --nameserver=%s: not an IPv4 address\n", o->nameserver[i]);
			return -1;
		}
		net_config.nameservers[net_config.nameserver_count++] = a;
	}
	if (o->ip_count) {
		if (static_config(o, eth) < 0)
			return -1;
	} else if (eth) {
		dhcp_start(eth);
		bootchart_mark("dhcp");
	}
	char a[16], m[16], g[16];
	for (int i = 0; i < netif_count(); i++) {
		struct netif *ifp = netif_at(i);
		if (ifp->ethernet)
			kverbose("osv: net: %s %s/%s gateway %s mtu %u\n", ifp->name, ip_format(ifp->addr, a),
				 ip_format(ifp->netmask, m), ip_format(net_config.gateway, g), ifp->mtu);
	}
	return 0;
}
