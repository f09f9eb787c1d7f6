/* UDP for the kernel's own users (the DHCP client): sending without a socket and taking a port. */
#pragma once
#include "net/net.h"

struct ip_packet;
struct ip_send_options;
/* Called with the payload of each datagram to the port (nb->data after the UDP header); takes nb. */
typedef void (*udp_kernel_handler)(struct netbuf *nb, const struct ip_packet *ip, uint16_t src_port);
void udp_kernel_port(uint16_t port, udp_kernel_handler handler);
/* Prepends a UDP header to the payload in nb and sends it; takes nb. 0 or -errno. */
int udp_send_raw(struct netbuf *nb, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
		 const struct ip_send_options *options);
