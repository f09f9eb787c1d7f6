/* Segment arrival (RFC 9293 §3.10.7): header and checksum checks, option parsing, demultiplexing,
 * then by state — LISTEN (new children, bounded by the backlog and the half-open limit), SYN_SENT, and
 * the synchronized states: sequence acceptability and trimming to the window, RST and SYN handling
 * with RFC 5961's challenge ACKs, ACK processing (RTT samples, NewReno fast retransmit and recovery,
 * the SACK scoreboard, window updates), in-order and out-of-order data, and FIN. */
#include "arch/x86_64/clock.h"
#include "errno.h"
#include "lib.h"
#include "mm/mm.h"
#include "net/ip.h"
#include "net/netif.h"
#include "net/tcp.h"
#include "param.h"

#define OPT_EOL 0
#define OPT_NOP 1
#define OPT_MSS 2
#define OPT_WSCALE 3
#define OPT_SACK_PERMITTED 4
#define OPT_SACK 5
#define OPT_TIMESTAMP 8

struct segment {
	uint32_t src, dst;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t window;
	const uint8_t *data;
	uint32_t len;
	uint16_t mss;      /* 0: none */
	int wscale;        /* -1: none */
	bool sack_permitted;
	bool has_ts;
	uint32_t tsval, tsecr;
	int sack_count;
	struct tcp_sack_block sack[TCP_MAX_SACK_BLOCKS];
};

/* Options (RFC 9293 §3.1): malformed lengths end parsing; options valid only on SYNs are ignored
 * elsewhere. */
static void parse_options(const uint8_t *p, uint32_t n, struct segment *seg)
{
	bool syn = seg->flags & TCP_SYN;
	for (uint32_t i = 0; i < n;) {
		uint8_t kind = p[i];
		if (kind == OPT_EOL)
			break;
		if (kind == OPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= n)
			break;
		uint8_t len = p[i + 1];
		if (len < 2 || i + len > n)
			break;
		const uint8_t *v = p + i + 2;
		switch (kind) {
		case OPT_MSS:
			if (len == 4 && syn)
				seg->mss = get_be16(v);
			break;
		case OPT_WSCALE:
			if (len == 3 && syn)
				seg->wscale = MIN(v[0], 14); /* RFC 7323 §2.3: larger shifts are treated as 14 */
			break;
		case OPT_SACK_PERMITTED:
			if (len == 2 && syn)
				seg->sack_permitted = true;
			break;
		case OPT_TIMESTAMP:
			if (len == 10) {
				seg->has_ts = true;
				seg->tsval = get_be32(v);
				seg->tsecr = get_be32(v + 4);
			}
			break;
		case OPT_SACK:
			if (len >= 10 && (len - 2) % 8 == 0) {
				for (int b = 0; b < (len - 2) / 8 && seg->sack_count < TCP_MAX_SACK_BLOCKS; b++) {
					uint32_t start = get_be32(v + 8 * b), end = get_be32(v + 8 * b + 4);
					if (SEQ_LT(start, end))
						seg->sack[seg->sack_count++] = (struct tcp_sack_block){start, end};
				}
			}
			break;
		default:
			break;
		}
		i += len;
	}
}

static uint32_t initial_window(uint32_t mss) { return MIN(10 * mss, MAX(2 * mss, 14600u)); } /* RFC 6928 */

/* What a SYN tells us: the peer's ISN, MSS, window scale and SACK support. */
static void take_syn(struct tcp_pcb *pcb, const struct segment *seg)
{
	pcb->irs = seg->seq;
	pcb->rcv_nxt = seg->seq + 1;
	pcb->rcv_adv = pcb->rcv_nxt;
	pcb->peer_mss = seg->mss ? seg->mss : 536; /* RFC 9293 §3.7.1 default */
	/* Scaling is on only when both SYNs carry the option (RFC 7323 §2.2); we offer it in every SYN
	 * and answer it in every SYN-ACK. */
	if (seg->wscale >= 0) {
		pcb->wscale_ok = true;
		pcb->snd_wscale = (uint8_t)seg->wscale;
	} else {
		pcb->wscale_ok = false;
		pcb->snd_wscale = pcb->rcv_wscale = 0;
	}
	pcb->sack_ok = seg->sack_permitted;
	/* Timestamps: we offer them in every SYN and answer them in a SYN-ACK (RFC 7323 §3.2). */
	pcb->ts_ok = seg->has_ts;
	pcb->ts_recent = seg->has_ts ? seg->tsval : 0;
	uint32_t mss = MIN((uint32_t)pcb->peer_mss, (uint32_t)pcb->rcv_mss);
	if (pcb->user_mss)
		mss = MIN(mss, pcb->user_mss);
	if (pcb->ts_ok)
		mss -= TCP_TIMESTAMP_SPACE; /* the option rides in every segment (Linux's TCP_MAXSEG says the same) */
	pcb->mss = (uint16_t)MAX(mss, 64u);
	/* TCP segmentation offload when the route's device has it: whole multiples of the MSS at once. */
	uint32_t hop;
	struct netif *ifp = ip_route(pcb->remote_addr, &hop);
	uint32_t headers = IP_HEADER_LEN + TCP_HEADER_LEN + (pcb->ts_ok ? TCP_TIMESTAMP_SPACE : 0);
	pcb->tso_max = ifp && ifp->gso_max > headers ? ALIGN_DOWN(ifp->gso_max - headers, (uint32_t)pcb->mss) : 0;
	if (pcb->tso_max < 2u * pcb->mss)
		pcb->tso_max = 0;
	pcb->cwnd = initial_window(pcb->mss);
	pcb->snd_wnd = seg->window; /* never scaled in a SYN */
	pcb->max_snd_wnd = pcb->snd_wnd;
	pcb->snd_wl1 = seg->seq;
	pcb->snd_wl2 = seg->ack;
	pcb->recover = pcb->iss;
}

static void no_connection(const struct segment *seg)
{
	if (seg->flags & TCP_RST)
		return;
	if (seg->flags & TCP_ACK)
		tcp_send_reset(seg->dst, seg->dport, seg->src, seg->sport, seg->ack, 0, false);
	else
		tcp_send_reset(seg->dst, seg->dport, seg->src, seg->sport, 0,
			       seg->seq + seg->len + !!(seg->flags & TCP_SYN) + !!(seg->flags & TCP_FIN), true);
}

static void synchronized_input(struct tcp_pcb *pcb, struct segment *seg);
static void established(struct tcp_pcb *pcb);

static struct tcp_cookie_id cookie_id(const struct segment *seg, uint32_t peer_isn)
{
	return (struct tcp_cookie_id){seg->src, seg->dst, seg->sport, seg->dport, peer_isn};
}

/* The half-open queue is full: answer the SYN with a cookie and keep nothing (net/tcp_syncookie.c). */
static void send_cookie(struct tcp_pcb *l, const struct segment *seg)
{
	if (!tcp_accept_queue_has_room(l))
		return; /* nothing could take the connection anyway: the peer retries */
	struct tcp_cookie_id id = cookie_id(seg, seg->seq);
	uint16_t mss; /* what the connection will send with: the cookie remembers it */
	uint32_t isn = tcp_cookie_make(&id, seg->mss ? seg->mss : 536, &mss);
	uint32_t mtu = ip_mtu_towards(seg->src);
	tcp_send_cookie_synack(seg->dst, seg->dport, seg->src, seg->sport, isn, seg->seq + 1,
			       (uint16_t)MIN(mtu - 40, 65495u), (uint16_t)MIN(l->rcvbuf_size, 65535u));
	net_stats.tcp_syn_cookies_sent++;
}

/* The last ACK of a handshake a cookie answered: a connection, straight into the accept queue. */
static bool cookie_connection(struct tcp_pcb *l, struct segment *seg)
{
	struct tcp_cookie_id id = cookie_id(seg, seg->seq - 1);
	uint16_t mss;
	if ((seg->flags & (TCP_SYN | TCP_RST | TCP_FIN)) || !tcp_cookie_check(&id, seg->ack - 1, &mss))
		return false;
	struct tcp_pcb *c = tcp_child_from_cookie(l);
	if (!c)
		return true; /* the accept queue filled meanwhile: dropped, as a lost ACK */
	c->local_addr = seg->dst;
	c->remote_addr = seg->src;
	c->remote_port = seg->sport;
	tcp_list(c);
	tcp_prepare_buffers(c);
	c->rcv_wscale = 0; /* the cookie's SYN-ACK offered no options but the MSS */
	c->iss = seg->ack - 1;
	c->snd_una = c->snd_nxt = c->snd_max = seg->ack;
	c->data_seq = seg->ack;
	struct segment syn = {.seq = seg->seq - 1, .ack = seg->ack, .window = seg->window, .mss = mss, .wscale = -1};
	take_syn(c, &syn);
	c->last_received = clock_monotonic_ns();
	established(c);
	tcp_child_established(c);
	net_stats.tcp_syn_cookies_ok++;
	synchronized_input(c, seg); /* the ACK may carry data already */
	return true;
}

static void listen_input(struct tcp_pcb *l, struct segment *seg)
{
	if (seg->flags & TCP_RST)
		return;
	if (seg->flags & TCP_ACK) {
		if (!cookie_connection(l, seg))
			no_connection(seg);
		return;
	}
	if (!(seg->flags & TCP_SYN))
		return;
	struct tcp_pcb *c = tcp_child_new(l);
	if (!c) {
		send_cookie(l, seg);
		return;
	}
	c->local_addr = seg->dst;
	c->remote_addr = seg->src;
	c->remote_port = seg->sport;
	tcp_list(c);
	tcp_prepare_buffers(c);
	take_syn(c, seg);
	c->last_received = clock_monotonic_ns();
	tcp_output(c);
}

static void established(struct tcp_pcb *pcb)
{
	pcb->state = TCP_ESTABLISHED;
	pcb->retries = 0;
	tcp_arm_keepalive(pcb);
}

static void syn_sent_input(struct tcp_pcb *pcb, const struct segment *seg)
{
	bool ack_ok = false;
	if (seg->flags & TCP_ACK) {
		if (SEQ_LEQ(seg->ack, pcb->iss) || SEQ_GT(seg->ack, pcb->snd_max)) {
			if (!(seg->flags & TCP_RST))
				tcp_send_reset(seg->dst, seg->dport, seg->src, seg->sport, seg->ack, 0, false);
			return;
		}
		ack_ok = true;
	}
	if (seg->flags & TCP_RST) {
		if (ack_ok)
			tcp_done(pcb, ECONNREFUSED);
		return;
	}
	if (!(seg->flags & TCP_SYN))
		return;
	take_syn(pcb, seg);
	if (!ack_ok) {
		/* Simultaneous open: answer with SYN-ACK. */
		pcb->state = TCP_SYN_RECEIVED;
		pcb->snd_nxt = pcb->iss;
		tcp_output(pcb);
		return;
	}
	pcb->snd_una = seg->ack;
	if (pcb->rtt_timing && pcb->retries == 0)
		tcp_rtt_sample(pcb, clock_monotonic_ns() - pcb->rtt_start);
	pcb->rtt_timing = false;
	net_timer_cancel(&pcb->rexmt_timer);
	established(pcb);
	socket_wake(pcb->socket); /* a connect finished */
	pcb->ack_now = true;
	tcp_output(pcb);
}

/* Keeps data that came ahead of a gap (bounded by count and by the window). */
static void store_out_of_order(struct tcp_pcb *pcb, uint32_t seq, const uint8_t *data, uint32_t len, bool fin)
{
	uint32_t end = seq + len;
	struct tcp_ooo **at = &pcb->ooo, *prev = NULL;
	/* Drop what the new piece covers entirely; trim it against the neighbours. */
	while (*at) {
		struct tcp_ooo *o = *at;
		if (SEQ_GEQ(o->seq, seq) && SEQ_LEQ(o->seq + o->len, end) && !(o->fin && !fin)) {
			*at = o->next;
			pcb->ooo_bytes -= o->len;
			pcb->ooo_count--;
			kfree(o);
			continue;
		}
		if (SEQ_GEQ(o->seq, end))
			break;
		prev = o;
		at = &o->next;
	}
	if (prev && SEQ_GT(prev->seq + prev->len, seq)) {
		uint32_t cut = prev->seq + prev->len - seq;
		if (cut >= len)
			return; /* nothing new */
		seq += cut;
		data += cut;
		len -= cut;
	}
	if (*at && SEQ_LT((*at)->seq, seq + len)) {
		len = (*at)->seq - seq;
		fin = false;
	}
	if (len == 0 && !fin)
		return;
	if (pcb->ooo_count >= TCP_OOO_MAX_SEGMENTS || pcb->ooo_bytes + len > pcb->rcvbuf_size) {
		net_stats.tcp_dropped++;
		return;
	}
	struct tcp_ooo *o = kmalloc(sizeof(*o) + len);
	if (!o)
		return;
	o->seq = seq;
	o->len = len;
	o->fin = fin;
	memcpy(o->data, data, len);
	o->next = *at;
	*at = o;
	pcb->ooo_bytes += len;
	pcb->ooo_count++;
	pcb->last_ooo_seq = seq;
}

/* Moves data that the last in-order segment made contiguous into the receive buffer; true when a FIN
 * queued out of order is now in order. */
static bool pull_out_of_order(struct tcp_pcb *pcb)
{
	bool fin = false;
	while (pcb->ooo && SEQ_LEQ(pcb->ooo->seq, pcb->rcv_nxt)) {
		struct tcp_ooo *o = pcb->ooo;
		pcb->ooo = o->next;
		uint32_t end = o->seq + o->len;
		if (SEQ_GT(end, pcb->rcv_nxt)) {
			uint32_t skip = pcb->rcv_nxt - o->seq;
			pcb->rcv_nxt += tcp_receive_data(pcb, o->data + skip, o->len - skip);
		}
		if (o->fin && pcb->rcv_nxt == end)
			fin = true;
		pcb->ooo_bytes -= o->len;
		pcb->ooo_count--;
		kfree(o);
	}
	return fin;
}

static void update_sack_scoreboard(struct tcp_pcb *pcb, const struct segment *seg)
{
	for (int i = 0; i < seg->sack_count; i++) {
		struct tcp_sack_block b = seg->sack[i];
		if (SEQ_LEQ(b.end, pcb->snd_una) || SEQ_GT(b.end, pcb->snd_max) || SEQ_LT(b.start, pcb->snd_una))
			continue; /* D-SACK or nonsense */
		/* Merge into the sorted, disjoint list. */
		struct tcp_sack_block merged = b;
		int n = 0;
		struct tcp_sack_block out[TCP_MAX_SACK_BLOCKS + 1];
		bool placed = false;
		for (int j = 0; j < pcb->sacked_count; j++) {
			struct tcp_sack_block c = pcb->sacked[j];
			if (SEQ_LT(c.end, merged.start)) {
				out[n++] = c;
			} else if (SEQ_GT(c.start, merged.end)) {
				if (!placed) {
					out[n++] = merged;
					placed = true;
				}
				out[n++] = c;
			} else {
				merged.start = SEQ_LT(c.start, merged.start) ? c.start : merged.start;
				merged.end = SEQ_GT(c.end, merged.end) ? c.end : merged.end;
			}
		}
		if (!placed)
			out[n++] = merged;
		/* Keep the lowest blocks: they decide what is retransmitted next. */
		pcb->sacked_count = MIN(n, TCP_MAX_SACK_BLOCKS);
		memcpy(pcb->sacked, out, pcb->sacked_count * sizeof(out[0]));
	}
}

static void drop_acked_sacks(struct tcp_pcb *pcb)
{
	int n = 0;
	for (int i = 0; i < pcb->sacked_count; i++) {
		struct tcp_sack_block b = pcb->sacked[i];
		if (SEQ_LEQ(b.end, pcb->snd_una))
			continue;
		if (SEQ_LT(b.start, pcb->snd_una))
			b.start = pcb->snd_una;
		pcb->sacked[n++] = b;
	}
	pcb->sacked_count = n;
}

static bool fin_acked(const struct tcp_pcb *pcb)
{
	return pcb->fin_queued && pcb->sndbuf.len == 0 && pcb->snd_una == pcb->data_seq + 1;
}

/* A new cumulative ACK: frees acknowledged data, samples the RTT, grows the congestion window or
 * continues NewReno recovery (RFC 6582 §3.2). */
static void new_ack(struct tcp_pcb *pcb, uint32_t ack)
{
	uint32_t acked = ack - pcb->snd_una;
	if (SEQ_GT(ack, pcb->data_seq)) {
		uint32_t n = MIN(ack - pcb->data_seq, pcb->sndbuf.len);
		ring_discard(&pcb->sndbuf, n);
		pcb->data_seq += n;
		socket_wake(pcb->socket); /* room to write */
	}
	pcb->snd_una = ack;
	if (SEQ_LT(pcb->snd_nxt, pcb->snd_una))
		pcb->snd_nxt = pcb->snd_una;
	drop_acked_sacks(pcb);
	if (pcb->rtt_timing && SEQ_GT(ack, pcb->rtt_seq)) {
		tcp_rtt_sample(pcb, clock_monotonic_ns() - pcb->rtt_start);
		pcb->rtt_timing = false;
	} else if (pcb->retries && pcb->srtt) {
		/* Progress after backoff: back to the estimate (as Linux does), without a sample. */
		pcb->rto = MIN(MAX(pcb->srtt + MAX(TCP_CLOCK_GRANULARITY_NS, 4 * pcb->rttvar), TCP_RTO_MIN_NS), TCP_RTO_MAX_NS);
	}
	pcb->retries = 0;
	pcb->persist_backoff = 0;
	if (pcb->in_recovery) {
		if (SEQ_GEQ(ack, pcb->recover)) {
			/* Full acknowledgment: leave recovery with cwnd = ssthresh (bounded by the flight). */
			uint32_t flight = pcb->snd_max - pcb->snd_una;
			pcb->cwnd = MIN(pcb->ssthresh, MAX(flight, (uint32_t)pcb->mss) + pcb->mss);
			pcb->in_recovery = false;
			pcb->dupacks = 0;
		} else {
			/* Partial acknowledgment: the next hole was lost too. */
			tcp_retransmit_hole(pcb);
			pcb->cwnd = (pcb->cwnd > acked ? pcb->cwnd - acked : 0) + pcb->mss;
			tcp_arm_rexmt(pcb);
		}
	} else {
		pcb->dupacks = 0;
		if (pcb->cwnd < pcb->ssthresh)
			pcb->cwnd += MIN(acked, 2u * pcb->mss); /* slow start, RFC 3465 L = 2 */
		else
			pcb->cwnd += MAX(1u, (uint32_t)((uint64_t)pcb->mss * pcb->mss / pcb->cwnd));
		if (pcb->cwnd > TCP_MAX_CWND)
			pcb->cwnd = TCP_MAX_CWND;
	}
	if (pcb->snd_una == pcb->snd_max)
		net_timer_cancel(&pcb->rexmt_timer);
	else
		tcp_arm_rexmt(pcb);
}

static void duplicate_ack(struct tcp_pcb *pcb)
{
	pcb->dupacks++;
	if (!pcb->in_recovery && pcb->dupacks == TCP_DUPACK_THRESHOLD) {
		if (SEQ_LEQ(pcb->snd_una, pcb->recover) && pcb->recover != pcb->iss)
			return; /* RFC 6582 §3.2 step 2: these dupacks may come from an earlier timeout's resends */
		uint32_t flight = pcb->snd_max - pcb->snd_una;
		pcb->ssthresh = MAX(flight / 2, 2u * pcb->mss);
		pcb->recover = pcb->snd_max;
		pcb->in_recovery = true;
		pcb->rexmt_high = pcb->snd_una;
		net_stats.tcp_fast_retransmits++;
		tcp_retransmit_hole(pcb);
		pcb->cwnd = pcb->ssthresh + TCP_DUPACK_THRESHOLD * pcb->mss;
	} else if (pcb->in_recovery) {
		pcb->cwnd += pcb->mss; /* each dupack: a segment left the network */
		if (pcb->sack_ok)
			tcp_retransmit_hole(pcb);
		tcp_output(pcb);
	}
}

/* Processes the ACK field; false when the segment must be dropped. */
static bool ack_input(struct tcp_pcb *pcb, const struct segment *seg)
{
	if (SEQ_GT(seg->ack, pcb->snd_max)) {
		pcb->ack_now = true; /* acknowledges what we never sent */
		return false;
	}
	if (SEQ_LT(seg->ack, pcb->snd_una - pcb->max_snd_wnd)) {
		pcb->ack_now = true; /* RFC 5961 §5.2: far too old: challenge */
		return false;
	}
	bool window_changed = false;
	if (SEQ_LT(pcb->snd_wl1, seg->seq) || (pcb->snd_wl1 == seg->seq && SEQ_LEQ(pcb->snd_wl2, seg->ack))) {
		uint32_t wnd = (uint32_t)seg->window << pcb->snd_wscale;
		window_changed = wnd != pcb->snd_wnd;
		pcb->snd_wnd = wnd;
		pcb->max_snd_wnd = MAX(pcb->max_snd_wnd, wnd);
		pcb->snd_wl1 = seg->seq;
		pcb->snd_wl2 = seg->ack;
		if (wnd)
			net_timer_cancel(&pcb->persist_timer);
	}
	if (pcb->sack_ok && seg->sack_count)
		update_sack_scoreboard(pcb, seg);
	if (seg->ack == pcb->snd_una) {
		if (pcb->snd_max != pcb->snd_una && seg->len == 0 && !(seg->flags & (TCP_SYN | TCP_FIN)) && !window_changed)
			duplicate_ack(pcb);
	} else if (SEQ_GT(seg->ack, pcb->snd_una)) {
		new_ack(pcb, seg->ack);
	}
	return true;
}

static int reset_error(enum tcp_state state)
{
	switch (state) {
	case TCP_CLOSE_WAIT:
		return EPIPE;
	case TCP_CLOSING:
	case TCP_LAST_ACK:
	case TCP_TIME_WAIT:
		return 0;
	default:
		return ECONNRESET;
	}
}

static void synchronized_input(struct tcp_pcb *pcb, struct segment *seg)
{
	uint8_t flags = seg->flags;
	/* The peer's SYN again: our SYN-ACK was lost. */
	if (pcb->state == TCP_SYN_RECEIVED && (flags & TCP_SYN) && !(flags & TCP_ACK) && seg->seq == pcb->irs) {
		pcb->snd_nxt = pcb->iss;
		tcp_output(pcb);
		return;
	}
	/* 0. PAWS (RFC 7323 §5.3): a timestamp older than the last one taken is an old duplicate. */
	if (pcb->ts_ok && seg->has_ts && !(flags & TCP_RST) && (int32_t)(seg->tsval - pcb->ts_recent) < 0) {
		tcp_send_ack(pcb);
		return;
	}
	/* 1. Sequence number acceptability. */
	uint32_t wnd = SEQ_GT(pcb->rcv_adv, pcb->rcv_nxt) ? pcb->rcv_adv - pcb->rcv_nxt : 0;
	uint32_t seg_len = seg->len + !!(flags & TCP_SYN) + !!(flags & TCP_FIN);
	uint32_t seq = seg->seq;
	bool acceptable;
	if (seg_len == 0)
		acceptable = wnd == 0 ? seq == pcb->rcv_nxt : (SEQ_GEQ(seq, pcb->rcv_nxt) && SEQ_LT(seq, pcb->rcv_nxt + wnd));
	else
		acceptable = wnd && ((SEQ_GEQ(seq, pcb->rcv_nxt) && SEQ_LT(seq, pcb->rcv_nxt + wnd)) ||
				     (SEQ_GEQ(seq + seg_len - 1, pcb->rcv_nxt) && SEQ_LT(seq + seg_len - 1, pcb->rcv_nxt + wnd)));
	if (!acceptable) {
		if (wnd == 0 && seq == pcb->rcv_nxt) {
			/* A closed window still takes ACKs and RSTs (RFC 9293 §3.10.7.4). */
			seg->len = 0;
			flags &= ~TCP_FIN;
			pcb->ack_now = true;
		} else {
			if (!(flags & TCP_RST)) {
				pcb->ack_now = true;
				if (pcb->state == TCP_TIME_WAIT && (flags & TCP_FIN))
					tcp_enter_time_wait(pcb); /* the peer missed our ACK of its FIN */
				tcp_output(pcb);
			}
			return;
		}
	}
	/* A segment that starts at or before what we last acknowledged carries the timestamp to echo
	 * (RFC 7323 §4.3). */
	if (pcb->ts_ok && seg->has_ts && SEQ_LEQ(seq, pcb->last_ack_sent) && (int32_t)(seg->tsval - pcb->ts_recent) >= 0)
		pcb->ts_recent = seg->tsval;
	/* 2. RST: only an exact match resets (RFC 5961 §3.2); others in the window get a challenge ACK. */
	if (flags & TCP_RST) {
		if (seq == pcb->rcv_nxt) {
			if (pcb->state == TCP_SYN_RECEIVED && pcb->listener)
				tcp_done(pcb, 0); /* a passive open goes back to LISTEN: forget the child */
			else
				tcp_done(pcb, pcb->state == TCP_SYN_RECEIVED ? ECONNREFUSED : reset_error(pcb->state));
		} else {
			tcp_send_ack(pcb);
		}
		return;
	}
	/* 3. SYN in a synchronized state: challenge ACK (RFC 5961 §4.2). */
	if (flags & TCP_SYN) {
		tcp_send_ack(pcb);
		return;
	}
	if (!(flags & TCP_ACK))
		return;
	/* Trim to the window: data we already have, then data beyond the right edge. */
	const uint8_t *data = seg->data;
	uint32_t len = seg->len;
	if (SEQ_LT(seq, pcb->rcv_nxt)) {
		uint32_t dup = pcb->rcv_nxt - seq;
		if (dup > len) {
			dup = len;
			flags &= ~TCP_FIN; /* the FIN is old too */
		}
		data += dup;
		len -= dup;
		seq += dup;
		pcb->ack_now = true; /* the peer retransmitted: it may have missed our ACK */
	}
	if (len && SEQ_GT(seq + len, pcb->rcv_nxt + wnd)) {
		len = SEQ_GT(pcb->rcv_nxt + wnd, seq) ? pcb->rcv_nxt + wnd - seq : 0;
		flags &= ~TCP_FIN;
		pcb->ack_now = true;
	}
	/* 4. ACK. */
	if (pcb->state == TCP_SYN_RECEIVED) {
		if (SEQ_LEQ(seg->ack, pcb->snd_una) || SEQ_GT(seg->ack, pcb->snd_max)) {
			tcp_send_reset(seg->dst, seg->dport, seg->src, seg->sport, seg->ack, 0, false);
			return;
		}
		if (pcb->listener) {
			if (pcb->listener->queue_count > pcb->listener->backlog) {
				net_stats.tcp_dropped++;
				return; /* accept queue full: as Linux, ignore the ACK; the SYN-ACK is resent */
			}
			tcp_child_established(pcb);
		}
		pcb->snd_wnd = (uint32_t)seg->window << pcb->snd_wscale;
		pcb->max_snd_wnd = pcb->snd_wnd;
		pcb->snd_wl1 = seg->seq;
		pcb->snd_wl2 = seg->ack;
		if (pcb->rtt_timing && pcb->retries == 0)
			tcp_rtt_sample(pcb, clock_monotonic_ns() - pcb->rtt_start);
		pcb->rtt_timing = false;
		established(pcb);
		if (pcb->fin_queued)
			pcb->state = TCP_FIN_WAIT_1; /* closed (or shut down) before the handshake finished */
	}
	if (!ack_input(pcb, seg)) {
		tcp_output(pcb);
		return;
	}
	switch (pcb->state) {
	case TCP_FIN_WAIT_1:
		if (fin_acked(pcb)) {
			pcb->state = TCP_FIN_WAIT_2;
			if (!pcb->socket)
				tcp_arm_fin_wait_2(pcb);
		}
		break;
	case TCP_CLOSING:
		if (fin_acked(pcb)) {
			tcp_enter_time_wait(pcb);
			return;
		}
		break;
	case TCP_LAST_ACK:
		if (fin_acked(pcb)) {
			tcp_done(pcb, 0);
			return;
		}
		break;
	default:
		break;
	}
	/* 5. Data. */
	bool fin = false;
	bool receiving = pcb->state == TCP_ESTABLISHED || pcb->state == TCP_FIN_WAIT_1 || pcb->state == TCP_FIN_WAIT_2;
	if (len && receiving) {
		if ((!pcb->socket || (pcb->socket->shutdown & RCV_SHUTDOWN)) && pcb->state != TCP_ESTABLISHED) {
			tcp_abort(pcb); /* data for an app that closed: it can never be read */
			return;
		}
		if (seq == pcb->rcv_nxt) {
			pcb->rcv_nxt += tcp_receive_data(pcb, data, len);
			fin = (flags & TCP_FIN) && seq + len == pcb->rcv_nxt;
			if (pcb->ooo) {
				pcb->ack_now = true; /* a gap filled: tell the sender at once */
				if (pull_out_of_order(pcb))
					fin = true;
			}
			if (++pcb->segs_unacked >= 2)
				pcb->ack_now = true;
			else
				tcp_arm_delack(pcb);
		} else {
			net_stats.tcp_out_of_order++;
			store_out_of_order(pcb, seq, data, len, flags & TCP_FIN);
			pcb->ack_now = true; /* a duplicate ACK (with SACK) starts the sender's recovery */
		}
	} else if ((flags & TCP_FIN) && receiving) {
		if (seq == pcb->rcv_nxt)
			fin = true;
		else
			store_out_of_order(pcb, seq, data, 0, true); /* a FIN beyond a gap */
	}
	/* 6. FIN, once everything before it is here. */
	if (fin && !pcb->fin_received) {
		pcb->rcv_nxt++;
		pcb->fin_received = true;
		pcb->ack_now = true;
		if (pcb->socket)
			pcb->socket->shutdown |= RCV_SHUTDOWN;
		socket_wake(pcb->socket);
		switch (pcb->state) {
		case TCP_ESTABLISHED:
			pcb->state = TCP_CLOSE_WAIT;
			break;
		case TCP_FIN_WAIT_1:
			if (fin_acked(pcb))
				tcp_enter_time_wait(pcb);
			else
				pcb->state = TCP_CLOSING;
			break;
		case TCP_FIN_WAIT_2:
			tcp_enter_time_wait(pcb);
			break;
		default:
			break;
		}
	}
	tcp_output(pcb);
}

void tcp_input(struct netbuf *nb, const struct ip_packet *ip)
{
	net_stats.tcp_in++;
	if (nb->len < TCP_HEADER_LEN)
		goto bad;
	const uint8_t *h = nb->data;
	uint32_t offset = (h[12] >> 4) * 4u;
	if (offset < TCP_HEADER_LEN || offset > nb->len)
		goto bad;
	if (!(nb->flags & (NB_CSUM_VALID | NB_CSUM_PARTIAL)) &&
	    csum_fold(csum_partial(h, nb->len, csum_pseudo(ip->src, ip->dst, IPPROTO_TCP, (uint16_t)nb->len))) != 0)
		goto bad;
	if (ip->broadcast)
		goto drop; /* TCP is unicast only */
	struct segment seg = {
	    .src = ip->src,
	    .dst = ip->dst,
	    .sport = get_be16(h),
	    .dport = get_be16(h + 2),
	    .seq = get_be32(h + 4),
	    .ack = get_be32(h + 8),
	    .flags = h[13] & 0x3f,
	    .window = get_be16(h + 14),
	    .data = h + offset,
	    .len = nb->len - offset,
	    .wscale = -1,
	};
	if (seg.sport == 0 || seg.dport == 0)
		goto bad;
	if ((seg.flags & TCP_SYN) && (seg.flags & (TCP_FIN | TCP_RST)))
		goto bad; /* no legitimate sender sets these together */
	parse_options(h + TCP_HEADER_LEN, offset - TCP_HEADER_LEN, &seg);
	struct tcp_pcb *pcb = tcp_lookup(seg.src, seg.sport, seg.dst, seg.dport);
	if (pcb && pcb->state == TCP_TIME_WAIT && (seg.flags & TCP_SYN) && !(seg.flags & TCP_ACK) &&
	    SEQ_GT(seg.seq, pcb->rcv_nxt)) {
		/* A new incarnation of the connection (RFC 1122 §4.2.2.13): end TIME_WAIT, try the listener. */
		tcp_done(pcb, 0);
		pcb = tcp_lookup(seg.src, seg.sport, seg.dst, seg.dport);
	}
	if (!pcb) {
		no_connection(&seg);
		goto drop;
	}
	pcb->last_received = clock_monotonic_ns();
	if (pcb->keep_probes) {
		pcb->keep_probes = 0;
		tcp_arm_keepalive(pcb);
	}
	switch (pcb->state) {
	case TCP_LISTEN:
		listen_input(pcb, &seg);
		break;
	case TCP_SYN_SENT:
		syn_sent_input(pcb, &seg);
		break;
	case TCP_CLOSED:
		no_connection(&seg);
		break;
	default:
		synchronized_input(pcb, &seg);
		break;
	}
	goto drop;
bad:
	net_stats.tcp_bad++;
drop:
	netbuf_free(nb);
}

void tcp_icmp_error(uint32_t src, uint32_t dst, const uint8_t *quoted, uint8_t type, uint8_t code)
{
	uint16_t sport = get_be16(quoted), dport = get_be16(quoted + 2);
	uint32_t seq = get_be32(quoted + 4);
	struct tcp_pcb *pcb = tcp_lookup(dst, dport, src, sport);
	if (!pcb || pcb->state == TCP_LISTEN || SEQ_LT(seq, pcb->snd_una) || SEQ_GT(seq, pcb->snd_max))
		return; /* not about anything in flight (RFC 5927 §4.1) */
	if (type != ICMP_DEST_UNREACHABLE || code == ICMP_UNREACH_NEEDFRAG)
		return;
	bool hard = code == ICMP_UNREACH_PORT || code == ICMP_UNREACH_PROTOCOL;
	if (pcb->state == TCP_SYN_SENT && hard)
		tcp_done(pcb, ECONNREFUSED);
	else
		pcb->error = code == ICMP_UNREACH_NET ? ENETUNREACH : EHOSTUNREACH; /* soft: told if we time out */
}
