// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * udplat-probe: loads the probe set for one latency-trace session and writes
 * its records on stdout until SIGINT or SIGTERM. Standalone, it is a CLI
 * (--format text or json); udplatd runs it with --format bin.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "args.h"
#include "udplat.skel.h"
#include "drop_reasons.h"
#include "kernel_features.h"
#include "output.h"

/* The ring buffer is drained on this tick; the kernel wakes us only past wakeup_bytes. */
#define DRAIN_INTERVAL_MS 20
#define MAX_LINKS 16

static volatile sig_atomic_t exiting;
static bool verbose;
/* The last warning libbpf printed: it names the program and the verifier's complaint. */
static char libbpf_last_warning[192];

static struct output out;
static struct drop_reasons reasons;

static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list args)
{
	va_list copy;

	if (level == LIBBPF_WARN) {
		va_copy(copy, args);
		vsnprintf(libbpf_last_warning, sizeof(libbpf_last_warning), fmt, copy);
		va_end(copy);
		libbpf_last_warning[strcspn(libbpf_last_warning, "\n")] = '\0';
	}
	if (level == LIBBPF_DEBUG && !verbose)
		return 0;
	return vfprintf(stderr, fmt, args);
}

/* A stop signal that lands just before a blocking write() cannot interrupt it: SIGALRM, every second from then on, does. */
static void on_signal(int sig)
{
	exiting = 1;
	alarm(1);
}

/* Fatal: an error record for the service, the same words on stderr for a person. */
__attribute__((format(printf, 2, 3)))
static void report_error(int err, const char *fmt, ...)
{
	struct rec_error rec = { .hdr = { REC_ERROR, sizeof(rec) }, .err = err };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rec.message, sizeof(rec.message), fmt, ap);
	va_end(ap);
	fprintf(stderr, "udplat-probe: %s\n", rec.message);
	output_record(&out, &rec);
	output_flush(&out);
}

static __u64 now_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* realtime - monotonic, read between two monotonic reads to halve the error. */
static __s64 realtime_offset_ns(void)
{
	__u64 before = now_ns(CLOCK_MONOTONIC);
	__u64 real = now_ns(CLOCK_REALTIME);
	__u64 after = now_ns(CLOCK_MONOTONIC);

	return (__s64)(real - (before + (after - before) / 2));
}

static void set_filters(struct udplat_bpf *skel, const struct config *cfg)
{
	struct udplat_bpf__rodata *ro = skel->rodata;

	ro->min_latency_ns = cfg->threshold_ns;
	ro->nr_ports = cfg->nr_ports;
	memcpy((void *)ro->filter_ports, cfg->ports, sizeof(cfg->ports));
	ro->filter_rport = cfg->rport;
	ro->filter_family = cfg->family;
	ro->nr_laddrs = cfg->nr_laddrs;
	memcpy((void *)ro->filter_laddrs, cfg->laddrs, sizeof(cfg->laddrs));
	ro->nr_raddrs = cfg->nr_raddrs;
	memcpy((void *)ro->filter_raddrs, cfg->raddrs, sizeof(cfg->raddrs));
	ro->filter_pid = cfg->pid;
	ro->filter_comm_on = cfg->comm_on;
	memcpy((void *)ro->filter_comm, cfg->comm, sizeof(cfg->comm));
	ro->filter_cgroup_id = cfg->cgroup_id;
	ro->filter_cgroup_level = cfg->cgroup_level;
	ro->filter_netns = cfg->netns;
	ro->max_drop_events_per_s = cfg->max_drop_events_per_s;
}

/* Keeps the shared arrive and drop programs and the chosen plan's socket-side ones. */
static void select_programs(struct udplat_bpf *skel, enum plan plan)
{
	struct bpf_program *fentry[] = {
		skel->progs.ul_fx_enqueue, skel->progs.ul_fx_dequeue, skel->progs.ul_fx_ret4, skel->progs.ul_fx_ret6,
	};
	struct bpf_program *kprobe[] = {
		skel->progs.ul_kp_enqueue, skel->progs.ul_kr_enqueue, skel->progs.ul_kp_recv4, skel->progs.ul_kp_recv6,
		skel->progs.ul_kr_dequeue, skel->progs.ul_kr_ret4, skel->progs.ul_kr_ret6,
	};
	struct bpf_program *tracepoint[] = { skel->progs.ul_tp_ready, skel->progs.ul_tp_recv };
	size_t i;

	for (i = 0; i < sizeof(fentry) / sizeof(fentry[0]); i++)
		bpf_program__set_autoload(fentry[i], plan == PLAN_FENTRY);
	for (i = 0; i < sizeof(kprobe) / sizeof(kprobe[0]); i++)
		bpf_program__set_autoload(kprobe[i], plan == PLAN_KPROBE);
	for (i = 0; i < sizeof(tracepoint) / sizeof(tracepoint[0]); i++)
		bpf_program__set_autoload(tracepoint[i], plan == PLAN_TRACEPOINT);
}

/* Attaches one program at a time, so a failure names the program. */
static int attach_programs(struct udplat_bpf *skel, struct bpf_link **links, int *nr_links)
{
	struct bpf_program *prog;
	int err;

	bpf_object__for_each_program(prog, skel->obj) {
		if (!bpf_program__autoload(prog))
			continue;
		if (*nr_links == MAX_LINKS)
			return -E2BIG;
		links[*nr_links] = bpf_program__attach(prog);
		if (!links[*nr_links]) {
			err = -errno;
			report_error(err, "failed to attach %s: %s", bpf_program__section_name(prog), strerror(-err));
			return err;
		}
		(*nr_links)++;
	}
	return 0;
}

static int on_record(void *ctx, void *data, size_t size)
{
	output_record(&out, data);
	return 0;
}

/* Sums a per-CPU value of `size` bytes made of u64 counters. */
static int sum_percpu(int map_fd, __u32 key, __u64 *sum, size_t size, __u64 *scratch, int ncpus)
{
	size_t words = size / sizeof(__u64), i;
	int cpu;

	if (bpf_map_lookup_elem(map_fd, &key, scratch))
		return -errno;
	memset(sum, 0, size);
	for (cpu = 0; cpu < ncpus; cpu++)
		for (i = 0; i < words; i++)
			sum[i] += scratch[cpu * words + i];
	return 0;
}

static void emit_stats(struct udplat_bpf *skel, __u64 *scratch, int ncpus)
{
	struct rec_stats stats = { .hdr = { REC_STATS, sizeof(stats) } };
	struct rec_hist hist = { .hdr = { REC_HIST, sizeof(hist) } };
	struct rec_drop_count dc = { .hdr = { REC_DROP_COUNT, sizeof(dc) } };
	struct counters c;
	__u32 key;

	if (!sum_percpu(bpf_map__fd(skel->maps.counters), 0, (__u64 *)&c, sizeof(c), scratch, ncpus)) {
		stats.time_ns = now_ns(CLOCK_MONOTONIC);
		stats.matched = c.matched;
		stats.slow = c.slow;
		stats.emitted = c.emitted;
		stats.kernel_lost = c.kernel_lost;
		stats.drops = c.drops;
		stats.drops_lost = c.drops_lost;
		stats.stale = c.stale;
		stats.untracked = c.untracked;
		output_record(&out, &stats);
	}
	for (key = 0; key < NR_STAGES; key++) {
		hist.stage = key;
		if (!sum_percpu(bpf_map__fd(skel->maps.hists), key, hist.slots, sizeof(hist.slots), scratch, ncpus))
			output_record(&out, &hist);
	}
	for (key = 0; key < MAX_DROP_REASONS; key++) {
		if (sum_percpu(bpf_map__fd(skel->maps.drop_counts), key, &dc.count, sizeof(dc.count), scratch, ncpus) ||
		    !dc.count)
			continue;
		dc.reason = key;
		snprintf(dc.reason_name, sizeof(dc.reason_name), "%s", drop_reason_name(&reasons, key));
		output_record(&out, &dc);
	}
}

/* {"kernel":"6.18.0","btf":true,"auto":"tracepoint","plans":[{"name":"fentry","available":false,"reason":"…"},…]} */
static int list_plans(const struct btf *vmlinux)
{
	static const enum plan plans[] = { PLAN_FENTRY, PLAN_KPROBE, PLAN_TRACEPOINT };
	char why[160], notes[NOTES_LEN];
	struct utsname uts;
	size_t i;

	uname(&uts);
	printf("{\"kernel\":\"%s\",\"btf\":%s,\"auto\":", uts.release, vmlinux ? "true" : "false");
	if (!vmlinux) {
		printf("null,\"plans\":[]}\n");
		return 1;
	}
	i = choose_plan(vmlinux, notes, sizeof(notes));
	printf(i == PLAN_AUTO ? "null" : "\"%s\"", plan_name(i));
	printf(",\"plans\":[");
	for (i = 0; i < sizeof(plans) / sizeof(plans[0]); i++) {
		bool ok = plan_available(vmlinux, plans[i], why, sizeof(why));

		printf("%s{\"name\":\"%s\",\"available\":%s", i ? "," : "", plan_name(plans[i]), ok ? "true" : "false");
		if (!ok)
			printf(",\"reason\":\"%s\"", why);
		printf("}");
	}
	printf("]}\n");
	return fflush(stdout) ? 1 : 0;
}

static void emit_hello(enum plan plan, const char *notes)
{
	struct rec_hello hello = { .hdr = { REC_HELLO, sizeof(hello) } };
	struct utsname uts;

	hello.version = UDPLAT_PROTO_VERSION;
	hello.plan = plan;
	hello.marks = plan_marks(plan);
	hello.realtime_offset_ns = realtime_offset_ns();
	if (!uname(&uts))
		snprintf(hello.kernel_release, sizeof(hello.kernel_release), "%.*s", KERNEL_RELEASE_LEN - 1, uts.release);
	snprintf(hello.notes, sizeof(hello.notes), "%s", notes);
	output_record(&out, &hello);
}

int main(int argc, char **argv)
{
	struct bpf_link *links[MAX_LINKS] = {};
	struct ring_buffer *rb = NULL;
	struct udplat_bpf *skel = NULL;
	struct btf *vmlinux = NULL;
	struct sigaction sa = { .sa_handler = on_signal };
	struct config cfg;
	char msg[ERROR_MSG_LEN], notes[NOTES_LEN] = "";
	__u64 *scratch = NULL, next_stats, deadline;
	struct rec_bye bye = { .hdr = { REC_BYE, sizeof(bye) } };
	enum plan plan;
	pid_t parent = getppid();
	int err, nr_links = 0, ncpus, i;

	/* A dead service must leave no probes behind. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);

	err = parse_args(argc, argv, &cfg, msg, sizeof(msg));
	output_init(&out, cfg.format, &reasons, &exiting);
	if (err > 0)
		return 0;
	if (err) {
		report_error(-EINVAL, "%s", msg);
		return 2;
	}
	verbose = cfg.verbose;
	libbpf_set_print(print_libbpf);

	vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux && cfg.list_plans) {
		err = list_plans(NULL);
		goto cleanup;
	}
	if (!vmlinux) {
		err = -errno;
		report_error(err, "failed to load kernel BTF (/sys/kernel/btf/vmlinux): %s", strerror(-err));
		goto cleanup;
	}
	if (cfg.list_plans) {
		err = list_plans(vmlinux);
		goto cleanup;
	}
	drop_reasons_load(&reasons, vmlinux);

	plan = cfg.plan;
	if (plan == PLAN_AUTO) {
		plan = choose_plan(vmlinux, notes, sizeof(notes));
		if (plan == PLAN_AUTO) {
			err = -EOPNOTSUPP;
			report_error(err, "no attach plan works on this kernel: %s", notes);
			goto cleanup;
		}
	} else if (!plan_available(vmlinux, plan, msg, sizeof(msg))) {
		err = -EOPNOTSUPP;
		report_error(err, "plan %s is not available: %s", plan_name(plan), msg);
		goto cleanup;
	}
	/* Parsed kernel BTF is megabytes: libbpf reads its own copy for CO-RE, and nothing later needs ours. */
	btf__free(vmlinux);
	vmlinux = NULL;

	skel = udplat_bpf__open();
	if (!skel) {
		err = -errno;
		report_error(err, "failed to open BPF object: %s", strerror(-err));
		goto cleanup;
	}
	set_filters(skel, &cfg);
	select_programs(skel, plan);
	err = bpf_map__set_max_entries(skel->maps.events, cfg.ringbuf_bytes);
	if (!err)
		err = udplat_bpf__load(skel);
	if (err) {
		report_error(err, "failed to load BPF object: %s (%s)", strerror(-err), libbpf_last_warning);
		goto cleanup;
	}
	err = attach_programs(skel, links, &nr_links);
	if (err)
		goto cleanup;
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_record, NULL, NULL);
	if (!rb) {
		err = -errno;
		report_error(err, "failed to create ring buffer: %s", strerror(-err));
		goto cleanup;
	}
	ncpus = libbpf_num_possible_cpus();
	scratch = calloc(ncpus, sizeof(struct hist));
	if (ncpus < 0 || !scratch) {
		err = -ENOMEM;
		report_error(err, "failed to allocate per-CPU buffers");
		goto cleanup;
	}

	emit_hello(plan, notes);
	err = output_flush(&out);
	next_stats = now_ns(CLOCK_MONOTONIC) + cfg.stats_interval_ms * 1000000ULL;
	deadline = cfg.duration_s ? now_ns(CLOCK_MONOTONIC) + cfg.duration_s * 1000000000ULL : 0;
	while (!exiting && !err) {
		err = ring_buffer__poll(rb, DRAIN_INTERVAL_MS);
		if (err == -EINTR)
			err = 0;
		if (err >= 0)
			err = ring_buffer__consume(rb);
		if (err < 0) {
			report_error(err, "failed to read ring buffer: %s", strerror(-err));
			break;
		}
		err = 0;
		/* Text output is for a person: counters only at the end. */
		if (cfg.format != FORMAT_TEXT && now_ns(CLOCK_MONOTONIC) >= next_stats) {
			emit_stats(skel, scratch, ncpus);
			next_stats += cfg.stats_interval_ms * 1000000ULL;
		}
		if (deadline && now_ns(CLOCK_MONOTONIC) >= deadline)
			exiting = 1;
		err = output_flush(&out);
	}
	if (!err) {
		ring_buffer__consume(rb);
		emit_stats(skel, scratch, ncpus);
		output_record(&out, &bye);
		err = output_flush(&out);
	}

cleanup:
	if (out.err)
		fprintf(stderr, "udplat-probe: failed to write output: %s\n", strerror(-out.err));
	ring_buffer__free(rb);
	for (i = 0; i < nr_links; i++)
		bpf_link__destroy(links[i]);
	udplat_bpf__destroy(skel);
	btf__free(vmlinux);
	free(scratch);
	return err ? 1 : 0;
}
