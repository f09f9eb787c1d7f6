/* What TCP sends and when (RFC 9293 §3.8.6, RFC 1122 §4.2.3.4, RFC 5681, RFC 7323, RFC 2018): segments
 * are cut from the send ring within the peer's window and the congestion window, small ones are held
 * back by Nagle's algorithm (unless TCP_NODELAY) and sender-side SWS avoidance, a FIN follows the last
 * byte once the app is done, and ACKs carry our window and, with SACK, the out-of-order blocks held. */
#include "arch/x86_64/clock.h"
#include "errno.h"
#include "lib.h"
#include "net/ip.h"
#include "net/tcp.h"
#include "param.h"

#define OPT_EOL 0
#define OPT_NOP 1
#define OPT_MSS 2
#define OPT_WSCALE 3
#define OPT_SACK_PERMITTED 4
#define OPT_SACK 5

uint16_t tcp_window_to_advertise(struct tcp_pcb *pcb, bool syn)
{
	uint8_t shift = syn ? 0 : pcb->rcv_wscale;
	uint32_t threshold = MIN(pcb->rcvbuf_size / 2, (uint32_t)pcb->rcv_mss);
	uint32_t edge = pcb->rcv_nxt + tcp_receive_space(pcb);
	uint32_t current = SEQ_GT(pcb->rcv_adv, pcb->rcv_nxt) ? pcb->rcv_adv : pcb->rcv_nxt;
	/* Never move the right edge back, and forward only by a worthwhile amount (receiver SWS
	 * avoidance, RFC 1122 §4.2.3.3). */
	if (SEQ_LT(edge, current + threshold))
		edge = current;
	uint32_t window = edge - pcb->rcv_nxt;
	if (window > (65535u << shift))
		window = 65535u << shift;
	pcb->rcv_adv = pcb->rcv_nxt + window;
	return (uint16_t)(window >> shift); /* rounded down: the peer may send a little less, never more */
}

/* SACK blocks for what we hold out of order, the most recently received first (RFC 2018 §4). */
static int sack_blocks(struct tcp_pcb *pcb, struct tcp_sack_block *out, int max)
{
	struct tcp_sack_block all[16];
	int n = 0;
	for (struct tcp_ooo *o = pcb->ooo; o && n < 16; o = o->next) {
		if (n && all[n - 1].end == o->seq)
			all[n - 1].end = o->seq + o->len;
		else
			all[n++] = (struct tcp_sack_block){o->seq, o->seq + o->len};
	}
	int count = 0;
	for (int i = 0; i < n; i++) {
		if (SEQ_GEQ(pcb->last_ooo_seq, all[i].start) && SEQ_LT(pcb->last_ooo_seq, all[i].end)) {
			out[count++] = all[i];
			all[i].start = all[i].end; /* taken */
			break;
		}
	}
	for (int i = 0; i < n && count < max; i++)
		if (all[i].start != all[i].end)
			out[count++] = all[i];
	return count;
}

void tcp_send_segment(struct tcp_pcb *pcb, uint32_t seq, uint32_t len, uint8_t flags)
{
	uint8_t options[40];
	uint32_t optlen = 0;
	bool syn = flags & TCP_SYN;
	if (syn) {
		options[0] = OPT_MSS;
		options[1] = 4;
		put_be16(options + 2, pcb->rcv_mss);
		optlen = 4;
		/* A SYN-ACK only echoes what the SYN offered (RFC 7323 §2.2, RFC 2018 §2). */
		bool ack = flags & TCP_ACK;
		if (!ack || pcb->sack_ok) {
			options[optlen++] = OPT_NOP;
			options[optlen++] = OPT_NOP;
			options[optlen++] = OPT_SACK_PERMITTED;
			options[optlen++] = 2;
		}
		if (!ack || pcb->wscale_ok) {
			options[optlen++] = OPT_NOP;
			options[optlen++] = OPT_WSCALE;
			options[optlen++] = 3;
			options[optlen++] = pcb->rcv_wscale;
		}
	} else if (pcb->sack_ok && pcb->ooo && (flags & TCP_ACK)) {
		struct tcp_sack_block blocks[TCP_MAX_SACK_BLOCKS];
		int n = sack_blocks(pcb, blocks, 4);
		options[0] = OPT_NOP;
		options[1] = OPT_NOP;
		options[2] = OPT_SACK;
		options[3] = (uint8_t)(2 + 8 * n);
		for (int i = 0; i < n; i++) {
			put_be32(options + 4 + 8 * i, blocks[i].start);
			put_be32(options + 8 + 8 * i, blocks[i].end);
		}
		optlen = 4 + 8 * (uint32_t)n;
	}
	uint32_t header = TCP_HEADER_LEN + optlen;
	struct netbuf *nb = netbuf_alloc(header + len, NETBUF_HEADROOM);
	if (!nb)
		return; /* lost like any packet: timers recover */
	uint8_t *h = nb->data;
	put_be16(h, pcb->local_port);
	put_be16(h + 2, pcb->remote_port);
	put_be32(h + 4, seq);
	put_be32(h + 8, (flags & TCP_ACK) ? pcb->rcv_nxt : 0);
	h[12] = (uint8_t)((header / 4) << 4);
	h[13] = flags;
	put_be16(h + 14, tcp_window_to_advertise(pcb, syn));
	put_be16(h + 16, 0);
	put_be16(h + 18, 0);
	memcpy(h + TCP_HEADER_LEN, options, optlen);
	if (len)
		ring_peek(&pcb->sndbuf, seq - pcb->data_seq, h + header, len);
	if (flags & TCP_ACK) {
		pcb->segs_unacked = 0;
		pcb->ack_now = false;
		net_timer_cancel(&pcb->delack_timer);
	}
	net_stats.tcp_out++;
	struct ip_send_options opt = {.dont_fragment = true};
	if (pcb->socket) {
		opt.ttl = pcb->socket->ttl;
		opt.tos = pcb->socket->tos;
	}
	ip_output(nb, pcb->local_addr, pcb->remote_addr, IPPROTO_TCP, 16, &opt);
}

void tcp_send_ack(struct tcp_pcb *pcb) { tcp_send_segment(pcb, pcb->snd_nxt, 0, TCP_ACK); }

void tcp_send_reset(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, uint32_t seq, uint32_t ack,
		    bool with_ack)
{
	struct netbuf *nb = netbuf_alloc(TCP_HEADER_LEN, NETBUF_HEADROOM);
	if (!nb)
		return;
	uint8_t *h = nb->data;
	memset(h, 0, TCP_HEADER_LEN);
	put_be16(h, sport);
	put_be16(h + 2, dport);
	put_be32(h + 4, seq);
	put_be32(h + 8, with_ack ? ack : 0);
	h[12] = 5 << 4;
	h[13] = TCP_RST | (with_ack ? TCP_ACK : 0);
	net_stats.tcp_resets_sent++;
	net_stats.tcp_out++;
	ip_output(nb, src, dst, IPPROTO_TCP, 16, NULL);
}

void tcp_abort(struct tcp_pcb *pcb)
{
	if (pcb->state != TCP_CLOSED && pcb->state != TCP_LISTEN && pcb->state != TCP_SYN_SENT &&
	    pcb->state != TCP_TIME_WAIT)
		tcp_send_reset(pcb->local_addr, pcb->local_port, pcb->remote_addr, pcb->remote_port, pcb->snd_nxt,
			       pcb->rcv_nxt, true);
	tcp_done(pcb, ECONNRESET);
}

/* Whether our FIN may be sent now (every state that queued one). */
static bool fin_state(enum tcp_state s)
{
	return s == TCP_FIN_WAIT_1 || s == TCP_CLOSING || s == TCP_LAST_ACK;
}

/* Skips sequence space the peer already SACKed when resending after a loss. */
static uint32_t skip_sacked(struct tcp_pcb *pcb, uint32_t seq)
{
	for (int i = 0; i < pcb->sacked_count; i++)
		if (SEQ_GEQ(seq, pcb->sacked[i].start) && SEQ_LT(seq, pcb->sacked[i].end))
			seq = pcb->sacked[i].end;
	return seq;
}

/* The part of [seq, seq+len) before the next SACKed block. */
static uint32_t until_sacked(struct tcp_pcb *pcb, uint32_t seq, uint32_t len)
{
	for (int i = 0; i < pcb->sacked_count; i++)
		if (SEQ_GT(pcb->sacked[i].start, seq) && SEQ_LT(pcb->sacked[i].start, seq + len))
			len = pcb->sacked[i].start - seq;
	return len;
}

void tcp_retransmit_hole(struct tcp_pcb *pcb)
{
	uint32_t seq = pcb->snd_una;
	if (pcb->sack_ok && SEQ_GT(pcb->rexmt_high, seq))
		seq = pcb->rexmt_high;
	seq = skip_sacked(pcb, seq);
	if (SEQ_GEQ(seq, pcb->snd_max))
		return; /* nothing missing that we know of */
	uint32_t data_end = pcb->data_seq + pcb->sndbuf.len;
	uint32_t len = SEQ_LT(seq, data_end) ? MIN(data_end - seq, (uint32_t)pcb->mss) : 0;
	len = until_sacked(pcb, seq, len);
	bool fin = pcb->fin_queued && seq + len == data_end && SEQ_GT(pcb->snd_max, data_end);
	if (!len && !fin)
		return;
	tcp_send_segment(pcb, seq, len, TCP_ACK | (fin ? TCP_FIN : 0));
	pcb->rexmt_high = seq + len + (fin ? 1 : 0);
	pcb->rtt_timing = false; /* Karn */
	net_stats.tcp_retransmits++;
}

void tcp_output(struct tcp_pcb *pcb)
{
	switch (pcb->state) {
	case TCP_CLOSED:
	case TCP_LISTEN:
		return;
	case TCP_TIME_WAIT:
		if (pcb->ack_now)
			tcp_send_ack(pcb); /* acknowledges the peer's FIN */
		return;
	case TCP_SYN_SENT:
	case TCP_SYN_RECEIVED:
		if (pcb->snd_nxt == pcb->iss) {
			tcp_send_segment(pcb, pcb->iss, 0, TCP_SYN | (pcb->state == TCP_SYN_RECEIVED ? TCP_ACK : 0));
			if (!pcb->retries) { /* the handshake gives the first RTT sample */
				pcb->rtt_timing = true;
				pcb->rtt_seq = pcb->iss;
				pcb->rtt_start = clock_monotonic_ns();
			}
			pcb->snd_nxt = pcb->iss + 1;
			if (SEQ_GT(pcb->snd_nxt, pcb->snd_max))
				pcb->snd_max = pcb->snd_nxt;
			if (!pcb->rexmt_timer.armed)
				tcp_arm_rexmt(pcb);
		} else if (pcb->ack_now) {
			tcp_send_ack(pcb);
		}
		return;
	default:
		break;
	}
	bool sent = false;
	for (int budget = 0; budget < 1024; budget++) {
		if (SEQ_LT(pcb->snd_nxt, pcb->snd_max))
			pcb->snd_nxt = skip_sacked(pcb, pcb->snd_nxt);
		uint32_t data_end = pcb->data_seq + pcb->sndbuf.len;
		if (SEQ_GT(pcb->snd_nxt, data_end))
			break; /* the FIN is out */
		uint32_t avail = data_end - pcb->snd_nxt;
		uint32_t flight = pcb->snd_nxt - pcb->snd_una;
		uint32_t window = MIN(pcb->snd_wnd, pcb->cwnd);
		uint32_t usable = window > flight ? window - flight : 0;
		uint32_t len = MIN(avail, MIN((uint32_t)pcb->mss, usable));
		if (SEQ_LT(pcb->snd_nxt, pcb->snd_max))
			len = until_sacked(pcb, pcb->snd_nxt, len);
		bool fin = pcb->fin_queued && fin_state(pcb->state) && pcb->snd_nxt + len == data_end;
		if (len == 0 && !fin) {
			if (avail && pcb->snd_wnd == 0 && !pcb->rexmt_timer.armed)
				tcp_arm_persist(pcb); /* the peer's window is shut: probe it */
			break;
		}
		if (len < pcb->mss && !fin && SEQ_GEQ(pcb->snd_nxt, pcb->snd_max)) {
			bool window_limited = len < avail;
			if (window_limited) {
				/* Sender SWS avoidance (RFC 1122 §4.2.3.4): wait for half the largest window. */
				if (!pcb->sws_override && (len < pcb->max_snd_wnd / 2 || flight)) {
					if (!flight && !pcb->rexmt_timer.armed)
						tcp_arm_persist(pcb);
					break;
				}
			} else if ((flight && !pcb->nodelay) || pcb->cork) {
				break; /* Nagle: one small segment in flight at a time; the ACK sends the rest */
			}
		}
		bool new_data = SEQ_GEQ(pcb->snd_nxt, pcb->snd_max);
		if (!new_data)
			net_stats.tcp_retransmits++;
		uint8_t flags = TCP_ACK | (fin ? TCP_FIN : 0) | (len && pcb->snd_nxt + len == data_end ? TCP_PSH : 0);
		tcp_send_segment(pcb, pcb->snd_nxt, len, flags);
		if (new_data && !pcb->rtt_timing) {
			pcb->rtt_timing = true;
			pcb->rtt_seq = pcb->snd_nxt;
			pcb->rtt_start = clock_monotonic_ns();
		}
		pcb->snd_nxt += len + (fin ? 1 : 0);
		if (SEQ_GT(pcb->snd_nxt, pcb->snd_max))
			pcb->snd_max = pcb->snd_nxt;
		if (!pcb->rexmt_timer.armed)
			tcp_arm_rexmt(pcb);
		net_timer_cancel(&pcb->persist_timer);
		sent = true;
		if (fin)
			break;
	}
	if (!sent && pcb->ack_now)
		tcp_send_ack(pcb);
}
