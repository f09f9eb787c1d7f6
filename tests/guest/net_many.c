/* Many TCP connections open at once over 127.0.0.1, in one thread with blocking calls: raises
 * RLIMIT_NOFILE, connects N clients (argument, default 1000) to one listener whose backlog holds them
 * all, accepts them, then with every one of the 2 x N descriptors still open sends a little data each
 * way on each connection and checks it (the server side answers each client's line with its own, so
 * a mix-up between connections shows). Prints only what is the same on Linux and osv. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net_common.h"

/* Reads exactly len bytes (the peer sends them at once, but a read may still return fewer). */
static void read_exactly(int fd, char *buf, size_t len)
{
	for (size_t got = 0; got < len;) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n <= 0) {
			printf("FAILED read on fd %d: %s\n", fd, n == 0 ? "end of file" : errno_name(errno));
			exit(1);
		}
		got += (size_t)n;
	}
}

int main(int argc, char **argv)
{
	int count = argc > 1 ? atoi(argv[1]) : 1000;
	struct rlimit limit;
	must("getrlimit", getrlimit(RLIMIT_NOFILE, &limit));
	limit.rlim_cur = (rlim_t)(2 * count + 16);
	if (limit.rlim_max < limit.rlim_cur)
		limit.rlim_max = limit.rlim_cur;
	show("setrlimit RLIMIT_NOFILE", setrlimit(RLIMIT_NOFILE, &limit));

	int l = must("socket", socket(AF_INET, SOCK_STREAM, 0));
	struct sockaddr_in a = loopback(0);
	must("bind", bind(l, (struct sockaddr *)&a, sizeof(a)));
	must("listen", listen(l, count));
	a = loopback(port_of(l));

	int *clients = calloc((size_t)count, sizeof(int));
	int *servers = calloc((size_t)count, sizeof(int));
	int *ports = calloc(65536, sizeof(int));
	int distinct = 0;
	for (int i = 0; i < count; i++) {
		clients[i] = must("socket", socket(AF_INET, SOCK_STREAM, 0));
		must("connect", connect(clients[i], (struct sockaddr *)&a, sizeof(a)));
		if (!ports[port_of(clients[i])]++)
			distinct++;
	}
	printf("%d clients connected, %d distinct local ports\n", count, distinct);

	/* The accept queue hands connections out in the order they were established: the server side of
	 * client i is the i-th accepted, which its peer address confirms. */
	int mismatched = 0;
	for (int i = 0; i < count; i++) {
		struct sockaddr_in peer;
		socklen_t len = sizeof(peer);
		servers[i] = must("accept", accept(l, (struct sockaddr *)&peer, &len));
		if (ntohs(peer.sin_port) != port_of(clients[i]))
			mismatched++;
	}
	printf("%d accepted, %d out of order\n", count, mismatched);

	char line[32], expect[32], got[32];
	for (int i = 0; i < count; i++) {
		int n = snprintf(line, sizeof(line), "client %05d\n", i);
		must("write", write(clients[i], line, (size_t)n));
	}
	for (int i = 0; i < count; i++) {
		int n = snprintf(expect, sizeof(expect), "client %05d\n", i);
		read_exactly(servers[i], got, (size_t)n);
		if (memcmp(got, expect, (size_t)n)) {
			printf("FAILED server %d read %.*s", i, n, got);
			return 1;
		}
		n = snprintf(line, sizeof(line), "server %05d\n", i);
		must("write", write(servers[i], line, (size_t)n));
	}
	for (int i = 0; i < count; i++) {
		int n = snprintf(expect, sizeof(expect), "server %05d\n", i);
		read_exactly(clients[i], got, (size_t)n);
		if (memcmp(got, expect, (size_t)n)) {
			printf("FAILED client %d read %.*s", i, n, got);
			return 1;
		}
	}
	printf("%d connections open at once, data checked both ways on each\n", count);

	/* Clients close first: their ends wait in TIME_WAIT, the server ends see end of file. */
	for (int i = 0; i < count; i++)
		must("close", close(clients[i]));
	int eof = 0;
	for (int i = 0; i < count; i++) {
		if (read(servers[i], got, sizeof(got)) == 0)
			eof++;
		must("close", close(servers[i]));
	}
	printf("%d server ends saw end of file\n", eof);
	close(l);
	printf("done\n");
	return 0;
}
