/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __ARGS_H
#define __ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "udplat.h"

enum format {
	FORMAT_TEXT,
	FORMAT_JSON,
	FORMAT_BIN,
};

struct config {
	enum plan plan;
	enum format format;
	__u64 threshold_ns;
	__u16 ports[MAX_PORTS];
	__u32 nr_ports;
	struct prefix laddrs[MAX_PREFIXES];
	__u32 nr_laddrs;
	struct prefix raddrs[MAX_PREFIXES];
	__u32 nr_raddrs;
	__u16 rport;
	__u16 family;		/* AF_INET, AF_INET6, or 0 for both */
	__u32 pid;
	char comm[TASK_COMM_LEN];
	bool comm_on;
	__u64 cgroup_id;
	__u32 cgroup_level;
	__u32 netns;
	__u32 stats_interval_ms;
	__u32 ringbuf_bytes;
	__u32 max_drop_events_per_s;	/* per CPU */
	__u32 duration_s;	/* 0: until SIGINT or SIGTERM */
	bool verbose;
	bool list_plans;
	bool shared;		/* join the host's hub instead of loading probes of our own */	/* print which plans this kernel allows, as JSON, and exit */
};

/* Fills cfg from argv; on failure returns -1 with a message in err. */
int parse_args(int argc, char **argv, struct config *cfg, char *err, size_t errlen);

#endif /* __ARGS_H */
