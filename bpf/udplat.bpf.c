// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Per-datagram UDP receive latency, by stage.
 *
 * Marks: arrive (skb enters the IP stack), enqueue (queued on the socket),
 * read (the application dequeued it), return (recvmsg returns). Three attach
 * plans share the arrive and drop hooks and differ on the socket side; the
 * loader keeps one plan's programs and disables the others' autoload.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "udplat.h"

#define AF_INET		2
#define AF_INET6	10
#define ETH_P_IP	0x0800
#define ETH_P_IPV6	0x86DD
#define IP_MF		0x2000
#define IP_OFFSET	0x1FFF
#define MSG_PEEK	0x2
#define MSG_ERRQUEUE	0x2000
#define QUEUE_WALK_MAX	16
/* A timestamp older than this at enqueue belongs to a previous skb at the same address. */
#define STALE_ARRIVE_NS	1000000000ULL

/*
 * One set of programs serves every session of a plan on the host (docs/design.md
 * §4, "The dispatcher"): a datagram is parsed, tracked and timestamped once, and only
 * what each session owns (its filter, counters, histograms, ring buffer) is
 * per session. Filters are data in `sessions`, not rodata, so that sessions
 * come and go without a reload; the masks below keep the checks of a filter
 * that is off out of the per-datagram path.
 */

/* Written by the loader through the mmapped .bss; bit i is session slot i. */
__u64 active_sessions;
__u64 any_port_sessions;	/* sessions without a local port filter */
__u64 packet_filtered_sessions;	/* with a family, remote port or address filter */
__u64 reader_filtered_sessions;	/* with a pid, comm or cgroup filter */
__u64 netns_filtered_sessions;

/* Bit i of port_sessions[port]: session i traces this local port. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u64);
} port_sessions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_SESSIONS);
	__type(key, __u32);
	__type(value, struct session_conf);
} sessions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_SESSIONS);
	__type(key, __u32);
	__type(value, struct session_state);
} states SEC(".maps");

/* Each session's own ring buffer, created by the loader at registration. */
struct ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, MAX_SESSIONS);
	__type(key, __u32);
	__array(values, struct ring);
} rings SEC(".maps");

/* What arrive saw of a datagram, kept until it is read or freed. */
struct skb_info {
	__u64 sessions;		/* whose packet filter it passed */
	__u64 arrive_ns;
	__u64 enqueue_ns;
	__u64 head;		/* skb->head at arrive: an sk_buff reused for another packet has another buffer */
	__u8 saddr[16];
	__u8 daddr[16];
	__u32 len;
	__u16 sport;
	__u16 dport;
	__u16 family;
};

/*
 * Datagrams in flight, keyed by skb address in a two-way set-associative
 * array: claiming a slot is a compare-and-swap, where a hash map insert cost
 * an allocation and, for the LRU kind, list locks (≈ 200 ns per datagram).
 * An entry whose datagram was consumed unseen is reclaimed once older than
 * STALE_ARRIVE_NS; a datagram that finds both ways live goes untracked (its read counts it).
 */
#define TRACKED_SET_BITS	14
#define TRACKED_WAYS		2

struct tracked_entry {
	__u64 skb;		/* 0: free */
	struct skb_info info;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TRACKED_WAYS << TRACKED_SET_BITS);
	__type(key, __u32);
	__type(value, struct tracked_entry);
} tracked SEC(".maps");

/* A datagram between its read and recvmsg's return (fentry and kprobe plans), keyed by thread. */
struct inflight {
	struct skb_info info;
	__u64 read_ns;
};

/* The tracepoint plan's guess of the skb the next read on a socket dequeues. */
struct next_read {
	__u64 skb;
	__u64 predicted_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct inflight);
} inflight SEC(".maps");

/* Socket-local storage: found through the socket in a few loads, freed with it. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct next_read);
} next_read SEC(".maps");

/* kprobe plan: the skb being enqueued on this CPU (enqueue runs with BH off, so it cannot migrate or nest). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} enqueue_skb SEC(".maps");

/* ---- sessions ---- */

/* Index of the lowest set bit (de Bruijn multiplication): the ISA has no count-trailing-zeros. */
static const __u8 debruijn_bit[64] = {
	0, 1, 48, 2, 57, 49, 28, 3, 61, 58, 50, 42, 38, 29, 17, 4,
	62, 55, 59, 36, 53, 51, 43, 22, 45, 39, 33, 30, 24, 18, 12, 5,
	63, 47, 56, 27, 60, 41, 37, 16, 54, 35, 52, 21, 44, 32, 23, 11,
	46, 26, 40, 15, 34, 20, 31, 10, 25, 14, 19, 9, 13, 8, 7, 6,
};

static __always_inline __u32 lowest_bit(__u64 mask)
{
	return debruijn_bit[((mask & -mask) * 0x03f79d71b4cb0a89ULL) >> 58];
}

/* Visits the sessions of mask, lowest slot first, as `slot`. */
#define for_each_session(slot, mask, n)						\
	for (n = 0, slot = lowest_bit(mask); n < MAX_SESSIONS && mask;		\
	     n++, mask &= mask - 1, slot = lowest_bit(mask))

static __always_inline __u64 sessions_for_port(__u16 port)
{
	__u32 key = port;
	__u64 *mask = bpf_map_lookup_elem(&port_sessions, &key);

	return (any_port_sessions | (mask ? *mask : 0)) & active_sessions;
}

/* Counter `index` of struct counters, for each session of mask. */
_Static_assert(sizeof(struct counters) == 8 * sizeof(__u64), "count_for() indexes 8 counters");
__noinline int count_for(__u64 mask, __u32 index)
{
	struct session_state *state;
	__u32 slot, n;

	/* struct counters has 8 fields: the mask bounds the index for the verifier. */
	index &= 7;
	for_each_session(slot, mask, n) {
		state = bpf_map_lookup_elem(&states, &slot);
		if (state)
			((__u64 *)&state->counters)[index]++;
	}
	return 0;
}

#define COUNT_STALE	(offsetof(struct counters, stale) / sizeof(__u64))
#define COUNT_UNTRACKED	(offsetof(struct counters, untracked) / sizeof(__u64))

static __always_inline bool prefix_match(const struct prefix *p, const __u32 *addr, __u16 family)
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

static __always_inline bool addr_wanted(const struct prefix *list, __u32 nr, const __u8 *addr, __u16 family)
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

/* Global functions from here on: the verifier checks each once, not once per caller and session. */
__noinline bool packet_wanted(__u32 slot, const struct skb_info *info)
{
	struct session_conf *conf = bpf_map_lookup_elem(&sessions, &slot);

	if (!conf || !info)
		return false;
	if (conf->family && info->family != conf->family)
		return false;
	if (conf->rport && info->sport != conf->rport)
		return false;
	if (!addr_wanted(conf->laddrs, conf->nr_laddrs, info->daddr, info->family))
		return false;
	return addr_wanted(conf->raddrs, conf->nr_raddrs, info->saddr, info->family);
}

/* The sessions of mask whose packet filter info passes. */
__noinline __u64 packet_sessions(__u64 mask, const struct skb_info *info)
{
	__u64 todo = mask & packet_filtered_sessions;
	__u32 slot, n;

	for_each_session(slot, todo, n) {
		if (!packet_wanted(slot, info))
			mask &= ~(1ULL << slot);
	}
	return mask;
}

/* The sessions of mask that trace the network namespace netns. */
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

/* Cheap checks on the socket, from direct loads only: every UDP read and wakeup on the host passes here. */
static __always_inline __u64 socket_sessions(const struct sock *sk)
{
	__u64 mask;

	if (sk->sk_protocol != IPPROTO_UDP)
		return 0;
	mask = sessions_for_port(sk->__sk_common.skc_num);
	if (mask & netns_filtered_sessions)
		mask = netns_sessions(mask, sk->__sk_common.skc_net.net->ns.inum);
	return mask;
}

static __always_inline bool reader_wanted(const struct session_conf *conf, __u64 pid_tgid)
{
	if (conf->pid && (pid_tgid >> 32) != conf->pid)
		return false;
	if (conf->cgroup_id && bpf_get_current_ancestor_cgroup_id(conf->cgroup_level) != conf->cgroup_id)
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

/* Branch-free log2, as libbpf-tools' bits.bpf.h. */
static __always_inline __u32 log2_u32(__u32 v)
{
	__u32 shift, r;

	r = (v > 0xFFFF) << 4;
	v >>= r;
	shift = (v > 0xFF) << 3;
	v >>= shift;
	r |= shift;
	shift = (v > 0xF) << 2;
	v >>= shift;
	r |= shift;
	shift = (v > 0x3) << 1;
	v >>= shift;
	r |= shift;
	r |= (v >> 1);
	return r;
}

/* Slot i holds 2^(i-1) <= v < 2^i, slot 0 holds 0; the last slot takes everything above. */
__noinline int log2_slot(__u64 v)
{
	__u32 hi = v >> 32, slot;

	if (!v)
		return 0;
	slot = (hi ? log2_u32(hi) + 32 : log2_u32(v)) + 1;
	return slot < MAX_SLOTS ? slot : MAX_SLOTS - 1;
}

/* The histogram slot of end - start, or -1 when a mark is missing. */
static __always_inline int stage_slot(__u64 start, __u64 end)
{
	if (!start || !end || end < start)
		return -1;
	return log2_slot(end - start);
}

/*
 * Records are submitted without waking the loader, which drains on a timer.
 * Only the record that makes the unread bytes cross wakeup_bytes wakes it:
 * waking on every record past the mark would cost a wakeup per event exactly
 * when the loader is already behind.
 */
static __always_inline void submit(void *ring, void *rec, __u64 size, __u64 wakeup_bytes)
{
	__u64 unread = bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA);

	bpf_ringbuf_submit(rec, unread < wakeup_bytes && unread + size + 8 >= wakeup_bytes ?
				       BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

/* A datagram read, as every session sees it: the stages are measured once. */
struct dgram {
	struct skb_info info;
	__u64 read_ns;
	__u64 return_ns;
	__u64 first_ns;		/* the earliest mark the plan saw */
	__u64 pid_tgid;
	int slots[NR_STAGES];	/* histogram slot per stage, -1 when not measured */
};

/* Everything a read completes for one session: filter by reader, count, histogram, and emit when slow. */
__noinline int session_read(__u32 slot, const struct dgram *d)
{
	struct session_conf *conf = bpf_map_lookup_elem(&sessions, &slot);
	struct session_state *state = bpf_map_lookup_elem(&states, &slot);
	struct rec_event *e;
	void *ring;
	int stage, s;

	if (!d || !conf || !state || d->first_ns < conf->start_ns)
		return 0;
	if (((reader_filtered_sessions >> slot) & 1) && !reader_wanted(conf, d->pid_tgid))
		return 0;
	state->counters.matched++;
	for (stage = 0; stage < NR_STAGES; stage++) {
		s = d->slots[stage];
		if (s >= 0 && s < MAX_SLOTS)
			state->hists[stage].slots[s]++;
	}
	if (d->return_ns - d->first_ns < conf->min_latency_ns)
		return 0;
	state->counters.slow++;
	ring = bpf_map_lookup_elem(&rings, &slot);
	e = ring ? bpf_ringbuf_reserve(ring, sizeof(*e), 0) : NULL;
	if (!e) {
		state->counters.kernel_lost++;
		return 0;
	}
	e->hdr.type = REC_EVENT;
	e->hdr.size = sizeof(*e);
	e->reserved = 0;
	e->arrive_ns = d->info.arrive_ns;
	e->enqueue_ns = d->info.enqueue_ns;
	e->read_ns = d->read_ns;
	e->return_ns = d->return_ns;
	e->cgroup_id = bpf_get_current_cgroup_id();
	__builtin_memcpy(e->saddr, d->info.saddr, sizeof(e->saddr));
	__builtin_memcpy(e->daddr, d->info.daddr, sizeof(e->daddr));
	e->pid = d->pid_tgid >> 32;
	e->tid = (__u32)d->pid_tgid;
	e->len = d->info.len;
	e->sport = d->info.sport;
	e->dport = d->info.dport;
	e->family = d->info.family;
	e->reserved2 = 0;
	e->reserved3 = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	state->counters.emitted++;
	submit(ring, e, sizeof(*e), conf->wakeup_bytes);
	return 0;
}

/* A read of d completed for the sessions of mask. */
static __always_inline void finish(struct dgram *d, __u64 mask, __u64 read_ns, __u64 return_ns)
{
	struct skb_info *info = &d->info;
	__u32 slot, n;

	d->read_ns = read_ns;
	d->return_ns = return_ns;
	d->first_ns = info->arrive_ns ? info->arrive_ns : info->enqueue_ns ? info->enqueue_ns : read_ns;
	d->pid_tgid = bpf_get_current_pid_tgid();
	d->slots[STAGE_STACK] = stage_slot(info->arrive_ns, info->enqueue_ns);
	d->slots[STAGE_QUEUE] = stage_slot(info->enqueue_ns, read_ns);
	d->slots[STAGE_COPY] = read_ns != return_ns ? stage_slot(read_ns, return_ns) : -1;
	d->slots[STAGE_TOTAL] = stage_slot(info->arrive_ns, return_ns);
	for_each_session(slot, mask, n)
		session_read(slot, d);
}

/* ---- the tracked datagrams ---- */

/*
 * A kernel address as a number to hash: the verifier forbids arithmetic
 * other than + and - on a pointer, but a pointer stored in a map value (with
 * CAP_PERFMON) reads back as a plain scalar.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} addr_scratch SEC(".maps");

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
	__u32 key = ((__u32)(((skb >> 8) * 0x9E3779B97F4A7C15ULL) >> (64 - TRACKED_SET_BITS)) << 1) | way;

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

static __always_inline bool tracked_take(struct tracked_entry *t, __u64 old, __u64 skb)
{
	return t && __sync_val_compare_and_swap(&t->skb, old, skb) == old;
}

/* A slot for skb: its own (an address freed unseen and reused), a free one, or one held longer than a datagram lives. */
static __always_inline struct tracked_entry *tracked_claim(__u64 skb, __u64 now)
{
	struct tracked_entry *t0 = tracked_way(skb, 0), *t1 = tracked_way(skb, 1);
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
	if (now - t0->info.arrive_ns > STALE_ARRIVE_NS && tracked_take(t0, old, skb))
		return t0;
	old = t1->skb;
	if (now - t1->info.arrive_ns > STALE_ARRIVE_NS && tracked_take(t1, old, skb))
		return t1;
	return NULL;
}

/* Frees t if it still holds skb: of two racing readers, only the one whose release succeeds reports. */
static __always_inline bool tracked_release(struct tracked_entry *t, __u64 skb)
{
	return tracked_take(t, skb, 0);
}

/* ---- arrive: all plans ---- */

struct l3l4 {
	union {
		struct iphdr v4;
		struct ipv6hdr v6;
	};
	struct udphdr udp;	/* right after an IPv4 header without options */
};

static __always_inline int parse_udp(struct sk_buff *skb, struct skb_info *info)
{
	struct l3l4 h;
	struct udphdr *udp;
	__u16 proto = skb->protocol;

	if (proto == bpf_htons(ETH_P_IP)) {
		if (bpf_probe_read_kernel(&h, sizeof(h.v4) + sizeof(h.udp), skb->data))
			return -1;
		if (h.v4.protocol != IPPROTO_UDP || (h.v4.frag_off & bpf_htons(IP_MF | IP_OFFSET)))
			return -1;
		udp = (struct udphdr *)((__u8 *)&h + sizeof(h.v4));
		if (h.v4.ihl != 5 &&
		    bpf_probe_read_kernel(udp, sizeof(*udp), skb->data + h.v4.ihl * 4))
			return -1;
		info->family = AF_INET;
		__builtin_memset(info->saddr, 0, sizeof(info->saddr));
		__builtin_memset(info->daddr, 0, sizeof(info->daddr));
		__builtin_memcpy(info->saddr, &h.v4.saddr, 4);
		__builtin_memcpy(info->daddr, &h.v4.daddr, 4);
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		if (bpf_probe_read_kernel(&h, sizeof(h), skb->data))
			return -1;
		/* Extension headers before UDP are not followed. */
		if (h.v6.nexthdr != IPPROTO_UDP)
			return -1;
		udp = &h.udp;
		info->family = AF_INET6;
		__builtin_memcpy(info->saddr, &h.v6.saddr, 16);
		__builtin_memcpy(info->daddr, &h.v6.daddr, 16);
	} else {
		return -1;
	}
	info->sport = bpf_ntohs(udp->source);
	info->dport = bpf_ntohs(udp->dest);
	info->len = bpf_ntohs(udp->len) - sizeof(*udp);
	return 0;
}

SEC("tp_btf/netif_receive_skb")
int BPF_PROG(ul_arrive, struct sk_buff *skb)
{
	struct tracked_entry *t;
	struct skb_info info;
	__u64 mask, now;

	if (parse_udp(skb, &info))
		return 0;
	mask = sessions_for_port(info.dport);
	if (mask & packet_filtered_sessions)
		mask = packet_sessions(mask, &info);
	if (!mask)
		return 0;
	now = bpf_ktime_get_ns();
	/* With both ways held by live datagrams, this one goes untracked: its read counts it so. */
	t = tracked_claim(addr_of(skb), now);
	if (!t)
		return 0;
	info.sessions = mask;
	info.arrive_ns = now;
	info.enqueue_ns = 0;
	info.head = (__u64)skb->head;
	t->info = info;
	return 0;
}

/* ---- drops: all plans ---- */

struct drop {
	struct skb_info info;
	__u64 time_ns;
	__u32 reason;
};

/* Whether this CPU may emit one more drop event for the session in the current one-second window. */
static __always_inline bool drop_event_allowed(struct session_state *state, const struct session_conf *conf, __u64 now)
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

	if (!drop || !conf || !state || drop->info.arrive_ns < conf->start_ns)
		return 0;
	state->counters.drops++;
	reason = drop->reason < MAX_DROP_REASONS ? drop->reason : MAX_DROP_REASONS - 1;
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
	__builtin_memcpy(d->saddr, drop->info.saddr, sizeof(d->saddr));
	__builtin_memcpy(d->daddr, drop->info.daddr, sizeof(d->daddr));
	d->len = drop->info.len;
	d->sport = drop->info.sport;
	d->dport = drop->info.dport;
	d->family = drop->info.family;
	submit(ring, d, sizeof(*d), conf->wakeup_bytes);
	return 0;
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(ul_drop, struct sk_buff *skb, void *location, enum skb_drop_reason reason)
{
	__u64 key = addr_of(skb), mask;
	struct tracked_entry *t;
	struct drop drop;
	__u32 slot, n;

	t = tracked_find(key);
	if (!t)
		return 0;
	drop.info = t->info;
	if (!tracked_release(t, key))
		return 0;
	mask = drop.info.sessions & active_sessions;
	if (drop.info.head != (__u64)skb->head) {
		/* Our datagram was consumed unseen and its sk_buff reused: this drop is another packet's. */
		count_for(mask, COUNT_STALE);
		return 0;
	}
	drop.time_ns = bpf_ktime_get_ns();
	drop.reason = reason;
	for_each_session(slot, mask, n)
		session_drop(slot, &drop);
	return 0;
}

/* ---- enqueue and read: fentry and kprobe plans ---- */

static __always_inline void mark_enqueued(struct sk_buff *skb)
{
	struct tracked_entry *t = tracked_find(addr_of(skb));

	if (t)
		t->info.enqueue_ns = bpf_ktime_get_ns();
}

/* A read of the sessions of mask dequeued skb: move its marks from the per-skb slot to the per-thread map. */
static __always_inline void take_skb(struct sk_buff *skb, __u64 mask)
{
	__u64 key = addr_of(skb);
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct tracked_entry *t = tracked_find(key);
	struct inflight flight;

	if (!t) {
		count_for(mask, COUNT_UNTRACKED);
		return;
	}
	flight.info = t->info;
	if (!tracked_release(t, key)) {
		count_for(mask, COUNT_UNTRACKED);
		return;
	}
	if (flight.info.head != (__u64)BPF_CORE_READ(skb, head)) {
		count_for(mask, COUNT_STALE);
		return;
	}
	flight.info.sessions &= mask;
	flight.read_ns = bpf_ktime_get_ns();
	bpf_map_update_elem(&inflight, &tid, &flight, BPF_ANY);
}

static __always_inline void mark_returned(int ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct inflight *flight;
	struct dgram d;

	flight = bpf_map_lookup_elem(&inflight, &tid);
	if (!flight)
		return;
	if (ret >= 0) {
		d.info = flight->info;
		finish(&d, d.info.sessions & active_sessions, flight->read_ns, bpf_ktime_get_ns());
	}
	bpf_map_delete_elem(&inflight, &tid);
}

SEC("fexit/__udp_enqueue_schedule_skb")
int BPF_PROG(ul_fx_enqueue, struct sock *sk, struct sk_buff *skb, int ret)
{
	if (!ret)
		mark_enqueued(skb);
	return 0;
}

SEC("fexit/__skb_recv_udp")
int BPF_PROG(ul_fx_dequeue, struct sock *sk, unsigned int flags, int *off, int *err, struct sk_buff *skb)
{
	__u64 mask;

	if (!skb || (flags & (MSG_PEEK | MSG_ERRQUEUE)))
		return 0;
	mask = socket_sessions(sk);
	if (mask)
		take_skb(skb, mask);
	return 0;
}

SEC("fexit/udp_recvmsg")
int BPF_PROG(ul_fx_ret4, struct sock *sk, struct msghdr *msg, size_t len, int flags, int *addr_len, int ret)
{
	mark_returned(ret);
	return 0;
}

SEC("fexit/udpv6_recvmsg")
int BPF_PROG(ul_fx_ret6, struct sock *sk, struct msghdr *msg, size_t len, int flags, int *addr_len, int ret)
{
	mark_returned(ret);
	return 0;
}

SEC("kprobe/__udp_enqueue_schedule_skb")
int BPF_KPROBE(ul_kp_enqueue, struct sock *sk, struct sk_buff *skb)
{
	__u32 zero = 0;
	__u64 *slot = bpf_map_lookup_elem(&enqueue_skb, &zero);

	if (slot)
		*slot = (__u64)skb;
	return 0;
}

SEC("kretprobe/__udp_enqueue_schedule_skb")
int BPF_KRETPROBE(ul_kr_enqueue, int ret)
{
	__u32 zero = 0;
	__u64 *slot = bpf_map_lookup_elem(&enqueue_skb, &zero);

	if (slot && *slot && !ret)
		mark_enqueued((struct sk_buff *)*slot);
	return 0;
}

/* kprobe plan: the kretprobe on __skb_recv_udp has no arguments, so the entry of recvmsg keeps sk and flags. */
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

static __always_inline void save_recv_args(struct sock *sk, int flags)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct recv_args args = { .sk = (__u64)sk, .flags = flags };

	bpf_map_update_elem(&recv_args, &tid, &args, BPF_ANY);
}

SEC("kprobe/udp_recvmsg")
int BPF_KPROBE(ul_kp_recv4, struct sock *sk, struct msghdr *msg, size_t len, int flags)
{
	save_recv_args(sk, flags);
	return 0;
}

SEC("kprobe/udpv6_recvmsg")
int BPF_KPROBE(ul_kp_recv6, struct sock *sk, struct msghdr *msg, size_t len, int flags)
{
	save_recv_args(sk, flags);
	return 0;
}

SEC("kretprobe/__skb_recv_udp")
int BPF_KRETPROBE(ul_kr_dequeue, struct sk_buff *skb)
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
	mask = sessions_for_port(BPF_CORE_READ(sk, __sk_common.skc_num));
	if (mask & netns_filtered_sessions)
		mask = netns_sessions(mask, BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum));
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
int BPF_KRETPROBE(ul_kr_ret4, int ret)
{
	kprobe_returned(ret);
	return 0;
}

SEC("kretprobe/udpv6_recvmsg")
int BPF_KRETPROBE(ul_kr_ret6, int ret)
{
	kprobe_returned(ret);
	return 0;
}

/* ---- enqueue and read: tracepoint plan (kernel >= 6.3), docs/design.md "The tracepoint plan" ---- */

/*
 * The tracepoint plan reads the socket's queues with plain loads through
 * bpf_rdonly_cast() (kernel 6.2, older than the plan's 6.3), which the kernel
 * guards like probe reads, where bpf_probe_read_kernel() cost a helper call
 * per pointer on every datagram.
 */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

#define kernel_view(type, addr) ((const type *)bpf_rdonly_cast((const void *)(addr), bpf_core_type_id_kernel(type)))

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

/*
 * The skb the next read on sk will dequeue: the reader queue's head, or the
 * receive queue's, which a read splices over.
 */
static __always_inline void predict_next_read(__u64 sk, struct next_read *pred, __u64 now)
{
	__u64 skb = queue_first(reader_queue_of(sk));

	pred->skb = skb ? skb : queue_first(receive_queue_of(sk));
	pred->predicted_ns = now;
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
		if (t->info.enqueue_ns || walk->now - t->info.arrive_ns > STALE_ARRIVE_NS)
			return 1;
		t->info.enqueue_ns = walk->now;
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
	struct tail_walk walk = { .skb = queue_last(queue), .head = queue, .now = now };

	bpf_loop(QUEUE_WALK_MAX, stamp_one, &walk, 0);
	return walk.stamped;
}

SEC("tp_btf/sk_data_ready")
int BPF_PROG(ul_tp_ready, const struct sock *sk)
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
	pred = bpf_sk_storage_get(&next_read, (struct sock *)sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
	if (pred && !pred->skb)
		predict_next_read(key, pred, now);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(ul_tp_recv, struct sock *sk, int ret, int flags)
{
	__u64 now, mask, skb_key;
	struct next_read *pred, seen = {};
	struct tracked_entry *t;
	struct dgram d;

	if (ret < 0 || (flags & (MSG_PEEK | MSG_ERRQUEUE)))
		return 0;
	mask = socket_sessions(sk);
	if (!mask)
		return 0;
	/* Other readers of the socket, on other CPUs, replace the prediction while we use it: take a copy first. */
	pred = bpf_sk_storage_get(&next_read, sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
	if (!pred)
		return 0;
	seen = *pred;
	now = bpf_ktime_get_ns();
	skb_key = seen.skb;
	t = skb_key ? tracked_find(skb_key) : NULL;
	if (!t) {
		count_for(mask, COUNT_UNTRACKED);
	} else {
		d.info = t->info;
		if (d.info.arrive_ns > seen.predicted_ns || (__u32)ret > d.info.len) {
			/* The predicted skb was freed and its address reused by a later datagram. */
			count_for(mask, COUNT_STALE);
		} else if (!tracked_release(t, skb_key)) {
			/* Another reader predicted the same skb and reported it. */
			count_for(mask, COUNT_UNTRACKED);
		} else {
			finish(&d, mask & d.info.sessions, now, now);
		}
	}
	predict_next_read(addr_of(sk), pred, now);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
