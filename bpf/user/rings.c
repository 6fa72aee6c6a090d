// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "rings.h"

/* What an operation did: a new ring's fd (or -errno) when it put one in (bytes > 0); err when it took one out. */
struct ring_report {
	__u32 slot;
	__u32 bytes;
	__s32 fd;
	__s32 err;
};

struct ring_job {
	int map_fd;
	int report_fd;
	struct ring_report report;
};

static int new_ring(int map_fd, __u32 slot, __u32 bytes)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "ul_ring", 0, 0, bytes,
				NULL),
	    err;

	if (fd < 0)
		return -errno;
	if (bpf_map_update_elem(map_fd, &slot, &fd, BPF_ANY)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static void run(struct ring_job *job)
{
	struct ring_report *report = &job->report;

	if (report->bytes)
		report->fd = new_ring(job->map_fd, report->slot, report->bytes);
	else if (bpf_map_delete_elem(job->map_fd, &report->slot) &&
		 errno != ENOENT)
		report->err = -errno;
	/* A pipe takes a write this small whole, whichever thread writes it. */
	if (write(job->report_fd, report, sizeof(*report)) != sizeof(*report))
		abort();
}

static void *run_thread(void *arg)
{
	run(arg);
	free(arg);
	return NULL;
}

/* In a thread of its own, with every signal blocked (they are for the hub's loop); here when none can start. */
static void start(struct rings *r, __u32 slot, __u32 bytes)
{
	struct ring_job *job = malloc(sizeof(*job));
	struct ring_job here = { .map_fd = r->map_fd,
				 .report_fd = r->reports[1],
				 .report = { .slot = slot, .bytes = bytes } };
	sigset_t all, old;
	pthread_attr_t attr;
	pthread_t thread;
	int err = -1;

	r->busy |= 1ULL << slot;
	if (job) {
		*job = here;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		err = pthread_create(&thread, &attr, run_thread, job);
		pthread_attr_destroy(&attr);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (err)
			free(job);
	}
	if (err)
		run(&here);
}

int rings_open(struct rings *r, int map_fd)
{
	*r = (struct rings){ .map_fd = map_fd };
	if (pipe2(r->reports, O_CLOEXEC))
		return -errno;
	r->open = true;
	return 0;
}

void rings_close(struct rings *r)
{
	int i;

	if (!r->open)
		return;
	while (r->busy)
		rings_reap(r, true);
	for (i = 0; i < r->nr_spares; i++)
		close(r->spares[i].fd);
	close(r->reports[0]);
	close(r->reports[1]);
	r->open = false;
}

int rings_put(struct rings *r, __u32 slot, __u32 bytes)
{
	return new_ring(r->map_fd, slot, bytes);
}

void rings_remove(struct rings *r, __u32 slot)
{
	start(r, slot, 0);
}

void rings_prepare(struct rings *r, __u32 slot, __u32 bytes)
{
	r->spares[r->nr_spares++] =
		(struct ring_spare){ .fd = -1, .slot = slot, .bytes = bytes };
	start(r, slot, bytes);
}

static void drop_spare(struct rings *r, int i)
{
	r->spares[i] = r->spares[--r->nr_spares];
}

int rings_take_spare(struct rings *r, __u32 bytes, int *fd, bool *coming)
{
	struct ring_spare spare;
	int i;

	*coming = false;
	for (i = r->nr_spares - 1; i >= 0; i--) {
		spare = r->spares[i];
		if (spare.bytes == bytes && spare.fd >= 0) {
			drop_spare(r, i);
			*fd = spare.fd;
			return spare.slot;
		}
		*coming |= spare.bytes == bytes;
		if (spare.bytes != bytes && spare.fd >= 0) {
			drop_spare(r, i);
			close(spare.fd);
			rings_remove(r, spare.slot);
		}
	}
	return -1;
}

__u64 rings_spare_slots(const struct rings *r)
{
	__u64 slots = 0;
	int i;

	for (i = 0; i < r->nr_spares; i++)
		slots |= 1ULL << r->spares[i].slot;
	return slots;
}

/* An operation has ended: its slot is free, or a spare is ready (or, failed, no spare at all). */
static void apply(struct rings *r, const struct ring_report *report)
{
	int i;

	r->busy &= ~(1ULL << report->slot);
	for (i = 0; report->bytes && i < r->nr_spares; i++) {
		if (r->spares[i].slot != report->slot)
			continue;
		if (report->fd < 0)
			drop_spare(r, i);
		else
			r->spares[i].fd = report->fd;
		return;
	}
}

void rings_reap(struct rings *r, bool wait)
{
	struct pollfd reports = { .fd = r->reports[0], .events = POLLIN };
	struct ring_report report;

	while (r->busy && poll(&reports, 1, wait ? -1 : 0) > 0) {
		if (read(r->reports[0], &report, sizeof(report)) !=
		    sizeof(report))
			continue;
		apply(r, &report);
		wait = false;
	}
}

int rings_reports_fd(const struct rings *r)
{
	return r->reports[0];
}
