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

/*
 * The system calls udplat's marks look for, by their x86-64 numbers
 * (arch/x86/entry/syscalls/syscall_64.tbl: the ABI, the same in every kernel;
 * vmlinux.h is x86-64's): the receive calls whose exit is a read's return,
 * the send calls whose entry is the tracepoint plan's send. A task's current
 * call is its orig_ax: the sys_enter and sys_exit tracepoints' regs, or
 * bpf_task_pt_regs() (5.15). A 32-bit task's calls have other numbers, so its
 * reads complete at once and its sends have no send mark.
 */
#define NR_SENDTO 44
#define NR_RECVFROM 45
#define NR_SENDMSG 46
#define NR_RECVMSG 47
#define NR_RECVMMSG 299
#define NR_SENDMMSG 307

static __always_inline bool is_receive_call(long nr)
{
	return nr == NR_RECVFROM || nr == NR_RECVMSG || nr == NR_RECVMMSG;
}

static __always_inline bool in_receive_call(void)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);

	return is_receive_call(BPF_CORE_READ(regs, orig_ax));
}

#endif /* __CORE_FIXES_BPF_H */
