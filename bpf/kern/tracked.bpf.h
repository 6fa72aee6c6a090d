/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The datagrams in flight, keyed by skb address in a two-way set-associative
 * array (`tracked`): claiming a slot is a compare-and-swap, where a hash map
 * insert cost an allocation and, for the LRU kind, list locks (≈ 200 ns per
 * datagram). An entry whose datagram was consumed unseen is reclaimed once
 * older than STALE_ARRIVE_NS; a datagram that finds both ways live goes
 * untracked (its read counts it).
 */
#ifndef __TRACKED_BPF_H
#define __TRACKED_BPF_H

#include "maps.bpf.h"

/* A timestamp older than this at enqueue belongs to a previous skb at the same address. */
#define STALE_ARRIVE_NS 1000000000ULL

/*
 * A kernel address as a number to hash: the verifier forbids arithmetic
 * other than + and - on a pointer, but a pointer stored in a map value (with
 * CAP_PERFMON) reads back as a plain scalar.
 */
static __always_inline __u64 addr_of(const void *ptr)
{
	__u32 zero = 0;
	__u64 *cell = bpf_map_lookup_elem(&addr_scratch, &zero);

	if (!cell)
		return 0;
	*cell = (__u64)ptr;
	return *(volatile __u64 *)cell;
}

static __always_inline struct tracked_entry *tracked_way(__u64 skb, __u32 way)
{
	__u32 key = ((__u32)(((skb >> 8) * 0x9E3779B97F4A7C15ULL) >>
			     (64 - TRACKED_SET_BITS))
		     << 1) |
		    way;

	return bpf_map_lookup_elem(&tracked, &key);
}

static __always_inline struct tracked_entry *tracked_find(__u64 skb)
{
	struct tracked_entry *t = tracked_way(skb, 0);

	if (t && t->skb == skb)
		return t;
	t = tracked_way(skb, 1);
	return t && t->skb == skb ? t : NULL;
}

static __always_inline bool tracked_take(struct tracked_entry *t, __u64 old,
					 __u64 skb)
{
	return t && __sync_val_compare_and_swap(&t->skb, old, skb) == old;
}

/* When the datagram of an entry was first seen. */
static __always_inline __u64 tracked_since(const struct tracked_entry *t)
{
	return t->info.since;
}

/* A slot for skb: its own (an address freed unseen and reused), a free one, or one held longer than a datagram lives. */
static __always_inline struct tracked_entry *tracked_claim(__u64 skb, __u64 now)
{
	struct tracked_entry *t0 = tracked_way(skb, 0),
			     *t1 = tracked_way(skb, 1);
	__u64 old;

	if (!t0 || !t1)
		return NULL;
	if (t0->skb == skb)
		return t0;
	if (t1->skb == skb)
		return t1;
	if (tracked_take(t0, 0, skb))
		return t0;
	if (tracked_take(t1, 0, skb))
		return t1;
	old = t0->skb;
	if (now - tracked_since(t0) > STALE_ARRIVE_NS &&
	    tracked_take(t0, old, skb))
		return t0;
	old = t1->skb;
	if (now - tracked_since(t1) > STALE_ARRIVE_NS &&
	    tracked_take(t1, old, skb))
		return t1;
	return NULL;
}

/* Frees t if it still holds skb: of two racing readers, only the one whose release succeeds reports. */
static __always_inline bool tracked_release(struct tracked_entry *t, __u64 skb)
{
	return tracked_take(t, skb, 0);
}

#endif /* __TRACKED_BPF_H */
