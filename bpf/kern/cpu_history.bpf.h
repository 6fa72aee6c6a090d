/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Who held a CPU over an interval, from its last context switches (recorded
 * by sched.bpf.c while a session needs them).
 */
#ifndef __CPU_HISTORY_BPF_H
#define __CPU_HISTORY_BPF_H

#include "maps.bpf.h"

_Static_assert((CPU_HISTORY_LEN & (CPU_HISTORY_LEN - 1)) == 0,
	       "the history's index is masked");

/* The task that held a CPU longest over [from, to], found by walk_back(). */
struct holder_walk {
	__u64 from;
	__u64 to;
	__u64 end; /* when the switch being looked at ended: the next one's start */
	__u64 best_ns;
	__u32 cpu;
	__u32 best; /* index of the longest holder's switch */
	bool found;
};

static __always_inline struct cpu_history *history_of(__u32 cpu)
{
	__u32 zero = 0;

	return bpf_map_lookup_percpu_elem(&cpu_history, &zero, cpu);
}

/* One switch back in time: 0 goes on, 1 stops (older than the interval, or the history's end). */
static long walk_back(__u32 i, void *data)
{
	struct holder_walk *w = data;
	struct cpu_history *h = history_of(w->cpu);
	__u64 start, lo, hi;
	__u32 index;

	if (!h || i >= h->next || w->end <= w->from)
		return 1;
	index = (h->next - 1 - i) & (CPU_HISTORY_LEN - 1);
	start = h->switches[index].time_ns;
	lo = start > w->from ? start : w->from;
	hi = w->end < w->to ? w->end : w->to;
	if (hi > lo && hi - lo > w->best_ns) {
		w->best_ns = hi - lo;
		w->best = index;
		w->found = true;
	}
	w->end = start;
	return 0;
}

/*
 * The task (tgid and comm) that held cpu longest over [from, to]; pid 0 when
 * the history does not reach it.
 */
static __always_inline void longest_holder(__u32 cpu, __u64 from, __u64 to,
					   __u32 *pid, char *comm)
{
	struct holder_walk w = { .from = from, .to = to, .end = to, .cpu = cpu };
	struct cpu_history *h;
	struct cpu_switch *sw;

	bpf_loop(CPU_HISTORY_LEN, walk_back, &w, 0);
	h = history_of(cpu);
	if (!w.found || !h)
		return;
	sw = &h->switches[w.best & (CPU_HISTORY_LEN - 1)];
	*pid = sw->pid;
	__builtin_memcpy(comm, sw->comm, TASK_COMM_LEN);
}

#endif /* __CPU_HISTORY_BPF_H */
