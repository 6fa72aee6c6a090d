/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Which threads are readers, and where their histories are (maps.bpf.h,
 * `readers`): a thread is one from its first read of a traced socket. A
 * switch between other tasks costs a bit test in `reader_sets`; a reader's
 * way is found by its tid and start time, so a tid used again by a new thread
 * is not the old reader.
 */
#ifndef __READERS_BPF_H
#define __READERS_BPF_H

#include "maps.bpf.h"

#define READER_SETS (1U << READER_SET_BITS)
/* A reader that changed state this long ago may give its way to another thread of its set. */
#define READER_IDLE_NS (30 * 1000000000ULL)

/* The word of `reader_sets` that holds set's bit. */
static __always_inline __u64 *reader_set_word(__u32 set)
{
	return &reader_sets[(set >> 6) & (READER_SETS / 64 - 1)];
}

static __always_inline bool reader_set_used(__u32 set)
{
	return (*reader_set_word(set) >> (set & 63)) & 1;
}

/* task's history, and its key in *key; NULL when task is no reader. */
static __always_inline struct reader_history *
reader_of(const struct task_struct *task, __u32 *key)
{
	__u32 tid = task->pid, set = tid & (READER_SETS - 1), k;
	struct reader_history *h;
	int w;

	if (!reader_set_used(set))
		return NULL;
	for (w = 0; w < READER_WAYS; w++) {
		k = set * READER_WAYS + w;
		h = bpf_map_lookup_elem(&readers, &k);
		if (h && h->tid == tid && h->start_ns == task->start_time) {
			*key = k;
			return h;
		}
	}
	return NULL;
}

/* Whether a way may go to another thread: free, its tid's thread gone (the tid is ours now), or idle long. */
static __always_inline bool reader_way_free(const struct reader_history *h,
					    __u32 tid, __u64 now)
{
	const struct reader_change *last =
		&h->changes[(h->next - 1) & (READER_HISTORY_LEN - 1)];

	return !h->tid || h->tid == tid || now - last->time_ns > READER_IDLE_NS;
}

/*
 * The current thread's history, registering it as a reader when it is none:
 * its history begins now, running. NULL when both ways of its set hold other
 * live readers (its datagrams' verdicts are then unknown).
 */
static __always_inline struct reader_history *reader_begins(__u64 now,
							    __u32 *key)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 tid = task->pid, set = tid & (READER_SETS - 1), k;
	struct reader_history *h = reader_of(task, key);
	__u64 old;
	int w;

	if (h)
		return h;
	for (w = 0; w < READER_WAYS; w++) {
		k = set * READER_WAYS + w;
		h = bpf_map_lookup_elem(&readers, &k);
		if (!h || !reader_way_free(h, tid, now))
			continue;
		old = h->tid;
		if (__sync_val_compare_and_swap(&h->tid, old, tid) != old)
			continue;
		h->start_ns = task->start_time;
		h->changes[0].time_ns = now;
		h->changes[0].state = READER_ON_CPU;
		h->changes[0].cpu = bpf_get_smp_processor_id();
		h->next = 1;
		__sync_fetch_and_or(reader_set_word(set), 1ULL << (set & 63));
		*key = k;
		return h;
	}
	return NULL;
}

#endif /* __READERS_BPF_H */
