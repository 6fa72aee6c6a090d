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
 * The first mark from `from` on that the plan sees (seen) and, with `have`,
 * that this datagram has; NR_MARKS when none.
 */
static __always_inline int first_mark(const __u64 *marks, __u32 seen, int from,
				      int have)
{
	int m;

	for (m = from; m < NR_MARKS; m++)
		if ((seen & (1U << m)) && (!have || marks[m]))
			return m;
	return NR_MARKS;
}

/*
 * The duration of a stage from `from` to `to` of `kind`, given the marks a
 * plan sees (`seen`); -1 when unknown: a mark missing, or out of order. A SUM
 * starts at the datagram's first mark of its own from `from` on.
 */
static __always_inline __s64 stage_ns(const __u64 *marks, __u32 seen, int from,
				      int to, int kind)
{
	int start = kind == SUM ? first_mark(marks, seen, from, 1) : from;
	int end = first_mark(marks, seen, to, 0);

	if (start >= end || end >= NR_MARKS || !(seen & (1U << start)))
		return -1;
	if (!marks[start] || !marks[end] || marks[end] < marks[start])
		return -1;
	return marks[end] - marks[start];
}

#endif /* __STAGES_H */
