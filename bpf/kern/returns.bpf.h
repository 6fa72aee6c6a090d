/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A read completes at its receive system call's exit (recvfrom, recvmsg,
 * recvmmsg: ule_exit of rx_return.bpf.c), where `return` is
 * stamped: the reader's call ends there, after the copy of the datagram, its
 * address and its control messages, and the rest of the system call. Until
 * then, the thread's reads wait in its slot of `parked_calls`, their
 * reader's wait measured. A read outside those calls (read(2), io_uring), or
 * past the PARKED_MAX-th of one recvmmsg, completes at once: its return is
 * the socket's recvmsg returning, the latest moment seen of its call.
 */
#ifndef __RETURNS_BPF_H
#define __RETURNS_BPF_H

#include <bpf/bpf_core_read.h>
#include "core_fixes.bpf.h"
#include "sessions.bpf.h"

#define PARKED_MAX 16
#define PARKED_CALL_BITS 9
#define PARKED_CALLS (1U << PARKED_CALL_BITS)

_Static_assert((PARKED_MAX & (PARKED_MAX - 1)) == 0,
	       "a parked read's index is masked");

struct parked_read {
	__u64 sessions; /* whose read it completes */
	struct dgram d; /* measured, but for its return */
};

/* One thread's call, indexed by tid: the call claims the slot at its first read and frees it at its exit. */
struct parked_call {
	__u64 claim; /* call_claim() of the call that holds it; 0: free */
	__u32 n;
	__u32 reserved;
	struct parked_read reads[PARKED_MAX];
};

struct parked_calls_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PARKED_CALLS);
	__type(key, __u32);
	__type(value, struct parked_call);
};

extern struct parked_calls_map parked_calls SEC(".maps");

/*
 * A claim names the thread and the generation of the exit programs: a call
 * whose exit went unseen (they were detached meanwhile) left reads of an
 * older generation, which the next claim of the slot counts untracked.
 */
static __always_inline __u64 call_claim(__u32 tid)
{
	return (__u64)tid << 32 | returns_generation;
}

/* Completes v->all for the sessions of mask, its marks all set. */
static __always_inline void complete(struct views *v, __u64 mask)
{
	struct dgram *d = &v->all;
	__u32 slot, n;

	d->pid_tgid = bpf_get_current_pid_tgid();
	d->kind = EVENT_RECEIVE;
	measure(d, plan_marks);
	for_each_session(slot, mask, n)
		session_complete(slot, v);
}

struct leftovers {
	__u32 key;
};

static long count_leftover(__u32 i, void *data)
{
	struct leftovers *l = data;
	struct parked_call *c = bpf_map_lookup_elem(&parked_calls, &l->key);

	if (!c)
		return 1;
	count_for(c->reads[i & (PARKED_MAX - 1)].sessions & active_sessions,
		  COUNTER_untracked);
	return 0;
}

/* The current thread's slot, claimed for its call; NULL when another thread's call holds it. */
static __always_inline struct parked_call *claim_call(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct leftovers l = { .key = tid & (PARKED_CALLS - 1) };
	struct parked_call *c = bpf_map_lookup_elem(&parked_calls, &l.key);
	__u64 mine = call_claim(tid), old;

	if (!c)
		return NULL;
	old = c->claim;
	if (old == mine)
		return c;
	/* Another thread's call under way. */
	if (old && (__u32)old == returns_generation)
		return NULL;
	if (__sync_val_compare_and_swap(&c->claim, old, mine) != old)
		return NULL;
	if (old)
		bpf_loop(c->n < PARKED_MAX ? c->n : PARKED_MAX, count_leftover,
			 &l, 0);
	c->n = 0;
	return c;
}

/* Keeps v->all for its call's exit; false when it cannot wait for it. */
static __always_inline bool park(struct views *v, __u64 mask)
{
	struct parked_call *c;
	struct parked_read *p;
	__u32 n;

	if (!return_tracking || !in_receive_call())
		return false;
	c = claim_call();
	if (!c)
		return false;
	n = c->n;
	if (n >= PARKED_MAX)
		return false;
	p = &c->reads[n];
	p->sessions = mask;
	p->d = v->all;
	c->n = n + 1;
	return true;
}

/*
 * A read of v->all for the sessions of mask, at read_ns, known to have
 * succeeded at now: what the reader did meanwhile is measured now, and the
 * rest at its call's exit, or now when that exit will not be seen.
 */
static __always_inline void read_done(struct views *v, __u64 mask,
				      __u64 read_ns, __u64 now)
{
	v->all.info.marks[MARK_READ] = read_ns;
	measure_wait(&v->all, now);
	if (park(v, mask))
		return;
	v->all.info.marks[MARK_RETURN] = now;
	complete(v, mask);
}

#endif /* __RETURNS_BPF_H */
