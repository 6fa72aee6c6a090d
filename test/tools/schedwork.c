// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * schedwork: UDP readers whose scheduling is known by construction, for the
 * tests of udplat's reader verdicts (busy, runqueue, blocked).
 *
 *   recv    read datagrams; before each read, spin (busy in user space, for a
 *           known time of its own CPU) and/or sleep a known time; echo each datagram to its sender; print, per
 *           datagram, its length and the thread that read it
 *   ping    send datagrams one (or a burst) at a time, each as soon as the
 *           previous one's echo is back: each reaches the reader just as it
 *           starts to spin or sleep, so it waits exactly that long
 *   starve  send datagrams one at a time, each while a SCHED_FIFO thread
 *           pinned to the reader's CPU holds it, from before the send to a
 *           known time after it: the reader, woken by the datagram, waits at
 *           least that long for its CPU
 *
 * Prints JSON lines on stdout, diagnostics on stderr.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define TOOL_NAME "schedwork"
#include "tools.h"

#define MAX_LEN 65507
/* The readers' buffers: the tests' datagrams are small. */
#define RECV_LEN 2048
#define MAX_THREADS 16
#define MAX_BATCH 16
#define SPINNER_COMM "spinner"
/* Above every CFS task; below the kernel's irq threads (50). */
#define SPINNER_PRIO 10
/* How long ping waits for an echo before it gives up. */
#define ECHO_TIMEOUT_MS 5000

struct options {
	struct sockaddr_storage addr;
	socklen_t addr_len;
	bool has_addr;
	long count;
	long len;
	long len_cycle; /* datagram i is len + i % len_cycle bytes */
	long spin_us; /* recv: spin before each read; starve: the spinner's spin; microseconds */
	long sleep_us;
	long spin_threads; /* recv: only the first K threads spin, the others sleep; -1: all do both */
	long threads;
	long batch; /* recv: read with recvmmsg, up to this many at once */
	long cpu; /* recv: the readers' CPU; starve: the spinner's; -1: any */
	long gap_us; /* starve: between a spin's end and the next datagram */
	long burst; /* ping: datagrams sent before waiting for their echoes */
	bool echo;
	bool rename; /* starve: the spinner renames itself on its CPU before each spin */
};

static void usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, "schedwork: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
	fprintf(stderr,
		"usage: schedwork recv --bind ADDR:PORT --count N [--spin-us S] [--sleep-us S]\n"
		"                      [--echo] [--cpu C] [--threads T [--spin-threads K]] [--batch B]\n"
		"       schedwork ping --to ADDR:PORT --count N [--burst B] [--len L] [--len-cycle C]\n"
		"       schedwork starve --to ADDR:PORT --count N --cpu C --spin-us S [--gap-us G]\n"
		"                        [--len L] [--len-cycle C] [--rename]\n"
		"ADDR:PORT is 127.0.0.1:9999 or [::1]:9999. recv spins, then sleeps, before each\n"
		"read; with --spin-threads K, threads below K only spin, the others only sleep.\n"
		"starve --rename: before spin i, once on its CPU, the spinner names itself\n"
		SPINNER_COMM "-even or " SPINNER_COMM "-odd by i.\n");
	exit(2);
}

/* Spins until `clock` has advanced us: wall time for the spinner, the thread's own CPU time for a reader. */
static void spin_on(clockid_t clock, long us)
{
	long long end = clock_ns(clock) + us * NSEC_PER_USEC;

	while (clock_ns(clock) < end)
		;
}

static void sleep_us(long us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = us % 1000000 * NSEC_PER_USEC };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* "1.2.3.4:P" or "[v6]:P" */
static void parse_addr(const char *arg, struct options *o)
{
	const char *colon = strrchr(arg, ':');
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&o->addr;
	struct sockaddr_in *v4 = (struct sockaddr_in *)&o->addr;
	char host[INET6_ADDRSTRLEN];
	size_t len;
	long port;

	if (!colon)
		usage_error("address needs a port", arg);
	port = parse_long(colon + 1, 0, 65535);
	memset(&o->addr, 0, sizeof(o->addr));
	if (arg[0] == '[') {
		len = colon - arg - 2;
		if (len >= sizeof(host) || colon[-1] != ']')
			usage_error("invalid IPv6 address", arg);
		memcpy(host, arg + 1, len);
		host[len] = '\0';
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(port);
		if (inet_pton(AF_INET6, host, &v6->sin6_addr) != 1)
			usage_error("invalid IPv6 address", arg);
		o->addr_len = sizeof(*v6);
	} else {
		len = colon - arg;
		if (len >= sizeof(host))
			usage_error("invalid IPv4 address", arg);
		memcpy(host, arg, len);
		host[len] = '\0';
		v4->sin_family = AF_INET;
		v4->sin_port = htons(port);
		if (inet_pton(AF_INET, host, &v4->sin_addr) != 1)
			usage_error("invalid IPv4 address", arg);
		o->addr_len = sizeof(*v4);
	}
	o->has_addr = true;
}

static int port_of(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		fail("read the socket's address");
	return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
						((struct sockaddr_in *)&ss)->sin_port);
}

/* ---- recv ---- */

struct reader {
	pthread_t thread;
	const struct options *o;
	int fd;
	long index;
	long tid;
};

static long received;

/* Reads until count datagrams in all, pausing as the options say before each read (or batch). */
static void *read_loop(void *arg)
{
	struct reader *r = arg;
	unsigned char(*bufs)[RECV_LEN] = malloc(MAX_BATCH * RECV_LEN);
	const struct options *o = r->o;
	bool spins = o->spin_threads < 0 || r->index < o->spin_threads;
	bool sleeps = o->spin_threads < 0 || r->index >= o->spin_threads;
	struct sockaddr_storage from[MAX_BATCH];
	struct mmsghdr msgs[MAX_BATCH];
	struct iovec iovs[MAX_BATCH];
	int got;

	if (!bufs)
		fail("allocate receive buffers");
	if (o->cpu >= 0)
		pin_to(o->cpu);
	r->tid = syscall(SYS_gettid);
	while (__atomic_load_n(&received, __ATOMIC_RELAXED) < o->count) {
		/* Busy for spin_us of CPU: a preemption meanwhile is not the reader's doing, and not its busy time. */
		if (spins && o->spin_us)
			spin_on(CLOCK_THREAD_CPUTIME_ID, o->spin_us);
		if (sleeps && o->sleep_us)
			sleep_us(o->sleep_us);
		for (long i = 0; i < o->batch; i++) {
			iovs[i] = (struct iovec){ bufs[i], RECV_LEN };
			msgs[i].msg_hdr = (struct msghdr){ .msg_name = &from[i],
							   .msg_namelen = sizeof(from[i]),
							   .msg_iov = &iovs[i],
							   .msg_iovlen = 1 };
		}
		got = recvmmsg(r->fd, msgs, o->batch, MSG_WAITFORONE, NULL);
		if (got < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (got < 0)
			fail("receive datagrams");
		for (int i = 0; i < got; i++) {
			printf("{\"len\":%u,\"tid\":%ld}\n", msgs[i].msg_len, r->tid);
			if (o->echo &&
			    sendto(r->fd, bufs[i], msgs[i].msg_len, 0, (struct sockaddr *)&from[i],
				   msgs[i].msg_hdr.msg_namelen) < 0)
				fail("echo a datagram");
		}
		__atomic_add_fetch(&received, got, __ATOMIC_RELAXED);
	}
	free(bufs);
	return NULL;
}

static int cmd_recv(struct options *o)
{
	/* A reader blocked in its read looks this often whether the others are done. */
	struct timeval wake = { .tv_usec = 20000 };
	struct reader readers[MAX_THREADS];
	int fd;

	if (!o->has_addr || o->count < 1)
		usage_error("recv needs --bind and --count", NULL);
	fd = socket(o->addr.ss_family, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&o->addr, o->addr_len))
		fail("bind the receiving socket");
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wake, sizeof(wake)))
		fail("set SO_RCVTIMEO");
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("{\"ready\":true,\"port\":%d,\"pid\":%d}\n", port_of(fd), getpid());
	for (long k = 0; k < o->threads; k++) {
		readers[k] = (struct reader){ .o = o, .fd = fd, .index = k };
		errno = pthread_create(&readers[k].thread, NULL, read_loop, &readers[k]);
		if (errno)
			fail("start a reader");
	}
	for (long k = 0; k < o->threads; k++)
		pthread_join(readers[k].thread, NULL);
	for (long k = 0; k < o->threads; k++)
		printf("{\"reader\":%ld,\"tid\":%ld,\"spins\":%s}\n", k, readers[k].tid,
		       o->spin_threads < 0 || k < o->spin_threads ? "true" : "false");
	return 0;
}

/* ---- ping and starve ---- */

static int sending_socket(const struct options *o)
{
	int fd;

	if (!o->has_addr || o->count < 1)
		usage_error("needs --to and --count", NULL);
	fd = socket(o->addr.ss_family, SOCK_DGRAM, 0);
	if (fd < 0)
		fail("open a socket");
	return fd;
}

static void send_one(int fd, const struct options *o, long i)
{
	static unsigned char payload[MAX_LEN];

	if (sendto(fd, payload, o->len + i % o->len_cycle, 0, (struct sockaddr *)&o->addr,
		   o->addr_len) < 0)
		fail("send a datagram");
}

/*
 * At SCHED_FIFO, ping sends the next datagram as the echo arrives, not when
 * a busy CPU gets round to it: the reader's wait starts when its spin or sleep
 * does.
 */
static int cmd_ping(struct options *o)
{
	struct sched_param param = { .sched_priority = 1 };
	unsigned char echo[MAX_LEN];
	int fd = sending_socket(o);
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	if (sched_setscheduler(0, SCHED_FIFO, &param))
		fail("make the sender SCHED_FIFO");

	for (long i = 0; i < o->count; i += o->burst) {
		for (long j = i; j < i + o->burst && j < o->count; j++)
			send_one(fd, o, j);
		for (long j = i; j < i + o->burst && j < o->count; j++)
			if (poll(&pfd, 1, ECHO_TIMEOUT_MS) != 1 || recv(fd, echo, sizeof(echo), 0) < 0)
				fail("hear a datagram's echo");
	}
	printf("{\"sent\":%ld,\"sport\":%d}\n", o->count, port_of(fd));
	return 0;
}

/*
 * The spinner of starve: at each go, says it runs and holds its CPU at
 * SCHED_FIFO until the datagram has been sent, then spin_us more, and says it
 * is done. Held from the send, not from the go: the sender, a task of the
 * other CPU like any other, may be late to send, and the reader, woken as
 * its datagram is queued, must wait the whole spin_us behind the spinner.
 */
#define SENT_WAIT_NS (2 * NSEC_PER_SEC)

struct spinner {
	const struct options *o;
	int go, running, done; /* eventfds */
	long long sent_ns; /* CLOCK_MONOTONIC after this spin's datagram was sent; 0 before */
	long tid;
};

static void *spin_loop(void *arg)
{
	struct sched_param param = { .sched_priority = SPINNER_PRIO };
	struct spinner *s = arg;
	uint64_t n = 1;

	prctl(PR_SET_NAME, SPINNER_COMM);
	pin_to(s->o->cpu);
	if (sched_setscheduler(0, SCHED_FIFO, &param))
		fail("make the spinner SCHED_FIFO");
	s->tid = syscall(SYS_gettid);
	for (long i = 0; read(s->go, &n, sizeof(n)) == sizeof(n); i++) {
		long long deadline_ns, sent_ns;

		/* Renamed while it holds the CPU: its name when it was switched in is no longer its name. */
		if (s->o->rename)
			prctl(PR_SET_NAME, i % 2 ? SPINNER_COMM "-odd" : SPINNER_COMM "-even");
		if (write(s->running, &n, sizeof(n)) != sizeof(n))
			fail("say the spinner runs");
		deadline_ns = clock_ns(CLOCK_MONOTONIC) + SENT_WAIT_NS;
		while (!(sent_ns = __atomic_load_n(&s->sent_ns, __ATOMIC_ACQUIRE)))
			if (clock_ns(CLOCK_MONOTONIC) > deadline_ns)
				fail("see the datagram sent");
		while (clock_ns(CLOCK_MONOTONIC) < sent_ns + s->o->spin_us * NSEC_PER_USEC)
			;
		if (write(s->done, &n, sizeof(n)) != sizeof(n))
			fail("say the spin is over");
	}
	return NULL;
}

static int cmd_starve(struct options *o)
{
	struct spinner s = { .o = o };
	int fd = sending_socket(o);
	pthread_t thread;
	uint64_t n = 1;

	if (o->cpu < 0 || o->spin_us < 1)
		usage_error("starve needs --cpu and --spin-us", NULL);
	s.go = eventfd(0, EFD_CLOEXEC);
	s.running = eventfd(0, EFD_CLOEXEC);
	s.done = eventfd(0, EFD_CLOEXEC);
	if (s.go < 0 || s.running < 0 || s.done < 0)
		fail("make eventfds");
	errno = pthread_create(&thread, NULL, spin_loop, &s);
	if (errno)
		fail("start the spinner");
	keep_off(o->cpu);
	for (long i = 0; i < o->count; i++) {
		__atomic_store_n(&s.sent_ns, 0, __ATOMIC_RELEASE);
		if (write(s.go, &n, sizeof(n)) != sizeof(n) ||
		    read(s.running, &n, sizeof(n)) != sizeof(n))
			fail("start a spin");
		send_one(fd, o, i);
		__atomic_store_n(&s.sent_ns, clock_ns(CLOCK_MONOTONIC), __ATOMIC_RELEASE);
		if (read(s.done, &n, sizeof(n)) != sizeof(n))
			fail("wait for a spin's end");
		sleep_us(o->gap_us);
	}
	printf("{\"sent\":%ld,\"sport\":%d,\"spinner\":{\"pid\":%d,\"tid\":%ld,\"comm\":\"%s\"}}\n",
	       o->count, port_of(fd), getpid(), s.tid, SPINNER_COMM);
	return 0;
}

static void parse_options(int argc, char **argv, struct options *o)
{
	enum { BIND = 1, TO, COUNT, LEN, LEN_CYCLE, SPIN_US, SLEEP_US, SPIN_THREADS, THREADS, BATCH, CPU, GAP_US, ECHO, BURST, RENAME };
	static const struct option longopts[] = {
		{ "bind", required_argument, NULL, BIND },
		{ "to", required_argument, NULL, TO },
		{ "count", required_argument, NULL, COUNT },
		{ "len", required_argument, NULL, LEN },
		{ "len-cycle", required_argument, NULL, LEN_CYCLE },
		{ "spin-us", required_argument, NULL, SPIN_US },
		{ "sleep-us", required_argument, NULL, SLEEP_US },
		{ "spin-threads", required_argument, NULL, SPIN_THREADS },
		{ "threads", required_argument, NULL, THREADS },
		{ "batch", required_argument, NULL, BATCH },
		{ "cpu", required_argument, NULL, CPU },
		{ "gap-us", required_argument, NULL, GAP_US },
		{ "echo", no_argument, NULL, ECHO },
		{ "rename", no_argument, NULL, RENAME },
		{ "burst", required_argument, NULL, BURST },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case BIND:
		case TO:
			parse_addr(optarg, o);
			break;
		case COUNT:
			o->count = parse_long(optarg, 1, LONG_MAX);
			break;
		case LEN:
			o->len = parse_long(optarg, 0, MAX_LEN);
			break;
		case LEN_CYCLE:
			o->len_cycle = parse_long(optarg, 1, MAX_LEN);
			break;
		case SPIN_US:
			o->spin_us = parse_long(optarg, 0, 60000000);
			break;
		case SLEEP_US:
			o->sleep_us = parse_long(optarg, 0, 60000000);
			break;
		case SPIN_THREADS:
			o->spin_threads = parse_long(optarg, 0, MAX_THREADS);
			break;
		case THREADS:
			o->threads = parse_long(optarg, 1, MAX_THREADS);
			break;
		case BATCH:
			o->batch = parse_long(optarg, 1, MAX_BATCH);
			break;
		case CPU:
			o->cpu = parse_long(optarg, 0, CPU_SETSIZE - 1);
			break;
		case GAP_US:
			o->gap_us = parse_long(optarg, 0, 60000000);
			break;
		case ECHO:
			o->echo = true;
			break;
		case RENAME:
			o->rename = true;
			break;
		case BURST:
			o->burst = parse_long(optarg, 1, MAX_BATCH);
			break;
		default:
			usage_error("invalid option", NULL);
		}
	}
	if (optind != argc)
		usage_error("unexpected argument", argv[optind]);
	if (o->len + o->len_cycle - 1 > MAX_LEN)
		usage_error("--len plus --len-cycle is too long", NULL);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(struct options *o);
	} cmds[] = { { "recv", cmd_recv }, { "ping", cmd_ping }, { "starve", cmd_starve } };
	struct options o = { .count = 1, .len = 64, .len_cycle = 1, .spin_threads = -1,
			     .threads = 1, .batch = 1, .cpu = -1, .gap_us = 2000, .burst = 1 };

	if (argc < 2)
		usage_error("missing subcommand", NULL);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[1], cmds[i].name))
			continue;
		parse_options(argc - 1, argv + 1, &o);
		return cmds[i].run(&o);
	}
	usage_error("unknown subcommand", argv[1]);
	return 2;
}
