/* virtio-net (virtio 1.x §5.1): one receive and one transmit queue, interrupt driven. Every receive
 * buffer is posted at start (NET_RX_BUFFERS of them in flight); with VIRTIO_NET_F_MRG_RXBUF a frame may
 * span several, as the header's num_buffers says. Frames are copied out of the ring into a netbuf and
 * the buffers go straight back. Sent netbufs are handed to the device as they are (the header goes in
 * their headroom) and freed once used; when the ring is full they wait in a bounded backlog. With
 * VIRTIO_NET_F_CSUM the device completes TCP/UDP checksums (NB_CSUM_PARTIAL); with GUEST_CSUM it marks
 * frames whose checksum it checked or that the host left partial. With VIRTIO_NET_F_HOST_TSO4 TCP
 * hands it super-segments of up to 64 KiB (netbuf.gso_size) that the device cuts into MSS-sized ones. The MAC comes from the config when
 * offered (VIRTIO_NET_F_MAC). Probed by the virtio core for device type 1; registers ethN. */
#include "arch/x86_64/clock.h"
#include "drivers/virtio.h"
#include "errno.h"
#include "lib.h"
#include "mm/mm.h"
#include "net/netif.h"
#include "param.h"
#include "sched/deferred.h"

#define VIRTIO_NET_F_CSUM 0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MTU 3
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_HOST_TSO4 11
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16

#define HDR_F_NEEDS_CSUM 1
#define HDR_F_DATA_VALID 2
#define GSO_NONE 0
#define GSO_TCPV4 1

#define CONFIG_MAC 0
#define CONFIG_MTU 10

#define RXQ 0
#define TXQ 1
#define RX_BUFFER_SIZE 2048 /* a full frame and the header fit, so frames span buffers only if the device likes */
#define MAX_FRAME 65536

struct virtio_net_hdr {
	uint8_t flags, gso_type;
	uint16_t hdr_len, gso_size, csum_start, csum_offset;
	uint16_t num_buffers; /* only with VERSION_1 or MRG_RXBUF */
} PACKED;

struct vnet {
	struct netif netif;
	struct virtio_device *vdev;
	struct virtqueue *rxq, *txq;
	uint32_t hdr_len;      /* 12, or 10 for legacy devices without MRG_RXBUF */
	bool mergeable;
	bool split_header;     /* legacy without ANY_LAYOUT: the header in its own descriptor */
	int rx_count;
	uint8_t *rx_buffers[NET_RX_BUFFERS];
	struct netbuf_queue backlog; /* frames waiting for room in the transmit queue */
	uint16_t tx_used_seen;       /* the transmit queue's used index when it last moved ... */
	uint64_t tx_used_moved;      /* ... and when that was */
};

static int nic_count;

static void interrupt(struct virtio_device *dev) { deferred_kick(); }

static int post_rx(struct vnet *n, int index)
{
	uint8_t *buf = n->rx_buffers[index];
	void *cookie = (void *)(uintptr_t)(index + 1);
	if (n->split_header) {
		struct virtq_buffer b[2] = {{virt_to_phys(buf), n->hdr_len, true},
					    {virt_to_phys(buf + n->hdr_len), RX_BUFFER_SIZE - n->hdr_len, true}};
		return virtq_add(n->rxq, b, 2, cookie);
	}
	struct virtq_buffer b = {virt_to_phys(buf), RX_BUFFER_SIZE, true};
	return virtq_add(n->rxq, &b, 1, cookie);
}

/* Takes the next used receive buffer: its index (or -1) and the bytes the device wrote. */
static int take_rx(struct vnet *n, uint32_t *len)
{
	void *cookie = virtq_get_used(n->rxq, len);
	if (!cookie)
		return -1;
	int index = (int)((uintptr_t)cookie - 1);
	if (index < 0 || index >= n->rx_count)
		return -1;
	if (*len > RX_BUFFER_SIZE)
		*len = RX_BUFFER_SIZE;
	return index;
}

/* One received frame (maybe several buffers) into a netbuf; NULL when it is malformed or memory is
 * out. The buffers are posted again either way. */
static struct netbuf *receive_frame(struct vnet *n, int first, uint32_t len)
{
	struct netbuf *nb = NULL;
	uint8_t *buf = n->rx_buffers[first];
	struct virtio_net_hdr hdr = {0};
	memcpy(&hdr, buf, MIN(n->hdr_len, (uint32_t)sizeof(hdr)));
	uint16_t count = n->mergeable ? hdr.num_buffers : 1;
	int indexes[32];
	uint32_t lengths[32];
	indexes[0] = first;
	lengths[0] = len;
	int taken = 1;
	bool bad = len < n->hdr_len || count == 0 || count > ARRAY_SIZE(indexes);
	for (; !bad && taken < count; taken++) {
		indexes[taken] = take_rx(n, &lengths[taken]);
		if (indexes[taken] < 0)
			bad = true; /* the device promised more buffers than it returned */
	}
	uint32_t total = 0;
	for (int i = 0; i < taken && !bad; i++)
		total += lengths[i] - (i == 0 ? n->hdr_len : 0);
	if (!bad && total >= ETH_HEADER_LEN && total <= MAX_FRAME && (nb = netbuf_alloc(total, 2))) {
		uint32_t at = 0;
		for (int i = 0; i < taken; i++) {
			uint32_t skip = i == 0 ? n->hdr_len : 0;
			memcpy(nb->data + at, n->rx_buffers[indexes[i]] + skip, lengths[i] - skip);
			at += lengths[i] - skip;
		}
		if (hdr.flags & HDR_F_NEEDS_CSUM)
			nb->flags |= NB_CSUM_PARTIAL; /* from the host itself: its checksum is simply not filled in */
		else if (hdr.flags & HDR_F_DATA_VALID)
			nb->flags |= NB_CSUM_VALID;
	} else {
		n->netif.stats.rx_errors++;
	}
	for (int i = 0; i < taken; i++)
		if (indexes[i] >= 0)
			post_rx(n, indexes[i]);
	return nb;
}

static bool reclaim_tx(struct vnet *n)
{
	bool any = false;
	struct netbuf *nb;
	while ((nb = virtq_get_used(n->txq, NULL))) {
		netbuf_free(nb);
		any = true;
	}
	return any;
}

/* Hands one frame to the device; false when the ring is full. */
static bool queue_tx(struct vnet *n, struct netbuf *nb)
{
	uint32_t descriptors = n->split_header ? 2 : 1;
	if (n->txq->num_free < descriptors) {
		reclaim_tx(n);
		if (n->txq->num_free < descriptors)
			return false;
	}
	struct virtio_net_hdr *hdr = (struct virtio_net_hdr *)netbuf_push(nb, n->hdr_len);
	memset(hdr, 0, n->hdr_len);
	hdr->gso_type = GSO_NONE;
	if (nb->flags & NB_CSUM_PARTIAL) {
		hdr->flags = HDR_F_NEEDS_CSUM;
		hdr->csum_start = (uint16_t)(nb->csum_start - (nb->data + n->hdr_len));
		hdr->csum_offset = nb->csum_offset;
		if (nb->gso_size) { /* csum_start is the TCP header: the headers end after its data offset */
			hdr->gso_type = GSO_TCPV4;
			hdr->gso_size = nb->gso_size;
			hdr->hdr_len = (uint16_t)(hdr->csum_start + (nb->csum_start[12] >> 4) * 4);
		}
	}
	int err;
	if (n->split_header) {
		struct virtq_buffer b[2] = {{virt_to_phys(nb->data), n->hdr_len, false},
					    {virt_to_phys(nb->data + n->hdr_len), nb->len - n->hdr_len, false}};
		err = virtq_add(n->txq, b, 2, nb);
	} else {
		struct virtq_buffer b = {virt_to_phys(nb->data), nb->len, false};
		err = virtq_add(n->txq, &b, 1, nb);
	}
	if (err < 0) {
		netbuf_pull(nb, n->hdr_len);
		return false;
	}
	return true;
}

static void transmit(struct netif *ifp, struct netbuf *nb)
{
	struct vnet *n = ifp->driver;
	if (netbuf_headroom(nb) < n->hdr_len || (nb->flags & NB_CSUM_PARTIAL && !ifp->tx_csum)) {
		ifp->stats.tx_dropped++;
		netbuf_free(nb);
		return;
	}
	ifp->stats.tx_packets++;
	ifp->stats.tx_bytes += nb->len;
	if (n->backlog.count || !queue_tx(n, nb)) {
		if (n->backlog.count >= NET_TX_BACKLOG) {
			ifp->stats.tx_dropped++;
			netbuf_free(nb);
			return;
		}
		netbuf_enqueue(&n->backlog, nb);
		return;
	}
	virtq_kick(n->txq);
}

static bool poll(struct netif *ifp)
{
	struct vnet *n = ifp->driver;
	bool busy = false;
	int budget;
	for (budget = 0; budget < NET_RX_BUDGET; budget++) {
		uint32_t len;
		int index = take_rx(n, &len);
		if (index < 0) {
			/* Re-enable the interrupt, then look once more: a frame may have slipped in between. */
			if (!virtq_interrupts(n->rxq, true))
				break;
			continue;
		}
		busy = true;
		struct netbuf *nb = receive_frame(n, index, len);
		if (nb)
			netif_input(ifp, nb);
	}
	if (busy)
		virtq_kick(n->rxq); /* the buffers went back: one notification for all of them */
	if (budget == NET_RX_BUDGET)
		deferred_kick(); /* more may be waiting, and no interrupt was asked for: come back */
	/* Frames published that the device has not taken for a while: tell it again. Seen with QEMU's
	 * user-mode network under TCG: now and then the queue stayed unread although its avail_event asked
	 * for the kick we had made, and the connection stalled for good. A poll comes at least with every
	 * retransmission timeout or arriving frame. */
	uint16_t used = n->txq->used->idx;
	uint64_t now = clock_monotonic_ns();
	if (used != n->tx_used_seen || n->txq->avail->idx == used) {
		n->tx_used_seen = used;
		n->tx_used_moved = now;
	} else if (now - n->tx_used_moved > VIRTIO_NET_TX_RENOTIFY_NS) {
		n->vdev->transport->notify(n->vdev, n->txq);
		n->tx_used_moved = now;
	}
	if (reclaim_tx(n) || n->backlog.count) {
		bool queued = false;
		while (n->backlog.head && queue_tx(n, n->backlog.head)) {
			netbuf_dequeue(&n->backlog);
			queued = true;
		}
		if (queued)
			virtq_kick(n->txq);
	}
	return busy;
}

static void random_mac(uint8_t *mac)
{
	uint32_t r = net_random32();
	mac[0] = 0x52; /* locally administered, unicast (QEMU's prefix) */
	mac[1] = 0x54;
	mac[2] = 0x00;
	mac[3] = (uint8_t)r;
	mac[4] = (uint8_t)(r >> 8);
	mac[5] = (uint8_t)(r >> 16);
}

void virtio_net_probe(struct virtio_device *vdev)
{
	struct vnet *n = kzalloc(sizeof(*n));
	if (!n) {
		kprintf("osv: virtio-net: out of memory\n");
		return;
	}
	uint64_t wanted = 1UL << VIRTIO_NET_F_CSUM | 1UL << VIRTIO_NET_F_GUEST_CSUM | 1UL << VIRTIO_NET_F_MAC |
			  1UL << VIRTIO_NET_F_MRG_RXBUF | 1UL << VIRTIO_NET_F_MTU | 1UL << VIRTIO_F_RING_EVENT_IDX |
			  1UL << VIRTIO_F_ANY_LAYOUT | 1UL << VIRTIO_NET_F_HOST_TSO4;
	if (virtio_negotiate(vdev, wanted) < 0)
		goto fail_negotiate;
	n->vdev = vdev;
	n->mergeable = virtio_has_feature(vdev, VIRTIO_NET_F_MRG_RXBUF);
	n->hdr_len = (n->mergeable || !vdev->legacy) ? 12 : 10;
	n->split_header = vdev->legacy && !virtio_has_feature(vdev, VIRTIO_F_ANY_LAYOUT);
	n->rxq = virtq_create(vdev, RXQ, VIRTQUEUE_MAX_SIZE);
	n->txq = n->rxq ? virtq_create(vdev, TXQ, VIRTQUEUE_MAX_SIZE) : NULL;
	if (!n->txq)
		goto fail_device;
	n->rx_count = MIN(NET_RX_BUFFERS, n->rxq->size / (n->split_header ? 2 : 1));
	for (int i = 0; i < n->rx_count; i += 2) {
		uint8_t *page = page_alloc(1); /* two buffers a page */
		if (!page)
			goto fail_device;
		n->rx_buffers[i] = page;
		if (i + 1 < n->rx_count)
			n->rx_buffers[i + 1] = page + RX_BUFFER_SIZE;
	}
	struct netif *ifp = &n->netif;
	snprintf(ifp->name, sizeof(ifp->name), "eth%d", nic_count);
	ifp->flags = IFF_UP | IFF_RUNNING | IFF_BROADCAST | IFF_MULTICAST;
	ifp->ethernet = true;
	ifp->mtu = 1500;
	uint16_t mtu = 0;
	if (virtio_has_feature(vdev, VIRTIO_NET_F_MTU) && virtio_config_read(vdev, CONFIG_MTU, &mtu, 2) == 0 && mtu >= 576 &&
	    mtu < 1500)
		ifp->mtu = mtu; /* bigger frames than 1500 would not fit our receive buffers unmerged */
	if (!virtio_has_feature(vdev, VIRTIO_NET_F_MAC) || virtio_config_read(vdev, CONFIG_MAC, ifp->mac, ETH_ALEN) < 0)
		random_mac(ifp->mac);
	ifp->tx_csum = virtio_has_feature(vdev, VIRTIO_NET_F_CSUM);
	if (ifp->tx_csum && virtio_has_feature(vdev, VIRTIO_NET_F_HOST_TSO4))
		ifp->gso_max = 65535;
	ifp->no_interrupts = !vdev->use_interrupts;
	ifp->transmit = transmit;
	ifp->poll = poll;
	ifp->driver = n;
	vdev->driver_data = n;
	vdev->on_interrupt = interrupt;
	for (int i = 0; i < n->rx_count; i++)
		post_rx(n, i);
	virtq_interrupts(n->txq, false); /* sent buffers are reclaimed when we next send or poll */
	virtq_interrupts(n->rxq, true);
	virtio_ready(vdev);
	virtq_kick(n->rxq);
	if (netif_register(ifp) < 0) {
		kprintf("osv: virtio %s: too many network interfaces\n", vdev->location);
		goto fail_device;
	}
	nic_count++;
	kverbose("osv: virtio-net %s: mac %02x:%02x:%02x:%02x:%02x:%02x, mtu %u, %d rx buffers%s%s%s%s, %s at %s\n",
		 ifp->name, ifp->mac[0], ifp->mac[1], ifp->mac[2], ifp->mac[3], ifp->mac[4], ifp->mac[5], ifp->mtu,
		 n->rx_count, n->mergeable ? ", mergeable" : "", ifp->tx_csum ? ", tx checksum offload" : "",
		 virtio_has_feature(vdev, VIRTIO_NET_F_GUEST_CSUM) ? ", rx checksum offload" : "",
		 ifp->gso_max ? ", tcp segmentation offload" : "",
		 vdev->use_interrupts ? "interrupts" : "polling", vdev->location);
	return;
fail_device:
	virtio_fail(vdev);
fail_negotiate:
	kfree(n);
}
