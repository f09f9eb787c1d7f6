/* The HTTP server the benchmark drives with wrk: one thread, epoll (level-triggered), non-blocking
 * sockets, keep-alive, and one fixed 13-byte answer to every request. Runs the same on the host and in
 * osv, so requests per second compare the network paths, not the servers; `GET /quit` ends it (status 0),
 * which tests/e2e/net_load_test.ts uses to see the stack's counters. Argument: port (8080). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_EVENTS 128
#define BUFFER 8192

static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, world!";

struct conn {
	int fd;
	size_t used;
	char buf[BUFFER];
};

static void drop(int ep, struct conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
}

/* Answers every complete request in the buffer; false when the connection is done. */
static int serve(struct conn *c)
{
	for (;;) {
		ssize_t n = recv(c->fd, c->buf + c->used, sizeof(c->buf) - c->used, 0);
		if (n == 0)
			return 0;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK;
		c->used += (size_t)n;
		char *end;
		while ((end = memmem(c->buf, c->used, "\r\n\r\n", 4))) {
			size_t request = (size_t)(end - c->buf) + 4;
			if (c->used >= 10 && !memcmp(c->buf, "GET /quit ", 10)) {
				send(c->fd, reply, sizeof(reply) - 1, MSG_NOSIGNAL);
				printf("http_bench_server: done\n");
				exit(0);
			}
			if (send(c->fd, reply, sizeof(reply) - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof(reply) - 1))
				return 0;
			memmove(c->buf, c->buf + request, c->used - request);
			c->used -= request;
		}
		if (c->used == sizeof(c->buf))
			return 0; /* a request larger than the buffer: not ours to serve */
	}
}

int main(int argc, char **argv)
{
	int port = argc > 1 ? atoi(argv[1]) : 8080;
	int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int one = 1;
	setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY)};
	if (bind(listener, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(listener, 1024) < 0) {
		perror("bind/listen");
		return 1;
	}
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
	printf("listening on %d\n", port);
	fflush(stdout);
	struct epoll_event events[MAX_EVENTS];
	for (;;) {
		int n = epoll_wait(ep, events, MAX_EVENTS, -1);
		if (n < 0 && errno != EINTR) {
			perror("epoll_wait");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = events[i].data.ptr;
			if (!c) {
				int fd;
				while ((fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					struct conn *nc = calloc(1, sizeof(*nc));
					nc->fd = fd;
					struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = nc};
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
				}
				continue;
			}
			if (!serve(c))
				drop(ep, c);
		}
	}
}
