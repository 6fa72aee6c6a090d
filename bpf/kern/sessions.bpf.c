// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Session dispatch and filters. One set of programs serves every session of
 * a plan on the host (docs/design.md, "The dispatcher"): a datagram is
 * parsed, tracked and timestamped once, and only what each session owns (its
 * filter, counters, histograms, ring buffer) is per session. Filters are data
 * in `sessions`, not rodata, so that sessions come and go without a reload;
 * the masks in .bss keep the checks of a filter that is off out of the
 * per-datagram path.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "reader.bpf.h"
#include "sessions.bpf.h"

#define AF_INET 2

_Static_assert(sizeof(struct counters) == NR_COUNTERS * sizeof(__u64),
	       "count_for() indexes the counters");

__noinline int count_for(__u64 mask, __u64 index)
{
	struct session_state *state;
	__u32 slot, n;

	if (index >= NR_COUNTERS)
		return 0;
	for_each_session(slot, mask, n) {
		state = bpf_map_lookup_elem(&states, &slot);
		if (state)
			((__u64 *)&state->counters)[index]++;
	}
	return 0;
}

static __always_inline bool prefix_match(const struct prefix *p,
					 const __u32 *addr, __u16 family)
{
	if (p->family != family)
		return false;
	if ((addr[0] & p->mask[0]) != p->addr[0])
		return false;
	if (family == AF_INET)
		return true;
	return (addr[1] & p->mask[1]) == p->addr[1] &&
	       (addr[2] & p->mask[2]) == p->addr[2] &&
	       (addr[3] & p->mask[3]) == p->addr[3];
}

static __always_inline bool addr_wanted(const struct prefix *list, __u32 nr,
					const __u8 *addr, __u16 family)
{
	__u32 words[4];
	int i;

	if (!nr)
		return true;
	__builtin_memcpy(words, addr, sizeof(words));
	for (i = 0; i < MAX_PREFIXES; i++) {
		if (i >= nr)
			break;
		if (prefix_match(&list[i], words, family))
			return true;
	}
	return false;
}

/* The local end of a datagram received is its destination; of one sent, its source. */
__noinline bool packet_wanted(__u32 slot, const struct skb_info *info,
			      bool as_sent)
{
	struct session_conf *conf = bpf_map_lookup_elem(&sessions, &slot);
	const struct flow *f;

	if (!conf || !info)
		return false;
	f = &info->flow;
	if (conf->family && f->family != conf->family)
		return false;
	if (conf->rport && (as_sent ? f->dport : f->sport) != conf->rport)
		return false;
	if (!addr_wanted(conf->laddrs, conf->nr_laddrs,
			 as_sent ? f->saddr : f->daddr, f->family))
		return false;
	return addr_wanted(conf->raddrs, conf->nr_raddrs,
			   as_sent ? f->daddr : f->saddr, f->family);
}

__noinline __u64 packet_sessions(__u64 mask, const struct skb_info *info,
				 bool as_sent)
{
	__u64 todo = mask & packet_filtered_sessions;
	__u32 slot, n;

	for_each_session(slot, todo, n) {
		if (!packet_wanted(slot, info, as_sent))
			mask &= ~(1ULL << slot);
	}
	return mask;
}

__noinline __u64 netns_sessions(__u64 mask, __u32 netns)
{
	__u64 todo = mask & netns_filtered_sessions;
	struct session_conf *conf;
	__u32 slot, n;

	for_each_session(slot, todo, n) {
		conf = bpf_map_lookup_elem(&sessions, &slot);
		if (!conf || conf->netns != netns)
			mask &= ~(1ULL << slot);
	}
	return mask;
}

/* Whether the current task, pid_tgid, passes the session's pid, cgroup and comm filters. */
__noinline bool task_wanted(const struct session_conf *conf, __u64 pid_tgid)
{
	if (!conf)
		return false;
	if (conf->pid && (pid_tgid >> 32) != conf->pid)
		return false;
	if (conf->cgroup_id && bpf_get_current_ancestor_cgroup_id(
				       conf->cgroup_level) != conf->cgroup_id)
		return false;
	if (conf->comm_on) {
		char comm[TASK_COMM_LEN];
		int i;

		bpf_get_current_comm(comm, sizeof(comm));
		for (i = 0; i < TASK_COMM_LEN; i++) {
			if (comm[i] != conf->comm[i])
				return false;
			if (!comm[i])
				break;
		}
	}
	return true;
}

__noinline __u64 task_sessions(__u64 mask)
{
	__u64 todo = mask & reader_filtered_sessions,
	      pid_tgid = bpf_get_current_pid_tgid();
	struct session_conf *conf;
	__u32 slot, n;

	for_each_session(slot, todo, n) {
		conf = bpf_map_lookup_elem(&sessions, &slot);
		if (!conf || !task_wanted(conf, pid_tgid))
			mask &= ~(1ULL << slot);
	}
	return mask;
}

__noinline int log2_slot(__u64 v)
{
	__u32 hi = v >> 32, slot;

	if (!v)
		return 0;
	slot = (hi ? log2_u32(hi) + 32 : log2_u32(v)) + 1;
	return slot < MAX_SLOTS ? slot : MAX_SLOTS - 1;
}

/*
 * Records are submitted without waking the loader, which drains on a timer.
 * Only the record that makes the unread bytes cross wakeup_bytes wakes it:
 * waking on every record past the mark would cost a wakeup per event exactly
 * when the loader is already behind.
 */
static __always_inline void submit(void *ring, void *rec, __u64 size,
				   __u64 wakeup_bytes)
{
	__u64 unread = bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA);

	bpf_ringbuf_submit(rec, unread < wakeup_bytes && unread + size + 8 >=
								 wakeup_bytes ?
					BPF_RB_FORCE_WAKEUP :
					BPF_RB_NO_WAKEUP);
}

static __always_inline void
fill_event(struct rec_event *e, const struct dgram *d, __u32 kind, bool reader)
{
	int m;

	e->hdr.type = REC_EVENT;
	e->hdr.size = sizeof(*e);
	e->kind = kind;
	for (m = 0; m < NR_MARKS; m++)
		e->marks[m] = d->info.marks[m];
	e->flow = d->info.flow;
	e->softirq = d->info.softirq;
	e->sender = d->info.sender;
	if (reader && kind != EVENT_SEND)
		e->reader = d->reader;
	else
		__builtin_memset(&e->reader, 0, sizeof(e->reader));
	if (kind == EVENT_SEND) {
		/* It may leave the driver in any task's context: its sender was noted as it was queued. */
		e->cgroup_id = d->info.sender_cgroup;
		e->pid = d->info.sender.pid;
		e->tid = d->info.sender.tid;
		__builtin_memcpy(e->comm, d->info.sender.comm, sizeof(e->comm));
		return;
	}
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->pid = d->pid_tgid >> 32;
	e->tid = (__u32)d->pid_tgid;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
}

/* The stages as data: measure() loops over them, which the verifier checks once per stage, not per combination. */
static const struct {
	__u8 from, to, kind;
} stage_table[NR_STAGES] = {
#define STAGE_ROW(id, name, from, to, kind, ...) \
	[STAGE_##id] = { MARK_##from, MARK_##to, kind },
	UDPLAT_STAGES(STAGE_ROW)
#undef STAGE_ROW
};

__noinline int measure(struct dgram *d, __u32 seen)
{
	__u32 has, had, first;
	__s64 ns;
	int i;

	if (!d)
		return 0;
	has = marks_present(d->info.marks);
	had = seen & has;
	first = lowest_mark(has);
	d->has = has;
	d->first_ns = first < NR_MARKS ? d->info.marks[first] : 0;
#pragma clang loop unroll(full)
	for (i = 0; i < NR_STAGES; i++) {
		ns = stage_ns_masked(d->info.marks, seen, had,
				     stage_table[i].from, stage_table[i].to,
				     stage_table[i].kind);
		d->slots[i] = ns < 0 ? -1 : log2_slot(ns);
	}
	return 0;
}

/* What the reader did while d waited in the queue, and its histogram slots, when a session takes it. */
__noinline int measure_wait(struct dgram *d, __u64 now)
{
	__u64 *marks;
	__u32 key;
	int s;

	if (!d)
		return 0;
	marks = d->info.marks;
	__builtin_memset(&d->reader, 0, sizeof(d->reader));
	for (s = 0; s < NR_READER_STATES; s++)
		d->slots[NR_STAGES + s] = -1;
	if (!reader_tracking)
		return 0;
	if (reader_begins(now, &key))
		measure_reader(&d->reader, key, marks[MARK_ENQUEUE],
			       marks[MARK_READ] ? marks[MARK_READ] :
						  marks[MARK_RETURN]);
	else
		d->reader.verdict = VERDICT_UNKNOWN;
	if (d->reader.verdict < VERDICT_STATE)
		return 0;
	for (s = 0; s < NR_READER_STATES; s++)
		d->slots[NR_STAGES + s] = log2_slot(d->reader.ns[s]);
	return 0;
}

/* A slow datagram's reader verdict, counted. */
static __always_inline void count_verdict(struct counters *c, __u32 verdict)
{
	switch (verdict) {
	case VERDICT_STATE + READER_ON_CPU:
		c->reader_busy++;
		break;
	case VERDICT_STATE + READER_RUNQUEUE:
		c->reader_runqueue++;
		break;
	case VERDICT_STATE + READER_OFF_CPU:
		c->reader_blocked++;
		break;
	default:
		c->reader_unknown++;
	}
}

/*
 * The kind of event d is for a session: a read is a path for a session that
 * traces sends and took its send marks (they are the session's own marks by
 * now), else a datagram received.
 */
static __always_inline __u32 event_kind(const struct session_conf *conf,
					const struct dgram *d)
{
	if (d->kind == EVENT_SEND)
		return EVENT_SEND;
	return (conf->direction & EVENT_SEND) && (d->has & SEND_MARKS) ?
		       EVENT_PATH :
		       EVENT_RECEIVE;
}

/*
 * Whether a session passes a datagram its reader read: by the reader; for a
 * session that traces sends too, by its sender as well, whose filter was
 * checked as the datagram was queued.
 */
static __always_inline bool reader_passes(const struct session_conf *conf,
					  const struct dgram *d, __u32 slot)
{
	if (!((reader_filtered_sessions >> slot) & 1))
		return true;
	return ((d->info.sent_by >> slot) & 1) ||
	       task_wanted(conf, d->pid_tgid);
}

/* Where d's journey ended, for the threshold: a session that takes no return ends a read at its read mark. */
static __always_inline __u64 end_of(const struct dgram *d, __u32 kind)
{
	if (kind == EVENT_SEND)
		return d->info.marks[MARK_XMIT_DONE];
	if (d->info.marks[MARK_RETURN])
		return d->info.marks[MARK_RETURN];
	return d->info.marks[MARK_READ];
}

/* A completed datagram, as a session whose marks are d's sees it. */
__noinline int session_take(__u32 slot, const struct dgram *d)
{
	struct session_conf *conf = bpf_map_lookup_elem(&sessions, &slot);
	struct session_state *state = bpf_map_lookup_elem(&states, &slot);
	struct rec_event *e;
	__u32 kind, stages;
	void *ring;
	int stage, s;

	if (!d || !conf || !state || d->first_ns < conf->start_ns)
		return 0;
	kind = event_kind(conf, d);
	/* A datagram sent passed its session's task filter as it was queued. */
	if (kind != EVENT_SEND && !reader_passes(conf, d, slot))
		return 0;
	state->counters.matched++;
	stages = conf->reader && kind != EVENT_SEND ? NR_HISTS : NR_STAGES;
	for (stage = 0; stage < stages; stage++) {
		s = d->slots[stage];
		if (s >= 0 && s < MAX_SLOTS)
			state->hists[stage].slots[s]++;
	}
	if (end_of(d, kind) - d->first_ns < conf->min_latency_ns)
		return 0;
	state->counters.slow++;
	if (conf->reader && kind != EVENT_SEND)
		count_verdict(&state->counters, d->reader.verdict);
	ring = bpf_map_lookup_elem(&rings, &slot);
	e = ring ? bpf_ringbuf_reserve(ring, sizeof(*e), 0) : NULL;
	if (!e) {
		state->counters.kernel_lost++;
		return 0;
	}
	fill_event(e, d, kind, conf->reader);
	/*
	 * A read's return is the last moment seen in its call: read again as
	 * the event is handed over, so that udplat's own work at the call's
	 * end is in the event's copy and total, not after them (the
	 * histograms and the threshold took the first reading).
	 */
	if (kind != EVENT_SEND && e->marks[MARK_RETURN])
		e->marks[MARK_RETURN] = bpf_ktime_get_ns();
	state->counters.emitted++;
	submit(ring, e, sizeof(*e), conf->wakeup_bytes);
	return 0;
}

/*
 * Whether a session whose marks are `marks` sees d as the plan does: it takes
 * every mark the plan sees on d's side of the path (a read's, or a send's)
 * and every mark d has.
 */
static __always_inline bool plan_view(__u32 marks, const struct dgram *d)
{
	__u32 side = d->kind == EVENT_SEND ? SEND_MARKS : RECEIVE_MARKS;

	return !((marks ^ plan_marks) & (side | d->has));
}

__noinline int session_complete(__u32 slot, struct views *v)
{
	struct session_conf *conf = bpf_map_lookup_elem(&sessions, &slot);
	struct dgram *own;
	int m;

	if (!v || !conf)
		return 0;
	if (plan_view(conf->marks, &v->all))
		return session_take(slot, &v->all);
	/* A session that takes fewer marks measures without the others. */
	own = &v->own;
	*own = v->all;
	for (m = 0; m < NR_MARKS; m++)
		if (!(conf->marks & (1U << m)))
			own->info.marks[m] = 0;
	if (!(conf->marks & MARK_BIT(ARRIVE)))
		__builtin_memset(&own->info.softirq, 0,
				 sizeof(own->info.softirq));
	measure(own, conf->marks);
	return session_take(slot, own);
}

/* Whether this CPU may emit one more drop event for the session in the current one-second window. */
static __always_inline bool drop_event_allowed(struct session_state *state,
					       const struct session_conf *conf,
					       __u64 now)
{
	if (now - state->drop_window_start_ns >= 1000000000ULL) {
		state->drop_window_start_ns = now;
		state->drop_window_emitted = 0;
	}
	if (state->drop_window_emitted >= conf->max_drop_events_per_s)
		return false;
	state->drop_window_emitted++;
	return true;
}

__noinline int session_drop(__u32 slot, const struct drop *drop)
{
	struct session_conf *conf = bpf_map_lookup_elem(&sessions, &slot);
	struct session_state *state = bpf_map_lookup_elem(&states, &slot);
	__u32 reason;
	struct rec_drop *d;
	void *ring;

	if (!drop || !conf || !state || drop->info.since < conf->start_ns)
		return 0;
	state->counters.drops++;
	reason = drop->reason < MAX_DROP_REASONS ? drop->reason :
						   MAX_DROP_REASONS - 1;
	state->drop_counts[reason]++;
	if (!drop_event_allowed(state, conf, drop->time_ns)) {
		state->counters.drops_lost++;
		return 0;
	}
	ring = bpf_map_lookup_elem(&rings, &slot);
	d = ring ? bpf_ringbuf_reserve(ring, sizeof(*d), 0) : NULL;
	if (!d) {
		state->counters.drops_lost++;
		return 0;
	}
	__builtin_memset(d, 0, sizeof(*d));
	d->hdr.type = REC_DROP;
	d->hdr.size = sizeof(*d);
	d->reason = drop->reason;
	d->time_ns = drop->time_ns;
	d->flow = drop->info.flow;
	submit(ring, d, sizeof(*d), conf->wakeup_bytes);
	return 0;
}
