// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The tracepoint plan's socket side (kernel >= 6.3; docs/design.md, "The
 * tracepoint plan"): sk_data_ready and sock_recv_length give the socket, never
 * the skb, so the plan pairs them through the socket's queues. It sees the
 * read only as the socket's recvmsg returns, after the copy to the reader.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "core_fixes.bpf.h"
#include "returns.bpf.h"
#include "track.bpf.h"

#define MSG_PEEK 0x2
#define MSG_ERRQUEUE 0x2000
#define QUEUE_WALK_MAX 16

/*
 * The skb the next read on a socket dequeues, as predicted at the last read or
 * wake-up, with its datagram as tracked then: the read is seen only after the
 * kernel has freed the skb, whose address a new datagram may have taken.
 */
#define REPORTED_LEN 4

struct next_read {
	__u64 skb;
	__u64 predicted_ns;
	__u64 generation; /* of the prediction: one read at most reports from its copy */
	__u64 claimed; /* the last generation a read reported from its copy */
	__u64 reported
		[REPORTED_LEN]; /* when the last datagrams this socket's reads reported were first seen */
	__u32 next_reported;
	__u32 has_info;
	struct skb_info info;
};

/* Socket-local storage: found through the socket in a few loads, freed with it. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct next_read);
} next_read SEC(".maps");

/* A read's copy of its socket's prediction, which other readers replace meanwhile (reads run in process context only). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct next_read);
} read_copy SEC(".maps");

/* The first skb of a queue at addr queue (a struct sk_buff_head), or 0 when empty. */
static __always_inline __u64 queue_first(__u64 queue)
{
	__u64 next = addr_of(kernel_view(struct sk_buff_head, queue)->next);

	return next == queue ? 0 : next;
}

/* The newest skb of a queue, or 0 when empty. */
static __always_inline __u64 queue_last(__u64 queue)
{
	__u64 prev = addr_of(kernel_view(struct sk_buff_head, queue)->prev);

	return prev == queue ? 0 : prev;
}

static __always_inline __u64 reader_queue_of(__u64 sk)
{
	return sk + bpf_core_field_offset(struct udp_sock, reader_queue);
}

static __always_inline __u64 receive_queue_of(__u64 sk)
{
	return sk + bpf_core_field_offset(struct sock, sk_receive_queue);
}

/* The skb the next read on sk will dequeue: the reader queue's head, or the receive queue's, which a read splices over. */
static __always_inline void predict_next_read(__u64 sk, struct next_read *pred,
					      __u64 now)
{
	__u64 skb = queue_first(reader_queue_of(sk));
	struct tracked_entry *t;

	pred->skb = skb ? skb : queue_first(receive_queue_of(sk));
	pred->predicted_ns = now;
	pred->generation++;
	t = pred->skb ? tracked_find(pred->skb) : NULL;
	pred->has_info = t && tracked_since(t) <= now;
	if (pred->has_info)
		pred->info = t->info;
}

/* A read of the socket reported the datagram first seen at since. */
static __always_inline void note_reported(struct next_read *pred, __u64 since)
{
	pred->reported[pred->next_reported++ & (REPORTED_LEN - 1)] = since;
}

static __always_inline bool reported_lately(const struct next_read *pred,
					    __u64 since)
{
	int i;

	for (i = 0; i < REPORTED_LEN; i++)
		if (pred->reported[i] == since)
			return true;
	return false;
}

/*
 * Whether this read, whose copy of the prediction is seen, reports the
 * predicted datagram from that copy: its sk_buff was freed and its address
 * taken by a later datagram before the read was seen, no read reported it,
 * and no other read of the same prediction is reporting it.
 */
static __always_inline bool claim_copy(struct next_read *pred,
				       const struct next_read *seen)
{
	__u64 old = pred->claimed;

	return seen->has_info && !reported_lately(pred, seen->info.since) &&
	       old < seen->generation &&
	       __sync_val_compare_and_swap(&pred->claimed, old,
					   seen->generation) == old;
}

struct tail_walk {
	__u64 skb;
	__u64 head;
	__u64 now;
	int stamped;
};

/* One step of stamp_tail(): 0 goes on to the previous skb, 1 stops. */
static long stamp_one(__u32 i, void *data)
{
	struct tail_walk *walk = data;
	struct tracked_entry *t;
	__u64 key = walk->skb;

	if (!key || key == walk->head)
		return 1;
	t = tracked_find(key);
	if (t) {
		if (t->info.marks[MARK_ENQUEUE] ||
		    walk->now - tracked_since(t) > STALE_ARRIVE_NS)
			return 1;
		t->info.marks[MARK_ENQUEUE] = walk->now;
		walk->stamped++;
	} else if (track_at_enqueue && track_queued(key, walk->now)) {
		walk->stamped++;
	}
	walk->skb = addr_of(kernel_view(struct sk_buff, key)->prev);
	return 0;
}

/*
 * Stamp enqueue on tracked skbs at the tail of a queue, newest first, until
 * one already stamped. bpf_loop() (kernel 5.17, older than this plan's 6.3)
 * has the verifier check the step once rather than once per iteration.
 */
static __always_inline int stamp_tail(__u64 queue, __u64 now)
{
	struct tail_walk walk = { .skb = queue_last(queue),
				  .head = queue,
				  .now = now };

	bpf_loop(QUEUE_WALK_MAX, stamp_one, &walk, 0);
	return walk.stamped;
}

SEC("tp_btf/sk_data_ready")
int BPF_PROG(ult_enqueue, const struct sock *sk)
{
	__u64 now, key;
	struct next_read *pred;

	if (!socket_sessions(sk))
		return 0;
	now = bpf_ktime_get_ns();
	key = addr_of(sk);
	/* A reader may have spliced the new skbs over already. */
	if (!stamp_tail(receive_queue_of(key), now))
		stamp_tail(reader_queue_of(key), now);
	/* A reader waiting on an empty queue dequeues what just arrived. */
	pred = bpf_sk_storage_get(&next_read, (struct sock *)sk, NULL,
				  BPF_SK_STORAGE_GET_F_CREATE);
	if (pred && !pred->skb)
		predict_next_read(key, pred, now);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(ult_read, struct sock *sk, int ret, int flags)
{
	struct next_read *pred, *seen;
	struct tracked_entry *t;
	__u64 now, mask, skb_key;
	bool found = false;
	__u32 zero = 0;
	struct views *v;
	struct dgram *d;

	if (ret < 0 || (flags & (MSG_PEEK | MSG_ERRQUEUE)))
		return 0;
	mask = socket_sessions(sk);
	if (!mask)
		return 0;
	pred = bpf_sk_storage_get(&next_read, sk, NULL,
				  BPF_SK_STORAGE_GET_F_CREATE);
	seen = bpf_map_lookup_elem(&read_copy, &zero);
	v = views_of(VIEWS_READ);
	if (!pred || !seen || !v)
		return 0;
	d = &v->all;
	*seen = *pred;
	now = bpf_ktime_get_ns();
	skb_key = seen->skb;
	t = skb_key ? tracked_find(skb_key) : NULL;
	if (t && tracked_since(t) <= seen->predicted_ns) {
		/* Still tracked: of two readers that predicted it, the one whose release succeeds reports. */
		d->info = t->info;
		found = tracked_release(t, skb_key);
	} else if (t && claim_copy(pred, seen)) {
		/* Its address is a later datagram's already. */
		d->info = seen->info;
		found = true;
	}
	if (found)
		note_reported(pred, d->info.since);
	if (!found)
		count_for(mask, COUNTER_untracked);
	else if ((__u32)ret > d->info.flow.len)
		/* Not the datagram this read returned: one freed unseen, its address reused before the prediction. */
		count_for(mask, COUNTER_stale);
	else
		/* The read is seen only as the socket's recvmsg returns, after the copy. */
		read_done(v, mask & d->info.sessions, now, now);
	predict_next_read(addr_of(sk), pred, now);
	return 0;
}
