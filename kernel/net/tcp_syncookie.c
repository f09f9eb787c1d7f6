/* SYN cookies: when a listener's half-open queue is full (a SYN flood), a SYN is answered without
 * keeping any state; the SYN-ACK's sequence number carries what the connection needs (a time slot, the
 * peer's MSS class and a keyed hash of the addresses, ports and the peer's ISN), and the handshake's
 * last ACK, proving the peer got it, makes the connection. So a flood delays real clients by a round
 * trip at most instead of locking them out until the half-open entries time out. Such connections
 * have no window scaling, SACK or timestamps: the SYN's options are not kept. */
#include "arch/x86_64/clock.h"
#include "lib.h"
#include "net/ip.h"
#include "net/tcp.h"

#define SLOT_NS (64UL * 1000000000UL) /* a cookie is good in its 64 s slot and the next */
#define HASH_BITS 24

/* MSS classes a cookie can name (3 bits): the largest one not above the peer's MSS is used. */
static const uint16_t mss_classes[8] = {536, 1220, 1360, 1440, 1460, 4036, 8960, 16344};

static uint64_t secret[2];

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdUL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53UL;
	x ^= x >> 33;
	return x;
}

/* A keyed hash of the connection and the cookie's other fields. */
static uint32_t cookie_hash(const struct tcp_cookie_id *id, uint32_t slot, uint32_t mss_class)
{
	if (!secret[0] && !secret[1]) {
		secret[0] = (uint64_t)net_random32() << 32 | net_random32();
		secret[1] = (uint64_t)net_random32() << 32 | net_random32() | 1;
	}
	uint64_t h = mix(secret[0] ^ ((uint64_t)id->src << 32 | id->dst));
	h = mix(h ^ secret[1] ^ ((uint64_t)id->sport << 48 | (uint64_t)id->dport << 32 | id->peer_isn));
	h = mix(h ^ ((uint64_t)slot << 8 | mss_class));
	return (uint32_t)h & ((1u << HASH_BITS) - 1);
}

static uint32_t current_slot(void) { return (uint32_t)(clock_monotonic_ns() / SLOT_NS) & 0x1f; }

uint32_t tcp_cookie_make(const struct tcp_cookie_id *id, uint16_t peer_mss, uint16_t *mss_out)
{
	uint32_t mss_class = 0;
	for (uint32_t i = 0; i < ARRAY_SIZE(mss_classes); i++)
		if (mss_classes[i] <= peer_mss)
			mss_class = i;
	*mss_out = mss_classes[mss_class];
	uint32_t slot = current_slot();
	return slot << 27 | mss_class << HASH_BITS | cookie_hash(id, slot, mss_class);
}

bool tcp_cookie_check(const struct tcp_cookie_id *id, uint32_t cookie, uint16_t *mss_out)
{
	uint32_t slot = cookie >> 27, mss_class = (cookie >> HASH_BITS) & 7, now = current_slot();
	if (slot != now && slot != ((now - 1) & 0x1f))
		return false; /* too old (or from the future) */
	if (cookie_hash(id, slot, mss_class) != (cookie & ((1u << HASH_BITS) - 1)))
		return false;
	*mss_out = mss_classes[mss_class];
	return true;
}
