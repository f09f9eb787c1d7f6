/* The fake Ethernet interface of the network stack's host tests: see net_fake.h. */
#include "tests/net_fake.h"
#include "net/ip.h"

const uint8_t our_mac[6] = {0x02, 0, 0, 0, 0, 0x02};
const uint8_t peer_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
struct netif fake;
struct netbuf_queue inbox;

static bool fake_poll(struct netif *ifp)
{
	uint32_t n = inbox.count;
	for (uint32_t i = 0; i < n; i++)
		netif_input(ifp, netbuf_dequeue(&inbox));
	return n != 0;
}

void fake_setup(void (*transmit)(struct netif *ifp, struct netbuf *nb))
{
	memcpy(fake.name, "eth0", 5);
	memcpy(fake.mac, our_mac, 6);
	fake.flags = IFF_UP | IFF_RUNNING | IFF_BROADCAST;
	fake.ethernet = true;
	fake.mtu = 1500;
	fake.transmit = transmit;
	fake.poll = fake_poll;
	netif_register(&fake);
	netif_set_addr(&fake, US, IP4(255, 255, 255, 0));
}

bool fake_answer_arp(const uint8_t *f, uint32_t len)
{
	if (len < 42 || get_be16(f + 12) != ETHERTYPE_ARP || get_be16(f + 20) != 1 || get_be32(f + 38) != PEER)
		return false;
	struct netbuf *r = netbuf_alloc(42, 2);
	uint8_t *p = r->data;
	memcpy(p, our_mac, 6);
	memcpy(p + 6, peer_mac, 6);
	put_be16(p + 12, ETHERTYPE_ARP);
	put_be16(p + 14, 1);
	put_be16(p + 16, ETHERTYPE_IPV4);
	p[18] = 6;
	p[19] = 4;
	put_be16(p + 20, 2);
	memcpy(p + 22, peer_mac, 6);
	put_be32(p + 28, PEER);
	memcpy(p + 32, our_mac, 6);
	put_be32(p + 38, US);
	netbuf_enqueue(&inbox, r);
	return true;
}

void inject(const uint8_t *frame, uint32_t len)
{
	struct netbuf *nb = netbuf_alloc(len, 2);
	memcpy(nb->data, frame, len);
	netbuf_enqueue(&inbox, nb);
	net_poll();
}

uint32_t build_ip(uint8_t *f, uint8_t proto, const uint8_t *payload, uint32_t len, uint16_t id, uint16_t frag)
{
	if (payload != f + 34)
		memcpy(f + 34, payload, len);
	memcpy(f, our_mac, 6);
	memcpy(f + 6, peer_mac, 6);
	put_be16(f + 12, ETHERTYPE_IPV4);
	uint8_t *h = f + 14;
	memset(h, 0, 20);
	h[0] = 0x45;
	put_be16(h + 2, (uint16_t)(20 + len));
	put_be16(h + 4, id);
	put_be16(h + 6, frag);
	h[8] = 64;
	h[9] = proto;
	put_be32(h + 12, PEER);
	put_be32(h + 16, US);
	uint16_t sum = csum_fold(csum_partial(h, 20, 0));
	memcpy(h + 10, &sum, 2);
	return 14 + 20 + len;
}

long sock_read(struct socket *s, void *buf, size_t n, int flags)
{
	struct user_iovec iov = {(uint64_t)buf, n};
	struct iov_iter it;
	iov_iter_init(&it, &iov, 1);
	bool truncated;
	return socket_recv(s, &it, flags, NULL, true, &truncated);
}

long sock_write(struct socket *s, const void *buf, size_t n)
{
	struct user_iovec iov = {(uint64_t)buf, n};
	struct iov_iter it;
	iov_iter_init(&it, &iov, 1);
	return socket_send(s, &it, MSG_NOSIGNAL, NULL, true);
}
