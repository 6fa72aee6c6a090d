/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The maps and globals every program shares, defined once in maps.bpf.c and
 * declared here for the other objects of the link (bpftool gen object).
 */
#ifndef __MAPS_BPF_H
#define __MAPS_BPF_H

#include "dispatch.h"

/* Written by the loader through the mmapped .bss; bit i is session slot i. */
extern __u64 active_sessions;
extern __u64 any_port_sessions; /* sessions without a local port filter */
extern __u64
	packet_filtered_sessions; /* with a family, remote port or address filter */
extern __u64 reader_filtered_sessions; /* with a pid, comm or cgroup filter */
extern __u64 netns_filtered_sessions;
/* By direction: the sessions that trace datagrams received, sent, or both. */
extern __u64 receive_sessions;
extern __u64 send_sessions;
extern __u64 both_sessions;

/*
 * Set by the dispatcher from the marks its active sessions take: whether the
 * rx programs run (arrive then continues what they began), and whether no
 * program before the socket does (enqueue then begins tracking).
 */
extern bool rx_tracking;
extern bool track_at_enqueue;
/* Likewise: whether the scheduler's programs keep each CPU's last switches, and readers' histories. */
extern bool cpu_history_on;
extern bool reader_tracking;
/* Whether a session takes sent: a datagram queued in its sender's call is then complete only once both it left and the call returned. */
extern bool sent_tracking;
/*
 * Whether a session takes return: the receive system calls' exit programs
 * run, and reads wait for them (returns.bpf.h); the generation of their
 * attachment, bumped each time they are attached again.
 */
extern bool return_tracking;
extern __u32 returns_generation;

/* Set by the loader before load: the marks the chosen plan sees (bit per enum mark). */
extern const volatile __u32 plan_marks;

/* It left the driver within its sender's call, which completes it as it returns. */
#define TX_AWAITS_SENT (1U << 0)

/* What the marks saw of a datagram, kept until it is read, sent or freed. */
struct skb_info {
	__u64 sessions; /* whose packet filter it passed */
	__u64 sent_by; /* of those, the ones whose filter its sender passed as a sender */
	__u64 marks[NR_MARKS]; /* enum mark, stamped as the datagram meets them */
	__u64 head; /* skb->head when first seen: an sk_buff reused for another packet has another buffer */
	__u64 since; /* when it was first seen */
	__u64 sender_cgroup;
	struct task
		sender; /* the task that queued it, when it was queued in a task's call */
	struct softirq softirq;
	struct flow flow;
	__u32 tx_flags; /* TX_* */
};

struct tracked_entry {
	__u64 skb; /* 0: free */
	struct skb_info info;
};

/* See tracked.bpf.h. */
#define TRACKED_SET_BITS 14
#define TRACKED_WAYS 2

/* Bit i of port_sessions[port]: session i traces this local port. */
struct port_sessions_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u64);
};

struct sessions_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_SESSIONS);
	__type(key, __u32);
	__type(value, struct session_conf);
};

struct states_map {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_SESSIONS);
	__type(key, __u32);
	__type(value, struct session_state);
};

/* Each session's own ring buffer, created by the loader at registration. */
struct ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
};

struct rings_map {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, MAX_SESSIONS);
	__type(key, __u32);
	__array(values, struct ring);
};

struct tracked_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TRACKED_WAYS << TRACKED_SET_BITS);
	__type(key, __u32);
	__type(value, struct tracked_entry);
};

/* Each CPU's last context switches: who held it, from when (sched.bpf.c). */
#define CPU_HISTORY_LEN 32

struct cpu_switch {
	__u64 time_ns;
	__u32 pid;
	char comm[TASK_COMM_LEN];
};

struct cpu_history {
	__u64 next; /* switches recorded; the newest is at (next - 1) % CPU_HISTORY_LEN */
	struct cpu_switch switches[CPU_HISTORY_LEN];
};

struct cpu_history_map {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cpu_history);
};

/*
 * The threads that read a traced socket, each with its last changes of state
 * (enum reader_state), kept by sched.bpf.c, read by reader.bpf.h
 * (readers.bpf.h finds them). A preallocated table, READER_WAYS ways per set
 * of tids: nothing is allocated on a reader's path (task storage, created at
 * a thread's first read, had the kernel refill its allocator's per-CPU cache
 * from irq_work inside that read, 40-80 us after its last mark).
 */
#define READER_HISTORY_LEN 32
#define READER_SET_BITS 12
#define READER_WAYS 2

struct reader_change {
	__u64 time_ns;
	__u32 state; /* enum reader_state, from then on */
	__u32 cpu; /* where it runs, or waits to */
};

struct reader_history {
	__u64 tid; /* 0: free (64 bits: the compare-and-swap that claims a way) */
	__u64 start_ns; /* the thread's start_time: a tid used again is another thread */
	__u64 next; /* changes recorded; the newest at (next - 1) % READER_HISTORY_LEN */
	struct reader_change changes[READER_HISTORY_LEN];
};

struct readers_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, READER_WAYS << READER_SET_BITS);
	__type(key, __u32);
	__type(value, struct reader_history);
};

/* Bit per set of `readers`: some thread of it is a reader, so a switch between other tasks looks no further. */
extern __u64 reader_sets[1 << (READER_SET_BITS - 6)];

/*
 * A thread in a call that sends on a socket: when the call began, and the
 * datagram it queued (tx.bpf.h). A preallocated slot per tid (its low
 * SENDER_BITS bits), kept by its thread between calls: like `readers`,
 * nothing is allocated inside the sender's call.
 */
#define SENDER_BITS 10

struct sender {
	__u64 claim; /* tid << 1 of its thread, | 1 while in a call: one word, claimed by compare-and-swap */
	__u64 send_ns; /* when its call began */
	__u64 skb; /* the datagram its call queued last, as its key in `tracked` */
	__u64 since; /* and when that one was first seen: the key may be another's since */
	__u32 pending; /* the datagrams its call may still send: its returns still to come */
	__u32 reserved;
};

struct senders_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << SENDER_BITS);
	__type(key, __u32);
	__type(value, struct sender);
};

/* One __u64 per CPU: see addr_of() in tracked.bpf.h. */
struct scratch_map {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
};

/* The fentry and kprobe plans: a datagram between its read and recvmsg's return, keyed by thread. */
struct inflight_map {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct skb_info);
};

extern struct port_sessions_map port_sessions SEC(".maps");
extern struct sessions_map sessions SEC(".maps");
extern struct states_map states SEC(".maps");
extern struct rings_map rings SEC(".maps");
extern struct tracked_map tracked SEC(".maps");
extern struct scratch_map addr_scratch SEC(".maps");
extern struct inflight_map inflight SEC(".maps");
extern struct cpu_history_map cpu_history SEC(".maps");
extern struct readers_map readers SEC(".maps");
extern struct senders_map senders SEC(".maps");

#endif /* __MAPS_BPF_H */
