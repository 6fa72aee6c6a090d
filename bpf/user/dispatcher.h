/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __DISPATCHER_H
#define __DISPATCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "dispatch.h"
#include "rings.h"

/* The ring buffer a session gets unless it asks for another size (--ringbuf-kb). */
#define DEFAULT_RINGBUF_BYTES (1024 * 1024)

struct udplat_bpf;
struct bpf_link;

/*
 * One loaded and attached program set of a plan, serving up to MAX_SESSIONS
 * sessions (docs/design.md, "The dispatcher"). A standalone loader owns one for its
 * own session; a hub owns one for every loader of the host that joins it.
 */
struct dispatcher {
	struct udplat_bpf *skel;
	/* By program, in the object's order: attached while its sessions need it. */
	struct bpf_link **links;
	enum plan plan;
	__u64 used; /* slots taken */
	__u32 marks[MAX_SESSIONS]; /* by slot: the marks its session takes */
	__u64 readers; /* slots whose sessions take what their readers do */
	__u32 directions
		[MAX_SESSIONS]; /* by slot: EVENT_RECEIVE, EVENT_SEND or both */
	__u32 next_slot; /* slots are handed out round-robin, so a freed one is reused last */
	int ncpus;
	void *zero_state; /* ncpus zeroed struct session_state, to reset a slot */
	/* With the spare rings, made ahead for the next sessions. */
	struct rings rings;
	__u32 spare_bytes; /* the size spares are made at: the last session's */
	__u64 detach_at_ns; /* CLOCK_MONOTONIC when the programs go, since the last session went; 0 for never */
};

/* Loads the plan's programs, attached while at least one session is added; on failure, a message in msg. */
int dispatcher_open(struct dispatcher *d, enum plan plan, char *msg,
		    size_t msglen);

/* A session asked for marks its plan does not see: its request, not the kernel, is at fault. */
#define EMARKS EDOM

/*
 * Registers a session: a slot of its own, reset, its filter, and a new ring
 * buffer of ring_bytes whose fd (the caller's to close) goes to *ring_fd.
 * Its marks, 0 for all its plan sees on its direction's sides, must be some
 * of those (else -EMARKS).
 */
int dispatcher_add(struct dispatcher *d, const struct session_conf *conf,
		   __u32 ring_bytes, __u32 *slot, int *ring_fd, char *msg,
		   size_t msglen);

/*
 * Takes in the ring operations that have ended, and has the next session's
 * ring buffer made ahead of time, in the background: putting a ring into
 * the map of rings waits for an RCU grace period (milliseconds), which a
 * session would otherwise wait for at its start. Best effort.
 */
void dispatcher_prepare(struct dispatcher *d);

/* Readable when a ring operation has ended: then call dispatcher_prepare(). */
int dispatcher_reports_fd(const struct dispatcher *d);

/*
 * The session stops matching at once; its ring leaves the map of rings in
 * the background, and goes when its last fd closes. When it was the last
 * session, the programs stay attached, matching nothing, until
 * dispatcher_tick() detaches them.
 */
void dispatcher_remove(struct dispatcher *d, __u32 slot);

/* Does what is due (detaching the programs of a dispatcher left idle); ms until the next, -1 for nothing. */
int dispatcher_tick(struct dispatcher *d);

/* The per-CPU session_state map, indexed by slot: the dispatcher's fd, to lend, not to close. */
int dispatcher_states_fd(const struct dispatcher *d);

void dispatcher_close(struct dispatcher *d);

#endif /* __DISPATCHER_H */
