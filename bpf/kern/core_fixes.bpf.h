/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What differs between the kernels udplat runs on, in one place, each with
 * the kernel release that brought it (after libbpf-tools' core_fixes.bpf.h).
 * The feature probes that choose a plan are in user/features.c.
 */
#ifndef __CORE_FIXES_BPF_H
#define __CORE_FIXES_BPF_H

#include <bpf/bpf_core_read.h>

/*
 * bpf_rdonly_cast() (6.2): plain loads from a kernel address, which the
 * kernel guards like probe reads, where bpf_probe_read_kernel() cost a helper
 * call per pointer. Only the tracepoint plan, which needs 6.3, uses it.
 */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

#define kernel_view(type, addr)                              \
	((const type *)bpf_rdonly_cast((const void *)(addr), \
				       bpf_core_type_id_kernel(type)))

/*
 * The tracepoints sk_data_ready and sock_recv_length (6.3) are the
 * tracepoint plan's socket side; the kfree_skb tracepoint's reason argument
 * (5.17) names every drop. udp_sock.reader_queue (4.19) is where a reader
 * splices the receive queue; its offset comes from the running kernel's BTF.
 */

#endif /* __CORE_FIXES_BPF_H */
