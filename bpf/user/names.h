/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The names of the marks, stages and counters, from their tables (udplat.h). */
#ifndef __NAMES_H
#define __NAMES_H

#include <stddef.h>
#include <linux/types.h>
#include "udplat.h"

extern const char *const mark_names[NR_MARKS];
extern const char *const stage_names[NR_STAGES];
extern const char *const counter_names[NR_COUNTERS]; /* as JSON names them */
/* The histograms: the stages', then "reader.<state>" for each reader state. */
extern const char *const hist_names[NR_HISTS];
/* By enum verdict. */
extern const char *const verdict_names[VERDICT_STATE + NR_READER_STATES];

/* An event's kind (EVENT_RECEIVE, EVENT_SEND, EVENT_PATH): "receive", "send", "path". */
const char *event_kind_name(__u32 kind);
/* A session's direction: "receive", "send" or "both". */
const char *direction_name(__u32 direction);

/* The marks of a comma-separated list of names, or -1 with the unknown name in bad. */
long marks_from_names(const char *list, char *bad, size_t badlen);

#endif /* __NAMES_H */
