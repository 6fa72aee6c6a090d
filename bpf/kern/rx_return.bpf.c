// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * return, on every plan: the receive system calls' exit, where the reads a
 * thread made in the call complete (returns.bpf.h). Attached only while a
 * session takes return: enabling the system calls' tracepoint puts every
 * system call of the host on the kernel's slower exit path (docs/design.md).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "returns.bpf.h"

struct exit_walk {
	__u32 key;
	__u64 now;
};

static long complete_parked(__u32 i, void *data)
{
	struct exit_walk *w = data;
	struct parked_call *c = bpf_map_lookup_elem(&parked_calls, &w->key);
	struct views *v = views_of(VIEWS_READ);
	struct parked_read *p;

	if (!c || !v)
		return 1;
	p = &c->reads[i & (PARKED_MAX - 1)];
	v->all = p->d;
	v->all.info.marks[MARK_RETURN] = w->now;
	complete(v, p->sessions & active_sessions);
	return 0;
}

static __always_inline void call_returns(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct exit_walk w = { .key = tid & (PARKED_CALLS - 1) };
	struct parked_call *c = bpf_map_lookup_elem(&parked_calls, &w.key);

	if (!c || c->claim != call_claim(tid))
		return;
	/* The call's last moment this side of user space; what follows needs it. */
	w.now = bpf_ktime_get_ns();
	bpf_loop(c->n < PARKED_MAX ? c->n : PARKED_MAX, complete_parked, &w, 0);
	c->n = 0;
	c->claim = 0;
}

/*
 * Every system call's exit, as a raw tracepoint: the per-call tracepoints
 * (syscalls/sys_exit_*) need tracefs, which the loader's capabilities do not
 * open, and each waited for an RCU grace period when detached, which the next
 * session paid. A call that is not a receive costs the compare.
 */
SEC("tp_btf/sys_exit")
int BPF_PROG(ule_exit, struct pt_regs *regs, long ret)
{
	if (is_receive_call(regs->orig_ax))
		call_returns();
	return 0;
}
