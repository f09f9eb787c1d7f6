/* Sockets (net/socket.c): the protocol-independent part of AF_INET sockets — creation, addresses and
 * port allocation, options, blocking and timeouts (by waiting on the stack with net_wait), poll — on
 * top of UDP (net/udp.c) and TCP (net/tcp.c). linux/sys_socket.c turns the Linux syscalls into these
 * calls; data moves between socket buffers and user memory through iov_iter. */
#pragma once
#include "errno.h"
#include "net/net.h"

#define AF_INET 2
#define SOCK_STREAM 1
#define SOCK_DGRAM 2
#define SOCK_NONBLOCK 04000
#define SOCK_CLOEXEC 02000000

#define MSG_OOB 0x1
#define MSG_PEEK 0x2
#define MSG_DONTROUTE 0x4
#define MSG_TRUNC 0x20
#define MSG_DONTWAIT 0x40
#define MSG_EOR 0x80
#define MSG_WAITALL 0x100
#define MSG_NOSIGNAL 0x4000
#define MSG_MORE 0x8000
#define MSG_CMSG_CLOEXEC 0x40000000

#define SHUT_RD 0
#define SHUT_WR 1
#define SHUT_RDWR 2
#define RCV_SHUTDOWN 1 /* socket->shutdown bits, as Linux's sk_shutdown */
#define SEND_SHUTDOWN 2

/* A user buffer list being copied from or to (a cursor over iovecs). */
struct user_iovec {
	uint64_t base, len;
};
struct iov_iter {
	const struct user_iovec *iov;
	int count;       /* iovecs left, the first possibly partly used */
	uint64_t offset; /* into iov[0] */
	size_t remaining;
};
void iov_iter_init(struct iov_iter *it, const struct user_iovec *iov, int count);
/* Copies up to n bytes from user memory and advances; the count, or -EFAULT when nothing was copied. */
long iov_copy_from_user(struct iov_iter *it, void *dst, size_t n);
long iov_copy_to_user(struct iov_iter *it, const void *src, size_t n);
void iov_advance(struct iov_iter *it, size_t n);

/* A byte ring: TCP send and receive buffers. It holds up to capacity bytes (the socket's buffer size)
 * but its memory grows only as data comes (from 2 KiB, doubling), so that a thousand quiet
 * connections cost little more than their pcbs; it is freed with the connection. */
struct ring {
	uint8_t *buf;
	uint32_t capacity, size, head, len; /* size: bytes allocated; head: offset of the first byte */
};
int ring_init(struct ring *r, uint32_t capacity);
void ring_free(struct ring *r);
static inline uint32_t ring_space(const struct ring *r) { return r->capacity - r->len; }
/* Appends up to n bytes (kernel memory); how many fit (fewer when memory is out). */
uint32_t ring_write(struct ring *r, const void *src, uint32_t n);
/* Appends up to n bytes from user memory; the count, -EFAULT, or -ENOBUFS when memory is out. */
long ring_write_user(struct ring *r, struct iov_iter *it, uint32_t n);
/* Copies n bytes starting offset bytes after head into dst (kernel memory). */
void ring_peek(const struct ring *r, uint32_t offset, void *dst, uint32_t n);
/* Copies up to n bytes from the head to user memory, consuming them unless peek; count or -EFAULT. */
long ring_read_user(struct ring *r, struct iov_iter *it, uint32_t n, bool peek);
void ring_discard(struct ring *r, uint32_t n);

struct tcp_pcb;

struct socket {
	struct socket *next;      /* UDP: the bound sockets list */
	int type;                 /* SOCK_STREAM or SOCK_DGRAM */
	int protocol;             /* IPPROTO_TCP or IPPROTO_UDP */
	uint32_t local_addr, remote_addr;
	uint16_t local_port, remote_port;
	bool bound;               /* has a local port */
	bool connected;           /* UDP: has a default peer */
	uint8_t shutdown;         /* RCV_SHUTDOWN | SEND_SHUTDOWN */
	int error;                /* SO_ERROR: pending, positive errno */
	/* Options. */
	bool reuse_addr, reuse_port, keepalive, broadcast, linger_on;
	int linger_seconds;
	uint32_t rcvbuf, sndbuf;  /* bytes */
	uint64_t rcvtimeo_ns, sndtimeo_ns; /* 0: block forever */
	uint8_t ttl, tos;
	/* UDP: received datagrams (each netbuf's data is the payload; source kept in front). */
	struct netbuf_queue rx;
	uint32_t rx_bytes;
	/* TCP. */
	struct tcp_pcb *pcb;
	uint32_t event_seq;       /* bumped whenever readiness may have changed (epoll's edge trigger) */
};

/* Something a poller may care about happened on s (data, space, a connection, an error, a FIN). */
static inline void socket_wake(struct socket *s)
{
	if (s)
		s->event_seq++;
}

/* What a blocking socket call returns once its wait (net_wait, deferred_wait) ended with r: 0, -EAGAIN
 * after the socket's timeout, for a signal -ERESTARTSYS (restarted under SA_RESTART) or, with a timeout
 * set, -EINTR, as Linux does. */
static inline int socket_wait_result(int r, uint64_t timeout_ns)
{
	if (r == -ETIMEDOUT)
		return -EAGAIN;
	if (r == -EINTR)
		return timeout_ns ? -EINTR : -ERESTARTSYS;
	return 0;
}

/* An IPv4 socket address in host byte order. */
struct inet_address {
	uint32_t addr;
	uint16_t port;
};

int socket_create(int type, int protocol, struct socket **out);
void socket_close(struct socket *s);
int socket_bind(struct socket *s, const struct inet_address *a);
int socket_listen(struct socket *s, int backlog);
/* Blocks unless nonblocking; a connected socket in *out. */
int socket_accept(struct socket *s, bool nonblocking, struct socket **out);
/* Blocks unless nonblocking (then -EINPROGRESS for TCP). */
int socket_connect(struct socket *s, const struct inet_address *a, bool nonblocking);
/* to: NULL for connected sockets. Bytes sent or -errno. */
long socket_send(struct socket *s, struct iov_iter *it, int flags, const struct inet_address *to, bool nonblocking);
/* from: filled when non-NULL (UDP: the sender; TCP: the peer). Bytes (or the datagram's full length
 * with MSG_TRUNC) or -errno; *truncated tells a datagram did not fit. */
long socket_recv(struct socket *s, struct iov_iter *it, int flags, struct inet_address *from, bool nonblocking,
		 bool *truncated);
int socket_shutdown(struct socket *s, int how);
/* Option values in kernel memory; *len in/out. 0 or -errno (ENOPROTOOPT for unknown ones). */
int socket_setsockopt(struct socket *s, int level, int name, const void *value, uint32_t len);
int socket_getsockopt(struct socket *s, int level, int name, void *value, uint32_t *len);
int socket_name(struct socket *s, bool peer, struct inet_address *out);
uint32_t socket_poll(struct socket *s);
/* Bytes ready to read (FIONREAD), or to send still queued (TIOCOUTQ). */
uint32_t socket_readable_bytes(struct socket *s);
uint32_t socket_unsent_bytes(struct socket *s);

/* Ports (net/socket.c): whether (proto, addr, port) may be bound by s; an ephemeral port for s. */
bool port_available(int protocol, uint32_t addr, uint16_t port, const struct socket *s);
uint16_t port_ephemeral(int protocol, uint32_t addr);

/* UDP (net/udp.c). */
int udp_bind(struct socket *s);
void udp_unbind(struct socket *s);
long udp_send(struct socket *s, struct iov_iter *it, const struct inet_address *to);
long udp_recv(struct socket *s, struct iov_iter *it, int flags, struct inet_address *from, bool *truncated);
bool udp_port_used(uint32_t addr, uint16_t port, const struct socket *except, bool reuse_ok);
