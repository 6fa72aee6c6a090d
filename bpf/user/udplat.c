// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * udplat-probe: runs one latency-trace session and writes its records on
 * stdout until SIGINT or SIGTERM. Standalone, it is a CLI (--format text or
 * json) that loads its own probe set; udplatd runs it with --format bin
 * --shared, joining the host's hub (hub.h) so that sessions share probes.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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
#include "dispatcher.h"
#include "drop_reasons.h"
#include "hub.h"
#include "plans.h"
#include "libbpf_log.h"
#include "output.h"

/* The ring buffer is drained on this tick; the kernel wakes us only past wakeup_bytes. */
#define DRAIN_INTERVAL_MS 20

static volatile sig_atomic_t exiting;

static struct output out;
static struct drop_reasons reasons;

/* A stop signal that lands just before a blocking write() cannot interrupt it: SIGALRM, every second from then on, does. */
static void on_signal(int sig)
{
	exiting = 1;
	alarm(1);
}

/* Fatal: an error record for the service, the same words on stderr for a person. */
__attribute__((format(printf, 2, 3))) static void
report_error(int err, const char *fmt, ...)
{
	struct rec_error rec = { .hdr = { REC_ERROR, sizeof(rec) },
				 .err = err };
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

/* The plan to run, why auto did not pick the others, and the drop reasons' names: from the kernel's BTF. */
static int learn_kernel(const struct config *cfg, enum plan *plan, char *notes,
			size_t noteslen, char *msg, size_t msglen)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();
	char why[160];
	int err = 0;

	if (!vmlinux) {
		err = -errno;
		snprintf(
			msg, msglen,
			"failed to load kernel BTF (/sys/kernel/btf/vmlinux): %s",
			strerror(-err));
		return err;
	}
	drop_reasons_load(&reasons, vmlinux);
	*plan = cfg->plan;
	if (*plan == PLAN_AUTO) {
		*plan = choose_plan(vmlinux, notes, noteslen);
		if (*plan == PLAN_AUTO) {
			err = -EOPNOTSUPP;
			snprintf(msg, msglen,
				 "no attach plan works on this kernel: %s",
				 notes);
		}
	} else if (!plan_available(vmlinux, *plan, why, sizeof(why))) {
		err = -EOPNOTSUPP;
		snprintf(msg, msglen, "plan %s is not available: %s",
			 plan_name(*plan), why);
	}
	/* Parsed kernel BTF is megabytes: libbpf reads its own copy for CO-RE, and nothing later needs ours. */
	btf__free(vmlinux);
	return err;
}

/* A running hub knows the kernel already: what it says replaces learn_kernel(). */
static void take_hub_info(const struct config *cfg, const struct hub_info *info,
			  enum plan *plan, char *notes, size_t noteslen)
{
	*plan = info->plan;
	reasons = info->reasons;
	snprintf(notes, noteslen, "%s",
		 cfg->plan == PLAN_AUTO ? info->notes : "");
}

/*
 * A slot in the host's hub (--shared), or in a dispatcher of our own (own),
 * or, keeping the hub, a connection without a slot. A hub that runs already
 * is joined before anything else: it needs no BTF of ours.
 */
static int open_session(const struct config *cfg, enum plan *plan, char *notes,
			size_t noteslen, struct dispatcher *own,
			struct session_handles *session, char *msg,
			size_t msglen)
{
	const struct session_conf *conf = cfg->keep_hub ? NULL : &cfg->session;
	struct hub_info *info = NULL;
	bool hub_full = false;
	int err;

	if (cfg->shared || cfg->keep_hub) {
		info = malloc(sizeof(*info));
		if (!info)
			return -ENOMEM;
		err = hub_join(cfg->plan, false, conf, cfg->ringbuf_bytes,
			       session, info, msg, msglen);
		if (!err)
			take_hub_info(cfg, info, plan, notes, noteslen);
		hub_full = err == -ENOSPC && conf;
		if (err != -ECONNREFUSED && !hub_full)
			goto out;
	}
	err = learn_kernel(cfg, plan, notes, noteslen, msg, msglen);
	if (err)
		goto out;
	if (info && !hub_full) {
		err = hub_join(*plan, true, conf, cfg->ringbuf_bytes, session,
			       info, msg, msglen);
		/* A hub serves MAX_SESSIONS: past that, a session pays for programs of its own. */
		if (err != -ENOSPC || cfg->keep_hub)
			goto out;
		fprintf(stderr, "udplat-probe: %s: loading probes of our own\n",
			msg);
	}
	err = dispatcher_open(own, *plan, msg, msglen);
	if (err)
		goto out;
	session->states_fd =
		fcntl(dispatcher_states_fd(own), F_DUPFD_CLOEXEC, 0);
	if (session->states_fd < 0) {
		err = -errno;
		snprintf(msg, msglen, "failed to copy the states map's fd: %s",
			 strerror(-err));
		goto out;
	}
	err = dispatcher_add(own, &cfg->session, cfg->ringbuf_bytes,
			     &session->slot, &session->ring_fd, msg, msglen);
out:
	free(info);
	return err;
}

static int on_record(void *ctx, void *data, size_t size)
{
	output_record(&out, data);
	return 0;
}

/* Sums the session's slot of the per-CPU states into stats, histogram and drop-count records. */
static void emit_stats(const struct session_handles *session,
		       struct session_state *percpu, int ncpus)
{
	struct rec_stats stats = { .hdr = { REC_STATS, sizeof(stats) } };
	struct rec_hist hist = { .hdr = { REC_HIST, sizeof(hist) } };
	struct rec_drop_count dc = { .hdr = { REC_DROP_COUNT, sizeof(dc) } };
	__u32 key, stage, slot, c;
	int cpu;

	if (bpf_map_lookup_elem(session->states_fd, &session->slot, percpu))
		return;
	stats.time_ns = now_ns(CLOCK_MONOTONIC);
	for (cpu = 0; cpu < ncpus; cpu++)
		for (c = 0; c < NR_COUNTERS; c++)
			stats.counters[c] +=
				((const __u64 *)&percpu[cpu].counters)[c];
	output_record(&out, &stats);
	for (stage = 0; stage < NR_HISTS; stage++) {
		hist.stage = stage;
		memset(hist.slots, 0, sizeof(hist.slots));
		for (cpu = 0; cpu < ncpus; cpu++)
			for (slot = 0; slot < MAX_SLOTS; slot++)
				hist.slots[slot] +=
					percpu[cpu].hists[stage].slots[slot];
		output_record(&out, &hist);
	}
	for (key = 0; key < MAX_DROP_REASONS; key++) {
		dc.count = 0;
		for (cpu = 0; cpu < ncpus; cpu++)
			dc.count += percpu[cpu].drop_counts[key];
		if (!dc.count)
			continue;
		dc.reason = key;
		snprintf(dc.reason_name, sizeof(dc.reason_name), "%s",
			 drop_reason_name(&reasons, key));
		output_record(&out, &dc);
	}
}

/* {"kernel":"6.18.0","btf":true,"auto":"tracepoint","plans":[{"name":"fentry","available":false,"reason":"…"},…]} */
static int print_plans(const struct btf *vmlinux)
{
	char why[160], notes[NOTES_LEN];
	struct utsname uts;
	enum plan plan;

	uname(&uts);
	printf("{\"kernel\":\"%s\",\"btf\":%s,\"auto\":", uts.release,
	       vmlinux ? "true" : "false");
	if (!vmlinux) {
		printf("null,\"plans\":[]}\n");
		return 1;
	}
	plan = choose_plan(vmlinux, notes, sizeof(notes));
	printf(plan == PLAN_AUTO ? "null" : "\"%s\"", plan_name(plan));
	printf(",\"plans\":[");
	for (plan = PLAN_AUTO + 1; plan < NR_PLANS; plan++) {
		bool ok = plan_available(vmlinux, plan, why, sizeof(why));

		printf("%s{\"name\":\"%s\",\"available\":%s",
		       plan > PLAN_AUTO + 1 ? "," : "", plan_name(plan),
		       ok ? "true" : "false");
		if (!ok)
			printf(",\"reason\":\"%s\"", why);
		printf("}");
	}
	printf("]}\n");
	return fflush(stdout) ? 1 : 0;
}

/* --list-plans: exits 1 without BTF, which every plan needs. */
static int list_plans(void)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();
	int err = print_plans(vmlinux);

	btf__free(vmlinux);
	return err;
}

/* The session's marks, 0 for all the plan sees on the sides its direction traces. */
static void emit_hello(enum plan plan, const char *notes,
		       const struct session_conf *conf)
{
	struct rec_hello hello = { .hdr = { REC_HELLO, sizeof(hello) } };
	struct utsname uts;

	hello.version = UDPLAT_PROTO_VERSION;
	hello.plan = plan;
	hello.direction = conf->direction;
	hello.marks = conf->marks ? conf->marks :
				    plan_info(plan)->marks &
					    direction_marks(conf->direction);
	hello.realtime_offset_ns = realtime_offset_ns();
	if (!uname(&uts))
		snprintf(hello.kernel_release, sizeof(hello.kernel_release),
			 "%.*s", KERNEL_RELEASE_LEN - 1, uts.release);
	snprintf(hello.notes, sizeof(hello.notes), "%s", notes);
	output_record(&out, &hello);
}

/* Everything a session holds: its fds are its own, whether a hub sent them or our own dispatcher lent a copy. */
static void close_session(struct session_handles *session,
			  struct dispatcher *own)
{
	if (session->ring_fd >= 0)
		close(session->ring_fd);
	if (session->states_fd >= 0)
		close(session->states_fd);
	if (session->hub_fd >= 0)
		close(session->hub_fd);
	dispatcher_close(own);
}

/* Drains the ring buffer and sends counters until stopped, the duration is over, or the hub has gone. */
static int trace(const struct config *cfg,
		 const struct session_handles *session)
{
	struct ring_buffer *rb =
		ring_buffer__new(session->ring_fd, on_record, NULL, NULL);
	int ncpus = libbpf_num_possible_cpus(), err = 0;
	struct session_state *percpu =
		ncpus > 0 ? calloc(ncpus, sizeof(*percpu)) : NULL;
	struct rec_bye bye = { .hdr = { REC_BYE, sizeof(bye) } };
	__u64 next_stats =
		now_ns(CLOCK_MONOTONIC) + cfg->stats_interval_ms * 1000000ULL;
	__u64 deadline = cfg->duration_s ?
				 now_ns(CLOCK_MONOTONIC) +
					 cfg->duration_s * 1000000000ULL :
				 0;

	if (!rb || !percpu) {
		err = rb ? -ENOMEM : -errno;
		report_error(err, "failed to set up the ring buffer reader: %s",
			     strerror(-err));
		goto out;
	}
	while (!exiting && !err) {
		err = ring_buffer__poll(rb, DRAIN_INTERVAL_MS);
		if (err == -EINTR)
			err = 0;
		if (err >= 0)
			err = ring_buffer__consume(rb);
		if (err < 0) {
			report_error(err, "failed to read ring buffer: %s",
				     strerror(-err));
			break;
		}
		err = 0;
		if (!exiting && session->hub_fd >= 0 &&
		    hub_gone(session->hub_fd)) {
			err = -EPIPE;
			report_error(
				err,
				"the hub that ran this session's probes exited");
			break;
		}
		/* Text output is for a person: counters only at the end. */
		if (cfg->format != FORMAT_TEXT &&
		    now_ns(CLOCK_MONOTONIC) >= next_stats) {
			emit_stats(session, percpu, ncpus);
			next_stats += cfg->stats_interval_ms * 1000000ULL;
		}
		if (deadline && now_ns(CLOCK_MONOTONIC) >= deadline)
			exiting = 1;
		err = output_flush(&out);
	}
	if (!err) {
		ring_buffer__consume(rb);
		emit_stats(session, percpu, ncpus);
		output_record(&out, &bye);
		err = output_flush(&out);
	}
out:
	ring_buffer__free(rb);
	free(percpu);
	return err;
}

/*
 * --keep-hub: holds the hub open, with no session, until stopped or until the
 * hub has gone, and pings it every stats interval: each answer is a stats
 * record (of no session: its counters are zero; none in text), so the
 * service knows the hub serves. One question at a time: a hub that does not answer is asked
 * nothing more until it does.
 */
static int keep(const struct config *cfg, const struct session_handles *session)
{
	struct pollfd hub = { .fd = session->hub_fd, .events = POLLIN };
	struct rec_stats answered = { .hdr = { REC_STATS, sizeof(answered) } };
	struct rec_bye bye = { .hdr = { REC_BYE, sizeof(bye) } };
	__u64 interval_ns = cfg->stats_interval_ms * 1000000ULL, now,
	      next_ping = now_ns(CLOCK_MONOTONIC);
	__u32 seq = 0;
	bool asking = false;
	int err = 0, timeout_ms;

	while (!exiting && !err) {
		now = now_ns(CLOCK_MONOTONIC);
		if (!asking && now >= next_ping) {
			err = hub_ping(hub.fd, ++seq);
			asking = !err;
			next_ping = now + interval_ns;
		}
		timeout_ms =
			asking ? -1 :
				 (int)((next_ping - now + 999999) / 1000000);
		if (err || poll(&hub, 1, timeout_ms) <= 0)
			continue;
		if (hub_pong(hub.fd) != seq) {
			err = -EPIPE;
			continue;
		}
		asking = false;
		if (cfg->format == FORMAT_TEXT)
			continue;
		answered.time_ns = now_ns(CLOCK_MONOTONIC);
		output_record(&out, &answered);
		err = output_flush(&out);
		if (err)
			return err;
	}
	if (err) {
		report_error(err, "the hub exited");
		return err;
	}
	output_record(&out, &bye);
	return output_flush(&out);
}

int main(int argc, char **argv)
{
	struct session_handles session = { .ring_fd = -1,
					   .states_fd = -1,
					   .hub_fd = -1 };
	struct sigaction sa = { .sa_handler = on_signal };
	char msg[ERROR_MSG_LEN], notes[NOTES_LEN] = "";
	struct dispatcher own = {};
	struct config cfg;
	pid_t parent = getppid();
	enum plan plan = PLAN_AUTO;
	int err;

	/* The hub outlives the loader that started it: it ends with its last connection instead. */
	if (argc == 3 && !strcmp(argv[1], "--hub"))
		return hub_serve(argv[2]);
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
	libbpf_log_init(cfg.verbose);
	if (cfg.list_plans)
		return list_plans();

	err = open_session(&cfg, &plan, notes, sizeof(notes), &own, &session,
			   msg, sizeof(msg));
	if (err) {
		report_error(err, "%s", msg);
	} else {
		emit_hello(plan, notes, &cfg.session);
		err = output_flush(&out);
		if (!err)
			err = cfg.keep_hub ? keep(&cfg, &session) :
					     trace(&cfg, &session);
	}
	if (out.err)
		fprintf(stderr, "udplat-probe: failed to write output: %s\n",
			strerror(-out.err));
	close_session(&session, &own);
	/* Marks the plan does not see are a bad command line, like a bad option. */
	return err == -EMARKS ? 2 : err ? 1 : 0;
}
