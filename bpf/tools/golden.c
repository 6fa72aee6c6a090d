// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Writes one record of every type, with fixed values, to stdout. Its output
 * is committed as test/fixtures/records.bin: the C side is pinned by
 * comparing the two, the service side by parsing the file
 * (test/probe/records.test.ts and test/probe/events.test.ts expect exactly these values).
 */
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/types.h>
#include "udplat.h"

_Static_assert(sizeof(struct rec_event) == 120, "rec_event layout");
_Static_assert(sizeof(struct rec_drop) == 112, "rec_drop layout");
_Static_assert(sizeof(struct rec_hello) == 336, "rec_hello layout");
_Static_assert(sizeof(struct rec_stats) == 80, "rec_stats layout");
_Static_assert(sizeof(struct rec_hist) == 328, "rec_hist layout");
_Static_assert(sizeof(struct rec_drop_count) == 64, "rec_drop_count layout");
_Static_assert(sizeof(struct rec_error) == 264, "rec_error layout");
_Static_assert(sizeof(struct rec_bye) == 8, "rec_bye layout");

#define FRAME(rec, t) \
	do { \
		memset(&(rec), 0, sizeof(rec)); \
		(rec).hdr.type = (t); \
		(rec).hdr.size = sizeof(rec); \
	} while (0)

static void put(const void *rec, size_t size)
{
	fwrite(rec, size, 1, stdout);
}

int main(void)
{
	struct rec_hello hello;
	struct rec_event ev4, ev6;
	struct rec_drop drop;
	struct rec_stats stats;
	struct rec_hist hist;
	struct rec_drop_count dc;
	struct rec_error err;
	struct rec_bye bye;
	int i;

	FRAME(hello, REC_HELLO);
	hello.version = UDPLAT_PROTO_VERSION;
	hello.plan = PLAN_TRACEPOINT;
	hello.marks = MARK_ARRIVE | MARK_READ | MARK_RETURN;
	hello.realtime_offset_ns = 1764000000123456789LL;
	strcpy(hello.kernel_release, "6.18.44-test");
	strcpy(hello.notes, "fentry: -EPERM; kprobe: not configured");
	put(&hello, sizeof(hello));

	/* A full IPv4 event: 127.0.0.1:40000 -> 127.0.0.2:9999, 2^53 + 1 keeps 64-bit reads honest. */
	FRAME(ev4, REC_EVENT);
	ev4.arrive_ns = 1000000000ULL;
	ev4.enqueue_ns = 1000010000ULL;
	ev4.read_ns = 1020010000ULL;
	ev4.return_ns = 1020015000ULL;
	ev4.cgroup_id = (1ULL << 53) + 1;
	inet_pton(AF_INET, "127.0.0.1", ev4.saddr);
	inet_pton(AF_INET, "127.0.0.2", ev4.daddr);
	ev4.pid = 4242;
	ev4.tid = 4243;
	ev4.len = 512;
	ev4.sport = 40000;
	ev4.dport = 9999;
	ev4.family = AF_INET;
	strcpy(ev4.comm, "receiver");
	put(&ev4, sizeof(ev4));

	/* An IPv6 event whose plan saw no enqueue mark. */
	FRAME(ev6, REC_EVENT);
	ev6.arrive_ns = 2000000000ULL;
	ev6.read_ns = 2005000000ULL;
	ev6.return_ns = 2005000100ULL;
	ev6.cgroup_id = 1;
	inet_pton(AF_INET6, "2001:db8::1", ev6.saddr);
	inet_pton(AF_INET6, "::1", ev6.daddr);
	ev6.pid = 7;
	ev6.tid = 7;
	ev6.len = 0;
	ev6.sport = 53;
	ev6.dport = 5353;
	ev6.family = AF_INET6;
	strcpy(ev6.comm, "fifteen-chars-x");
	put(&ev6, sizeof(ev6));

	FRAME(drop, REC_DROP);
	drop.reason = 6;
	drop.time_ns = 3000000000ULL;
	inet_pton(AF_INET, "10.0.0.1", drop.saddr);
	inet_pton(AF_INET, "10.0.0.2", drop.daddr);
	drop.len = 1400;
	drop.sport = 1234;
	drop.dport = 9999;
	drop.family = AF_INET;
	strcpy(drop.reason_name, "SOCKET_RCVBUFF");
	put(&drop, sizeof(drop));

	FRAME(stats, REC_STATS);
	stats.time_ns = 4000000000ULL;
	stats.matched = 1000;
	stats.slow = 10;
	stats.emitted = 8;
	stats.kernel_lost = 2;
	stats.drops = 3;
	stats.drops_lost = 1;
	stats.stale = 4;
	stats.untracked = 5;
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

	FRAME(err, REC_ERROR);
	err.err = -1;
	strcpy(err.message, "failed to attach tp_btf/netif_receive_skb: -EPERM");
	put(&err, sizeof(err));

	FRAME(bye, REC_BYE);
	bye.status = 0;
	put(&bye, sizeof(bye));

	return fflush(stdout) ? 1 : 0;
}
