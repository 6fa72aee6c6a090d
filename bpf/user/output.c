// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <limits.h>
#include <poll.h>
#include <unistd.h>
#include <arpa/inet.h>
#include "names.h"
#include "output.h"
#include "plans.h"
#include "stages.h"

#define ENDPOINT_LEN (INET6_ADDRSTRLEN + 8)

void output_init(struct output *out, enum format format,
		 const struct drop_reasons *reasons,
		 volatile sig_atomic_t *stop)
{
	out->stop = stop;
	out->format = format;
	out->marks = 0;
	out->direction = EVENT_RECEIVE;
	out->realtime_offset_ns = 0;
	out->reasons = reasons;
	out->len = 0;
	out->err = 0;
}

/* Once stopping, a write waits at most this long for room: a reader that stopped reading cannot keep us alive. */
#define STOPPING_WRITE_WAIT_MS 100

int output_flush(struct output *out)
{
	struct pollfd room = { .fd = STDOUT_FILENO, .events = POLLOUT };
	size_t done = 0, chunk;
	ssize_t n;

	while (!out->err && done < out->len) {
		chunk = out->len - done;
		if (*out->stop) {
			/* POLLOUT means PIPE_BUF bytes fit: write no more, so the write cannot block. */
			if (poll(&room, 1, STOPPING_WRITE_WAIT_MS) <= 0) {
				out->err = -ETIMEDOUT;
				break;
			}
			chunk = chunk < PIPE_BUF ? chunk : PIPE_BUF;
		}
		n = write(STDOUT_FILENO, out->buf + done, chunk);
		/* Interrupted, maybe by the stop signal, maybe after part of the data: the next turn decides. */
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			out->err = n < 0 ? -errno : -EIO;
		else
			done += n;
	}
	out->len = 0;
	return out->err;
}

static void reserve(struct output *out, size_t size)
{
	if (out->len + size > sizeof(out->buf))
		output_flush(out);
}

static void put_bytes(struct output *out, const void *data, size_t size)
{
	reserve(out, size);
	memcpy(out->buf + out->len, data, size);
	out->len += size;
}

/* Text lines are short: one formatted line never exceeds a quarter of the buffer. */
__attribute__((format(printf, 2, 3))) static void put_fmt(struct output *out,
							  const char *fmt, ...)
{
	size_t room = sizeof(out->buf) / 4;
	va_list ap;
	int n;

	reserve(out, room);
	va_start(ap, fmt);
	n = vsnprintf(out->buf + out->len, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		out->len += (size_t)n < room ? (size_t)n : room - 1;
}

/* JSON string content: the kernel's strings (comm) are bytes, not trusted text. */
static void put_json_string(struct output *out, const char *s, size_t max)
{
	size_t i;

	put_bytes(out, "\"", 1);
	for (i = 0; i < max && s[i]; i++) {
		unsigned char c = s[i];

		if (c == '"' || c == '\\')
			put_fmt(out, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			put_fmt(out, "\\u%04x", c);
		else
			put_bytes(out, &s[i], 1);
	}
	put_bytes(out, "\"", 1);
}

static void endpoint(char *buf, __u16 family, const __u8 *addr, __u16 port)
{
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(family, addr, ip, sizeof(ip));
	snprintf(buf, ENDPOINT_LEN, family == AF_INET6 ? "[%s]:%u" : "%s:%u",
		 ip, port);
}

struct stages {
	__s64 ns[NR_STAGES]; /* -1: unknown, or not a stage of the event's kind */
	__s64 backlog; /* whether the event's kind has the stage or not: it names who held the backlog's CPU */
	int slowest; /* the longest PART stage; -1 if none is known */
};

static const int stage_kinds[NR_STAGES] = {
#define STAGE_KIND(id, name, from, to, kind, ...) kind,
	UDPLAT_STAGES(STAGE_KIND)
#undef STAGE_KIND
};

/* By stage: the kinds of event (EVENT_*) it belongs to. */
static const __u32 stage_events[NR_STAGES] = {
#define STAGE_EVENTS(id, name, from, to, kind, events) events,
	UDPLAT_STAGES(STAGE_EVENTS)
#undef STAGE_EVENTS
};

/* Every stage of e's kind by the rule of stages.h, the marks the session takes being out->marks. */
static void compute_stages(const struct output *out, const struct rec_event *e,
			   struct stages *s)
{
	int i;

#define STAGE_NS(id, name, from, to, kind, ...) \
	s->ns[STAGE_##id] =                     \
		stage_ns(e->marks, out->marks, MARK_##from, MARK_##to, kind);
	UDPLAT_STAGES(STAGE_NS)
#undef STAGE_NS
	s->backlog = s->ns[STAGE_BACKLOG];
	s->slowest = -1;
	for (i = 0; i < NR_STAGES; i++) {
		if (!(stage_events[i] & e->kind))
			s->ns[i] = -1;
		else if (stage_kinds[i] == PART && s->ns[i] >= 0 &&
			 (s->slowest < 0 || s->ns[i] > s->ns[s->slowest]))
			s->slowest = i;
	}
}

/* The kinds of event a session of `direction` has: a path needs both. */
static __u32 direction_events(__u32 direction)
{
	return direction == (EVENT_RECEIVE | EVENT_SEND) ?
		       EVENT_RECEIVE | EVENT_SEND | EVENT_PATH :
		       direction;
}

/* ,"<name>Ns":<ns>, or null when unknown. */
static void put_json_ns(struct output *out, const char *name, __s64 ns)
{
	if (ns < 0)
		put_fmt(out, ",\"%sNs\":null", name);
	else
		put_fmt(out, ",\"%sNs\":%lld", name, (long long)ns);
}

/*
 * ,"softirq":{…}: the backlog's CPU, whether ksoftirqd emptied it, and who
 * held that CPU, named when the backlog took a tenth of the total or more.
 */
static void softirq_json(struct output *out, const struct rec_event *e,
			 const struct stages *s)
{
	const struct softirq *q = &e->softirq;
	__s64 backlog = s->backlog, total = s->ns[STAGE_TOTAL];

	if (!(q->flags & SOFTIRQ_SEEN)) {
		put_fmt(out, ",\"softirq\":null");
		return;
	}
	put_fmt(out,
		",\"softirq\":{\"cpu\":%u,\"inKsoftirqd\":%s,\"waitedBehind\":",
		q->cpu, q->flags & SOFTIRQ_IN_KSOFTIRQD ? "true" : "false");
	if (q->behind_pid && backlog >= 0 && total > 0 &&
	    10 * backlog >= total) {
		put_fmt(out, "{\"pid\":%u,\"comm\":", q->behind_pid);
		put_json_string(out, q->behind_comm, sizeof(q->behind_comm));
		put_fmt(out, "}}");
	} else {
		put_fmt(out, "null}");
	}
}

/* ,"reader":{"verdict":…,"onCpuNs":…,…,"waitedBehind":…}, or null when not measured. */
static void reader_json(struct output *out, const struct reader *r)
{
	static const char *const state_names[NR_READER_STATES] = {
#define STATE_NAME(id, name, verdict) #name,
		UDPLAT_READER_STATES(STATE_NAME)
#undef STATE_NAME
	};
	int i;

	if (r->verdict == VERDICT_NONE ||
	    r->verdict >= VERDICT_STATE + NR_READER_STATES) {
		put_fmt(out, ",\"reader\":null");
		return;
	}
	put_fmt(out, ",\"reader\":{\"verdict\":\"%s\"",
		verdict_names[r->verdict]);
	for (i = 0; i < NR_READER_STATES; i++)
		put_json_ns(out, state_names[i],
			    r->verdict == VERDICT_UNKNOWN ? -1 :
							    (__s64)r->ns[i]);
	if (r->behind_pid) {
		put_fmt(out, ",\"waitedBehind\":{\"pid\":%u,\"comm\":",
			r->behind_pid);
		put_json_string(out, r->behind_comm, sizeof(r->behind_comm));
		put_fmt(out, "}}");
	} else {
		put_fmt(out, ",\"waitedBehind\":null}");
	}
}

static void event_json(struct output *out, const struct rec_event *e)
{
	char src[ENDPOINT_LEN], dst[ENDPOINT_LEN];
	struct stages s;
	int i;

	compute_stages(out, e, &s);
	endpoint(src, e->flow.family, e->flow.saddr, e->flow.sport);
	endpoint(dst, e->flow.family, e->flow.daddr, e->flow.dport);
	put_fmt(out, "{\"type\":\"event\",\"kind\":\"%s\"",
		event_kind_name(e->kind));
	for (i = 0; i < NR_MARKS; i++)
		put_json_ns(out, mark_names[i],
			    e->marks[i] ? (__s64)e->marks[i] : -1);
	for (i = 0; i < NR_STAGES; i++)
		put_json_ns(out, stage_names[i], s.ns[i]);
	if (s.slowest < 0)
		put_fmt(out, ",\"slowestStage\":null");
	else
		put_fmt(out, ",\"slowestStage\":\"%s\"",
			stage_names[s.slowest]);
	put_fmt(out,
		",\"family\":\"%s\",\"src\":\"%s\",\"dst\":\"%s\",\"len\":%u,\"pid\":%u,\"tid\":%u,\"comm\":",
		e->flow.family == AF_INET6 ? "ipv6" : "ipv4", src, dst,
		e->flow.len, e->pid, e->tid);
	put_json_string(out, e->comm, sizeof(e->comm));
	softirq_json(out, e, &s);
	reader_json(out, &e->reader);
	if (e->sender.tid) {
		put_fmt(out, ",\"sender\":{\"pid\":%u,\"tid\":%u,\"comm\":",
			e->sender.pid, e->sender.tid);
		put_json_string(out, e->sender.comm, sizeof(e->sender.comm));
		put_fmt(out, "}");
	} else {
		put_fmt(out, ",\"sender\":null");
	}
	put_fmt(out, ",\"cgroupId\":\"%llu\"}\n",
		(unsigned long long)e->cgroup_id);
}

/* The latest mark seen: when the datagram's path ended (sent, last in the table, may come before it left). */
static __u64 last_mark(const struct rec_event *e)
{
	__u64 last = 0;
	int i;

	for (i = 0; i < NR_MARKS; i++)
		if (e->marks[i] > last)
			last = e->marks[i];
	return last;
}

static void wall_clock(const struct output *out, __u64 mono_ns, char *buf,
		       size_t len)
{
	__u64 real = mono_ns + out->realtime_offset_ns;
	time_t secs = real / 1000000000ULL;
	struct tm tm;

	localtime_r(&secs, &tm);
	snprintf(buf, len, "%02d:%02d:%02d.%06llu", tm.tm_hour, tm.tm_min,
		 tm.tm_sec, (unsigned long long)(real % 1000000000ULL) / 1000);
}

/* A stage's text column: wide enough for its header, "<STAGE>_us". */
static int stage_width(int stage)
{
	int width = strlen(stage_names[stage]) + 3;

	return width > 10 ? width : 10;
}

static void put_us(struct output *out, int stage, __s64 ns)
{
	if (ns < 0)
		put_fmt(out, " %*s", stage_width(stage), "-");
	else
		put_fmt(out, " %*.1f", stage_width(stage), ns / 1000.0);
}

/* The reader's verdict, and who held its CPU when it waited for one: "runqueue:spinner". */
static void reader_text(struct output *out, const struct reader *r)
{
	char behind[TASK_COMM_LEN + 1] = {};

	if (r->verdict == VERDICT_NONE ||
	    r->verdict >= VERDICT_STATE + NR_READER_STATES) {
		put_fmt(out, " -\n");
		return;
	}
	memcpy(behind, r->behind_comm, TASK_COMM_LEN);
	put_fmt(out, " %s%s%s\n", verdict_names[r->verdict],
		r->behind_pid ? ":" : "", r->behind_pid ? behind : "");
}

static void event_text(struct output *out, const struct rec_event *e)
{
	char src[ENDPOINT_LEN], dst[ENDPOINT_LEN], when[32],
		comm[TASK_COMM_LEN + 1] = {};
	struct stages s;
	int i;

	compute_stages(out, e, &s);
	endpoint(src, e->flow.family, e->flow.saddr, e->flow.sport);
	endpoint(dst, e->flow.family, e->flow.daddr, e->flow.dport);
	wall_clock(out, last_mark(e), when, sizeof(when));
	memcpy(comm, e->comm, TASK_COMM_LEN);
	put_fmt(out, "%-15s", when);
	if (out->direction != EVENT_RECEIVE)
		put_fmt(out, " %-7s", event_kind_name(e->kind));
	put_fmt(out, " %-15s %-7u %-25s %-25s %5u", comm, e->pid, src, dst,
		e->flow.len);
	for (i = 0; i < NR_STAGES; i++)
		if (stage_events[i] & direction_events(out->direction))
			put_us(out, i, s.ns[i]);
	put_fmt(out, " %-9s", s.slowest < 0 ? "-" : stage_names[s.slowest]);
	reader_text(out, &e->reader);
}

/* The ring buffer is mapped read-only: the name goes into a copy. */
static void drop_out(struct output *out, const struct rec_drop *rec)
{
	char src[ENDPOINT_LEN], dst[ENDPOINT_LEN], when[32];
	struct rec_drop copy = *rec, *d = &copy;

	snprintf(d->reason_name, sizeof(d->reason_name), "%s",
		 drop_reason_name(out->reasons, d->reason));
	if (out->format == FORMAT_BIN) {
		put_bytes(out, d, sizeof(*d));
		return;
	}
	endpoint(src, d->flow.family, d->flow.saddr, d->flow.sport);
	endpoint(dst, d->flow.family, d->flow.daddr, d->flow.dport);
	if (out->format == FORMAT_JSON) {
		put_fmt(out,
			"{\"type\":\"drop\",\"timeNs\":%llu,\"reason\":\"%s\",\"family\":\"%s\",\"src\":\"%s\",\"dst\":\"%s\",\"len\":%u}\n",
			(unsigned long long)d->time_ns, d->reason_name,
			d->flow.family == AF_INET6 ? "ipv6" : "ipv4", src, dst,
			d->flow.len);
		return;
	}
	wall_clock(out, d->time_ns, when, sizeof(when));
	put_fmt(out, "%-15s DROP %-20s %-25s %-25s %5u\n", when, d->reason_name,
		src, dst, d->flow.len);
}

/* The text header: the stages' columns, named after them. */
static void text_header(struct output *out)
{
	char column[32];
	int i, j;

	put_fmt(out, "%-15s", "TIME");
	if (out->direction != EVENT_RECEIVE)
		put_fmt(out, " %-7s", "KIND");
	put_fmt(out, " %-15s %-7s %-25s %-25s %5s", "COMM", "PID", "SRC", "DST",
		"LEN");
	for (i = 0; i < NR_STAGES; i++) {
		if (!(stage_events[i] & direction_events(out->direction)))
			continue;
		snprintf(column, sizeof(column), "%s_us", stage_names[i]);
		for (j = 0; column[j] != '_'; j++)
			column[j] = toupper((unsigned char)column[j]);
		put_fmt(out, " %*s", stage_width(i), column);
	}
	put_fmt(out, " %-9s READER\n", "SLOWEST");
}

static void hello_out(struct output *out, const struct rec_hello *h)
{
	int i, first = 1;

	out->marks = h->marks;
	out->direction = h->direction;
	out->realtime_offset_ns = h->realtime_offset_ns;
	if (out->format == FORMAT_BIN)
		return;
	if (out->format == FORMAT_TEXT) {
		fprintf(stderr,
			"Tracing UDP %s latency with the %s plan (kernel %s). Ctrl-C to end.\n",
			direction_name(h->direction), plan_name(h->plan),
			h->kernel_release);
		text_header(out);
		return;
	}
	put_fmt(out,
		"{\"type\":\"hello\",\"version\":%u,\"plan\":\"%s\",\"marks\":[",
		h->version, plan_name(h->plan));
	for (i = 0; i < NR_MARKS; i++) {
		if (!(h->marks & (1U << i)))
			continue;
		put_fmt(out, "%s\"%s\"", first ? "" : ",", mark_names[i]);
		first = 0;
	}
	put_fmt(out, "],\"direction\":\"%s\",\"kernel\":",
		direction_name(h->direction));
	put_json_string(out, h->kernel_release, sizeof(h->kernel_release));
	put_fmt(out, ",\"notes\":");
	put_json_string(out, h->notes, sizeof(h->notes));
	put_fmt(out, "}\n");
}

/* JSON: {"type":"stats","timeNs":…,"matched":…,…}; text: # matched …, slow …, … */
static void stats_out(struct output *out, const struct rec_stats *s)
{
	bool json = out->format == FORMAT_JSON;
	int i;

	if (json)
		put_fmt(out, "{\"type\":\"stats\",\"timeNs\":%llu",
			(unsigned long long)s->time_ns);
	else
		put_fmt(out, "#");
	for (i = 0; i < NR_COUNTERS; i++) {
		if (json)
			put_fmt(out, ",\"%s\":%llu", counter_names[i],
				(unsigned long long)s->counters[i]);
		else
			put_fmt(out, "%s %s %llu", i ? "," : "",
				counter_names[i],
				(unsigned long long)s->counters[i]);
	}
	put_fmt(out, json ? "}\n" : "\n");
}

static void hist_json(struct output *out, const struct rec_hist *h)
{
	int i;

	put_fmt(out, "{\"type\":\"hist\",\"stage\":\"%s\",\"slots\":[",
		hist_names[h->stage % NR_HISTS]);
	for (i = 0; i < MAX_SLOTS; i++)
		put_fmt(out, "%s%llu", i ? "," : "",
			(unsigned long long)h->slots[i]);
	put_fmt(out, "]}\n");
}

void output_record(struct output *out, const void *rec)
{
	const struct rec_hdr *hdr = rec;

	if (hdr->type == REC_HELLO)
		hello_out(out, rec);
	if (hdr->type == REC_DROP) {
		drop_out(out, rec);
		return;
	}
	if (out->format == FORMAT_BIN) {
		put_bytes(out, rec, hdr->size);
		return;
	}
	switch (hdr->type) {
	case REC_EVENT:
		if (out->format == FORMAT_JSON)
			event_json(out, rec);
		else
			event_text(out, rec);
		break;
	case REC_STATS:
		stats_out(out, rec);
		break;
	case REC_HIST:
		if (out->format == FORMAT_JSON)
			hist_json(out, rec);
		break;
	case REC_DROP_COUNT: {
		const struct rec_drop_count *dc = rec;

		put_fmt(out,
			out->format == FORMAT_JSON ?
				"{\"type\":\"dropCount\",\"reason\":\"%s\",\"count\":%llu}\n" :
				"# drops %s: %llu\n",
			dc->reason_name, (unsigned long long)dc->count);
		break;
	}
	case REC_ERROR: {
		const struct rec_error *e = rec;

		if (out->format == FORMAT_JSON) {
			put_fmt(out,
				"{\"type\":\"error\",\"err\":%d,\"message\":",
				e->err);
			put_json_string(out, e->message, sizeof(e->message));
			put_fmt(out, "}\n");
		}
		break;
	}
	case REC_BYE:
		if (out->format == FORMAT_JSON)
			put_fmt(out, "{\"type\":\"bye\",\"status\":%d}\n",
				((const struct rec_bye *)rec)->status);
		break;
	}
}
