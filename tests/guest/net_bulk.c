/* Bulk TCP transfers checked by checksum. The stream is deterministic (byte i is pattern(i)) and the
 * checksum is FNV-1a (32 bits) over every byte, so either side can verify the other.
 *   net_bulk MIB         a thread sends MIB mebibytes over 127.0.0.1 to the main thread, which checks
 *                        them as they come; prints only what is the same on Linux and osv
 *   net_bulk serve PORT  answers connections from outside, one at a time, each starting with a line:
 *                        "put N\n" (N bytes follow; answered with "N HASH\n"), "get N\n" (answered with
 *                        N bytes of the stream, then end of file) or "quit\n" (the program exits 0)
 * Used by tests/e2e/net_loopback_test.ts, net_load_test.ts and the TCP throughput benchmark. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net_common.h"

#define CHUNK (256 * 1024)
#define FNV_OFFSET 2166136261u
#define FNV_PRIME 16777619u

/* Byte i of the stream: a hash of i's low bits, and its 2 MiB block number, so that a block moved
 * elsewhere shows. */
static uint8_t pattern(uint64_t i) { return (uint8_t)((((uint32_t)i * 2654435761u) >> 13) ^ (i >> 21)); }

static void fill(uint8_t *buf, uint64_t at, size_t len)
{
	for (size_t k = 0; k < len; k++)
		buf[k] = pattern(at + k);
}

static uint32_t fnv1a(uint32_t h, const uint8_t *data, size_t len)
{
	for (size_t k = 0; k < len; k++)
		h = (h ^ data[k]) * FNV_PRIME;
	return h;
}

/* Sends total bytes of the stream; the checksum of what was sent, in *sum. */
static int send_stream(int fd, uint64_t total, uint32_t *sum)
{
	static __thread uint8_t buf[CHUNK];
	uint32_t h = FNV_OFFSET;
	for (uint64_t at = 0; at < total;) {
		size_t len = total - at < CHUNK ? (size_t)(total - at) : CHUNK;
		fill(buf, at, len);
		h = fnv1a(h, buf, len);
		if (send_all(fd, buf, len) < 0)
			return -1;
		at += len;
	}
	*sum = h;
	return 0;
}

/* Reads up to total bytes (less at end of file); how many came, and their checksum in *sum. */
static uint64_t receive_stream(int fd, uint64_t total, uint32_t *sum)
{
	static __thread uint8_t buf[CHUNK];
	uint32_t h = FNV_OFFSET;
	uint64_t at = 0;
	while (at < total) {
		size_t want = total - at < CHUNK ? (size_t)(total - at) : CHUNK;
		ssize_t n = read(fd, buf, want);
		if (n <= 0)
			break;
		h = fnv1a(h, buf, (size_t)n);
		at += (uint64_t)n;
	}
	*sum = h;
	return at;
}

struct sender {
	int port;
	uint64_t total;
	uint32_t sum;
	int failed;
};

static void *sender_main(void *arg)
{
	struct sender *s = arg;
	int fd = must("socket", socket(AF_INET, SOCK_STREAM, 0));
	struct sockaddr_in a = loopback(s->port);
	must("connect", connect(fd, (struct sockaddr *)&a, sizeof(a)));
	s->failed = send_stream(fd, s->total, &s->sum) < 0;
	close(fd);
	return NULL;
}

static int over_loopback(uint64_t mib)
{
	int l = must("socket", socket(AF_INET, SOCK_STREAM, 0));
	struct sockaddr_in a = loopback(0);
	must("bind", bind(l, (struct sockaddr *)&a, sizeof(a)));
	must("listen", listen(l, 1));
	struct sender s = {.port = port_of(l), .total = mib << 20};
	pthread_t thread;
	if (pthread_create(&thread, NULL, sender_main, &s)) {
		printf("FAILED pthread_create\n");
		return 1;
	}
	int fd = must("accept", accept(l, NULL, NULL));
	uint32_t sum;
	uint64_t got = receive_stream(fd, s.total + 1, &sum);
	pthread_join(thread, NULL);
	printf("sent %llu MiB%s, checksum %08x\n", (unsigned long long)mib, s.failed ? " (FAILED)" : "", s.sum);
	printf("received %llu bytes, checksum %08x\n", (unsigned long long)got, sum);
	printf("%s\n", got == s.total && sum == s.sum && !s.failed ? "checksums match" : "MISMATCH");
	close(fd);
	close(l);
	printf("done\n");
	return 0;
}

/* Reads the command line of a connection (up to '\n'). */
static int read_line(int fd, char *line, size_t size)
{
	size_t used = 0;
	while (used + 1 < size) {
		ssize_t n = read(fd, line + used, 1);
		if (n <= 0)
			return -1;
		if (line[used] == '\n')
			break;
		used++;
	}
	line[used] = 0;
	return 0;
}

static int serve(int port)
{
	int l = must("socket", socket(AF_INET, SOCK_STREAM, 0));
	int one = 1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY)};
	must("bind", bind(l, (struct sockaddr *)&a, sizeof(a)));
	must("listen", listen(l, 16));
	printf("net_bulk: listening on %d\n", port);
	fflush(stdout);
	for (;;) {
		int fd = must("accept", accept(l, NULL, NULL));
		char line[64], answer[64];
		unsigned long long n = 0;
		if (read_line(fd, line, sizeof(line)) < 0) {
			close(fd);
			continue;
		}
		if (!strcmp(line, "quit")) {
			close(fd);
			break;
		}
		uint32_t sum;
		if (sscanf(line, "put %llu", &n) == 1) {
			uint64_t got = receive_stream(fd, n, &sum);
			int len = snprintf(answer, sizeof(answer), "%llu %08x\n", (unsigned long long)got, sum);
			send_all(fd, answer, (size_t)len);
			printf("net_bulk: received %llu bytes, checksum %08x\n", (unsigned long long)got, sum);
		} else if (sscanf(line, "get %llu", &n) == 1) {
			int failed = send_stream(fd, n, &sum);
			printf("net_bulk: sent %llu bytes%s, checksum %08x\n", n, failed ? " (FAILED)" : "", sum);
		}
		fflush(stdout);
		close(fd);
	}
	close(l);
	printf("net_bulk: done\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 2 && !strcmp(argv[1], "serve"))
		return serve(atoi(argv[2]));
	return over_loopback(argc > 1 ? strtoull(argv[1], NULL, 10) : 1024);
}
