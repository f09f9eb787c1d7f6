/* TCP (RFC 9293, with RFC 6298 retransmission timers, RFC 5681/6582 congestion control and NewReno
 * fast recovery, RFC 2018 SACK, RFC 7323 window scaling, RFC 1122 delayed ACKs and Nagle, RFC 5961
 * hardening). A connection is a struct tcp_pcb: net/tcp.c creates, finds and ends them and carries
 * out what sockets ask (connect, listen, accept, send, receive, shutdown, close); net/tcp_input.c
 * handles arriving segments; net/tcp_output.c decides what to send and builds segments; net/tcp_timer.c
 * runs retransmission, persist, delayed-ACK, keepalive and TIME_WAIT timers. */
#pragma once
#include "net/net.h"
#include "net/socket.h"

enum tcp_state {
	TCP_CLOSED,
	TCP_LISTEN,
	TCP_SYN_SENT,
	TCP_SYN_RECEIVED,
	TCP_ESTABLISHED,
	TCP_FIN_WAIT_1,
	TCP_FIN_WAIT_2,
	TCP_CLOSE_WAIT,
	TCP_CLOSING,
	TCP_LAST_ACK,
	TCP_TIME_WAIT,
};

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20
#define TCP_HEADER_LEN 20
#define TCP_MAX_SACK_BLOCKS 4

#define SEQ_LT(a, b) ((int32_t)((a) - (b)) < 0)
#define SEQ_LEQ(a, b) ((int32_t)((a) - (b)) <= 0)
#define SEQ_GT(a, b) ((int32_t)((a) - (b)) > 0)
#define SEQ_GEQ(a, b) ((int32_t)((a) - (b)) >= 0)

/* TCP-level socket options (IPPROTO_TCP). */
#define TCP_NODELAY 1
#define TCP_MAXSEG 2
#define TCP_CORK 3
#define TCP_KEEPIDLE 4
#define TCP_KEEPINTVL 5
#define TCP_KEEPCNT 6
#define TCP_SYNCNT 7
#define TCP_LINGER2 8
#define TCP_DEFER_ACCEPT 9
#define TCP_WINDOW_CLAMP 10
#define TCP_INFO 11
#define TCP_QUICKACK 12
#define TCP_USER_TIMEOUT 18
#define TCP_FASTOPEN 23

/* Data that arrived ahead of a gap, kept until the gap is filled. */
struct tcp_ooo {
	struct tcp_ooo *next; /* sorted by seq, never overlapping */
	uint32_t seq, len;
	bool fin;
	uint8_t data[];
};

/* A range of sequence space the peer has told us (SACK) it holds. */
struct tcp_sack_block {
	uint32_t start, end;
};

struct tcp_pcb {
	struct tcp_pcb *next;    /* every pcb with a port, for demultiplexing and bind conflicts */
	bool listed;
	enum tcp_state state;
	struct socket *socket;   /* NULL: closed by the app (an orphan finishing) or waiting in an accept queue */
	struct tcp_pcb *listener; /* SYN_RECEIVED or queued children: the listening pcb */
	struct tcp_pcb *queue_next; /* in the listener's accept queue */
	bool queued;             /* in the accept queue (established, not yet accepted) */
	uint32_t local_addr, remote_addr;
	uint16_t local_port, remote_port;
	bool reuse_addr, reuse_port;
	int error;               /* why the connection failed (positive errno), for SO_ERROR and calls */

	/* Send side. data_seq is the sequence number of the first byte in sndbuf. */
	uint32_t iss, snd_una, snd_nxt, snd_max, data_seq;
	uint32_t snd_wnd, max_snd_wnd, snd_wl1, snd_wl2;
	uint16_t mss;            /* what we send per segment */
	uint16_t peer_mss;
	uint8_t snd_wscale, rcv_wscale;
	bool wscale_ok, sack_ok;
	bool fin_queued;         /* the app is done writing: a FIN follows the data */
	struct ring sndbuf;
	uint32_t sndbuf_size;
	struct tcp_sack_block sacked[TCP_MAX_SACK_BLOCKS]; /* the peer's SACK scoreboard */
	int sacked_count;

	/* Receive side. */
	uint32_t irs, rcv_nxt, rcv_adv; /* rcv_adv: the right edge of the window we advertised */
	uint16_t rcv_mss;
	struct ring rcvbuf;
	uint32_t rcvbuf_size;
	struct tcp_ooo *ooo;
	uint32_t ooo_bytes, ooo_count;
	uint32_t last_ooo_seq;   /* the block to report first in SACKs */
	bool fin_received;

	/* Congestion control (RFC 5681, NewReno RFC 6582). */
	uint32_t cwnd, ssthresh, dupacks, recover, rexmt_high;
	bool in_recovery;

	/* Round-trip time (RFC 6298), in ns. */
	uint64_t srtt, rttvar, rto;
	bool rtt_timing;
	uint32_t rtt_seq;
	uint64_t rtt_start;
	int retries;             /* retransmissions (or probes) without progress */

	/* ACK generation. */
	uint32_t segs_unacked;
	bool ack_now;

	/* Options. */
	bool nodelay, cork, keepalive;
	uint32_t keep_idle_s, keep_interval_s, keep_count;
	int keep_probes;
	uint64_t last_received; /* for keepalive */
	uint32_t user_mss;       /* TCP_MAXSEG, 0 unless set */
	int syn_retries;         /* TCP_SYNCNT */
	bool linger_abort;       /* SO_LINGER with 0 s: close sends RST */

	/* Listening. */
	int backlog;
	int half_open;           /* children in SYN_RECEIVED */
	int queue_count;
	struct tcp_pcb *queue_head, *queue_tail;

	struct net_timer rexmt_timer, delack_timer, persist_timer, keepalive_timer, wait_timer;
	int persist_backoff;
	bool sws_override;       /* the persist timer fired on a small window: send what it allows */
};

/* net/tcp.c */
struct tcp_pcb *tcp_pcb_new(struct socket *s);
/* Finds the pcb for a segment: an exact connection, else a listener; NULL when none. */
struct tcp_pcb *tcp_lookup(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport);
void tcp_list(struct tcp_pcb *pcb);
/* Frees a pcb nobody refers to any more (removes it from lists, stops timers, frees buffers). */
void tcp_pcb_free(struct tcp_pcb *pcb);
/* The connection is over: state CLOSED, timers off; err (positive errno, 0 for a normal end) is kept
 * for the app. Orphans and accept-queue entries are freed. */
void tcp_done(struct tcp_pcb *pcb, int err);
/* Makes a child of listener for an arriving SYN; NULL when the queues are full or memory is out. */
struct tcp_pcb *tcp_child_new(struct tcp_pcb *listener);
/* A child became ESTABLISHED: into the listener's accept queue. */
void tcp_child_established(struct tcp_pcb *child);
/* Sizes buffers and window scale before the first SYN. */
void tcp_prepare_buffers(struct tcp_pcb *pcb);
/* The free part of the receive buffer (before it is allocated: its size). */
uint32_t tcp_receive_space(const struct tcp_pcb *pcb);
/* Appends in-order data to the receive buffer; how much fitted. */
uint32_t tcp_receive_data(struct tcp_pcb *pcb, const uint8_t *data, uint32_t len);
bool tcp_pcb_port_used(uint32_t addr, uint16_t port, const struct socket *except, bool reuse_ok);

int tcp_connect(struct tcp_pcb *pcb, uint32_t addr, uint16_t port);
int tcp_listen(struct tcp_pcb *pcb, int backlog);
/* A connection from the accept queue, or NULL (none yet). */
struct tcp_pcb *tcp_accept(struct tcp_pcb *listener);
long tcp_send(struct tcp_pcb *pcb, struct iov_iter *it, int flags);
long tcp_recv(struct tcp_pcb *pcb, struct iov_iter *it, int flags);
void tcp_shutdown(struct tcp_pcb *pcb, int how);
/* The app closed its socket: finish gracefully (FIN), or reset when unread data is lost. */
void tcp_close(struct tcp_pcb *pcb);
uint32_t tcp_poll(struct tcp_pcb *pcb, const struct socket *s);
int tcp_setsockopt(struct tcp_pcb *pcb, int name, const void *value, uint32_t len);
int tcp_getsockopt(struct tcp_pcb *pcb, int name, void *value, uint32_t *len);
/* Whether any connection still has data or a FIN to deliver (exit waits for them). */
bool tcp_draining(void);

/* net/tcp_output.c */
/* Sends what the windows, Nagle and the state allow, or a pure ACK when one is owed. */
void tcp_output(struct tcp_pcb *pcb);
/* Sends one segment of len bytes from sndbuf at seq (flags: TCP_*). */
void tcp_send_segment(struct tcp_pcb *pcb, uint32_t seq, uint32_t len, uint8_t flags);
void tcp_send_ack(struct tcp_pcb *pcb);
/* Loss recovery: resends the first segment the peer lacks (after rexmt_high with SACK). */
void tcp_retransmit_hole(struct tcp_pcb *pcb);
/* Answers a segment that has no connection with a RST (RFC 9293 §3.10.7.1). */
void tcp_send_reset(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, uint32_t seq, uint32_t ack,
		    bool with_ack);
/* Aborts with RST to the peer (close with unread data, SO_LINGER 0). */
void tcp_abort(struct tcp_pcb *pcb);
/* The window to advertise now (after scaling), moving rcv_adv. */
uint16_t tcp_window_to_advertise(struct tcp_pcb *pcb, bool syn);

/* net/tcp_timer.c */
void tcp_timers_init(struct tcp_pcb *pcb);
void tcp_timers_stop(struct tcp_pcb *pcb);
/* (Re)starts the retransmission timer at the current RTO. */
void tcp_arm_rexmt(struct tcp_pcb *pcb);
/* A new RTT measurement (RFC 6298 §2). */
void tcp_rtt_sample(struct tcp_pcb *pcb, uint64_t rtt);
void tcp_arm_delack(struct tcp_pcb *pcb);
void tcp_arm_persist(struct tcp_pcb *pcb);
void tcp_arm_keepalive(struct tcp_pcb *pcb);
void tcp_enter_time_wait(struct tcp_pcb *pcb);
/* An orphan in FIN_WAIT_2 waits at most TCP_FIN_WAIT_2_NS for the peer's FIN. */
void tcp_arm_fin_wait_2(struct tcp_pcb *pcb);

extern struct tcp_pcb *tcp_pcbs;
