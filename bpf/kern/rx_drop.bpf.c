// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Drops, on every plan: a tracked datagram freed instead of read, with the kernel's reason. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "sessions.bpf.h"
#include "tracked.bpf.h"

SEC("tp_btf/kfree_skb")
int BPF_PROG(ul_drop, struct sk_buff *skb, void *location,
	     enum skb_drop_reason reason)
{
	__u64 key = addr_of(skb), mask;
	struct tracked_entry *t;
	struct drop drop;
	__u32 slot, n;

	t = tracked_find(key);
	if (!t)
		return 0;
	drop.info = t->info;
	if (!tracked_release(t, key))
		return 0;
	mask = drop.info.sessions & active_sessions;
	if (drop.info.head != (__u64)skb->head) {
		/* Our datagram was consumed unseen and its sk_buff reused: this drop is another packet's. */
		count_for(mask, COUNTER_stale);
		return 0;
	}
	drop.time_ns = bpf_ktime_get_ns();
	drop.reason = reason;
	for_each_session(slot, mask, n)
		session_drop(slot, &drop);
	return 0;
}
