/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A datagram's first mark begins its tracking: parse, match the sessions'
 * packet filters, claim a way in `tracked`; a later mark continues it. Which
 * mark is first depends on the marks the sessions take and the datagram's
 * path: queued, when this host sent it (tx.bpf.h); else rx, arrive, or, with
 * neither, enqueue (maps.bpf.h: rx_tracking, track_at_enqueue).
 */
#ifndef __TRACK_BPF_H
#define __TRACK_BPF_H

#include <bpf/bpf_core_read.h>
#include "parse.bpf.h"
#include "sessions.bpf.h"
#include "tracked.bpf.h"

/*
 * Whether t holds the datagram in the buffer at head, seen first lately, not
 * yet marked `mark` or a later mark of the receiving side.
 */
static __always_inline bool track_continues(const struct tracked_entry *t,
					    __u64 head, int mark, __u64 now)
{
	int m;

	if (t->info.head != head || now - tracked_since(t) > STALE_ARRIVE_NS)
		return false;
	for (m = mark; m <= MARK_RETURN; m++)
		if (t->info.marks[m])
			return false;
	return true;
}

/*
 * The sessions that want to see the datagram whose IP header is at l3
 * received, its flow parsed into info; 0 for none, and for anything but UDP
 * (whose flow's family stays 0).
 */
static __always_inline __u64 track_match(const void *l3, __u16 proto,
					 struct skb_info *info)
{
	__u64 mask;

	info->flow.family = 0;
	if (parse_udp(l3, proto, &info->flow))
		return 0;
	mask = sessions_for_port(info->flow.dport, receive_sessions);
	if (mask & packet_filtered_sessions)
		mask = packet_sessions(mask, info, false);
	return mask;
}

/*
 * Begins tracking the matched datagram (info, for the sessions of mask) of
 * the sk_buff at key with `mark` at now; NULL when both ways are held (its
 * read counts it untracked).
 */
static __always_inline struct tracked_entry *track_claim(__u64 key,
							 struct skb_info *info,
							 __u64 mask, __u64 head,
							 int mark, __u64 now)
{
	struct tracked_entry *t = tracked_claim(key, now);
	int m;

	if (!t)
		return NULL;
	info->sessions = mask;
	info->sent_by = 0;
	for (m = 0; m < NR_MARKS; m++)
		info->marks[m] = 0;
	info->marks[mark] = now;
	info->head = head;
	info->since = now;
	info->sender_cgroup = 0;
	info->tx_flags = 0;
	__builtin_memset(&info->sender, 0, sizeof(info->sender));
	__builtin_memset(&info->softirq, 0, sizeof(info->softirq));
	t->info = *info;
	return t;
}

/*
 * Marks `mark` of the receiving side at now on the datagram of the sk_buff at
 * key, which the sessions of mask want to see received (its flow in info):
 * continues what an earlier mark began (queued, as this host sent it; rx,
 * for arrive), else begins it. A datagram this host sent is continued for
 * the sessions of both directions even when none wants it received.
 */
static __always_inline struct tracked_entry *track_mark(__u64 key,
							struct skb_info *info,
							__u64 mask, __u64 head,
							int mark, __u64 now)
{
	struct tracked_entry *t = tracked_find(key);

	if (t && track_continues(t, head, mark, now)) {
		t->info.marks[mark] = now;
		if (mask & ~t->info.sessions)
			__sync_fetch_and_or(&t->info.sessions, mask);
		return t;
	}
	return mask ? track_claim(key, info, mask, head, mark, now) : NULL;
}

/* Both: begins tracking the datagram whose IP header is at l3 if a session wants it. */
static __always_inline struct tracked_entry *
track_begin(__u64 key, const void *l3, __u16 proto, __u64 head, int mark,
	    __u64 now)
{
	struct skb_info info;
	__u64 mask = track_match(l3, proto, &info);

	return mask ? track_claim(key, &info, mask, head, mark, now) : NULL;
}

/*
 * Begins tracking at enqueue the datagram of the sk_buff at key, from its
 * network header; read with probe reads, as kprobes and queue walks give the
 * sk_buff untyped.
 */
static __always_inline struct tracked_entry *track_queued(__u64 key, __u64 now)
{
	struct sk_buff *skb = (struct sk_buff *)key;
	__u64 head = (__u64)BPF_CORE_READ(skb, head);
	__u16 network = BPF_CORE_READ(skb, network_header);

	return track_begin(key, (const void *)(head + network),
			   BPF_CORE_READ(skb, protocol), head, MARK_ENQUEUE,
			   now);
}

#endif /* __TRACK_BPF_H */
