/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Session dispatch: which sessions a datagram belongs to, and what a read or
 * a drop completes for each of them. The functions declared here are global
 * (sessions.bpf.c): the verifier checks each once, not once per caller and
 * session.
 */
#ifndef __SESSIONS_BPF_H
#define __SESSIONS_BPF_H

#include "bits.bpf.h"
#include "maps.bpf.h"
#include "stages.h"

/* A datagram read or sent, as every session sees it: its marks are taken once. */
struct dgram {
	struct skb_info info;
	__u64 first_ns; /* the earliest mark seen */
	__u64 pid_tgid; /* its reader's */
	__u32 kind; /* EVENT_RECEIVE when read (EVENT_PATH for a session that takes its send marks), or EVENT_SEND */
	__u32 has; /* its marks, bit per enum mark */
	struct reader reader;
	int slots[NR_HISTS]; /* histogram slot per stage and reader state, -1 when not measured */
};

/* A datagram, and one session's own view of it when the session takes fewer marks than the plan sees. */
struct views {
	struct dgram all;
	struct dgram own;
};

/*
 * Views in a map rather than on the stack, which the programs' frames already
 * fill: one per CPU and context that completes datagrams. Reads and a
 * sender's return run in process context; a datagram leaves the driver with
 * BH off, which may interrupt either, but not itself.
 */
enum views_slot {
	VIEWS_READ,
	VIEWS_SENT,
	VIEWS_XMIT,
	NR_VIEWS,
};

struct reading_map {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NR_VIEWS);
	__type(key, __u32);
	__type(value, struct views);
};

extern struct reading_map reading SEC(".maps");

static __always_inline struct views *views_of(__u32 slot)
{
	return bpf_map_lookup_elem(&reading, &slot);
}

/* A datagram freed instead of read. */
struct drop {
	struct skb_info info;
	__u64 time_ns;
	__u32 reason;
};

/* Counter `index` (enum counter) of each session of mask. */
int count_for(__u64 mask, __u64 index);

/*
 * The sessions of mask whose packet filter info passes, as a datagram
 * received (the local end is its destination) or, with `as_sent`, sent (its
 * source).
 */
__u64 packet_sessions(__u64 mask, const struct skb_info *info, bool as_sent);

/* The sessions of mask whose pid, cgroup and comm filters the current task passes. */
__u64 task_sessions(__u64 mask);

/* The sessions of mask that trace the network namespace netns. */
__u64 netns_sessions(__u64 mask, __u32 netns);

/* Slot i holds 2^(i-1) <= v < 2^i, slot 0 holds 0; the last slot takes everything above. */
int log2_slot(__u64 v);

/*
 * Everything a read or a send completes for one session (v->all.kind): filter
 * by reader, count, histogram, and emit when slow.
 */
int session_complete(__u32 slot, struct views *v);

/* Everything a drop completes for one session: count by reason, and emit within the session's cap. */
int session_drop(__u32 slot, const struct drop *drop);

/* The sessions of `direction` (receive_sessions, send_sessions...) that trace local port `port`. */
static __always_inline __u64 sessions_for_port(__u16 port, __u64 direction)
{
	__u32 key = port;
	__u64 *mask = bpf_map_lookup_elem(&port_sessions, &key);

	return (any_port_sessions | (mask ? *mask : 0)) & active_sessions &
	       direction;
}

/*
 * The sessions whose datagrams a read on local port `port` may complete: those
 * that trace it, and those of both directions, which may have tracked a
 * datagram sent to any port from one of their own.
 */
static __always_inline __u64 read_sessions(__u16 port)
{
	return sessions_for_port(port, receive_sessions) |
	       (both_sessions & active_sessions);
}

/* Cheap checks on the socket, from direct loads only: every UDP read and wakeup on the host passes here. */
static __always_inline __u64 socket_sessions(const struct sock *sk)
{
	__u64 mask;

	if (sk->sk_protocol != IPPROTO_UDP)
		return 0;
	mask = read_sessions(sk->__sk_common.skc_num);
	if (mask & netns_filtered_sessions)
		mask = netns_sessions(mask,
				      sk->__sk_common.skc_net.net->ns.inum);
	return mask;
}

/* d's marks, first mark and its stages' histogram slots, for marks `seen` (a global function: the verifier checks it once). */
int measure(struct dgram *d, __u32 seen);

/* What the reader did while d waited in the queue, and its histogram slots, when a session takes it. */
int measure_wait(struct dgram *d, __u64 now);

#endif /* __SESSIONS_BPF_H */
