/* TCP connections as sockets see them (net/tcp.h): pcb lifetime and lookup, port conflicts, and the
 * user calls — connect, listen and the accept queue with its bounded half-open count, send and
 * receive through the socket buffers, shutdown, close (graceful FIN, or RST when unread data would be
 * lost), poll and TCP-level options. */
#include "arch/x86_64/clock.h"
#include "errno.h"
#include "lib.h"
#include "mm/mm.h"
#include "net/ip.h"
#include "net/tcp.h"
#include "param.h"

struct tcp_pcb *tcp_pcbs;

struct tcp_pcb *tcp_pcb_new(struct socket *s)
{
	struct tcp_pcb *pcb = kzalloc(sizeof(*pcb));
	if (!pcb)
		return NULL;
	pcb->state = TCP_CLOSED;
	pcb->socket = s;
	pcb->rto = TCP_RTO_INITIAL_NS;
	pcb->keep_idle_s = TCP_DEFAULT_KEEPIDLE_S;
	pcb->keep_interval_s = TCP_DEFAULT_KEEPINTVL_S;
	pcb->keep_count = TCP_DEFAULT_KEEPCNT;
	pcb->syn_retries = TCP_SYN_RETRIES;
	pcb->rcvbuf_size = s ? s->rcvbuf : TCP_DEFAULT_RCVBUF;
	pcb->sndbuf_size = s ? s->sndbuf : TCP_DEFAULT_SNDBUF;
	tcp_timers_init(pcb);
	return pcb;
}

void tcp_list(struct tcp_pcb *pcb)
{
	if (pcb->listed)
		return;
	pcb->next = tcp_pcbs;
	tcp_pcbs = pcb;
	pcb->listed = true;
}

static void unlist(struct tcp_pcb *pcb)
{
	if (!pcb->listed)
		return;
	for (struct tcp_pcb **p = &tcp_pcbs; *p; p = &(*p)->next) {
		if (*p == pcb) {
			*p = pcb->next;
			break;
		}
	}
	pcb->listed = false;
}

static void free_ooo(struct tcp_pcb *pcb)
{
	for (struct tcp_ooo *o = pcb->ooo, *next; o; o = next) {
		next = o->next;
		kfree(o);
	}
	pcb->ooo = NULL;
	pcb->ooo_bytes = pcb->ooo_count = 0;
}

/* Takes a child out of its listener's queues. */
static void detach_child(struct tcp_pcb *child)
{
	struct tcp_pcb *l = child->listener;
	if (!l)
		return;
	if (child->queued) {
		for (struct tcp_pcb **p = &l->queue_head; *p; p = &(*p)->queue_next) {
			if (*p == child) {
				*p = child->queue_next;
				if (l->queue_tail == child) {
					l->queue_tail = NULL;
					for (struct tcp_pcb *q = l->queue_head; q; q = q->queue_next)
						l->queue_tail = q;
				}
				break;
			}
		}
		l->queue_count--;
		child->queued = false;
	} else {
		/* Half-open, whatever its state says: tcp_done marks a child CLOSED before freeing it. */
		l->half_open--;
	}
	child->listener = NULL;
}

void tcp_pcb_free(struct tcp_pcb *pcb)
{
	detach_child(pcb);
	unlist(pcb);
	tcp_timers_stop(pcb);
	ring_free(&pcb->sndbuf);
	ring_free(&pcb->rcvbuf);
	free_ooo(pcb);
	kfree(pcb);
}

void tcp_done(struct tcp_pcb *pcb, int err)
{
	tcp_timers_stop(pcb);
	pcb->state = TCP_CLOSED;
	if (err)
		pcb->error = err;
	free_ooo(pcb);
	if (pcb->listener || !pcb->socket) {
		tcp_pcb_free(pcb); /* nobody will ever look at it */
		return;
	}
	pcb->socket->shutdown = RCV_SHUTDOWN | SEND_SHUTDOWN;
	if (err)
		pcb->socket->error = err;
	socket_wake(pcb->socket);
	/* Stays listed while the socket lives: its port stays bound, as on Linux. */
}

struct tcp_pcb *tcp_lookup(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport)
{
	struct tcp_pcb *listener = NULL;
	for (struct tcp_pcb *p = tcp_pcbs; p; p = p->next) {
		if (p->local_port != dport)
			continue;
		if (p->state == TCP_LISTEN) {
			if (!p->local_addr || p->local_addr == dst)
				if (!listener || (p->local_addr && !listener->local_addr))
					listener = p;
			continue;
		}
		if (p->state != TCP_CLOSED && p->remote_port == sport && p->remote_addr == src && p->local_addr == dst)
			return p;
	}
	return listener;
}

bool tcp_pcb_port_used(uint32_t addr, uint16_t port, const struct socket *except, bool reuse_ok)
{
	for (struct tcp_pcb *p = tcp_pcbs; p; p = p->next) {
		if (p->local_port != port || (except && p == except->pcb))
			continue;
		if (addr && p->local_addr && addr != p->local_addr)
			continue;
		if (reuse_ok && except) {
			if (except->reuse_addr && p->reuse_addr && p->state != TCP_LISTEN)
				continue;
			if (except->reuse_port && p->reuse_port)
				continue;
		}
		return true;
	}
	return false;
}

/* The window scale that lets the whole receive buffer be advertised (RFC 7323 §2.3: at most 14). */
static uint8_t scale_for(uint32_t space)
{
	uint8_t shift = 0;
	while (shift < 14 && (space >> shift) > 65535)
		shift++;
	return shift;
}

void tcp_prepare_buffers(struct tcp_pcb *pcb)
{
	uint32_t mtu = ip_mtu_towards(pcb->remote_addr);
	pcb->rcv_mss = (uint16_t)MIN(mtu - 40, 65495u);
	pcb->rcv_wscale = scale_for(pcb->rcvbuf_size);
	pcb->mss = TCP_DEFAULT_MSS;
	pcb->peer_mss = TCP_DEFAULT_MSS;
}

uint32_t tcp_receive_space(const struct tcp_pcb *pcb)
{
	return pcb->rcvbuf.buf ? ring_space(&pcb->rcvbuf) : pcb->rcvbuf_size;
}

uint32_t tcp_receive_data(struct tcp_pcb *pcb, const uint8_t *data, uint32_t len)
{
	if (!pcb->rcvbuf.buf && ring_init(&pcb->rcvbuf, pcb->rcvbuf_size) < 0)
		return 0;
	socket_wake(pcb->socket);
	return ring_write(&pcb->rcvbuf, data, len);
}

static void start_sequence(struct tcp_pcb *pcb)
{
	/* RFC 6528 asks for a keyed hash of the 4-tuple plus a clock; random plus the clock is as hard to
	 * guess, and unique enough for one host. */
	pcb->iss = net_random32() + (uint32_t)(clock_monotonic_ns() >> 12);
	pcb->snd_una = pcb->snd_nxt = pcb->snd_max = pcb->iss;
	pcb->data_seq = pcb->iss + 1;
	pcb->cwnd = TCP_DEFAULT_MSS;
	pcb->ssthresh = 0x7fffffff;
}

int tcp_connect(struct tcp_pcb *pcb, uint32_t addr, uint16_t port)
{
	switch (pcb->state) {
	case TCP_CLOSED:
		break;
	case TCP_SYN_SENT:
		return -EALREADY;
	case TCP_LISTEN:
		return -EINVAL;
	default:
		return -EISCONN;
	}
	if (pcb->error)
		return -ECONNABORTED; /* a failed connection is not retried on the same socket */
	if (addr == IP_ANY)
		addr = IP_LOOPBACK;
	if (ip_is_broadcast(addr) || ip_is_multicast(addr))
		return -ENETUNREACH;
	uint32_t src = pcb->local_addr ? pcb->local_addr : ip_source_for(addr);
	if (!src)
		return -ENETUNREACH;
	if (!pcb->local_port) {
		uint16_t p = port_ephemeral(IPPROTO_TCP, src);
		if (!p)
			return -EADDRNOTAVAIL;
		pcb->local_port = p;
	}
	for (struct tcp_pcb *p = tcp_pcbs; p; p = p->next)
		if (p != pcb && p->state != TCP_LISTEN && p->state != TCP_CLOSED && p->local_port == pcb->local_port &&
		    p->remote_port == port && p->remote_addr == addr && p->local_addr == src)
			return -EADDRNOTAVAIL; /* that exact connection exists */
	pcb->local_addr = src;
	pcb->remote_addr = addr;
	pcb->remote_port = port;
	tcp_list(pcb);
	tcp_prepare_buffers(pcb);
	start_sequence(pcb);
	pcb->state = TCP_SYN_SENT;
	tcp_output(pcb);
	return -EINPROGRESS;
}

int tcp_listen(struct tcp_pcb *pcb, int backlog)
{
	if (pcb->state != TCP_CLOSED && pcb->state != TCP_LISTEN)
		return -EINVAL;
	for (struct tcp_pcb *p = tcp_pcbs; p; p = p->next) {
		if (p == pcb || p->state != TCP_LISTEN || p->local_port != pcb->local_port)
			continue;
		if (pcb->local_addr && p->local_addr && pcb->local_addr != p->local_addr)
			continue;
		if (pcb->reuse_port && p->reuse_port)
			continue;
		return -EADDRINUSE;
	}
	if (backlog < 0)
		backlog = 0;
	pcb->backlog = MIN(backlog, TCP_MAX_BACKLOG);
	pcb->state = TCP_LISTEN;
	tcp_list(pcb);
	return 0;
}

/* Linux's rule: the accept queue is full when it holds more than backlog connections. */
static bool queue_full(const struct tcp_pcb *l) { return l->queue_count > l->backlog; }

bool tcp_accept_queue_has_room(const struct tcp_pcb *l) { return !queue_full(l); }

static struct tcp_pcb *child_new(struct tcp_pcb *l, bool limit_half_open)
{
	if (queue_full(l) || (limit_half_open && l->half_open >= MIN(MAX(l->backlog, 1) * 2, TCP_MAX_HALF_OPEN))) {
		net_stats.tcp_syn_dropped++;
		return NULL;
	}
	struct tcp_pcb *c = tcp_pcb_new(NULL);
	if (!c)
		return NULL;
	c->listener = l;
	c->reuse_addr = l->reuse_addr;
	c->reuse_port = l->reuse_port;
	c->nodelay = l->nodelay;
	c->keepalive = l->keepalive;
	c->keep_idle_s = l->keep_idle_s;
	c->keep_interval_s = l->keep_interval_s;
	c->keep_count = l->keep_count;
	c->user_mss = l->user_mss;
	c->rcvbuf_size = l->rcvbuf_size;
	c->sndbuf_size = l->sndbuf_size;
	c->local_port = l->local_port;
	c->state = TCP_SYN_RECEIVED;
	l->half_open++; /* a cookie's child too, for the moment until tcp_child_established */
	if (limit_half_open)
		net_stats.tcp_half_open_peak = MAX(net_stats.tcp_half_open_peak, (uint64_t)l->half_open);
	start_sequence(c);
	return c;
}

struct tcp_pcb *tcp_child_new(struct tcp_pcb *l) { return child_new(l, true); }
struct tcp_pcb *tcp_child_from_cookie(struct tcp_pcb *l) { return child_new(l, false); }

void tcp_child_established(struct tcp_pcb *c)
{
	struct tcp_pcb *l = c->listener;
	l->half_open--;
	c->queued = true;
	c->queue_next = NULL;
	if (l->queue_tail)
		l->queue_tail->queue_next = c;
	else
		l->queue_head = c;
	l->queue_tail = c;
	l->queue_count++;
	socket_wake(l->socket);
}

struct tcp_pcb *tcp_accept(struct tcp_pcb *l)
{
	struct tcp_pcb *c = l->queue_head;
	if (!c)
		return NULL;
	l->queue_head = c->queue_next;
	if (!l->queue_head)
		l->queue_tail = NULL;
	l->queue_count--;
	c->queued = false;
	c->queue_next = NULL;
	c->listener = NULL;
	return c;
}

/* Error for a call on a connection that is not (or no longer) usable for it. */
static int closed_error(struct tcp_pcb *pcb, bool sending)
{
	if (pcb->error) {
		int e = pcb->error;
		if (pcb->socket)
			pcb->socket->error = 0; /* reported once, as sock_error() does */
		pcb->error = 0;
		return -e;
	}
	return sending ? -EPIPE : -ENOTCONN;
}

long tcp_send(struct tcp_pcb *pcb, struct iov_iter *it, int flags)
{
	switch (pcb->state) {
	case TCP_ESTABLISHED:
	case TCP_CLOSE_WAIT:
		break;
	case TCP_SYN_SENT:
	case TCP_SYN_RECEIVED:
		return -EAGAIN; /* the socket layer waits for the connection */
	case TCP_CLOSED:
		return pcb->error ? closed_error(pcb, true) : -EPIPE; /* as Linux's sk_stream_wait_connect */
	default:
		return -EPIPE;
	}
	if (pcb->fin_queued)
		return -EPIPE;
	if (it->remaining == 0)
		return 0;
	if (!pcb->sndbuf.buf && ring_init(&pcb->sndbuf, pcb->sndbuf_size) < 0)
		return -ENOBUFS;
	if (ring_space(&pcb->sndbuf) == 0)
		return -EAGAIN;
	long n = ring_write_user(&pcb->sndbuf, it, (uint32_t)MIN(it->remaining, 0xffffffffUL));
	if (n <= 0)
		return n;
	if (!(flags & MSG_MORE))
		tcp_output(pcb);
	return n;
}

/* After the app read: tell the peer about the window that opened, when it opened enough to matter
 * (RFC 1122 §4.2.3.3 receiver SWS avoidance). */
static void window_update(struct tcp_pcb *pcb)
{
	if (pcb->state != TCP_ESTABLISHED && pcb->state != TCP_FIN_WAIT_1 && pcb->state != TCP_FIN_WAIT_2)
		return;
	uint32_t edge = pcb->rcv_nxt + tcp_receive_space(pcb);
	uint32_t threshold = MIN(pcb->rcvbuf_size / 2, (uint32_t)pcb->rcv_mss);
	if (SEQ_GEQ(edge, pcb->rcv_adv + threshold) || pcb->rcv_adv == pcb->rcv_nxt)
		tcp_send_ack(pcb);
}

long tcp_recv(struct tcp_pcb *pcb, struct iov_iter *it, int flags)
{
	if (pcb->state == TCP_LISTEN)
		return -ENOTCONN;
	if (pcb->rcvbuf.len) {
		uint32_t want = (uint32_t)MIN(it->remaining, 0xffffffffUL);
		long n = ring_read_user(&pcb->rcvbuf, it, want, flags & MSG_PEEK);
		if (n > 0 && !(flags & MSG_PEEK))
			window_update(pcb);
		return n;
	}
	if (pcb->fin_received || (pcb->socket && (pcb->socket->shutdown & RCV_SHUTDOWN)))
		return pcb->error ? closed_error(pcb, false) : 0;
	switch (pcb->state) {
	case TCP_SYN_SENT:
	case TCP_SYN_RECEIVED:
	case TCP_ESTABLISHED:
	case TCP_FIN_WAIT_1:
	case TCP_FIN_WAIT_2:
		return -EAGAIN;
	case TCP_CLOSED:
		return pcb->error ? closed_error(pcb, false) : -ENOTCONN;
	default:
		return 0;
	}
}

/* Queues our FIN and moves to the state that waits for it to be acknowledged. */
static void send_fin(struct tcp_pcb *pcb)
{
	if (pcb->fin_queued)
		return;
	if (pcb->state == TCP_ESTABLISHED)
		pcb->state = TCP_FIN_WAIT_1;
	else if (pcb->state == TCP_CLOSE_WAIT)
		pcb->state = TCP_LAST_ACK;
	else if (pcb->state != TCP_SYN_RECEIVED && pcb->state != TCP_SYN_SENT)
		return;
	pcb->fin_queued = true;
	tcp_output(pcb);
}

void tcp_shutdown(struct tcp_pcb *pcb, int how)
{
	if (how == SHUT_WR || how == SHUT_RDWR)
		send_fin(pcb);
}

void tcp_close(struct tcp_pcb *pcb)
{
	pcb->socket = NULL;
	switch (pcb->state) {
	case TCP_CLOSED:
	case TCP_SYN_SENT:
		tcp_pcb_free(pcb);
		return;
	case TCP_LISTEN:
		/* Connections nobody accepted are reset (Linux: inet_csk_listen_stop). */
		while (pcb->queue_head) {
			struct tcp_pcb *c = tcp_accept(pcb);
			tcp_abort(c);
		}
		for (struct tcp_pcb *p = tcp_pcbs, *next; p; p = next) {
			next = p->next;
			if (p->listener == pcb)
				tcp_pcb_free(p); /* half-open: forget it */
		}
		tcp_pcb_free(pcb);
		return;
	default:
		break;
	}
	if (pcb->rcvbuf.len || pcb->linger_abort) {
		tcp_abort(pcb); /* RFC 2525 §2.17: unread data is lost: tell the peer */
		return;
	}
	if (pcb->state == TCP_SYN_RECEIVED || pcb->state == TCP_ESTABLISHED || pcb->state == TCP_CLOSE_WAIT)
		send_fin(pcb);
	else if (pcb->state == TCP_FIN_WAIT_2)
		tcp_arm_fin_wait_2(pcb);
}

uint32_t tcp_poll(struct tcp_pcb *pcb, const struct socket *s)
{
	uint32_t mask = 0;
	enum tcp_state state = pcb->state;
	if (state == TCP_LISTEN)
		return pcb->queue_head ? POLLIN | POLLRDNORM : 0;
	if (s->shutdown == (RCV_SHUTDOWN | SEND_SHUTDOWN) || state == TCP_CLOSED)
		mask |= POLLHUP;
	if (s->shutdown & RCV_SHUTDOWN)
		mask |= POLLIN | POLLRDNORM | POLLRDHUP;
	if (state != TCP_SYN_SENT && state != TCP_SYN_RECEIVED) {
		if (pcb->rcvbuf.len)
			mask |= POLLIN | POLLRDNORM;
		if (!(s->shutdown & SEND_SHUTDOWN)) {
			/* Linux's sk_stream_is_writeable: free space at least half of what is queued. */
			uint32_t queued = pcb->sndbuf.len, free = pcb->sndbuf_size - queued;
			if (free >= queued / 2 && free > 0)
				mask |= POLLOUT | POLLWRNORM;
		} else {
			mask |= POLLOUT | POLLWRNORM;
		}
	}
	if (s->error || pcb->error)
		mask |= POLLERR;
	return mask;
}

static int get_int(const void *value, uint32_t len, int *out)
{
	if (len < sizeof(int))
		return -EINVAL;
	memcpy(out, value, sizeof(int));
	return 0;
}

int tcp_setsockopt(struct tcp_pcb *pcb, int name, const void *value, uint32_t len)
{
	int v;
	int err = get_int(value, len, &v);
	if (err < 0)
		return err;
	switch (name) {
	case TCP_NODELAY:
		pcb->nodelay = v != 0;
		if (pcb->nodelay)
			tcp_output(pcb); /* what Nagle held back goes now */
		return 0;
	case TCP_CORK:
		pcb->cork = v != 0;
		if (!pcb->cork)
			tcp_output(pcb);
		return 0;
	case TCP_MAXSEG:
		if (v && (v < 88 || v > 65495))
			return -EINVAL;
		pcb->user_mss = (uint32_t)v;
		return 0;
	case TCP_KEEPIDLE:
	case TCP_KEEPINTVL:
		if (v < 1 || v > 32767)
			return -EINVAL;
		if (name == TCP_KEEPIDLE)
			pcb->keep_idle_s = (uint32_t)v;
		else
			pcb->keep_interval_s = (uint32_t)v;
		tcp_arm_keepalive(pcb);
		return 0;
	case TCP_KEEPCNT:
		if (v < 1 || v > 127)
			return -EINVAL;
		pcb->keep_count = (uint32_t)v;
		return 0;
	case TCP_SYNCNT:
		if (v < 1 || v > 127)
			return -EINVAL;
		pcb->syn_retries = v;
		return 0;
	case TCP_QUICKACK:
		if (v && pcb->segs_unacked)
			tcp_send_ack(pcb);
		return 0;
	case TCP_LINGER2:
	case TCP_DEFER_ACCEPT:
	case TCP_WINDOW_CLAMP:
	case TCP_USER_TIMEOUT:
	case TCP_FASTOPEN:
		return 0; /* accepted; their tuning does not apply here */
	default:
		return -ENOPROTOOPT;
	}
}

/* struct tcp_info as Linux lays it out (232 bytes up to tcpi_snd_wnd); what we do not track stays 0. */
#define TCP_INFO_SIZE 232
#define TCPI_OPT_TIMESTAMPS 1
#define TCPI_OPT_SACK 2
#define TCPI_OPT_WSCALE 4

static void put_u32(uint8_t *info, uint32_t offset, uint64_t v)
{
	uint32_t u = (uint32_t)v;
	memcpy(info + offset, &u, sizeof(u));
}

static void tcp_connection_info(struct tcp_pcb *pcb, uint8_t *info);

static uint32_t tcp_info(struct tcp_pcb *pcb, void *value, uint32_t room)
{
	/* Linux's numbering of the states (include/net/tcp_states.h), in the order of enum tcp_state. */
	static const uint8_t linux_state[] = {7, 10, 2, 3, 1, 4, 5, 8, 11, 9, 6};
	uint8_t info[TCP_INFO_SIZE];
	memset(info, 0, sizeof(info));
	info[0] = linux_state[pcb->state];
	if (pcb->state == TCP_LISTEN) { /* as Linux: the accept queue's length and limit, nothing else */
		put_u32(info, 24, pcb->queue_count);
		put_u32(info, 28, pcb->backlog);
	} else {
		tcp_connection_info(pcb, info);
	}
	uint32_t n = MIN(room, (uint32_t)TCP_INFO_SIZE);
	memcpy(value, info, n);
	return n;
}

static void tcp_connection_info(struct tcp_pcb *pcb, uint8_t *info)
{
	info[2] = (uint8_t)MIN(pcb->retries, 255);
	info[5] = (pcb->ts_ok ? TCPI_OPT_TIMESTAMPS : 0) | (pcb->sack_ok ? TCPI_OPT_SACK : 0) |
		  (pcb->wscale_ok ? TCPI_OPT_WSCALE : 0);
	info[6] = (uint8_t)((pcb->snd_wscale & 0xf) | (pcb->rcv_wscale << 4));
	put_u32(info, 8, pcb->rto / 1000);           /* tcpi_rto, µs */
	put_u32(info, 16, pcb->mss);                 /* tcpi_snd_mss */
	put_u32(info, 20, pcb->rcv_mss);             /* tcpi_rcv_mss */
	put_u32(info, 24, pcb->snd_max - pcb->snd_una); /* tcpi_unacked (bytes here, not segments) */
	put_u32(info, 60, pcb->local_addr ? pcb->mss + 40u : 0); /* tcpi_pmtu */
	put_u32(info, 68, pcb->srtt / 1000);         /* tcpi_rtt, µs */
	put_u32(info, 72, pcb->rttvar / 1000);       /* tcpi_rttvar */
	put_u32(info, 76, pcb->ssthresh);            /* tcpi_snd_ssthresh */
	put_u32(info, 80, pcb->mss ? pcb->cwnd / pcb->mss : 0); /* tcpi_snd_cwnd, in segments */
	put_u32(info, 84, pcb->rcv_mss);             /* tcpi_advmss */
	put_u32(info, 96, pcb->rcvbuf_size);         /* tcpi_rcv_space */
	put_u32(info, 144, pcb->sndbuf.len - MIN(pcb->sndbuf.len, pcb->snd_max - pcb->data_seq)); /* notsent */
	put_u32(info, 228, pcb->snd_wnd);            /* tcpi_snd_wnd */
}

int tcp_getsockopt(struct tcp_pcb *pcb, int name, void *value, uint32_t *len)
{
	int v;
	switch (name) {
	case TCP_INFO:
		*len = tcp_info(pcb, value, *len);
		return 0;
	case TCP_NODELAY:
		v = pcb->nodelay;
		break;
	case TCP_CORK:
		v = pcb->cork;
		break;
	case TCP_MAXSEG:
		v = pcb->state == TCP_CLOSED || pcb->state == TCP_LISTEN ? (int)(pcb->user_mss ? pcb->user_mss : TCP_DEFAULT_MSS)
									  : pcb->mss;
		break;
	case TCP_KEEPIDLE:
		v = (int)pcb->keep_idle_s;
		break;
	case TCP_KEEPINTVL:
		v = (int)pcb->keep_interval_s;
		break;
	case TCP_KEEPCNT:
		v = (int)pcb->keep_count;
		break;
	case TCP_SYNCNT:
		v = pcb->syn_retries;
		break;
	case TCP_QUICKACK:
		v = 1;
		break;
	default:
		return -ENOPROTOOPT;
	}
	*len = MIN(*len, (uint32_t)sizeof(int));
	memcpy(value, &v, *len);
	return 0;
}

bool tcp_draining(void)
{
	for (struct tcp_pcb *p = tcp_pcbs; p; p = p->next) {
		switch (p->state) {
		case TCP_ESTABLISHED:
		case TCP_CLOSE_WAIT:
			if (p->sndbuf.len)
				return true; /* unsent or unacknowledged data */
			break;
		case TCP_FIN_WAIT_1:
		case TCP_CLOSING:
		case TCP_LAST_ACK:
			return true; /* our FIN is not acknowledged yet */
		default:
			break;
		}
	}
	return false;
}
