// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Writes one record of every type, with fixed values, to stdout. Its output
 * is committed as test/fixtures/records.bin: the C side is pinned by
 * comparing the two, the service side by parsing the file
 * (test/probe/records.test.ts and test/probe/events.test.ts expect exactly these values).
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/types.h>
#include "udplat.h"

/*
 * The sizes and offsets src/probe/records.ts reads (its RECORD_SIZES,
 * EVENT_FIELDS, DROP_FIELDS and decoders): a change here is a change there,
 * and of UDPLAT_PROTO_VERSION.
 */
_Static_assert(sizeof(struct flow) == 44, "flow size");
_Static_assert(offsetof(struct flow, daddr) == 16, "flow.daddr");
_Static_assert(offsetof(struct flow, len) == 32, "flow.len");
_Static_assert(offsetof(struct flow, sport) == 36, "flow.sport");
_Static_assert(offsetof(struct flow, dport) == 38, "flow.dport");
_Static_assert(offsetof(struct flow, family) == 40, "flow.family");
_Static_assert(sizeof(struct softirq) == 28, "softirq size");
_Static_assert(offsetof(struct softirq, flags) == 4, "softirq.flags");
_Static_assert(offsetof(struct softirq, behind_pid) == 8, "softirq.behind_pid");
_Static_assert(offsetof(struct softirq, behind_comm) == 12,
	       "softirq.behind_comm");
_Static_assert(sizeof(struct reader) == 48, "reader size");
_Static_assert(offsetof(struct reader, verdict) == 8 * NR_READER_STATES,
	       "reader.verdict");
_Static_assert(offsetof(struct reader, behind_pid) == 28, "reader.behind_pid");
_Static_assert(offsetof(struct reader, behind_comm) == 32,
	       "reader.behind_comm");
_Static_assert(sizeof(struct task) == 24, "task size");
_Static_assert(offsetof(struct task, tid) == 4, "task.tid");
_Static_assert(offsetof(struct task, comm) == 8, "task.comm");
_Static_assert(sizeof(struct rec_event) == 184 + 8 * NR_MARKS,
	       "rec_event size");
_Static_assert(offsetof(struct rec_event, kind) == 4, "rec_event.kind");
_Static_assert(offsetof(struct rec_event, cgroup_id) == 8,
	       "rec_event.cgroup_id");
_Static_assert(offsetof(struct rec_event, flow) == 16, "rec_event.flow");
_Static_assert(offsetof(struct rec_event, pid) == 60, "rec_event.pid");
_Static_assert(offsetof(struct rec_event, tid) == 64, "rec_event.tid");
_Static_assert(offsetof(struct rec_event, comm) == 68, "rec_event.comm");
_Static_assert(offsetof(struct rec_event, softirq) == 84, "rec_event.softirq");
_Static_assert(offsetof(struct rec_event, reader) == 112, "rec_event.reader");
_Static_assert(offsetof(struct rec_event, sender) == 160, "rec_event.sender");
_Static_assert(offsetof(struct rec_event, marks) == 184, "rec_event.marks");
_Static_assert(sizeof(struct rec_drop) == 112, "rec_drop size");
_Static_assert(offsetof(struct rec_drop, reason) == 4, "rec_drop.reason");
_Static_assert(offsetof(struct rec_drop, time_ns) == 8, "rec_drop.time_ns");
_Static_assert(offsetof(struct rec_drop, flow) == 16, "rec_drop.flow");
_Static_assert(offsetof(struct rec_drop, reason_name) == 64,
	       "rec_drop.reason_name");
_Static_assert(sizeof(struct rec_hello) == 344, "rec_hello size");
_Static_assert(offsetof(struct rec_hello, version) == 4, "rec_hello.version");
_Static_assert(offsetof(struct rec_hello, plan) == 6, "rec_hello.plan");
_Static_assert(offsetof(struct rec_hello, marks) == 8, "rec_hello.marks");
_Static_assert(offsetof(struct rec_hello, direction) == 12,
	       "rec_hello.direction");
_Static_assert(offsetof(struct rec_hello, realtime_offset_ns) == 16,
	       "rec_hello.realtime_offset_ns");
_Static_assert(offsetof(struct rec_hello, kernel_release) == 24,
	       "rec_hello.kernel_release");
_Static_assert(offsetof(struct rec_hello, notes) == 88, "rec_hello.notes");
_Static_assert(sizeof(struct rec_stats) == 16 + 8 * NR_COUNTERS,
	       "rec_stats size");
_Static_assert(offsetof(struct rec_stats, time_ns) == 8, "rec_stats.time_ns");
_Static_assert(offsetof(struct rec_stats, counters) == 16,
	       "rec_stats.counters");
_Static_assert(sizeof(struct rec_hist) == 328, "rec_hist size");
_Static_assert(offsetof(struct rec_hist, stage) == 4, "rec_hist.stage");
_Static_assert(offsetof(struct rec_hist, slots) == 8, "rec_hist.slots");
_Static_assert(sizeof(struct rec_drop_count) == 64, "rec_drop_count size");
_Static_assert(offsetof(struct rec_drop_count, reason) == 4,
	       "rec_drop_count.reason");
_Static_assert(offsetof(struct rec_drop_count, count) == 8,
	       "rec_drop_count.count");
_Static_assert(offsetof(struct rec_drop_count, reason_name) == 16,
	       "rec_drop_count.reason_name");
_Static_assert(sizeof(struct rec_error) == 264, "rec_error size");
_Static_assert(offsetof(struct rec_error, err) == 4, "rec_error.err");
_Static_assert(offsetof(struct rec_error, message) == 8, "rec_error.message");
_Static_assert(sizeof(struct rec_bye) == 8, "rec_bye size");
_Static_assert(offsetof(struct rec_bye, status) == 4, "rec_bye.status");

#define FRAME(rec, t)                           \
	do {                                    \
		memset(&(rec), 0, sizeof(rec)); \
		(rec).hdr.type = (t);           \
		(rec).hdr.size = sizeof(rec);   \
	} while (0)

static void put(const void *rec, size_t size)
{
	fwrite(rec, size, 1, stdout);
}

static void put_hello(void)
{
	struct rec_hello hello;

	FRAME(hello, REC_HELLO);
	hello.version = UDPLAT_PROTO_VERSION;
	hello.plan = PLAN_TRACEPOINT;
	hello.marks = MARK_BIT(SEND) | MARK_BIT(QUEUED) | MARK_BIT(XMIT_START) |
		      MARK_BIT(XMIT_DONE) | MARK_BIT(RX) | MARK_BIT(ARRIVE) |
		      MARK_BIT(READ) | MARK_BIT(RETURN) | MARK_BIT(SENT);
	hello.direction = EVENT_RECEIVE | EVENT_SEND;
	hello.realtime_offset_ns = 1764000000123456789LL;
	strcpy(hello.kernel_release, "6.18.44-test");
	strcpy(hello.notes, "fentry: -EPERM; kprobe: not configured");
	put(&hello, sizeof(hello));
}

/*
 * A full IPv4 event: 127.0.0.1:40000 -> 127.0.0.2:9999, 2^53 + 1 keeps 64-bit
 * reads honest; 10 us in the backlog of CPU 1, emptied by ksoftirqd, while
 * "spinner" held it; its reader waited 19 ms for a CPU "hog" held.
 */
static void put_event4(void)
{
	struct rec_event ev4;

	FRAME(ev4, REC_EVENT);
	ev4.kind = EVENT_RECEIVE;
	ev4.marks[MARK_RX] = 999990000ULL;
	ev4.marks[MARK_ARRIVE] = 1000000000ULL;
	ev4.marks[MARK_ENQUEUE] = 1000010000ULL;
	ev4.marks[MARK_READ] = 1020010000ULL;
	ev4.marks[MARK_RETURN] = 1020015000ULL;
	ev4.cgroup_id = (1ULL << 53) + 1;
	inet_pton(AF_INET, "127.0.0.1", ev4.flow.saddr);
	inet_pton(AF_INET, "127.0.0.2", ev4.flow.daddr);
	ev4.pid = 4242;
	ev4.tid = 4243;
	ev4.flow.len = 512;
	ev4.flow.sport = 40000;
	ev4.flow.dport = 9999;
	ev4.flow.family = AF_INET;
	strcpy(ev4.comm, "receiver");
	ev4.softirq.cpu = 1;
	ev4.softirq.flags = SOFTIRQ_SEEN | SOFTIRQ_IN_KSOFTIRQD;
	ev4.softirq.behind_pid = 777;
	strcpy(ev4.softirq.behind_comm, "spinner");
	ev4.reader.ns[READER_ON_CPU] = 1000;
	ev4.reader.ns[READER_RUNQUEUE] = 19000000;
	ev4.reader.ns[READER_OFF_CPU] = 999000;
	ev4.reader.verdict = VERDICT_STATE + READER_RUNQUEUE;
	ev4.reader.behind_pid = 778;
	strcpy(ev4.reader.behind_comm, "hog");
	put(&ev4, sizeof(ev4));
}

/* An IPv6 event whose plan saw no rx and no enqueue mark: no softirq known, its reader's history unknown. */
static void put_event6(void)
{
	struct rec_event ev6;

	FRAME(ev6, REC_EVENT);
	ev6.kind = EVENT_RECEIVE;
	ev6.marks[MARK_ARRIVE] = 2000000000ULL;
	ev6.marks[MARK_READ] = 2005000000ULL;
	ev6.marks[MARK_RETURN] = 2005000100ULL;
	ev6.cgroup_id = 1;
	inet_pton(AF_INET6, "2001:db8::1", ev6.flow.saddr);
	inet_pton(AF_INET6, "::1", ev6.flow.daddr);
	ev6.pid = 7;
	ev6.tid = 7;
	ev6.flow.len = 0;
	ev6.flow.sport = 53;
	ev6.flow.dport = 5353;
	ev6.flow.family = AF_INET6;
	strcpy(ev6.comm, "fifteen-chars-x");
	ev6.reader.verdict = VERDICT_UNKNOWN;
	put(&ev6, sizeof(ev6));
}

/*
 * A send event, 10.0.0.1:5000 -> 10.0.0.2:6000 by "sender": 10 ms in the
 * qdisc, its call returned before it left.
 */
static void put_event_send(void)
{
	struct rec_event ev;

	FRAME(ev, REC_EVENT);
	ev.kind = EVENT_SEND;
	ev.marks[MARK_SEND] = 5000000000ULL;
	ev.marks[MARK_QUEUED] = 5000020000ULL;
	ev.marks[MARK_XMIT_START] = 5010020000ULL;
	ev.marks[MARK_XMIT_DONE] = 5010023000ULL;
	ev.marks[MARK_SENT] = 5000025000ULL;
	ev.cgroup_id = 9;
	inet_pton(AF_INET, "10.0.0.1", ev.flow.saddr);
	inet_pton(AF_INET, "10.0.0.2", ev.flow.daddr);
	ev.flow.len = 1200;
	ev.flow.sport = 5000;
	ev.flow.dport = 6000;
	ev.flow.family = AF_INET;
	ev.pid = 31;
	ev.tid = 32;
	strcpy(ev.comm, "sender");
	ev.sender.pid = 31;
	ev.sender.tid = 32;
	strcpy(ev.sender.comm, "sender");
	put(&ev, sizeof(ev));
}

static void put_drop(void)
{
	struct rec_drop drop;

	FRAME(drop, REC_DROP);
	drop.reason = 6;
	drop.time_ns = 3000000000ULL;
	inet_pton(AF_INET, "10.0.0.1", drop.flow.saddr);
	inet_pton(AF_INET, "10.0.0.2", drop.flow.daddr);
	drop.flow.len = 1400;
	drop.flow.sport = 1234;
	drop.flow.dport = 9999;
	drop.flow.family = AF_INET;
	strcpy(drop.reason_name, "SOCKET_RCVBUFF");
	put(&drop, sizeof(drop));
}

/* Counters 1000, 10, 8, 2, 3, 1, 4, 5, 6, 2, 1, 1 in table order; slot i of the queue's histogram holds i. */
static void put_counts(void)
{
	static const __u64 counters[NR_COUNTERS] = { 1000, 10, 8, 2, 3, 1,
						     4,	   5,  6, 2, 1, 1 };
	struct rec_stats stats;
	struct rec_hist hist;
	struct rec_drop_count dc;
	int i;

	FRAME(stats, REC_STATS);
	stats.time_ns = 4000000000ULL;
	memcpy(stats.counters, counters, sizeof(counters));
	put(&stats, sizeof(stats));

	FRAME(hist, REC_HIST);
	hist.stage = STAGE_QUEUE;
	for (i = 0; i < MAX_SLOTS; i++)
		hist.slots[i] = i;
	hist.slots[MAX_SLOTS - 1] = (1ULL << 40) + 3;
	put(&hist, sizeof(hist));

	FRAME(dc, REC_DROP_COUNT);
	dc.reason = 6;
	dc.count = 3;
	strcpy(dc.reason_name, "SOCKET_RCVBUFF");
	put(&dc, sizeof(dc));
}

static void put_end(void)
{
	struct rec_error err;
	struct rec_bye bye;

	FRAME(err, REC_ERROR);
	err.err = -1;
	strcpy(err.message,
	       "failed to attach tp_btf/netif_receive_skb: -EPERM");
	put(&err, sizeof(err));

	FRAME(bye, REC_BYE);
	bye.status = 0;
	put(&bye, sizeof(bye));
}

int main(void)
{
	put_hello();
	put_event4();
	put_event6();
	put_event_send();
	put_drop();
	put_counts();
	put_end();
	return fflush(stdout) ? 1 : 0;
}
