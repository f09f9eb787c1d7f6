/* Random bytes for getrandom and AT_RANDOM: a ChaCha20 keystream keyed at first use from the TSC
 * and, where the CPU has it (and we are not in PVM-safe mode), RDRAND. */
#include "arch/x86_64/cpu.h"
#include "lib.h"
#include "errno.h"
#include "linux/linux.h"

static uint32_t state[16];
static bool seeded;

static inline uint32_t rotl(uint32_t v, int n) { return (v << n) | (v >> (32 - n)); }

#define QR(a, b, c, d)                                                                               \
	(a += b, d = rotl(d ^ a, 16), c += d, b = rotl(b ^ c, 12), a += b, d = rotl(d ^ a, 8), c += d, \
	 b = rotl(b ^ c, 7))

static void chacha_block(uint8_t out[64])
{
	uint32_t x[16];
	memcpy(x, state, sizeof(x));
	for (int i = 0; i < 10; i++) {
		QR(x[0], x[4], x[8], x[12]);
		QR(x[1], x[5], x[9], x[13]);
		QR(x[2], x[6], x[10], x[14]);
		QR(x[3], x[7], x[11], x[15]);
		QR(x[0], x[5], x[10], x[15]);
		QR(x[1], x[6], x[11], x[12]);
		QR(x[2], x[7], x[8], x[13]);
		QR(x[3], x[4], x[9], x[14]);
	}
	for (int i = 0; i < 16; i++)
		x[i] += state[i];
	memcpy(out, x, 64);
	if (++state[12] == 0)
		state[13]++;
}

static uint64_t hardware_random(void)
{
	uint64_t v = 0;
	if (cpu.rdrand && !cpu.pvm_safe) {
		for (int tries = 0; tries < 10; tries++) {
			uint8_t ok;
			__asm__ volatile("rdrand %0; setc %1" : "=r"(v), "=qm"(ok));
			if (ok)
				return v;
		}
	}
	return v;
}

static void seed(void)
{
	state[0] = 0x61707865, state[1] = 0x3320646e, state[2] = 0x79622d32, state[3] = 0x6b206574;
	for (int i = 4; i < 12; i += 2) {
		uint64_t v = hardware_random() ^ (rdtsc() * 0x9e3779b97f4a7c15UL);
		state[i] = (uint32_t)v;
		state[i + 1] = (uint32_t)(v >> 32);
	}
	state[14] = (uint32_t)rdtsc();
	seeded = true;
}

void random_bytes(void *buf, size_t n)
{
	if (!seeded)
		seed();
	uint8_t block[64], *out = buf;
	while (n) {
		chacha_block(block);
		size_t chunk = MIN(n, sizeof(block));
		memcpy(out, block, chunk);
		out += chunk;
		n -= chunk;
	}
	/* Rekey so that earlier output cannot be recomputed from the state. */
	chacha_block(block);
	memcpy(&state[4], block, 32);
}

long random_to_user(uint64_t user_buf, size_t n)
{
	uint8_t chunk[256];
	size_t done = 0;
	while (done < n) {
		size_t len = MIN(n - done, sizeof(chunk));
		random_bytes(chunk, len);
		if (copy_to_user(user_buf + done, chunk, len) < 0)
			return done ? (long)done : -EFAULT;
		done += len;
	}
	return (long)done;
}
