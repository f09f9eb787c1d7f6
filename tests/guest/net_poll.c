/* Readiness and errors of TCP sockets over 127.0.0.1, as poll, select and the calls themselves report
 * them: a fresh socket, a listener before and after a connection arrives, a connected pair through
 * data, half-close and full close, a connection refused (non-blocking: EINPROGRESS, then SO_ERROR;
 * blocking: ECONNREFUSED), a reset by a peer that closed with unread data, receive timeouts, MSG_PEEK,
 * MSG_WAITALL, FIONREAD, and socket options. Prints only what is the same on Linux and osv. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "net_common.h"

#define ALL (POLLIN | POLLOUT | POLLRDHUP | POLLPRI)

/* Polls one descriptor for everything, waiting up to ms for anything in want. */
static void show_poll(const char *what, int fd, int want, int ms)
{
	struct pollfd p = {fd, ALL, 0};
	if (want) {
		/* Wait until the expected bits are there (the stack may still be moving). */
		struct timespec start, now;
		clock_gettime(CLOCK_MONOTONIC, &start);
		for (;;) {
			p.revents = 0;
			poll(&p, 1, 0);
			if ((p.revents & want) == want)
				break;
			clock_gettime(CLOCK_MONOTONIC, &now);
			if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 > ms)
				break;
			struct pollfd q = {fd, want, 0};
			poll(&q, 1, 10);
		}
	} else {
		poll(&p, 1, ms);
	}
	printf("%s: %s\n", what, poll_bits(p.revents));
}

static void pair(int *client, int *server, int *listener)
{
	int l = must("socket", socket(AF_INET, SOCK_STREAM, 0));
	struct sockaddr_in a = loopback(0);
	must("bind", bind(l, (struct sockaddr *)&a, sizeof(a)));
	must("listen", listen(l, 4));
	a = loopback(port_of(l));
	int c = must("socket", socket(AF_INET, SOCK_STREAM, 0));
	must("connect", connect(c, (struct sockaddr *)&a, sizeof(a)));
	*server = must("accept", accept(l, NULL, NULL));
	*client = c;
	if (listener)
		*listener = l;
	else
		close(l);
}

static long long ms_since(struct timespec start)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	char buf[256];

	int fresh = must("socket", socket(AF_INET, SOCK_STREAM, 0));
	show_poll("fresh socket", fresh, 0, 0);
	show("read on a fresh socket", read(fresh, buf, 1));
	show("write on a fresh socket", send(fresh, "x", 1, MSG_NOSIGNAL));
	socklen_t len = sizeof(struct sockaddr_in);
	struct sockaddr_in a;
	show("getpeername on a fresh socket", getpeername(fresh, (struct sockaddr *)&a, &len));
	show("shutdown on a fresh socket", shutdown(fresh, SHUT_RDWR));
	show("accept on a fresh socket", accept(fresh, NULL, NULL));
	close(fresh);

	/* A listener: readable only once a connection waits. */
	int l = must("socket", socket(AF_INET, SOCK_STREAM, 0));
	a = loopback(0);
	must("bind", bind(l, (struct sockaddr *)&a, sizeof(a)));
	must("listen", listen(l, 4));
	show_poll("listener, nobody connecting", l, 0, 0);
	fcntl(l, F_SETFL, O_NONBLOCK);
	show("accept with nothing waiting", accept(l, NULL, NULL));
	fcntl(l, F_SETFL, 0);
	a = loopback(port_of(l));
	int c = must("socket", socket(AF_INET, SOCK_STREAM, 0));
	show("connect", connect(c, (struct sockaddr *)&a, sizeof(a)));
	show("connect again", connect(c, (struct sockaddr *)&a, sizeof(a)));
	show_poll("listener with a connection waiting", l, POLLIN, 2000);
	fd_set rd;
	FD_ZERO(&rd);
	FD_SET(l, &rd);
	struct timeval tv = {1, 0};
	show("select on the listener", select(l + 1, &rd, NULL, NULL, &tv));
	printf("listener in the read set: %d\n", FD_ISSET(l, &rd));
	int s = must("accept", accept(l, NULL, NULL));
	show_poll("listener after accept", l, 0, 0);
	show("listen on a connected socket", listen(c, 1));

	/* A connected pair. */
	show_poll("client, idle", c, POLLOUT, 1000);
	show("server sends", send(s, "hello", 5, 0));
	show_poll("client with data waiting", c, POLLIN, 2000);
	int avail = -1;
	ioctl(c, FIONREAD, &avail);
	printf("FIONREAD %d\n", avail);
	show("peek", recv(c, buf, 3, MSG_PEEK));
	show("read", read(c, buf, sizeof(buf)));
	FD_ZERO(&rd);
	FD_SET(c, &rd);
	fd_set wr;
	FD_ZERO(&wr);
	FD_SET(c, &wr);
	tv = (struct timeval){0, 0};
	show("select idle client", select(c + 1, &rd, &wr, NULL, &tv));
	printf("readable %d writable %d\n", FD_ISSET(c, &rd), FD_ISSET(c, &wr));

	/* MSG_WAITALL gathers several sends. */
	send(s, "abc", 3, 0);
	send(s, "def", 3, 0);
	show("recv MSG_WAITALL 6", recv(c, buf, 6, MSG_WAITALL));
	printf("got %.6s\n", buf);

	/* Receive timeout. */
	struct timeval timeout = {0, 150000};
	show("SO_RCVTIMEO", setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)));
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	show("recv with nothing coming", recv(c, buf, 1, 0));
	long long waited = ms_since(start);
	printf("waited about the timeout: %d\n", waited >= 140 && waited < 2000);
	struct timeval bad = {0, 2000000};
	show("SO_RCVTIMEO with usec out of range", setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &bad, sizeof(bad)));

	/* Half-close from the server, then from the client. */
	show("server shutdown(SHUT_WR)", shutdown(s, SHUT_WR));
	show_poll("client after the server's FIN", c, POLLIN | POLLRDHUP, 2000);
	show("client read", read(c, buf, sizeof(buf)));
	show("client still sends", send(c, "late", 4, 0));
	show_poll("server with data after its own shutdown", s, POLLIN, 2000);
	show("server reads", read(s, buf, sizeof(buf)));
	show("client shutdown(SHUT_WR)", shutdown(c, SHUT_WR));
	show_poll("client, both directions shut", c, POLLHUP, 2000);
	show_poll("server after the client's FIN", s, POLLIN | POLLRDHUP | POLLHUP, 2000);
	show("server read", read(s, buf, sizeof(buf)));
	show("server send after shutdown", send(s, "x", 1, MSG_NOSIGNAL));
	close(c);
	close(s);

	/* A peer that closes with unread data resets the connection. */
	int c2, s2;
	pair(&c2, &s2, NULL);
	send(c2, "unread", 6, 0);
	show_poll("server has unread data", s2, POLLIN, 2000);
	close(s2);
	show_poll("client after the reset", c2, POLLERR, 2000);
	show("client read after the reset", read(c2, buf, sizeof(buf)));
	show("client read again", read(c2, buf, sizeof(buf)));
	show("client send after the reset", send(c2, "x", 1, MSG_NOSIGNAL));
	close(c2);

	/* Connection refused: a port nobody listens on. */
	int gone = must("socket", socket(AF_INET, SOCK_STREAM, 0));
	a = loopback(0);
	bind(gone, (struct sockaddr *)&a, sizeof(a));
	struct sockaddr_in closed = loopback(port_of(gone));
	close(gone);
	int nb = must("socket", socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
	show("non-blocking connect to a closed port", connect(nb, (struct sockaddr *)&closed, sizeof(closed)));
	show_poll("after the refusal", nb, POLLERR, 2000);
	int err = -1;
	len = sizeof(err);
	getsockopt(nb, SOL_SOCKET, SO_ERROR, &err, &len);
	printf("SO_ERROR %s\n", errno_name(err));
	getsockopt(nb, SOL_SOCKET, SO_ERROR, &err, &len);
	printf("SO_ERROR again %s\n", errno_name(err));
	close(nb);
	int bl = must("socket", socket(AF_INET, SOCK_STREAM, 0));
	show("blocking connect to a closed port", connect(bl, (struct sockaddr *)&closed, sizeof(closed)));
	close(bl);

	/* Timers run while the app computes: Nagle holds a second small write until the first is
	 * acknowledged, and that ACK is delayed (osv: TCP_DELACK_NS) — so the second byte only arrives
	 * if the stack's timers fire while this loop burns the CPU without a syscall. */
	int c3, s3;
	pair(&c3, &s3, NULL);
	send(c3, "1", 1, 0);
	send(c3, "2", 1, 0);
	unsigned long long t0 = __builtin_ia32_rdtsc();
	while (__builtin_ia32_rdtsc() - t0 < 1500000000ULL) /* roughly half a second */
		__asm__ volatile("" ::: "memory");
	show("both bytes arrived while the app computed", recv(s3, buf, sizeof(buf), MSG_DONTWAIT));
	close(c3);
	close(s3);

	/* Options. */
	int o = must("socket", socket(AF_INET, SOCK_STREAM, 0));
	int one = 1, v = -1;
	len = sizeof(v);
	getsockopt(o, IPPROTO_TCP, TCP_NODELAY, &v, &len);
	printf("TCP_NODELAY default %d\n", v);
	show("set TCP_NODELAY", setsockopt(o, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)));
	getsockopt(o, IPPROTO_TCP, TCP_NODELAY, &v, &len);
	printf("TCP_NODELAY now %d\n", v != 0);
	show("set SO_KEEPALIVE", setsockopt(o, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)));
	getsockopt(o, SOL_SOCKET, SO_KEEPALIVE, &v, &len);
	printf("SO_KEEPALIVE %d\n", v);
	show("set SO_REUSEPORT", setsockopt(o, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)));
	int size = 65536;
	show("set SO_RCVBUF", setsockopt(o, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)));
	getsockopt(o, SOL_SOCKET, SO_RCVBUF, &v, &len);
	printf("SO_RCVBUF doubled %d\n", v == 2 * size);
	show("set SO_SNDBUF", setsockopt(o, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)));
	getsockopt(o, SOL_SOCKET, SO_SNDBUF, &v, &len);
	printf("SO_SNDBUF doubled %d\n", v == 2 * size);
	struct linger lg = {1, 0};
	show("set SO_LINGER", setsockopt(o, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
	len = sizeof(lg);
	getsockopt(o, SOL_SOCKET, SO_LINGER, &lg, &len);
	printf("SO_LINGER %d %d\n", lg.l_onoff, lg.l_linger);
	len = sizeof(v);
	getsockopt(o, SOL_SOCKET, SO_ACCEPTCONN, &v, &len);
	printf("SO_ACCEPTCONN %d\n", v);
	show("unknown TCP option", setsockopt(o, IPPROTO_TCP, 9999, &one, sizeof(one)));
	show("get unknown TCP option", getsockopt(o, IPPROTO_TCP, 9999, &v, &len));
	show("get unknown socket option", getsockopt(o, SOL_SOCKET, 9999, &v, &len));
	show("SO_ERROR is read-only? (set)", setsockopt(o, SOL_SOCKET, SO_ERROR, &one, sizeof(one)));
	show("SOCK_SEQPACKET socket", socket(AF_INET, SOCK_SEQPACKET, 0));
	show("bad socket flags", socket(AF_INET, SOCK_STREAM | 0x100000, 0));
	close(o);
	printf("done\n");
	return 0;
}
