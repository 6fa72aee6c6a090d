/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The headers of a UDP datagram: its flow, from its IP and UDP headers. */
#ifndef __PARSE_BPF_H
#define __PARSE_BPF_H

#include <bpf/bpf_endian.h>
#include "maps.bpf.h"

#define AF_INET 2
#define AF_INET6 10
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IP_MF 0x2000
#define IP_OFFSET 0x1FFF

struct l3l4 {
	union {
		struct iphdr v4;
		struct ipv6hdr v6;
	};
	struct udphdr udp; /* right after an IPv4 header without options */
};

/*
 * The flow of the datagram whose IP header is at l3, proto being its
 * skb->protocol; -1 for anything but an unfragmented UDP datagram.
 */
static __always_inline int parse_udp(const void *l3, __u16 proto,
				     struct flow *flow)
{
	struct l3l4 h;
	struct udphdr *udp;

	if (proto == bpf_htons(ETH_P_IP)) {
		if (bpf_probe_read_kernel(&h, sizeof(h.v4) + sizeof(h.udp), l3))
			return -1;
		if (h.v4.protocol != IPPROTO_UDP ||
		    (h.v4.frag_off & bpf_htons(IP_MF | IP_OFFSET)))
			return -1;
		udp = (struct udphdr *)((__u8 *)&h + sizeof(h.v4));
		if (h.v4.ihl != 5 &&
		    bpf_probe_read_kernel(udp, sizeof(*udp), l3 + h.v4.ihl * 4))
			return -1;
		flow->family = AF_INET;
		__builtin_memset(flow->saddr, 0, sizeof(flow->saddr));
		__builtin_memset(flow->daddr, 0, sizeof(flow->daddr));
		__builtin_memcpy(flow->saddr, &h.v4.saddr, 4);
		__builtin_memcpy(flow->daddr, &h.v4.daddr, 4);
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		if (bpf_probe_read_kernel(&h, sizeof(h), l3))
			return -1;
		/* Extension headers before UDP are not followed. */
		if (h.v6.nexthdr != IPPROTO_UDP)
			return -1;
		udp = &h.udp;
		flow->family = AF_INET6;
		__builtin_memcpy(flow->saddr, &h.v6.saddr, 16);
		__builtin_memcpy(flow->daddr, &h.v6.daddr, 16);
	} else {
		return -1;
	}
	flow->sport = bpf_ntohs(udp->source);
	flow->dport = bpf_ntohs(udp->dest);
	flow->len = bpf_ntohs(udp->len) - sizeof(*udp);
	flow->reserved = 0;
	return 0;
}

#endif /* __PARSE_BPF_H */
