/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __OUTPUT_H
#define __OUTPUT_H

#include <signal.h>
#include <stddef.h>
#include "args.h"
#include "drop_reasons.h"

#define OUTPUT_BUF_LEN (64 * 1024)

/* Buffered stdout in one of three formats; binary records pass through unchanged. */
struct output {
	enum format format;
	__u32 marks; /* the session takes, from the hello record */
	__u32 direction; /* the session's, from the hello record */
	__s64 realtime_offset_ns;
	const struct drop_reasons *reasons;
	size_t len;
	int err; /* first write error (negative errno): output is gone */
	/* Set by a signal: a write blocked on a reader that stopped reading gives up instead of retrying. */
	volatile sig_atomic_t *stop;
	char buf[OUTPUT_BUF_LEN];
};

void output_init(struct output *out, enum format format,
		 const struct drop_reasons *reasons,
		 volatile sig_atomic_t *stop);
/* Takes any record of udplat.h; a drop record gets its reason name filled in. */
void output_record(struct output *out, const void *rec);
int output_flush(struct output *out);

#endif /* __OUTPUT_H */
