// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The kprobe plan's send and sent: udp_sendmsg and udpv6_sendmsg, once per datagram (sendmmsg calls them per message). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "tx.bpf.h"

SEC("kprobe/udp_sendmsg")
int BPF_KPROBE(ulk_send4)
{
	send_begins(1);
	return 0;
}

SEC("kprobe/udpv6_sendmsg")
int BPF_KPROBE(ulk_send6)
{
	send_begins(1);
	return 0;
}

SEC("kretprobe/udp_sendmsg")
int BPF_KRETPROBE(ulk_sent4)
{
	send_returns();
	return 0;
}

SEC("kretprobe/udpv6_sendmsg")
int BPF_KRETPROBE(ulk_sent6)
{
	send_returns();
	return 0;
}
