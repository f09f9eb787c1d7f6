/* Name and service resolution through glibc, the way programs use it: getaddrinfo over /etc/hosts
 * and numeric forms, service and protocol names (/etc/services, /etc/protocols), getnameinfo. Nothing
 * here asks a DNS server. Built dynamic, so glibc's own NSS code runs as it does on the host. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static void lookup(const char *host, const char *service, int flags)
{
	struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM, .ai_flags = flags}, *res;
	int r = getaddrinfo(host, service, &hints, &res);
	printf("getaddrinfo(%s, %s, %#x): ", host ? host : "NULL", service ? service : "NULL", flags);
	if (r != 0) {
		printf("%s\n", gai_strerror(r));
		return;
	}
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		struct sockaddr_in *in = (struct sockaddr_in *)a->ai_addr;
		printf("%s:%d proto %d%s", inet_ntoa(in->sin_addr), ntohs(in->sin_port), a->ai_protocol,
		       a->ai_next ? ", " : "\n");
	}
	freeaddrinfo(res);
}

int main(void)
{
	lookup("localhost", "8080", 0);
	lookup("127.0.0.1", "80", AI_NUMERICHOST);
	lookup(NULL, "8080", AI_PASSIVE);
	lookup(NULL, "8080", 0);
	lookup("10.1.2.3", "0", AI_NUMERICHOST | AI_NUMERICSERV);
	lookup("not a number", "80", AI_NUMERICHOST);
	lookup("localhost", "not-a-service-name", 0);
	lookup("localhost", "http", 0);
	struct servent *s = getservbyname("ssh", "tcp");
	printf("getservbyname ssh/tcp: %d\n", s ? ntohs(s->s_port) : -1);
	s = getservbyport(htons(443), "tcp");
	printf("getservbyport 443/tcp: %s\n", s ? s->s_name : "(none)");
	struct protoent *p = getprotobyname("udp");
	printf("getprotobyname udp: %d\n", p ? p->p_proto : -1);
	struct sockaddr_in at = {.sin_family = AF_INET, .sin_port = htons(80), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	char host[64], serv[32];
	int r = getnameinfo((struct sockaddr *)&at, sizeof(at), host, sizeof(host), serv, sizeof(serv),
			    NI_NUMERICHOST | NI_NUMERICSERV);
	printf("getnameinfo numeric: %d %s %s\n", r, host, serv);
	r = getnameinfo((struct sockaddr *)&at, sizeof(at), host, sizeof(host), serv, sizeof(serv), NI_NUMERICHOST);
	printf("getnameinfo service name: %d %s\n", r, r == 0 ? serv : "");
	printf("inet_pton: %d, bad: %d\n", inet_pton(AF_INET, "192.168.1.1", &at.sin_addr),
	       inet_pton(AF_INET, "192.168.1", &at.sin_addr));
	printf("done\n");
	return 0;
}
