// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "features.h"
#include "plans.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The kernel functions the fentry and kprobe plans hook. */
static const char *const socket_functions[] = {
	"__udp_enqueue_schedule_skb",
	"__skb_recv_udp",
	"udp_recvmsg",
	"udpv6_recvmsg",
};

/* The tracepoints of the tracepoint plan (6.3). */
static const char *const socket_tracepoints[] = { "sk_data_ready",
						  "sock_recv_length" };

static bool fentry_available(const struct btf *vmlinux, char *why,
			     size_t whylen)
{
	size_t i;
	int err;

	for (i = 0; i < N(socket_functions); i++) {
		err = fexit_attach_error(vmlinux, socket_functions[i]);
		if (err) {
			snprintf(why, whylen, "fexit/%s: %s (%d)",
				 socket_functions[i], strerror(-err), err);
			return false;
		}
	}
	return true;
}

static bool kprobe_available(const struct btf *vmlinux, char *why,
			     size_t whylen)
{
	const char *missing;

	if (!kprobes_configured()) {
		snprintf(
			why, whylen,
			"kprobes not configured (no kprobe PMU, no kprobe_events)");
		return false;
	}
	missing = kallsyms_missing(socket_functions, N(socket_functions));
	if (missing) {
		snprintf(why, whylen, "%s not in /proc/kallsyms", missing);
		return false;
	}
	return true;
}

static bool tracepoint_available(const struct btf *vmlinux, char *why,
				 size_t whylen)
{
	size_t i;

	for (i = 0; i < N(socket_tracepoints); i++) {
		if (!tracepoint_exists(vmlinux, socket_tracepoints[i])) {
			snprintf(why, whylen,
				 "tracepoint %s missing (needs kernel >= 6.3)",
				 socket_tracepoints[i]);
			return false;
		}
	}
	return true;
}

/* In order of preference: the first that works is auto's choice. */
static const struct plan_info plans[] = {
	{ PLAN_FENTRY, "fentry", "ulf_", ALL_MARKS, fentry_available },
	{ PLAN_KPROBE, "kprobe", "ulk_", ALL_MARKS, kprobe_available },
	{ PLAN_TRACEPOINT, "tracepoint", "ult_", ALL_MARKS,
	  tracepoint_available },
};

const struct plan_info *plan_info(enum plan plan)
{
	size_t i;

	for (i = 0; i < N(plans); i++)
		if (plans[i].plan == plan)
			return &plans[i];
	return NULL;
}

const char *plan_name(enum plan plan)
{
	const struct plan_info *info = plan_info(plan);

	return info ? info->name : "auto";
}

int plan_from_name(const char *name)
{
	size_t i;

	if (!strcmp(name, "auto"))
		return PLAN_AUTO;
	for (i = 0; i < N(plans); i++)
		if (!strcmp(name, plans[i].name))
			return plans[i].plan;
	return -1;
}

bool plan_available(const struct btf *vmlinux, enum plan plan, char *why,
		    size_t whylen)
{
	const struct plan_info *info = plan_info(plan);

	if (!info) {
		snprintf(why, whylen, "no such plan");
		return false;
	}
	return info->available(vmlinux, why, whylen);
}

enum plan choose_plan(const struct btf *vmlinux, char *notes, size_t noteslen)
{
	char why[160];
	size_t i, used = 0;

	notes[0] = '\0';
	for (i = 0; i < N(plans); i++) {
		if (plans[i].available(vmlinux, why, sizeof(why)))
			return plans[i].plan;
		used += snprintf(notes + used,
				 used < noteslen ? noteslen - used : 0,
				 "%s%s: %s", used ? "; " : "", plans[i].name,
				 why);
		if (used >= noteslen)
			used = noteslen - 1;
	}
	return PLAN_AUTO;
}

static bool starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

bool plan_runs(enum plan plan, const char *prog_name)
{
	const struct plan_info *info = plan_info(plan);
	size_t i;

	if (info && starts_with(prog_name, info->prog_prefix))
		return true;
	for (i = 0; i < N(plans); i++)
		if (starts_with(prog_name, plans[i].prog_prefix))
			return false;
	return starts_with(prog_name, SHARED_PROG_PREFIX);
}

__u32 direction_marks(__u32 direction)
{
	return (direction & EVENT_RECEIVE ? RECEIVE_MARKS : 0) |
	       (direction & EVENT_SEND ? SEND_MARKS : 0);
}

/*
 * The programs every plan runs only for some marks: all of `marks` taken
 * (the device's rx, arrive, the scheduler's for the backlog's holder, the
 * receive system calls' exit for return).
 */
static const struct {
	const char *prefix;
	__u32 marks;
} mark_programs[] = {
	{ "ulr_", MARK_BIT(RX) },
	{ "ula_", MARK_BIT(ARRIVE) },
	{ "uls_", MARK_BIT(RX) | MARK_BIT(ARRIVE) },
	{ "ule_", MARK_BIT(RETURN) },
};

/* The sending side: the device's programs, and each plan's send and sent, which open and close a sender's call. */
#define TX_PREFIX "ulx_"
#define SEND_CALL_MARKS (MARK_BIT(SEND) | MARK_BIT(SENT))

bool program_needed(const char *prog_name, const struct wants *w)
{
	size_t i;

	if (w->readers && starts_with(prog_name, "uls_"))
		return true;
	for (i = 0; i < N(mark_programs); i++)
		if (starts_with(prog_name, mark_programs[i].prefix))
			return (w->marks & mark_programs[i].marks) ==
			       mark_programs[i].marks;
	if (starts_with(prog_name, TX_PREFIX))
		return w->sends;
	if (strstr(prog_name, "_send") || strstr(prog_name, "_sent"))
		return w->sends && (w->marks & SEND_CALL_MARKS);
	/* The rest of a plan's programs are its socket side; ul_drop serves both sides. */
	for (i = 0; i < N(plans); i++)
		if (starts_with(prog_name, plans[i].prog_prefix))
			return w->receives;
	return true;
}
