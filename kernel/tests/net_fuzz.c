/* libFuzzer target for the network stack's input paths (kernel/net/ built for the host with net_shim.c
 * and net_fake.c under clang -fsanitize=fuzzer,address,undefined; run by tests/unit/kernel_net_test.ts,
 * by hand as kernel/README.md says). Each input is a script of steps run against a fresh state: a
 * listener on port 80, a UDP socket on port 53 connected to PEER:1000, and a connection PEER:4000 ->
 * US:80 already ESTABLISHED, so that the state machine past LISTEN is reached. Steps (the first byte,
 * modulo 8, picks the kind):
 *   0 raw Ethernet frame          len:2 bytes[len]
 *   1 IPv4 packet, header checksum fixed        len:2 bytes[len]
 *   2 TCP segment on the connection (or the listener once it is gone), checksum right:
 *     flags:1 seq_delta:2 ack_delta:2 window:2 optlen:1 options[optlen & 40] datalen:2 data
 *     (deltas are signed and relative to what the stack expects, so they land in and around the window)
 *   3 the app: op:1 arg:1 (read, write, shutdown, close, accept, connect out, options; UDP send and
 *     receive when op has 0x40)
 *   4 time passes: arg:1 (2^(arg%44) ns, up to hours: keepalive)
 *   5 UDP datagram to port 53 (or arg port), checksum right or zero: port:1 len:2 data
 *   6 IPv4 fragment of a TCP/UDP/ICMP packet: id:1 offset:1 (x 8 bytes) mf+proto:1 len:2 data
 *   7 ICMP error quoting the TCP connection (or the UDP socket when type has 0x40): type:1 code:1 mtu:2
 * Afterwards everything is closed and time runs until every timer is done; the listener must then count
 * no half-open child, and the heap must hold exactly what it held before the input (no connection,
 * fragment or buffer left behind). */
#include "errno.h"
#include "lib.h"
#include "net/ip.h"
#include "net/netif.h"
#include "net/socket.h"
#include "net/tcp.h"
#include "param.h"
#include "tests/net_fake.h"

void abort(void);
int fflush(void *stream);
int printf(const char *fmt, ...);
void shim_advance(uint64_t ns);
uint64_t clock_monotonic_ns(void);
extern long shim_allocations;

#define PEER_PORT 4000
#define OUT_PORT 5000
/* Linux's socket-level option numbers (as in net/socket.c). */
#define SOL_SOCKET 1
#define SO_REUSEADDR 2
#define SO_RCVBUF 8
#define SO_KEEPALIVE 9
#define SO_LINGER 13

static const uint8_t syn_options[] = {2, 4, 0x05, 0xb4, 1, 3, 3, 2, 4, 2, 1, 1};

/* The peer answers our ARP requests; everything else we send is dropped. */
static void fake_transmit(struct netif *ifp, struct netbuf *nb)
{
	fake_answer_arp(nb->data, nb->len);
	netbuf_free(nb);
}

/* ---- the input, read as a script ---- */

struct script {
	const uint8_t *p;
	size_t left;
};

static uint32_t take(struct script *s, uint32_t bytes)
{
	uint32_t v = 0;
	for (uint32_t i = 0; i < bytes; i++) {
		v <<= 8;
		if (s->left) {
			v |= *s->p++;
			s->left--;
		}
	}
	return v;
}

/* Up to `want` bytes of the script, as they are; how many in *len. */
static const uint8_t *take_bytes(struct script *s, uint32_t want, uint32_t *len)
{
	*len = MIN(want, (uint32_t)s->left);
	const uint8_t *p = s->p;
	s->p += *len;
	s->left -= *len;
	return p;
}

static uint8_t frame[70000];

static void l4_checksum(uint8_t proto, uint32_t len, uint32_t offset)
{
	uint8_t *l4 = frame + 34;
	memset(l4 + offset, 0, 2);
	uint16_t sum = csum_fold(csum_partial(l4, len, csum_pseudo(PEER, US, proto, (uint16_t)len)));
	memcpy(l4 + offset, &sum, 2);
}

static void send_tcp(uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t window,
		     const uint8_t *options, uint32_t optlen, const uint8_t *data, uint32_t len)
{
	uint8_t *t = frame + 34;
	uint32_t hlen = 20 + optlen;
	memset(t, 0, 20);
	put_be16(t, sport);
	put_be16(t + 2, dport);
	put_be32(t + 4, seq);
	put_be32(t + 8, ack);
	t[12] = (uint8_t)((hlen / 4) << 4);
	t[13] = flags;
	put_be16(t + 14, window);
	memcpy(t + 20, options, optlen);
	memcpy(t + hlen, data, len);
	l4_checksum(IPPROTO_TCP, hlen + len, 16);
	inject(frame, build_ip(frame, IPPROTO_TCP, frame + 34, hlen + len, 1, 0));
}

struct state {
	struct socket *listener, *udp, *conn, *out;
	uint8_t buf[65536];
};

/* The connection a segment goes to: the accepted one, or the one we opened, when it still exists. */
static struct tcp_pcb *target(uint16_t *port, bool outgoing)
{
	*port = outgoing ? OUT_PORT : PEER_PORT;
	struct tcp_pcb *pcb = tcp_pcbs;
	if (outgoing)
		while (pcb && pcb->remote_port != OUT_PORT)
			pcb = pcb->next;
	else
		pcb = tcp_lookup(PEER, PEER_PORT, US, 80);
	return pcb && pcb->state != TCP_LISTEN ? pcb : NULL;
}

static void step_tcp(struct script *s)
{
	uint8_t flags = (uint8_t)take(s, 1);
	int16_t seq_delta = (int16_t)take(s, 2), ack_delta = (int16_t)take(s, 2);
	uint16_t window = (uint16_t)take(s, 2);
	uint32_t optlen, len;
	const uint8_t *options = take_bytes(s, take(s, 1) & 40, &optlen);
	optlen &= ~3u;
	const uint8_t *data = take_bytes(s, take(s, 2) % 3000, &len);
	uint16_t sport;
	bool outgoing = flags & 0x40; /* ECE: not used by the stack, so it picks the connection */
	struct tcp_pcb *pcb = target(&sport, outgoing);
	flags &= 0x3f;
	if (pcb) {
		uint32_t seq = pcb->rcv_nxt + (uint32_t)(int32_t)seq_delta, ack = pcb->snd_una + (uint32_t)(int32_t)ack_delta;
		send_tcp(sport, pcb->local_port, seq, ack, flags, window, options, optlen, data, len);
	} else {
		send_tcp(sport, 80, (uint32_t)seq_delta, (uint32_t)ack_delta, flags, window, options, optlen, data, len);
	}
}

static void step_app(struct state *st, struct script *s)
{
	uint8_t op = (uint8_t)take(s, 1), arg = (uint8_t)take(s, 1);
	struct socket **sock = op & 0x80 ? &st->out : &st->conn;
	int one = 1;
	if (op & 0x40) {
		if (op & 1)
			sock_write(st->udp, st->buf, (size_t)arg * 8);
		else
			sock_read(st->udp, st->buf, (size_t)arg * 8, arg & 1 ? MSG_PEEK : 0);
		net_poll();
		return;
	}
	switch (op & 7) {
	case 0:
		if (*sock)
			sock_read(*sock, st->buf, (size_t)arg * 64 + 1, arg & 1 ? MSG_PEEK : 0);
		break;
	case 1:
		if (*sock)
			sock_write(*sock, st->buf, (size_t)arg * 256 + 1);
		break;
	case 2:
		if (*sock)
			socket_shutdown(*sock, arg % 3);
		break;
	case 3:
		if (*sock) {
			if (arg & 1) {
				struct { int on, seconds; } linger = {1, 0};
				socket_setsockopt(*sock, SOL_SOCKET, SO_LINGER, &linger, sizeof(linger));
			}
			socket_close(*sock);
			*sock = NULL;
		}
		break;
	case 4:
		if (!st->conn && socket_accept(st->listener, true, &st->conn) != 0)
			st->conn = NULL;
		break;
	case 5:
		if (!st->out && socket_create(SOCK_STREAM, 0, &st->out) == 0) {
			struct inet_address a = {PEER, OUT_PORT};
			socket_connect(st->out, &a, true);
		}
		break;
	case 6:
		if (*sock) {
			int names[] = {TCP_NODELAY, TCP_CORK, TCP_MAXSEG};
			int value = arg & 0x40 ? 0 : (names[arg % 3] == TCP_MAXSEG ? 88 + arg : one);
			socket_setsockopt(*sock, IPPROTO_TCP, names[arg % 3], &value, sizeof(value));
		}
		break;
	case 7:
		if (*sock) {
			int value = arg;
			socket_setsockopt(*sock, SOL_SOCKET, arg & 1 ? SO_KEEPALIVE : SO_RCVBUF, &value, sizeof(value));
		}
		break;
	}
	net_poll();
}

static void step_udp(struct state *st, struct script *s)
{
	uint8_t port = (uint8_t)take(s, 1);
	uint32_t len;
	const uint8_t *data = take_bytes(s, take(s, 2) % 2000, &len);
	uint8_t *u = frame + 34;
	put_be16(u, 1000);
	put_be16(u + 2, port & 1 ? port : 53);
	put_be16(u + 4, (uint16_t)(8 + len));
	memcpy(u + 8, data, len);
	if (port & 2)
		memset(u + 6, 0, 2);
	else
		l4_checksum(IPPROTO_UDP, 8 + len, 6);
	inject(frame, build_ip(frame, IPPROTO_UDP, frame + 34, 8 + len, 1, 0));
	if (port & 4)
		sock_read(st->udp, st->buf, sizeof(st->buf), 0);
}

static void step_fragment(struct script *s)
{
	uint8_t id = (uint8_t)take(s, 1);
	uint16_t offset = (uint16_t)take(s, 1);
	uint8_t more = (uint8_t)take(s, 1);
	uint32_t len;
	const uint8_t *data = take_bytes(s, take(s, 2) % 1500, &len);
	static const uint8_t protos[] = {IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, 99};
	uint16_t frag = (uint16_t)((more & 0x80 ? 0x2000 : 0) | offset); /* MF, offset in 8-byte units */
	inject(frame, build_ip(frame, protos[more % 4], data, len, id, frag));
}

static void step_icmp(struct script *s)
{
	uint8_t type = (uint8_t)take(s, 1), code = (uint8_t)take(s, 1);
	uint16_t mtu = (uint16_t)take(s, 2);
	uint16_t sport;
	struct tcp_pcb *pcb = target(&sport, type & 0x80);
	bool udp = type & 0x40;
	uint8_t *m = frame + 34;
	memset(m, 0, 8 + 28);
	m[0] = type & 0x3f;
	m[1] = code;
	put_be16(m + 6, mtu);
	uint8_t *q = m + 8; /* the quoted header: a segment we sent to the peer */
	q[0] = 0x45;
	put_be16(q + 2, 40);
	q[8] = 64;
	q[9] = udp ? IPPROTO_UDP : IPPROTO_TCP;
	put_be32(q + 12, US);
	put_be32(q + 16, PEER);
	put_be16(q + 20, udp ? 53 : pcb ? pcb->local_port : 80);
	put_be16(q + 22, udp ? 1000 : sport);
	put_be32(q + 24, pcb ? pcb->snd_una + mtu % 4 : mtu);
	uint16_t sum = csum_fold(csum_partial(m, 36, 0)); /* ICMP: no pseudo-header */
	memcpy(m + 2, &sum, 2);
	inject(frame, build_ip(frame, IPPROTO_ICMP, frame + 34, 36, 1, 0));
}

static void run_script(struct state *st, struct script *s)
{
	while (s->left) {
		uint8_t kind = (uint8_t)take(s, 1);
		uint32_t len;
		const uint8_t *bytes;
		switch (kind % 8) {
		case 0:
			bytes = take_bytes(s, take(s, 2) % 1600, &len);
			inject(bytes, len);
			break;
		case 1:
			bytes = take_bytes(s, take(s, 2) % 1600, &len);
			memcpy(frame + 14, bytes, len);
			if (len >= 20 && (frame[14] & 0xf) * 4u <= len) {
				memset(frame + 24, 0, 2);
				uint16_t sum = csum_fold(csum_partial(frame + 14, (frame[14] & 0xf) * 4u, 0));
				memcpy(frame + 24, &sum, 2);
			}
			memcpy(frame, our_mac, 6);
			memcpy(frame + 6, peer_mac, 6);
			put_be16(frame + 12, ETHERTYPE_IPV4);
			inject(frame, 14 + len);
			break;
		case 2:
			step_tcp(s);
			break;
		case 3:
			step_app(st, s);
			break;
		case 4:
			shim_advance(1ULL << (take(s, 1) % 44));
			net_poll();
			break;
		case 5:
			step_udp(st, s);
			break;
		case 6:
			step_fragment(s);
			break;
		case 7:
			step_icmp(s);
			break;
		}
	}
}

/* Lets every timer run out (retransmissions give up, TIME_WAIT ends, fragments expire). */
static void run_timers_out(void)
{
	for (int i = 0; i < 10000; i++) {
		net_poll();
		uint64_t next = net_timers_next();
		if (!next && !inbox.count)
			break;
		uint64_t now = clock_monotonic_ns();
		shim_advance(next > now ? next - now : 1000);
	}
	netbuf_queue_purge(&inbox);
}

/* Closes everything and lets every timer run out. Once the connections are gone, the listener must
 * count no half-open child (a leaked count would refuse connections for good). */
static void finish(struct state *st)
{
	struct socket **all[] = {&st->conn, &st->out, &st->udp};
	for (size_t i = 0; i < ARRAY_SIZE(all); i++)
		if (*all[i]) {
			socket_close(*all[i]);
			*all[i] = NULL;
		}
	run_timers_out();
	if (st->listener->pcb->half_open != 0) {
		printf("net_fuzz: the listener still counts %d half-open connections after they all ended\n",
		       st->listener->pcb->half_open);
		fflush(NULL);
		abort();
	}
	socket_close(st->listener);
	st->listener = NULL;
	run_timers_out();
}

static void setup(struct state *st)
{
	socket_create(SOCK_STREAM, 0, &st->listener);
	int one = 1;
	socket_setsockopt(st->listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct inet_address a = {US, 80};
	if (socket_bind(st->listener, &a) != 0 || socket_listen(st->listener, 4) != 0)
		abort();
	socket_create(SOCK_DGRAM, 0, &st->udp);
	struct inet_address u = {US, 53}, peer = {PEER, 1000};
	if (socket_bind(st->udp, &u) != 0 || socket_connect(st->udp, &peer, true) != 0)
		abort();
	/* The handshake: SYN, our SYN-ACK (its ISS read from the half-open child), ACK. */
	send_tcp(PEER_PORT, 80, 1000, 0, TCP_SYN, 65535, syn_options, sizeof(syn_options), NULL, 0);
	struct tcp_pcb *child = tcp_lookup(PEER, PEER_PORT, US, 80);
	if (!child || child->state != TCP_SYN_RECEIVED)
		abort();
	send_tcp(PEER_PORT, 80, 1001, child->iss + 1, TCP_ACK, 65535, NULL, 0, NULL, 0);
	if (socket_accept(st->listener, true, &st->conn) != 0)
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fake_setup(fake_transmit);
	/* One round first, so that state kept for good (the ARP entry, the timer heap) is in the baseline. */
	static struct state st;
	setup(&st);
	finish(&st);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct state st;
	long baseline = shim_allocations;
	struct script s = {data, size};
	setup(&st);
	run_script(&st, &s);
	finish(&st);
	if (shim_allocations != baseline) {
		printf("net_fuzz: %ld allocations left after the input (connections, fragments or buffers never freed)\n",
		       shim_allocations - baseline);
		for (struct tcp_pcb *pcb = tcp_pcbs; pcb; pcb = pcb->next)
			printf("net_fuzz: TCP connection left: port %u -> %u, state %d, socket %p, timers next at %lu "
			       "(rexmt %d persist %d delack %d keepalive %d wait %d), retries %d, window %u, unsent %u\n",
			       pcb->remote_port, pcb->local_port, pcb->state, (void *)pcb->socket, net_timers_next(),
			       pcb->rexmt_timer.armed, pcb->persist_timer.armed, pcb->delack_timer.armed,
			       pcb->keepalive_timer.armed, pcb->wait_timer.armed, pcb->retries, pcb->snd_wnd,
			       pcb->data_seq + pcb->sndbuf.len - pcb->snd_nxt);
		fflush(NULL);
		abort();
	}
	return 0;
}
