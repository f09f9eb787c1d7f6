/* Cursors over user iovecs (net/socket.h) and the byte ring TCP buffers are made of. User memory is
 * only touched through copy_from_user/copy_to_user, so a bad pointer gives -EFAULT. */
#include "errno.h"
#include "lib.h"
#include "mm/mm.h"
#include "net/socket.h"

void iov_iter_init(struct iov_iter *it, const struct user_iovec *iov, int count)
{
	it->iov = iov;
	it->count = count;
	it->offset = 0;
	it->remaining = 0;
	for (int i = 0; i < count; i++)
		it->remaining += iov[i].len;
	while (it->count && it->iov->len == 0) {
		it->iov++;
		it->count--;
	}
}

void iov_advance(struct iov_iter *it, size_t n)
{
	it->remaining -= n;
	while (n && it->count) {
		uint64_t left = it->iov->len - it->offset;
		uint64_t step = MIN(left, n);
		it->offset += step;
		n -= step;
		if (it->offset == it->iov->len) {
			it->iov++;
			it->count--;
			it->offset = 0;
		}
	}
	while (it->count && it->iov->len == 0) {
		it->iov++;
		it->count--;
	}
}

long iov_copy_from_user(struct iov_iter *it, void *dst, size_t n)
{
	size_t done = 0;
	n = MIN(n, it->remaining);
	while (done < n) {
		uint64_t step = MIN(it->iov->len - it->offset, n - done);
		if (copy_from_user((uint8_t *)dst + done, it->iov->base + it->offset, step) < 0)
			return done ? (long)done : -EFAULT;
		iov_advance(it, step);
		done += step;
	}
	return (long)done;
}

long iov_copy_to_user(struct iov_iter *it, const void *src, size_t n)
{
	size_t done = 0;
	n = MIN(n, it->remaining);
	while (done < n) {
		uint64_t step = MIN(it->iov->len - it->offset, n - done);
		if (copy_to_user(it->iov->base + it->offset, (const uint8_t *)src + done, step) < 0)
			return done ? (long)done : -EFAULT;
		iov_advance(it, step);
		done += step;
	}
	return (long)done;
}

/* Allocations are a heap block (2 KiB, less the heap's 16-byte header) or whole pages less the same. */
#define RING_FIRST_SIZE (2048 - 16)

int ring_init(struct ring *r, uint32_t capacity)
{
	uint32_t size = MIN(capacity, RING_FIRST_SIZE);
	r->buf = kmalloc(size);
	if (!r->buf)
		return -ENOMEM;
	r->capacity = capacity;
	r->size = size;
	r->head = r->len = 0;
	return 0;
}

void ring_free(struct ring *r)
{
	kfree(r->buf);
	r->buf = NULL;
	r->capacity = r->size = r->head = r->len = 0;
}

/* Makes room for n more bytes (n <= ring_space) if memory allows; the bytes that now fit. */
static uint32_t ring_room(struct ring *r, uint32_t n)
{
	if (r->len + n > r->size) {
		uint64_t size = r->size;
		while (size < r->len + n)
			size = (size + 16) * 2 - 16;
		size = MIN(size, r->capacity);
		uint8_t *buf = kmalloc(size);
		if (buf) {
			ring_peek(r, 0, buf, r->len);
			kfree(r->buf);
			r->buf = buf;
			r->size = (uint32_t)size;
			r->head = 0;
		}
	}
	return MIN(n, r->size - r->len);
}

uint32_t ring_write(struct ring *r, const void *src, uint32_t n)
{
	n = ring_room(r, MIN(n, ring_space(r)));
	uint32_t tail = (r->head + r->len) % r->size;
	uint32_t first = MIN(n, r->size - tail);
	memcpy(r->buf + tail, src, first);
	memcpy(r->buf, (const uint8_t *)src + first, n - first);
	r->len += n;
	return n;
}

long ring_write_user(struct ring *r, struct iov_iter *it, uint32_t n)
{
	n = MIN(n, ring_space(r));
	if (n && !(n = ring_room(r, n)))
		return -ENOBUFS;
	uint32_t done = 0;
	while (done < n) {
		uint32_t tail = (r->head + r->len) % r->size;
		uint32_t step = MIN(n - done, r->size - tail);
		long got = iov_copy_from_user(it, r->buf + tail, step);
		if (got < 0)
			return done ? (long)done : got;
		r->len += (uint32_t)got;
		done += (uint32_t)got;
		if ((uint32_t)got < step)
			break;
	}
	return done;
}

void ring_peek(const struct ring *r, uint32_t offset, void *dst, uint32_t n)
{
	uint32_t at = (r->head + offset) % r->size;
	uint32_t first = MIN(n, r->size - at);
	memcpy(dst, r->buf + at, first);
	memcpy((uint8_t *)dst + first, r->buf, n - first);
}

long ring_read_user(struct ring *r, struct iov_iter *it, uint32_t n, bool peek)
{
	n = MIN(n, r->len);
	uint32_t done = 0;
	while (done < n) {
		uint32_t at = (r->head + done) % r->size;
		uint32_t step = MIN(n - done, r->size - at);
		long put = iov_copy_to_user(it, r->buf + at, step);
		if (put < 0) {
			if (!done)
				return put;
			break;
		}
		done += (uint32_t)put;
		if ((uint32_t)put < step)
			break;
	}
	if (!peek)
		ring_discard(r, done);
	return done;
}

void ring_discard(struct ring *r, uint32_t n)
{
	n = MIN(n, r->len);
	if (!n)
		return; /* also: a ring never allocated has no size to divide by */
	r->head = (r->head + n) % r->size;
	r->len -= n;
	if (r->len == 0)
		r->head = 0; /* keeps later copies in one piece */
}
