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

const volatile __u64 min_latency_ns = 0;
const volatile __u32 nr_ports = 0;
const volatile __u16 filter_ports[MAX_PORTS] = {};
const volatile __u16 filter_rport = 0;
const volatile __u16 filter_family = 0;
const volatile __u32 nr_laddrs = 0;
const volatile struct prefix filter_laddrs[MAX_PREFIXES] = {};
const volatile __u32 nr_raddrs = 0;
const volatile struct prefix filter_raddrs[MAX_PREFIXES] = {};
const volatile __u32 filter_pid = 0;
const volatile bool filter_comm_on = false;
const volatile char filter_comm[TASK_COMM_LEN] = {};
const volatile __u64 filter_cgroup_id = 0;
const volatile __u32 filter_cgroup_level = 0;
const volatile __u32 filter_netns = 0;
/* Events are submitted without waking the loader, which drains on a timer; past this many unread bytes, wake it. */
const volatile __u64 wakeup_bytes = 256 * 1024;
/* Per CPU and second: a drop storm must not flood the pipeline. Counts by reason stay exact; 0 emits none. */
const volatile __u64 max_drop_events_per_s = 1000;

/* What arrive saw of a datagram, keyed by skb address until it is read or freed. */
struct skb_info {
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
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct skb_info);
} tracked SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct inflight);
} inflight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct next_read);
} next_read SEC(".maps");

/* kprobe plan: the skb being enqueued on this CPU (enqueue runs with BH off, so it cannot migrate or nest). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} enqueue_skb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct counters);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NR_STAGES);
	__type(key, __u32);
	__type(value, struct hist);
} hists SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_DROP_REASONS);
	__type(key, __u32);
	__type(value, __u64);
} drop_counts SEC(".maps");

/* This CPU's drop events in the current one-second window. */
struct drop_window {
	__u64 start_ns;
	__u64 emitted;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct drop_window);
} drop_windows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1024 * 1024);
} events SEC(".maps");

static __always_inline struct counters *get_counters(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&counters, &zero);
}

static __always_inline bool port_wanted(__u16 port)
{
	int i;

	if (!nr_ports)
		return true;
	for (i = 0; i < MAX_PORTS; i++) {
		if (i >= nr_ports)
			break;
		if (filter_ports[i] == port)
			return true;
	}
	return false;
}

static __always_inline bool prefix_match(const volatile struct prefix *p, const __u32 *addr, __u16 family)
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

static __always_inline bool addr_wanted(const volatile struct prefix *list, __u32 nr, const __u8 *addr, __u16 family)
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

static __always_inline bool packet_wanted(const struct skb_info *info)
{
	if (filter_family && info->family != filter_family)
		return false;
	if (!port_wanted(info->dport))
		return false;
	if (filter_rport && info->sport != filter_rport)
		return false;
	if (!addr_wanted(filter_laddrs, nr_laddrs, info->daddr, info->family))
		return false;
	return addr_wanted(filter_raddrs, nr_raddrs, info->saddr, info->family);
}

static __always_inline bool reader_wanted(__u64 pid_tgid)
{
	if (filter_pid && (pid_tgid >> 32) != filter_pid)
		return false;
	if (filter_cgroup_id && bpf_get_current_ancestor_cgroup_id(filter_cgroup_level) != filter_cgroup_id)
		return false;
	if (filter_comm_on) {
		char comm[TASK_COMM_LEN];
		int i;

		bpf_get_current_comm(comm, sizeof(comm));
		for (i = 0; i < TASK_COMM_LEN; i++) {
			if (comm[i] != filter_comm[i])
				return false;
			if (!comm[i])
				break;
		}
	}
	return true;
}

/* Cheap checks on the socket, from direct loads only: every UDP read and wakeup on the host passes here. */
static __always_inline bool socket_wanted(const struct sock *sk)
{
	if (sk->sk_protocol != IPPROTO_UDP)
		return false;
	if (!port_wanted(sk->__sk_common.skc_num))
		return false;
	if (filter_netns && sk->__sk_common.skc_net.net->ns.inum != filter_netns)
		return false;
	return true;
}

/* Branch-free log2, as libbpf-tools' bits.bpf.h: a loop here would be verified once per stage. */
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

/*
 * Slot i holds 2^(i-1) <= v < 2^i, slot 0 holds 0; the last slot takes
 * everything above. A global function: the verifier checks it once, where
 * inlined into four stages its branches multiply (6.1 gives up on them).
 */
__noinline int log2_slot(__u64 v)
{
	__u32 hi = v >> 32, slot;

	if (!v)
		return 0;
	slot = (hi ? log2_u32(hi) + 32 : log2_u32(v)) + 1;
	return slot < MAX_SLOTS ? slot : MAX_SLOTS - 1;
}

static __always_inline void hist_add(__u32 stage, __u64 start, __u64 end)
{
	struct hist *h;
	__u32 slot;

	if (!start || !end || end < start)
		return;
	h = bpf_map_lookup_elem(&hists, &stage);
	if (!h)
		return;
	slot = log2_slot(end - start);
	if (slot < MAX_SLOTS)
		h->slots[slot]++;
}

/*
 * Records are submitted without waking the loader, which drains on a timer.
 * Only the record that makes the unread bytes cross wakeup_bytes wakes it:
 * waking on every record past the mark would cost a wakeup per event exactly
 * when the loader is already behind.
 */
static __always_inline void submit(void *rec, __u64 size)
{
	__u64 unread = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);

	bpf_ringbuf_submit(rec, unread < wakeup_bytes && unread + size + 8 >= wakeup_bytes ?
				       BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

/* Everything a read completes: filter by reader, count, histogram, and emit when slow. */
static __always_inline void finish(const struct skb_info *info, __u64 read_ns, __u64 return_ns)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct counters *c = get_counters();
	struct rec_event *e;
	__u64 first, latency;

	if (!c || !reader_wanted(pid_tgid))
		return;
	c->matched++;
	hist_add(STAGE_STACK, info->arrive_ns, info->enqueue_ns);
	hist_add(STAGE_QUEUE, info->enqueue_ns, read_ns);
	if (read_ns != return_ns)
		hist_add(STAGE_COPY, read_ns, return_ns);
	hist_add(STAGE_TOTAL, info->arrive_ns, return_ns);

	first = info->arrive_ns ? info->arrive_ns : info->enqueue_ns ? info->enqueue_ns : read_ns;
	latency = return_ns - first;
	if (latency < min_latency_ns)
		return;
	c->slow++;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		c->kernel_lost++;
		return;
	}
	e->hdr.type = REC_EVENT;
	e->hdr.size = sizeof(*e);
	e->reserved = 0;
	e->arrive_ns = info->arrive_ns;
	e->enqueue_ns = info->enqueue_ns;
	e->read_ns = read_ns;
	e->return_ns = return_ns;
	e->cgroup_id = bpf_get_current_cgroup_id();
	__builtin_memcpy(e->saddr, info->saddr, sizeof(e->saddr));
	__builtin_memcpy(e->daddr, info->daddr, sizeof(e->daddr));
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->len = info->len;
	e->sport = info->sport;
	e->dport = info->dport;
	e->family = info->family;
	e->reserved2 = 0;
	e->reserved3 = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	c->emitted++;
	submit(e, sizeof(*e));
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
	struct skb_info info;
	__u64 key = (__u64)skb;

	if (parse_udp(skb, &info) || !packet_wanted(&info))
		return 0;
	info.arrive_ns = bpf_ktime_get_ns();
	info.enqueue_ns = 0;
	info.head = (__u64)skb->head;
	bpf_map_update_elem(&tracked, &key, &info, BPF_ANY);
	return 0;
}

/* ---- drops: all plans ---- */

static __always_inline bool drop_event_allowed(__u64 now)
{
	__u32 zero = 0;
	struct drop_window *w = bpf_map_lookup_elem(&drop_windows, &zero);

	if (!w)
		return false;
	if (now - w->start_ns >= 1000000000ULL) {
		w->start_ns = now;
		w->emitted = 0;
	}
	if (w->emitted >= max_drop_events_per_s)
		return false;
	w->emitted++;
	return true;
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(ul_drop, struct sk_buff *skb, void *location, enum skb_drop_reason reason)
{
	__u64 key = (__u64)skb;
	struct skb_info *info;
	struct counters *c;
	struct rec_drop *d;
	__u32 slot = reason;
	__u64 *n, now;

	info = bpf_map_lookup_elem(&tracked, &key);
	if (!info)
		return 0;
	c = get_counters();
	if (!c)
		goto out;
	if (info->head != (__u64)skb->head) {
		/* Our datagram was consumed unseen and its sk_buff reused: this drop is another packet's. */
		c->stale++;
		goto out;
	}
	c->drops++;
	if (slot >= MAX_DROP_REASONS)
		slot = MAX_DROP_REASONS - 1;
	n = bpf_map_lookup_elem(&drop_counts, &slot);
	if (n)
		(*n)++;
	now = bpf_ktime_get_ns();
	if (!drop_event_allowed(now)) {
		c->drops_lost++;
		goto out;
	}
	d = bpf_ringbuf_reserve(&events, sizeof(*d), 0);
	if (!d) {
		c->drops_lost++;
		goto out;
	}
	__builtin_memset(d, 0, sizeof(*d));
	d->hdr.type = REC_DROP;
	d->hdr.size = sizeof(*d);
	d->reason = reason;
	d->time_ns = now;
	__builtin_memcpy(d->saddr, info->saddr, sizeof(d->saddr));
	__builtin_memcpy(d->daddr, info->daddr, sizeof(d->daddr));
	d->len = info->len;
	d->sport = info->sport;
	d->dport = info->dport;
	d->family = info->family;
	submit(d, sizeof(*d));
out:
	bpf_map_delete_elem(&tracked, &key);
	return 0;
}

/* ---- enqueue and read: fentry and kprobe plans ---- */

static __always_inline void mark_enqueued(struct sk_buff *skb)
{
	__u64 key = (__u64)skb;
	struct skb_info *info;

	info = bpf_map_lookup_elem(&tracked, &key);
	if (info)
		info->enqueue_ns = bpf_ktime_get_ns();
}

/* A read dequeued skb: move its marks from the per-skb map to the per-thread one. */
static __always_inline void take_skb(struct sk_buff *skb)
{
	__u64 key = (__u64)skb;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct inflight flight;
	struct skb_info *info;
	struct counters *c;

	info = bpf_map_lookup_elem(&tracked, &key);
	if (!info || info->head != (__u64)BPF_CORE_READ(skb, head)) {
		c = get_counters();
		if (c && info)
			c->stale++;
		else if (c)
			c->untracked++;
		if (info)
			bpf_map_delete_elem(&tracked, &key);
		return;
	}
	flight.info = *info;
	flight.read_ns = bpf_ktime_get_ns();
	bpf_map_delete_elem(&tracked, &key);
	bpf_map_update_elem(&inflight, &tid, &flight, BPF_ANY);
}

static __always_inline void mark_returned(int ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct inflight *flight;

	flight = bpf_map_lookup_elem(&inflight, &tid);
	if (!flight)
		return;
	if (ret >= 0)
		finish(&flight->info, flight->read_ns, bpf_ktime_get_ns());
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
	if (skb && !(flags & (MSG_PEEK | MSG_ERRQUEUE)) && socket_wanted(sk))
		take_skb(skb);
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

	if (!args || !skb || (args->flags & (MSG_PEEK | MSG_ERRQUEUE)))
		return 0;
	/* A kprobe's socket is not BTF-typed: read what socket_wanted() loads directly. */
	sk = (struct sock *)args->sk;
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_UDP || !port_wanted(BPF_CORE_READ(sk, __sk_common.skc_num)))
		return 0;
	if (filter_netns && BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum) != filter_netns)
		return 0;
	take_skb(skb);
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

/* ---- enqueue and read: tracepoint plan (kernel >= 6.3), design.md section 3.1 ---- */

static __always_inline struct sk_buff *reader_queue_head(const struct sock *sk)
{
	struct udp_sock *up = (struct udp_sock *)sk;
	struct sk_buff *head = (struct sk_buff *)&up->reader_queue;
	struct sk_buff *next = BPF_CORE_READ(up, reader_queue.next);

	return next == head ? NULL : next;
}

static __always_inline struct sk_buff *receive_queue_head(const struct sock *sk)
{
	struct sk_buff *next = BPF_CORE_READ(sk, sk_receive_queue.next);

	return (void *)next == (void *)&sk->sk_receive_queue ? NULL : next;
}

/*
 * The skb the next read on sk will dequeue: the reader queue's head, or the
 * receive queue's, which a read splices over. An existing entry is rewritten
 * in place: a map update per read would cost an LRU pop and push.
 */
static __always_inline void predict_next_read(const struct sock *sk, __u64 key, struct next_read *pred)
{
	struct next_read fresh;
	struct sk_buff *skb = reader_queue_head(sk);

	if (!skb)
		skb = receive_queue_head(sk);
	if (!pred)
		pred = &fresh;
	pred->skb = (__u64)skb;
	pred->predicted_ns = bpf_ktime_get_ns();
	if (pred == &fresh)
		bpf_map_update_elem(&next_read, &key, &fresh, BPF_ANY);
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
	struct skb_info *info;
	__u64 key = walk->skb;

	if (!key || key == walk->head)
		return 1;
	info = bpf_map_lookup_elem(&tracked, &key);
	if (info) {
		if (info->enqueue_ns || walk->now - info->arrive_ns > STALE_ARRIVE_NS)
			return 1;
		info->enqueue_ns = walk->now;
		walk->stamped++;
	}
	walk->skb = (__u64)BPF_CORE_READ((struct sk_buff *)key, prev);
	return 0;
}

/*
 * Stamp enqueue on tracked skbs at the tail of a queue, newest first, until
 * one already stamped. bpf_loop() (kernel 5.17, older than this plan's 6.3)
 * has the verifier check the step once rather than once per iteration.
 */
static __always_inline int stamp_tail(struct sk_buff *tail, struct sk_buff *head, __u64 now)
{
	struct tail_walk walk = { .skb = (__u64)tail, .head = (__u64)head, .now = now };

	bpf_loop(QUEUE_WALK_MAX, stamp_one, &walk, 0);
	return walk.stamped;
}

SEC("tp_btf/sk_data_ready")
int BPF_PROG(ul_tp_ready, const struct sock *sk)
{
	__u64 now, key = (__u64)sk;
	struct udp_sock *up;
	struct next_read *pred;

	if (!socket_wanted(sk))
		return 0;
	now = bpf_ktime_get_ns();
	if (!stamp_tail(BPF_CORE_READ(sk, sk_receive_queue.prev), (struct sk_buff *)&sk->sk_receive_queue, now)) {
		/* A reader may have spliced the new skbs over already. */
		up = (struct udp_sock *)sk;
		stamp_tail(BPF_CORE_READ(up, reader_queue.prev), (struct sk_buff *)&up->reader_queue, now);
	}
	/* A reader waiting on an empty queue dequeues what just arrived. */
	pred = bpf_map_lookup_elem(&next_read, &key);
	if (!pred || !pred->skb)
		predict_next_read(sk, key, pred);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(ul_tp_recv, struct sock *sk, int ret, int flags)
{
	__u64 now, key = (__u64)sk, skb_key;
	struct next_read *pred, seen = {};
	struct skb_info *info, copy;
	struct counters *c;

	if (ret < 0 || (flags & (MSG_PEEK | MSG_ERRQUEUE)) || !socket_wanted(sk))
		return 0;
	c = get_counters();
	/* Other readers of the socket, on other CPUs, replace the prediction while we use it: take a copy first. */
	pred = bpf_map_lookup_elem(&next_read, &key);
	if (pred)
		seen = *pred;
	now = bpf_ktime_get_ns();
	skb_key = seen.skb;
	info = skb_key ? bpf_map_lookup_elem(&tracked, &skb_key) : NULL;
	if (!info) {
		if (c)
			c->untracked++;
	} else if (info->arrive_ns > seen.predicted_ns || (__u32)ret > info->len) {
		/* The predicted skb was freed and its address reused by a later datagram. */
		if (c)
			c->stale++;
	} else {
		copy = *info;
		/* Two readers may have predicted the same skb: only the one whose delete succeeds reports it. */
		if (bpf_map_delete_elem(&tracked, &skb_key)) {
			if (c)
				c->untracked++;
		} else {
			finish(&copy, now, now);
		}
	}
	predict_next_read(sk, key, pred);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
