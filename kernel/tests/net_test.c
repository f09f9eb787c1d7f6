/* Host unit tests of the network stack's input paths (kernel/net/ sources built for the host with
 * net_shim.c and net_fake.c; run by tests/unit/kernel_net_test.ts): hostile frames (garbage, truncations, bit flips,
 * bad checksums) must be rejected without harm, and TCP must handle out-of-order, overlapping,
 * duplicate and out-of-window segments, RST/SYN attacks (RFC 5961), retransmission with backoff, fast
 * retransmit, window probes and half-close; IPv4 reassembly must survive reordering, overlap and
 * floods; ICMP and UDP must answer as RFC 1122 says. A fake Ethernet interface captures what the stack
 * sends and answers its ARP requests. Exit status 0 when every check passed. */
#include "errno.h"
#include "lib.h"
#include "net/dhcp.h"
#include "net/ip.h"
#include "net/netif.h"
#include "net/socket.h"
#include "net/tcp.h"
#include "param.h"
#include "tests/net_fake.h"

int printf(const char *fmt, ...);
void exit(int status);
void shim_advance(uint64_t ns);
void random_bytes(void *buf, size_t n);
extern bool verbose;

static int failures, checks;

#define CHECK(cond, ...)                                                                            \
	do {                                                                                        \
		checks++;                                                                           \
		if (!(cond)) {                                                                      \
			failures++;                                                                 \
			printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                      \
			printf(__VA_ARGS__);                                                        \
			printf("\n");                                                               \
		}                                                                                   \
	} while (0)

#define MS 1000000UL


/* ---- the fake interface ---- */

static struct netbuf_queue sent;

/* The fake DHCP server: what it has seen and how it answers. */
static struct {
	int discovers, requests, renewals;
	bool nak_next;
	uint32_t last_ciaddr;
} dhcp_server;

static void dhcp_answer(const uint8_t *request, uint8_t type)
{
	uint8_t msg[300] = {0};
	msg[0] = 2; /* BOOTREPLY */
	msg[1] = 1;
	msg[2] = 6;
	memcpy(msg + 4, request + 4, 4); /* xid */
	put_be32(msg + 16, US);         /* yiaddr */
	memcpy(msg + 28, request + 28, 6);
	put_be32(msg + 236, 0x63825363);
	uint8_t *p = msg + 240;
	uint8_t opts[] = {53, 1, type, 54, 4, 10, 0, 0, 1, 1, 4, 255, 255, 255, 0, 3, 4, 10, 0, 0, 1,
			  6, 8, 10, 0, 0, 53, 10, 0, 0, 54, 51, 4, 0, 0, 0, 100, 15, 4, 't', 'e', 's', 't', 255};
	memcpy(p, opts, sizeof(opts));
	uint8_t udp[8 + sizeof(msg)];
	put_be16(udp, 67);
	put_be16(udp + 2, 68);
	put_be16(udp + 4, sizeof(udp));
	put_be16(udp + 6, 0); /* no checksum */
	memcpy(udp + 8, msg, sizeof(msg));
	struct netbuf *r = netbuf_alloc(14 + 20 + sizeof(udp), 2);
	/* Unicast to the offered address, as QEMU's server does. */
	build_ip(r->data, IPPROTO_UDP, udp, sizeof(udp), 0, 0);
	netbuf_enqueue(&inbox, r);
}

static bool fake_dhcp(const uint8_t *f, uint32_t len)
{
	if (len < 42 + 240 || get_be16(f + 12) != ETHERTYPE_IPV4 || f[23] != IPPROTO_UDP || get_be16(f + 36) != 67)
		return false;
	const uint8_t *m = f + 42;
	uint8_t type = 0;
	for (uint32_t i = 240; i + 2 < len - 42 && m[i] != 255; i += m[i] ? 2u + m[i + 1] : 1u)
		if (m[i] == 53)
			type = m[i + 2];
	dhcp_server.last_ciaddr = get_be32(m + 12);
	if (type == 1) {
		dhcp_server.discovers++;
		dhcp_answer(m, 2);
	} else if (type == 3) {
		dhcp_server.requests++;
		if (dhcp_server.last_ciaddr)
			dhcp_server.renewals++;
		dhcp_answer(m, dhcp_server.nak_next ? 6 : 5);
		dhcp_server.nak_next = false;
	}
	return true;
}

static void fake_transmit(struct netif *ifp, struct netbuf *nb)
{
	const uint8_t *f = nb->data;
	if (fake_dhcp(f, nb->len)) {
		netbuf_free(nb);
		return;
	}
	if (fake_answer_arp(f, nb->len)) { /* delivered at the next poll */
		netbuf_free(nb);
		return;
	}
	netbuf_enqueue(&sent, nb);
}

static void advance(uint64_t ns)
{
	shim_advance(ns);
	net_poll();
	while (inbox.count) /* answers the fake queued while the timers ran */
		net_poll();
}

/* The next IPv4 packet we sent (ARP and others skipped), Ethernet header removed; NULL when none. */
static struct netbuf *next_sent(void)
{
	struct netbuf *nb;
	while ((nb = netbuf_dequeue(&sent))) {
		if (nb->len >= 34 && get_be16(nb->data + 12) == ETHERTYPE_IPV4) {
			netbuf_pull(nb, 14);
			return nb;
		}
		netbuf_free(nb);
	}
	return NULL;
}

static void drain_sent(void) { netbuf_queue_purge(&sent); }

/* ---- building frames ---- */

struct tcp_in {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t window;
	const uint8_t *options;
	uint32_t optlen;
	const void *data;
	uint32_t len;
	bool bad_checksum;
};

static void send_tcp(const struct tcp_in *t)
{
	static uint8_t seg[70000], frame[70100];
	uint32_t hlen = 20 + t->optlen;
	memset(seg, 0, hlen);
	put_be16(seg, t->sport);
	put_be16(seg + 2, t->dport);
	put_be32(seg + 4, t->seq);
	put_be32(seg + 8, t->ack);
	seg[12] = (uint8_t)((hlen / 4) << 4);
	seg[13] = t->flags;
	put_be16(seg + 14, t->window ? t->window : 65535);
	memcpy(seg + 20, t->options, t->optlen);
	memcpy(seg + hlen, t->data, t->len);
	uint16_t sum = csum_fold(csum_partial(seg, hlen + t->len, csum_pseudo(PEER, US, IPPROTO_TCP, (uint16_t)(hlen + t->len))));
	if (t->bad_checksum)
		sum ^= 0x0101;
	memcpy(seg + 16, &sum, 2);
	inject(frame, build_ip(frame, IPPROTO_TCP, seg, hlen + t->len, 1, 0));
}

struct tcp_out {
	bool present;
	uint8_t flags;
	uint32_t seq, ack, len;
	uint16_t window;
	uint8_t data[2048];
	int sack_blocks;
	uint32_t sack[4][2];
	uint16_t mss;
	int wscale;
};

/* The next TCP segment we sent, checked: IPv4 and TCP checksums must be right. */
static struct tcp_out next_tcp(void)
{
	struct tcp_out o = {0};
	o.wscale = -1;
	struct netbuf *nb = next_sent();
	if (!nb)
		return o;
	const uint8_t *ip = nb->data;
	uint32_t ihl = (ip[0] & 0xf) * 4u, total = get_be16(ip + 2);
	CHECK(csum_fold(csum_partial(ip, ihl, 0)) == 0, "IP header checksum");
	if (ip[9] != IPPROTO_TCP) {
		netbuf_free(nb);
		return next_tcp();
	}
	const uint8_t *t = ip + ihl;
	uint32_t tlen = total - ihl;
	CHECK(csum_fold(csum_partial(t, tlen, csum_pseudo(get_be32(ip + 12), get_be32(ip + 16), IPPROTO_TCP, (uint16_t)tlen))) == 0,
	      "TCP checksum of what we send");
	uint32_t off = (t[12] >> 4) * 4u;
	o.present = true;
	o.seq = get_be32(t + 4);
	o.ack = get_be32(t + 8);
	o.flags = t[13];
	o.window = get_be16(t + 14);
	o.len = tlen - off;
	memcpy(o.data, t + off, MIN(o.len, (uint32_t)sizeof(o.data)));
	for (uint32_t i = 20; i < off;) {
		uint8_t kind = t[i];
		if (kind == 0)
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		uint8_t l = t[i + 1];
		if (kind == 2)
			o.mss = get_be16(t + i + 2);
		if (kind == 3)
			o.wscale = t[i + 2];
		if (kind == 5)
			for (int b = 0; b < (l - 2) / 8; b++) {
				o.sack[b][0] = get_be32(t + i + 2 + 8 * b);
				o.sack[b][1] = get_be32(t + i + 6 + 8 * b);
				o.sack_blocks = b + 1;
			}
		i += l;
	}
	netbuf_free(nb);
	return o;
}

/* ---- sockets through the kernel API (user buffers are host memory here) ---- */

static struct socket *listener(uint16_t port)
{
	struct socket *s;
	socket_create(SOCK_STREAM, 0, &s);
	struct inet_address a = {US, port};
	CHECK(socket_bind(s, &a) == 0, "bind");
	CHECK(socket_listen(s, 4) == 0, "listen");
	return s;
}

static const uint8_t syn_options[] = {2, 4, 0x05, 0xb4, 1, 3, 3, 2, 4, 2, 1, 1}; /* MSS 1460, WS 2, SACK ok */

/* Opens a connection from PEER:sport to the listener; the accepted socket, our ISS in *iss. */
static struct socket *handshake(struct socket *l, uint16_t sport, uint32_t peer_iss, uint32_t *iss)
{
	send_tcp(&(struct tcp_in){sport, l->local_port, peer_iss, 0, TCP_SYN, 65535, syn_options, sizeof(syn_options)});
	struct tcp_out synack = next_tcp();
	CHECK(synack.present && synack.flags == (TCP_SYN | TCP_ACK), "SYN-ACK, got flags %x", synack.flags);
	CHECK(synack.ack == peer_iss + 1, "SYN-ACK acks the SYN");
	CHECK(synack.mss == 1460, "our MSS on a 1500 MTU: %u", synack.mss);
	CHECK(synack.wscale > 0, "window scale answered, big enough for the receive buffer: %d", synack.wscale);
	*iss = synack.seq;
	send_tcp(&(struct tcp_in){sport, l->local_port, peer_iss + 1, *iss + 1, TCP_ACK, 16384});
	struct socket *c = NULL;
	CHECK(socket_accept(l, true, &c) == 0, "accept after the handshake");
	return c;
}

/* ---- the tests ---- */

static void test_garbage(void)
{
	uint64_t before = net_stats.ip_bad_header + net_stats.ip_bad_checksum + net_stats.tcp_bad;
	uint8_t frame[1600];
	/* Random frames of random lengths. */
	for (int i = 0; i < 20000; i++) {
		uint32_t len = net_random32() % 200;
		random_bytes(frame, len);
		if (i % 2) {
			memcpy(frame, our_mac, 6);
			put_be16(frame + 12, i % 4 == 1 ? ETHERTYPE_IPV4 : ETHERTYPE_ARP);
			if (len > 14 && i % 4 == 1)
				frame[14] = 0x45;
		}
		inject(frame, len);
	}
	/* Every truncation and every single-bit flip of a SYN with options. */
	uint8_t seg[32] = {0};
	put_be16(seg, 999);
	put_be16(seg + 2, 80);
	put_be32(seg + 4, 5);
	seg[12] = 8 << 4;
	seg[13] = TCP_SYN;
	put_be16(seg + 14, 1000);
	memcpy(seg + 20, syn_options, sizeof(syn_options));
	uint16_t sum = csum_fold(csum_partial(seg, 32, csum_pseudo(PEER, US, IPPROTO_TCP, 32)));
	memcpy(seg + 16, &sum, 2);
	uint8_t good[100];
	uint32_t good_len = build_ip(good, IPPROTO_TCP, seg, 32, 7, 0);
	for (uint32_t len = 0; len < good_len; len++)
		inject(good, len);
	for (uint32_t bit = 0; bit < good_len * 8; bit++) {
		memcpy(frame, good, good_len);
		frame[bit / 8] ^= (uint8_t)(1 << (bit % 8));
		inject(frame, good_len);
	}
	/* Nonsense lengths and options. */
	uint8_t opts[][12] = {{2, 0}, {2, 1}, {5, 200}, {3, 3, 200}, {5, 10, 0, 0, 0, 1, 0, 0, 0, 0}, {8, 40}};
	for (size_t i = 0; i < ARRAY_SIZE(opts); i++)
		send_tcp(&(struct tcp_in){999, 80, 5, 0, TCP_SYN, 100, opts[i], 12});
	drain_sent();
	uint64_t after = net_stats.ip_bad_header + net_stats.ip_bad_checksum + net_stats.tcp_bad;
	CHECK(after > before, "hostile frames are counted as bad");
	printf("garbage: %lu bad IP headers, %lu bad IP checksums, %lu bad TCP segments, %lu bad UDP, %lu ARP dropped\n",
	       net_stats.ip_bad_header, net_stats.ip_bad_checksum, net_stats.tcp_bad, net_stats.udp_bad, net_stats.arp_dropped);
}

static void test_tcp_receive(void)
{
	struct socket *l = listener(80);
	uint32_t iss;
	struct socket *c = handshake(l, 1234, 1000, &iss);
	if (!c)
		return;
	uint8_t buf[64];
	CHECK(sock_read(c, buf, sizeof(buf), 0) == -EAGAIN, "nothing to read yet");
	/* In order "abc", then "ghi" after a gap, then "cdefg" overlapping both sides. */
	send_tcp(&(struct tcp_in){1234, 80, 1001, iss + 1, TCP_ACK | TCP_PSH, 16384, NULL, 0, "abc", 3});
	send_tcp(&(struct tcp_in){1234, 80, 1007, iss + 1, TCP_ACK, 16384, NULL, 0, "ghi", 3});
	struct tcp_out o;
	do
		o = next_tcp();
	while (o.present && o.ack != 1004);
	CHECK(o.present && o.ack == 1004, "duplicate ACK for the gap");
	CHECK(o.sack_blocks == 1 && o.sack[0][0] == 1007 && o.sack[0][1] == 1010, "SACK block for ghi: %d blocks", o.sack_blocks);
	send_tcp(&(struct tcp_in){1234, 80, 1003, iss + 1, TCP_ACK, 16384, NULL, 0, "cdefg", 5});
	o = next_tcp();
	CHECK(o.present && o.ack == 1010, "the gap filled: ACK everything (got %u)", o.ack);
	long n = sock_read(c, buf, sizeof(buf), 0);
	CHECK(n == 9 && memcmp(buf, "abcdefghi", 9) == 0, "reassembled stream (%ld)", n);
	/* Old duplicate, out of window, bad checksum: nothing is taken. */
	drain_sent();
	send_tcp(&(struct tcp_in){1234, 80, 1001, iss + 1, TCP_ACK, 16384, NULL, 0, "abc", 3});
	o = next_tcp();
	CHECK(o.present && o.ack == 1010, "an old duplicate is acknowledged again");
	send_tcp(&(struct tcp_in){1234, 80, 1010 + 3000000, iss + 1, TCP_ACK, 16384, NULL, 0, "zzz", 3});
	o = next_tcp();
	CHECK(o.present && o.ack == 1010 && o.len == 0, "out of window: an ACK, nothing taken");
	uint64_t bad = net_stats.tcp_bad;
	send_tcp(&(struct tcp_in){1234, 80, 1010, iss + 1, TCP_ACK, 16384, NULL, 0, "bad", 3, true});
	CHECK(net_stats.tcp_bad == bad + 1 && !next_tcp().present, "bad checksum dropped silently");
	CHECK(sock_read(c, buf, sizeof(buf), 0) == -EAGAIN, "nothing new to read");
	/* A segment straddling the left edge: only the new part counts. */
	send_tcp(&(struct tcp_in){1234, 80, 1008, iss + 1, TCP_ACK, 16384, NULL, 0, "hijk", 4});
	n = sock_read(c, buf, sizeof(buf), 0);
	CHECK(n == 2 && memcmp(buf, "jk", 2) == 0, "left-edge overlap trimmed (%ld)", n);
	drain_sent();
	/* RFC 5961: a RST in the window but not exact, and a SYN, get challenge ACKs. */
	send_tcp(&(struct tcp_in){1234, 80, 1100, 0, TCP_RST, 0});
	o = next_tcp();
	CHECK(o.present && o.flags == TCP_ACK && o.ack == 1012, "challenge ACK for an inexact RST");
	CHECK(c->pcb->state == TCP_ESTABLISHED, "still established");
	send_tcp(&(struct tcp_in){1234, 80, 1012, 0, TCP_SYN, 100});
	o = next_tcp();
	CHECK(o.present && o.flags == TCP_ACK, "challenge ACK for a SYN");
	CHECK(c->pcb->state == TCP_ESTABLISHED, "still established after the SYN");
	send_tcp(&(struct tcp_in){1234, 80, 1012, 0, TCP_RST, 0});
	CHECK(c->pcb->state == TCP_CLOSED, "an exact RST resets");
	CHECK(sock_read(c, buf, sizeof(buf), 0) == -ECONNRESET, "reads report the reset");
	socket_close(c);
	socket_close(l);
	drain_sent();
}

static void test_tcp_send(void)
{
	struct socket *l = listener(81);
	uint32_t iss;
	struct socket *c = handshake(l, 2000, 5000, &iss);
	if (!c)
		return;
	static uint8_t data[20000];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 13);
	long n = sock_write(c, data, 10000);
	CHECK(n == 10000, "write into the send buffer (%ld)", n);
	/* Initial window: RFC 6928, 10 segments of 1460 at most, and the peer's 16384 << 2. */
	uint32_t sent_bytes = 0, segments = 0, first_seq = 0;
	struct tcp_out o;
	while ((o = next_tcp()).present) {
		if (!o.len)
			continue;
		if (!segments)
			first_seq = o.seq;
		CHECK(o.len <= 1460, "segments respect the MSS");
		CHECK(memcmp(o.data, data + (o.seq - iss - 1), MIN(o.len, 2048u)) == 0, "segment bytes");
		sent_bytes += o.len;
		segments++;
	}
	/* Nagle holds the last 1240 bytes back while data is in flight. */
	CHECK(first_seq == iss + 1 && sent_bytes == 8760 && segments == 6, "6 full segments: %u, %u bytes", segments, sent_bytes);
	/* The second segment is lost: the first is acknowledged, then three duplicate ACKs. */
	send_tcp(&(struct tcp_in){2000, 81, 5001, iss + 1 + 1460, TCP_ACK, 16384});
	drain_sent();
	for (int i = 0; i < 3; i++)
		send_tcp(&(struct tcp_in){2000, 81, 5001, iss + 1 + 1460, TCP_ACK, 16384});
	o = next_tcp();
	CHECK(o.present && o.seq == iss + 1 + 1460 && o.len == 1460, "fast retransmit after 3 dupacks (seq +%u)", o.seq - iss - 1);
	CHECK(c->pcb->in_recovery && c->pcb->ssthresh == (8760 - 1460) / 2, "fast recovery, ssthresh half the flight: %u",
	      c->pcb->ssthresh);
	drain_sent();
	/* A partial ACK (NewReno): the next hole is resent at once. */
	send_tcp(&(struct tcp_in){2000, 81, 5001, iss + 1 + 2920, TCP_ACK, 16384});
	o = next_tcp();
	CHECK(o.present && o.seq == iss + 1 + 2920, "partial ACK: the next segment is resent (seq +%u)", o.seq - iss - 1);
	CHECK(c->pcb->in_recovery, "still recovering");
	drain_sent();
	/* Everything sent so far acknowledged: recovery ends; Nagle lets the rest go. */
	send_tcp(&(struct tcp_in){2000, 81, 5001, iss + 1 + 8760, TCP_ACK, 16384});
	CHECK(!c->pcb->in_recovery, "full ACK ends recovery");
	o = next_tcp();
	CHECK(o.present && o.seq == iss + 1 + 8760 && o.len == 1240, "the held-back tail goes once nothing is in flight");
	send_tcp(&(struct tcp_in){2000, 81, 5001, iss + 1 + 10000, TCP_ACK, 16384});
	CHECK(c->pcb->sndbuf.len == 0 && !c->pcb->rexmt_timer.armed, "acknowledged data freed, no timer left");
	/* No ACK at all: retransmission after the RTO, then after twice the RTO. */
	CHECK(sock_write(c, data, 1000) == 1000, "write 1000");
	o = next_tcp();
	CHECK(o.present && o.len == 1000, "sent at once (nothing in flight)");
	uint64_t rto = c->pcb->rto;
	CHECK(rto >= TCP_RTO_MIN_NS && rto <= TCP_RTO_INITIAL_NS, "RTO from the samples so far: %lu ms", rto / MS);
	advance(rto - MS);
	CHECK(!next_tcp().present, "nothing before the RTO");
	advance(2 * MS);
	o = next_tcp();
	CHECK(o.present && o.seq == iss + 1 + 10000 && o.len == 1000, "retransmission after the RTO");
	CHECK(c->pcb->rto == 2 * rto, "backoff doubles the RTO");
	CHECK(c->pcb->cwnd == c->pcb->mss, "loss window of one segment");
	advance(2 * rto + MS);
	o = next_tcp();
	CHECK(o.present && o.seq == iss + 1 + 10000, "second retransmission after the doubled RTO");
	send_tcp(&(struct tcp_in){2000, 81, 5001, iss + 1 + 11000, TCP_ACK, 16384});
	CHECK(c->pcb->retries == 0 && !c->pcb->rexmt_timer.armed, "the ACK ends the retransmissions");
	drain_sent();
	/* A zero window: data waits, the persist timer probes. */
	send_tcp(&(struct tcp_in){2000, 81, 5001, iss + 1 + 11000, TCP_ACK, 0xffff});
	drain_sent();
	c->pcb->snd_wnd = 0; /* (send_tcp cannot say window 0) */
	CHECK(sock_write(c, data, 100) == 100, "write while the window is shut");
	CHECK(!next_tcp().present, "nothing sent into a zero window");
	advance(TCP_PERSIST_MAX_NS);
	o = next_tcp();
	CHECK(o.present && o.len == 0 && o.seq == iss + 11000, "a window probe");
	send_tcp(&(struct tcp_in){2000, 81, 5001, iss + 1 + 11000, TCP_ACK, 16384});
	o = next_tcp();
	CHECK(o.present && o.len == 100, "the window opened: data goes");
	/* Half-close: the peer's FIN, then ours. */
	send_tcp(&(struct tcp_in){2000, 81, 5001, iss + 1 + 11100, TCP_ACK | TCP_FIN, 16384});
	CHECK(c->pcb->state == TCP_CLOSE_WAIT, "CLOSE_WAIT after the peer's FIN");
	uint8_t buf[8];
	CHECK(sock_read(c, buf, sizeof(buf), 0) == 0, "end of stream");
	CHECK(sock_write(c, "more", 4) == 4, "we may still write after the peer's FIN");
	drain_sent();
	CHECK(socket_shutdown(c, SHUT_WR) == 0, "shutdown(SHUT_WR)");
	bool fin = false;
	while ((o = next_tcp()).present)
		fin |= (o.flags & TCP_FIN) != 0;
	CHECK(fin && c->pcb->state == TCP_LAST_ACK, "our FIN follows the data");
	send_tcp(&(struct tcp_in){2000, 81, 5002, iss + 1 + 11104 + 1, TCP_ACK, 16384});
	CHECK(c->pcb->state == TCP_CLOSED, "closed once our FIN is acknowledged");
	socket_close(c);
	socket_close(l);
	drain_sent();
}

static void test_listen_limits(void)
{
	struct socket *l = listener(82);
	/* SYN flood: children are bounded; the listener keeps working. */
	for (int i = 0; i < 1000; i++)
		send_tcp(&(struct tcp_in){(uint16_t)(10000 + i), 82, (uint32_t)i * 7777, 0, TCP_SYN, 1000});
	CHECK(l->pcb->half_open <= MIN(l->pcb->backlog * 2, TCP_MAX_HALF_OPEN) && l->pcb->half_open > 0,
	      "half-open connections bounded: %d", l->pcb->half_open);
	CHECK(net_stats.tcp_syn_dropped > 0, "excess SYNs dropped");
	drain_sent();
	/* A SYN to a port nobody listens on: RST. */
	send_tcp(&(struct tcp_in){5555, 9, 42, 0, TCP_SYN, 1000});
	struct tcp_out o = next_tcp();
	CHECK(o.present && (o.flags & TCP_RST) && o.ack == 43, "RST for a closed port");
	/* An ACK out of nowhere: RST with its ack as sequence number. */
	send_tcp(&(struct tcp_in){5556, 9, 42, 777, TCP_ACK, 1000});
	o = next_tcp();
	CHECK(o.present && o.flags == TCP_RST && o.seq == 777, "RST for a stray ACK");
	/* A RST never gets an answer. */
	send_tcp(&(struct tcp_in){5557, 9, 42, 777, TCP_RST, 1000});
	CHECK(!next_tcp().present, "no answer to a RST");
	socket_close(l);
	drain_sent();
	/* Closing the listener freed every child. */
	int left = 0;
	for (struct tcp_pcb *p = tcp_pcbs; p; p = p->next)
		left++;
	CHECK(left == 0, "no pcb left: %d", left);
}

/* A UDP datagram to port 53, cut into fragments of `size` bytes, sent in `order`. */
static void send_fragments(const uint8_t *payload, uint32_t len, uint16_t id, uint32_t size, const int *order, int count,
			   int overlap_at)
{
	static uint8_t udp[4000], frame[4100];
	put_be16(udp, 4444);
	put_be16(udp + 2, 53);
	put_be16(udp + 4, (uint16_t)(8 + len));
	put_be16(udp + 6, 0);
	memcpy(udp + 8, payload, len);
	uint16_t sum = csum_fold(csum_partial(udp, 8 + len, csum_pseudo(PEER, US, IPPROTO_UDP, (uint16_t)(8 + len))));
	memcpy(udp + 6, &sum, 2);
	uint32_t total = 8 + len;
	for (int k = 0; k < count; k++) {
		uint32_t off = (uint32_t)order[k] * size;
		if (off >= total)
			continue;
		uint32_t n = MIN(size, total - off);
		if (k == overlap_at)
			off -= 8; /* starts inside the previous piece */
		bool more = off + n < total;
		inject(frame, build_ip(frame, IPPROTO_UDP, udp + off, n, id, (uint16_t)((more ? IP_FLAG_MF : 0) | off / 8)));
	}
}

static void test_reassembly(void)
{
	struct socket *u;
	socket_create(SOCK_DGRAM, 0, &u);
	struct inet_address a = {IP_ANY, 53};
	CHECK(socket_bind(u, &a) == 0, "bind udp 53");
	uint8_t payload[3000], buf[4000];
	for (int i = 0; i < 3000; i++)
		payload[i] = (uint8_t)(i * 31 + 7);
	int reversed[] = {5, 4, 3, 2, 1, 0};
	send_fragments(payload, 3000, 1, 600, reversed, 6, -1);
	long n = sock_read(u, buf, sizeof(buf), 0);
	CHECK(n == 3000 && memcmp(buf, payload, 3000) == 0, "reassembled from reversed fragments (%ld)", n);
	int shuffled[] = {2, 0, 4, 2, 1, 3, 5}; /* with an exact duplicate */
	send_fragments(payload, 3000, 2, 600, shuffled, 7, -1);
	n = sock_read(u, buf, sizeof(buf), 0);
	CHECK(n == 3000 && memcmp(buf, payload, 3000) == 0, "reassembled with a duplicate (%ld)", n);
	int in_order[] = {0, 1, 2, 3, 4, 5};
	send_fragments(payload, 3000, 3, 600, in_order, 6, 3);
	CHECK(sock_read(u, buf, sizeof(buf), 0) == -EAGAIN, "overlapping fragments: the datagram is dropped");
	/* Incomplete datagrams: bounded, then forgotten after the timeout. */
	int first_only[] = {0};
	for (int id = 100; id < 200; id++)
		send_fragments(payload, 3000, (uint16_t)id, 600, first_only, 1, -1);
	advance(31000 * MS);
	send_fragments(payload, 3000, 4, 600, in_order, 6, -1);
	n = sock_read(u, buf, sizeof(buf), 0);
	CHECK(n == 3000, "reassembly works again after a flood of incomplete datagrams (%ld)", n);
	socket_close(u);
	drain_sent();
}

static void test_icmp_udp(void)
{
	uint8_t echo[64] = {ICMP_ECHO_REQUEST, 0, 0, 0, 0x12, 0x34, 0, 1, 'p', 'i', 'n', 'g'};
	uint16_t sum = csum_fold(csum_partial(echo, sizeof(echo), 0));
	memcpy(echo + 2, &sum, 2);
	uint8_t frame[200];
	inject(frame, build_ip(frame, IPPROTO_ICMP, echo, sizeof(echo), 9, 0));
	struct netbuf *r = next_sent();
	CHECK(r && r->data[9] == IPPROTO_ICMP && r->data[20] == ICMP_ECHO_REPLY &&
		      memcmp(r->data + 24, echo + 4, sizeof(echo) - 4) == 0 &&
		      csum_fold(csum_partial(r->data + 20, sizeof(echo), 0)) == 0,
	      "echo reply with the same id, sequence and data");
	if (r)
		netbuf_free(r);
	uint8_t udp[12] = {0x11, 0x11, 0x22, 0x22, 0, 12, 0, 0, 'h', 'e', 'y', '!'};
	inject(frame, build_ip(frame, IPPROTO_UDP, udp, sizeof(udp), 10, 0));
	r = next_sent();
	CHECK(r && r->data[20] == ICMP_DEST_UNREACHABLE && r->data[21] == ICMP_UNREACH_PORT &&
		      memcmp(r->data + 28 + 20, udp, 8) == 0,
	      "port unreachable quoting the datagram");
	if (r)
		netbuf_free(r);
	/* Broadcasts are never answered with errors. */
	memcpy(frame, "\xff\xff\xff\xff\xff\xff", 6);
	inject(frame, build_ip(frame, IPPROTO_UDP, udp, sizeof(udp), 11, 0) );
	drain_sent();
}

/* Delayed ACKs, keepalive probes, and TIME_WAIT's end and re-ACKs. */
static void test_tcp_timers(void)
{
	struct socket *l = listener(84);
	uint32_t iss;
	struct socket *c = handshake(l, 4000, 9000, &iss);
	if (!c)
		return;
	drain_sent();
	/* One segment: its ACK waits for a second segment or TCP_DELACK_NS. */
	send_tcp(&(struct tcp_in){4000, 84, 9001, iss + 1, TCP_ACK, 16384, NULL, 0, "a", 1});
	CHECK(!next_tcp().present, "no ACK at once for a lone segment");
	advance(TCP_DELACK_NS - MS);
	CHECK(!next_tcp().present, "not before the delayed-ACK time");
	advance(2 * MS);
	struct tcp_out o = next_tcp();
	CHECK(o.present && o.ack == 9002, "the delayed ACK");
	send_tcp(&(struct tcp_in){4000, 84, 9002, iss + 1, TCP_ACK, 16384, NULL, 0, "b", 1});
	send_tcp(&(struct tcp_in){4000, 84, 9003, iss + 1, TCP_ACK, 16384, NULL, 0, "c", 1});
	o = next_tcp();
	CHECK(o.present && o.ack == 9004, "every second segment is acknowledged at once");
	/* Keepalive: probes after the idle time, then the connection is declared dead. */
	int one = 1, idle = 10, interval = 2, count = 3;
	CHECK(socket_setsockopt(c, 6, TCP_KEEPIDLE, &idle, sizeof(idle)) == 0, "TCP_KEEPIDLE");
	CHECK(socket_setsockopt(c, 6, TCP_KEEPINTVL, &interval, sizeof(interval)) == 0, "TCP_KEEPINTVL");
	CHECK(socket_setsockopt(c, 6, TCP_KEEPCNT, &count, sizeof(count)) == 0, "TCP_KEEPCNT");
	CHECK(socket_setsockopt(c, 1, 9 /* SO_KEEPALIVE */, &one, sizeof(one)) == 0, "SO_KEEPALIVE");
	drain_sent();
	advance(9000 * MS);
	CHECK(!next_tcp().present, "no probe before the idle time");
	advance(1001 * MS);
	o = next_tcp();
	CHECK(o.present && o.len == 0 && o.seq == iss, "a keepalive probe (one sequence number back)");
	/* The peer answers: the count starts over. */
	send_tcp(&(struct tcp_in){4000, 84, 9004, iss + 1, TCP_ACK, 16384});
	advance(10001 * MS);
	o = next_tcp();
	CHECK(o.present && o.seq == iss, "probing again after another idle period");
	for (int i = 0; i < count; i++) {
		advance(2001 * MS);
		drain_sent();
	}
	CHECK(c->pcb->state == TCP_CLOSED && c->error == ETIMEDOUT, "no answers: the connection is dead (%d)", c->error);
	socket_close(c);
	drain_sent();
	/* TIME_WAIT: after our close and the peer's FIN; a retransmitted FIN is acknowledged again. */
	struct socket *d = handshake(l, 4001, 7000, &iss);
	if (!d)
		return;
	socket_close(d); /* the app closes first: FIN_WAIT_1 */
	o = next_tcp();
	while (o.present && !(o.flags & TCP_FIN))
		o = next_tcp();
	CHECK(o.present && (o.flags & TCP_FIN), "our FIN");
	send_tcp(&(struct tcp_in){4001, 84, 7001, iss + 2, TCP_ACK | TCP_FIN, 16384});
	o = next_tcp();
	CHECK(o.present && o.ack == 7002, "the peer's FIN acknowledged");
	struct tcp_pcb *tw = tcp_lookup(PEER, 4001, US, 84);
	CHECK(tw && tw->state == TCP_TIME_WAIT, "TIME_WAIT");
	send_tcp(&(struct tcp_in){4001, 84, 7001, iss + 2, TCP_ACK | TCP_FIN, 16384});
	o = next_tcp();
	CHECK(o.present && o.ack == 7002, "a retransmitted FIN is acknowledged again");
	advance(TCP_TIME_WAIT_NS + MS);
	tw = tcp_lookup(PEER, 4001, US, 84);
	CHECK(!tw || tw->state == TCP_LISTEN, "TIME_WAIT ended after 2 MSL");
	socket_close(l);
	drain_sent();
}

/* With checksum offload the stack leaves the pseudo-header sum in the field; completing it as a
 * device does must give a valid checksum. */
static void test_checksum_offload(void)
{
	fake.tx_csum = true;
	struct socket *u;
	socket_create(SOCK_DGRAM, 0, &u);
	struct user_iovec iov = {(uint64_t)"offloaded payload!", 18};
	struct iov_iter it;
	iov_iter_init(&it, &iov, 1);
	struct inet_address to = {PEER, 7777};
	CHECK(socket_send(u, &it, 0, &to, true) == 18, "UDP send");
	struct netbuf *nb = netbuf_dequeue(&sent);
	while (nb && get_be16(nb->data + 12) != ETHERTYPE_IPV4) {
		netbuf_free(nb);
		nb = netbuf_dequeue(&sent);
	}
	CHECK(nb && (nb->flags & NB_CSUM_PARTIAL) && nb->csum_offset == 6, "UDP left for the device to checksum");
	if (nb) {
		uint8_t *l4 = nb->csum_start;
		uint32_t len = (uint32_t)(nb->data + nb->len - l4);
		uint16_t sum = csum_fold(csum_partial(l4, len, 0)); /* what a device computes */
		memcpy(l4 + nb->csum_offset, &sum, 2);
		uint8_t *ip = nb->data + 14;
		CHECK(csum_fold(csum_partial(l4, len, csum_pseudo(get_be32(ip + 12), get_be32(ip + 16), IPPROTO_UDP, (uint16_t)len))) == 0,
		      "the completed UDP checksum is valid");
		netbuf_free(nb);
	}
	socket_close(u);
	/* TCP: a SYN-ACK from a listener. */
	struct socket *l = listener(83);
	send_tcp(&(struct tcp_in){3333, 83, 77, 0, TCP_SYN, 65535, syn_options, sizeof(syn_options)});
	nb = netbuf_dequeue(&sent);
	CHECK(nb && (nb->flags & NB_CSUM_PARTIAL) && nb->csum_offset == 16, "TCP left for the device to checksum");
	if (nb) {
		uint8_t *l4 = nb->csum_start;
		uint32_t len = (uint32_t)(nb->data + nb->len - l4);
		uint16_t sum = csum_fold(csum_partial(l4, len, 0));
		memcpy(l4 + nb->csum_offset, &sum, 2);
		CHECK(csum_fold(csum_partial(l4, len, csum_pseudo(US, PEER, IPPROTO_TCP, (uint16_t)len))) == 0,
		      "the completed TCP checksum is valid");
		netbuf_free(nb);
	}
	socket_close(l);
	fake.tx_csum = false;
	drain_sent();
	/* Received frames the host left partial (virtio's NEEDS_CSUM) are trusted: no checksum check. */
	struct socket *r;
	socket_create(SOCK_DGRAM, 0, &r);
	struct inet_address a = {IP_ANY, 5353};
	socket_bind(r, &a);
	uint8_t udp[12] = {0x11, 0x11, 0x14, 0xe9, 0, 12, 0xde, 0xad, 'p', 'a', 'r', 't'}; /* checksum not filled in */
	uint8_t frame[100];
	uint32_t flen = build_ip(frame, IPPROTO_UDP, udp, sizeof(udp), 12, 0);
	inject(frame, flen);
	uint8_t buf[16];
	CHECK(sock_read(r, buf, sizeof(buf), 0) == -EAGAIN, "a bad checksum is dropped normally");
	struct netbuf *partial = netbuf_alloc(flen, 2);
	memcpy(partial->data, frame, flen);
	partial->flags = NB_CSUM_PARTIAL;
	netbuf_enqueue(&inbox, partial);
	net_poll();
	CHECK(sock_read(r, buf, sizeof(buf), 0) == 4, "a partial-checksum frame from the host is accepted");
	socket_close(r);
}

static void test_dhcp(void)
{
	netif_set_addr(&fake, 0, 0);
	net_config.gateway = 0;
	drain_sent();
	dhcp_start(&fake);
	CHECK(fake.addr == US && fake.netmask == IP4(255, 255, 255, 0), "DHCP address and netmask");
	CHECK(net_config.gateway == PEER, "router option as the default gateway");
	CHECK(net_config.nameserver_count == 2 && net_config.nameservers[0] == IP4(10, 0, 0, 53) &&
		      net_config.nameservers[1] == IP4(10, 0, 0, 54),
	      "both name servers");
	CHECK(strcmp(net_config.domain, "test") == 0, "domain name");
	CHECK(dhcp_server.discovers == 1 && dhcp_server.requests == 1, "one discover, one request");
	/* T1 (half the 100 s lease): a unicast renewal with our address. */
	advance(49000 * MS);
	CHECK(dhcp_server.renewals == 0, "no renewal before T1");
	advance(2000 * MS);
	CHECK(dhcp_server.renewals == 1 && dhcp_server.last_ciaddr == US, "renewal at T1 from our address");
	CHECK(fake.addr == US, "still configured");
	/* The server refuses the next renewal: the address goes, discovery starts over. */
	dhcp_server.nak_next = true;
	advance(60000 * MS);
	CHECK(dhcp_server.discovers == 2, "a NAK starts over (%d discovers)", dhcp_server.discovers);
	CHECK(fake.addr == US, "and the new lease is bound again");
	drain_sent();
}

int main(int argc, char **argv)
{
	verbose = argc > 1;
	fake_setup(fake_transmit);
	drain_sent();
	test_garbage();
	test_tcp_receive();
	test_tcp_send();
	test_listen_limits();
	test_tcp_timers();
	test_reassembly();
	test_icmp_udp();
	test_checksum_offload();
	test_dhcp();
	printf("%d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
