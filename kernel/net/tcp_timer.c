/* TCP timers: retransmission with the RFC 6298 estimator and exponential backoff, zero-window probes
 * (persist), delayed ACKs (RFC 1122 §4.2.3.2, TCP_DELACK_NS), keepalive probes (RFC 1122 §4.2.3.6, off
 * unless SO_KEEPALIVE), and the TIME_WAIT / orphaned FIN_WAIT_2 waits. */
#include "arch/x86_64/clock.h"
#include "errno.h"
#include "net/tcp.h"
#include "param.h"

static void rexmt_fired(struct net_timer *t);
static void persist_fired(struct net_timer *t);
static void delack_fired(struct net_timer *t);
static void keepalive_fired(struct net_timer *t);
static void wait_fired(struct net_timer *t);

void tcp_timers_init(struct tcp_pcb *pcb)
{
	net_timer_init(&pcb->rexmt_timer, rexmt_fired);
	net_timer_init(&pcb->persist_timer, persist_fired);
	net_timer_init(&pcb->delack_timer, delack_fired);
	net_timer_init(&pcb->keepalive_timer, keepalive_fired);
	net_timer_init(&pcb->wait_timer, wait_fired);
}

void tcp_timers_stop(struct tcp_pcb *pcb)
{
	net_timer_cancel(&pcb->rexmt_timer);
	net_timer_cancel(&pcb->persist_timer);
	net_timer_cancel(&pcb->delack_timer);
	net_timer_cancel(&pcb->keepalive_timer);
	net_timer_cancel(&pcb->wait_timer);
}

void tcp_arm_rexmt(struct tcp_pcb *pcb) { net_timer_arm(&pcb->rexmt_timer, clock_monotonic_ns() + pcb->rto); }

void tcp_rtt_sample(struct tcp_pcb *pcb, uint64_t rtt)
{
	if (rtt == 0)
		rtt = 1;
	if (!pcb->srtt) {
		pcb->srtt = rtt;
		pcb->rttvar = rtt / 2;
	} else {
		uint64_t delta = pcb->srtt > rtt ? pcb->srtt - rtt : rtt - pcb->srtt;
		pcb->rttvar = (3 * pcb->rttvar + delta) / 4;
		pcb->srtt = (7 * pcb->srtt + rtt) / 8;
	}
	uint64_t rto = pcb->srtt + MAX(TCP_CLOCK_GRANULARITY_NS, 4 * pcb->rttvar);
	pcb->rto = MIN(MAX(rto, TCP_RTO_MIN_NS), TCP_RTO_MAX_NS);
}

static void rexmt_fired(struct net_timer *t)
{
	struct tcp_pcb *pcb = container_of(t, struct tcp_pcb, rexmt_timer);
	if (pcb->snd_una == pcb->snd_max && pcb->state != TCP_SYN_SENT && pcb->state != TCP_SYN_RECEIVED)
		return; /* everything was acknowledged meanwhile */
	int limit = pcb->state == TCP_SYN_SENT ? pcb->syn_retries
		    : pcb->state == TCP_SYN_RECEIVED ? TCP_SYNACK_RETRIES : TCP_RETRIES;
	if (pcb->retries >= limit) {
		tcp_done(pcb, pcb->error ? pcb->error : ETIMEDOUT);
		return;
	}
	pcb->retries++;
	pcb->rto = MIN(pcb->rto * 2, TCP_RTO_MAX_NS); /* RFC 6298 §5.5 */
	if (pcb->state != TCP_SYN_SENT && pcb->state != TCP_SYN_RECEIVED) {
		/* RFC 5681 §3.1: the loss window is one segment; half the flight becomes ssthresh. */
		uint32_t flight = pcb->snd_max - pcb->snd_una;
		pcb->ssthresh = MAX(flight / 2, 2u * pcb->mss);
		pcb->cwnd = pcb->mss;
		pcb->in_recovery = false;
		pcb->recover = pcb->snd_max;
		pcb->dupacks = 0;
		pcb->sacked_count = 0; /* RFC 2018 §8: the receiver may have reneged */
	}
	pcb->rtt_timing = false; /* Karn: no samples from retransmitted data */
	pcb->snd_nxt = pcb->snd_una;
	net_stats.tcp_retransmits++;
	tcp_output(pcb);
	if (!pcb->rexmt_timer.armed && pcb->state != TCP_CLOSED)
		tcp_arm_rexmt(pcb);
}

void tcp_arm_persist(struct tcp_pcb *pcb)
{
	if (pcb->persist_timer.armed)
		return;
	uint64_t interval = pcb->rto << MIN(pcb->persist_backoff, 10);
	interval = MIN(MAX(interval, TCP_PERSIST_MIN_NS), TCP_PERSIST_MAX_NS);
	net_timer_arm(&pcb->persist_timer, clock_monotonic_ns() + interval);
}

/* A probe the peer must answer with an ACK showing its window: an old sequence number and no data. */
static void send_probe(struct tcp_pcb *pcb) { tcp_send_segment(pcb, pcb->snd_una - 1, 0, TCP_ACK); }

static void persist_fired(struct net_timer *t)
{
	struct tcp_pcb *pcb = container_of(t, struct tcp_pcb, persist_timer);
	if (pcb->snd_wnd != 0 || pcb->data_seq + pcb->sndbuf.len == pcb->snd_nxt) {
		/* A window too small to be worth filling (sender SWS avoidance) is filled now: RFC 1122
		 * §4.2.3.4's override timeout. Waiting on would stall for good with a peer that does not
		 * announce its window opening (libslirp counts on probes for that); what we send gets it said. */
		pcb->persist_backoff = 0;
		pcb->sws_override = true;
		tcp_output(pcb);
		pcb->sws_override = false;
		return;
	}
	send_probe(pcb);
	pcb->persist_backoff++;
	tcp_arm_persist(pcb);
}

void tcp_arm_delack(struct tcp_pcb *pcb)
{
	if (!pcb->delack_timer.armed)
		net_timer_arm(&pcb->delack_timer, clock_monotonic_ns() + TCP_DELACK_NS);
}

static void delack_fired(struct net_timer *t)
{
	struct tcp_pcb *pcb = container_of(t, struct tcp_pcb, delack_timer);
	if (pcb->state != TCP_CLOSED && pcb->state != TCP_LISTEN)
		tcp_send_ack(pcb);
}

void tcp_arm_keepalive(struct tcp_pcb *pcb)
{
	if (!pcb->keepalive || pcb->state == TCP_CLOSED || pcb->state == TCP_LISTEN || pcb->state == TCP_TIME_WAIT) {
		net_timer_cancel(&pcb->keepalive_timer);
		return;
	}
	pcb->keep_probes = 0;
	net_timer_arm(&pcb->keepalive_timer, clock_monotonic_ns() + pcb->keep_idle_s * 1000000000UL);
}

static void keepalive_fired(struct net_timer *t)
{
	struct tcp_pcb *pcb = container_of(t, struct tcp_pcb, keepalive_timer);
	if (!pcb->keepalive)
		return;
	uint64_t now = clock_monotonic_ns();
	uint64_t idle = now - pcb->last_received;
	if (pcb->keep_probes == 0 && idle < pcb->keep_idle_s * 1000000000UL) {
		net_timer_arm(t, pcb->last_received + pcb->keep_idle_s * 1000000000UL);
		return;
	}
	if ((uint32_t)pcb->keep_probes >= pcb->keep_count) {
		tcp_done(pcb, ETIMEDOUT); /* the peer is gone (Linux sends no RST here either) */
		return;
	}
	send_probe(pcb);
	pcb->keep_probes++;
	net_timer_arm(t, now + pcb->keep_interval_s * 1000000000UL);
}

void tcp_enter_time_wait(struct tcp_pcb *pcb)
{
	pcb->state = TCP_TIME_WAIT;
	net_timer_cancel(&pcb->rexmt_timer);
	net_timer_cancel(&pcb->persist_timer);
	net_timer_cancel(&pcb->keepalive_timer);
	net_timer_arm(&pcb->wait_timer, clock_monotonic_ns() + TCP_TIME_WAIT_NS);
}

void tcp_arm_fin_wait_2(struct tcp_pcb *pcb) { net_timer_arm(&pcb->wait_timer, clock_monotonic_ns() + TCP_FIN_WAIT_2_NS); }

static void wait_fired(struct net_timer *t)
{
	struct tcp_pcb *pcb = container_of(t, struct tcp_pcb, wait_timer);
	if (pcb->state == TCP_TIME_WAIT || (pcb->state == TCP_FIN_WAIT_2 && !pcb->socket))
		tcp_done(pcb, 0);
}
