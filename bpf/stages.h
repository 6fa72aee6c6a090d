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

/* The first mark from `from` on that seen holds, or NR_MARKS. */
static __always_inline int first_seen_mark(__u32 seen, int from)
{
	int m;

	for (m = from; m < NR_MARKS; m++)
		if (seen & (1U << m))
			return m;
	return NR_MARKS;
}

/*
 * The duration of a stage from `from` to `to` of `kind`, given the marks a
 * plan sees (`seen`); -1 when unknown: a mark missing or 0, or out of order.
 */
static __always_inline __s64 stage_ns(const __u64 *marks, __u32 seen, int from,
				      int to, int kind)
{
	int start = kind == SUM ? first_seen_mark(seen, from) : from;
	int end = first_seen_mark(seen, to);

	if (start >= NR_MARKS || end >= NR_MARKS || !(seen & (1U << start)))
		return -1;
	if (!marks[start] || !marks[end] || marks[end] < marks[start])
		return -1;
	return marks[end] - marks[start];
}

#endif /* __STAGES_H */
