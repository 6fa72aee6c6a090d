// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The kprobe plan's socket side, for kernels whose ftrace refuses fexit: a
 * kretprobe has no arguments, so each entry probe keeps what its return needs.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "inflight.bpf.h"

/* The skb being enqueued on this CPU (enqueue runs with BH off, so it cannot migrate or nest). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} enqueue_skb SEC(".maps");

/* The entry of recvmsg keeps sk and flags for the kretprobe on __skb_recv_udp. */
struct recv_args {
	__u64 sk;
	__u32 flags;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct recv_args);
} recv_args SEC(".maps");

SEC("kprobe/__udp_enqueue_schedule_skb")
int BPF_KPROBE(ulk_enqueue, struct sock *sk, struct sk_buff *skb)
{
	__u32 zero = 0;
	__u64 *slot = bpf_map_lookup_elem(&enqueue_skb, &zero);

	if (slot)
		*slot = (__u64)skb;
	return 0;
}

SEC("kretprobe/__udp_enqueue_schedule_skb")
int BPF_KRETPROBE(ulk_enqueue_ret, int ret)
{
	__u32 zero = 0;
	__u64 *slot = bpf_map_lookup_elem(&enqueue_skb, &zero);

	if (slot && *slot && !ret)
		mark_enqueued((struct sk_buff *)*slot);
	return 0;
}

static __always_inline void save_recv_args(struct sock *sk, int flags)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct recv_args args = { .sk = (__u64)sk, .flags = flags };

	bpf_map_update_elem(&recv_args, &tid, &args, BPF_ANY);
}

SEC("kprobe/udp_recvmsg")
int BPF_KPROBE(ulk_recv4, struct sock *sk, struct msghdr *msg, size_t len,
	       int flags)
{
	save_recv_args(sk, flags);
	return 0;
}

SEC("kprobe/udpv6_recvmsg")
int BPF_KPROBE(ulk_recv6, struct sock *sk, struct msghdr *msg, size_t len,
	       int flags)
{
	save_recv_args(sk, flags);
	return 0;
}

SEC("kretprobe/__skb_recv_udp")
int BPF_KRETPROBE(ulk_read, struct sk_buff *skb)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct recv_args *args = bpf_map_lookup_elem(&recv_args, &tid);
	struct sock *sk;
	__u64 mask;

	if (!args || !skb || (args->flags & (MSG_PEEK | MSG_ERRQUEUE)))
		return 0;
	/* A kprobe's socket is not BTF-typed: read what socket_sessions() loads directly. */
	sk = (struct sock *)args->sk;
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_UDP)
		return 0;
	mask = read_sessions(BPF_CORE_READ(sk, __sk_common.skc_num));
	if (mask & netns_filtered_sessions)
		mask = netns_sessions(mask,
				      BPF_CORE_READ(sk, __sk_common.skc_net.net,
						    ns.inum));
	if (mask)
		take_skb(skb, mask);
	return 0;
}

static __always_inline void kprobe_returned(int ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	bpf_map_delete_elem(&recv_args, &tid);
	mark_returned(ret);
}

SEC("kretprobe/udp_recvmsg")
int BPF_KRETPROBE(ulk_return4, int ret)
{
	kprobe_returned(ret);
	return 0;
}

SEC("kretprobe/udpv6_recvmsg")
int BPF_KRETPROBE(ulk_return6, int ret)
{
	kprobe_returned(ret);
	return 0;
}
