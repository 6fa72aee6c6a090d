/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The dispatcher's map values, shared by the kernel and the loader: one set
 * of programs per host and plan serves up to MAX_SESSIONS sessions, each with
 * its own filter (session_conf, as data), ring buffer and per-CPU state (a
 * slot of its own in shared maps).
 */
#ifndef __DISPATCH_H
#define __DISPATCH_H

#include "udplat.h"

/* An address prefix, pre-masked by the loader, in network byte order. */
struct prefix {
	__u32 addr[4];
	__u32 mask[4];
	__u16 family; /* AF_INET (addr[0] only) or AF_INET6 */
	__u16 reserved;
	__u32 reserved2;
};

/* Per-CPU counters, as UDPLAT_COUNTERS lists them; the loader sums them into rec_stats. */
struct counters {
#define COUNTER_FIELD(name, json) __u64 name;
	UDPLAT_COUNTERS(COUNTER_FIELD)
#undef COUNTER_FIELD
};

struct hist {
	__u64 slots[MAX_SLOTS];
};

/* One session's filter and limits. Local ports are kept apart, as per-port session masks. */
struct session_conf {
	__u64 start_ns; /* CLOCK_MONOTONIC at registration: older datagrams belong to a previous session in the slot */
	__u64 min_latency_ns;
	__u64 wakeup_bytes; /* past this many unread bytes in the ring, wake the loader */
	__u64 max_drop_events_per_s; /* per CPU; 0 emits none */
	__u64 cgroup_id;
	__u32 cgroup_level;
	__u32 pid;
	__u32 netns;
	__u16 rport;
	__u16 family; /* AF_INET, AF_INET6, or 0 for both */
	__u32 nr_laddrs;
	__u32 nr_raddrs;
	struct prefix laddrs[MAX_PREFIXES];
	struct prefix raddrs[MAX_PREFIXES];
	char comm[TASK_COMM_LEN];
	__u8 comm_on;
	__u8 reader; /* measure what its readers do while datagrams wait */
	__u8 reserved[6];
	__u32 nr_ports;
	__u16 ports[MAX_PORTS];
	__u32 marks; /* the marks it takes, bit per enum mark: a subset of its plan's */
	__u32 direction; /* EVENT_RECEIVE, EVENT_SEND or both: which datagrams it traces */
	__u32 reserved3;
};

/* One session's per-CPU state; the loader sums its slot into stats, hist and drop-count records. */
struct session_state {
	struct counters counters;
	struct hist hists[NR_HISTS];
	__u64 drop_counts[MAX_DROP_REASONS];
	__u64 drop_window_start_ns; /* this CPU's drop events in the current one-second window */
	__u64 drop_window_emitted;
};

#endif /* __DISPATCH_H */
