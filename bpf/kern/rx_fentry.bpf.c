// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The fentry plan's socket side: fexit on the UDP functions, with their arguments and results. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "inflight.bpf.h"

SEC("fexit/__udp_enqueue_schedule_skb")
int BPF_PROG(ulf_enqueue, struct sock *sk, struct sk_buff *skb, int ret)
{
	if (!ret)
		mark_enqueued(skb);
	return 0;
}

SEC("fexit/__skb_recv_udp")
int BPF_PROG(ulf_read, struct sock *sk, unsigned int flags, int *off, int *err,
	     struct sk_buff *skb)
{
	__u64 mask;

	if (!skb || (flags & (MSG_PEEK | MSG_ERRQUEUE)))
		return 0;
	mask = socket_sessions(sk);
	if (mask)
		take_skb(skb, mask);
	return 0;
}

SEC("fexit/udp_recvmsg")
int BPF_PROG(ulf_return4, struct sock *sk, struct msghdr *msg, size_t len,
	     int flags, int *addr_len, int ret)
{
	mark_returned(ret);
	return 0;
}

SEC("fexit/udpv6_recvmsg")
int BPF_PROG(ulf_return6, struct sock *sk, struct msghdr *msg, size_t len,
	     int flags, int *addr_len, int ret)
{
	mark_returned(ret);
	return 0;
}
