// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * arrive, on every plan: a UDP datagram enters the IP stack, out of its CPU's
 * backlog or GRO, with how it waited there (struct softirq). Every packet of
 * the host passes here while a session takes arrive.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "cpu_history.bpf.h"
#include "track.bpf.h"

/* A backlog wait shorter than this names no task: too short to be another task's doing. */
#define BEHIND_MIN_NS 5000

/* include/linux/sched.h: a kernel thread (a #define, not in BTF). */
#define PF_KTHREAD 0x00200000

static __always_inline bool in_ksoftirqd(const struct task_struct *task)
{
	static const char name[] = "ksoftirqd/";
	int i;

	if (!(task->flags & PF_KTHREAD))
		return false;
	for (i = 0; i < sizeof(name) - 1; i++)
		if (task->comm[i] != name[i])
			return false;
	return true;
}

/* Where and how NET_RX took the datagram out of the backlog, and who held the CPU while it waited. */
static __always_inline void note_softirq(struct skb_info *info, __u64 now)
{
	struct softirq *s = &info->softirq;
	__u64 rx = info->marks[MARK_RX];

	s->cpu = bpf_get_smp_processor_id();
	s->flags = SOFTIRQ_SEEN;
	if (in_ksoftirqd(bpf_get_current_task_btf()))
		s->flags |= SOFTIRQ_IN_KSOFTIRQD;
	if (rx && now > rx && now - rx >= BEHIND_MIN_NS)
		longest_holder(s->cpu, rx, now, &s->behind_pid, s->behind_comm);
}

SEC("tp_btf/netif_receive_skb")
int BPF_PROG(ula_arrive, struct sk_buff *skb)
{
	__u64 key = addr_of(skb), head = (__u64)skb->head, now, mask;
	struct tracked_entry *t;
	struct skb_info info;

	mask = track_match(skb->data, skb->protocol, &info);
	if (!mask && !(both_sessions && info.flow.family))
		return 0;
	now = bpf_ktime_get_ns();
	/* Its rx or its sender's queued began it; else it begins here. */
	t = track_mark(key, &info, mask, head, MARK_ARRIVE, now);
	if (t)
		note_softirq(&t->info, now);
	return 0;
}
