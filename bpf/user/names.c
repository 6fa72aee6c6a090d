// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdio.h>
#include <string.h>
#include "names.h"

const char *const mark_names[NR_MARKS] = {
#define MARK_NAME(id, name, ...) #name,
	UDPLAT_MARKS(MARK_NAME)
#undef MARK_NAME
};

const char *const stage_names[NR_STAGES] = {
#define STAGE_NAME(id, name, ...) #name,
	UDPLAT_STAGES(STAGE_NAME)
#undef STAGE_NAME
};

const char *const hist_names[NR_HISTS] = {
#define STAGE_HIST(id, name, ...) #name,
	UDPLAT_STAGES(STAGE_HIST)
#undef STAGE_HIST
#define READER_HIST(id, name, verdict) "reader." #name,
		UDPLAT_READER_STATES(READER_HIST)
#undef READER_HIST
};

const char *const verdict_names[VERDICT_STATE + NR_READER_STATES] = {
	[VERDICT_NONE] = "none",
	[VERDICT_UNKNOWN] = "unknown",
#define READER_VERDICT(id, name, verdict) \
	[VERDICT_STATE + READER_##id] = #verdict,
	UDPLAT_READER_STATES(READER_VERDICT)
#undef READER_VERDICT
};

const char *const counter_names[NR_COUNTERS] = {
#define COUNTER_NAME(name, json) #json,
	UDPLAT_COUNTERS(COUNTER_NAME)
#undef COUNTER_NAME
};

const char *event_kind_name(__u32 kind)
{
	switch (kind) {
	case EVENT_SEND:
		return "send";
	case EVENT_PATH:
		return "path";
	default:
		return "receive";
	}
}

const char *direction_name(__u32 direction)
{
	switch (direction) {
	case EVENT_SEND:
		return "send";
	case EVENT_RECEIVE | EVENT_SEND:
		return "both";
	default:
		return "receive";
	}
}

long marks_from_names(const char *list, char *bad, size_t badlen)
{
	long marks = 0;
	size_t len;
	int m;

	while (*list) {
		len = strcspn(list, ",");
		for (m = 0; m < NR_MARKS; m++)
			if (strlen(mark_names[m]) == len &&
			    !strncmp(list, mark_names[m], len))
				break;
		if (m == NR_MARKS) {
			snprintf(bad, badlen, "%.*s", (int)len, list);
			return -1;
		}
		marks |= 1L << m;
		list += len + (list[len] == ',');
	}
	return marks;
}
