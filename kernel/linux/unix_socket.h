/* AF_UNIX sockets (linux/unix_socket.c): stream and datagram sockets between threads of the program, made
 * with socketpair, or bound to a name (a path, which becomes a socket node in a writable directory,
 * or an abstract name) and reached with connect/sendto. Data never leaves kernel memory: a stream
 * connection is two byte rings, a datagram socket a queue of messages. linux/sys_socket.c sends the
 * socket syscalls on an AF_UNIX descriptor here; the functions take user addresses as the syscalls
 * do. Not supported: SOCK_SEQPACKET, and ancillary data (SCM_RIGHTS, SCM_CREDENTIALS) in sendmsg,
 * which fails with EOPNOTSUPP rather than dropping descriptors silently. */
#pragma once
#include "net/socket.h"
#include "types.h"

#define AF_UNIX 1

struct file;

/* The AF_UNIX socket open on fd, or NULL (also NULL for other kinds of descriptors). */
struct unix_sock *unix_of(int fd, struct file **file);
long unix_socket(int type, uint64_t flags);
long unix_socketpair(int type, uint64_t flags, uint64_t user_fds);
long unix_bind(struct unix_sock *s, uint64_t addr, uint64_t len);
long unix_listen(struct unix_sock *s, int backlog);
long unix_connect(struct unix_sock *s, uint64_t addr, uint64_t len, bool nonblocking);
long unix_accept(struct unix_sock *s, bool nonblocking, uint64_t addr, uint64_t addrlen, uint64_t flags);
/* addr/addrlen: the destination (datagrams); has_control: the message carries ancillary data. */
long unix_send(struct unix_sock *s, struct iov_iter *it, int flags, uint64_t addr, uint64_t addrlen,
	       bool has_control, bool nonblocking);
/* addr/addrlen_ptr: where the sender's address goes (datagrams); *msg_flags gets MSG_TRUNC. */
long unix_recv(struct unix_sock *s, struct iov_iter *it, int flags, uint64_t addr, uint64_t addrlen_ptr,
	       int *msg_flags, bool nonblocking);
long unix_shutdown(struct unix_sock *s, int how);
long unix_name(struct unix_sock *s, bool peer, uint64_t addr, uint64_t addrlen);
long unix_setsockopt(struct unix_sock *s, int level, int name, const void *value, uint32_t len);
long unix_getsockopt(struct unix_sock *s, int level, int name, void *value, uint32_t *len);

/* Shared by the socket files of both families (linux/sys_socket.c): fstat's view of a socket, and the
 * ioctls every socket answers (FIONREAD with the family's readable count, FIONBIO, the interface ones). */
struct linux_stat;
void socket_file_stat(struct file *f, struct linux_stat *st);
long socket_file_common_ioctl(struct file *f, uint64_t cmd, uint64_t arg, uint32_t readable, bool inet);
/* Copies a socket address (full bytes at sa) out as Linux does: truncated to the room *user_len says (none
 * when user is 0), the full length stored back in *user_len. */
long socket_put_address(uint64_t user, uint64_t user_len, const void *sa, uint32_t full);
