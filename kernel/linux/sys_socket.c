/* Socket syscalls: socket, bind, listen, accept/accept4, connect, send/recv in all their forms,
 * shutdown, get{sock,peer}name, {set,get}sockopt, and sockets as files (read/write, poll, fstat,
 * ioctl FIONREAD/FIONBIO/TIOCOUTQ and the interface ioctls of linux/ifreq.c, close). This layer only moves arguments between user memory and
 * the kernel: the work is done by net/socket.c for AF_INET and linux/unix_socket.c for AF_UNIX. */
#include "errno.h"
#include "fs/file.h"
#include "fs/ramfs.h"
#include "lib.h"
#include "linux/linux.h"
#include "mm/mm.h"
#include "net/netif.h"
#include "net/socket.h"
#include "linux/unix_socket.h"
#include "param.h"
#include "sched/deferred.h"
#include "sched/sched.h"

#define AF_UNSPEC 0
#define AF_INET6 10
#define SOCKADDR_IN_LEN 16
#define UIO_MAXIOV 1024
#define FIONREAD 0x541b
#define FIONBIO 0x5421
#define TIOCOUTQ 0x5411

struct sockaddr_in {
	uint16_t family, port; /* port and address in network byte order */
	uint32_t addr;
	uint8_t zero[8];
};

struct msghdr {
	uint64_t name;
	uint32_t namelen, pad0;
	uint64_t iov, iovlen, control, controllen;
	int32_t flags, pad1;
};

static const struct file_ops socket_ops;

static struct socket *socket_of(int fd, struct file **file)
{
	struct file *f = fd_get(fd);
	if (file)
		*file = f;
	return f && f->ops == &socket_ops ? f->private_data : NULL;
}

/* -EBADF or -ENOTSOCK for a descriptor that is not a socket. */
static long not_a_socket(int fd) { return fd_get(fd) ? -ENOTSOCK : -EBADF; }

static bool nonblocking(struct file *f) { return f->flags & O_NONBLOCK; }

static long read_address(uint64_t user, uint64_t len, struct inet_address *out, uint16_t *family)
{
	struct sockaddr_in sa;
	if (len < 2 || len > 128)
		return -EINVAL;
	memset(&sa, 0, sizeof(sa));
	if (copy_from_user(&sa, user, MIN(len, sizeof(sa))) < 0)
		return -EFAULT;
	*family = sa.family;
	if (sa.family == AF_UNSPEC)
		return 0;
	if (sa.family != AF_INET)
		return -EAFNOSUPPORT;
	if (len < SOCKADDR_IN_LEN)
		return -EINVAL;
	out->addr = ntohl(sa.addr);
	out->port = ntohs(sa.port);
	return 0;
}

long socket_put_address(uint64_t user, uint64_t user_len, const void *sa, uint32_t full)
{
	uint32_t room;
	if (copy_from_user(&room, user_len, sizeof(room)) < 0)
		return -EFAULT;
	if ((int32_t)room < 0)
		return -EINVAL;
	if (user && copy_to_user(user, sa, MIN(room, full)) < 0)
		return -EFAULT;
	return copy_to_user(user_len, &full, sizeof(full));
}

static long write_address(const struct inet_address *a, uint64_t user, uint64_t user_len)
{
	if (!user)
		return 0;
	struct sockaddr_in sa = {AF_INET, htons(a->port), htonl(a->addr), {0}};
	return socket_put_address(user, user_len, &sa, SOCKADDR_IN_LEN);
}

/* A write to a closed connection raises SIGPIPE in the writing thread (unless MSG_NOSIGNAL), whose
 * default action ends the program (status 141); the write itself fails with EPIPE. */
static long epipe(int flags)
{
	if (!(flags & MSG_NOSIGNAL)) {
		struct ksiginfo info = {SIGPIPE, 0, SI_USER, 0, {1 /* si_pid */, 0, 0, 0}};
		signal_send_thread(current_thread(), &info);
	}
	return -EPIPE;
}

/* ---- sockets as files ---- */

static long socket_file_read(struct file *f, uint64_t buf, size_t n, uint64_t *pos)
{
	struct user_iovec iov = {buf, n};
	struct iov_iter it;
	iov_iter_init(&it, &iov, 1);
	bool truncated;
	return socket_recv(f->private_data, &it, 0, NULL, nonblocking(f), &truncated);
}

static long socket_file_write(struct file *f, uint64_t buf, size_t n, uint64_t *pos)
{
	struct user_iovec iov = {buf, n};
	struct iov_iter it;
	iov_iter_init(&it, &iov, 1);
	long r = socket_send(f->private_data, &it, 0, NULL, nonblocking(f));
	return r == -EPIPE ? epipe(0) : r;
}

void socket_file_stat(struct file *f, struct linux_stat *st)
{
	memset(st, 0, sizeof(*st));
	st->dev = 8;
	st->ino = (uint64_t)f->private_data >> 4;
	st->nlink = 1;
	st->mode = S_IFSOCK | 0777;
	st->blksize = 4096;
}

long socket_file_common_ioctl(struct file *f, uint64_t cmd, uint64_t arg, uint32_t readable, bool inet)
{
	int v = (int)readable;
	switch (cmd) {
	case FIONREAD:
		return copy_to_user(arg, &v, sizeof(v));
	case FIONBIO:
		if (copy_from_user(&v, arg, sizeof(v)) < 0)
			return -EFAULT;
		f->flags = v ? (f->flags | O_NONBLOCK) : (f->flags & ~(uint32_t)O_NONBLOCK);
		return 0;
	default:
		return netif_ioctl(cmd, arg, inet);
	}
}

static long socket_file_ioctl(struct file *f, uint64_t cmd, uint64_t arg)
{
	struct socket *s = f->private_data;
	if (cmd == TIOCOUTQ) {
		int v = (int)socket_unsent_bytes(s);
		return copy_to_user(arg, &v, sizeof(v));
	}
	return socket_file_common_ioctl(f, cmd, arg, socket_readable_bytes(s), true);
}

static uint32_t socket_file_poll(struct file *f) { return socket_poll(f->private_data); }
static uint32_t socket_file_event_seq(struct file *f) { return ((struct socket *)f->private_data)->event_seq; }
static void socket_file_release(struct file *f)
{
	socket_close(f->private_data);
	deferred_notify();
}

static const struct file_ops socket_ops = {
    .read = socket_file_read,
    .write = socket_file_write,
    .stat = socket_file_stat,
    .ioctl = socket_file_ioctl,
    .poll = socket_file_poll,
    .event_seq = socket_file_event_seq,
    .release = socket_file_release,
};

static long install(struct socket *s, uint64_t flags)
{
	int fd = fd_install_new(&socket_ops, O_RDWR | (flags & SOCK_NONBLOCK ? O_NONBLOCK : 0), s, flags & SOCK_CLOEXEC);
	if (fd == -ENOMEM)
		socket_close(s);
	return fd;
}

void sockets_close_all(void)
{
	for (int fd = 0; fd < MAX_FDS; fd++)
		if (socket_of(fd, NULL))
			fd_close(fd);
}

/* ---- the syscalls ---- */

SYSCALL_DEFINE(socket)
{
	int domain = (int)a0, type = (int)a1 & 0xf;
	if (a1 & ~(uint64_t)(0xf | SOCK_NONBLOCK | SOCK_CLOEXEC))
		return -EINVAL;
	if (domain == AF_UNIX)
		return unix_socket(type, a1);
	if (domain != AF_INET)
		return -EAFNOSUPPORT;
	struct socket *s;
	int err = socket_create(type, (int)a2, &s);
	if (err < 0)
		return err;
	return install(s, a1);
}

SYSCALL_DEFINE(socketpair)
{
	if (a1 & ~(uint64_t)(0xf | SOCK_NONBLOCK | SOCK_CLOEXEC))
		return -EINVAL;
	if ((int)a0 == AF_UNIX)
		return unix_socketpair((int)a1 & 0xf, a1, a3);
	return (int)a0 == AF_INET ? -EOPNOTSUPP : -EAFNOSUPPORT;
}

SYSCALL_DEFINE(bind)
{
	struct unix_sock *u = unix_of((int)a0, NULL);
	if (u)
		return unix_bind(u, a1, a2);
	struct socket *s = socket_of((int)a0, NULL);
	if (!s)
		return not_a_socket((int)a0);
	struct inet_address a;
	uint16_t family;
	long r = read_address(a1, a2, &a, &family);
	if (r < 0)
		return r;
	if (family != AF_INET) /* Linux takes AF_UNSPEC with INADDR_ANY for compatibility */
		return family == AF_UNSPEC ? -EAFNOSUPPORT : -EAFNOSUPPORT;
	return socket_bind(s, &a);
}

SYSCALL_DEFINE(listen)
{
	struct unix_sock *u = unix_of((int)a0, NULL);
	if (u)
		return unix_listen(u, (int)a1);
	struct socket *s = socket_of((int)a0, NULL);
	if (!s)
		return not_a_socket((int)a0);
	return socket_listen(s, (int)a1);
}

static long do_accept(int fd, uint64_t addr, uint64_t addrlen, uint64_t flags)
{
	if (flags & ~(uint64_t)(SOCK_NONBLOCK | SOCK_CLOEXEC))
		return -EINVAL;
	struct file *f;
	struct unix_sock *u = unix_of(fd, &f);
	if (u)
		return unix_accept(u, nonblocking(f), addr, addrlen, flags);
	struct socket *s = socket_of(fd, &f);
	if (!s)
		return not_a_socket(fd);
	struct socket *child;
	int err = socket_accept(s, nonblocking(f), &child);
	if (err < 0)
		return err;
	struct inet_address peer = {child->remote_addr, child->remote_port}; /* even if it was reset meanwhile */
	long r = write_address(&peer, addr, addrlen);
	if (r < 0) {
		socket_close(child);
		return r;
	}
	return install(child, flags);
}

SYSCALL_DEFINE(accept) { return do_accept((int)a0, a1, a2, 0); }
SYSCALL_DEFINE(accept4) { return do_accept((int)a0, a1, a2, a3); }

SYSCALL_DEFINE(connect)
{
	struct file *f;
	struct unix_sock *u = unix_of((int)a0, &f);
	if (u)
		return unix_connect(u, a1, a2, nonblocking(f));
	struct socket *s = socket_of((int)a0, &f);
	if (!s)
		return not_a_socket((int)a0);
	struct inet_address a;
	uint16_t family;
	long r = read_address(a1, a2, &a, &family);
	if (r < 0)
		return r;
	if (family == AF_UNSPEC) {
		if (s->type == SOCK_DGRAM) { /* dissolves the association */
			s->connected = false;
			s->remote_addr = 0;
			s->remote_port = 0;
			return 0;
		}
		return -EAFNOSUPPORT;
	}
	return socket_connect(s, &a, nonblocking(f));
}

/* Copies a user iovec array in; the array (kmalloc'd) or an error pointer as a negative value. */
static long fetch_iovec(uint64_t user, uint64_t count, struct user_iovec **out)
{
	if (count > UIO_MAXIOV)
		return -EMSGSIZE;
	struct user_iovec *iov = kmalloc(MAX(count, 1UL) * sizeof(*iov));
	if (!iov)
		return -ENOMEM;
	if (count && copy_from_user(iov, user, count * sizeof(*iov)) < 0) {
		kfree(iov);
		return -EFAULT;
	}
	for (uint64_t i = 0; i < count; i++) {
		if ((int64_t)iov[i].len < 0) {
			kfree(iov);
			return -EINVAL;
		}
	}
	*out = iov;
	return 0;
}

static long do_send(int fd, struct iov_iter *it, int flags, uint64_t addr, uint64_t addrlen, bool has_control)
{
	struct file *f;
	struct unix_sock *u = unix_of(fd, &f);
	if (u) {
		long r = unix_send(u, it, flags, addr, addrlen, has_control, nonblocking(f));
		return r == -EPIPE ? epipe(flags) : r;
	}
	struct socket *s = socket_of(fd, &f);
	if (!s)
		return not_a_socket(fd);
	struct inet_address to;
	const struct inet_address *target = NULL;
	if (addr) {
		uint16_t family;
		long r = read_address(addr, addrlen, &to, &family);
		if (r < 0)
			return r;
		if (family != AF_INET)
			return s->type == SOCK_STREAM ? -EISCONN : -EAFNOSUPPORT;
		target = &to;
	}
	long r = socket_send(s, it, flags, target, nonblocking(f));
	return r == -EPIPE ? epipe(flags) : r;
}

static long do_recv(int fd, struct iov_iter *it, int flags, uint64_t addr, uint64_t addrlen, int *msg_flags)
{
	struct file *f;
	struct unix_sock *u = unix_of(fd, &f);
	if (u)
		return unix_recv(u, it, flags, addr, addrlen, msg_flags, nonblocking(f));
	struct socket *s = socket_of(fd, &f);
	if (!s)
		return not_a_socket(fd);
	struct inet_address from = {0, 0};
	bool truncated;
	long n = socket_recv(s, it, flags, &from, nonblocking(f), &truncated);
	if (n < 0)
		return n;
	if (msg_flags)
		*msg_flags = truncated ? MSG_TRUNC : 0;
	if (addr && s->type == SOCK_DGRAM) {
		long r = write_address(&from, addr, addrlen);
		if (r < 0)
			return r;
	} else if (addr && addrlen) {
		uint32_t zero = 0; /* stream sockets fill in no address (Linux) */
		if (copy_to_user(addrlen, &zero, sizeof(zero)) < 0)
			return -EFAULT;
	}
	return n;
}

SYSCALL_DEFINE(sendto)
{
	struct user_iovec iov = {a1, a2};
	struct iov_iter it;
	iov_iter_init(&it, &iov, 1);
	return do_send((int)a0, &it, (int)a3, a4, a5, false);
}

SYSCALL_DEFINE(recvfrom)
{
	struct user_iovec iov = {a1, a2};
	struct iov_iter it;
	iov_iter_init(&it, &iov, 1);
	return do_recv((int)a0, &it, (int)a3, a4, a5, NULL);
}

/* sendmsg with the msghdr at user address msg. */
static long send_message(int fd, uint64_t msg, int flags)
{
	struct msghdr m;
	if (copy_from_user(&m, msg, sizeof(m)) < 0)
		return -EFAULT;
	struct user_iovec *iov;
	long r = fetch_iovec(m.iov, m.iovlen, &iov);
	if (r < 0)
		return r;
	struct iov_iter it;
	iov_iter_init(&it, iov, (int)m.iovlen);
	r = do_send(fd, &it, flags, m.name, m.namelen, m.control && m.controllen);
	kfree(iov);
	return r;
}

/* recvmsg with the msghdr at user address msg. */
static long receive_message(int fd, uint64_t msg, int flags)
{
	struct msghdr m;
	if (copy_from_user(&m, msg, sizeof(m)) < 0)
		return -EFAULT;
	struct user_iovec *iov;
	long r = fetch_iovec(m.iov, m.iovlen, &iov);
	if (r < 0)
		return r;
	struct iov_iter it;
	iov_iter_init(&it, iov, (int)m.iovlen);
	int out_flags = 0;
	/* The address length lives inside the msghdr: point write_address at it. */
	r = do_recv(fd, &it, flags, m.name, m.name ? msg + offsetof(struct msghdr, namelen) : 0, &out_flags);
	kfree(iov);
	if (r < 0)
		return r;
	uint64_t no_control = 0;
	if (copy_to_user(msg + offsetof(struct msghdr, controllen), &no_control, sizeof(no_control)) < 0 ||
	    copy_to_user(msg + offsetof(struct msghdr, flags), &out_flags, sizeof(out_flags)) < 0)
		return -EFAULT;
	return r;
}

SYSCALL_DEFINE(sendmsg) { return send_message((int)a0, a1, (int)a2); }
SYSCALL_DEFINE(recvmsg) { return receive_message((int)a0, a1, (int)a2); }

/* struct mmsghdr: a msghdr and the byte count of its message. */
#define MMSGHDR_SIZE 64
#define MMSG_LEN_OFFSET 56
#define MSG_WAITFORONE 0x10000

/* sendmmsg and recvmmsg: one message after the other; an error after the first ends the batch with
 * the count so far (the error is what the next call sees, as Linux does). */
static long each_message(int fd, uint64_t vec, uint64_t vlen, int flags, bool receiving)
{
	if (vlen > UIO_MAXIOV)
		vlen = UIO_MAXIOV;
	uint64_t done = 0;
	for (; done < vlen; done++) {
		uint64_t hdr = vec + done * MMSGHDR_SIZE;
		int f = flags & ~MSG_WAITFORONE;
		if (receiving && done > 0 && (flags & MSG_WAITFORONE))
			f |= MSG_DONTWAIT;
		long r = receiving ? receive_message(fd, hdr, f) : send_message(fd, hdr, f);
		if (r < 0)
			return done ? (long)done : r;
		uint32_t len = (uint32_t)r;
		if (copy_to_user(hdr + MMSG_LEN_OFFSET, &len, sizeof(len)) < 0)
			return done ? (long)done : -EFAULT;
	}
	return (long)done;
}

SYSCALL_DEFINE(sendmmsg) { return each_message((int)a0, a1, a2 & 0xffffffff, (int)a3, false); }
/* The timeout (a4) is not honoured beyond the socket's own: Linux checks it only between messages. */
SYSCALL_DEFINE(recvmmsg) { return each_message((int)a0, a1, a2 & 0xffffffff, (int)a3, true); }

SYSCALL_DEFINE(shutdown)
{
	struct unix_sock *u = unix_of((int)a0, NULL);
	if (u)
		return unix_shutdown(u, (int)a1);
	struct socket *s = socket_of((int)a0, NULL);
	if (!s)
		return not_a_socket((int)a0);
	long r = socket_shutdown(s, (int)a1);
	deferred_notify(); /* a thread blocked on this socket sees the shutdown */
	return r;
}

static long name_of(int fd, bool peer, uint64_t addr, uint64_t addrlen)
{
	struct unix_sock *u = unix_of(fd, NULL);
	if (u)
		return unix_name(u, peer, addr, addrlen);
	struct socket *s = socket_of(fd, NULL);
	if (!s)
		return not_a_socket(fd);
	struct inet_address a;
	int err = socket_name(s, peer, &a);
	if (err < 0)
		return err;
	if (!addr || !addrlen)
		return -EFAULT;
	return write_address(&a, addr, addrlen);
}

SYSCALL_DEFINE(getsockname) { return name_of((int)a0, false, a1, a2); }
SYSCALL_DEFINE(getpeername) { return name_of((int)a0, true, a1, a2); }

SYSCALL_DEFINE(setsockopt)
{
	struct unix_sock *u = unix_of((int)a0, NULL);
	struct socket *s = socket_of((int)a0, NULL);
	if (!s && !u)
		return not_a_socket((int)a0);
	uint8_t value[64];
	if ((int32_t)a4 < 0)
		return -EINVAL;
	uint32_t len = MIN((uint32_t)a4, (uint32_t)sizeof(value));
	if (len && copy_from_user(value, a3, len) < 0)
		return -EFAULT;
	return u ? unix_setsockopt(u, (int)a1, (int)a2, value, len) : socket_setsockopt(s, (int)a1, (int)a2, value, len);
}

SYSCALL_DEFINE(getsockopt)
{
	struct unix_sock *u = unix_of((int)a0, NULL);
	struct socket *s = socket_of((int)a0, NULL);
	if (!s && !u)
		return not_a_socket((int)a0);
	int32_t room;
	if (copy_from_user(&room, a4, sizeof(room)) < 0)
		return -EFAULT;
	if (room < 0)
		return -EINVAL;
	uint8_t value[256]; /* struct tcp_info is the largest */
	uint32_t len = MIN((uint32_t)room, (uint32_t)sizeof(value));
	long err = u ? unix_getsockopt(u, (int)a1, (int)a2, value, &len) : socket_getsockopt(s, (int)a1, (int)a2, value, &len);
	if (err < 0)
		return err;
	if (copy_to_user(a3, value, len) < 0 || copy_to_user(a4, &len, sizeof(len)) < 0)
		return -EFAULT;
	return 0;
}
