/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Bit arithmetic the BPF ISA has no instruction for (after libbpf-tools' bits.bpf.h). */
#ifndef __BITS_BPF_H
#define __BITS_BPF_H

/* Index of the lowest set bit (de Bruijn multiplication): there is no count-trailing-zeros. */
static const __u8 debruijn_bit[64] = {
	0,  1,	48, 2,	57, 49, 28, 3,	61, 58, 50, 42, 38, 29, 17, 4,
	62, 55, 59, 36, 53, 51, 43, 22, 45, 39, 33, 30, 24, 18, 12, 5,
	63, 47, 56, 27, 60, 41, 37, 16, 54, 35, 52, 21, 44, 32, 23, 11,
	46, 26, 40, 15, 34, 20, 31, 10, 25, 14, 19, 9,	13, 8,	7,  6,
};

static __always_inline __u32 lowest_bit(__u64 mask)
{
	return debruijn_bit[((mask & -mask) * 0x03f79d71b4cb0a89ULL) >> 58];
}

/* Visits the bits of mask, lowest first, as `slot`; n counts them for the verifier. */
#define for_each_session(slot, mask, n)                                \
	for (n = 0, slot = lowest_bit(mask); n < MAX_SESSIONS && mask; \
	     n++, mask &= mask - 1, slot = lowest_bit(mask))

/* Branch-free log2 of a 32-bit value. */
static __always_inline __u32 log2_u32(__u32 v)
{
	__u32 shift, r;

	r = (v > 0xFFFF) << 4;
	v >>= r;
	shift = (v > 0xFF) << 3;
	v >>= shift;
	r |= shift;
	shift = (v > 0xF) << 2;
	v >>= shift;
	r |= shift;
	shift = (v > 0x3) << 1;
	v >>= shift;
	r |= shift;
	r |= (v >> 1);
	return r;
}

#endif /* __BITS_BPF_H */
