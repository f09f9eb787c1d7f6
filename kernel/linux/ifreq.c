/* The interface ioctls every kind of socket answers (SIOCGIF*): what glibc's if_nametoindex,
 * if_indextoname and the ifconfig-style tools ask. Read-only: the SIOCSIF* calls fail with EOPNOTSUPP. */
#include "errno.h"
#include "lib.h"
#include "mm/mm.h"
#include "net/ip.h"
#include "net/netif.h"

#define SIOCGIFNAME 0x8910
#define SIOCGIFCONF 0x8912
#define SIOCGIFFLAGS 0x8913
#define SIOCSIFFLAGS 0x8914
#define SIOCGIFADDR 0x8915
#define SIOCSIFADDR 0x8916
#define SIOCGIFBRDADDR 0x8919
#define SIOCGIFNETMASK 0x891b
#define SIOCGIFMTU 0x8921
#define SIOCSIFMTU 0x8922
#define SIOCGIFHWADDR 0x8927
#define SIOCGIFINDEX 0x8933
#define ARPHRD_ETHER 1
#define ARPHRD_LOOPBACK 772
#define AF_INET_FAMILY 2

/* struct ifreq: a name and a 24-byte union (an address, flags, an index, the MTU...). */
struct ifreq {
	char name[IFNAMSIZ];
	union {
		struct {
			uint16_t family;
			uint8_t data[14];
		} addr;
		int16_t flags;
		int32_t value;
		uint8_t pad[24];
	} u;
};

/* struct ifconf: the buffer's length (in/out) and its user address. */
struct ifconf {
	int32_t len, pad;
	uint64_t buf;
};

static void put_inet(struct ifreq *r, uint32_t addr)
{
	r->u.addr.family = AF_INET_FAMILY;
	uint32_t be = htonl(addr);
	memcpy(r->u.addr.data + 2, &be, 4); /* sockaddr_in: port first, then the address */
}

static long list_interfaces(uint64_t arg)
{
	struct ifconf conf;
	if (copy_from_user(&conf, arg, sizeof(conf)) < 0)
		return -EFAULT;
	int32_t used = 0;
	for (int i = 0; i < netif_count(); i++) {
		struct netif *ifp = netif_at(i);
		if (!ifp->addr)
			continue; /* as Linux: only interfaces with an IPv4 address */
		if (conf.buf) {
			if (used + (int32_t)sizeof(struct ifreq) > conf.len)
				break;
			struct ifreq r;
			memset(&r, 0, sizeof(r));
			memcpy(r.name, ifp->name, IFNAMSIZ);
			put_inet(&r, ifp->addr);
			if (copy_to_user(conf.buf + (uint64_t)used, &r, sizeof(r)) < 0)
				return -EFAULT;
		}
		used += (int32_t)sizeof(struct ifreq);
	}
	return copy_to_user(arg, &used, sizeof(used));
}

long netif_ioctl(uint64_t cmd, uint64_t arg, bool inet)
{
	if (!inet && (cmd == SIOCGIFADDR || cmd == SIOCGIFBRDADDR || cmd == SIOCGIFNETMASK))
		return -ENOTTY; /* IPv4 addresses are asked of AF_INET sockets (Linux's devinet_ioctl) */
	switch (cmd) {
	case SIOCGIFCONF:
		return list_interfaces(arg);
	case SIOCSIFFLAGS:
	case SIOCSIFADDR:
	case SIOCSIFMTU:
		return -EOPNOTSUPP;
	case SIOCGIFNAME:
	case SIOCGIFFLAGS:
	case SIOCGIFADDR:
	case SIOCGIFBRDADDR:
	case SIOCGIFNETMASK:
	case SIOCGIFMTU:
	case SIOCGIFHWADDR:
	case SIOCGIFINDEX:
		break;
	default:
		return -ENOTTY;
	}
	struct ifreq r;
	if (copy_from_user(&r, arg, sizeof(r)) < 0)
		return -EFAULT;
	struct netif *ifp;
	if (cmd == SIOCGIFNAME) {
		ifp = netif_by_index(r.u.value);
	} else {
		r.name[IFNAMSIZ - 1] = 0;
		ifp = netif_by_name(r.name);
	}
	if (!ifp)
		return -ENODEV;
	memset(&r.u, 0, sizeof(r.u));
	switch (cmd) {
	case SIOCGIFNAME:
		memcpy(r.name, ifp->name, IFNAMSIZ);
		r.u.value = ifp->index;
		break;
	case SIOCGIFFLAGS:
		r.u.flags = (int16_t)ifp->flags;
		break;
	case SIOCGIFADDR:
	case SIOCGIFBRDADDR:
	case SIOCGIFNETMASK:
		if (!ifp->addr)
			return -EADDRNOTAVAIL;
		put_inet(&r, cmd == SIOCGIFADDR      ? ifp->addr
			     : cmd == SIOCGIFNETMASK ? ifp->netmask
			     : (ifp->flags & IFF_BROADCAST) ? (ifp->addr | ~ifp->netmask)
							    : 0);
		break;
	case SIOCGIFMTU:
		r.u.value = (int32_t)ifp->mtu;
		break;
	case SIOCGIFHWADDR:
		r.u.addr.family = ifp->ethernet ? ARPHRD_ETHER : ARPHRD_LOOPBACK;
		memcpy(r.u.addr.data, ifp->mac, ETH_ALEN);
		break;
	case SIOCGIFINDEX:
		r.u.value = ifp->index;
		break;
	}
	return copy_to_user(arg, &r, sizeof(r));
}
