/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A stage's duration from a datagram's marks (the rule of UDPLAT_STAGES), the
 * same in the kernel (histograms, thresholds) and the loader (text and JSON
 * output). The service applies the same rule (src/marks.ts).
 */
#ifndef __STAGES_H
#define __STAGES_H

#include "udplat.h"

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/*
 * For each mark m, the first mark from m on that the plan sees (seen_from)
 * and that the datagram has as well (had_from); NR_MARKS when none.
 */
_Static_assert(NR_MARKS < 16, "stage_ns_ordered() masks mark indices with 15");

struct mark_order {
	__u32 seen_from[16]; /* NR_MARKS + 1 used; indices masked with 15 */
	__u32 had_from[16];
};

/* One step of order_marks(), for mark m: the marks after it are ordered already. */
static __always_inline void order_mark(const __u64 *marks, __u32 seen,
				       struct mark_order *o, int m)
{
	bool is_seen = (seen >> m) & 1;

	o->seen_from[m] = is_seen ? (__u32)m : o->seen_from[m + 1];
	o->had_from[m] = is_seen && marks[m] ? (__u32)m : o->had_from[m + 1];
}

static __always_inline void order_marks(const __u64 *marks, __u32 seen,
					struct mark_order *o)
{
	int m;

	o->seen_from[NR_MARKS] = NR_MARKS;
	o->had_from[NR_MARKS] = NR_MARKS;
	for (m = NR_MARKS - 1; m >= 0; m--)
		order_mark(marks, seen, o, m);
}

/*
 * The duration of a stage from `from` to `to` of `kind`, given the marks a
 * plan sees (`seen`, ordered in o); -1 when unknown: a mark missing, or out of
 * order. A SUM starts at the datagram's first mark of its own from `from` on.
 */
static __always_inline __s64 stage_ns_ordered(const __u64 *marks, __u32 seen,
					      const struct mark_order *o,
					      int from, int to, int kind)
{
	__u32 start = kind == SUM ? o->had_from[from & 15] : (__u32)from;
	__u32 end = o->seen_from[to & 15];

	/* Bounds the verifier sees (no-ops: both are at most NR_MARKS): both index marks[]. */
	start &= 15;
	end &= 15;

	if (end >= NR_MARKS || start >= end || !((seen >> start) & 1))
		return -1;
	if (!marks[start] || !marks[end] || marks[end] < marks[start])
		return -1;
	return marks[end] - marks[start];
}

/* The same for one stage alone. */
static __always_inline __s64 stage_ns(const __u64 *marks, __u32 seen, int from,
				      int to, int kind)
{
	struct mark_order o;

	order_marks(marks, seen, &o);
	return stage_ns_ordered(marks, seen, &o, from, to, kind);
}

#endif /* __STAGES_H */
