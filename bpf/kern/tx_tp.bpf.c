// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The tracepoint plan's send and sent. No tracepoint marks UDP's send before
 * the device layer, so send is the system call's entry (sendto, sendmsg,
 * sendmmsg): for every message of a sendmmsg, the call's. Enabling the
 * system calls' tracepoint puts every system call of the host on its slower
 * path (docs/design.md). sock_send_length (6.3) is sock_sendmsg's return, once
 * per message.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "core_fixes.bpf.h"
#include "tx.bpf.h"

/*
 * Every system call's entry, as a raw tracepoint (why not syscalls/sys_enter_*:
 * rx_return.bpf.c). sendmmsg(fd, msgvec, vlen, flags) may send vlen.
 */
SEC("tp_btf/sys_enter")
int BPF_PROG(ult_send_call, struct pt_regs *regs, long id)
{
	if (id == NR_SENDTO || id == NR_SENDMSG)
		send_begins(1);
	else if (id == NR_SENDMMSG)
		send_begins(regs->dx);
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(ult_sent, struct sock *sk, int ret, int flags)
{
	send_returns();
	return 0;
}
