/* Sockets (net/socket.h): what is common to UDP and TCP sockets — creation, binding and port
 * allocation with Linux's SO_REUSEADDR/SO_REUSEPORT rules, options, the blocking loops (a blocking
 * call retries its non-blocking form after net_wait says the socket became ready, honouring
 * SO_RCVTIMEO/SO_SNDTIMEO), poll, shutdown and close. */
#include "arch/x86_64/clock.h"
#include "errno.h"
#include "lib.h"
#include "mm/mm.h"
#include "net/ip.h"
#include "net/netif.h"
#include "net/socket.h"
#include "net/tcp.h"
#include "param.h"

#define SOL_SOCKET 1
#define SO_DEBUG 1
#define SO_REUSEADDR 2
#define SO_TYPE 3
#define SO_ERROR 4
#define SO_DONTROUTE 5
#define SO_BROADCAST 6
#define SO_SNDBUF 7
#define SO_RCVBUF 8
#define SO_KEEPALIVE 9
#define SO_OOBINLINE 10
#define SO_NO_CHECK 11
#define SO_PRIORITY 12
#define SO_LINGER 13
#define SO_REUSEPORT 15
#define SO_RCVLOWAT 18
#define SO_SNDLOWAT 19
#define SO_RCVTIMEO 20
#define SO_SNDTIMEO 21
#define SO_TIMESTAMP 29
#define SO_ACCEPTCONN 30
#define SO_SNDBUFFORCE 32
#define SO_RCVBUFFORCE 33
#define SO_PROTOCOL 38
#define SO_DOMAIN 39
#define SO_INCOMING_CPU 49
#define SO_ZEROCOPY 60
#define IP_TOS 1
#define IP_TTL 2
#define IP_RECVERR 11
#define IP_MTU_DISCOVER 10
#define IP_MULTICAST_TTL 33
#define IP_MULTICAST_LOOP 34
#define EDOM 33

/* Linux's limits: values are doubled (bookkeeping overhead) and capped by net.core.[rw]mem_max. */
#define MEM_MAX 212992
#define MIN_RCVBUF 2304
#define MIN_SNDBUF 4608

static uint16_t next_ephemeral;

static bool port_in_use(int protocol, uint32_t addr, uint16_t port, const struct socket *s, bool reuse_ok)
{
	return protocol == IPPROTO_TCP ? tcp_pcb_port_used(addr, port, s, reuse_ok) : udp_port_used(addr, port, s, reuse_ok);
}

bool port_available(int protocol, uint32_t addr, uint16_t port, const struct socket *s)
{
	return !port_in_use(protocol, addr, port, s, true);
}

uint16_t port_ephemeral(int protocol, uint32_t addr)
{
	const uint32_t low = EPHEMERAL_PORT_LOW, count = EPHEMERAL_PORT_HIGH - EPHEMERAL_PORT_LOW + 1;
	if (!next_ephemeral)
		next_ephemeral = (uint16_t)(low + net_random32() % count);
	for (uint32_t i = 0; i < count; i++) {
		uint16_t port = next_ephemeral;
		next_ephemeral = (uint16_t)(port >= EPHEMERAL_PORT_HIGH ? low : port + 1u);
		if (!port_in_use(protocol, addr, port, NULL, false))
			return port;
	}
	return 0;
}

int socket_create(int type, int protocol, struct socket **out)
{
	if (type == SOCK_STREAM) {
		if (protocol != 0 && protocol != IPPROTO_TCP)
			return -EPROTONOSUPPORT;
		protocol = IPPROTO_TCP;
	} else if (type == SOCK_DGRAM) {
		if (protocol != 0 && protocol != IPPROTO_UDP)
			return -EPROTONOSUPPORT;
		protocol = IPPROTO_UDP;
	} else {
		return -ESOCKTNOSUPPORT;
	}
	struct socket *s = kzalloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->type = type;
	s->protocol = protocol;
	s->rcvbuf = protocol == IPPROTO_TCP ? TCP_DEFAULT_RCVBUF : UDP_DEFAULT_BUF;
	s->sndbuf = protocol == IPPROTO_TCP ? TCP_DEFAULT_SNDBUF : UDP_DEFAULT_BUF;
	if (protocol == IPPROTO_TCP) {
		s->pcb = tcp_pcb_new(s);
		if (!s->pcb) {
			kfree(s);
			return -ENOMEM;
		}
	}
	*out = s;
	return 0;
}

void socket_close(struct socket *s)
{
	if (s->protocol == IPPROTO_TCP) {
		struct tcp_pcb *pcb = s->pcb;
		if (pcb) {
			pcb->linger_abort = s->linger_on && s->linger_seconds == 0;
			tcp_close(pcb);
		}
	} else {
		udp_unbind(s);
	}
	kfree(s);
}

static bool local_address(uint32_t addr) { return addr == IP_ANY || netif_is_local(addr); }

int socket_bind(struct socket *s, const struct inet_address *a)
{
	if (s->bound)
		return -EINVAL;
	if (!local_address(a->addr) && !(s->protocol == IPPROTO_UDP && ip_is_broadcast(a->addr)))
		return -EADDRNOTAVAIL;
	uint16_t port = a->port;
	if (port == 0) {
		port = port_ephemeral(s->protocol, a->addr);
		if (!port)
			return -EADDRINUSE;
	} else if (!port_available(s->protocol, a->addr, port, s)) {
		return -EADDRINUSE;
	}
	s->local_addr = a->addr;
	s->local_port = port;
	if (s->protocol == IPPROTO_UDP)
		return udp_bind(s);
	struct tcp_pcb *pcb = s->pcb;
	pcb->local_addr = a->addr;
	pcb->local_port = port;
	pcb->reuse_addr = s->reuse_addr;
	pcb->reuse_port = s->reuse_port;
	tcp_list(pcb);
	s->bound = true;
	return 0;
}

int socket_listen(struct socket *s, int backlog)
{
	if (s->protocol != IPPROTO_TCP)
		return -EOPNOTSUPP;
	if (!s->bound) {
		struct inet_address any = {IP_ANY, 0};
		int err = socket_bind(s, &any);
		if (err < 0)
			return err;
	}
	return tcp_listen(s->pcb, backlog);
}

struct wait {
	struct socket *s;
	uint32_t events;
};

static bool ready(void *arg)
{
	struct wait *w = arg;
	return socket_poll(w->s) & (w->events | POLLERR | POLLHUP);
}

/* Waits for events (or an error or hang-up); 0, -EAGAIN once timeout_ns (0: none) passed, or for a
 * signal -ERESTARTSYS (restarted under SA_RESTART), -EINTR with a timeout set, as Linux does. */
static int wait_for(struct socket *s, uint32_t events, uint64_t timeout_ns)
{
	struct wait w = {s, events};
	uint64_t deadline = timeout_ns ? clock_monotonic_ns() + timeout_ns : 0;
	return socket_wait_result(net_wait(deadline, ready, &w), timeout_ns);
}

int socket_accept(struct socket *s, bool nonblocking, struct socket **out)
{
	if (s->protocol != IPPROTO_TCP)
		return -EOPNOTSUPP;
	if (s->pcb->state != TCP_LISTEN)
		return -EINVAL;
	for (;;) {
		struct tcp_pcb *c = tcp_accept(s->pcb);
		if (c) {
			struct socket *ns = kzalloc(sizeof(*ns));
			if (!ns) {
				tcp_abort(c);
				return -ENOMEM;
			}
			ns->type = SOCK_STREAM;
			ns->protocol = IPPROTO_TCP;
			ns->pcb = c;
			ns->rcvbuf = c->rcvbuf_size;
			ns->sndbuf = c->sndbuf_size;
			ns->reuse_addr = s->reuse_addr;
			ns->reuse_port = s->reuse_port;
			ns->keepalive = s->keepalive;
			ns->ttl = s->ttl;
			ns->tos = s->tos;
			ns->local_addr = c->local_addr;
			ns->local_port = c->local_port;
			ns->remote_addr = c->remote_addr;
			ns->remote_port = c->remote_port;
			ns->bound = ns->connected = true;
			if (c->fin_received)
				ns->shutdown |= RCV_SHUTDOWN;
			if (c->state == TCP_CLOSED) {
				ns->shutdown = RCV_SHUTDOWN | SEND_SHUTDOWN;
				ns->error = c->error;
			}
			c->socket = ns;
			*out = ns;
			return 0;
		}
		if (nonblocking)
			return -EAGAIN;
		int err = wait_for(s, POLLIN, s->rcvtimeo_ns);
		if (err < 0)
			return err;
		if (s->pcb->state != TCP_LISTEN)
			return -EINVAL;
	}
}

static int take_error(struct socket *s)
{
	int e = s->error;
	if (!e && s->pcb)
		e = s->pcb->error;
	s->error = 0;
	if (s->pcb)
		s->pcb->error = 0;
	return e;
}

int socket_connect(struct socket *s, const struct inet_address *a, bool nonblocking)
{
	if (s->protocol == IPPROTO_UDP) {
		uint32_t dst = a->addr == IP_ANY ? IP_LOOPBACK : a->addr;
		if (ip_is_broadcast(dst) && !s->broadcast)
			return -EACCES;
		uint32_t src = s->local_addr ? s->local_addr : ip_source_for(dst);
		if (!src)
			return -ENETUNREACH;
		if (!s->bound) {
			uint16_t port = port_ephemeral(IPPROTO_UDP, 0);
			if (!port)
				return -EAGAIN;
			s->local_port = port;
			udp_bind(s);
		}
		s->local_addr = src; /* getsockname shows the address the route chose, as on Linux */
		s->remote_addr = dst;
		s->remote_port = a->port;
		s->connected = true;
		return 0;
	}
	struct tcp_pcb *pcb = s->pcb;
	if (s->connected) {
		if (pcb->state == TCP_SYN_SENT || pcb->state == TCP_SYN_RECEIVED)
			return -EALREADY;
		if (pcb->state == TCP_CLOSED && pcb->error)
			return -take_error(s);
		return -EISCONN;
	}
	int err = 0;
	if (pcb->state == TCP_LISTEN) {
		return -EISCONN;
	} else if (pcb->state == TCP_SYN_SENT) {
		err = -EALREADY; /* a non-blocking connect still going on */
	} else if (pcb->state != TCP_CLOSED) {
		/* A non-blocking connect completed: the first connect after it says so (as Linux). */
		s->connected = true;
		return 0;
	} else if (pcb->error) {
		return -take_error(s);
	} else {
		pcb->reuse_addr = s->reuse_addr;
		pcb->reuse_port = s->reuse_port;
		pcb->keepalive = s->keepalive;
		pcb->rcvbuf_size = s->rcvbuf;
		pcb->sndbuf_size = s->sndbuf;
		err = tcp_connect(pcb, a->addr, a->port);
		if (err != -EINPROGRESS)
			return err;
		s->bound = true;
		s->local_addr = pcb->local_addr;
		s->local_port = pcb->local_port;
		s->remote_addr = pcb->remote_addr;
		s->remote_port = pcb->remote_port;
	}
	if (nonblocking)
		return err;
	err = wait_for(s, POLLOUT, s->sndtimeo_ns);
	if (err == -EAGAIN)
		return -EINPROGRESS; /* SO_SNDTIMEO passed (Linux says EINPROGRESS too) */
	if (err < 0)
		return err; /* a signal; a restarted connect goes on waiting */
	if (pcb->state == TCP_CLOSED) {
		int e = take_error(s);
		return -(e ? e : ECONNABORTED);
	}
	s->connected = true;
	return 0;
}

long socket_send(struct socket *s, struct iov_iter *it, int flags, const struct inet_address *to, bool nonblocking)
{
	nonblocking = nonblocking || (flags & MSG_DONTWAIT);
	if (s->protocol == IPPROTO_UDP) {
		if (s->shutdown & SEND_SHUTDOWN)
			return -EPIPE;
		if (s->connected && s->error)
			return -take_error(s);
		return udp_send(s, it, to);
	}
	if (to && !s->connected && s->pcb->state == TCP_CLOSED)
		return -EPIPE; /* sendto on an unconnected stream socket */
	size_t total = 0;
	for (;;) {
		long n = tcp_send(s->pcb, it, flags);
		if (n > 0) {
			total += (size_t)n;
			if (it->remaining == 0)
				return (long)total;
			continue;
		}
		if (n == 0)
			return (long)total;
		if (n != -EAGAIN)
			return total ? (long)total : n;
		if (nonblocking)
			return total ? (long)total : -EAGAIN;
		int err = wait_for(s, POLLOUT, s->sndtimeo_ns);
		if (err < 0)
			return total ? (long)total : err;
	}
}

long socket_recv(struct socket *s, struct iov_iter *it, int flags, struct inet_address *from, bool nonblocking,
		 bool *truncated)
{
	nonblocking = nonblocking || (flags & MSG_DONTWAIT);
	*truncated = false;
	if (flags & MSG_OOB)
		return -EINVAL; /* no urgent data is ever kept */
	if (s->protocol == IPPROTO_UDP) {
		for (;;) {
			if (s->error)
				return -take_error(s);
			long n = udp_recv(s, it, flags, from, truncated);
			if (n != -EAGAIN)
				return n;
			if (s->shutdown & RCV_SHUTDOWN)
				return 0;
			if (nonblocking)
				return -EAGAIN;
			int err = wait_for(s, POLLIN, s->rcvtimeo_ns);
			if (err < 0)
				return err;
		}
	}
	if (from) {
		from->addr = s->pcb->remote_addr;
		from->port = s->pcb->remote_port;
	}
	size_t total = 0;
	for (;;) {
		long n = tcp_recv(s->pcb, it, flags);
		if (n > 0) {
			total += (size_t)n;
			if (!(flags & MSG_WAITALL) || (flags & MSG_PEEK) || it->remaining == 0)
				return (long)total;
			continue;
		}
		if (n == 0 || (n != -EAGAIN && total))
			return (long)total;
		if (n != -EAGAIN)
			return n;
		if (nonblocking)
			return total ? (long)total : -EAGAIN;
		int err = wait_for(s, POLLIN, s->rcvtimeo_ns);
		if (err < 0)
			return total ? (long)total : err;
	}
}

int socket_shutdown(struct socket *s, int how)
{
	if (how < SHUT_RD || how > SHUT_RDWR)
		return -EINVAL;
	if (s->protocol == IPPROTO_UDP) {
		if (!s->connected)
			return -ENOTCONN;
	} else {
		enum tcp_state st = s->pcb->state;
		if (st == TCP_CLOSED || st == TCP_SYN_SENT || st == TCP_LISTEN)
			return -ENOTCONN;
	}
	if (how == SHUT_RD || how == SHUT_RDWR)
		s->shutdown |= RCV_SHUTDOWN;
	if (how == SHUT_WR || how == SHUT_RDWR)
		s->shutdown |= SEND_SHUTDOWN;
	if (s->protocol == IPPROTO_TCP)
		tcp_shutdown(s->pcb, how);
	return 0;
}

static int int_value(const void *value, uint32_t len, int *out)
{
	if (len < sizeof(int))
		return -EINVAL;
	memcpy(out, value, sizeof(int));
	return 0;
}

static int put_int(void *value, uint32_t *len, int v)
{
	*len = MIN(*len, (uint32_t)sizeof(int));
	memcpy(value, &v, *len);
	return 0;
}

struct timeval_k {
	int64_t sec, usec;
};

static int socket_level_set(struct socket *s, int name, const void *value, uint32_t len)
{
	int v = 0;
	if (name == SO_LINGER) {
		int linger[2];
		if (len < sizeof(linger))
			return -EINVAL;
		memcpy(linger, value, sizeof(linger));
		s->linger_on = linger[0] != 0;
		s->linger_seconds = linger[1] < 0 ? 0 : linger[1];
		return 0;
	}
	if (name == SO_RCVTIMEO || name == SO_SNDTIMEO) {
		struct timeval_k tv;
		if (len < sizeof(tv))
			return -EINVAL;
		memcpy(&tv, value, sizeof(tv));
		if (tv.usec < 0 || tv.usec >= 1000000)
			return -EDOM;
		uint64_t ns = tv.sec < 0 ? 0 : (uint64_t)tv.sec * 1000000000UL + (uint64_t)tv.usec * 1000;
		if (name == SO_RCVTIMEO)
			s->rcvtimeo_ns = ns;
		else
			s->sndtimeo_ns = ns;
		return 0;
	}
	int err = int_value(value, len, &v);
	if (err < 0)
		return err;
	switch (name) {
	case SO_REUSEADDR:
		s->reuse_addr = v != 0;
		if (s->pcb)
			s->pcb->reuse_addr = s->reuse_addr;
		return 0;
	case SO_REUSEPORT:
		s->reuse_port = v != 0;
		if (s->pcb)
			s->pcb->reuse_port = s->reuse_port;
		return 0;
	case SO_KEEPALIVE:
		s->keepalive = v != 0;
		if (s->pcb) {
			s->pcb->keepalive = s->keepalive;
			tcp_arm_keepalive(s->pcb);
		}
		return 0;
	case SO_BROADCAST:
		s->broadcast = v != 0;
		return 0;
	case SO_RCVBUF:
	case SO_RCVBUFFORCE:
		s->rcvbuf = (uint32_t)MAX(MIN((uint32_t)MAX(v, 0), (uint32_t)MEM_MAX) * 2, (uint32_t)MIN_RCVBUF);
		if (s->pcb && !s->pcb->rcvbuf.buf && (s->pcb->state == TCP_CLOSED || s->pcb->state == TCP_LISTEN))
			s->pcb->rcvbuf_size = s->rcvbuf;
		return 0;
	case SO_SNDBUF:
	case SO_SNDBUFFORCE:
		s->sndbuf = (uint32_t)MAX(MIN((uint32_t)MAX(v, 0), (uint32_t)MEM_MAX) * 2, (uint32_t)MIN_SNDBUF);
		if (s->pcb && !s->pcb->sndbuf.buf)
			s->pcb->sndbuf_size = s->sndbuf;
		return 0;
	case SO_DEBUG:
	case SO_DONTROUTE:
	case SO_OOBINLINE:
	case SO_NO_CHECK:
	case SO_PRIORITY:
	case SO_RCVLOWAT:
	case SO_TIMESTAMP:
	case SO_INCOMING_CPU:
	case SO_ZEROCOPY:
		return 0; /* accepted; no effect here */
	case SO_SNDLOWAT:
		return -ENOPROTOOPT; /* as Linux: not changeable */
	default:
		return -ENOPROTOOPT;
	}
}

int socket_setsockopt(struct socket *s, int level, int name, const void *value, uint32_t len)
{
	int v;
	switch (level) {
	case SOL_SOCKET:
		return socket_level_set(s, name, value, len);
	case IPPROTO_TCP:
		if (s->protocol != IPPROTO_TCP)
			return -ENOPROTOOPT;
		return tcp_setsockopt(s->pcb, name, value, len);
	case 0: /* IPPROTO_IP */
		switch (name) {
		case IP_TTL:
			if (int_value(value, len, &v) < 0)
				return -EINVAL;
			if (v < -1 || v == 0 || v > 255)
				return -EINVAL;
			s->ttl = v == -1 ? 0 : (uint8_t)v;
			return 0;
		case IP_TOS:
			if (int_value(value, len, &v) < 0)
				return -EINVAL;
			s->tos = (uint8_t)v;
			return 0;
		case IP_RECVERR:
		case IP_MTU_DISCOVER:
		case IP_MULTICAST_TTL:
		case IP_MULTICAST_LOOP:
			return 0;
		default:
			return -ENOPROTOOPT;
		}
	default:
		return -ENOPROTOOPT;
	}
}

int socket_getsockopt(struct socket *s, int level, int name, void *value, uint32_t *len)
{
	if (level == IPPROTO_TCP) {
		if (s->protocol != IPPROTO_TCP)
			return -ENOPROTOOPT;
		return tcp_getsockopt(s->pcb, name, value, len);
	}
	if (level == 0) {
		if (name == IP_TTL)
			return put_int(value, len, s->ttl ? s->ttl : IP_DEFAULT_TTL);
		if (name == IP_TOS)
			return put_int(value, len, s->tos);
		return -ENOPROTOOPT;
	}
	if (level != SOL_SOCKET)
		return -ENOPROTOOPT;
	switch (name) {
	case SO_TYPE:
		return put_int(value, len, s->type);
	case SO_PROTOCOL:
		return put_int(value, len, s->protocol);
	case SO_DOMAIN:
		return put_int(value, len, AF_INET);
	case SO_ERROR:
		return put_int(value, len, take_error(s));
	case SO_REUSEADDR:
		return put_int(value, len, s->reuse_addr);
	case SO_REUSEPORT:
		return put_int(value, len, s->reuse_port);
	case SO_KEEPALIVE:
		return put_int(value, len, s->keepalive);
	case SO_BROADCAST:
		return put_int(value, len, s->broadcast);
	case SO_RCVBUF:
		return put_int(value, len, (int)s->rcvbuf);
	case SO_SNDBUF:
		return put_int(value, len, (int)s->sndbuf);
	case SO_ACCEPTCONN:
		return put_int(value, len, s->pcb && s->pcb->state == TCP_LISTEN);
	case SO_RCVLOWAT:
	case SO_SNDLOWAT:
		return put_int(value, len, 1);
	case SO_DONTROUTE:
	case SO_OOBINLINE:
	case SO_PRIORITY:
	case SO_DEBUG:
	case SO_TIMESTAMP:
		return put_int(value, len, 0);
	case SO_LINGER: {
		int linger[2] = {s->linger_on, s->linger_seconds};
		*len = MIN(*len, (uint32_t)sizeof(linger));
		memcpy(value, linger, *len);
		return 0;
	}
	case SO_RCVTIMEO:
	case SO_SNDTIMEO: {
		uint64_t ns = name == SO_RCVTIMEO ? s->rcvtimeo_ns : s->sndtimeo_ns;
		struct timeval_k tv = {(int64_t)(ns / 1000000000UL), (int64_t)(ns % 1000000000UL / 1000)};
		*len = MIN(*len, (uint32_t)sizeof(tv));
		memcpy(value, &tv, *len);
		return 0;
	}
	default:
		return -ENOPROTOOPT;
	}
}

int socket_name(struct socket *s, bool peer, struct inet_address *out)
{
	if (peer) {
		if (s->protocol == IPPROTO_UDP) {
			if (!s->connected)
				return -ENOTCONN;
		} else {
			enum tcp_state st = s->pcb->state;
			if (st == TCP_CLOSED || st == TCP_LISTEN || st == TCP_SYN_SENT)
				return -ENOTCONN;
		}
		out->addr = s->protocol == IPPROTO_TCP ? s->pcb->remote_addr : s->remote_addr;
		out->port = s->protocol == IPPROTO_TCP ? s->pcb->remote_port : s->remote_port;
		return 0;
	}
	if (s->protocol == IPPROTO_TCP) {
		out->addr = s->pcb->local_addr;
		out->port = s->pcb->local_port;
	} else {
		out->addr = s->local_addr;
		out->port = s->local_port;
	}
	return 0;
}

uint32_t socket_poll(struct socket *s)
{
	if (s->protocol == IPPROTO_TCP)
		return tcp_poll(s->pcb, s);
	uint32_t mask = POLLOUT | POLLWRNORM | POLLWRBAND; /* datagrams are never held back */
	if (s->rx.head)
		mask |= POLLIN | POLLRDNORM;
	if (s->error)
		mask |= POLLERR;
	if (s->shutdown & RCV_SHUTDOWN)
		mask |= POLLIN | POLLRDNORM | POLLRDHUP;
	if (s->shutdown == (RCV_SHUTDOWN | SEND_SHUTDOWN))
		mask |= POLLHUP;
	return mask;
}

uint32_t socket_readable_bytes(struct socket *s)
{
	if (s->protocol == IPPROTO_TCP)
		return s->pcb->state == TCP_LISTEN ? 0 : s->pcb->rcvbuf.len;
	/* Linux's FIONREAD on UDP: the size of the next datagram. */
	return s->rx.head ? s->rx.head->len - 8 : 0;
}

uint32_t socket_unsent_bytes(struct socket *s)
{
	return s->protocol == IPPROTO_TCP ? s->pcb->sndbuf.len : 0;
}
