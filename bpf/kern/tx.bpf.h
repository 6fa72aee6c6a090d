/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The sending side. A sender's call (send: udp_sendmsg, or the system call)
 * opens a record in the thread's slot of `senders`; queued begins
 * tracking the datagram in the sender's context, which names the sender and
 * takes the call's start as its send mark; xmitStart and xmitDone follow it
 * through the qdisc and the driver; sent closes the call. A datagram is
 * complete as it leaves the driver, or, when it left within its sender's
 * call, as that call returns. One this host also receives (loopback, a veth
 * pair) stays tracked for the sessions of both directions, whose path event
 * its read completes.
 */
#ifndef __TX_BPF_H
#define __TX_BPF_H

#include <bpf/bpf_core_read.h>
#include "parse.bpf.h"
#include "track.bpf.h"

/* A call that began this long ago and never returned (it failed before the socket) frees its slot for another thread. */
#define SENDER_STALE_NS 1000000000ULL
#define IN_CALL 1ULL

/* The current thread's slot in `senders`, and its claim while in a call. */
static __always_inline struct sender *sender_slot(__u64 *in_call)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u32 key = tid & ((1U << SENDER_BITS) - 1);

	*in_call = (__u64)tid << 1 | IN_CALL;
	return bpf_map_lookup_elem(&senders, &key);
}

/* A sender's call began: `datagrams` is how many it may send (sendmmsg: its vlen). */
static __always_inline void send_begins(__u32 datagrams)
{
	__u64 now = bpf_ktime_get_ns(), mine, old;
	struct sender *s = sender_slot(&mine);

	if (!s)
		return;
	old = s->claim;
	/* Another thread's call under way holds the slot: this call goes unmarked. */
	if ((old | IN_CALL) != mine && (old & IN_CALL) &&
	    now - s->send_ns < SENDER_STALE_NS)
		return;
	if (__sync_val_compare_and_swap(&s->claim, old, mine) != old)
		return;
	s->send_ns = now;
	s->pending = datagrams ? datagrams : 1;
	s->skb = 0;
}

/* The current thread's record, while it is in a call that sends. */
static __always_inline struct sender *sender_in_call(void)
{
	__u64 mine;
	struct sender *s = sender_slot(&mine);

	return s && s->claim == mine ? s : NULL;
}

/*
 * The sessions that trace the datagram being queued, as a datagram sent from
 * one of their local ports (sent_by), or, for the sessions of both
 * directions, as one sent to one (its read completes the path).
 */
static __always_inline __u64 tx_match(const struct sk_buff *skb,
				      struct skb_info *info, __u64 *sent_by)
{
	const struct sock *sk = skb->sk;
	__u64 as_sent, as_received;

	/* Only what a local UDP socket sends: not a packet forwarded, nor one of another protocol. */
	if (!sk || sk->sk_protocol != IPPROTO_UDP)
		return 0;
	if (parse_udp((const void *)((__u64)skb->head + skb->network_header),
		      skb->protocol, &info->flow))
		return 0;
	as_sent = sessions_for_port(info->flow.sport, send_sessions);
	if (as_sent & packet_filtered_sessions)
		as_sent = packet_sessions(as_sent, info, true);
	if (as_sent & netns_filtered_sessions)
		as_sent = netns_sessions(as_sent,
					 sk->__sk_common.skc_net.net->ns.inum);
	if (as_sent & reader_filtered_sessions)
		as_sent = task_sessions(as_sent);
	as_received = sessions_for_port(info->flow.dport, both_sessions);
	if (as_received & packet_filtered_sessions)
		as_received = packet_sessions(as_received, info, false);
	*sent_by = as_sent;
	return as_sent | as_received;
}

/* Whether skb is a GSO super-packet: segmented after the qdisc, its segments are other sk_buffs. */
static __always_inline bool tx_is_gso(const struct sk_buff *skb)
{
	const struct skb_shared_info *shinfo =
		(const void *)((__u64)skb->head + skb->end);

	return BPF_CORE_READ(shinfo, gso_size) != 0;
}

/* The current task queued t's datagram: its sender, and, within a call, the call's start. */
static __always_inline void note_sender(struct tracked_entry *t, __u64 key,
					__u64 sent_by)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct sender *s = sender_in_call();

	t->info.sent_by = sent_by;
	t->info.sender.pid = pid_tgid >> 32;
	t->info.sender.tid = (__u32)pid_tgid;
	bpf_get_current_comm(t->info.sender.comm, sizeof(t->info.sender.comm));
	t->info.sender_cgroup = bpf_get_current_cgroup_id();
	if (!s)
		return;
	t->info.marks[MARK_SEND] = s->send_ns;
	s->skb = key;
	s->since = tracked_since(t);
}

/*
 * t's datagram was sent: each session that traces sends and does not await
 * its read sees it, from views `slot`. One this host received already (its rx
 * stamped inside the driver's transmit) stays tracked for the other sessions.
 */
static __always_inline void send_completes(struct tracked_entry *t, __u64 key,
					   __u32 slot)
{
	struct views *v = views_of(slot);
	__u64 mask, sent, keep;
	__u32 s, n;

	if (!v)
		return;
	v->all.info = t->info;
	mask = v->all.info.sessions & active_sessions;
	keep = v->all.info.marks[MARK_RX] ? mask & receive_sessions : 0;
	sent = mask & send_sessions & ~(keep & both_sessions);
	if (keep)
		__sync_fetch_and_and(&t->info.sessions, ~sent);
	else if (!tracked_release(t, key))
		return;
	/* A path that only sessions of both directions take completes at its read: nothing to measure here. */
	if (!sent)
		return;
	v->all.kind = EVENT_SEND;
	v->all.pid_tgid = 0;
	measure(&v->all, plan_marks);
	for_each_session(s, sent, n)
		session_complete(s, v);
}

/* A sender's call returned: sent, on the datagram it queued last, which that completes when it left during the call. */
static __always_inline void send_returns(void)
{
	struct sender *s = sender_in_call();
	struct tracked_entry *t;
	__u64 key, since;

	if (!s)
		return;
	key = s->skb;
	since = s->since;
	s->skb = 0;
	if (s->pending > 1)
		s->pending--;
	else
		s->claim &= ~IN_CALL;
	t = key ? tracked_find(key) : NULL;
	if (!t || tracked_since(t) != since || t->info.marks[MARK_SENT])
		return;
	t->info.marks[MARK_SENT] = bpf_ktime_get_ns();
	if (t->info.tx_flags & TX_AWAITS_SENT)
		send_completes(t, key, VIEWS_SENT);
}

#endif /* __TX_BPF_H */
