/* DHCP client (RFC 2131, options RFC 2132): at boot DISCOVER -> OFFER -> REQUEST -> ACK, retried with
 * exponential backoff; once bound, the interface gets the address, netmask, router and name servers,
 * and the lease is renewed from the server at T1 (unicast) and from anyone at T2 (broadcast). A NAK
 * or an expired lease starts over. Messages go through udp_send_raw on ports 68 -> 67. */
#include "arch/x86_64/clock.h"
#include "lib.h"
#include "net/dhcp.h"
#include "net/ip.h"
#include "net/netif.h"
#include "net/udp.h"
#include "param.h"

#define DHCP_CLIENT_PORT 68
#define DHCP_SERVER_PORT 67
#define BOOTREQUEST 1
#define BOOTREPLY 2
#define DHCP_FIXED_LEN 236
#define DHCP_MAGIC 0x63825363
#define DHCP_MAX_MESSAGE 576

#define OPT_PAD 0
#define OPT_SUBNET_MASK 1
#define OPT_ROUTER 3
#define OPT_DNS 6
#define OPT_HOSTNAME 12
#define OPT_DOMAIN 15
#define OPT_REQUESTED_IP 50
#define OPT_LEASE_TIME 51
#define OPT_MESSAGE_TYPE 53
#define OPT_SERVER_ID 54
#define OPT_PARAMETERS 55
#define OPT_MAX_SIZE 57
#define OPT_T1 58
#define OPT_T2 59
#define OPT_CLIENT_ID 61
#define OPT_END 255

#define DHCPDISCOVER 1
#define DHCPOFFER 2
#define DHCPREQUEST 3
#define DHCPDECLINE 4
#define DHCPACK 5
#define DHCPNAK 6

enum dhcp_state { DHCP_IDLE, DHCP_SELECTING, DHCP_REQUESTING, DHCP_BOUND, DHCP_RENEWING, DHCP_REBINDING };

static struct {
	struct netif *ifp;
	enum dhcp_state state;
	uint32_t xid;
	int attempts;
	uint64_t started;       /* of this exchange, for the secs field */
	uint32_t offered, server;
	uint32_t lease_s, t1_s, t2_s;
	uint64_t bound_at;
	struct net_timer timer;
} dhcp;

/* What a reply says. */
struct reply {
	uint8_t type;
	uint32_t yiaddr, server, mask, router, lease_s, t1_s, t2_s;
	uint32_t dns[MAX_NAMESERVERS];
	int dns_count;
	char domain[64];
};

static uint8_t *put_option(uint8_t *p, uint8_t code, const void *data, uint8_t len)
{
	p[0] = code;
	p[1] = len;
	memcpy(p + 2, data, len);
	return p + 2 + len;
}

static uint8_t *put_option_ip(uint8_t *p, uint8_t code, uint32_t addr)
{
	uint8_t b[4];
	put_be32(b, addr);
	return put_option(p, code, b, 4);
}

static void send_message(uint8_t type)
{
	struct netif *ifp = dhcp.ifp;
	struct netbuf *nb = netbuf_alloc(DHCP_MAX_MESSAGE - 28, NETBUF_HEADROOM);
	if (!nb)
		return;
	uint8_t *m = nb->data;
	memset(m, 0, nb->len);
	m[0] = BOOTREQUEST;
	m[1] = 1; /* Ethernet */
	m[2] = ETH_ALEN;
	put_be32(m + 4, dhcp.xid);
	uint64_t secs = (clock_monotonic_ns() - dhcp.started) / 1000000000UL;
	put_be16(m + 8, (uint16_t)MIN(secs, 0xffffUL));
	bool renewing = dhcp.state == DHCP_RENEWING || dhcp.state == DHCP_REBINDING;
	if (renewing)
		put_be32(m + 12, ifp->addr); /* ciaddr */
	memcpy(m + 28, ifp->mac, ETH_ALEN);
	put_be32(m + DHCP_FIXED_LEN, DHCP_MAGIC);
	uint8_t *p = m + DHCP_FIXED_LEN + 4;
	p = put_option(p, OPT_MESSAGE_TYPE, &type, 1);
	uint8_t client_id[1 + ETH_ALEN] = {1};
	memcpy(client_id + 1, ifp->mac, ETH_ALEN);
	p = put_option(p, OPT_CLIENT_ID, client_id, sizeof(client_id));
	if (type == DHCPREQUEST && dhcp.state == DHCP_REQUESTING) {
		p = put_option_ip(p, OPT_REQUESTED_IP, dhcp.offered);
		p = put_option_ip(p, OPT_SERVER_ID, dhcp.server);
	}
	uint8_t max_size[2];
	put_be16(max_size, DHCP_MAX_MESSAGE);
	p = put_option(p, OPT_MAX_SIZE, max_size, 2);
	static const uint8_t wanted[] = {OPT_SUBNET_MASK, OPT_ROUTER, OPT_DNS, OPT_DOMAIN, OPT_LEASE_TIME, OPT_T1, OPT_T2};
	p = put_option(p, OPT_PARAMETERS, wanted, sizeof(wanted));
	*p++ = OPT_END;
	netbuf_trim(nb, (uint32_t)MAX(p - m, 300)); /* BOOTP relays expect at least 300 bytes */
	if (dhcp.state == DHCP_RENEWING) {
		udp_send_raw(nb, ifp->addr, DHCP_CLIENT_PORT, dhcp.server, DHCP_SERVER_PORT, NULL);
	} else {
		struct ip_send_options options = {.netif = ifp};
		udp_send_raw(nb, renewing ? ifp->addr : 0, DHCP_CLIENT_PORT, IP_BROADCAST, DHCP_SERVER_PORT, &options);
	}
}

static uint64_t seconds(uint32_t s) { return (uint64_t)s * 1000000000UL; }

static void start_over(void)
{
	dhcp.state = DHCP_SELECTING;
	dhcp.xid = net_random32();
	dhcp.attempts = 0;
	dhcp.started = clock_monotonic_ns();
	send_message(DHCPDISCOVER);
	net_timer_arm(&dhcp.timer, clock_monotonic_ns() + DHCP_RETRY_NS);
}

/* Retransmissions (RFC 2131 §4.1: doubling delays) and the lease's T1, T2 and expiry. */
static void timer_fired(struct net_timer *t)
{
	uint64_t now = clock_monotonic_ns();
	switch (dhcp.state) {
	case DHCP_SELECTING:
	case DHCP_REQUESTING:
		if (++dhcp.attempts > DHCP_RETRIES) {
			start_over();
			return;
		}
		send_message(dhcp.state == DHCP_SELECTING ? DHCPDISCOVER : DHCPREQUEST);
		net_timer_arm(t, now + (DHCP_RETRY_NS << MIN(dhcp.attempts, 5)));
		return;
	case DHCP_BOUND:
		dhcp.state = DHCP_RENEWING;
		dhcp.xid = net_random32();
		dhcp.started = now;
		break;
	case DHCP_RENEWING:
		if (now >= dhcp.bound_at + seconds(dhcp.t2_s))
			dhcp.state = DHCP_REBINDING;
		break;
	case DHCP_REBINDING:
		if (now >= dhcp.bound_at + seconds(dhcp.lease_s)) {
			kprintf("osv: dhcp: %s: lease expired\n", dhcp.ifp->name);
			netif_set_addr(dhcp.ifp, 0, 0);
			start_over();
			return;
		}
		break;
	default:
		return;
	}
	send_message(DHCPREQUEST);
	/* RFC 2131 §4.4.5: retry at half the time left, at least a minute apart. */
	uint64_t end = dhcp.bound_at + seconds(dhcp.state == DHCP_RENEWING ? dhcp.t2_s : dhcp.lease_s);
	uint64_t wait = end > now ? (end - now) / 2 : 0;
	net_timer_arm(t, now + MAX(wait, seconds(60)));
}

static bool parse_reply(const uint8_t *m, uint32_t len, struct reply *r)
{
	if (len < DHCP_FIXED_LEN + 4 || m[0] != BOOTREPLY || m[1] != 1 || m[2] != ETH_ALEN ||
	    get_be32(m + 4) != dhcp.xid || memcmp(m + 28, dhcp.ifp->mac, ETH_ALEN) != 0 ||
	    get_be32(m + DHCP_FIXED_LEN) != DHCP_MAGIC)
		return false;
	memset(r, 0, sizeof(*r));
	r->yiaddr = get_be32(m + 16);
	for (uint32_t i = DHCP_FIXED_LEN + 4; i < len;) {
		uint8_t code = m[i];
		if (code == OPT_END)
			break;
		if (code == OPT_PAD) {
			i++;
			continue;
		}
		if (i + 1 >= len || i + 2 + m[i + 1] > len)
			return false;
		uint8_t olen = m[i + 1];
		const uint8_t *v = m + i + 2;
		switch (code) {
		case OPT_MESSAGE_TYPE:
			if (olen == 1)
				r->type = v[0];
			break;
		case OPT_SERVER_ID:
			if (olen == 4)
				r->server = get_be32(v);
			break;
		case OPT_SUBNET_MASK:
			if (olen == 4)
				r->mask = get_be32(v);
			break;
		case OPT_ROUTER:
			if (olen >= 4)
				r->router = get_be32(v);
			break;
		case OPT_DNS:
			for (int k = 0; k + 4 <= olen && r->dns_count < MAX_NAMESERVERS; k += 4)
				r->dns[r->dns_count++] = get_be32(v + k);
			break;
		case OPT_DOMAIN: {
			size_t n = MIN((size_t)olen, sizeof(r->domain) - 1);
			memcpy(r->domain, v, n);
			r->domain[n] = 0;
			break;
		}
		case OPT_LEASE_TIME:
			if (olen == 4)
				r->lease_s = get_be32(v);
			break;
		case OPT_T1:
			if (olen == 4)
				r->t1_s = get_be32(v);
			break;
		case OPT_T2:
			if (olen == 4)
				r->t2_s = get_be32(v);
			break;
		default:
			break;
		}
		i += 2u + olen;
	}
	return r->type != 0;
}

/* A classful default when the server names no netmask. */
static uint32_t default_mask(uint32_t a) { return (a >> 31) == 0 ? 0xff000000u : (a >> 30) == 2 ? 0xffff0000u : 0xffffff00u; }

static void bind_lease(const struct reply *r)
{
	uint32_t mask = r->mask ? r->mask : default_mask(r->yiaddr);
	netif_set_addr(dhcp.ifp, r->yiaddr, mask);
	if (r->router)
		net_config.gateway = r->router;
	if (r->dns_count) {
		memcpy(net_config.nameservers, r->dns, sizeof(r->dns));
		net_config.nameserver_count = r->dns_count;
	}
	if (r->domain[0])
		memcpy(net_config.domain, r->domain, sizeof(r->domain));
	dhcp.server = r->server ? r->server : dhcp.server;
	dhcp.lease_s = r->lease_s ? r->lease_s : 0xffffffffu;
	dhcp.t1_s = r->t1_s ? r->t1_s : dhcp.lease_s / 2;
	dhcp.t2_s = r->t2_s ? r->t2_s : (uint32_t)((uint64_t)dhcp.lease_s * 7 / 8);
	dhcp.bound_at = clock_monotonic_ns();
	bool first = dhcp.state == DHCP_REQUESTING;
	dhcp.state = DHCP_BOUND;
	if (dhcp.lease_s == 0xffffffffu)
		net_timer_cancel(&dhcp.timer); /* infinite lease */
	else
		net_timer_arm(&dhcp.timer, dhcp.bound_at + seconds(dhcp.t1_s));
	if (first) {
		char a[16], m[16], g[16], d[16], s[16];
		kverbose("osv: dhcp: %s: lease %s/%s gateway %s dns %s from %s for %u s\n", dhcp.ifp->name,
			 ip_format(r->yiaddr, a), ip_format(mask, m), ip_format(net_config.gateway, g),
			 ip_format(net_config.nameserver_count ? net_config.nameservers[0] : 0, d), ip_format(dhcp.server, s),
			 dhcp.lease_s);
	}
}

static void input(struct netbuf *nb, const struct ip_packet *ip, uint16_t src_port)
{
	struct reply r;
	if (src_port != DHCP_SERVER_PORT || !parse_reply(nb->data, nb->len, &r))
		goto done;
	switch (dhcp.state) {
	case DHCP_SELECTING:
		if (r.type != DHCPOFFER || !r.yiaddr || !r.server)
			break;
		dhcp.offered = r.yiaddr;
		dhcp.server = r.server;
		dhcp.state = DHCP_REQUESTING;
		dhcp.attempts = 0;
		send_message(DHCPREQUEST);
		net_timer_arm(&dhcp.timer, clock_monotonic_ns() + DHCP_RETRY_NS);
		break;
	case DHCP_REQUESTING:
	case DHCP_RENEWING:
	case DHCP_REBINDING:
		if (r.type == DHCPACK && r.yiaddr && (dhcp.state != DHCP_REQUESTING || r.yiaddr == dhcp.offered)) {
			bind_lease(&r);
		} else if (r.type == DHCPNAK) {
			kprintf("osv: dhcp: %s: the server refused the address\n", dhcp.ifp->name);
			if (dhcp.state != DHCP_REQUESTING)
				netif_set_addr(dhcp.ifp, 0, 0);
			start_over();
		}
		break;
	default:
		break;
	}
done:
	netbuf_free(nb);
}

static bool bound(void *arg) { return dhcp.state == DHCP_BOUND; }

void dhcp_start(struct netif *ifp)
{
	dhcp.ifp = ifp;
	net_timer_init(&dhcp.timer, timer_fired);
	udp_kernel_port(DHCP_CLIENT_PORT, input);
	start_over();
	if (net_wait(clock_monotonic_ns() + DHCP_BOOT_NS, bound, NULL) != 0)
		kprintf("osv: dhcp: %s: no answer within %lu s; continuing without an address\n", ifp->name,
			DHCP_BOOT_NS / 1000000000UL);
}
