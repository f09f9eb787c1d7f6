/* The Internet checksum (RFC 1071), summed 32 bits at a time into a 64-bit accumulator. The ones'
 * complement sum does not depend on byte order, so it is computed over memory as it lies (little
 * endian) and the folded result is stored back as it lies. */
#include "net/net.h"

typedef uint32_t __attribute__((may_alias, aligned(1))) unaligned_u32;
typedef uint16_t __attribute__((may_alias, aligned(1))) unaligned_u16;

uint64_t csum_partial(const void *data, size_t len, uint64_t sum)
{
	const uint8_t *p = data;
	while (len >= 16) {
		sum += (uint64_t)*(const unaligned_u32 *)p + *(const unaligned_u32 *)(p + 4) +
		       *(const unaligned_u32 *)(p + 8) + *(const unaligned_u32 *)(p + 12);
		p += 16;
		len -= 16;
	}
	while (len >= 4) {
		sum += *(const unaligned_u32 *)p;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		sum += *(const unaligned_u16 *)p;
		p += 2;
		len -= 2;
	}
	if (len)
		sum += *p; /* the odd byte is the high-order byte of a big-endian word: low byte in memory order */
	return sum;
}

uint16_t csum_fold_raw(uint64_t sum)
{
	sum = (sum & 0xffffffffUL) + (sum >> 32);
	sum = (sum & 0xffffffffUL) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

uint16_t csum_fold(uint64_t sum) { return (uint16_t)~csum_fold_raw(sum); }

uint64_t csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
	/* As the 12 bytes lie in memory: src, dst, 0, proto, length (each field big endian). */
	return (uint64_t)htonl(src) + htonl(dst) + htons(proto) + htons(len);
}
