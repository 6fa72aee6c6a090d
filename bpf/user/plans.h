/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The attach plans as data: which programs each runs, the marks it sees, and
 * whether this kernel allows it. The loader and the dispatcher choose programs
 * from this table alone.
 */
#ifndef __PLANS_H
#define __PLANS_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include <bpf/btf.h>
#include "udplat.h"

/*
 * Programs every plan runs are named ul*_: ul_ always (drops), ulr_ for the
 * rx mark, ula_ for arrive, uls_ for the scheduler (who held a CPU while the
 * backlog waited; what readers do), ule_ for return (the receive system
 * calls' exit).
 */
#define SHARED_PROG_PREFIX "ul"

struct plan_info {
	enum plan plan;
	const char *name;
	const char *prog_prefix; /* its own programs' names start with it */
	__u32 marks; /* bit per enum mark: the marks it sees as moments of their own */
	/* Whether this kernel allows it; false with the reason in why. */
	bool (*available)(const struct btf *vmlinux, char *why, size_t whylen);
};

/* The plan's row; NULL for PLAN_AUTO and unknown plans. */
const struct plan_info *plan_info(enum plan plan);

const char *plan_name(enum plan plan);

/* The plan called name ("auto" included), or -1. */
int plan_from_name(const char *name);

bool plan_available(const struct btf *vmlinux, enum plan plan, char *why,
		    size_t whylen);

/* The first available plan in order of preference; notes say why the ones before it lost. PLAN_AUTO when none. */
enum plan choose_plan(const struct btf *vmlinux, char *notes, size_t noteslen);

/* Whether the plan runs the program called prog_name. */
bool plan_runs(enum plan plan, const char *prog_name);

/* The marks of the sides of the path a session of `direction` traces. */
__u32 direction_marks(__u32 direction);

/* What the active sessions of a dispatcher take, all together. */
struct wants {
	__u32 marks; /* bit per enum mark */
	bool readers; /* what their readers do */
	bool receives; /* datagrams received */
	bool sends; /* datagrams sent */
};

/* Whether a program the plan runs is needed while sessions want `w`. */
bool program_needed(const char *prog_name, const struct wants *w);

#endif /* __PLANS_H */
