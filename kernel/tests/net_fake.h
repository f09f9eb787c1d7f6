/* The fake Ethernet interface that the host programs testing the network stack drive (net_test.c,
 * net_fuzz.c; built with net_fake.c and net_shim.c): frames go in through inbox at the next poll, the
 * peer's answers to ARP requests are queued there too, and what the stack sends goes to the program's
 * own transmit function. Also builds IPv4 frames from the peer and reads and writes sockets. */
#pragma once
#include "lib.h"
#include "net/netif.h"
#include "net/socket.h"

#define US IP4(10, 0, 0, 2)
#define PEER IP4(10, 0, 0, 1)

extern const uint8_t our_mac[6], peer_mac[6];
extern struct netif fake;
extern struct netbuf_queue inbox;

/* Registers `fake` as eth0 with US/24, sending through transmit. */
void fake_setup(void (*transmit)(struct netif *ifp, struct netbuf *nb));
/* When frame f is our ARP request for PEER: queues the peer's reply and returns true. */
bool fake_answer_arp(const uint8_t *f, uint32_t len);
/* Queues a copy of frame and runs the stack. */
void inject(const uint8_t *frame, uint32_t len);
/* An Ethernet + IPv4 frame from PEER to US around len payload bytes (which may already sit at
 * f + 34); its length. */
uint32_t build_ip(uint8_t *f, uint8_t proto, const uint8_t *payload, uint32_t len, uint16_t id, uint16_t frag);
/* Non-blocking reads and writes of n bytes through the socket API (user memory is host memory). */
long sock_read(struct socket *s, void *buf, size_t n, int flags);
long sock_write(struct socket *s, const void *buf, size_t n);
