// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Drop reasons are renumbered between kernels: names come from BTF, never from a table of ours. */
#include <stdio.h>
#include <string.h>
#include "drop_reasons.h"

#define PREFIX "SKB_DROP_REASON_"

void drop_reasons_load(struct drop_reasons *dr, const struct btf *vmlinux)
{
	const struct btf_type *t;
	const struct btf_enum *e;
	const char *name;
	int id, i;

	memset(dr, 0, sizeof(*dr));
	id = btf__find_by_name_kind(vmlinux, "skb_drop_reason", BTF_KIND_ENUM);
	if (id < 0)
		return;
	t = btf__type_by_id(vmlinux, id);
	e = btf_enum(t);
	for (i = 0; i < btf_vlen(t); i++, e++) {
		if (e->val < 0 || e->val >= MAX_DROP_REASONS)
			continue;
		name = btf__name_by_offset(vmlinux, e->name_off);
		if (!strncmp(name, PREFIX, strlen(PREFIX)))
			name += strlen(PREFIX);
		snprintf(dr->names[e->val], DROP_REASON_LEN, "%s", name);
	}
}

const char *drop_reason_name(const struct drop_reasons *dr, __u32 reason)
{
	if (reason < MAX_DROP_REASONS && dr->names[reason][0])
		return dr->names[reason];
	return "UNKNOWN";
}
