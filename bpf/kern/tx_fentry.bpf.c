// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The fentry plan's send and sent: udp_sendmsg and udpv6_sendmsg, once per datagram (sendmmsg calls them per message). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "tx.bpf.h"

SEC("fentry/udp_sendmsg")
int BPF_PROG(ulf_send4, struct sock *sk, struct msghdr *msg, size_t len)
{
	send_begins(1);
	return 0;
}

SEC("fentry/udpv6_sendmsg")
int BPF_PROG(ulf_send6, struct sock *sk, struct msghdr *msg, size_t len)
{
	send_begins(1);
	return 0;
}

SEC("fexit/udp_sendmsg")
int BPF_PROG(ulf_sent4, struct sock *sk, struct msghdr *msg, size_t len,
	     int ret)
{
	send_returns();
	return 0;
}

SEC("fexit/udpv6_sendmsg")
int BPF_PROG(ulf_sent6, struct sock *sk, struct msghdr *msg, size_t len,
	     int ret)
{
	send_returns();
	return 0;
}
