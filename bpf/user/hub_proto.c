// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "hub_proto.h"
#include "plans.h"
#include "udplat.skel.h"

/* FNV-1a of the BPF object: loaders of another build must not join this one's hub. */
static __u32 build_id(void)
{
	static __u32 id;
	size_t size, i;
	const __u8 *elf;
	__u32 h = 2166136261u;

	if (id)
		return id;
	elf = udplat_bpf__elf_bytes(&size);
	for (i = 0; i < size; i++)
		h = (h ^ elf[i]) * 16777619u;
	id = h;
	return id;
}

/* An abstract socket name: nothing on disk to clean up, gone when the hub's socket closes. */
socklen_t hub_address(enum plan plan, struct sockaddr_un *addr)
{
	int n;

	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	n = snprintf(addr->sun_path + 1, sizeof(addr->sun_path) - 1,
		     "udplat-hub.%u.%s.%08x", geteuid(), plan_name(plan),
		     build_id());
	return offsetof(struct sockaddr_un, sun_path) + 1 + n;
}
