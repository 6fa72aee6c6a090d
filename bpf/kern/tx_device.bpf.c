// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * queued, xmitStart and xmitDone, on every plan, while a session traces
 * sends: the device layer's tracepoints (tx.bpf.h says how a datagram sent
 * is followed). Every packet the host sends passes here.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "tx.bpf.h"

#define NETDEV_TX_OK 0

/* __dev_queue_xmit(): the datagram enters the device layer, in its sender's context. */
SEC("tp_btf/net_dev_queue")
int BPF_PROG(ulx_queue, struct sk_buff *skb)
{
	__u64 key, head, now, sent_by, mask;
	struct tracked_entry *t;
	struct skb_info info;

	mask = tx_match(skb, &info, &sent_by);
	if (!mask)
		return 0;
	now = bpf_ktime_get_ns();
	key = addr_of(skb);
	head = (__u64)skb->head;
	t = tracked_find(key);
	/* A stacked device (a VLAN over its NIC) queues it again: it is followed from the first. */
	if (t && t->info.head == head &&
	    now - tracked_since(t) <= STALE_ARRIVE_NS)
		return 0;
	if (tx_is_gso(skb)) {
		count_for(mask, COUNTER_untracked);
		return 0;
	}
	t = track_claim(key, &info, mask, head, MARK_QUEUED, now);
	if (!t) {
		count_for(mask, COUNTER_untracked);
		return 0;
	}
	note_sender(t, key, sent_by);
	return 0;
}

/* The qdisc let it go: handed to the driver (again, if the driver was busy the last time). */
SEC("tp_btf/net_dev_start_xmit")
int BPF_PROG(ulx_start, const struct sk_buff *skb, const struct net_device *dev)
{
	struct tracked_entry *t = tracked_find(addr_of(skb));

	if (t && t->info.marks[MARK_QUEUED] && !t->info.marks[MARK_XMIT_DONE])
		t->info.marks[MARK_XMIT_START] = bpf_ktime_get_ns();
	return 0;
}

/*
 * The driver took it. skb may be freed by now (by a reader on another CPU,
 * for one delivered on this host): only its address is used.
 */
SEC("tp_btf/net_dev_xmit")
int BPF_PROG(ulx_done, struct sk_buff *skb, int rc, struct net_device *dev,
	     unsigned int skb_len)
{
	__u64 key = addr_of(skb);
	struct tracked_entry *t;
	struct sender *s;

	if (rc != NETDEV_TX_OK)
		return 0;
	t = tracked_find(key);
	if (!t || !t->info.marks[MARK_QUEUED] || t->info.marks[MARK_XMIT_DONE])
		return 0;
	t->info.marks[MARK_XMIT_DONE] = bpf_ktime_get_ns();
	/* Within its sender's call, which returns next: it completes with sent. One received here does not wait. */
	s = sent_tracking && !t->info.marks[MARK_RX] ? sender_in_call() : NULL;
	if (s && s->skb == key) {
		t->info.tx_flags |= TX_AWAITS_SENT;
		return 0;
	}
	send_completes(t, key, VIEWS_XMIT);
	return 0;
}
