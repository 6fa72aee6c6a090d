/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What a loader and its hub say to each other over their unix socket. */
#ifndef __HUB_PROTO_H
#define __HUB_PROTO_H

#include <sys/socket.h>
#include <sys/un.h>
#include "hub.h"

/*
 * The connection of the loader that started the hub, at a fixed number
 * across exec: the hub's first client, told why when the hub cannot start.
 */
#define HUB_STARTER_FD 3

enum hub_join_kind {
	JOIN_SESSION = 0, /* takes a slot, a ring buffer and the states map */
	JOIN_KEEPER = 1, /* takes nothing: keeps the hub running */
};

struct hub_request {
	__u32 version; /* UDPLAT_PROTO_VERSION */
	__u32 kind; /* enum hub_join_kind */
	__u32 ring_bytes;
	__u32 reserved;
	struct session_conf conf;
};

/* Comes with two fds (SCM_RIGHTS) when err is 0 and a session joined: the ring buffer, then the states map. */
struct hub_reply {
	__s32 err;
	__u32 slot;
	char message[ERROR_MSG_LEN];
	struct hub_info info;
};

/* A keeper's question on its connection, answered with the same bytes: the hub's loop is turning. */
struct hub_ping {
	__u32 seq;
};

/* The abstract socket name of the hub of plan (PLAN_AUTO: the alias of the plan auto picks). */
socklen_t hub_address(enum plan plan, struct sockaddr_un *addr);

#endif /* __HUB_PROTO_H */
