/* Helpers shared by the network guest programs: printing results with errno names, so that the same
 * binary prints the same text on Linux and in osv. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static const char *errno_name(int e)
{
	switch (e) {
	case 0: return "0";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EEXIST: return "EEXIST";
	case ELOOP: return "ELOOP";
	case EAGAIN: return "EAGAIN";
	case EINVAL: return "EINVAL";
	case EBADF: return "EBADF";
	case EFAULT: return "EFAULT";
	case EACCES: return "EACCES";
	case EPIPE: return "EPIPE";
	case ENOTSOCK: return "ENOTSOCK";
	case EDESTADDRREQ: return "EDESTADDRREQ";
	case EMSGSIZE: return "EMSGSIZE";
	case ENOPROTOOPT: return "ENOPROTOOPT";
	case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
	case ESOCKTNOSUPPORT: return "ESOCKTNOSUPPORT";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EAFNOSUPPORT: return "EAFNOSUPPORT";
	case EADDRINUSE: return "EADDRINUSE";
	case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
	case ENETUNREACH: return "ENETUNREACH";
	case ECONNABORTED: return "ECONNABORTED";
	case ECONNRESET: return "ECONNRESET";
	case EISCONN: return "EISCONN";
	case ENOTCONN: return "ENOTCONN";
	case ETIMEDOUT: return "ETIMEDOUT";
	case ECONNREFUSED: return "ECONNREFUSED";
	case EALREADY: return "EALREADY";
	case EINPROGRESS: return "EINPROGRESS";
	case ENOTTY: return "ENOTTY";
	case EDOM: return "EDOM";
	default: {
		static char buf[32];
		snprintf(buf, sizeof(buf), "errno %d", e);
		return buf;
	}
	}
}

/* Prints "what: value" or "what: -1 ENAME". */
static long show(const char *what, long r)
{
	if (r < 0)
		printf("%s: -1 %s\n", what, errno_name(errno));
	else
		printf("%s: %ld\n", what, r);
	fflush(stdout);
	return r;
}

/* Sends all of data (MSG_NOSIGNAL); 0, or -1 when the connection failed. */
static int send_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Dies with a message when a call that must succeed fails. */
static long must(const char *what, long r)
{
	if (r < 0) {
		printf("FAILED %s: %s\n", what, errno_name(errno));
		exit(1);
	}
	return r;
}

static const char *poll_bits(int revents)
{
	static char bufs[4][128]; /* several calls may share one printf */
	static int next;
	char *buf = bufs[next++ % 4];
	buf[0] = 0;
	static const struct {
		int bit;
		const char *name;
	} names[] = {{0x001, "IN"}, {0x002, "PRI"}, {0x004, "OUT"}, {0x008, "ERR"}, {0x010, "HUP"}, {0x020, "NVAL"},
		     {0x040, "RDNORM"}, {0x080, "RDBAND"}, {0x100, "WRNORM"}, {0x200, "WRBAND"}, {0x2000, "RDHUP"}};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (revents & names[i].bit) {
			if (buf[0])
				strcat(buf, "|");
			strcat(buf, names[i].name);
		}
	}
	if (!buf[0])
		strcpy(buf, "0");
	return buf;
}

#ifdef AF_INET
/* 127.0.0.1:port. */
static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	return a;
}

/* The port a socket is bound to. */
static int port_of(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	must("getsockname", getsockname(fd, (struct sockaddr *)&a, &len));
	return ntohs(a.sin_port);
}
#endif
