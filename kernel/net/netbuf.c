/* Packet buffer allocation (net/netbuf.h). Buffers come from the kernel heap, which hands out
 * physically contiguous memory, so drivers can give them to devices as one DMA segment. */
#include "lib.h"
#include "mm/mm.h"
#include "net/net.h"
#include "net/netbuf.h"

struct netbuf *netbuf_alloc(uint32_t len, uint32_t headroom)
{
	uint32_t size = headroom + len;
	if (size < len)
		return NULL;
	struct netbuf *nb = kmalloc(sizeof(*nb) + size);
	if (!nb) {
		net_stats.out_of_memory++;
		return NULL;
	}
	nb->next = NULL;
	nb->data = nb->buf + headroom;
	nb->len = len;
	nb->size = size;
	nb->netif = NULL;
	nb->flags = 0;
	nb->csum_start = NULL;
	nb->gso_size = 0;
	nb->csum_offset = 0;
	return nb;
}

void netbuf_free(struct netbuf *nb) { kfree(nb); }

struct netbuf *netbuf_clone(const struct netbuf *nb, uint32_t headroom)
{
	struct netbuf *copy = netbuf_alloc(nb->len, headroom);
	if (!copy)
		return NULL;
	memcpy(copy->data, nb->data, nb->len);
	copy->netif = nb->netif;
	copy->flags = nb->flags & ~NB_CSUM_PARTIAL;
	return copy;
}
