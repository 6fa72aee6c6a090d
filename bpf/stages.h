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

_Static_assert(NR_MARKS < 16, "lowest_mark() bounds mark indices with 15");

/*
 * The marks a datagram has, as bits. Without a branch: unrolled, a branch per
 * mark gave the verifier a path per combination of marks, and bpf_loop(),
 * which avoided that, made measure() cost ~190 ns a datagram.
 */
static __always_inline __u32 marks_present(const __u64 *marks)
{
	__u32 has = 0;
	int m;

#ifdef __bpf__
#pragma unroll
#endif
	for (m = 0; m < NR_MARKS; m++) {
		__u64 any = marks[m] | -marks[m];

		/* Hidden from the compiler, which would turn `any >> 63` back into a compare: a branch in BPF. */
		asm volatile("" : "+r"(any));
		has |= (__u32)(any >> 63) << m;
	}
	return has;
}

/*
 * The index of mask's lowest bit among the marks, NR_MARKS when it has none:
 * the bits below it, counted without a branch.
 */
static __always_inline __u32 lowest_mark(__u32 mask)
{
	__u32 v;

	mask = (mask & ALL_MARKS) | (1U << NR_MARKS);
	v = (mask & -mask) - 1;
	v = v - ((v >> 1) & 0x55555555);
	v = (v & 0x33333333) + ((v >> 2) & 0x33333333);
	v = (v + (v >> 4)) & 0x0f0f0f0f;
	v = (v * 0x01010101) >> 24;
	/* Opaque, so that the mask below stays: the bound the verifier needs to index marks[] with it (a no-op: v <= NR_MARKS). */
	asm volatile("" : "+r"(v));
	return v & 15;
}

/*
 * The duration of a stage from `from` to `to` of `kind`, given the marks a
 * plan sees (`seen`) and those of them the datagram has (`had`); -1 when
 * unknown: a mark missing, or out of order. The stage ends at the first mark
 * seen from `to` on, of `to`'s side; a SUM starts at the datagram's first mark
 * from `from` on.
 */
static __always_inline __s64 stage_ns_masked(const __u64 *marks, __u32 seen,
					     __u32 had, int from, int to,
					     int kind)
{
	__u32 start = kind == SUM ? lowest_mark(had & -(1U << from)) :
				    (__u32)from;
	/* The end stays on its own side: a send session's sent never ends a receive stage. */
	__u32 side = (SEND_MARKS >> to) & 1 ? SEND_MARKS : RECEIVE_MARKS;
	__u32 end = lowest_mark(seen & side & -(1U << to));

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
	return stage_ns_masked(marks, seen, seen & marks_present(marks), from,
			       to, kind);
}

#endif /* __STAGES_H */
