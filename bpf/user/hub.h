/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __HUB_H
#define __HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "drop_reasons.h"
#include "dispatch.h"

/*
 * The hub: one process per user, plan and loader build that owns the
 * dispatcher every --shared loader of the host joins, so that N sessions
 * cost one set of programs instead of N (docs/design.md, "The hub"). The
 * first loader to need it starts it; it exits as soon as its last connection
 * has gone (the starting loader's is its first), and a loader's session ends
 * in the kernel the moment that loader's connection closes, however the
 * loader died. Each loader keeps its own ring
 * buffer and reads its own slot of the per-CPU state: records still flow
 * from one loader process per session.
 *
 * A keeper (`udplat-probe --keep-hub`, which the service runs for as long as
 * it runs) holds a connection without a session, so the hub stays warm
 * between sessions, and pings the hub on it, so the service knows it serves.
 */

/* A session's handles on its dispatcher, in this process or in the hub. */
struct session_handles {
	__u32 slot;
	int ring_fd; /* the session's own ring buffer: the session's to close */
	int states_fd; /* per-CPU struct session_state, indexed by slot: the session's own fd, to close */
	int hub_fd; /* the connection to the hub, or -1 */
};

/* What a hub knows of its kernel, so that a joining loader needs no BTF of its own. */
struct hub_info {
	__u32 plan; /* enum plan the hub runs */
	char notes[NOTES_LEN]; /* why auto did not choose the plans before it */
	struct drop_reasons reasons;
};

/*
 * Joins the hub serving plan (PLAN_AUTO: the hub of the plan auto picks, if
 * one runs) with a session (conf, ring_bytes) or, with conf NULL, as a keeper.
 * With spawn, starts a hub of plan (never PLAN_AUTO) when none runs.
 * Returns -ECONNREFUSED when no hub runs and spawn is false, -ENOSPC when
 * the hub is full; on other failures a message in msg.
 */
int hub_join(enum plan plan, bool spawn, const struct session_conf *conf,
	     __u32 ring_bytes, struct session_handles *session,
	     struct hub_info *info, char *msg, size_t msglen);

/*
 * The hub process: `udplat-probe --hub PLAN`, started by hub_join() with a
 * status pipe on fd 3 (closed empty once serving, a message on failure).
 */
int hub_serve(const char *plan_name);

/* Whether the hub behind hub_fd has gone, and with it the session's probes. */
bool hub_gone(int hub_fd);

/* A keeper asks the hub behind hub_fd whether it serves: 0, or -EPIPE when it has gone. */
int hub_ping(int hub_fd, __u32 seq);

/* The hub's answer, once hub_fd is readable: the seq it answers, or -EPIPE when it has gone. */
long hub_pong(int hub_fd);

#endif /* __HUB_H */
