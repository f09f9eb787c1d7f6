/* UDP over 127.0.0.1 in one process: binding and port conflicts, echo both ways with the sender's
 * address, MSG_PEEK, MSG_TRUNC, empty datagrams, the largest datagram (fragmented by osv's loopback),
 * connected sockets, ICMP port unreachable as ECONNREFUSED, poll, and option errors. Prints only what
 * is the same on Linux and osv (no port numbers). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net_common.h"

static unsigned checksum(const unsigned char *p, size_t n)
{
	unsigned h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	int s = must("socket", socket(AF_INET, SOCK_DGRAM, 0));
	struct sockaddr_in sa = loopback(0);
	must("bind", bind(s, (struct sockaddr *)&sa, sizeof(sa)));
	struct sockaddr_in got;
	socklen_t len = sizeof(got);
	must("getsockname", getsockname(s, (struct sockaddr *)&got, &len));
	printf("server bound to %s, port>=1024 %d, len %u\n", inet_ntoa(got.sin_addr), ntohs(got.sin_port) >= 1024, len);
	int sport = ntohs(got.sin_port);
	struct sockaddr_in server = loopback(sport);

	int c = must("socket", socket(AF_INET, SOCK_DGRAM, 0));
	show("sendto hello", sendto(c, "hello", 5, 0, (struct sockaddr *)&server, sizeof(server)));
	char buf[70000];
	struct sockaddr_in from;
	len = sizeof(from);
	long n = show("recvfrom", recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len));
	printf("got \"%.*s\" from %s, from the client's port %d\n", (int)n, buf, inet_ntoa(from.sin_addr),
	       ntohs(from.sin_port) == port_of(c));
	show("echo back", sendto(s, buf, n, 0, (struct sockaddr *)&from, len));
	n = show("client recv", recv(c, buf, sizeof(buf), 0));
	printf("client got \"%.*s\"\n", (int)n, buf);

	/* MSG_PEEK leaves the datagram; MSG_TRUNC reports its real length. */
	sendto(c, "peekaboo", 8, 0, (struct sockaddr *)&server, sizeof(server));
	show("peek 4", recv(s, buf, 4, MSG_PEEK));
	show("recv 100", recv(s, buf, 100, 0));
	char big[100];
	memset(big, 'x', sizeof(big));
	sendto(c, big, sizeof(big), 0, (struct sockaddr *)&server, sizeof(server));
	struct iovec iov = {buf, 10};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	n = show("recvmsg into 10 bytes", recvmsg(s, &m, 0));
	printf("msg_flags has MSG_TRUNC: %d\n", (m.msg_flags & MSG_TRUNC) != 0);
	sendto(c, big, sizeof(big), 0, (struct sockaddr *)&server, sizeof(server));
	show("recv 10 with MSG_TRUNC", recv(s, buf, 10, MSG_TRUNC));

	/* Empty datagrams exist. */
	show("send empty", sendto(c, "", 0, 0, (struct sockaddr *)&server, sizeof(server)));
	show("recv empty", recv(s, buf, sizeof(buf), 0));

	/* Nothing queued: EAGAIN with MSG_DONTWAIT and on a non-blocking socket. */
	show("recv MSG_DONTWAIT", recv(s, buf, sizeof(buf), MSG_DONTWAIT));
	fcntl(s, F_SETFL, O_NONBLOCK);
	show("recv O_NONBLOCK", recv(s, buf, sizeof(buf), 0));
	fcntl(s, F_SETFL, 0);

	/* The largest datagram, and one byte more. */
	static unsigned char payload[65508];
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (unsigned char)(i * 7 + i / 251);
	show("send 65507", sendto(c, payload, 65507, 0, (struct sockaddr *)&server, sizeof(server)));
	n = show("recv 65507", recv(s, buf, sizeof(buf), 0));
	printf("same bytes: %d\n", n == 65507 && checksum((unsigned char *)buf, n) == checksum(payload, 65507));
	show("send 65508", sendto(c, payload, 65508, 0, (struct sockaddr *)&server, sizeof(server)));
	show("send 30000", sendto(c, payload, 30000, 0, (struct sockaddr *)&server, sizeof(server)));
	n = show("recv 30000", recv(s, buf, sizeof(buf), 0));
	printf("same bytes: %d\n", n == 30000 && checksum((unsigned char *)buf, n) == checksum(payload, 30000));

	/* Scatter and gather. */
	struct iovec parts[3] = {{"one ", 4}, {"two ", 4}, {"three", 5}};
	struct msghdr sm = {.msg_name = &server, .msg_namelen = sizeof(server), .msg_iov = parts, .msg_iovlen = 3};
	show("sendmsg 3 parts", sendmsg(c, &sm, 0));
	char a[5], b[20];
	struct iovec rparts[2] = {{a, 5}, {b, 20}};
	struct msghdr rm = {.msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = rparts, .msg_iovlen = 2};
	n = show("recvmsg 2 parts", recvmsg(s, &rm, 0));
	printf("parts \"%.5s\" \"%.*s\" namelen %u\n", a, (int)n - 5, b, rm.msg_namelen);

	/* Connected sockets. */
	must("connect", connect(c, (struct sockaddr *)&server, sizeof(server)));
	show("send connected", send(c, "conn", 4, 0));
	n = show("recv", recv(s, buf, sizeof(buf), 0));
	struct sockaddr_in peer;
	len = sizeof(peer);
	show("getpeername", getpeername(c, (struct sockaddr *)&peer, &len));
	printf("peer is the server: %d\n", peer.sin_port == server.sin_port && peer.sin_addr.s_addr == server.sin_addr.s_addr);
	len = sizeof(got);
	getsockname(c, (struct sockaddr *)&got, &len);
	printf("client local address %s\n", inet_ntoa(got.sin_addr));
	len = sizeof(peer);
	show("getpeername unconnected", getpeername(s, (struct sockaddr *)&peer, &len));
	struct sockaddr unspec = {.sa_family = AF_UNSPEC};
	show("disconnect", connect(c, &unspec, sizeof(unspec)));
	show("send after disconnect", send(c, "x", 1, 0));

	/* A port nobody listens on: ICMP port unreachable comes back as ECONNREFUSED. */
	int gone = must("socket", socket(AF_INET, SOCK_DGRAM, 0));
	struct sockaddr_in any = loopback(0);
	bind(gone, (struct sockaddr *)&any, sizeof(any));
	struct sockaddr_in closed = loopback(port_of(gone));
	close(gone);
	int u = must("socket", socket(AF_INET, SOCK_DGRAM, 0));
	must("connect", connect(u, (struct sockaddr *)&closed, sizeof(closed)));
	show("send to closed port", send(u, "?", 1, 0));
	struct pollfd pfd = {u, POLLIN, 0};
	show("poll", poll(&pfd, 1, 2000));
	printf("revents %s\n", poll_bits(pfd.revents));
	show("recv after port unreachable", recv(u, buf, sizeof(buf), 0));
	show("recv again", recv(u, buf, sizeof(buf), MSG_DONTWAIT));
	close(u);

	/* poll: always writable, readable once something is queued. */
	struct pollfd p2[2] = {{s, POLLIN | POLLOUT, 0}, {c, POLLIN, 0}};
	show("poll nothing queued", poll(p2, 2, 0));
	printf("revents %s / %s\n", poll_bits(p2[0].revents), poll_bits(p2[1].revents));
	sendto(c, "ping", 4, 0, (struct sockaddr *)&server, sizeof(server));
	show("poll after a send", poll(p2, 2, 1000));
	printf("revents %s / %s\n", poll_bits(p2[0].revents), poll_bits(p2[1].revents));
	int avail = -1;
	show("FIONREAD", ioctl(s, FIONREAD, &avail));
	printf("bytes ready %d\n", avail);
	recv(s, buf, sizeof(buf), 0);

	/* Errors. */
	show("bind the same port again", bind(c, (struct sockaddr *)&server, sizeof(server)));
	int r1 = must("socket", socket(AF_INET, SOCK_DGRAM, 0));
	int r2 = must("socket", socket(AF_INET, SOCK_DGRAM, 0));
	show("bind taken port", bind(r1, (struct sockaddr *)&server, sizeof(server)));
	int one = 1;
	setsockopt(r1, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(r2, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in shared = loopback(0);
	must("bind r1", bind(r1, (struct sockaddr *)&shared, sizeof(shared)));
	shared = loopback(port_of(r1));
	show("bind shared port with SO_REUSEADDR", bind(r2, (struct sockaddr *)&shared, sizeof(shared)));
	struct sockaddr_in remote = {.sin_family = AF_INET, .sin_port = htons(9), .sin_addr.s_addr = inet_addr("10.255.255.1")};
	show("bind a foreign address", bind(must("socket", socket(AF_INET, SOCK_DGRAM, 0)), (struct sockaddr *)&remote,
					    sizeof(remote)));
	struct sockaddr_in bcast = {.sin_family = AF_INET, .sin_port = htons(9), .sin_addr.s_addr = INADDR_BROADCAST};
	show("broadcast without SO_BROADCAST", sendto(r1, "b", 1, 0, (struct sockaddr *)&bcast, sizeof(bcast)));
	struct sockaddr_in port0 = loopback(0);
	show("sendto port 0", sendto(r1, "z", 1, 0, (struct sockaddr *)&port0, sizeof(port0)));
	show("send unconnected", send(r1, "z", 1, 0));
	show("sendto short address", sendto(r1, "z", 1, 0, (struct sockaddr *)&server, 8));
	show("listen on UDP", listen(r1, 1));
	show("accept on UDP", accept(r1, NULL, NULL));
	show("shutdown unconnected", shutdown(r1, SHUT_RDWR));
	show("TCP option on UDP", setsockopt(r1, IPPROTO_TCP, 1, &one, sizeof(one)));
	show("unknown SOL_SOCKET option", setsockopt(r1, SOL_SOCKET, 12345, &one, sizeof(one)));
	show("unknown level", setsockopt(r1, 12345, 1, &one, sizeof(one)));
	show("short option", setsockopt(r1, SOL_SOCKET, SO_REUSEADDR, &one, 2));
	int type = 0;
	len = sizeof(type);
	show("SO_TYPE", getsockopt(r1, SOL_SOCKET, SO_TYPE, &type, &len));
	printf("type %d len %u\n", type, len);
	show("socket(AF_INET, SOCK_DGRAM, IPPROTO_TCP)", socket(AF_INET, SOCK_DGRAM, IPPROTO_TCP));
	show("send on a file", send(1, "x", 1, 0));
	show("recv on a bad fd", recv(999, buf, 1, 0));
	printf("done\n");
	return 0;
}
