/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __DROP_REASONS_H
#define __DROP_REASONS_H

#include <bpf/btf.h>
#include "udplat.h"

/* Names of the running kernel's enum skb_drop_reason, by value, without the SKB_DROP_REASON_ prefix. */
struct drop_reasons {
	char names[MAX_DROP_REASONS][DROP_REASON_LEN];
};

void drop_reasons_load(struct drop_reasons *dr, const struct btf *vmlinux);
const char *drop_reason_name(const struct drop_reasons *dr, __u32 reason);

#endif /* __DROP_REASONS_H */
