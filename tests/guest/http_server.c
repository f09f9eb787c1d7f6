/* A small HTTP/1.1 server for the networking end-to-end tests: listens on the port given (default
 * 8080), prints one line when ready, and answers until it gets /quit:
 *   GET /hello        -> "hello from PEER to LOCAL\n" (the addresses the connection has)
 *   GET /bytes/N      -> N bytes of a known pattern (byte i = (i * 7 + 3) & 0xff)
 *   POST /sum         -> "LENGTH FNV1A-HEX\n" of the request body
 *   GET /quit         -> "bye\n", then the program exits with status 0
 * One connection at a time, keep-alive honoured, blocking calls. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net_common.h"

static int respond(int fd, int status, const char *body, size_t len, int keep_alive)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\nConnection: %s\r\n\r\n", status,
			 status == 200 ? "OK" : "Not Found", len, keep_alive ? "keep-alive" : "close");
	if (send_all(fd, head, (size_t)n) < 0)
		return -1;
	return send_all(fd, body, len);
}

/* Serves one connection; returns 1 when /quit was asked. */
static int serve(int fd)
{
	static char buf[1 << 16];
	size_t have = 0;
	for (;;) {
		char *end;
		while (!(end = memmem(buf, have, "\r\n\r\n", 4))) {
			if (have == sizeof(buf))
				return 0;
			ssize_t n = recv(fd, buf + have, sizeof(buf) - have, 0);
			if (n <= 0)
				return 0;
			have += (size_t)n;
		}
		size_t header_len = (size_t)(end - buf) + 4;
		char method[8] = "", path[256] = "";
		sscanf(buf, "%7s %255s", method, path);
		size_t content_length = 0;
		int keep_alive = 1;
		for (char *line = strstr(buf, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n")) {
			if (!strncasecmp(line + 2, "Content-Length:", 15))
				content_length = strtoul(line + 17, NULL, 10);
			if (!strncasecmp(line + 2, "Connection: close", 17))
				keep_alive = 0;
		}
		/* The body: what followed the headers, then the rest from the socket. */
		unsigned hash = 2166136261u;
		size_t body = 0, in_buf = have - header_len;
		for (size_t i = 0; i < in_buf && body < content_length; i++, body++)
			hash = (hash ^ (unsigned char)buf[header_len + i]) * 16777619u;
		size_t leftover = in_buf > content_length ? in_buf - content_length : 0;
		memmove(buf, buf + header_len + (in_buf - leftover), leftover);
		have = leftover;
		static char chunk[1 << 16];
		while (body < content_length) {
			size_t want = content_length - body < sizeof(chunk) ? content_length - body : sizeof(chunk);
			ssize_t n = recv(fd, chunk, want, 0);
			if (n <= 0)
				return 0;
			for (ssize_t i = 0; i < n; i++)
				hash = (hash ^ (unsigned char)chunk[i]) * 16777619u;
			body += (size_t)n;
		}
		char text[512];
		int quit = 0, status = 200;
		size_t len;
		if (!strcmp(method, "GET") && !strcmp(path, "/hello")) {
			struct sockaddr_in local, peer;
			socklen_t l1 = sizeof(local), l2 = sizeof(peer);
			getsockname(fd, (struct sockaddr *)&local, &l1);
			getpeername(fd, (struct sockaddr *)&peer, &l2);
			char a[16], b[16];
			inet_ntop(AF_INET, &peer.sin_addr, a, sizeof(a));
			inet_ntop(AF_INET, &local.sin_addr, b, sizeof(b));
			len = (size_t)snprintf(text, sizeof(text), "hello from %s to %s\n", a, b);
		} else if (!strcmp(method, "GET") && !strncmp(path, "/bytes/", 7)) {
			size_t n = strtoul(path + 7, NULL, 10);
			char *data = malloc(n ? n : 1);
			for (size_t i = 0; i < n; i++)
				data[i] = (char)((i * 7 + 3) & 0xff);
			int r = respond(fd, 200, data, n, keep_alive);
			free(data);
			if (r < 0 || !keep_alive)
				return 0;
			continue;
		} else if (!strcmp(method, "POST") && !strcmp(path, "/sum")) {
			len = (size_t)snprintf(text, sizeof(text), "%zu %08x\n", body, hash);
		} else if (!strcmp(path, "/quit")) {
			len = (size_t)snprintf(text, sizeof(text), "bye\n");
			quit = 1;
			keep_alive = 0;
		} else {
			status = 404;
			len = (size_t)snprintf(text, sizeof(text), "no such thing\n");
		}
		if (respond(fd, status, text, len, keep_alive) < 0 || !keep_alive)
			return quit;
	}
}

int main(int argc, char **argv)
{
	int port = argc > 1 ? atoi(argv[1]) : 8080;
	int l = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY)};
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 16) < 0) {
		printf("http_server: cannot listen on port %d: %s\n", port, strerror(errno));
		return 1;
	}
	printf("http_server: listening on port %d\n", port);
	fflush(stdout);
	for (;;) {
		int fd = accept(l, NULL, NULL);
		if (fd < 0) {
			printf("http_server: accept: %s\n", strerror(errno));
			return 1;
		}
		int quit = serve(fd);
		close(fd);
		if (quit)
			break;
	}
	close(l);
	printf("http_server: done\n");
	return 0;
}
