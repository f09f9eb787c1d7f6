/* epoll over TCP and UDP sockets on 127.0.0.1: level-triggered and edge-triggered readiness, a
 * listener, EPOLLONESHOT and re-arming with EPOLL_CTL_MOD, the data word coming back, closed files
 * leaving the set, nested epoll, and epoll_ctl's errors; then a small event-loop echo of 1 MiB over
 * several connections at once. Prints only what is the same on Linux and osv. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net_common.h"

/* Waits (up to ms) and prints what came back, as "data:events" pairs. */
static int show_wait(const char *what, int ep, int ms)
{
	struct epoll_event ev[8];
	int n = epoll_wait(ep, ev, 8, ms);
	printf("%s: %d", what, n);
	for (int i = 0; i < n; i++)
		printf(" %lu:%s", (unsigned long)ev[i].data.u64, poll_bits((int)ev[i].events));
	printf("\n");
	return n;
}

static int add(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event e = {.events = events, .data.u64 = data};
	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
}

#define CONNECTIONS 4
#define EACH (256 << 10)

static void event_loop_echo(void)
{
	int l = must("socket", socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
	struct sockaddr_in a = loopback(0);
	must("bind", bind(l, (struct sockaddr *)&a, sizeof(a)));
	must("listen", listen(l, CONNECTIONS));
	a = loopback(port_of(l));
	int ep = must("epoll_create1", epoll_create1(EPOLL_CLOEXEC));
	must("add listener", add(ep, l, EPOLLIN, 1000));
	int clients[CONNECTIONS];
	size_t sent[CONNECTIONS] = {0}, got[CONNECTIONS] = {0};
	for (int i = 0; i < CONNECTIONS; i++) {
		clients[i] = must("socket", socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
		connect(clients[i], (struct sockaddr *)&a, sizeof(a));
		must("add client", add(ep, clients[i], EPOLLIN | EPOLLOUT | EPOLLET, (uint64_t)i));
	}
	static char buf[65536];
	int servers = 0, finished = 0, bad = 0;
	while (finished < CONNECTIONS) {
		struct epoll_event ev[16];
		int n = epoll_wait(ep, ev, 16, 10000);
		if (n <= 0) {
			printf("epoll_wait gave %d\n", n);
			exit(1);
		}
		for (int k = 0; k < n; k++) {
			uint64_t id = ev[k].data.u64;
			if (id == 1000) {
				int s;
				while ((s = accept4(l, NULL, NULL, SOCK_NONBLOCK)) >= 0)
					must("add server", add(ep, s, EPOLLIN, 2000 + (uint64_t)s)), servers++;
			} else if (id >= 2000) {
				int s = (int)(id - 2000);
				long r = read(s, buf, sizeof(buf));
				if (r > 0) {
					for (long off = 0; off < r;) { /* small replies: the socket buffers have room */
						long w = write(s, buf + off, (size_t)(r - off));
						if (w > 0)
							off += w;
					}
				} else if (r == 0) {
					close(s); /* leaves the epoll set by itself */
				}
			} else {
				int i = (int)id, c = clients[i];
				/* Edge-triggered: go until EAGAIN. */
				while (sent[i] < EACH) {
					size_t chunk = EACH - sent[i] < 8192 ? EACH - sent[i] : 8192;
					for (size_t j = 0; j < chunk; j++)
						buf[j] = (char)((sent[i] + j) * 31 + i);
					long w = write(c, buf, chunk);
					if (w <= 0)
						break;
					sent[i] += (size_t)w;
					if (sent[i] == EACH)
						shutdown(c, SHUT_WR);
				}
				for (;;) {
					long r = read(c, buf, sizeof(buf));
					if (r <= 0) {
						if (r == 0 && got[i] == EACH) {
							finished++;
							close(c);
						}
						break;
					}
					for (long j = 0; j < r; j++)
						if (buf[j] != (char)((got[i] + j) * 31 + i))
							bad++;
					got[i] += (size_t)r;
				}
			}
		}
	}
	printf("event loop: %d connections accepted, %d x %d bytes echoed, wrong bytes %d\n", servers, CONNECTIONS, EACH, bad);
	close(ep);
	close(l);
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	int ep = must("epoll_create1", epoll_create1(0));
	show_wait("empty set, no wait", ep, 0);

	int l = must("socket", socket(AF_INET, SOCK_STREAM, 0));
	struct sockaddr_in a = loopback(0);
	must("bind", bind(l, (struct sockaddr *)&a, sizeof(a)));
	must("listen", listen(l, 4));
	a = loopback(port_of(l));
	show("add listener", add(ep, l, EPOLLIN, 1));
	show("add it again", add(ep, l, EPOLLIN, 1));
	show_wait("listener, nobody connecting", ep, 0);
	int c = must("socket", socket(AF_INET, SOCK_STREAM, 0));
	must("connect", connect(c, (struct sockaddr *)&a, sizeof(a)));
	show_wait("a connection waits", ep, 1000);
	show_wait("level-triggered: still there", ep, 0);
	int s = must("accept", accept(l, NULL, NULL));
	show_wait("after accept", ep, 0);

	/* Level- and edge-triggered views of the same socket. */
	show("add server socket, level", add(ep, s, EPOLLIN, 2));
	int ep2 = must("epoll_create1", epoll_create1(0));
	show("add server socket, edge", add(ep2, s, EPOLLIN | EPOLLET, 3));
	show_wait("nothing to read", ep, 0);
	send(c, "one", 3, 0);
	show_wait("level: data", ep, 1000);
	show_wait("level: data still", ep, 0);
	show_wait("edge: data", ep2, 1000);
	show_wait("edge: no new data", ep2, 0);
	send(c, "two", 3, 0);
	show_wait("edge: more data", ep2, 1000);
	char buf[64];
	show("read", read(s, buf, sizeof(buf)));
	show_wait("level: drained", ep, 0);

	/* Writability, one-shot and re-arming. */
	show("watch the client for writing, one-shot", add(ep, c, EPOLLOUT | EPOLLONESHOT, 4));
	show_wait("writable once", ep, 1000);
	show_wait("one-shot: not again", ep, 0);
	struct epoll_event mod = {.events = EPOLLOUT, .data.u64 = 5};
	show("re-arm with MOD", epoll_ctl(ep, EPOLL_CTL_MOD, c, &mod));
	show_wait("writable, new data word", ep, 1000);
	show("DEL", epoll_ctl(ep, EPOLL_CTL_DEL, c, NULL));
	show("DEL again", epoll_ctl(ep, EPOLL_CTL_DEL, c, NULL));
	show("MOD a descriptor not in the set", epoll_ctl(ep, EPOLL_CTL_MOD, c, &mod));

	/* Hang-up and closed descriptors. */
	close(c);
	show_wait("peer closed", ep, 1000);
	show("read end of file", read(s, buf, sizeof(buf)));
	close(s);
	show_wait("the closed socket left the set", ep, 0);

	/* UDP. */
	int u = must("socket", socket(AF_INET, SOCK_DGRAM, 0));
	struct sockaddr_in ua = loopback(0);
	must("bind", bind(u, (struct sockaddr *)&ua, sizeof(ua)));
	ua = loopback(port_of(u));
	show("add UDP", add(ep, u, EPOLLIN | EPOLLOUT, 6));
	show_wait("UDP: writable", ep, 0);
	sendto(u, "d", 1, 0, (struct sockaddr *)&ua, sizeof(ua));
	show_wait("UDP: a datagram", ep, 1000);

	/* Nested: an epoll descriptor is readable when its set has something. */
	int outer = must("epoll_create1", epoll_create1(0));
	show("add epoll to epoll", add(outer, ep, EPOLLIN, 7));
	show_wait("outer sees the inner one ready", outer, 1000);
	show("a cycle", add(ep, outer, EPOLLIN, 8));

	/* Errors. */
	int file = open("/proc/self/exe", O_RDONLY);
	show("add a regular file", add(ep, file, EPOLLIN, 9));
	show("add to itself", add(ep, ep, EPOLLIN, 10));
	show("add a bad descriptor", add(ep, 999, EPOLLIN, 11));
	show("epoll_ctl on a non-epoll descriptor", add(u, l, EPOLLIN, 12));
	show("bad op", epoll_ctl(ep, 99, l, &mod));
	struct epoll_event ev[1];
	show("epoll_wait maxevents 0", epoll_wait(ep, ev, 0, 0));
	show("epoll_wait on a socket", epoll_wait(u, ev, 1, 0));
	show("epoll_create(0)", epoll_create(0));
	show("epoll_create1 bad flags", epoll_create1(1));
	close(file);
	close(u);
	close(l);
	close(outer);
	close(ep);
	close(ep2);

	event_loop_echo();
	printf("done\n");
	return 0;
}
