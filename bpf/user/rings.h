/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __RINGS_H
#define __RINGS_H

#include <stdbool.h>
#include <linux/types.h>

/*
 * Spare rings, made ahead: a session created right after another took the
 * last spare, and found the next still waiting for its grace period.
 */
#define RING_SPARES 2

/*
 * The map of rings (each session slot's own ring buffer), kept off the
 * hub's path: putting a ring into an array of maps, or taking one out, waits
 * for an RCU grace period (5-20 ms here), and a hub that waited for them
 * between two sessions made the second wait too. Each such operation runs in
 * a thread of its own, so that their grace periods overlap, and reports on a
 * pipe that the hub polls; its slot is busy meanwhile.
 */
struct rings {
	bool open;
	int map_fd; /* the dispatcher's `rings` */
	int reports[2]; /* a pipe: the threads write [1], rings_reap() reads [0] */
	__u64 busy; /* slots with an operation under way */
	/* Rings in the map for the next sessions: fd -1 while on their way in. */
	struct ring_spare {
		int fd;
		__u32 slot;
		__u32 bytes;
	} spares[RING_SPARES];
	int nr_spares;
};

int rings_open(struct rings *r, int map_fd);

/* Waits for the operations under way, then closes the spares and the pipe; nothing for rings never opened. */
void rings_close(struct rings *r);

/* A new ring of bytes in slot, now: its fd (the caller's), or -errno. */
int rings_put(struct rings *r, __u32 slot, __u32 bytes);

/* Takes slot's ring out of the map, in the background. */
void rings_remove(struct rings *r, __u32 slot);

/* Makes a spare ring of bytes in slot, in the background. */
void rings_prepare(struct rings *r, __u32 slot, __u32 bytes);

/*
 * A spare of bytes: its slot, its fd (the caller's) in *fd; -1 when none is
 * ready, with *coming telling whether one is on its way. Spares of another
 * size go: the next are made at the size sessions ask for.
 */
int rings_take_spare(struct rings *r, __u32 bytes, int *fd, bool *coming);

/* The slots of the spares, ready or on their way. */
__u64 rings_spare_slots(const struct rings *r);

/* Applies the reports of the operations that have ended; with wait, blocks until one has. */
void rings_reap(struct rings *r, bool wait);

/* Readable when an operation has ended. */
int rings_reports_fd(const struct rings *r);

#endif /* __RINGS_H */
