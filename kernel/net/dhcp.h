/* The DHCP client (net/dhcp.c). */
#pragma once

struct netif;
/* Configures ifp by DHCP (RFC 2131): discover, offer, request, ack, waiting at most DHCP_BOOT_NS; the
 * lease is then renewed in the background. Without an answer the interface stays unconfigured. */
void dhcp_start(struct netif *ifp);
