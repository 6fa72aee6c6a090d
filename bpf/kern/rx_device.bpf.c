// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * rx, on every plan: the device handed the datagram to the stack, before a
 * CPU's backlog (netif_rx: loopback, veth, tun) or before GRO and RPS (NAPI
 * drivers). The kernel's receive timestamp (SO_TIMESTAMPNS) is taken here
 * too. Every packet of the host passes here while a session takes rx.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "track.bpf.h"

/*
 * skb->data is at the IP header: the drivers have called eth_type_trans().
 * A datagram this host sent has been tracked since it was queued.
 */
static __always_inline void mark_rx(struct sk_buff *skb)
{
	/* First: the parse and the match would lie between the kernel's timestamp and rx (2 us on a cold CPU). */
	__u64 now = bpf_ktime_get_ns();
	struct skb_info info;
	__u64 mask = track_match(skb->data, skb->protocol, &info);

	if (mask || (both_sessions && info.flow.family))
		track_mark(addr_of(skb), &info, mask, (__u64)skb->head, MARK_RX,
			   now);
}

SEC("tp_btf/netif_rx")
int BPF_PROG(ulr_netif_rx, struct sk_buff *skb)
{
	mark_rx(skb);
	return 0;
}

SEC("tp_btf/napi_gro_receive_entry")
int BPF_PROG(ulr_gro, struct sk_buff *skb)
{
	mark_rx(skb);
	return 0;
}

SEC("tp_btf/napi_gro_frags_entry")
int BPF_PROG(ulr_gro_frags, struct sk_buff *skb)
{
	mark_rx(skb);
	return 0;
}

SEC("tp_btf/netif_receive_skb_entry")
int BPF_PROG(ulr_skb, struct sk_buff *skb)
{
	mark_rx(skb);
	return 0;
}

SEC("tp_btf/netif_receive_skb_list_entry")
int BPF_PROG(ulr_skb_list, struct sk_buff *skb)
{
	mark_rx(skb);
	return 0;
}
