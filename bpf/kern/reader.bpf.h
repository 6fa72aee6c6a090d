/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the thread that reads a datagram did while the datagram waited in the
 * socket's queue, from its history of changes of state (sched.bpf.c): running,
 * runnable but not running, or asleep; and, when it waited for a CPU a tenth
 * of the time or more, who held that CPU.
 */
#ifndef __READER_BPF_H
#define __READER_BPF_H

#include "cpu_history.bpf.h"
#include "readers.bpf.h"

_Static_assert((READER_HISTORY_LEN & (READER_HISTORY_LEN - 1)) == 0,
	       "the history's index is masked");

struct reader_walk {
	__u64 from;
	__u64 to;
	__u64 end; /* when the change being looked at ended: the next one's time */
	__u64 ns[NR_READER_STATES];
	__u64 wait_from; /* its longest wait for a CPU, and that CPU */
	__u64 wait_to;
	__u32 wait_cpu;
	__u32 next_cpu; /* where the change after the one looked at happened */
	__u32 key; /* the reader's history in `readers` */
	bool covered; /* the history reaches back to from */
};

/* One change back in time: 0 goes on, 1 stops (as old as the interval, or the history's end). */
static long reader_step(__u32 i, void *data)
{
	struct reader_walk *w = data;
	struct reader_history *h = bpf_map_lookup_elem(&readers, &w->key);
	struct reader_change *c;
	__u64 lo, hi;

	if (!h || i >= h->next)
		return 1;
	c = &h->changes[(h->next - 1 - i) & (READER_HISTORY_LEN - 1)];
	lo = c->time_ns > w->from ? c->time_ns : w->from;
	hi = w->end < w->to ? w->end : w->to;
	if (hi > lo && c->state < NR_READER_STATES) {
		w->ns[c->state] += hi - lo;
		/* It waited on the CPU it then ran on. */
		if (c->state == READER_RUNQUEUE &&
		    hi - lo > w->wait_to - w->wait_from) {
			w->wait_from = lo;
			w->wait_to = hi;
			w->wait_cpu = w->next_cpu;
		}
	}
	if (c->time_ns <= w->from) {
		w->covered = true;
		return 1;
	}
	w->end = c->time_ns;
	w->next_cpu = c->cpu;
	return 0;
}

/*
 * What the current thread, whose history is `key` in `readers`, did over
 * [from, to] into r; unknown when its history does not reach from.
 */
static __always_inline void measure_reader(struct reader *r, __u32 key,
					   __u64 from, __u64 to)
{
	struct reader_walk w = { .from = from,
				 .to = to,
				 .end = to,
				 .next_cpu = bpf_get_smp_processor_id(),
				 .key = key };
	__u64 longest = 0;
	int s;

	__builtin_memset(r, 0, sizeof(*r));
	r->verdict = VERDICT_UNKNOWN;
	if (!from || to <= from)
		return;
	bpf_loop(READER_HISTORY_LEN, reader_step, &w, 0);
	if (!w.covered)
		return;
	for (s = 0; s < NR_READER_STATES; s++) {
		r->ns[s] = w.ns[s];
		if (w.ns[s] >= longest) {
			longest = w.ns[s];
			r->verdict = VERDICT_STATE + s;
		}
	}
	if (10 * w.ns[READER_RUNQUEUE] >= to - from && w.wait_to > w.wait_from)
		longest_holder(w.wait_cpu, w.wait_from, w.wait_to,
			       &r->behind_pid, r->behind_comm);
}

#endif /* __READER_BPF_H */
