// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>
#include "dispatcher.h"
#include "libbpf_log.h"
#include "names.h"
#include "plans.h"
#include "rings.h"
#include "udplat.skel.h"

/*
 * Programs stay attached this long after the last session has gone:
 * detaching, then attaching again, waits for an RCU grace period (10-30 ms
 * here) that a session created right after another's deletion would pay.
 */
#define DETACH_DELAY_NS (200 * 1000000ULL)

static __u64 monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Keeps the programs the plan runs (plans.h), and tells them which marks it sees. */
static void select_programs(struct udplat_bpf *skel, enum plan plan)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, skel->obj)
		bpf_program__set_autoload(
			prog, plan_runs(plan, bpf_program__name(prog)));
	skel->rodata->plan_marks = plan_info(plan)->marks;
}

/*
 * What the active sessions take, all together. A session of both directions
 * needs rx: a datagram delivered on this host meets it inside the driver's
 * transmit, which tells its sending side to wait for its read.
 */
static void wanted(const struct dispatcher *d, struct wants *w)
{
	__u32 slot;

	memset(w, 0, sizeof(*w));
	for (slot = 0; slot < MAX_SESSIONS; slot++) {
		if (!(d->used & (1ULL << slot)))
			continue;
		w->marks |= d->marks[slot];
		w->receives |= d->directions[slot] & EVENT_RECEIVE;
		w->sends |= d->directions[slot] & EVENT_SEND;
		if (d->directions[slot] == (EVENT_RECEIVE | EVENT_SEND))
			w->marks |= MARK_BIT(RX);
	}
	w->readers = d->used & d->readers;
}

/* Tells the programs what the sessions take: where tracking begins, what else they follow. */
static void set_tracking(struct dispatcher *d, const struct wants *w)
{
	d->skel->bss->rx_tracking = w->marks & MARK_BIT(RX);
	d->skel->bss->track_at_enqueue =
		!(w->marks & (MARK_BIT(RX) | MARK_BIT(ARRIVE)));
	d->skel->bss->reader_tracking = w->readers;
	d->skel->bss->cpu_history_on =
		w->readers ||
		(w->marks & MARK_BIT(RX) && w->marks & MARK_BIT(ARRIVE));
	d->skel->bss->sent_tracking = w->marks & MARK_BIT(SENT);
	/*
	 * Reads wait for the system calls' exit only while a session takes
	 * return: sync_programs() clears this before detaching the exit
	 * program, and this sets it once attached, in a new generation.
	 */
	if (!(w->marks & MARK_BIT(RETURN))) {
		d->skel->bss->return_tracking = false;
	} else if (!d->skel->bss->return_tracking) {
		d->skel->bss->returns_generation++;
		d->skel->bss->return_tracking = true;
	}
}

/*
 * Attaches the programs the active sessions need and detaches the others
 * (none at all without a session: an idle dispatcher costs the host's packets
 * nothing), one at a time, so that a failure names the program; then tells
 * the programs where tracking begins.
 */
static int sync_programs(struct dispatcher *d, char *msg, size_t msglen)
{
	struct bpf_program *prog;
	struct wants w;
	bool needed;
	int i = 0, err = 0;

	wanted(d, &w);
	/* Reads stop waiting for the exit programs before they go. */
	if (!(d->used && w.marks & MARK_BIT(RETURN)))
		d->skel->bss->return_tracking = false;
	bpf_object__for_each_program(prog, d->skel->obj) {
		needed = d->used && bpf_program__autoload(prog) &&
			 program_needed(bpf_program__name(prog), &w);
		if (needed && !d->links[i] && !err) {
			d->links[i] = bpf_program__attach(prog);
			if (!d->links[i]) {
				err = -errno;
				snprintf(msg, msglen, "failed to attach %s: %s",
					 bpf_program__section_name(prog),
					 strerror(-err));
			}
		} else if (!needed && d->links[i]) {
			bpf_link__destroy(d->links[i]);
			d->links[i] = NULL;
		}
		i++;
	}
	set_tracking(d, &w);
	return err;
}

int dispatcher_open(struct dispatcher *d, enum plan plan, char *msg,
		    size_t msglen)
{
	struct bpf_program *prog;
	int err, n = 0;

	memset(d, 0, sizeof(*d));
	d->spare_bytes = DEFAULT_RINGBUF_BYTES;
	d->plan = plan;
	d->ncpus = libbpf_num_possible_cpus();
	d->zero_state = d->ncpus > 0 ?
				calloc(d->ncpus, sizeof(struct session_state)) :
				NULL;
	if (!d->zero_state) {
		snprintf(msg, msglen, "failed to allocate per-CPU buffers");
		return -ENOMEM;
	}
	d->skel = udplat_bpf__open();
	if (!d->skel) {
		err = -errno;
		snprintf(msg, msglen, "failed to open BPF object: %s",
			 strerror(-err));
		return err;
	}
	select_programs(d->skel, plan);
	err = udplat_bpf__load(d->skel);
	if (err) {
		snprintf(msg, msglen, "failed to load BPF object: %s (%s)",
			 strerror(-err), libbpf_last_warning());
		return err;
	}
	bpf_object__for_each_program(prog, d->skel->obj)
		n++;
	d->links = calloc(n, sizeof(*d->links));
	if (!d->links) {
		snprintf(msg, msglen, "failed to allocate links");
		return -ENOMEM;
	}
	err = rings_open(&d->rings, bpf_map__fd(d->skel->maps.rings));
	if (err)
		snprintf(msg, msglen, "failed to open a pipe: %s",
			 strerror(-err));
	return err;
}

static int set_port_bit(struct dispatcher *d, __u16 port, __u64 bit, bool on)
{
	int fd = bpf_map__fd(d->skel->maps.port_sessions);
	__u32 key = port;
	__u64 mask;

	if (bpf_map_lookup_elem(fd, &key, &mask))
		return -errno;
	mask = on ? mask | bit : mask & ~bit;
	return bpf_map_update_elem(fd, &key, &mask, BPF_ANY) ? -errno : 0;
}

/* The masks that route datagrams to the session, set last on add and cleared first on remove. */
static void set_masks(struct dispatcher *d, const struct session_conf *conf,
		      __u64 bit, bool on)
{
	struct udplat_bpf__bss *bss = d->skel->bss;
	__u32 i;

#define SET(mask, cond) (mask) = on && (cond) ? (mask) | bit : (mask) & ~bit
	if (!on)
		bss->active_sessions &= ~bit;
	SET(bss->packet_filtered_sessions,
	    conf->family || conf->rport || conf->nr_laddrs || conf->nr_raddrs);
	SET(bss->reader_filtered_sessions,
	    conf->pid || conf->comm_on || conf->cgroup_id);
	SET(bss->netns_filtered_sessions, conf->netns);
	SET(bss->any_port_sessions, !conf->nr_ports);
	SET(bss->receive_sessions, conf->direction & EVENT_RECEIVE);
	SET(bss->send_sessions, conf->direction & EVENT_SEND);
	SET(bss->both_sessions,
	    conf->direction == (EVENT_RECEIVE | EVENT_SEND));
#undef SET
	for (i = 0; i < conf->nr_ports && i < MAX_PORTS; i++)
		set_port_bit(d, conf->ports[i], bit, on);
	if (on)
		bss->active_sessions |= bit;
}

/*
 * The session's marks: all its plan sees on its direction's sides when it
 * names none; -EMARKS when it names one the plan does not see, or one of a
 * side it does not trace.
 */
static int marks_seen(enum plan plan, __u32 direction, __u32 *marks, char *msg,
		      size_t msglen)
{
	__u32 seen = plan_info(plan)->marks, sides = direction_marks(direction);
	int m;

	if (!*marks)
		*marks = seen & sides;
	for (m = 0; m < NR_MARKS; m++) {
		if (!(*marks & (1U << m)))
			continue;
		if (!(seen & (1U << m))) {
			snprintf(msg, msglen,
				 "the %s plan does not see mark %s",
				 plan_name(plan), mark_names[m]);
			return -EMARKS;
		}
		if (!(sides & (1U << m))) {
			snprintf(
				msg, msglen,
				"mark %s is on the %s side, which a session of direction %s does not trace",
				mark_names[m],
				SEND_MARKS & (1U << m) ? "sending" :
							 "receiving",
				direction == EVENT_SEND ? "send" : "receive");
			return -EMARKS;
		}
	}
	return 0;
}

/*
 * A slot with no session, no ring on its way in or out and no spare,
 * round-robin so that a freed one is reused last; -1 when none.
 */
static int free_slot(const struct dispatcher *d)
{
	const struct rings *r = &d->rings;
	__u64 taken = d->used | r->busy | rings_spare_slots(r);
	__u32 i, s;

	for (i = 0; i < MAX_SESSIONS; i++) {
		s = (d->next_slot + i) % MAX_SESSIONS;
		if (!(taken & (1ULL << s)))
			return s;
	}
	return -1;
}

void dispatcher_prepare(struct dispatcher *d)
{
	struct rings *r = &d->rings;
	int s;

	rings_reap(r, false);
	while (r->nr_spares < RING_SPARES && (s = free_slot(d)) >= 0) {
		rings_prepare(r, s, d->spare_bytes);
		d->next_slot = (s + 1) % MAX_SESSIONS;
	}
}

/*
 * A slot and its ring of ring_bytes: a spare when one fits (waiting for it
 * when it is on its way), else a new one; the slot on success, else -errno.
 */
static int take_slot(struct dispatcher *d, __u32 ring_bytes, int *ring_fd,
		     char *msg, size_t msglen)
{
	struct rings *r = &d->rings;
	bool coming;
	int s, fd;

	for (;;) {
		rings_reap(r, false);
		s = rings_take_spare(r, ring_bytes, ring_fd, &coming);
		if (s >= 0)
			return s;
		if (!coming) {
			s = free_slot(d);
			if (s >= 0 || !r->busy)
				break;
		}
		/* A spare that fits is on its way, or every slot is taken or on its way out. */
		rings_reap(r, true);
	}
	if (s < 0) {
		snprintf(
			msg, msglen,
			"failed to add session: all %d slots of the dispatcher are taken",
			MAX_SESSIONS);
		return -ENOSPC;
	}
	fd = rings_put(r, s, ring_bytes);
	if (fd < 0) {
		snprintf(msg, msglen, "failed to create ring buffer: %s",
			 strerror(-fd));
		return fd;
	}
	d->next_slot = (s + 1) % MAX_SESSIONS;
	/* The next spares are the size sessions ask for. */
	d->spare_bytes = ring_bytes;
	*ring_fd = fd;
	return s;
}

/* The session's filter and zeroed state in slot s; 0, or -errno with msg. */
static int register_session(struct dispatcher *d, struct session_conf *conf,
			    __u32 s, char *msg, size_t msglen)
{
	int err;

	conf->start_ns = monotonic_ns();
	if (bpf_map_update_elem(dispatcher_states_fd(d), &s, d->zero_state,
				BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(d->skel->maps.sessions), &s, conf,
				BPF_ANY)) {
		err = -errno;
		snprintf(msg, msglen, "failed to register session: %s",
			 strerror(-err));
		return err;
	}
	return 0;
}

int dispatcher_add(struct dispatcher *d, const struct session_conf *conf,
		   __u32 ring_bytes, __u32 *slot, int *ring_fd, char *msg,
		   size_t msglen)
{
	struct session_conf c = *conf;
	int fd, s, err;

	if (!c.direction)
		c.direction = EVENT_RECEIVE;
	s = marks_seen(d->plan, c.direction, &c.marks, msg, msglen);
	if (s < 0)
		return s;
	s = take_slot(d, ring_bytes, &fd, msg, msglen);
	if (s < 0)
		return s;
	/* Programs run only while a session needs them: an idle dispatcher costs the host's packets nothing. */
	err = register_session(d, &c, s, msg, msglen);
	if (!err) {
		d->used |= 1ULL << s;
		d->marks[s] = c.marks;
		d->directions[s] = c.direction;
		/* Only a datagram received has a reader. */
		d->readers = c.reader && (c.direction & EVENT_RECEIVE) ?
				     d->readers | 1ULL << s :
				     d->readers & ~(1ULL << s);
		err = sync_programs(d, msg, msglen);
	}
	if (err) {
		d->used &= ~(1ULL << s);
		sync_programs(d, msg, msglen);
		rings_remove(&d->rings, s);
		close(fd);
		return err;
	}
	d->detach_at_ns = 0;
	set_masks(d, &c, 1ULL << s, true);
	*slot = s;
	*ring_fd = fd;
	return 0;
}

void dispatcher_remove(struct dispatcher *d, __u32 slot)
{
	struct session_conf conf;
	struct wants w;

	if (slot >= MAX_SESSIONS || !(d->used & (1ULL << slot)))
		return;
	if (!bpf_map_lookup_elem(bpf_map__fd(d->skel->maps.sessions), &slot,
				 &conf))
		set_masks(d, &conf, 1ULL << slot, false);
	d->used &= ~(1ULL << slot);
	rings_remove(&d->rings, slot);
	if (d->used) {
		sync_programs(d, NULL, 0);
		return;
	}
	/* Attached, the programs match nothing now; they go unless a session comes first. */
	wanted(d, &w);
	set_tracking(d, &w);
	d->detach_at_ns = monotonic_ns() + DETACH_DELAY_NS;
}

int dispatcher_tick(struct dispatcher *d)
{
	__u64 now;

	if (!d->detach_at_ns)
		return -1;
	now = monotonic_ns();
	if (now < d->detach_at_ns)
		return (d->detach_at_ns - now + 999999) / 1000000;
	d->detach_at_ns = 0;
	sync_programs(d, NULL, 0);
	return -1;
}

int dispatcher_reports_fd(const struct dispatcher *d)
{
	return rings_reports_fd(&d->rings);
}

int dispatcher_states_fd(const struct dispatcher *d)
{
	return bpf_map__fd(d->skel->maps.states);
}

void dispatcher_close(struct dispatcher *d)
{
	d->used = 0;
	if (d->links)
		sync_programs(d, NULL, 0);
	rings_close(&d->rings);
	udplat_bpf__destroy(d->skel);
	d->skel = NULL;
	free(d->links);
	d->links = NULL;
	free(d->zero_state);
	d->zero_state = NULL;
}
