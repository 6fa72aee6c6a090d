// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Context switches, on every plan, while a session needs to know who held a
 * CPU (cpu_history.bpf.h): each CPU keeps its last CPU_HISTORY_LEN.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "maps.bpf.h"

SEC("tp_btf/sched_switch")
int BPF_PROG(uls_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	__u32 zero = 0;
	struct cpu_history *h = bpf_map_lookup_elem(&cpu_history, &zero);
	struct cpu_switch *s;

	if (!h)
		return 0;
	s = &h->switches[h->next & (CPU_HISTORY_LEN - 1)];
	s->time_ns = bpf_ktime_get_ns();
	s->pid = next->tgid;
	__builtin_memcpy(s->comm, next->comm, sizeof(s->comm));
	h->next++;
	return 0;
}
