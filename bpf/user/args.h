/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __ARGS_H
#define __ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "dispatch.h"

enum format {
	FORMAT_TEXT,
	FORMAT_JSON,
	FORMAT_BIN,
};

struct config {
	enum plan plan;
	enum format format;
	struct session_conf
		session; /* filter, threshold and limits, as the dispatcher takes them */
	__u32 stats_interval_ms;
	__u32 ringbuf_bytes;
	__u32 duration_s; /* 0: until SIGINT or SIGTERM */
	bool verbose;
	bool list_plans; /* print which plans this kernel allows, as JSON, and exit */
	bool shared; /* join the host's hub instead of loading probes of our own */
	bool keep_hub; /* keep the host's hub of the plan running until stopped: no session */
};

/* Fills cfg from argv; on failure returns -1 with a message in err. */
int parse_args(int argc, char **argv, struct config *cfg, char *err,
	       size_t errlen);

#endif /* __ARGS_H */
