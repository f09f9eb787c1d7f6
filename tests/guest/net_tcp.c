/* TCP over 127.0.0.1 in one process (no threads: non-blocking sockets and poll): a non-blocking
 * connect, a multi-megabyte echo checked by checksum, the client's half-close (shutdown SHUT_WR) with
 * the server still answering after it saw end-of-file, then SO_REUSEADDR: rebinding the port of a
 * connection in TIME_WAIT. Prints only what is the same on Linux and osv. Argument: megabytes. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net_common.h"

/* The byte at offset i of the stream the client sends. */
static unsigned char pattern(size_t i) { return (unsigned char)((i * 2654435761u) >> 13); }

static void echo(size_t total)
{
	int l = must("socket", socket(AF_INET, SOCK_STREAM, 0));
	struct sockaddr_in a = loopback(0);
	must("bind", bind(l, (struct sockaddr *)&a, sizeof(a)));
	must("listen", listen(l, 4));
	a = loopback(port_of(l));
	int c = must("socket", socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
	show("non-blocking connect", connect(c, (struct sockaddr *)&a, sizeof(a)));
	struct pollfd p = {c, POLLOUT, 0};
	show("poll for the connection", poll(&p, 1, 5000));
	printf("revents %s\n", poll_bits(p.revents));
	int err = -1;
	socklen_t len = sizeof(err);
	getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len);
	printf("SO_ERROR %s\n", errno_name(err));
	struct sockaddr_in peer;
	len = sizeof(peer);
	int s = must("accept4", accept4(l, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK));
	printf("accepted from 127.0.0.1: %d, the client's port: %d\n", peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK),
	       ntohs(peer.sin_port) == port_of(c));
	printf("accepted socket is non-blocking: %d\n", (fcntl(s, F_GETFL) & O_NONBLOCK) != 0);

	static unsigned char out[65536], back[65536], relay[1 << 20];
	size_t sent = 0, received = 0, relay_len = 0, relayed_total = 0;
	bool client_shut = false, server_eof = false, server_shut = false, client_eof = false, mismatch = false;
	bool wrote_after_eof = false, rdhup_at_eof = false;
	while (!client_eof) {
		struct pollfd fds[2] = {{c, POLLIN | (sent < total ? POLLOUT : 0), 0},
					{s, (server_eof ? 0 : POLLIN) | (relay_len ? POLLOUT : 0) | POLLRDHUP, 0}};
		if (poll(fds, 2, 10000) <= 0) {
			printf("poll timed out: sent %zu received %zu relayed %zu\n", sent, received, relayed_total);
			exit(1);
		}
		if ((fds[0].revents & POLLOUT) && sent < total) {
			size_t n = total - sent < sizeof(out) ? total - sent : sizeof(out);
			for (size_t i = 0; i < n; i++)
				out[i] = pattern(sent + i);
			long w = write(c, out, n);
			if (w < 0 && errno != EAGAIN)
				must("client write", w);
			if (w > 0)
				sent += w;
		}
		if (sent == total && !client_shut) {
			must("shutdown(SHUT_WR)", shutdown(c, SHUT_WR));
			client_shut = true;
		}
		if ((fds[1].revents & (POLLIN | POLLRDHUP)) && !server_eof && relay_len < sizeof(relay)) {
			long r = read(s, relay + relay_len, sizeof(relay) - relay_len);
			if (r == 0) {
				server_eof = true;
				rdhup_at_eof = (fds[1].revents & POLLRDHUP) != 0;
			} else if (r < 0 && errno != EAGAIN) {
				must("server read", r);
			} else if (r > 0) {
				relay_len += r;
			}
		}
		if (relay_len) {
			long w = write(s, relay, relay_len);
			if (w < 0 && errno != EAGAIN)
				must("server write", w);
			if (w > 0) {
				memmove(relay, relay + w, relay_len - w);
				relay_len -= w;
				relayed_total += w;
				if (server_eof)
					wrote_after_eof = true;
			}
		}
		if (server_eof && !relay_len && !server_shut) {
			must("server shutdown", shutdown(s, SHUT_WR));
			server_shut = true;
		}
		if (fds[0].revents & (POLLIN | POLLHUP)) {
			long r = read(c, back, sizeof(back));
			if (r == 0) {
				client_eof = true;
			} else if (r < 0 && errno != EAGAIN) {
				must("client read", r);
			} else if (r > 0) {
				for (long i = 0; i < r; i++)
					if (back[i] != pattern(received + i))
						mismatch = true;
				received += r;
			}
		}
	}
	printf("echoed %zu of %zu bytes, every byte right: %d\n", received, total, !mismatch && received == total);
	printf("server saw end of file with POLLRDHUP: %d, and still answered after it: %d\n", rdhup_at_eof,
	       wrote_after_eof || relayed_total == total);
	show("client read after EOF", read(c, back, 1));
	show("client write after shutdown", send(c, "x", 1, MSG_NOSIGNAL));
	close(c);
	close(s);
	close(l);
}

static void reuse(void)
{
	int one = 1;
	int l = must("socket", socket(AF_INET, SOCK_STREAM, 0));
	must("SO_REUSEADDR", setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)));
	struct sockaddr_in a = loopback(0);
	must("bind", bind(l, (struct sockaddr *)&a, sizeof(a)));
	must("listen", listen(l, 1));
	a = loopback(port_of(l));
	int c = must("socket", socket(AF_INET, SOCK_STREAM, 0));
	show("blocking connect", connect(c, (struct sockaddr *)&a, sizeof(a)));
	int s = must("accept", accept(l, NULL, NULL));
	int other = must("socket", socket(AF_INET, SOCK_STREAM, 0));
	setsockopt(other, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	show("bind the listening port, even with SO_REUSEADDR", bind(other, (struct sockaddr *)&a, sizeof(a)));
	close(other);
	/* The server closes first: its side of the connection waits in TIME_WAIT. */
	show("server close", close(s));
	char b;
	show("client reads end of file", read(c, &b, 1));
	show("client close", close(c));
	show("listener close", close(l));
	int plain = must("socket", socket(AF_INET, SOCK_STREAM, 0));
	show("rebind without SO_REUSEADDR", bind(plain, (struct sockaddr *)&a, sizeof(a)));
	close(plain);
	int again = must("socket", socket(AF_INET, SOCK_STREAM, 0));
	setsockopt(again, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	show("rebind with SO_REUSEADDR", bind(again, (struct sockaddr *)&a, sizeof(a)));
	show("listen again", listen(again, 1));
	int c2 = must("socket", socket(AF_INET, SOCK_STREAM, 0));
	show("connect to the new listener", connect(c2, (struct sockaddr *)&a, sizeof(a)));
	int s2 = must("accept", accept(again, NULL, NULL));
	show("send", send(c2, "hi", 2, 0));
	char buf[4];
	show("recv", recv(s2, buf, sizeof(buf), 0));
	close(s2);
	close(c2);
	close(again);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	size_t megabytes = argc > 1 ? strtoul(argv[1], NULL, 10) : 4;
	echo(megabytes << 20);
	reuse();
	printf("done\n");
	return 0;
}
