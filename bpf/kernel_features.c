// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Kernel feature probes, all in one place (after libbpf-tools' trace_helpers.c). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "kernel_features.h"

/* The kernel functions the fentry and kprobe plans hook. */
static const char *const socket_functions[] = {
	"__udp_enqueue_schedule_skb", "__skb_recv_udp", "udp_recvmsg", "udpv6_recvmsg",
};

/* Tracepoints of the tracepoint plan, added in kernel 6.3. */
static const char *const plan_tracepoints[] = {
	"btf_trace_sk_data_ready", "btf_trace_sock_recv_length",
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

const char *plan_name(enum plan plan)
{
	switch (plan) {
	case PLAN_FENTRY:
		return "fentry";
	case PLAN_KPROBE:
		return "kprobe";
	case PLAN_TRACEPOINT:
		return "tracepoint";
	default:
		return "auto";
	}
}

int plan_from_name(const char *name)
{
	enum plan plan;

	for (plan = PLAN_AUTO; plan <= PLAN_TRACEPOINT; plan++)
		if (!strcmp(name, plan_name(plan)))
			return plan;
	return -1;
}

__u8 plan_marks(enum plan plan)
{
	if (plan == PLAN_TRACEPOINT)
		return MARK_ARRIVE | MARK_ENQUEUE | MARK_RETURN;
	return MARK_ARRIVE | MARK_ENQUEUE | MARK_READ | MARK_RETURN;
}

/* Loading is not enough: a locked-down ftrace refuses fexit only when the trampoline is attached. */
static int fexit_attach_error(const struct btf *vmlinux, const char *func)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_FEXIT);
	int id, prog_fd, link_fd, err;

	id = btf__find_by_name_kind(vmlinux, func, BTF_KIND_FUNC);
	if (id < 0)
		return -ENOENT;
	opts.attach_btf_id = id;
	prog_fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "ul_probe", "GPL", insns, N(insns), &opts);
	if (prog_fd < 0)
		return -errno;
	link_fd = bpf_raw_tracepoint_open(NULL, prog_fd);
	err = link_fd < 0 ? -errno : 0;
	if (link_fd >= 0)
		close(link_fd);
	close(prog_fd);
	return err;
}

static bool kprobes_configured(void)
{
	return !access("/sys/bus/event_source/devices/kprobe/type", F_OK) ||
	       !access("/sys/kernel/tracing/kprobe_events", F_OK) ||
	       !access("/sys/kernel/debug/tracing/kprobe_events", F_OK);
}

/* A symbol in kallsyms can be kprobed; an inlined or renamed one is missing. */
static const char *missing_kallsyms(void)
{
	bool found[N(socket_functions)] = {};
	char line[256], name[128];
	size_t i;
	FILE *f;

	f = fopen("/proc/kallsyms", "r");
	if (!f)
		return "/proc/kallsyms";
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*s %*s %127s", name) != 1)
			continue;
		for (i = 0; i < N(socket_functions); i++)
			if (!strcmp(name, socket_functions[i]))
				found[i] = true;
	}
	fclose(f);
	for (i = 0; i < N(socket_functions); i++)
		if (!found[i])
			return socket_functions[i];
	return NULL;
}

bool plan_available(const struct btf *vmlinux, enum plan plan, char *why, size_t whylen)
{
	const char *missing;
	size_t i;
	int err;

	switch (plan) {
	case PLAN_FENTRY:
		for (i = 0; i < N(socket_functions); i++) {
			err = fexit_attach_error(vmlinux, socket_functions[i]);
			if (err) {
				snprintf(why, whylen, "fexit/%s: %s (%d)", socket_functions[i], strerror(-err), err);
				return false;
			}
		}
		return true;
	case PLAN_KPROBE:
		if (!kprobes_configured()) {
			snprintf(why, whylen, "kprobes not configured (no kprobe PMU, no kprobe_events)");
			return false;
		}
		missing = missing_kallsyms();
		if (missing) {
			snprintf(why, whylen, "%s not in /proc/kallsyms", missing);
			return false;
		}
		return true;
	case PLAN_TRACEPOINT:
		for (i = 0; i < N(plan_tracepoints); i++) {
			if (btf__find_by_name_kind(vmlinux, plan_tracepoints[i], BTF_KIND_TYPEDEF) < 0) {
				snprintf(why, whylen, "tracepoint %s missing (needs kernel >= 6.3)",
					 plan_tracepoints[i] + strlen("btf_trace_"));
				return false;
			}
		}
		return true;
	default:
		snprintf(why, whylen, "no such plan");
		return false;
	}
}

enum plan choose_plan(const struct btf *vmlinux, char *notes, size_t noteslen)
{
	static const enum plan order[] = { PLAN_FENTRY, PLAN_KPROBE, PLAN_TRACEPOINT };
	char why[160];
	size_t i, used = 0;

	notes[0] = '\0';
	for (i = 0; i < N(order); i++) {
		if (plan_available(vmlinux, order[i], why, sizeof(why)))
			return order[i];
		used += snprintf(notes + used, used < noteslen ? noteslen - used : 0, "%s%s: %s",
				 used ? "; " : "", plan_name(order[i]), why);
		if (used >= noteslen)
			used = noteslen - 1;
	}
	return PLAN_AUTO;
}
