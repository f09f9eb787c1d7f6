/* AF_UNIX sockets (linux/unix_socket.h). A socket lives as long as its file or anything pointing at it (its
 * peer, a listener's queue of connections not yet accepted, a datagram socket connected to it):
 * references count those, and close only marks it closed and cuts its links. Blocking calls wait with
 * deferred_wait and re-check after every deferred_notify, which every change here makes. */
#include "arch/x86_64/clock.h"
#include "errno.h"
#include "fs/file.h"
#include "fs/ramfs.h"
#include "fs/tmpfs.h"
#include "lib.h"
#include "linux/linux.h"
#include "mm/mm.h"
#include "linux/unix_socket.h"
#include "sched/deferred.h"

#define UNIX_PATH_MAX 108
#define SUN_PATH_OFFSET 2           /* sizeof(sa_family_t) */
#define UNIX_BUFFER 212992          /* bytes a socket may hold (Linux's default socket buffer) */
#define UNIX_MAX_BACKLOG 4096       /* Linux's somaxconn */
#define SOCK_RAW 3
#define AT_FDCWD (-100)
#define SOL_SOCKET 1
#define SO_TYPE 3
#define SO_ERROR 4
#define SO_SNDBUF 7
#define SO_RCVBUF 8
#define SO_PASSCRED 16
#define SO_PEERCRED 17
#define SO_RCVTIMEO 20
#define SO_SNDTIMEO 21
#define SO_ACCEPTCONN 30
#define SO_PROTOCOL 38
#define SO_DOMAIN 39

enum unix_state { UNIX_IDLE, UNIX_LISTENING, UNIX_CONNECTED };

/* A name: len bytes of sun_path (0: unnamed). Abstract names start with a NUL byte; path names are
 * kept without their terminating NUL. */
struct unix_name {
	uint32_t len;
	char bytes[UNIX_PATH_MAX];
};

struct unix_msg {
	struct unix_msg *next;
	struct unix_name from;
	uint32_t len;
	uint8_t data[];
};

struct unix_sock {
	int type; /* SOCK_STREAM or SOCK_DGRAM */
	enum unix_state state;
	int refs;
	bool closed;          /* its file is gone */
	bool peer_gone;       /* stream: the other end closed (reads reach EOF, writes fail with EPIPE) */
	uint8_t shutdown;     /* RCV_SHUTDOWN | SEND_SHUTDOWN, our own */
	int error;            /* pending error (SO_ERROR): ECONNRESET when the peer closed with data unread */
	struct unix_sock *peer; /* stream: the other end; datagram: the default destination */
	struct unix_name name;
	struct ramfs_node *node; /* the socket node of a path name */
	struct unix_sock *next_abstract;
	struct ring rx;       /* stream: bytes from the peer */
	struct unix_msg *msgs, *msgs_tail; /* datagram: received messages */
	uint32_t msg_bytes;
	struct unix_sock *pending, *pending_tail, *next_pending; /* a listener's connections not yet accepted */
	int pending_count, backlog;
	bool passcred;
	uint64_t rcvtimeo_ns, sndtimeo_ns;
	uint32_t event_seq;
};

static struct unix_sock *abstract_names;
static uint32_t next_autobind;

static const struct file_ops unix_ops;

struct unix_sock *unix_of(int fd, struct file **file)
{
	struct file *f = fd_get(fd);
	if (file)
		*file = f;
	return f && f->ops == &unix_ops ? f->private_data : NULL;
}

/* Something changed on s: pollers and blocked threads re-check. */
static void changed(struct unix_sock *s)
{
	if (s)
		s->event_seq++;
	deferred_notify();
}

static struct unix_sock *sock_new(int type)
{
	struct unix_sock *s = kzalloc(sizeof(*s));
	if (!s)
		return NULL;
	s->type = type;
	s->refs = 1;
	if (type == SOCK_STREAM && ring_init(&s->rx, UNIX_BUFFER) < 0) {
		kfree(s);
		return NULL;
	}
	return s;
}

static struct unix_sock *sock_get(struct unix_sock *s)
{
	s->refs++;
	return s;
}

static void sock_put(struct unix_sock *s)
{
	if (!s || --s->refs > 0)
		return;
	while (s->msgs) {
		struct unix_msg *m = s->msgs;
		s->msgs = m->next;
		kfree(m);
	}
	ring_free(&s->rx);
	kfree(s);
}

static void unbind(struct unix_sock *s)
{
	if (s->node) {
		if (s->node->dev_data == s)
			s->node->dev_data = NULL; /* the node stays, as Linux's does: connecting to it is refused */
		ramfs_node_put(s->node);
		s->node = NULL;
	}
	for (struct unix_sock **p = &abstract_names; *p; p = &(*p)->next_abstract) {
		if (*p == s) {
			*p = s->next_abstract;
			break;
		}
	}
}

/* Cuts s's links when its file goes: the peer sees the end, queued connections are dropped. */
static void sock_close(struct unix_sock *s)
{
	s->closed = true;
	unbind(s);
	while (s->pending) {
		struct unix_sock *c = s->pending;
		s->pending = c->next_pending;
		if (c->peer)
			c->peer->error = ECONNRESET; /* never accepted */
		sock_close(c);
		sock_put(c);
	}
	if (s->peer) {
		struct unix_sock *p = s->peer;
		if (s->type == SOCK_STREAM && p->peer == s) {
			p->peer_gone = true;
			if (s->rx.len)
				p->error = ECONNRESET; /* it closed with data unread */
			changed(p);
		}
		s->peer = NULL;
		sock_put(p);
	}
	changed(s);
}

/* ---- names ---- */

static long read_name(uint64_t addr, uint64_t len, struct unix_name *out)
{
	if (len < SUN_PATH_OFFSET || len > SUN_PATH_OFFSET + UNIX_PATH_MAX)
		return -EINVAL;
	uint8_t raw[SUN_PATH_OFFSET + UNIX_PATH_MAX];
	if (copy_from_user(raw, addr, len) < 0)
		return -EFAULT;
	if ((raw[0] | raw[1] << 8) != AF_UNIX)
		return -EINVAL;
	uint32_t n = (uint32_t)len - SUN_PATH_OFFSET;
	const char *path = (const char *)raw + SUN_PATH_OFFSET;
	if (n > 0 && path[0] != 0)
		n = (uint32_t)strnlen(path, n); /* a path ends at its NUL */
	out->len = n;
	memcpy(out->bytes, path, n);
	return 0;
}

static bool is_abstract(const struct unix_name *n) { return n->len > 0 && n->bytes[0] == 0; }

/* The name as sun_path bytes plus the length getsockname reports (a path's NUL included). */
static long write_name(const struct unix_name *n, uint64_t addr, uint64_t addrlen)
{
	if (!addrlen)
		return 0;
	uint8_t raw[SUN_PATH_OFFSET + UNIX_PATH_MAX + 1] = {AF_UNIX, 0};
	memcpy(raw + SUN_PATH_OFFSET, n->bytes, n->len);
	uint32_t full = SUN_PATH_OFFSET + n->len + (n->len && !is_abstract(n) ? 1 : 0);
	return socket_put_address(addr, addrlen, raw, full);
}

static long path_of(const struct unix_name *n, char *path)
{
	if (n->len == 0)
		return -EINVAL;
	memcpy(path, n->bytes, n->len);
	path[n->len] = 0;
	return 0;
}

/* The socket bound to name; -ECONNREFUSED when nothing listens there, -ENOENT for no such path. */
static long find_bound(const struct unix_name *n, struct unix_sock **out)
{
	if (is_abstract(n)) {
		for (struct unix_sock *s = abstract_names; s; s = s->next_abstract) {
			if (s->name.len == n->len && memcmp(s->name.bytes, n->bytes, n->len) == 0) {
				*out = s;
				return 0;
			}
		}
		return -ECONNREFUSED;
	}
	char path[UNIX_PATH_MAX + 1];
	long r = path_of(n, path);
	if (r < 0)
		return r;
	struct ramfs_node *node;
	r = resolve_path(AT_FDCWD, path, true, &node);
	if (r < 0)
		return r;
	if ((node->mode & S_IFMT) != S_IFSOCK || !node->dev_data)
		return -ECONNREFUSED;
	*out = (struct unix_sock *)node->dev_data;
	return 0;
}

long unix_bind(struct unix_sock *s, uint64_t addr, uint64_t len)
{
	struct unix_name n;
	long r = read_name(addr, len, &n);
	if (r < 0)
		return r;
	if (s->name.len)
		return -EINVAL;
	if (n.len == 0) { /* autobind: an abstract name of five hex digits, as Linux picks */
		struct unix_sock *taken;
		do {
			n.len = 6;
			n.bytes[0] = 0;
			snprintf(n.bytes + 1, 6, "%05x", next_autobind++ & 0xfffff);
		} while (find_bound(&n, &taken) == 0);
	}
	if (is_abstract(&n)) {
		struct unix_sock *taken;
		if (find_bound(&n, &taken) == 0)
			return -EADDRINUSE;
		s->next_abstract = abstract_names;
		abstract_names = s;
	} else {
		char path[UNIX_PATH_MAX + 1];
		path_of(&n, path);
		struct ramfs_node *node;
		r = create_at(AT_FDCWD, path, S_IFSOCK | (0777 & ~process_umask()), &node);
		if (r < 0)
			return r == -EEXIST ? -EADDRINUSE : r;
		node->dev_data = s;
		ramfs_node_get(node);
		s->node = node;
	}
	s->name = n;
	return 0;
}

long unix_listen(struct unix_sock *s, int backlog)
{
	if (s->type != SOCK_STREAM)
		return -EOPNOTSUPP;
	if (s->state == UNIX_CONNECTED)
		return -EINVAL;
	if (!s->name.len)
		return -EINVAL; /* Linux autobinds only with SO_PASSCRED; unnamed listeners cannot be reached */
	s->backlog = backlog < 0 || backlog > UNIX_MAX_BACKLOG ? UNIX_MAX_BACKLOG : backlog;
	s->state = UNIX_LISTENING;
	changed(s);
	return 0;
}

/* ---- waiting ---- */

static uint32_t sock_poll(struct unix_sock *s);

struct wait {
	struct unix_sock *s;
	uint32_t events;
};

static bool ready(void *arg)
{
	struct wait *w = arg;
	return sock_poll(w->s) & (w->events | POLLERR | POLLHUP);
}

/* Waits for events on s: 0, -EAGAIN after timeout_ns (0: none), or for a signal -ERESTARTSYS (-EINTR with
 * a timeout), as sockets do. */
static long wait_for(struct unix_sock *s, uint32_t events, uint64_t timeout_ns)
{
	struct wait w = {s, events};
	uint64_t deadline = timeout_ns ? clock_monotonic_ns() + timeout_ns : 0;
	return socket_wait_result(deferred_wait(ready, &w, deadline, 0, true), timeout_ns);
}

/* ---- connections ---- */

static void pair(struct unix_sock *a, struct unix_sock *b)
{
	a->peer = sock_get(b);
	b->peer = sock_get(a);
	a->state = b->state = UNIX_CONNECTED;
}

static long stream_connect(struct unix_sock *s, struct unix_sock *listener, bool nonblocking)
{
	if (s->state == UNIX_CONNECTED)
		return -EISCONN;
	if (s->state == UNIX_LISTENING)
		return -EINVAL;
	sock_get(listener);
	long r = 0;
	while (!listener->closed && listener->state == UNIX_LISTENING && listener->pending_count > listener->backlog) {
		r = nonblocking ? -EAGAIN : wait_for(listener, POLLOUT, s->sndtimeo_ns);
		if (r < 0)
			break;
	}
	if (r == 0 && (listener->closed || listener->state != UNIX_LISTENING))
		r = -ECONNREFUSED;
	struct unix_sock *server = r == 0 ? sock_new(SOCK_STREAM) : NULL;
	if (r == 0 && !server)
		r = -ENOMEM;
	if (r == 0) {
		server->name = listener->name;
		pair(s, server);
		if (listener->pending_tail)
			listener->pending_tail->next_pending = server;
		else
			listener->pending = server;
		listener->pending_tail = server;
		listener->pending_count++;
		changed(listener);
	}
	sock_put(listener);
	return r;
}

long unix_connect(struct unix_sock *s, uint64_t addr, uint64_t len, bool nonblocking)
{
	struct unix_name n;
	long r = read_name(addr, len, &n);
	if (r < 0)
		return r;
	if (s->type == SOCK_DGRAM && n.len == 0 && len == SUN_PATH_OFFSET) { /* AF_UNSPEC-like: dissolve */
		if (s->peer)
			sock_put(s->peer);
		s->peer = NULL;
		s->state = UNIX_IDLE;
		return 0;
	}
	struct unix_sock *target;
	r = find_bound(&n, &target);
	if (r < 0)
		return r;
	if (target->type != s->type)
		return -EPROTOTYPE;
	if (s->type == SOCK_STREAM)
		return stream_connect(s, target, nonblocking);
	if (s->peer)
		sock_put(s->peer);
	s->peer = sock_get(target);
	s->state = UNIX_CONNECTED;
	return 0;
}

static long install(struct unix_sock *s, uint64_t flags)
{
	int fd = fd_install_new(&unix_ops, O_RDWR | (flags & SOCK_NONBLOCK ? O_NONBLOCK : 0), s, flags & SOCK_CLOEXEC);
	if (fd == -ENOMEM) {
		sock_close(s);
		sock_put(s);
	}
	return fd;
}

long unix_accept(struct unix_sock *s, bool nonblocking, uint64_t addr, uint64_t addrlen, uint64_t flags)
{
	if (s->type != SOCK_STREAM)
		return -EOPNOTSUPP;
	if (s->state != UNIX_LISTENING)
		return -EINVAL;
	while (!s->pending) {
		long r = nonblocking ? -EAGAIN : wait_for(s, POLLIN, s->rcvtimeo_ns);
		if (r < 0)
			return r;
		if (s->state != UNIX_LISTENING)
			return -EINVAL;
	}
	struct unix_sock *c = s->pending;
	s->pending = c->next_pending;
	if (!s->pending)
		s->pending_tail = NULL;
	c->next_pending = NULL;
	s->pending_count--;
	changed(s); /* room in the backlog for a blocked connect */
	struct unix_name unnamed = {0, {0}};
	long r = write_name(c->peer ? &c->peer->name : &unnamed, addr, addrlen);
	if (r < 0) {
		sock_close(c);
		sock_put(c);
		return r;
	}
	return install(c, flags);
}

long unix_socket(int type, uint64_t flags)
{
	if (type == SOCK_RAW)
		type = SOCK_DGRAM; /* as Linux: BSD had it, nothing uses it */
	if (type != SOCK_STREAM && type != SOCK_DGRAM)
		return -ESOCKTNOSUPPORT;
	struct unix_sock *s = sock_new(type);
	return s ? install(s, flags) : -ENOMEM;
}

long unix_socketpair(int type, uint64_t flags, uint64_t user_fds)
{
	if (type != SOCK_STREAM && type != SOCK_DGRAM)
		return -ESOCKTNOSUPPORT;
	struct unix_sock *a = sock_new(type), *b = sock_new(type);
	if (!a || !b) {
		sock_put(a);
		sock_put(b);
		return -ENOMEM;
	}
	pair(a, b);
	int fds[2];
	fds[0] = (int)install(a, flags);
	if (fds[0] < 0) {
		sock_close(b);
		sock_put(b);
		return fds[0];
	}
	fds[1] = (int)install(b, flags);
	if (fds[1] < 0) {
		fd_close(fds[0]);
		return fds[1];
	}
	if (copy_to_user(user_fds, fds, sizeof(fds)) < 0) {
		fd_close(fds[0]);
		fd_close(fds[1]);
		return -EFAULT;
	}
	return 0;
}

/* ---- data ---- */

static bool stream_send_closed(struct unix_sock *s)
{
	return (s->shutdown & SEND_SHUTDOWN) || s->peer_gone || !s->peer || (s->peer->shutdown & RCV_SHUTDOWN);
}

/* The pending error, cleared (sock_error in Linux). */
static long take_error(struct unix_sock *s)
{
	int e = s->error;
	s->error = 0;
	return -e;
}

static long stream_send(struct unix_sock *s, struct iov_iter *it, bool nonblocking)
{
	if (s->state != UNIX_CONNECTED)
		return -ENOTCONN;
	long sent = 0;
	while (it->remaining > 0) {
		if (s->shutdown & SEND_SHUTDOWN)
			return sent ? sent : -EPIPE;
		if (stream_send_closed(s))
			return sent ? sent : -EPIPE;
		struct ring *rx = &s->peer->rx;
		if (ring_space(rx) == 0) {
			long r = nonblocking ? -EAGAIN : wait_for(s, POLLOUT, s->sndtimeo_ns);
			if (r < 0)
				return sent ? sent : r;
			continue;
		}
		long n = ring_write_user(rx, it, (uint32_t)MIN(it->remaining, (size_t)ring_space(rx)));
		if (n < 0)
			return sent ? sent : n;
		sent += n;
		changed(s->peer);
	}
	return sent;
}

static long dgram_send(struct unix_sock *s, struct iov_iter *it, uint64_t addr, uint64_t addrlen, bool nonblocking)
{
	struct unix_sock *to = s->peer;
	if (addr) {
		struct unix_name n;
		long r = read_name(addr, addrlen, &n);
		if (r < 0)
			return r;
		r = find_bound(&n, &to);
		if (r < 0)
			return r;
		if (to->type != SOCK_DGRAM)
			return -EPROTOTYPE;
	}
	if (!to)
		return -ENOTCONN;
	if (s->shutdown & SEND_SHUTDOWN)
		return -EPIPE;
	if (to == s->peer && to->closed) { /* the socket it was connected to is gone: disconnected */
		s->peer = NULL;
		s->state = UNIX_IDLE;
		sock_put(to);
		return -ECONNREFUSED;
	}
	size_t len = it->remaining;
	if (len > UNIX_BUFFER - sizeof(struct unix_msg))
		return -EMSGSIZE;
	sock_get(to);
	long r = 0;
	for (;;) {
		if (to->closed || (to->shutdown & RCV_SHUTDOWN)) {
			r = -ECONNREFUSED;
			break;
		}
		if (to->peer && to->peer != s) { /* it only takes datagrams from the socket it is connected to */
			r = -EPERM;
			break;
		}
		if (!to->msgs || to->msg_bytes + len <= UNIX_BUFFER)
			break;
		r = nonblocking ? -EAGAIN : wait_for(s, POLLOUT, s->sndtimeo_ns);
		if (r < 0)
			break;
	}
	struct unix_msg *m = r == 0 ? kmalloc(sizeof(*m) + len) : NULL;
	if (r == 0 && !m)
		r = -ENOMEM;
	if (r == 0 && len && iov_copy_from_user(it, m->data, len) != (long)len)
		r = -EFAULT;
	if (r < 0) {
		kfree(m);
		sock_put(to);
		return r;
	}
	m->next = NULL;
	m->from = s->name;
	m->len = (uint32_t)len;
	if (to->msgs_tail)
		to->msgs_tail->next = m;
	else
		to->msgs = m;
	to->msgs_tail = m;
	to->msg_bytes += (uint32_t)len;
	changed(to);
	sock_put(to);
	return (long)len;
}

long unix_send(struct unix_sock *s, struct iov_iter *it, int flags, uint64_t addr, uint64_t addrlen,
	       bool has_control, bool nonblocking)
{
	if (has_control)
		return -EOPNOTSUPP;
	nonblocking = nonblocking || (flags & MSG_DONTWAIT);
	if (s->type == SOCK_DGRAM)
		return dgram_send(s, it, addr, addrlen, nonblocking);
	if (addr)
		return s->state == UNIX_CONNECTED ? -EISCONN : -EOPNOTSUPP;
	return stream_send(s, it, nonblocking);
}

static bool stream_at_end(struct unix_sock *s)
{
	return (s->shutdown & RCV_SHUTDOWN) || s->peer_gone || (s->peer && (s->peer->shutdown & SEND_SHUTDOWN));
}

static long stream_recv(struct unix_sock *s, struct iov_iter *it, int flags, bool nonblocking)
{
	if (s->state == UNIX_LISTENING)
		return -EINVAL;
	if (s->state != UNIX_CONNECTED)
		return (s->shutdown & RCV_SHUTDOWN) ? 0 : -EINVAL;
	long got = 0;
	while (it->remaining > 0) {
		if (s->rx.len > 0) {
			long n = ring_read_user(&s->rx, it, (uint32_t)MIN(it->remaining, (size_t)s->rx.len), flags & MSG_PEEK);
			if (n < 0)
				return got ? got : n;
			got += n;
			if (!(flags & MSG_PEEK))
				changed(s); /* room for the writer */
			if (!(flags & MSG_WAITALL) || (flags & MSG_PEEK))
				break;
			continue;
		}
		if (got && !(flags & MSG_WAITALL))
			break;
		if (s->error)
			return got ? got : take_error(s);
		if (stream_at_end(s))
			break;
		long r = nonblocking ? -EAGAIN : wait_for(s, POLLIN, s->rcvtimeo_ns);
		if (r < 0)
			return got ? got : r;
	}
	return got;
}

static long dgram_recv(struct unix_sock *s, struct iov_iter *it, int flags, uint64_t addr, uint64_t addrlen_ptr,
		       int *msg_flags, bool nonblocking)
{
	while (!s->msgs) {
		if (s->shutdown & RCV_SHUTDOWN)
			return 0;
		long r = nonblocking ? -EAGAIN : wait_for(s, POLLIN, s->rcvtimeo_ns);
		if (r < 0)
			return r;
	}
	struct unix_msg *m = s->msgs;
	size_t want = MIN((size_t)m->len, it->remaining);
	long n = want ? iov_copy_to_user(it, m->data, want) : 0;
	if (n < 0)
		return n;
	long r = write_name(&m->from, addr, addrlen_ptr);
	uint32_t none = 0; /* an unnamed sender: no address at all (getpeername would say family only) */
	if (r == 0 && addrlen_ptr && !m->from.len && copy_to_user(addrlen_ptr, &none, sizeof(none)) < 0)
		r = -EFAULT;
	if (r < 0)
		return r;
	if (msg_flags && m->len > want)
		*msg_flags |= MSG_TRUNC;
	long result = (flags & MSG_TRUNC) ? (long)m->len : n;
	if (!(flags & MSG_PEEK)) {
		s->msgs = m->next;
		if (!s->msgs)
			s->msgs_tail = NULL;
		s->msg_bytes -= m->len;
		kfree(m);
		changed(s); /* room for senders */
	}
	return result;
}

long unix_recv(struct unix_sock *s, struct iov_iter *it, int flags, uint64_t addr, uint64_t addrlen_ptr,
	       int *msg_flags, bool nonblocking)
{
	nonblocking = nonblocking || (flags & MSG_DONTWAIT);
	if (s->type == SOCK_DGRAM)
		return dgram_recv(s, it, flags, addr, addrlen_ptr, msg_flags, nonblocking);
	if (addrlen_ptr) { /* stream sockets report no address */
		uint32_t zero = 0;
		if (copy_to_user(addrlen_ptr, &zero, sizeof(zero)) < 0)
			return -EFAULT;
	}
	return stream_recv(s, it, flags, nonblocking);
}

long unix_shutdown(struct unix_sock *s, int how)
{
	if (how < SHUT_RD || how > SHUT_RDWR)
		return -EINVAL;
	if (s->type == SOCK_STREAM && s->state != UNIX_CONNECTED)
		return -ENOTCONN;
	s->shutdown |= (how == SHUT_RD ? RCV_SHUTDOWN : how == SHUT_WR ? SEND_SHUTDOWN : RCV_SHUTDOWN | SEND_SHUTDOWN);
	changed(s);
	if (s->peer)
		changed(s->peer);
	return 0;
}

long unix_name(struct unix_sock *s, bool peer, uint64_t addr, uint64_t addrlen)
{
	if (peer && (!s->peer || s->peer_gone))
		return -ENOTCONN;
	return write_name(peer ? &s->peer->name : &s->name, addr, addrlen);
}

/* ---- options ---- */

static uint64_t timeval_ns(const void *value, uint32_t len)
{
	if (len < 16)
		return 0;
	const int64_t *tv = value; /* struct timeval */
	return tv[0] < 0 ? 0 : (uint64_t)tv[0] * 1000000000UL + (uint64_t)tv[1] * 1000UL;
}

long unix_setsockopt(struct unix_sock *s, int level, int name, const void *value, uint32_t len)
{
	if (level != SOL_SOCKET)
		return -EOPNOTSUPP;
	int v = len >= 4 ? *(const int *)value : 0;
	switch (name) {
	case SO_PASSCRED:
		s->passcred = v != 0;
		return 0;
	case SO_SNDBUF:
	case SO_RCVBUF:
		return 0; /* the buffers keep Linux's default size */
	case SO_RCVTIMEO:
		s->rcvtimeo_ns = timeval_ns(value, len);
		return len < 16 ? -EINVAL : 0;
	case SO_SNDTIMEO:
		s->sndtimeo_ns = timeval_ns(value, len);
		return len < 16 ? -EINVAL : 0;
	default:
		return -ENOPROTOOPT;
	}
}

long unix_getsockopt(struct unix_sock *s, int level, int name, void *value, uint32_t *len)
{
	if (level != SOL_SOCKET)
		return -EOPNOTSUPP;
	int v;
	switch (name) {
	case SO_TYPE:
		v = s->type;
		break;
	case SO_ERROR:
		v = (int)-take_error(s);
		break;
	case SO_SNDBUF:
	case SO_RCVBUF:
		v = UNIX_BUFFER;
		break;
	case SO_PASSCRED:
		v = s->passcred;
		break;
	case SO_ACCEPTCONN:
		v = s->state == UNIX_LISTENING;
		break;
	case SO_PROTOCOL:
		v = 0;
		break;
	case SO_DOMAIN:
		v = AF_UNIX;
		break;
	case SO_PEERCRED: { /* struct ucred of the one process: both ends are this program */
		if (!s->peer)
			return -ENOTCONN;
		uint32_t cred[3] = {APP_PID, 0, 0}; /* pid, uid, gid (getuid and getgid say 0) */
		*len = MIN(*len, (uint32_t)sizeof(cred));
		memcpy(value, cred, *len);
		return 0;
	}
	default:
		return -ENOPROTOOPT;
	}
	*len = MIN(*len, (uint32_t)sizeof(v));
	memcpy(value, &v, *len);
	return 0;
}

/* ---- as a file ---- */

static uint32_t sock_poll(struct unix_sock *s)
{
	uint32_t mask = 0;
	if (s->type == SOCK_DGRAM) {
		if (s->msgs || (s->shutdown & RCV_SHUTDOWN))
			mask |= POLLIN | POLLRDNORM;
		struct unix_sock *to = s->peer;
		if (!to || to->closed || !to->msgs || to->msg_bytes < UNIX_BUFFER)
			mask |= POLLOUT | POLLWRNORM;
		if (s->shutdown == (RCV_SHUTDOWN | SEND_SHUTDOWN))
			mask |= POLLHUP;
		return mask;
	}
	switch (s->state) {
	case UNIX_LISTENING:
		return s->pending ? POLLIN | POLLRDNORM : 0;
	case UNIX_IDLE:
		return POLLOUT | POLLWRNORM | POLLHUP; /* an unconnected stream socket, as Linux reports it */
	case UNIX_CONNECTED:
		break;
	}
	if (s->error)
		mask |= POLLERR;
	if (s->rx.len || stream_at_end(s))
		mask |= POLLIN | POLLRDNORM;
	if (stream_at_end(s))
		mask |= POLLRDHUP;
	if (s->peer_gone || s->shutdown == (RCV_SHUTDOWN | SEND_SHUTDOWN))
		mask |= POLLHUP;
	if (stream_send_closed(s) || ring_space(&s->peer->rx) > 0)
		mask |= POLLOUT | POLLWRNORM; /* a closed end is writable: the write reports EPIPE */
	return mask;
}

static long unix_file_read(struct file *f, uint64_t buf, size_t n, uint64_t *pos)
{
	struct user_iovec iov = {buf, n};
	struct iov_iter it;
	iov_iter_init(&it, &iov, 1);
	return unix_recv(f->private_data, &it, 0, 0, 0, NULL, f->flags & O_NONBLOCK);
}

static long unix_file_write(struct file *f, uint64_t buf, size_t n, uint64_t *pos)
{
	struct user_iovec iov = {buf, n};
	struct iov_iter it;
	iov_iter_init(&it, &iov, 1);
	return unix_send(f->private_data, &it, 0, 0, 0, false, f->flags & O_NONBLOCK);
}

static long unix_file_ioctl(struct file *f, uint64_t cmd, uint64_t arg)
{
	struct unix_sock *s = f->private_data;
	uint32_t readable = s->type == SOCK_STREAM ? s->rx.len : s->msgs ? s->msgs->len : 0;
	return socket_file_common_ioctl(f, cmd, arg, readable, false); /* glibc's if_nametoindex asks AF_UNIX */
}

static uint32_t unix_file_poll(struct file *f) { return sock_poll(f->private_data); }

static uint32_t unix_file_event_seq(struct file *f)
{
	struct unix_sock *s = f->private_data;
	return s->event_seq + (s->peer ? s->peer->event_seq : 0); /* room in the peer's buffer too */
}

static void unix_file_release(struct file *f)
{
	struct unix_sock *s = f->private_data;
	sock_close(s);
	sock_put(s);
}

static const struct file_ops unix_ops = {
    .read = unix_file_read,
    .write = unix_file_write,
    .stat = socket_file_stat,
    .ioctl = unix_file_ioctl,
    .poll = unix_file_poll,
    .event_seq = unix_file_event_seq,
    .release = unix_file_release,
};
