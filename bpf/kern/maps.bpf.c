// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The maps and globals every program shares (maps.bpf.h says what each is for). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "returns.bpf.h"

__u64 active_sessions;
__u64 any_port_sessions;
__u64 packet_filtered_sessions;
__u64 reader_filtered_sessions;
__u64 netns_filtered_sessions;
__u64 receive_sessions;
__u64 send_sessions;
__u64 both_sessions;
bool rx_tracking;
bool track_at_enqueue;
bool cpu_history_on;
bool reader_tracking;
bool sent_tracking;
bool return_tracking;
__u32 returns_generation;
__u64 reader_sets[1 << (READER_SET_BITS - 6)];

const volatile __u32 plan_marks = ALL_MARKS;

struct port_sessions_map port_sessions SEC(".maps");
struct sessions_map sessions SEC(".maps");
struct states_map states SEC(".maps");
struct rings_map rings SEC(".maps");
struct tracked_map tracked SEC(".maps");
struct scratch_map addr_scratch SEC(".maps");
struct inflight_map inflight SEC(".maps");
struct cpu_history_map cpu_history SEC(".maps");
struct readers_map readers SEC(".maps");
struct senders_map senders SEC(".maps");
struct reading_map reading SEC(".maps");
struct parked_calls_map parked_calls SEC(".maps");

char LICENSE[] SEC("license") = "Dual BSD/GPL";
