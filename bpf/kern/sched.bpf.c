// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The scheduler, on every plan, while a session needs it: each CPU's last
 * context switches (who held it, cpu_history.bpf.h), and the changes of state
 * of the threads that read traced sockets (reader.bpf.h). A switch between
 * other tasks costs a lookup per task, which finds nothing.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "readers.bpf.h"

/* Appends a change of state to task's history, if task reads a traced socket. */
static __always_inline void reader_changes(struct task_struct *task,
					   __u32 state, __u64 now, __u32 cpu)
{
	struct reader_change *c;
	struct reader_history *h;
	__u32 key;

	h = reader_of(task, &key);

	if (!h)
		return;
	c = &h->changes[(h->next - 1) & (READER_HISTORY_LEN - 1)];
	/* A wakeup of a task already runnable (say, preempted) changes nothing. */
	if (h->next && c->state == state)
		return;
	c = &h->changes[h->next & (READER_HISTORY_LEN - 1)];
	c->time_ns = now;
	c->state = state;
	c->cpu = cpu;
	h->next++;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(uls_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next, unsigned int prev_state)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 zero = 0, cpu = bpf_get_smp_processor_id();
	struct cpu_history *h;
	struct cpu_switch *s;

	if (cpu_history_on) {
		h = bpf_map_lookup_elem(&cpu_history, &zero);
		if (h) {
			s = &h->switches[h->next & (CPU_HISTORY_LEN - 1)];
			s->time_ns = now;
			s->pid = next->tgid;
			__builtin_memcpy(s->comm, next->comm, sizeof(s->comm));
			h->next++;
		}
	}
	if (!reader_tracking)
		return 0;
	/* Preempted, or yielding, it stays runnable; else it sleeps on something. */
	reader_changes(
		prev, preempt || !prev_state ? READER_RUNQUEUE : READER_OFF_CPU,
		now, cpu);
	reader_changes(next, READER_ON_CPU, now, cpu);
	return 0;
}

/*
 * A wakeup of a task still on its CPU changes nothing: one that has set
 * itself to sleep but not yet switched out (a reader about to block in recv
 * when its datagram comes) is traced as woken, yet never left its CPU.
 */
SEC("tp_btf/sched_wakeup")
int BPF_PROG(uls_wakeup, struct task_struct *task)
{
	if (reader_tracking && !task->on_cpu)
		reader_changes(task, READER_RUNQUEUE, bpf_ktime_get_ns(),
			       task->wake_cpu);
	return 0;
}

/*
 * A task renamed while it holds its CPU (exec, prctl(PR_SET_NAME)) is named
 * anew in the CPU's history, whose entry was written when it was switched in
 * (a shell's child that exec'd was shown as "bash").
 */
SEC("tp_btf/task_rename")
int BPF_PROG(uls_rename, struct task_struct *task, const char *comm)
{
	__u32 zero = 0;
	struct cpu_history *h;

	if (!cpu_history_on || task != bpf_get_current_task_btf())
		return 0;
	h = bpf_map_lookup_elem(&cpu_history, &zero);
	if (!h || !h->next)
		return 0;
	bpf_probe_read_kernel_str(
		h->switches[(h->next - 1) & (CPU_HISTORY_LEN - 1)].comm,
		TASK_COMM_LEN, comm);
	return 0;
}
