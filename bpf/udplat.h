/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kernel <-> loader <-> service contract.
 *
 * Every record on the loader's stdout starts with struct rec_hdr and has a
 * fixed size per type, a multiple of 8 bytes, little-endian. The kernel
 * writes rec_event and rec_drop into the ring buffer already framed, so the
 * loader forwards them without copying field by field. The service parses
 * these layouts with DataView (src/probe/records.ts); test/fixtures pins
 * both sides. Change a layout only together with UDPLAT_PROTO_VERSION.
 */
#ifndef __UDPLAT_H
#define __UDPLAT_H

#define UDPLAT_PROTO_VERSION	1

#define TASK_COMM_LEN		16
#define MAX_PORTS		16
#define MAX_PREFIXES		8
#define MAX_SLOTS		40	/* log2(ns) buckets: the last holds >= 2^39 ns */
#define MAX_DROP_REASONS	256
#define DROP_REASON_LEN		48
#define KERNEL_RELEASE_LEN	64
#define NOTES_LEN		256
#define ERROR_MSG_LEN		256
#define MAX_SESSIONS		64	/* sessions one dispatcher serves: bits of a __u64 */

enum rec_type {
	REC_HELLO = 1,		/* probes attached: the session is running */
	REC_EVENT = 2,		/* one slow datagram */
	REC_DROP = 3,		/* one dropped datagram that matched the filter */
	REC_STATS = 4,		/* cumulative counters */
	REC_HIST = 5,		/* cumulative histogram of one stage */
	REC_DROP_COUNT = 6,	/* cumulative drops of one reason */
	REC_ERROR = 7,		/* fatal: the loader exits after it */
	REC_BYE = 8,		/* clean exit */
};

enum plan {
	PLAN_AUTO = 0,
	PLAN_FENTRY = 1,
	PLAN_KPROBE = 2,
	PLAN_TRACEPOINT = 3,
};

/*
 * Bits of rec_hello.marks: which marks the chosen plan sees as moments of
 * their own. The tracepoint plan sees the read only when recvmsg returns:
 * it sets read_ns = return_ns and leaves MARK_READ clear, so the copy stage
 * is unknown (null) while queue and total stay measured.
 */
enum mark_bit {
	MARK_ARRIVE = 1 << 0,
	MARK_ENQUEUE = 1 << 1,
	MARK_READ = 1 << 2,
	MARK_RETURN = 1 << 3,
};

enum stage {
	STAGE_STACK = 0,	/* enqueue - arrive */
	STAGE_QUEUE = 1,	/* read - enqueue */
	STAGE_COPY = 2,		/* return - read */
	STAGE_TOTAL = 3,	/* return - arrive */
	NR_STAGES = 4,
};

struct rec_hdr {
	__u16 type;
	__u16 size;
};

/* 120 bytes. A mark of 0 means the plan did not see it. */
struct rec_event {
	struct rec_hdr hdr;
	__u32 reserved;
	__u64 arrive_ns;	/* CLOCK_MONOTONIC */
	__u64 enqueue_ns;
	__u64 read_ns;
	__u64 return_ns;
	__u64 cgroup_id;	/* reader's cgroup v2 id */
	__u8 saddr[16];		/* IPv4: first 4 bytes */
	__u8 daddr[16];
	__u32 pid;		/* reader's tgid */
	__u32 tid;
	__u32 len;		/* UDP payload bytes */
	__u16 sport;		/* host byte order */
	__u16 dport;
	__u16 family;		/* AF_INET or AF_INET6 */
	__u16 reserved2;
	char comm[TASK_COMM_LEN];
	__u32 reserved3;
};

/* 112 bytes. The kernel fills all but reason_name, which the loader resolves from BTF. */
struct rec_drop {
	struct rec_hdr hdr;
	__u32 reason;		/* enum skb_drop_reason of the running kernel */
	__u64 time_ns;		/* CLOCK_MONOTONIC */
	__u8 saddr[16];
	__u8 daddr[16];
	__u32 len;
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u16 reserved;
	__u32 reserved2;
	char reason_name[DROP_REASON_LEN];	/* "SOCKET_RCVBUFF": enum name without SKB_DROP_REASON_ */
};

/* 336 bytes. First record of every run. */
struct rec_hello {
	struct rec_hdr hdr;
	__u16 version;		/* UDPLAT_PROTO_VERSION */
	__u8 plan;		/* enum plan, never PLAN_AUTO */
	__u8 marks;		/* enum mark_bit */
	__s64 realtime_offset_ns;	/* CLOCK_REALTIME - CLOCK_MONOTONIC */
	char kernel_release[KERNEL_RELEASE_LEN];
	char notes[NOTES_LEN];	/* why other plans were not chosen */
};

/* 80 bytes. Counters are cumulative since the probes were attached. */
struct rec_stats {
	struct rec_hdr hdr;
	__u32 reserved;
	__u64 time_ns;		/* CLOCK_MONOTONIC when sampled */
	__u64 matched;		/* datagrams read that passed the filter */
	__u64 slow;		/* of those, over the threshold */
	__u64 emitted;		/* slow events that entered the ring buffer */
	__u64 kernel_lost;	/* slow events lost: ring buffer full */
	__u64 drops;		/* dropped datagrams that passed the filter */
	__u64 drops_lost;	/* drops not sent as events: ring buffer full, or over --drop-events per CPU and second */
	__u64 stale;		/* timestamps discarded as belonging to a reused skb */
	__u64 untracked;	/* reads whose datagram had no arrive/enqueue mark */
};

/* 328 bytes. slots[i] counts durations d with 2^(i-1) <= d < 2^i ns (slot 0: d = 0). */
struct rec_hist {
	struct rec_hdr hdr;
	__u16 stage;		/* enum stage */
	__u16 reserved;
	__u64 slots[MAX_SLOTS];
};

/* 64 bytes. */
struct rec_drop_count {
	struct rec_hdr hdr;
	__u32 reason;
	__u64 count;
	char reason_name[DROP_REASON_LEN];
};

/* 264 bytes. */
struct rec_error {
	struct rec_hdr hdr;
	__s32 err;		/* negative errno, or -1 when none applies */
	char message[ERROR_MSG_LEN];
};

/* 8 bytes. */
struct rec_bye {
	struct rec_hdr hdr;
	__s32 status;
};

/* Kernel-side state shared with the loader (maps). */

/* An address prefix, pre-masked by the loader, in network byte order. */
struct prefix {
	__u32 addr[4];
	__u32 mask[4];
	__u16 family;		/* AF_INET (addr[0] only) or AF_INET6 */
	__u16 reserved;
	__u32 reserved2;
};

/* Per-CPU counters; the loader sums them into rec_stats. */
struct counters {
	__u64 matched;
	__u64 slow;
	__u64 emitted;
	__u64 kernel_lost;
	__u64 drops;
	__u64 drops_lost;
	__u64 stale;
	__u64 untracked;
};

struct hist {
	__u64 slots[MAX_SLOTS];
};

/*
 * The dispatcher: one set of programs per host and plan serves up to
 * MAX_SESSIONS sessions. A datagram is parsed, tracked and timestamped once;
 * each session keeps its own filter (session_conf, as data), ring buffer and
 * per-CPU state (a slot of its own in shared maps).
 */

/* One session's filter and limits. Local ports are kept apart, as per-port session masks. */
struct session_conf {
	__u64 start_ns;		/* CLOCK_MONOTONIC at registration: older datagrams belong to a previous session in the slot */
	__u64 min_latency_ns;
	__u64 wakeup_bytes;	/* past this many unread bytes in the ring, wake the loader */
	__u64 max_drop_events_per_s;	/* per CPU; 0 emits none */
	__u64 cgroup_id;
	__u32 cgroup_level;
	__u32 pid;
	__u32 netns;
	__u16 rport;
	__u16 family;		/* AF_INET, AF_INET6, or 0 for both */
	__u32 nr_laddrs;
	__u32 nr_raddrs;
	struct prefix laddrs[MAX_PREFIXES];
	struct prefix raddrs[MAX_PREFIXES];
	char comm[TASK_COMM_LEN];
	__u8 comm_on;
	__u8 reserved[7];
	__u32 nr_ports;
	__u16 ports[MAX_PORTS];
	__u32 reserved2;
};

/* One session's per-CPU state; the loader sums its slot into stats, hist and drop-count records. */
struct session_state {
	struct counters counters;
	struct hist hists[NR_STAGES];
	__u64 drop_counts[MAX_DROP_REASONS];
	__u64 drop_window_start_ns;	/* this CPU's drop events in the current one-second window */
	__u64 drop_window_emitted;
};

#endif /* __UDPLAT_H */
