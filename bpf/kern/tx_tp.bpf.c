// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The tracepoint plan's send and sent. No tracepoint marks UDP's send before
 * the device layer, so send is the system call's entry (sendto, sendmsg,
 * sendmmsg): for every message of a sendmmsg, the call's. Enabling the
 * system calls' tracepoints puts every system call of the host on its slower
 * path (docs/design.md). sock_send_length (6.3) is sock_sendmsg's return, once
 * per message.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "tx.bpf.h"

SEC("tracepoint/syscalls/sys_enter_sendto")
int ult_send_to(struct trace_event_raw_sys_enter *ctx)
{
	send_begins(1);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int ult_send_msg(struct trace_event_raw_sys_enter *ctx)
{
	send_begins(1);
	return 0;
}

/* sendmmsg(fd, msgvec, vlen, flags) */
SEC("tracepoint/syscalls/sys_enter_sendmmsg")
int ult_send_mmsg(struct trace_event_raw_sys_enter *ctx)
{
	send_begins(ctx->args[2]);
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(ult_sent, struct sock *sk, int ret, int flags)
{
	send_returns();
	return 0;
}
