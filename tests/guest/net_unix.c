/* AF_UNIX sockets, printed so the same binary gives the same text on Linux and in osv: socketpair
 * (stream and datagram), path and abstract names, listen/connect/accept, datagrams between bound
 * sockets, shutdown and close as the peer sees them, poll and epoll readiness, blocking calls woken by
 * another thread, a multi-megabyte transfer with a checksum, and the errors of each. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "net_common.h"

static const char *sock_path = "/tmp/osv-unix-test.sock";

static int poll_one(int fd, int events)
{
	struct pollfd p = {fd, (short)events, 0};
	int n = poll(&p, 1, 0);
	return n < 0 ? -1 : p.revents;
}

static socklen_t path_address(struct sockaddr_un *a, const char *path)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	strcpy(a->sun_path, path);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
}

static socklen_t abstract_address(struct sockaddr_un *a, const char *name)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	memcpy(a->sun_path + 1, name, strlen(name));
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
}

/* Prints a socket's own or peer name: its length and, for a path, the path. */
static void show_name(const char *what, int fd, bool peer)
{
	struct sockaddr_un a;
	socklen_t len = sizeof(a);
	memset(&a, 0x55, sizeof(a));
	int r = peer ? getpeername(fd, (struct sockaddr *)&a, &len) : getsockname(fd, (struct sockaddr *)&a, &len);
	if (r < 0) {
		printf("%s: -1 %s\n", what, errno_name(errno));
		return;
	}
	size_t base = offsetof(struct sockaddr_un, sun_path);
	if (len > base && a.sun_path[0] == 0)
		printf("%s: len %u family %d abstract \"%.*s\"\n", what, len, a.sun_family, (int)(len - base - 1),
		       a.sun_path + 1);
	else if (len > base)
		printf("%s: len %u family %d path \"%s\"\n", what, len, a.sun_family, a.sun_path);
	else
		printf("%s: len %u family %d unnamed\n", what, len, a.sun_family);
}

static void stream_pair(void)
{
	int sv[2];
	must("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	show("write a", write(sv[0], "hello", 5));
	show("write a again", write(sv[0], " world", 6));
	int avail = -1;
	show("FIONREAD b", ioctl(sv[1], FIONREAD, &avail));
	printf("available: %d\n", avail);
	char buf[64] = {0};
	show("recv peek", recv(sv[1], buf, 3, MSG_PEEK));
	printf("peeked: %.3s\n", buf);
	show("read b", read(sv[1], buf, sizeof(buf)));
	printf("got: %.11s\n", buf);
	printf("poll b empty: %s\n", poll_bits(poll_one(sv[1], POLLIN | POLLOUT | POLLRDHUP)));
	show("read b nonblocking", recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT));
	show("write b", write(sv[1], "back", 4));
	show("read a", read(sv[0], buf, sizeof(buf)));
	printf("got: %.4s\n", buf);
	show("shutdown a write", shutdown(sv[0], SHUT_WR));
	printf("poll b after shutdown: %s\n", poll_bits(poll_one(sv[1], POLLIN | POLLOUT | POLLRDHUP)));
	show("read b at EOF", read(sv[1], buf, sizeof(buf)));
	show("write a after shutdown", send(sv[0], "x", 1, MSG_NOSIGNAL));
	show("b still writes to a", write(sv[1], "late", 4));
	show("a reads it", read(sv[0], buf, sizeof(buf)));
	show("write b", write(sv[1], "unread", 6));
	close(sv[0]);
	printf("poll b after close: %s\n", poll_bits(poll_one(sv[1], POLLIN | POLLOUT | POLLRDHUP)));
	show("write b to closed", send(sv[1], "x", 1, MSG_NOSIGNAL));
	signal(SIGPIPE, SIG_IGN);
	show("write b to closed, SIGPIPE ignored", write(sv[1], "x", 1));
	signal(SIGPIPE, SIG_DFL);
	show("read b after close", read(sv[1], buf, sizeof(buf)));
	close(sv[1]);

	/* Filling the buffer: a non-blocking writer gets EAGAIN, and poll stops saying OUT. */
	must("socketpair", socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv));
	static char chunk[4096];
	long total = 0, r;
	while ((r = write(sv[0], chunk, sizeof(chunk))) > 0)
		total += r;
	printf("filled: %s, then %s\n", total > 65536 ? "more than 64 KiB" : "less", errno_name(errno));
	printf("poll a full: %s\n", poll_bits(poll_one(sv[0], POLLOUT)));
	long drained = 0;
	while ((r = read(sv[1], chunk, sizeof(chunk))) > 0)
		drained += r;
	printf("drained all: %s\n", drained == total ? "yes" : "no");
	printf("poll a drained: %s\n", poll_bits(poll_one(sv[0], POLLOUT)));
	close(sv[0]);
	close(sv[1]);
}

static void dgram_pair(void)
{
	int sv[2];
	must("socketpair dgram", socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv));
	printf("cloexec: %d\n", (fcntl(sv[0], F_GETFD) & FD_CLOEXEC) != 0);
	show("send one", send(sv[0], "one", 3, 0));
	show("send two", send(sv[0], "twotwo", 6, 0));
	show("send empty", send(sv[0], "", 0, 0));
	char buf[16] = {0};
	show("recv one", recv(sv[1], buf, sizeof(buf), 0));
	printf("got: %.3s\n", buf);
	struct iovec iov = {buf, 3};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	show("recvmsg truncated", recvmsg(sv[1], &m, 0));
	printf("flags: %s\n", (m.msg_flags & MSG_TRUNC) ? "MSG_TRUNC" : "0");
	show("recv empty datagram", recv(sv[1], buf, sizeof(buf), 0));
	show("recv nothing left", recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT));
	show("send back", send(sv[1], "abcdef", 6, 0));
	show("recv MSG_TRUNC", recv(sv[0], buf, 2, MSG_TRUNC));
	close(sv[1]);
	show("send to closed", send(sv[0], "x", 1, MSG_NOSIGNAL));
	close(sv[0]);
}

static void *accept_one(void *arg)
{
	int listener = *(int *)arg;
	int c = (int)accept(listener, NULL, NULL);
	if (c >= 0) {
		char buf[32];
		long n = read(c, buf, sizeof(buf));
		if (n > 0)
			write(c, buf, (size_t)n);
		close(c);
	}
	return (void *)(long)(c >= 0);
}

static void stream_names(void)
{
	unlink(sock_path);
	int listener = (int)must("socket", socket(AF_UNIX, SOCK_STREAM, 0));
	struct sockaddr_un a;
	socklen_t len = path_address(&a, sock_path);
	show("bind path", bind(listener, (struct sockaddr *)&a, len));
	struct stat st;
	must("stat", stat(sock_path, &st));
	printf("a socket node: %d\n", S_ISSOCK(st.st_mode));
	show("open the node", open(sock_path, O_RDONLY));
	show_name("listener name", listener, false);
	int c = (int)must("socket", socket(AF_UNIX, SOCK_STREAM, 0));
	show("connect before listen", connect(c, (struct sockaddr *)&a, len));
	show("listen", listen(listener, 4));
	int opt = -1;
	socklen_t optlen = sizeof(opt);
	must("SO_ACCEPTCONN", getsockopt(listener, SOL_SOCKET, SO_ACCEPTCONN, &opt, &optlen));
	printf("accepting: %d\n", opt);
	printf("poll listener idle: %s\n", poll_bits(poll_one(listener, POLLIN)));
	show("connect", connect(c, (struct sockaddr *)&a, len));
	printf("poll listener: %s\n", poll_bits(poll_one(listener, POLLIN)));
	struct sockaddr_un peer;
	socklen_t peer_len = sizeof(peer);
	int s = (int)show("accept", accept(listener, (struct sockaddr *)&peer, &peer_len) >= 0);
	(void)s;
	printf("accepted peer address length: %u\n", peer_len);
	show_name("client peer", c, true);
	show_name("client name", c, false);
	struct ucred cred;
	socklen_t cred_len = sizeof(cred);
	must("SO_PEERCRED", getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len));
	printf("peer pid is ours: %d\n", cred.pid == getpid());
	must("SO_TYPE", getsockopt(c, SOL_SOCKET, SO_TYPE, &opt, &optlen));
	printf("type: %d\n", opt);
	must("SO_DOMAIN", getsockopt(c, SOL_SOCKET, SO_DOMAIN, &opt, &optlen));
	printf("domain: %d\n", opt);
	close(c);

	int second = (int)must("socket", socket(AF_UNIX, SOCK_STREAM, 0));
	show("bind the same path", bind(second, (struct sockaddr *)&a, len));
	close(second);

	/* A thread blocks in accept until a connection comes. */
	pthread_t t;
	pthread_create(&t, NULL, accept_one, &listener);
	c = (int)must("socket", socket(AF_UNIX, SOCK_STREAM, 0));
	show("connect to a blocked accept", connect(c, (struct sockaddr *)&a, len));
	show("write", write(c, "echo me", 7));
	char buf[32] = {0};
	show("read echo", read(c, buf, sizeof(buf)));
	printf("echo: %.7s\n", buf);
	void *accepted;
	pthread_join(t, &accepted);
	printf("thread accepted: %ld\n", (long)accepted);
	show("read after the server closed", read(c, buf, sizeof(buf)));
	close(c);
	close(listener);

	c = (int)must("socket", socket(AF_UNIX, SOCK_STREAM, 0));
	show("connect to a closed listener", connect(c, (struct sockaddr *)&a, len));
	show("unlink", unlink(sock_path));
	show("connect to no path", connect(c, (struct sockaddr *)&a, len));
	close(c);

	/* Abstract names, and autobind. */
	listener = (int)must("socket", socket(AF_UNIX, SOCK_STREAM, 0));
	len = abstract_address(&a, "osv-unix-test");
	show("bind abstract", bind(listener, (struct sockaddr *)&a, len));
	show_name("abstract name", listener, false);
	show("listen", listen(listener, 1));
	c = (int)must("socket", socket(AF_UNIX, SOCK_STREAM, 0));
	show("connect abstract", connect(c, (struct sockaddr *)&a, len));
	show_name("abstract peer", c, true);
	show("accept abstract", accept(listener, NULL, NULL) >= 0);
	close(c);
	close(listener);
	int autob = (int)must("socket", socket(AF_UNIX, SOCK_DGRAM, 0));
	struct sockaddr_un family_only = {.sun_family = AF_UNIX};
	show("autobind", bind(autob, (struct sockaddr *)&family_only, sizeof(sa_family_t)));
	socklen_t auto_len = sizeof(a);
	must("getsockname", getsockname(autob, (struct sockaddr *)&a, &auto_len));
	printf("autobound: length %u, abstract %d\n", auto_len, a.sun_path[0] == 0);
	close(autob);

	int bad = (int)must("socket", socket(AF_UNIX, SOCK_STREAM, 0));
	len = path_address(&a, "/no-such-dir/x.sock");
	show("bind in a missing directory", bind(bad, (struct sockaddr *)&a, len));
	show("send on an unconnected stream", send(bad, "x", 1, MSG_NOSIGNAL));
	show("an unknown socket type", socket(AF_UNIX, 9, 0));
	close(bad);
}

static void dgram_names(void)
{
	const char *server_path = "/tmp/osv-unix-server.sock", *client_path = "/tmp/osv-unix-client.sock";
	unlink(server_path);
	unlink(client_path);
	int server = (int)must("socket", socket(AF_UNIX, SOCK_DGRAM, 0));
	int client = (int)must("socket", socket(AF_UNIX, SOCK_DGRAM, 0));
	struct sockaddr_un sa, ca, from;
	socklen_t slen = path_address(&sa, server_path), clen = path_address(&ca, client_path);
	must("bind server", bind(server, (struct sockaddr *)&sa, slen));
	show("send unnamed, unconnected", send(client, "x", 1, 0));
	show("sendto server, unnamed", sendto(client, "anon", 4, 0, (struct sockaddr *)&sa, slen));
	char buf[32] = {0};
	socklen_t flen = sizeof(from);
	show("recvfrom", recvfrom(server, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen));
	printf("from length: %u\n", flen);
	must("bind client", bind(client, (struct sockaddr *)&ca, clen));
	show("sendto server, named", sendto(client, "named", 5, 0, (struct sockaddr *)&sa, slen));
	flen = sizeof(from);
	show("recvfrom", recvfrom(server, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen));
	printf("from: %s (length %u)\n", from.sun_path, flen);
	show("reply", sendto(server, "reply", 5, 0, (struct sockaddr *)&from, flen));
	show("client reads", recv(client, buf, sizeof(buf), 0));
	printf("got: %.5s\n", buf);
	show("connect client", connect(client, (struct sockaddr *)&sa, slen));
	show("send connected", send(client, "conn", 4, 0));
	show("server reads", recv(server, buf, sizeof(buf), 0));
	show_name("connected dgram peer", client, true);
	close(server);
	show("send to a closed server", send(client, "x", 1, 0));
	close(client);
	unlink(server_path);
	unlink(client_path);
}

struct transfer {
	int fd;
	long bytes;
	uint32_t sum;
};

static uint32_t mix(uint32_t sum, const unsigned char *p, long n)
{
	for (long i = 0; i < n; i++)
		sum = sum * 31 + p[i];
	return sum;
}

static void *send_stream(void *arg)
{
	struct transfer *t = arg;
	static unsigned char block[65536];
	uint32_t x = 12345;
	for (long sent = 0; sent < t->bytes;) {
		long n = t->bytes - sent < (long)sizeof(block) ? t->bytes - sent : (long)sizeof(block);
		for (long i = 0; i < n; i++) {
			x = x * 1103515245 + 12345;
			block[i] = (unsigned char)(x >> 16);
		}
		t->sum = mix(t->sum, block, n);
		for (long w = 0; w < n;) {
			long r = write(t->fd, block + w, (size_t)(n - w));
			if (r <= 0)
				return NULL;
			w += r;
		}
		sent += n;
	}
	close(t->fd);
	return NULL;
}

static void transfer(long bytes)
{
	int sv[2];
	must("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	struct transfer t = {sv[0], bytes, 0};
	pthread_t th;
	pthread_create(&th, NULL, send_stream, &t);
	static unsigned char buf[40000];
	long got = 0, n;
	uint32_t sum = 0;
	while ((n = read(sv[1], buf, sizeof(buf))) > 0) {
		sum = mix(sum, buf, n);
		got += n;
	}
	pthread_join(th, NULL);
	printf("transfer: %ld bytes, checksums %s\n", got, sum == t.sum ? "match" : "differ");
	close(sv[1]);
}

static void epoll_edges(void)
{
	int sv[2];
	must("socketpair", socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv));
	int ep = (int)must("epoll_create1", epoll_create1(0));
	struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.fd = sv[1]};
	must("epoll_ctl", epoll_ctl(ep, EPOLL_CTL_ADD, sv[1], &ev));
	struct epoll_event out[4];
	show("epoll idle", epoll_wait(ep, out, 4, 0));
	write(sv[0], "a", 1);
	show("epoll after a write", epoll_wait(ep, out, 4, 0));
	show("epoll again (edge)", epoll_wait(ep, out, 4, 0));
	write(sv[0], "b", 1);
	show("epoll after a second write", epoll_wait(ep, out, 4, 0));
	close(sv[0]);
	int n = (int)show("epoll after the peer closed", epoll_wait(ep, out, 4, 0));
	if (n > 0)
		printf("events: %s\n", poll_bits((int)out[0].events));
	close(ep);
	close(sv[1]);
}

int main(int argc, char **argv)
{
	long bytes = argc > 1 ? atol(argv[1]) : 8 << 20;
	stream_pair();
	dgram_pair();
	stream_names();
	dgram_names();
	epoll_edges();
	transfer(bytes);
	printf("done\n");
	return 0;
}
