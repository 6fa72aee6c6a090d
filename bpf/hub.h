/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __HUB_H
#define __HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "udplat.h"

/*
 * The hub: one process per user, plan and loader build that owns the
 * dispatcher every --shared loader of the host joins, so that N sessions
 * cost one set of programs instead of N (design.md section 3.2). The first
 * loader to need it starts it; it exits when its last loader has gone, and
 * a loader's session ends in the kernel the moment that loader's connection
 * closes, however the loader died. Each loader keeps its own ring buffer
 * and reads its own slot of the per-CPU state: records still flow from one
 * loader process per session.
 */

/* A session's handles on its dispatcher, in this process or in the hub. */
struct session_handles {
	__u32 slot;
	int ring_fd;		/* the session's own ring buffer */
	int states_fd;		/* per-CPU struct session_state, indexed by slot */
	int hub_fd;		/* the connection to the hub, or -1 */
};

/* Registers conf with the hub of plan, starting the hub if none runs. On failure, a message in msg. */
int hub_join(enum plan plan, const struct session_conf *conf, __u32 ring_bytes,
	     struct session_handles *session, char *msg, size_t msglen);

/*
 * The hub process: `udplat-probe --hub PLAN`, started by hub_join() with a
 * status pipe on fd 3 (closed empty once serving, a message on failure).
 */
int hub_serve(const char *plan_name);

/* Whether the hub behind hub_fd has gone, and with it the session's probes. */
bool hub_gone(int hub_fd);

#endif /* __HUB_H */
