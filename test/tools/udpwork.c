// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * udpwork: UDP workloads with ground truth for udplat's tests.
 *
 *   recv   read datagrams after a known delay and print, per datagram, the
 *          kernel's own receive timestamp (SO_TIMESTAMPNS), the time right
 *          before the receive call and the time it returned: the brackets
 *          udplat's marks must fall in; optionally
 *          peeking first, on a connected socket, or with several reader
 *          threads on one socket or on an SO_REUSEPORT group
 *   send   send N numbered datagrams at a fixed interval, optionally in
 *          bursts and with a length that identifies each one, or each
 *          while a SCHED_FIFO task holds the CPU whose backlog it will wait in;
 *          optionally print, per datagram, the kernel's own transmit
 *          timestamps (SO_TIMESTAMPING: before the qdisc, in the driver)
 *   flood  send as fast as possible for a fixed time
 *   sink   count datagrams received for a fixed time
 *
 * Every subcommand prints JSON lines on stdout and diagnostics on stderr.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TOOL_NAME "udpwork"
#include "tools.h"

#define MAX_DATAGRAM_LEN	65535
#define MAX_BATCH		1024
#define ADDR_STR_LEN		(INET6_ADDRSTRLEN + 8)	/* "[addr]:port" */
#define MAX_READERS		64
/* How often a reader thread blocked in recvmsg looks whether it should stop. */
#define READER_WAKE_MS		20
/* Above every CFS task, ksoftirqd included; below the irq threads (50). */
#define SPINNER_PRIO		1
/* The spinner's name, so that a tool names it apart from udpwork's receivers. */
#define SPINNER_COMM		"udpspin"
/* How long the spinner waits for a datagram to reach its CPU's backlog. */
#define SPINNER_WAIT_MS		2000

struct endpoint {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* The system call a single read makes: recvmsg (with the kernel's timestamp), recvfrom or read(2) (without). */
enum read_call { READ_RECVMSG, READ_RECVFROM, READ_READ };

struct options {
	struct endpoint bind;
	struct endpoint to;
	bool has_bind;
	bool has_to;
	long count;		/* datagrams; -1: unlimited */
	long delay_ms;
	long batch;
	bool use_recvmmsg;
	enum read_call read_call; /* single reads: which system call */
	long rcvbuf_bytes;	/* 0: kernel default */
	bool no_read;
	long timeout_ms;	/* -1: none */
	long peeks;		/* MSG_PEEK reads before each read */
	struct endpoint connect;
	bool has_connect;
	long sockets;		/* 0: one socket without SO_REUSEPORT */
	long threads;		/* reader threads per socket */
	long len;
	long len_cycle;		/* datagram i is len + i % len_cycle bytes */
	long burst;		/* datagrams sent back to back per interval */
	long interval_us;
	long seconds;
	long starve_cpu;	/* -1: no spinner */
	long starve_ms;
	bool tx_stamps;		/* send: print each datagram's transmit timestamps */
};

static void usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, TOOL_NAME ": %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
	fprintf(stderr,
		"usage: udpwork recv --bind ADDR:PORT [--count N] [--delay-ms D] [--batch K]\n"
		"                    [--recvmmsg] [--rcvbuf BYTES] [--no-read] [--timeout-ms T]\n"
		"                    [--peek P] [--connect ADDR:PORT] [--call recvfrom|read]\n"
		"                    [--threads T] [--reuseport S]\n"
		"       udpwork send --to ADDR:PORT [--count N] [--len L] [--interval-us I]\n"
		"                    [--bind ADDR:PORT] [--len-cycle C] [--burst B]\n"
		"                    [--starve-cpu C --starve-ms D] [--tx-stamps]\n"
		"       udpwork flood --to ADDR:PORT --seconds S [--len L]\n"
		"       udpwork sink --bind ADDR:PORT --seconds S\n"
		"ADDR:PORT is 127.0.0.1:9999 or [::1]:9999; port 0 picks an ephemeral port\n"
		"recv --call: read with recvfrom or read(2) instead of recvmsg (no kernel\n"
		"timestamp then); --peek P: peek P times (MSG_PEEK) before each read; --connect: connect\n"
		"the socket to the sender's ADDR:PORT; --reuseport S: S sockets on the port\n"
		"with SO_REUSEPORT; --threads T: T threads reading each socket. With\n"
		"--threads or --reuseport, readers print when they exit, with socket and tid.\n"
		"send --len-cycle C: datagram i is L + i %% C bytes; --burst B: B datagrams\n"
		"back to back every I microseconds; with --interval-us the sender exits an\n"
		"interval after the last datagram, not while it is on its way; --starve-cpu C\n"
		"--starve-ms D: before each datagram, a SCHED_FIFO process (comm " SPINNER_COMM ")\n"
		"takes CPU C and, once the datagram waits in C's backlog, holds C D ms more;\n"
		"prints, per datagram, when the spinner saw it queued and when it let go\n"
		"(CLOCK_MONOTONIC); --tx-stamps: once all are sent, prints per datagram\n"
		"when the call began (sendMonoNs, CLOCK_MONOTONIC) and the kernel's\n"
		"transmit timestamps (CLOCK_REALTIME): schedNs before the qdisc,\n"
		"softwareNs in the driver, null when none came within 2 s\n");
	exit(2);
}

/* "1.2.3.4:P" or "[v6]:P" */
static void parse_endpoint(const char *arg, struct endpoint *ep)
{
	char host[INET6_ADDRSTRLEN];
	const char *colon, *start = arg;
	size_t host_len;
	long port;

	memset(ep, 0, sizeof(*ep));
	colon = strrchr(arg, ':');
	if (!colon)
		usage_error("address needs a port", arg);
	if (*arg == '[') {
		if (colon == arg || colon[-1] != ']')
			usage_error("invalid IPv6 address", arg);
		start = arg + 1;
		host_len = colon - 1 - start;
	} else {
		host_len = colon - start;
	}
	if (host_len >= sizeof(host))
		usage_error("invalid address", arg);
	memcpy(host, start, host_len);
	host[host_len] = '\0';
	port = parse_long(colon + 1, 0, 65535);

	if (*arg == '[') {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ep->ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			usage_error("invalid IPv6 address", arg);
		ep->len = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ep->ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			usage_error("invalid IPv4 address", arg);
		ep->len = sizeof(*sin);
	}
}

static int endpoint_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

static void format_endpoint(const struct sockaddr_storage *ss, char *buf)
{
	char host[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr,
			  host, sizeof(host));
		snprintf(buf, ADDR_STR_LEN, "[%s]:%d", host, endpoint_port(ss));
	} else {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr,
			  host, sizeof(host));
		snprintf(buf, ADDR_STR_LEN, "%s:%d", host, endpoint_port(ss));
	}
}

static int bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		fail("get socket name");
	return endpoint_port(&ss);
}

static int open_socket(const struct endpoint *ep)
{
	int fd = socket(ep->ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		fail("create socket");
	return fd;
}

static int open_bound_socket(const struct endpoint *ep, long rcvbuf_bytes,
			     bool reuseport)
{
	int fd = open_socket(ep);
	int one = 1, bytes = rcvbuf_bytes;

	if (rcvbuf_bytes &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes)))
		fail("set SO_RCVBUF");
	if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)))
		fail("set SO_TIMESTAMPNS");
	if (reuseport &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)))
		fail("set SO_REUSEPORT");
	if (bind(fd, (const struct sockaddr *)&ep->ss, ep->len))
		fail("bind socket");
	return fd;
}

/* The receiving socket: bound, and connected when asked. */
static int open_recv_socket(const struct options *o, const struct endpoint *ep,
			    bool reuseport)
{
	int fd = open_bound_socket(ep, o->rcvbuf_bytes, reuseport);

	if (o->has_connect &&
	    connect(fd, (const struct sockaddr *)&o->connect.ss, o->connect.len))
		fail("connect socket");
	return fd;
}

static void sleep_ns(long long ns)
{
	struct timespec ts = { .tv_sec = ns / NSEC_PER_SEC,
			       .tv_nsec = ns % NSEC_PER_SEC };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Sleeps until CLOCK_MONOTONIC reaches deadline_ns. */
static void sleep_until_ns(long long deadline_ns)
{
	struct timespec ts = { .tv_sec = deadline_ns / NSEC_PER_SEC,
			       .tv_nsec = deadline_ns % NSEC_PER_SEC };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* Waits until fd is readable; false once deadline_ns (-1: none) has passed. */
static bool wait_readable(int fd, long long deadline_ns)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	long long left_ns;
	int ret;

	do {
		left_ns = deadline_ns < 0 ? -1 : deadline_ns - clock_ns(CLOCK_MONOTONIC);
		if (deadline_ns >= 0 && left_ns <= 0)
			return false;
		ret = poll(&pfd, 1, left_ns < 0 ? -1 : (int)((left_ns + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC));
	} while (ret == 0 || (ret < 0 && errno == EINTR));
	if (ret < 0)
		fail("poll socket");
	return true;
}

/* One datagram's receive buffers, and when its read returned. */
struct rx_slot {
	struct sockaddr_storage src;
	struct iovec iov;
	char cmsg[CMSG_SPACE(sizeof(struct timespec))];
	long long call_mono_ns;		/* CLOCK_MONOTONIC right before the call that read it */
	long long return_ns;		/* CLOCK_REALTIME right after it returned */
	long long return_mono_ns;	/* CLOCK_MONOTONIC right after it returned, before return_ns */
	unsigned char data[MAX_DATAGRAM_LEN];
};

static struct rx_slot *rx_slots;
static struct mmsghdr *rx_msgs;

/*
 * Writes every page of the buffers now: a page fault while recvmsg copies
 * the source address out would land between the kernel's return and our
 * timestamp (tens of microseconds under qemu TCG).
 */
static void alloc_rx(int n)
{
	rx_slots = malloc(n * sizeof(*rx_slots));
	rx_msgs = malloc(n * sizeof(*rx_msgs));
	if (!rx_slots || !rx_msgs)
		fail("allocate receive buffers");
	memset(rx_slots, 0xff, n * sizeof(*rx_slots));
	memset(rx_msgs, 0xff, n * sizeof(*rx_msgs));
}

static void prepare_slot(struct rx_slot *slot, struct msghdr *msg)
{
	slot->iov.iov_base = slot->data;
	slot->iov.iov_len = sizeof(slot->data);
	memset(msg, 0, sizeof(*msg));
	msg->msg_name = &slot->src;
	msg->msg_namelen = sizeof(slot->src);
	msg->msg_iov = &slot->iov;
	msg->msg_iovlen = 1;
	msg->msg_control = slot->cmsg;
	msg->msg_controllen = sizeof(slot->cmsg);
}

static void prepare_rx(int n)
{
	for (int i = 0; i < n; i++)
		prepare_slot(&rx_slots[i], &rx_msgs[i].msg_hdr);
}

/* One datagram into msg's buffer, with the system call asked for. */
static ssize_t read_datagram(int fd, struct msghdr *msg, enum read_call call)
{
	switch (call) {
	case READ_RECVFROM:
		msg->msg_controllen = 0;
		return recvfrom(fd, msg->msg_iov->iov_base, msg->msg_iov->iov_len,
				0, msg->msg_name, &msg->msg_namelen);
	case READ_READ:
		/* read(2) gives no address: src prints as 0.0.0.0:0. */
		memset(msg->msg_name, 0, sizeof(struct sockaddr_storage));
		msg->msg_controllen = 0;
		return read(fd, msg->msg_iov->iov_base, msg->msg_iov->iov_len);
	default:
		return recvmsg(fd, msg, 0);
	}
}

/* Looks at the next datagram without dequeuing it; msg stays ready for the read. */
static ssize_t peek_datagram(int fd, const struct msghdr *msg)
{
	struct msghdr peek = *msg;

	return recvmsg(fd, &peek, MSG_PEEK);
}

static long long kernel_timestamp_ns(struct msghdr *msg)
{
	struct cmsghdr *cmsg;
	struct timespec ts;

	for (cmsg = CMSG_FIRSTHDR(msg); cmsg; cmsg = CMSG_NXTHDR(msg, cmsg)) {
		if (cmsg->cmsg_level == SOL_SOCKET &&
		    cmsg->cmsg_type == SCM_TIMESTAMPNS) {
			memcpy(&ts, CMSG_DATA(cmsg), sizeof(ts));
			return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
		}
	}
	return -1;
}

/*
 * Whether the kernel stamps datagrams as they arrive (SO_TIMESTAMPNS, in
 * netif_rx), waiting for it a while: it does so only while net timestamping
 * is on, which a socket's SO_TIMESTAMPNS turns on from a workqueue a little
 * later; until then a datagram is stamped when it is read, which is no ground
 * truth. A witness socket on loopback sends itself a byte and leaves it
 * queued a while: stamped on arrival, its stamp comes well before the read.
 * False when no stamp came on arrival, or when loopback is down (a network
 * namespace's lo, unless brought up, delivers nothing): unverified.
 */
#define WITNESS_QUEUED_US	1000
#define WITNESS_TRIES		200

static bool arrival_stamps(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval wait = { .tv_usec = 10 * WITNESS_QUEUED_US };
	char byte = 0, cmsg[CMSG_SPACE(sizeof(struct timespec))];
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cmsg };
	socklen_t len = sizeof(addr);
	int fd = socket(AF_INET, SOCK_DGRAM, 0), one = 1;

	if (fd < 0)
		fail("open the timestamp witness");
	/* It stays open: one more socket that keeps timestamping on. */
	if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof(wait)) ||
	    bind(fd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    getsockname(fd, (struct sockaddr *)&addr, &len))
		return false;
	for (int i = 0; i < WITNESS_TRIES; i++) {
		long long stamp_ns, read_ns;

		if (sendto(fd, &byte, 1, 0, (struct sockaddr *)&addr, sizeof(addr)) != 1)
			return false;
		sleep_ns(WITNESS_QUEUED_US * NSEC_PER_USEC);
		msg.msg_controllen = sizeof(cmsg);
		read_ns = clock_ns(CLOCK_REALTIME);
		if (recvmsg(fd, &msg, 0) != 1)
			return false;
		stamp_ns = kernel_timestamp_ns(&msg);
		if (stamp_ns >= 0 && stamp_ns + WITNESS_QUEUED_US / 2 * NSEC_PER_USEC < read_ns)
			return true;
	}
	return false;
}

/* The payload starts with the sender's index as a big-endian u32. */
static long payload_seq(const unsigned char *data, size_t len)
{
	uint32_t seq;

	if (len < sizeof(seq))
		return -1;
	memcpy(&seq, data, sizeof(seq));
	return ntohl(seq);
}

/* One datagram read, as printed; socket and tid only when there are several readers. */
struct datagram {
	long i;
	size_t len;
	struct sockaddr_storage src;
	long seq;
	long long kernel_ns;
	long long call_mono_ns;
	long long return_ns;
	long long return_mono_ns;
	int socket;		/* -1: the only reader */
	long tid;
};

static void record_datagram(struct datagram *d, long i, const struct rx_slot *slot,
			    struct msghdr *msg, size_t len)
{
	d->i = i;
	d->len = len;
	d->src = slot->src;
	d->seq = payload_seq(slot->data, len);
	d->kernel_ns = kernel_timestamp_ns(msg);
	d->call_mono_ns = slot->call_mono_ns;
	d->return_ns = slot->return_ns;
	d->return_mono_ns = slot->return_mono_ns;
	d->socket = -1;
	d->tid = 0;
}

static void print_datagram(const struct datagram *d)
{
	char src[ADDR_STR_LEN];

	format_endpoint(&d->src, src);
	printf("{\"i\":%ld,\"len\":%zu,\"src\":\"%s\",", d->i, d->len, src);
	if (d->seq >= 0)
		printf("\"seq\":%ld,", d->seq);
	else
		printf("\"seq\":null,");
	if (d->kernel_ns >= 0)
		printf("\"kernelNs\":%lld,\"returnNs\":%lld,\"waitNs\":%lld,",
		       d->kernel_ns, d->return_ns, d->return_ns - d->kernel_ns);
	else
		printf("\"kernelNs\":null,\"returnNs\":%lld,\"waitNs\":null,",
		       d->return_ns);
	printf("\"callMonoNs\":%lld,\"returnMonoNs\":%lld", d->call_mono_ns,
	       d->return_mono_ns);
	if (d->socket >= 0)
		printf(",\"socket\":%d,\"tid\":%ld", d->socket, d->tid);
	printf("}\n");
	fflush(stdout);
}

/*
 * Reads up to n datagrams, with one recvmmsg or with n recvmsg back to back,
 * stopping early at deadline_ns; returns how many it read.
 */
static int read_batch(int fd, int n, const struct options *o,
		      long long deadline_ns, long first_index)
{
	struct datagram d;
	int got = 0;

	prepare_rx(n);
	if (o->use_recvmmsg) {
		if (!wait_readable(fd, deadline_ns))
			return 0;
		rx_slots[0].call_mono_ns = clock_ns(CLOCK_MONOTONIC);
		got = recvmmsg(fd, rx_msgs, n, MSG_WAITFORONE, NULL);
		rx_slots[0].return_mono_ns = clock_ns(CLOCK_MONOTONIC);
		rx_slots[0].return_ns = clock_ns(CLOCK_REALTIME);
		if (got < 0)
			fail("receive datagrams");
		for (int i = 1; i < got; i++) {
			rx_slots[i].call_mono_ns = rx_slots[0].call_mono_ns;
			rx_slots[i].return_ns = rx_slots[0].return_ns;
			rx_slots[i].return_mono_ns = rx_slots[0].return_mono_ns;
		}
	} else {
		for (; got < n && wait_readable(fd, deadline_ns); got++) {
			ssize_t len;

			for (long p = 0; p < o->peeks; p++)
				if (peek_datagram(fd, &rx_msgs[got].msg_hdr) < 0)
					fail("peek at datagram");
			rx_slots[got].call_mono_ns = clock_ns(CLOCK_MONOTONIC);
			len = read_datagram(fd, &rx_msgs[got].msg_hdr, o->read_call);
			rx_slots[got].return_mono_ns = clock_ns(CLOCK_MONOTONIC);
			rx_slots[got].return_ns = clock_ns(CLOCK_REALTIME);
			if (len < 0)
				fail("receive datagram");
			rx_msgs[got].msg_len = len;
		}
	}
	for (int i = 0; i < got; i++) {
		record_datagram(&d, first_index + i, &rx_slots[i],
				&rx_msgs[i].msg_hdr, rx_msgs[i].msg_len);
		print_datagram(&d);
	}
	return got;
}

/* A reader thread of --threads or --reuseport, and what it read. */
struct reader {
	pthread_t thread;
	const struct options *o;
	int fd;
	int socket;
	struct rx_slot *slot;
	struct datagram *got;
	long nr_got;
	long cap;
};

static long readers_received;
static bool readers_done;
static long long readers_deadline_ns = -1;

static bool readers_should_stop(void)
{
	return __atomic_load_n(&readers_done, __ATOMIC_RELAXED) ||
	       (readers_deadline_ns >= 0 && clock_ns(CLOCK_MONOTONIC) >= readers_deadline_ns);
}

static void keep_datagram(struct reader *r, const struct datagram *d)
{
	if (r->nr_got == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 1024;
		r->got = realloc(r->got, r->cap * sizeof(*r->got));
		if (!r->got)
			fail("allocate datagram records");
	}
	r->got[r->nr_got++] = *d;
}

/*
 * Blocks in recvmsg, as a multi-threaded server does; SO_RCVTIMEO wakes it
 * to look whether the readers are done. Keeps what it read for printing at
 * the end, so output does not serialize the readers.
 */
static void *reader_run(void *arg)
{
	struct reader *r = arg;
	const struct options *o = r->o;
	long tid = syscall(SYS_gettid);
	bool delayed = false;
	struct msghdr msg;
	struct datagram d;
	ssize_t len;
	long i;

	while (!readers_should_stop()) {
		if (o->delay_ms && !delayed)
			sleep_ns(o->delay_ms * NSEC_PER_MSEC);
		delayed = true;
		prepare_slot(r->slot, &msg);
		len = 0;
		for (long p = 0; p < o->peeks && len >= 0; p++)
			len = peek_datagram(r->fd, &msg);
		r->slot->call_mono_ns = clock_ns(CLOCK_MONOTONIC);
		if (len >= 0)
			len = recvmsg(r->fd, &msg, 0);
		r->slot->return_mono_ns = clock_ns(CLOCK_MONOTONIC);
		r->slot->return_ns = clock_ns(CLOCK_REALTIME);
		if (len < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			fail("receive datagram");
		}
		delayed = false;
		i = __atomic_fetch_add(&readers_received, 1, __ATOMIC_RELAXED);
		record_datagram(&d, i, r->slot, &msg, len);
		d.socket = r->socket;
		d.tid = tid;
		keep_datagram(r, &d);
		if (o->count >= 0 && i + 1 >= o->count)
			__atomic_store_n(&readers_done, true, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void set_endpoint_port(struct endpoint *ep, int port)
{
	if (ep->ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&ep->ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)&ep->ss)->sin_port = htons(port);
}

/* --threads readers on each of the --reuseport sockets (or on one socket). */
static int recv_with_readers(const struct options *o, long long deadline_ns)
{
	struct timeval wake = { .tv_usec = READER_WAKE_MS * 1000 };
	long nr_sockets = o->sockets ? o->sockets : 1;
	long nr_readers = nr_sockets * o->threads;
	struct endpoint ep = o->bind;
	struct reader *readers;
	struct datagram *all;
	int fds[MAX_READERS] = { 0 };
	long n;

	readers = calloc(nr_readers, sizeof(*readers));
	if (!readers)
		fail("allocate readers");
	for (long s = 0; s < nr_sockets; s++) {
		fds[s] = open_recv_socket(o, &ep, o->sockets > 0);
		if (setsockopt(fds[s], SOL_SOCKET, SO_RCVTIMEO, &wake, sizeof(wake)))
			fail("set SO_RCVTIMEO");
		/* The rest of the group joins the port the first one got. */
		set_endpoint_port(&ep, bound_port(fds[0]));
	}
	printf("{\"ready\":true,\"port\":%d,\"pid\":%d,\"tid\":%ld,\"arrivalStamps\":%s}\n",
	       bound_port(fds[0]), getpid(), (long)syscall(SYS_gettid),
	       arrival_stamps() ? "true" : "false");
	fflush(stdout);

	readers_deadline_ns = deadline_ns;
	for (long k = 0; k < nr_readers; k++) {
		struct reader *r = &readers[k];

		r->o = o;
		r->socket = k / o->threads;
		r->fd = fds[r->socket];
		/* Written now, as alloc_rx does, to keep page faults out of the reads. */
		r->slot = malloc(sizeof(*r->slot));
		if (!r->slot)
			fail("allocate receive buffers");
		memset(r->slot, 0xff, sizeof(*r->slot));
		errno = pthread_create(&r->thread, NULL, reader_run, r);
		if (errno)
			fail("start reader thread");
	}
	for (long k = 0; k < nr_readers; k++)
		pthread_join(readers[k].thread, NULL);

	/* Every read took a distinct index below readers_received: print in that order. */
	n = readers_received;
	all = calloc(n ? n : 1, sizeof(*all));
	if (!all)
		fail("allocate datagram records");
	for (long k = 0; k < nr_readers; k++)
		for (long j = 0; j < readers[k].nr_got; j++)
			all[readers[k].got[j].i] = readers[k].got[j];
	for (long j = 0; j < n; j++)
		print_datagram(&all[j]);
	for (long s = 0; s < nr_sockets; s++)
		close(fds[s]);
	return 0;
}

static int cmd_recv(const struct options *o)
{
	long long deadline_ns = -1;
	long received = 0;
	int fd;

	if (!o->has_bind)
		usage_error("recv needs --bind", NULL);
	if (o->no_read && o->timeout_ms < 0)
		usage_error("--no-read needs --timeout-ms", NULL);
	if (o->peeks && o->use_recvmmsg)
		usage_error("--peek needs single reads, not --recvmmsg", NULL);
	if (o->read_call != READ_RECVMSG && (o->use_recvmmsg || o->threads > 1 || o->sockets))
		usage_error("--call reads one datagram at a time on one thread: no --recvmmsg, --threads or --reuseport", NULL);
	if ((o->threads > 1 || o->sockets) &&
	    (o->batch > 1 || o->use_recvmmsg || o->no_read))
		usage_error("--threads and --reuseport read one datagram at a time: no --batch, --recvmmsg or --no-read", NULL);
	if ((o->sockets ? o->sockets : 1) * o->threads > MAX_READERS)
		usage_error("too many readers", NULL);
	/*
	 * A page fault, or the vDSO's first use of a clock, would land inside
	 * a call's brackets: every page is locked, and both clocks read once.
	 */
	if (mlockall(MCL_CURRENT | MCL_FUTURE))
		fail("lock the receiver's memory");
	clock_ns(CLOCK_REALTIME);
	if (o->timeout_ms >= 0)
		deadline_ns = clock_ns(CLOCK_MONOTONIC) + o->timeout_ms * NSEC_PER_MSEC;
	if (o->threads > 1 || o->sockets)
		return recv_with_readers(o, deadline_ns);

	alloc_rx(o->batch);
	fd = open_recv_socket(o, &o->bind, false);
	printf("{\"ready\":true,\"port\":%d,\"pid\":%d,\"tid\":%ld,\"arrivalStamps\":%s}\n",
	       bound_port(fd), getpid(), (long)syscall(SYS_gettid),
	       arrival_stamps() ? "true" : "false");
	fflush(stdout);

	if (o->no_read) {
		sleep_until_ns(deadline_ns);
		return 0;
	}
	while (o->count < 0 || received < o->count) {
		long want = o->batch;
		int got;

		if (o->count >= 0 && o->count - received < want)
			want = o->count - received;
		if (o->delay_ms)
			sleep_ns(o->delay_ms * NSEC_PER_MSEC);
		got = read_batch(fd, want, o, deadline_ns, received);
		received += got;
		/* recvmmsg may return fewer than asked; zero means timed out */
		if (!got || (got < want && !o->use_recvmmsg))
			break;
	}
	close(fd);
	return 0;
}

/*
 * Packets waiting in CPU cpu's backlog (its input and process queues):
 * column 12 of /proc/net/softnet_stat, whose column 13 is the CPU.
 */
static unsigned int backlog_len(int stat_fd, long cpu)
{
	char buf[8192], *line, *save;
	unsigned int col[13];
	ssize_t n;

	n = pread(stat_fd, buf, sizeof(buf) - 1, 0);
	if (n < 0)
		fail("read /proc/net/softnet_stat");
	buf[n] = '\0';
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (sscanf(line, "%x %x %x %x %x %x %x %x %x %x %x %x %x",
			   &col[0], &col[1], &col[2], &col[3], &col[4], &col[5], &col[6],
			   &col[7], &col[8], &col[9], &col[10], &col[11], &col[12]) == 13 &&
		    col[12] == cpu)
			return col[11];
	errno = ENOENT;
	fail("find the CPU's line in /proc/net/softnet_stat");
	return 0;
}

/* What the spinner tells the sender per datagram (CLOCK_MONOTONIC; -1: never queued). */
struct spin_report {
	long long queued_ns;
	long long end_ns;
};

/*
 * The spinner of send --starve-cpu: for each byte on go_fd, takes its CPU,
 * says so with a byte on report_fd, spins until a packet waits in the CPU's
 * backlog, holds the CPU starve_ms more, and reports. Between datagrams it
 * sleeps in read(), leaving the CPU to ksoftirqd.
 */
static void run_spinner(const struct options *o, int go_fd, int report_fd)
{
	struct sched_param param = { .sched_priority = SPINNER_PRIO };
	struct spin_report r;
	long long deadline_ns;
	int stat_fd;
	char go;

	prctl(PR_SET_NAME, SPINNER_COMM);
	pin_to(o->starve_cpu);
	if (sched_setscheduler(0, SCHED_FIFO, &param))
		fail("make the spinner SCHED_FIFO");
	stat_fd = open("/proc/net/softnet_stat", O_RDONLY | O_CLOEXEC);
	if (stat_fd < 0)
		fail("open /proc/net/softnet_stat");
	while (read(go_fd, &go, 1) == 1) {
		if (write(report_fd, &go, 1) != 1)
			fail("tell the sender the spinner runs");
		r.queued_ns = r.end_ns = -1;
		deadline_ns = clock_ns(CLOCK_MONOTONIC) + SPINNER_WAIT_MS * NSEC_PER_MSEC;
		while (!backlog_len(stat_fd, o->starve_cpu) &&
		       clock_ns(CLOCK_MONOTONIC) < deadline_ns)
			;
		if (backlog_len(stat_fd, o->starve_cpu)) {
			r.queued_ns = clock_ns(CLOCK_MONOTONIC);
			while ((r.end_ns = clock_ns(CLOCK_MONOTONIC)) <
			       r.queued_ns + o->starve_ms * NSEC_PER_MSEC)
				;
		}
		if (write(report_fd, &r, sizeof(r)) != sizeof(r))
			fail("report to the sender");
	}
	exit(0);
}

/* Forks the spinner; the sender itself keeps off the spinner's CPU. */
static pid_t start_spinner(const struct options *o, int *go_fd, int *report_fd)
{
	int go[2], report[2];
	pid_t pid;

	keep_off(o->starve_cpu);
	if (pipe2(go, O_CLOEXEC) || pipe2(report, O_CLOEXEC))
		fail("create pipes");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		fail("fork the spinner");
	if (!pid) {
		close(go[1]);
		close(report[0]);
		run_spinner(o, go[0], report[1]);
	}
	close(go[0]);
	close(report[1]);
	*go_fd = go[1];
	*report_fd = report[0];
	return pid;
}

static void read_all(int fd, void *buf, size_t len, const char *what)
{
	ssize_t n = read(fd, buf, len);

	if (n != (ssize_t)len) {
		if (n >= 0)
			errno = EPIPE;
		fail(what);
	}
}

/* A datagram's moments, as --tx-stamps prints them. */
struct tx_stamps {
	long long send_mono_ns;
	long long sched_ns; /* 0: none came */
	long long software_ns;
};

#define TX_STAMPS_WAIT_MS 2000

/* Asks for the kernel's transmit timestamps, numbered by datagram (OPT_ID), without the payload back. */
static void ask_tx_stamps(int fd)
{
	unsigned int flags = SOF_TIMESTAMPING_TX_SCHED | SOF_TIMESTAMPING_TX_SOFTWARE |
			     SOF_TIMESTAMPING_SOFTWARE | SOF_TIMESTAMPING_OPT_ID |
			     SOF_TIMESTAMPING_OPT_TSONLY;

	if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof(flags)))
		fail("ask for transmit timestamps");
}

/* Reads the error queue until each of count datagrams has both stamps, or TX_STAMPS_WAIT_MS passes. */
static void read_tx_stamps(int fd, struct tx_stamps *stamps, long count)
{
	long long deadline = clock_ns(CLOCK_MONOTONIC) + TX_STAMPS_WAIT_MS * NSEC_PER_MSEC;
	long missing = 2 * count;
	char control[512];
	struct pollfd pfd = { .fd = fd, .events = 0 };

	while (missing > 0) {
		struct msghdr msg = { .msg_control = control, .msg_controllen = sizeof(control) };
		struct scm_timestamping *ts = NULL;
		struct sock_extended_err *err = NULL;
		long long left = deadline - clock_ns(CLOCK_MONOTONIC);

		if (recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
			if (errno != EAGAIN || left <= 0)
				return;
			/* The error queue wakes poll() as POLLERR, whatever events asks for. */
			poll(&pfd, 1, (int)(left / NSEC_PER_MSEC) + 1);
			continue;
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPING)
				ts = (struct scm_timestamping *)CMSG_DATA(c);
			else if ((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
				 (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR))
				err = (struct sock_extended_err *)CMSG_DATA(c);
		}
		if (!ts || !err || err->ee_origin != SO_EE_ORIGIN_TIMESTAMPING || err->ee_data >= (uint32_t)count)
			continue;
		long long ns = ts->ts[0].tv_sec * NSEC_PER_SEC + ts->ts[0].tv_nsec;
		long long *slot = err->ee_info == SCM_TSTAMP_SCHED ? &stamps[err->ee_data].sched_ns :
				  err->ee_info == SCM_TSTAMP_SND ? &stamps[err->ee_data].software_ns : NULL;
		if (slot && !*slot) {
			*slot = ns;
			missing--;
		}
	}
}

static void print_tx_stamps(const struct tx_stamps *stamps, long count)
{
	for (long i = 0; i < count; i++) {
		printf("{\"i\":%ld,\"sendMonoNs\":%lld,", i, stamps[i].send_mono_ns);
		if (stamps[i].sched_ns)
			printf("\"schedNs\":%lld,", stamps[i].sched_ns);
		else
			printf("\"schedNs\":null,");
		if (stamps[i].software_ns)
			printf("\"softwareNs\":%lld}\n", stamps[i].software_ns);
		else
			printf("\"softwareNs\":null}\n");
	}
}

static int cmd_send(const struct options *o)
{
	struct tx_stamps *stamps = NULL;
	static unsigned char payload[MAX_DATAGRAM_LEN];
	int fd, go_fd = -1, report_fd = -1, status;
	struct spin_report r;
	pid_t spinner = -1;
	long long next_ns;
	char ready;

	if (!o->has_to)
		usage_error("send needs --to", NULL);
	if ((o->starve_cpu >= 0) != (o->starve_ms > 0))
		usage_error("--starve-cpu and --starve-ms go together", NULL);
	fd = open_socket(&o->to);
	if (o->has_bind && bind(fd, (const struct sockaddr *)&o->bind.ss, o->bind.len))
		fail("bind socket");
	if (o->starve_cpu >= 0)
		spinner = start_spinner(o, &go_fd, &report_fd);
	if (o->tx_stamps) {
		stamps = calloc(o->count, sizeof(*stamps));
		if (!stamps)
			fail("allocate transmit timestamps");
		ask_tx_stamps(fd);
	}

	memset(payload, '.', sizeof(payload));
	next_ns = clock_ns(CLOCK_MONOTONIC);
	if (o->len + o->len_cycle - 1 > MAX_DATAGRAM_LEN)
		usage_error("--len plus --len-cycle is too long", NULL);
	for (long i = 0; i < o->count; i++) {
		uint32_t seq = htonl(i);
		long len = o->len + i % o->len_cycle;

		if (i && o->interval_us && i % o->burst == 0) {
			next_ns += o->interval_us * NSEC_PER_USEC;
			sleep_until_ns(next_ns);
		}
		if ((size_t)len >= sizeof(seq))
			memcpy(payload, &seq, sizeof(seq));
		if (spinner > 0) {
			if (write(go_fd, "g", 1) != 1)
				fail("start the spinner");
			read_all(report_fd, &ready, 1, "hear the spinner start");
		}
		if (stamps)
			stamps[i].send_mono_ns = clock_ns(CLOCK_MONOTONIC);
		if (sendto(fd, payload, len, 0,
			   (const struct sockaddr *)&o->to.ss, o->to.len) < 0)
			fail("send datagram");
		if (spinner > 0) {
			read_all(report_fd, &r, sizeof(r), "hear from the spinner");
			if (r.queued_ns < 0) {
				fprintf(stderr, TOOL_NAME ": datagram %ld did not reach CPU %ld's backlog in %d ms\n",
					i, o->starve_cpu, SPINNER_WAIT_MS);
				exit(1);
			}
			printf("{\"i\":%ld,\"spinner\":{\"pid\":%d,\"comm\":\"%s\",\"cpu\":%ld,"
			       "\"queuedMonoNs\":%lld,\"endMonoNs\":%lld}}\n",
			       i, spinner, SPINNER_COMM, o->starve_cpu, r.queued_ns, r.end_ns);
		}
	}
	/*
	 * Exiting takes the CPU a while: under qemu's round-robin vCPUs, long
	 * enough to hold up the last datagram's softirq on another CPU.
	 */
	if (o->count && o->interval_us)
		sleep_until_ns(next_ns + o->interval_us * NSEC_PER_USEC);
	if (stamps) {
		read_tx_stamps(fd, stamps, o->count);
		print_tx_stamps(stamps, o->count);
		free(stamps);
	}
	printf("{\"sent\":%ld,\"sport\":%d,\"pid\":%d}\n", o->count, bound_port(fd), getpid());
	fflush(stdout);
	close(fd);
	if (spinner > 0) {
		close(go_fd);
		if (waitpid(spinner, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			fail("end the spinner");
	}
	return 0;
}

static int cmd_flood(const struct options *o)
{
	static unsigned char payload[MAX_DATAGRAM_LEN];
	long long start_ns, end_ns, now_ns;
	unsigned long long sent = 0, errors = 0;
	int fd;

	if (!o->has_to || o->seconds <= 0)
		usage_error("flood needs --to and --seconds", NULL);
	fd = open_socket(&o->to);
	memset(payload, '.', sizeof(payload));
	start_ns = clock_ns(CLOCK_MONOTONIC);
	end_ns = start_ns + o->seconds * NSEC_PER_SEC;
	do {
		/* Reading the clock every 64 sends keeps it off the profile. */
		for (int i = 0; i < 64; i++) {
			if (sendto(fd, payload, o->len, 0,
				   (const struct sockaddr *)&o->to.ss, o->to.len) < 0)
				errors++;	/* ENOBUFS, ECONNREFUSED: keep going */
			else
				sent++;
		}
		now_ns = clock_ns(CLOCK_MONOTONIC);
	} while (now_ns < end_ns);
	printf("{\"sent\":%llu,\"errors\":%llu,\"seconds\":%.3f,\"perSecond\":%.0f,\"sport\":%d}\n",
	       sent, errors, (now_ns - start_ns) / 1e9,
	       sent * 1e9 / (now_ns - start_ns), bound_port(fd));
	fflush(stdout);
	close(fd);
	return 0;
}

static int cmd_sink(const struct options *o)
{
	static unsigned char buf[MAX_DATAGRAM_LEN];
	unsigned long long received = 0, bytes = 0;
	long long start_ns, end_ns;
	int fd;

	if (!o->has_bind || o->seconds <= 0)
		usage_error("sink needs --bind and --seconds", NULL);
	fd = open_bound_socket(&o->bind, o->rcvbuf_bytes, false);
	printf("{\"ready\":true,\"port\":%d,\"pid\":%d}\n", bound_port(fd), getpid());
	fflush(stdout);
	start_ns = clock_ns(CLOCK_MONOTONIC);
	end_ns = start_ns + o->seconds * NSEC_PER_SEC;
	while (wait_readable(fd, end_ns)) {
		/* Drain what is queued without a poll per datagram. */
		for (;;) {
			ssize_t len = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

			if (len < 0) {
				if (errno == EAGAIN || errno == EINTR)
					break;
				fail("receive datagram");
			}
			received++;
			bytes += len;
		}
	}
	printf("{\"received\":%llu,\"bytes\":%llu,\"seconds\":%ld,\"perSecond\":%.0f}\n",
	       received, bytes, o->seconds, (double)received / o->seconds);
	fflush(stdout);
	close(fd);
	return 0;
}

static void parse_options(int argc, char **argv, struct options *o)
{
	enum { OPT_BIND = 256, OPT_TO, OPT_COUNT, OPT_DELAY_MS, OPT_BATCH,
	       OPT_RECVMMSG, OPT_CALL, OPT_RCVBUF, OPT_NO_READ, OPT_TIMEOUT_MS, OPT_LEN,
	       OPT_INTERVAL_US, OPT_SECONDS, OPT_PEEK, OPT_CONNECT, OPT_THREADS,
	       OPT_REUSEPORT, OPT_LEN_CYCLE, OPT_BURST, OPT_STARVE_CPU,
	       OPT_STARVE_MS, OPT_TX_STAMPS };
	static const struct option longopts[] = {
		{ "bind", required_argument, NULL, OPT_BIND },
		{ "to", required_argument, NULL, OPT_TO },
		{ "count", required_argument, NULL, OPT_COUNT },
		{ "delay-ms", required_argument, NULL, OPT_DELAY_MS },
		{ "batch", required_argument, NULL, OPT_BATCH },
		{ "recvmmsg", no_argument, NULL, OPT_RECVMMSG },
		{ "call", required_argument, NULL, OPT_CALL },
		{ "rcvbuf", required_argument, NULL, OPT_RCVBUF },
		{ "no-read", no_argument, NULL, OPT_NO_READ },
		{ "timeout-ms", required_argument, NULL, OPT_TIMEOUT_MS },
		{ "len", required_argument, NULL, OPT_LEN },
		{ "interval-us", required_argument, NULL, OPT_INTERVAL_US },
		{ "seconds", required_argument, NULL, OPT_SECONDS },
		{ "peek", required_argument, NULL, OPT_PEEK },
		{ "connect", required_argument, NULL, OPT_CONNECT },
		{ "threads", required_argument, NULL, OPT_THREADS },
		{ "reuseport", required_argument, NULL, OPT_REUSEPORT },
		{ "len-cycle", required_argument, NULL, OPT_LEN_CYCLE },
		{ "burst", required_argument, NULL, OPT_BURST },
		{ "starve-cpu", required_argument, NULL, OPT_STARVE_CPU },
		{ "starve-ms", required_argument, NULL, OPT_STARVE_MS },
		{ "tx-stamps", no_argument, NULL, OPT_TX_STAMPS },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_BIND:
			parse_endpoint(optarg, &o->bind);
			o->has_bind = true;
			break;
		case OPT_TO:
			parse_endpoint(optarg, &o->to);
			o->has_to = true;
			break;
		case OPT_COUNT:
			o->count = parse_long(optarg, 0, LONG_MAX);
			break;
		case OPT_DELAY_MS:
			o->delay_ms = parse_long(optarg, 0, 3600 * 1000);
			break;
		case OPT_BATCH:
			o->batch = parse_long(optarg, 1, MAX_BATCH);
			break;
		case OPT_CALL:
			if (!strcmp(optarg, "recvfrom"))
				o->read_call = READ_RECVFROM;
			else if (!strcmp(optarg, "read"))
				o->read_call = READ_READ;
			else
				usage_error("--call is recvfrom or read", optarg);
			break;
		case OPT_RECVMMSG:
			o->use_recvmmsg = true;
			break;
		case OPT_RCVBUF:
			o->rcvbuf_bytes = parse_long(optarg, 1, INT_MAX);
			break;
		case OPT_NO_READ:
			o->no_read = true;
			break;
		case OPT_TIMEOUT_MS:
			o->timeout_ms = parse_long(optarg, 0, LONG_MAX / NSEC_PER_MSEC);
			break;
		case OPT_LEN:
			o->len = parse_long(optarg, 0, MAX_DATAGRAM_LEN);
			break;
		case OPT_INTERVAL_US:
			o->interval_us = parse_long(optarg, 0, 3600 * 1000000L);
			break;
		case OPT_SECONDS:
			o->seconds = parse_long(optarg, 1, 24 * 3600);
			break;
		case OPT_PEEK:
			o->peeks = parse_long(optarg, 0, 1000);
			break;
		case OPT_CONNECT:
			parse_endpoint(optarg, &o->connect);
			o->has_connect = true;
			break;
		case OPT_THREADS:
			o->threads = parse_long(optarg, 1, MAX_READERS);
			break;
		case OPT_REUSEPORT:
			o->sockets = parse_long(optarg, 1, MAX_READERS);
			break;
		case OPT_LEN_CYCLE:
			o->len_cycle = parse_long(optarg, 1, MAX_DATAGRAM_LEN);
			break;
		case OPT_BURST:
			o->burst = parse_long(optarg, 1, LONG_MAX);
			break;
		case OPT_STARVE_CPU:
			o->starve_cpu = parse_long(optarg, 0, CPU_SETSIZE - 1);
			break;
		case OPT_STARVE_MS:
			o->starve_ms = parse_long(optarg, 1, 3600 * 1000);
			break;
		case OPT_TX_STAMPS:
			o->tx_stamps = true;
			break;
		default:
			usage_error("invalid option", NULL);
		}
	}
	if (optind != argc)
		usage_error("unexpected argument", argv[optind]);
	if (o->has_bind && o->has_to && o->bind.ss.ss_family != o->to.ss.ss_family)
		usage_error("--bind and --to must be the same family", NULL);
	if (o->has_bind && o->has_connect && o->bind.ss.ss_family != o->connect.ss.ss_family)
		usage_error("--bind and --connect must be the same family", NULL);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(const struct options *o);
	} cmds[] = {
		{ "recv", cmd_recv },
		{ "send", cmd_send },
		{ "flood", cmd_flood },
		{ "sink", cmd_sink },
	};
	struct options o = {
		.count = -1,
		.batch = 1,
		.timeout_ms = -1,
		.threads = 1,
		.len = 64,
		.len_cycle = 1,
		.burst = 1,
		.starve_cpu = -1,
	};
	bool is_send;

	if (argc < 2)
		usage_error("missing subcommand", NULL);
	is_send = !strcmp(argv[1], "send");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[1], cmds[i].name))
			continue;
		parse_options(argc - 1, argv + 1, &o);
		if (is_send && o.count < 0)
			o.count = 1;
		return cmds[i].run(&o);
	}
	usage_error("unknown subcommand", argv[1]);
	return 2;
}
