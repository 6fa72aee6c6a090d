/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What udpwork and schedwork share: failing, clocks, numbers and CPUs. Each
 * defines TOOL_NAME and its own usage_error() before including this.
 */
#ifndef __TOOLS_H
#define __TOOLS_H

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NSEC_PER_SEC 1000000000LL
#define NSEC_PER_MSEC 1000000LL
#define NSEC_PER_USEC 1000LL

static void usage_error(const char *msg, const char *arg);

static inline void fail(const char *what)
{
	fprintf(stderr, TOOL_NAME ": failed to %s: %s\n", what, strerror(errno));
	exit(1);
}

static inline long long clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static inline long parse_long(const char *arg, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < min || v > max)
		usage_error("invalid number", arg);
	return v;
}

/* The calling thread, on cpu alone. */
static inline void pin_to(long cpu)
{
	cpu_set_t cpus;

	CPU_ZERO(&cpus);
	CPU_SET(cpu, &cpus);
	if (sched_setaffinity(0, sizeof(cpus), &cpus))
		fail("pin a thread to its CPU");
}

/* The calling thread, on every CPU it may use but cpu: a sender keeps off the CPU it starves. */
static inline void keep_off(long cpu)
{
	cpu_set_t cpus;

	if (sched_getaffinity(0, sizeof(cpus), &cpus))
		fail("read the CPUs");
	CPU_CLR(cpu, &cpus);
	if (!CPU_COUNT(&cpus) || sched_setaffinity(0, sizeof(cpus), &cpus))
		fail("keep off the starved CPU");
}

#endif /* __TOOLS_H */
