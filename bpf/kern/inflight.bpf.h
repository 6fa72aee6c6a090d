/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The socket side where the skb is in hand (fentry and kprobe plans): enqueue
 * stamps the tracked skb; the read moves its marks from the per-skb slot to
 * the per-thread `inflight` map, where udp_recvmsg's return, which says
 * whether the read succeeded, finds them (its call's exit completes it:
 * returns.bpf.h).
 */
#ifndef __INFLIGHT_BPF_H
#define __INFLIGHT_BPF_H

#include "returns.bpf.h"
#include "track.bpf.h"

#define MSG_PEEK 0x2
#define MSG_ERRQUEUE 0x2000

/* enqueue stamps the tracked datagram, or, with no mark before the socket taken, begins tracking it. */
static __always_inline void mark_enqueued(struct sk_buff *skb)
{
	__u64 key = addr_of(skb), now = bpf_ktime_get_ns();
	struct tracked_entry *t = tracked_find(key);

	if (t)
		t->info.marks[MARK_ENQUEUE] = now;
	else if (track_at_enqueue)
		track_queued(key, now);
}

/* A read of the sessions of mask dequeued skb. */
static __always_inline void take_skb(struct sk_buff *skb, __u64 mask)
{
	__u64 key = addr_of(skb);
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct tracked_entry *t = tracked_find(key);
	struct skb_info info;

	if (!t) {
		count_for(mask, COUNTER_untracked);
		return;
	}
	info = t->info;
	if (!tracked_release(t, key)) {
		count_for(mask, COUNTER_untracked);
		return;
	}
	if (info.head != (__u64)BPF_CORE_READ(skb, head)) {
		count_for(mask, COUNTER_stale);
		return;
	}
	info.sessions &= mask;
	info.marks[MARK_READ] = bpf_ktime_get_ns();
	bpf_map_update_elem(&inflight, &tid, &info, BPF_ANY);
}

static __always_inline void mark_returned(int ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct skb_info *info = bpf_map_lookup_elem(&inflight, &tid);
	struct views *v = views_of(VIEWS_READ);

	if (!info || !v)
		return;
	if (ret >= 0) {
		v->all.info = *info;
		read_done(v, v->all.info.sessions & active_sessions,
			  v->all.info.marks[MARK_READ], bpf_ktime_get_ns());
	}
	bpf_map_delete_elem(&inflight, &tid);
}

#endif /* __INFLIGHT_BPF_H */
