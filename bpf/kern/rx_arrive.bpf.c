// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* arrive, on every plan: a UDP datagram enters the IP stack. Every packet of the host passes here. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "parse.bpf.h"
#include "sessions.bpf.h"
#include "tracked.bpf.h"

SEC("tp_btf/netif_receive_skb")
int BPF_PROG(ul_arrive, struct sk_buff *skb)
{
	struct tracked_entry *t;
	struct skb_info info;
	__u64 mask, now;
	int m;

	if (parse_udp(skb, &info))
		return 0;
	mask = sessions_for_port(info.flow.dport);
	if (mask & packet_filtered_sessions)
		mask = packet_sessions(mask, &info);
	if (!mask)
		return 0;
	now = bpf_ktime_get_ns();
	/* With both ways held by live datagrams, this one goes untracked: its read counts it so. */
	t = tracked_claim(addr_of(skb), now);
	if (!t)
		return 0;
	info.sessions = mask;
	for (m = 0; m < NR_MARKS; m++)
		info.marks[m] = 0;
	info.marks[MARK_ARRIVE] = now;
	info.head = (__u64)skb->head;
	t->info = info;
	return 0;
}
