/* TCP_INFO of a loopback connection (the options both ends agreed: timestamps, SACK, window scaling);
 * interface ioctls on the loopback interface (what any Linux has: lo, index 1, 127.0.0.1/8) through
 * an AF_INET and an AF_UNIX socket and glibc's if_nametoindex/if_indextoname; and sendmmsg/recvmmsg
 * batches over UDP on 127.0.0.1 and an AF_UNIX datagram pair. Printed so Linux and osv must agree. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net_common.h"

static void show_addr(const char *what, int fd, unsigned long cmd, const char *name)
{
	struct ifreq r;
	memset(&r, 0, sizeof(r));
	strncpy(r.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(fd, cmd, &r) < 0) {
		printf("%s %s: -1 %s\n", what, name, errno_name(errno));
		return;
	}
	struct sockaddr_in *a = (struct sockaddr_in *)&r.ifr_addr;
	printf("%s %s: family %d %s\n", what, name, a->sin_family, inet_ntoa(a->sin_addr));
}

static void interfaces(int fd, const char *kind)
{
	printf("-- through an %s socket\n", kind);
	struct ifreq r;
	memset(&r, 0, sizeof(r));
	strcpy(r.ifr_name, "lo");
	show("SIOCGIFINDEX lo", ioctl(fd, SIOCGIFINDEX, &r));
	printf("index: %d\n", r.ifr_ifindex);
	show("SIOCGIFFLAGS lo", ioctl(fd, SIOCGIFFLAGS, &r));
	printf("flags: up %d loopback %d running %d broadcast %d\n", !!(r.ifr_flags & IFF_UP),
	       !!(r.ifr_flags & IFF_LOOPBACK), !!(r.ifr_flags & IFF_RUNNING), !!(r.ifr_flags & IFF_BROADCAST));
	show_addr("SIOCGIFADDR", fd, SIOCGIFADDR, "lo");
	show_addr("SIOCGIFNETMASK", fd, SIOCGIFNETMASK, "lo");
	show_addr("SIOCGIFADDR", fd, SIOCGIFADDR, "nosuch0");
	show("SIOCGIFMTU lo", ioctl(fd, SIOCGIFMTU, &r));
	printf("mtu positive: %d\n", r.ifr_mtu > 0);
	show("SIOCGIFHWADDR lo", ioctl(fd, SIOCGIFHWADDR, &r));
	printf("hardware family: %d, address zero: %d\n", r.ifr_hwaddr.sa_family,
	       memcmp(r.ifr_hwaddr.sa_data, "\0\0\0\0\0\0", 6) == 0);
	memset(&r, 0, sizeof(r));
	r.ifr_ifindex = 1;
	show("SIOCGIFNAME 1", ioctl(fd, SIOCGIFNAME, &r));
	printf("name: %s\n", r.ifr_name);
	struct ifreq list[16];
	struct ifconf conf = {.ifc_len = sizeof(list), .ifc_req = list};
	show("SIOCGIFCONF", ioctl(fd, SIOCGIFCONF, &conf));
	int found = 0;
	for (int i = 0; i < conf.ifc_len / (int)sizeof(struct ifreq); i++)
		if (strcmp(list[i].ifr_name, "lo") == 0)
			found = strcmp(inet_ntoa(((struct sockaddr_in *)&list[i].ifr_addr)->sin_addr), "127.0.0.1") == 0;
	printf("lo listed with 127.0.0.1: %d\n", found);
	struct ifconf sizing = {.ifc_len = 0, .ifc_buf = NULL};
	show("SIOCGIFCONF sizing", ioctl(fd, SIOCGIFCONF, &sizing));
	printf("sizing agrees: %d\n", sizing.ifc_len == conf.ifc_len);
}

static void batches(int tx, int rx, const struct sockaddr *to, socklen_t to_len, const char *kind)
{
	printf("-- batches over %s\n", kind);
	char payload[3][8] = {"first", "second", "third"};
	struct iovec iov[3];
	struct mmsghdr out[3];
	memset(out, 0, sizeof(out));
	for (int i = 0; i < 3; i++) {
		iov[i] = (struct iovec){payload[i], strlen(payload[i])};
		out[i].msg_hdr = (struct msghdr){.msg_name = (void *)to, .msg_namelen = to_len, .msg_iov = &iov[i], .msg_iovlen = 1};
	}
	show("sendmmsg", sendmmsg(tx, out, 3, 0));
	printf("lengths: %u %u %u\n", out[0].msg_len, out[1].msg_len, out[2].msg_len);
	char buf[4][16];
	struct iovec riov[4];
	struct mmsghdr in[4];
	memset(in, 0, sizeof(in));
	memset(buf, 0, sizeof(buf));
	for (int i = 0; i < 4; i++) {
		riov[i] = (struct iovec){buf[i], sizeof(buf[i])};
		in[i].msg_hdr = (struct msghdr){.msg_iov = &riov[i], .msg_iovlen = 1};
	}
	show("recvmmsg, wait for one", recvmmsg(rx, in, 4, MSG_WAITFORONE, NULL));
	printf("got: %s %s %s (%u %u %u)\n", buf[0], buf[1], buf[2], in[0].msg_len, in[1].msg_len, in[2].msg_len);
	show("recvmmsg, nothing there", recvmmsg(rx, in, 4, MSG_DONTWAIT, NULL));
}

static void show_tcp_info(const char *what, int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0) {
		printf("%s: TCP_INFO -1 %s\n", what, errno_name(errno));
		return;
	}
	printf("%s: state %d timestamps %d sack %d wscale %d, mss positive %d, rto positive %d\n", what,
	       ti.tcpi_state, !!(ti.tcpi_options & TCPI_OPT_TIMESTAMPS), !!(ti.tcpi_options & TCPI_OPT_SACK),
	       !!(ti.tcpi_options & TCPI_OPT_WSCALE), ti.tcpi_snd_mss > 0, ti.tcpi_rto > 0);
}

static void tcp_connection(void)
{
	printf("-- TCP_INFO\n");
	int l = (int)must("socket", socket(AF_INET, SOCK_STREAM, 0));
	struct sockaddr_in at = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	must("bind", bind(l, (struct sockaddr *)&at, sizeof(at)));
	must("listen", listen(l, 1));
	show_tcp_info("listener", l);
	socklen_t len = sizeof(at);
	must("getsockname", getsockname(l, (struct sockaddr *)&at, &len));
	int c = (int)must("socket", socket(AF_INET, SOCK_STREAM, 0));
	must("connect", connect(c, (struct sockaddr *)&at, sizeof(at)));
	int s = (int)must("accept", accept(l, NULL, NULL));
	show_tcp_info("client", c);
	show_tcp_info("server", s);
	char buf[4096] = {0};
	for (int i = 0; i < 64; i++) /* data both ways with timestamps in every segment */
		if (write(c, buf, sizeof(buf)) != sizeof(buf) || read(s, buf, sizeof(buf)) <= 0)
			printf("FAILED transfer %d\n", i);
	show_tcp_info("client after data", c);
	shutdown(c, SHUT_WR);
	show("server reads EOF", read(s, buf, sizeof(buf)));
	show_tcp_info("server after the FIN", s);
	close(c);
	close(s);
	close(l);
}

int main(void)
{
	tcp_connection();
	int inet = (int)must("socket", socket(AF_INET, SOCK_DGRAM, 0));
	int local = (int)must("socket", socket(AF_UNIX, SOCK_DGRAM, 0));
	interfaces(inet, "AF_INET");
	interfaces(local, "AF_UNIX");
	printf("if_nametoindex lo: %u\n", if_nametoindex("lo"));
	char name[IF_NAMESIZE] = {0};
	printf("if_indextoname 1: %s\n", if_indextoname(1, name) ? name : "(none)");
	printf("if_nametoindex nosuch0: %u\n", if_nametoindex("nosuch0"));

	int rx = (int)must("socket", socket(AF_INET, SOCK_DGRAM, 0));
	struct sockaddr_in at = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	must("bind", bind(rx, (struct sockaddr *)&at, sizeof(at)));
	socklen_t len = sizeof(at);
	must("getsockname", getsockname(rx, (struct sockaddr *)&at, &len));
	batches(inet, rx, (struct sockaddr *)&at, sizeof(at), "UDP");
	int sv[2];
	must("socketpair", socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
	batches(sv[0], sv[1], NULL, 0, "an AF_UNIX pair");
	printf("done\n");
	return 0;
}
