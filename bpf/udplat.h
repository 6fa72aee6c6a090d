/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kernel <-> loader <-> service contract.
 *
 * Every record on the loader's stdout starts with struct rec_hdr and has a
 * fixed size per type, a multiple of 8 bytes, little-endian. The kernel
 * writes rec_event and rec_drop into the ring buffer already framed, so the
 * loader forwards them without copying field by field. The service parses
 * these layouts (src/probe/records.ts) and builds its stages, schemas and
 * metrics from the same tables (src/marks.ts); test/fixtures/records.bin,
 * written by tools/golden.c, pins both sides. Change a layout or a table
 * only together with UDPLAT_PROTO_VERSION.
 */
#ifndef __UDPLAT_H
#define __UDPLAT_H

#define UDPLAT_PROTO_VERSION 5

#define TASK_COMM_LEN 16
#define MAX_PORTS 16
#define MAX_PREFIXES 8
#define MAX_SLOTS 40 /* log2(ns) buckets: the last holds >= 2^39 ns */
#define MAX_DROP_REASONS 256
#define DROP_REASON_LEN 48
#define KERNEL_RELEASE_LEN 64
#define NOTES_LEN 256
#define ERROR_MSG_LEN 256
#define MAX_SESSIONS 64 /* sessions one dispatcher serves: bits of a __u64 */

/*
 * The marks: the moments of a datagram's path, in the order it meets them,
 * as MARK(ID, name, SIDE): the sender's side, then the receiver's. A mark is
 * a CLOCK_MONOTONIC time, 0 when not seen. (sent, when the sender's call
 * returned, comes last: it may be before or after the datagram left.)
 */
/* clang-format off */
#define UDPLAT_MARKS(MARK)							\
	MARK(SEND, send, SEND)		/* the application called sendmsg */	\
	MARK(QUEUED, queued, SEND)	/* it entered the device layer */	\
	MARK(XMIT_START, xmitStart, SEND) /* handed to the driver */		\
	MARK(XMIT_DONE, xmitDone, SEND)	/* the driver took it */		\
	MARK(RX, rx, RECEIVE)		/* the device handed it to the stack */	\
	MARK(ARRIVE, arrive, RECEIVE)	/* the skb enters the IP stack */	\
	MARK(ENQUEUE, enqueue, RECEIVE)	/* queued on the socket */		\
	MARK(READ, read, RECEIVE)	/* the application dequeued it */	\
	MARK(RETURN, return, RECEIVE)	/* recvmsg returned */			\
	MARK(SENT, sent, SEND)		/* the sender's call returned */
/* clang-format on */

/*
 * The stages, as STAGE(ID, name, FROM, TO, KIND, EVENTS): the time from mark
 * FROM to mark TO. A PART is one piece of the path (slowestStage names the
 * longest); it is unknown when FROM is not a mark its plan sees. A SUM spans
 * several and starts at the first mark seen from FROM on. Either ends at TO,
 * or, when the plan does not see TO, at the next mark it sees: the parts of a
 * path always add up to its total. EVENTS are the kinds of event (EVENT_*
 * bits) it belongs to: a datagram received, one sent, or one sent and
 * received on this host (a path). A path's wire runs from the driver to
 * arrive: on one host the device hands the datagram to the receiving stack
 * (rx) inside its transmit call, before xmitDone, so backlog is not a part
 * of it. call is the sender's call, to its return.
 */
/* clang-format off */
#define UDPLAT_STAGES(STAGE)								\
	STAGE(BACKLOG, backlog, RX, ARRIVE, PART, EVENT_RECEIVE)			\
	STAGE(STACK, stack, ARRIVE, ENQUEUE, PART, EVENT_RECEIVE | EVENT_PATH)		\
	STAGE(QUEUE, queue, ENQUEUE, READ, PART, EVENT_RECEIVE | EVENT_PATH)		\
	STAGE(COPY, copy, READ, RETURN, PART, EVENT_RECEIVE | EVENT_PATH)		\
	STAGE(TOTAL, total, SEND, RETURN, SUM, EVENT_RECEIVE | EVENT_PATH)		\
	STAGE(SEND_STACK, sendStack, SEND, QUEUED, PART, EVENT_SEND | EVENT_PATH)	\
	STAGE(QDISC, qdisc, QUEUED, XMIT_START, PART, EVENT_SEND | EVENT_PATH)		\
	STAGE(DRIVER, driver, XMIT_START, XMIT_DONE, PART, EVENT_SEND | EVENT_PATH)	\
	STAGE(SEND_TOTAL, sendTotal, SEND, XMIT_DONE, SUM, EVENT_SEND)			\
	STAGE(WIRE, wire, XMIT_DONE, ARRIVE, PART, EVENT_PATH)				\
	STAGE(CALL, call, SEND, SENT, SUM, EVENT_SEND | EVENT_PATH)
/* clang-format on */

/* The kinds of event, as bits: a stage's EVENTS, a session's direction. */
#define EVENT_RECEIVE (1U << 0)
#define EVENT_SEND (1U << 1)
#define EVENT_PATH (1U << 2)

/*
 * A session's counters, as COUNTER(name, jsonName): cumulative since the
 * probes were attached, summed over CPUs by the loader.
 */
/* clang-format off */
#define UDPLAT_COUNTERS(COUNTER)								\
	COUNTER(matched, matched)	/* datagrams read or sent that passed the filter */	\
	COUNTER(slow, slow)		/* of those, over the threshold */			\
	COUNTER(emitted, emitted)	/* slow events that entered the ring buffer */		\
	COUNTER(kernel_lost, kernelLost) /* slow events lost: ring buffer full */		\
	COUNTER(drops, drops)		/* dropped datagrams that passed the filter */		\
	COUNTER(drops_lost, dropsLost)	/* drops not sent as events: ring full, or over --drop-events */ \
	COUNTER(stale, stale)		/* marks discarded as belonging to a reused skb */	\
	COUNTER(untracked, untracked)	/* datagrams read or sent with no marks to take */	\
	COUNTER(reader_busy, readerBusy)	/* slow datagrams by their reader's verdict */	\
	COUNTER(reader_runqueue, readerRunqueue)					\
	COUNTER(reader_blocked, readerBlocked)						\
	COUNTER(reader_unknown, readerUnknown)	/* its history did not reach back to enqueue */
/* clang-format on */

/*
 * What the thread that read a datagram was doing over its queue interval
 * [enqueue, read], as READER_STATE(ID, name, verdict): running (busy: it
 * had not asked yet), runnable but waiting for a CPU, or not runnable
 * (asleep on something else). A datagram's verdict is its longest state.
 */
/* clang-format off */
#define UDPLAT_READER_STATES(STATE)			\
	STATE(ON_CPU, onCpu, busy)			\
	STATE(RUNQUEUE, runqueue, runqueue)		\
	STATE(OFF_CPU, offCpu, blocked)
/* clang-format on */

enum mark {
#define MARK_ID(id, ...) MARK_##id,
	UDPLAT_MARKS(MARK_ID)
#undef MARK_ID
		NR_MARKS,
};

#define MARK_BIT(id) (1U << MARK_##id)
#define ALL_MARKS ((1U << NR_MARKS) - 1)

/* The marks of the sender's side, and of the receiver's. */
#define MARK_OF_SIDE(id, name, side) \
	| (SIDE_##side == SIDE_SEND ? MARK_BIT(id) : 0)
enum side { SIDE_SEND, SIDE_RECEIVE };
#define SEND_MARKS (0 UDPLAT_MARKS(MARK_OF_SIDE))
#define RECEIVE_MARKS (ALL_MARKS & ~SEND_MARKS)

enum stage_kind {
	PART,
	SUM,
};

enum stage {
#define STAGE_ID(id, ...) STAGE_##id,
	UDPLAT_STAGES(STAGE_ID)
#undef STAGE_ID
		NR_STAGES,
};

enum counter {
#define COUNTER_ID(name, json) COUNTER_##name,
	UDPLAT_COUNTERS(COUNTER_ID)
#undef COUNTER_ID
		NR_COUNTERS,
};

enum reader_state {
#define READER_STATE_ID(id, name, verdict) READER_##id,
	UDPLAT_READER_STATES(READER_STATE_ID)
#undef READER_STATE_ID
		NR_READER_STATES,
};

/* A datagram's reader verdict: its longest state, after these two. */
enum verdict {
	VERDICT_NONE =
		0, /* not measured: the session does not take its reader */
	VERDICT_UNKNOWN =
		1, /* the reader's history did not reach back to enqueue */
	VERDICT_STATE = 2, /* + enum reader_state */
};

/* The histograms of a session: every stage's, then each reader state's. */
#define NR_HISTS (NR_STAGES + NR_READER_STATES)

enum rec_type {
	REC_HELLO = 1, /* probes attached: the session is running */
	REC_EVENT = 2, /* one slow datagram */
	REC_DROP = 3, /* one dropped datagram that matched the filter */
	REC_STATS = 4, /* cumulative counters */
	REC_HIST = 5, /* cumulative histogram of one stage */
	REC_DROP_COUNT = 6, /* cumulative drops of one reason */
	REC_ERROR = 7, /* fatal: the loader exits after it */
	REC_BYE = 8, /* clean exit */
};

enum plan {
	PLAN_AUTO = 0,
	PLAN_FENTRY = 1,
	PLAN_KPROBE = 2,
	PLAN_TRACEPOINT = 3,
	NR_PLANS,
};

struct rec_hdr {
	__u16 type;
	__u16 size;
};

/* 24 bytes: a task, as the kernel names it. */
struct task {
	__u32 pid; /* tgid */
	__u32 tid;
	char comm[TASK_COMM_LEN];
};

/* 44 bytes: a datagram's addresses, ports and length, in events and drops alike. */
struct flow {
	__u8 saddr[16]; /* IPv4: first 4 bytes */
	__u8 daddr[16];
	__u32 len; /* UDP payload bytes */
	__u16 sport; /* host byte order */
	__u16 dport;
	__u16 family; /* AF_INET or AF_INET6 */
	__u16 reserved;
};

/* How a datagram waited in a CPU's backlog, as arrive saw it. 28 bytes. */
struct softirq {
	__u32 cpu; /* the CPU that took it out of the backlog */
	__u32 flags; /* SOFTIRQ_* */
	__u32 behind_pid; /* the task that held that CPU longest while it waited; 0: none */
	char behind_comm[TASK_COMM_LEN];
};

#define SOFTIRQ_SEEN (1U << 0) /* arrive saw it: the rest is known */
#define SOFTIRQ_IN_KSOFTIRQD (1U << 1) /* NET_RX ran in ksoftirqd, not inline */

/* What its reader did while the datagram waited in the queue. 48 bytes. */
struct reader {
	__u64 ns[NR_READER_STATES]; /* enum reader_state */
	__u32 verdict; /* enum verdict */
	__u32 behind_pid; /* the task that held the reader's CPU longest while it waited for it; 0: none */
	char behind_comm[TASK_COMM_LEN];
};

/*
 * 184 + 8 * NR_MARKS bytes. The marks come last, so that a new mark moves no
 * other field. A datagram received (EVENT_RECEIVE) names its reader, one sent
 * (EVENT_SEND) its sender, one sent and received on this host (EVENT_PATH)
 * both.
 */
struct rec_event {
	struct rec_hdr hdr;
	__u32 kind; /* EVENT_RECEIVE, EVENT_SEND or EVENT_PATH */
	__u64 cgroup_id; /* the reader's cgroup v2 id; a send event's, the sender's */
	struct flow flow;
	__u32 pid; /* the reader's tgid; a send event's, the sender's */
	__u32 tid;
	char comm[TASK_COMM_LEN];
	struct softirq softirq;
	struct reader reader;
	struct task sender; /* send and path events */
	__u64 marks[NR_MARKS]; /* enum mark: CLOCK_MONOTONIC, 0 when not seen */
};

/* 112 bytes. The kernel fills all but reason_name, which the loader resolves from BTF. */
struct rec_drop {
	struct rec_hdr hdr;
	__u32 reason; /* enum skb_drop_reason of the running kernel */
	__u64 time_ns; /* CLOCK_MONOTONIC */
	struct flow flow;
	__u32 reserved;
	char reason_name
		[DROP_REASON_LEN]; /* "SOCKET_RCVBUFF": enum name without SKB_DROP_REASON_ */
};

/* 344 bytes. First record of every run. */
struct rec_hello {
	struct rec_hdr hdr;
	__u16 version; /* UDPLAT_PROTO_VERSION */
	__u8 plan; /* enum plan, never PLAN_AUTO */
	__u8 reserved;
	__u32 marks; /* bit per enum mark: the marks the session takes, of those its plan sees as moments of their own */
	__u32 direction; /* the session's: EVENT_RECEIVE, EVENT_SEND or both */
	__s64 realtime_offset_ns; /* CLOCK_REALTIME - CLOCK_MONOTONIC */
	char kernel_release[KERNEL_RELEASE_LEN];
	char notes[NOTES_LEN]; /* why other plans were not chosen */
};

/* 16 + 8 * NR_COUNTERS bytes. Counters are cumulative since the probes were attached. */
struct rec_stats {
	struct rec_hdr hdr;
	__u32 reserved;
	__u64 time_ns; /* CLOCK_MONOTONIC when sampled */
	__u64 counters[NR_COUNTERS]; /* enum counter */
};

/* 328 bytes. slots[i] counts durations d with 2^(i-1) <= d < 2^i ns (slot 0: d = 0). */
struct rec_hist {
	struct rec_hdr hdr;
	__u16 stage; /* enum stage, or NR_STAGES + enum reader_state */
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
	__s32 err; /* negative errno, or -1 when none applies */
	char message[ERROR_MSG_LEN];
};

/* 8 bytes. */
struct rec_bye {
	struct rec_hdr hdr;
	__s32 status;
};

#endif /* __UDPLAT_H */
