// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <mntent.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include "args.h"
#include "dispatcher.h"
#include "names.h"
#include "plans.h"

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int parse_uint(const char *s, unsigned long long max,
		      unsigned long long *out)
{
	char *end;

	if (!*s || *s == '-')
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 10);
	if (errno || *end || *out > max)
		return -1;
	return 0;
}

/* "3ms", "500us", "1s", "250ns", or a bare number of microseconds. */
static int parse_duration_ns(const char *s, __u64 *out)
{
	static const struct {
		const char *suffix;
		__u64 ns;
	} units[] = {
		{ "ns", 1 },
		{ "us", 1000 },
		{ "ms", 1000000 },
		{ "s", 1000000000 },
	};
	unsigned long long v;
	char *end;
	size_t i;

	if (!*s || *s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	if (!*end) {
		*out = v * 1000;
		return 0;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!strcmp(end, units[i].suffix)) {
			if (v > UINT64_MAX / units[i].ns)
				return -1;
			*out = v * units[i].ns;
			return 0;
		}
	}
	return -1;
}

static void mask_words(struct prefix *p, unsigned int bits)
{
	int i;

	for (i = 0; i < 4; i++) {
		unsigned int take = bits > 32 ? 32 : bits;

		p->mask[i] = take ? htonl(0xffffffffu << (32 - take)) : 0;
		p->addr[i] &= p->mask[i];
		bits -= take;
	}
}

/* IPv4 or IPv6 CIDR; an IPv4-mapped IPv6 prefix becomes the IPv4 prefix it stands for. */
static int parse_prefix(const char *s, struct prefix *p)
{
	static const __u8 v4mapped[12] = { 0, 0, 0, 0, 0,    0,
					   0, 0, 0, 0, 0xff, 0xff };
	char buf[INET6_ADDRSTRLEN + 8];
	unsigned long long bits;
	char *slash;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	memset(p, 0, sizeof(*p));
	if (inet_pton(AF_INET, buf, p->addr) == 1) {
		p->family = AF_INET;
		if (slash ? parse_uint(slash, 32, &bits) : (bits = 32, 0))
			return -1;
	} else if (inet_pton(AF_INET6, buf, p->addr) == 1) {
		p->family = AF_INET6;
		if (slash ? parse_uint(slash, 128, &bits) : (bits = 128, 0))
			return -1;
		if (bits >= 96 &&
		    !memcmp(p->addr, v4mapped, sizeof(v4mapped))) {
			p->family = AF_INET;
			p->addr[0] = p->addr[3];
			p->addr[1] = p->addr[2] = p->addr[3] = 0;
			bits -= 96;
		}
	} else {
		return -1;
	}
	mask_words(p, bits);
	return 0;
}

/* Where cgroup v2 is mounted: /sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid hosts. */
static int cgroup2_root(char *root, size_t len)
{
	struct mntent *m;
	FILE *f;
	int err = -1;

	f = setmntent("/proc/self/mounts", "r");
	if (!f)
		return -1;
	while ((m = getmntent(f))) {
		if (!strcmp(m->mnt_type, "cgroup2")) {
			snprintf(root, len, "%s", m->mnt_dir);
			err = 0;
			break;
		}
	}
	endmntent(f);
	return err;
}

static __u64 cgroup_id_of(const char *path)
{
	struct {
		struct file_handle fh;
		__u64 id;
	} handle = { .fh.handle_bytes = sizeof(__u64) };
	int mount_id;

	if (name_to_handle_at(AT_FDCWD, path, &handle.fh, &mount_id, 0))
		return 0;
	return handle.id;
}

static __u64 wanted_cgroup_id;
static char found_cgroup[PATH_MAX];

static int match_cgroup(const char *path, const struct stat *st, int type,
			struct FTW *ftw)
{
	if (type != FTW_D || cgroup_id_of(path) != wanted_cgroup_id)
		return 0;
	snprintf(found_cgroup, sizeof(found_cgroup), "%s", path);
	return 1;
}

/* Depth of a path below the cgroup2 root: bpf_get_current_ancestor_cgroup_id() takes it. */
static __u32 cgroup_level(const char *rel)
{
	__u32 level = 0;

	for (; *rel; rel++)
		if (*rel == '/' && rel[1] && rel[1] != '/')
			level++;
	return level;
}

/* A cgroup path as /proc/PID/cgroup shows it ("/system.slice/x.service"), the same under the mount point, or an id. */
static int apply_cgroup(struct config *cfg, const char *s, char *err,
			size_t errlen)
{
	char root[PATH_MAX], path[PATH_MAX];
	unsigned long long id;
	size_t root_len;

	if (cgroup2_root(root, sizeof(root)))
		return fail(
			err, errlen,
			"failed to find the cgroup v2 mount in /proc/self/mounts");
	root_len = strlen(root);
	if (!parse_uint(s, UINT64_MAX, &id)) {
		wanted_cgroup_id = id;
		if (nftw(root, match_cgroup, 16, FTW_PHYS) != 1)
			return fail(err, errlen,
				    "no cgroup v2 with id %llu under %s", id,
				    root);
		snprintf(path, sizeof(path), "%s", found_cgroup);
	} else if (!strncmp(s, root, root_len) &&
		   (s[root_len] == '/' || !s[root_len])) {
		snprintf(path, sizeof(path), "%s", s);
	} else if (s[0] == '/') {
		snprintf(path, sizeof(path), "%s%s", root, s);
	} else {
		return fail(err, errlen,
			    "bad --cgroup '%s': want an absolute path or an id",
			    s);
	}
	if (strstr(path, "/../") || strstr(path, "/./"))
		return fail(err, errlen,
			    "bad --cgroup '%s': path must be normalized", s);
	cfg->session.cgroup_id = cgroup_id_of(path);
	if (!cfg->session.cgroup_id)
		return fail(err, errlen, "failed to resolve cgroup '%s': %s",
			    path, strerror(errno));
	cfg->session.cgroup_level = cgroup_level(path + root_len);
	return 0;
}

static int parse_port(const char *s, __u16 *port)
{
	unsigned long long v;

	if (parse_uint(s, 65535, &v) || !v)
		return -1;
	*port = v;
	return 0;
}

/* One handler per option: applies value (NULL for a flag) to cfg, or fails with a message. */
typedef int (*apply_fn)(struct config *cfg, const char *value, char *err,
			size_t errlen);

static int apply_port(struct config *cfg, const char *value, char *err,
		      size_t errlen)
{
	struct session_conf *s = &cfg->session;

	if (s->nr_ports == MAX_PORTS)
		return fail(err, errlen, "too many --port: at most %d",
			    MAX_PORTS);
	if (parse_port(value, &s->ports[s->nr_ports++]))
		return fail(err, errlen, "bad --port '%s': want 1-65535",
			    value);
	return 0;
}

static int apply_threshold(struct config *cfg, const char *value, char *err,
			   size_t errlen)
{
	if (parse_duration_ns(value, &cfg->session.min_latency_ns))
		return fail(err, errlen,
			    "bad --threshold '%s': want e.g. 3ms, 500us, 0",
			    value);
	return 0;
}

static int apply_threshold_us(struct config *cfg, const char *value, char *err,
			      size_t errlen)
{
	unsigned long long v;

	if (parse_uint(value, UINT64_MAX / 1000, &v))
		return fail(err, errlen, "bad --threshold-us '%s'", value);
	cfg->session.min_latency_ns = v * 1000;
	return 0;
}

static int add_prefix(struct prefix *list, __u32 *nr, const char *value,
		      char *err, size_t errlen)
{
	if (*nr == MAX_PREFIXES)
		return fail(err, errlen,
			    "too many address prefixes: at most %d each",
			    MAX_PREFIXES);
	if (parse_prefix(value, &list[(*nr)++]))
		return fail(
			err, errlen,
			"bad address prefix '%s': want e.g. 10.0.0.0/8 or 2001:db8::/32",
			value);
	return 0;
}

static int apply_laddr(struct config *cfg, const char *value, char *err,
		       size_t errlen)
{
	return add_prefix(cfg->session.laddrs, &cfg->session.nr_laddrs, value,
			  err, errlen);
}

static int apply_raddr(struct config *cfg, const char *value, char *err,
		       size_t errlen)
{
	return add_prefix(cfg->session.raddrs, &cfg->session.nr_raddrs, value,
			  err, errlen);
}

static int apply_rport(struct config *cfg, const char *value, char *err,
		       size_t errlen)
{
	if (parse_port(value, &cfg->session.rport))
		return fail(err, errlen, "bad --rport '%s': want 1-65535",
			    value);
	return 0;
}

static int apply_pid(struct config *cfg, const char *value, char *err,
		     size_t errlen)
{
	unsigned long long v;

	if (parse_uint(value, INT_MAX, &v) || !v)
		return fail(err, errlen, "bad --pid '%s'", value);
	cfg->session.pid = v;
	return 0;
}

static int apply_comm(struct config *cfg, const char *value, char *err,
		      size_t errlen)
{
	if (!*value || strlen(value) >= TASK_COMM_LEN)
		return fail(err, errlen, "bad --comm '%s': want 1-%d bytes",
			    value, TASK_COMM_LEN - 1);
	strcpy(cfg->session.comm, value);
	cfg->session.comm_on = true;
	return 0;
}

static int apply_netns(struct config *cfg, const char *value, char *err,
		       size_t errlen)
{
	unsigned long long v;

	if (parse_uint(value, UINT32_MAX, &v) || !v)
		return fail(err, errlen,
			    "bad --netns '%s': want a namespace inode", value);
	cfg->session.netns = v;
	return 0;
}

static int apply_family(struct config *cfg, const char *value, char *err,
			size_t errlen)
{
	if (!strcmp(value, "4") || !strcmp(value, "ipv4"))
		cfg->session.family = AF_INET;
	else if (!strcmp(value, "6") || !strcmp(value, "ipv6"))
		cfg->session.family = AF_INET6;
	else
		return fail(err, errlen, "bad --family '%s': want 4 or 6",
			    value);
	return 0;
}

static int apply_plan(struct config *cfg, const char *value, char *err,
		      size_t errlen)
{
	int plan = plan_from_name(value);

	if (plan < 0)
		return fail(
			err, errlen,
			"bad --plan '%s': want auto, fentry, kprobe or tracepoint",
			value);
	cfg->plan = plan;
	return 0;
}

static int apply_marks(struct config *cfg, const char *value, char *err,
		       size_t errlen)
{
	char bad[32];
	long marks = marks_from_names(value, bad, sizeof(bad));

	if (marks < 0)
		return fail(err, errlen, "bad --marks: no mark '%s'", bad);
	if (!marks)
		return fail(err, errlen, "bad --marks: name at least one mark");
	cfg->session.marks = marks;
	return 0;
}

static int apply_direction(struct config *cfg, const char *value, char *err,
			   size_t errlen)
{
	static const struct {
		const char *name;
		__u32 direction;
	} names[] = {
		{ "receive", EVENT_RECEIVE },
		{ "send", EVENT_SEND },
		{ "both", EVENT_RECEIVE | EVENT_SEND },
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(value, names[i].name)) {
			cfg->session.direction = names[i].direction;
			return 0;
		}
	}
	return fail(err, errlen,
		    "bad --direction '%s': want receive, send or both", value);
}

static int apply_format(struct config *cfg, const char *value, char *err,
			size_t errlen)
{
	static const char *const names[] = {
		[FORMAT_TEXT] = "text", [FORMAT_JSON] = "json", [FORMAT_BIN] = "bin"
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(value, names[i])) {
			cfg->format = i;
			return 0;
		}
	}
	return fail(err, errlen, "bad --format '%s': want text, json or bin",
		    value);
}

static int apply_stats_interval(struct config *cfg, const char *value,
				char *err, size_t errlen)
{
	unsigned long long v;

	if (parse_uint(value, 3600000, &v) || v < 10)
		return fail(err, errlen,
			    "bad --stats-interval-ms '%s': want 10-3600000",
			    value);
	cfg->stats_interval_ms = v;
	return 0;
}

static int apply_ringbuf_kb(struct config *cfg, const char *value, char *err,
			    size_t errlen)
{
	unsigned long long v;

	if (parse_uint(value, 1 << 20, &v) || v < 4 || (v & (v - 1)))
		return fail(
			err, errlen,
			"bad --ringbuf-kb '%s': want a power of two from 4 to 1048576",
			value);
	cfg->ringbuf_bytes = v * 1024;
	return 0;
}

static int apply_drop_events(struct config *cfg, const char *value, char *err,
			     size_t errlen)
{
	unsigned long long v;

	if (parse_uint(value, UINT32_MAX, &v))
		return fail(
			err, errlen,
			"bad --drop-events '%s': want events per CPU and second",
			value);
	cfg->session.max_drop_events_per_s = v;
	return 0;
}

static int apply_duration(struct config *cfg, const char *value, char *err,
			  size_t errlen)
{
	unsigned long long v;

	if (parse_uint(value, 86400 * 365, &v) || !v)
		return fail(err, errlen,
			    "bad --duration '%s': want seconds > 0", value);
	cfg->duration_s = v;
	return 0;
}

static int apply_no_reader(struct config *cfg, const char *value, char *err,
			   size_t errlen)
{
	cfg->session.reader = false;
	return 0;
}

static int apply_list_plans(struct config *cfg, const char *value, char *err,
			    size_t errlen)
{
	cfg->list_plans = true;
	return 0;
}

static int apply_shared(struct config *cfg, const char *value, char *err,
			size_t errlen)
{
	cfg->shared = true;
	return 0;
}

static int apply_keep_hub(struct config *cfg, const char *value, char *err,
			  size_t errlen)
{
	cfg->keep_hub = true;
	return 0;
}

static int apply_verbose(struct config *cfg, const char *value, char *err,
			 size_t errlen)
{
	cfg->verbose = true;
	return 0;
}

static int apply_help(struct config *cfg, const char *value, char *err,
		      size_t errlen);

/* The options: getopt's table, the handlers and --help are all made from this one. */
static const struct option_spec {
	const char *name;
	char short_name; /* 0: none */
	const char *value; /* the value's name in --help; NULL for a flag */
	apply_fn apply;
	const char *help; /* lines after the first start with '\n' */
} specs[] = {
	{ "port", 'p', "PORT", apply_port,
	  "local port to trace (repeatable, up to 16; default: all)" },
	{ "direction", 0, "DIR", apply_direction,
	  "datagrams to trace: receive (default), send, or both (one path"
	  "\nevent for a datagram sent and received on this host)" },
	{ "threshold", 't', "TIME", apply_threshold,
	  "report datagrams slower than TIME: 3ms, 500us, 0 (default 3ms)" },
	{ "threshold-us", 0, "N", apply_threshold_us,
	  "the same in microseconds" },
	{ "laddr", 0, "CIDR", apply_laddr,
	  "local address prefix (repeatable, up to 8)" },
	{ "raddr", 0, "CIDR", apply_raddr,
	  "remote address prefix (repeatable, up to 8)" },
	{ "rport", 0, "PORT", apply_rport, "remote port" },
	{ "pid", 0, "PID", apply_pid,
	  "reading (sending, for sends) process (tgid)" },
	{ "comm", 0, "NAME", apply_comm,
	  "reading (sending) thread's command name" },
	{ "cgroup", 0, "PATH|ID", apply_cgroup,
	  "reader's (sender's) cgroup v2 (and below): path or id" },
	{ "netns", 0, "INODE", apply_netns,
	  "socket's network namespace inode" },
	{ "family", 0, "4|6", apply_family, "address family of the datagram" },
	{ "plan", 0, "PLAN", apply_plan,
	  "auto, fentry, kprobe or tracepoint (default auto)" },
	{ "marks", 0, "LIST", apply_marks,
	  "marks to take, e.g. enqueue,return (default: all the plan sees"
	  "\non the direction's sides)" },
	{ "no-reader", 0, NULL, apply_no_reader,
	  "do not measure what readers do while datagrams wait (busy, runqueue, blocked)" },
	{ "format", 'f', "FORMAT", apply_format,
	  "text, json (one object a line) or bin (records of udplat.h)" },
	{ "stats-interval-ms", 0, "N", apply_stats_interval,
	  "how often json and bin output carry counters (default 1000)" },
	{ "ringbuf-kb", 0, "N", apply_ringbuf_kb,
	  "ring buffer size, a power of two >= 4 (default 1024)" },
	{ "drop-events", 0, "N", apply_drop_events,
	  "drop events per CPU and second at most (default 1000; counts stay exact)" },
	{ "duration", 'd', "SECONDS", apply_duration,
	  "stop after this long (default: at SIGINT or SIGTERM)" },
	{ "shared", 0, NULL, apply_shared,
	  "join the host's hub, whose probes every --shared session shares\n(started on demand, gone with its last session)" },
	{ "keep-hub", 0, NULL, apply_keep_hub,
	  "start the hub of the plan if none runs and keep it running, with no\nsession of our own, until SIGINT or SIGTERM (the service runs one);\njson and bin output carry a stats record each time the hub answers,\nasked every --stats-interval-ms" },
	{ "list-plans", 0, NULL, apply_list_plans,
	  "print the attach plans this kernel allows (JSON) and exit" },
	{ "verbose", 'v', NULL, apply_verbose,
	  "libbpf debug output on stderr" },
	{ "help", 'h', NULL, apply_help, "this text" },
};

#define NR_SPECS (sizeof(specs) / sizeof(specs[0]))
#define HELP_COLUMN 27

static int apply_help(struct config *cfg, const char *value, char *err,
		      size_t errlen)
{
	const struct option_spec *o;
	const char *line, *next;
	int n;

	fputs("Usage: udplat-probe [OPTIONS]\n"
	      "Reports UDP datagrams whose path through this host took longer than a\n"
	      "threshold, "
	      "with the time each stage took.\n\n",
	      stdout);
	for (o = specs; o < specs + NR_SPECS; o++) {
		n = o->short_name ?
			    printf("  -%c, --%s", o->short_name, o->name) :
			    printf("      --%s", o->name);
		if (o->value)
			n += printf(" %s", o->value);
		for (line = o->help; line; line = next ? next + 1 : NULL) {
			next = strchr(line, '\n');
			printf("%*s%.*s\n",
			       n < HELP_COLUMN ? HELP_COLUMN - n : 1, "",
			       next ? (int)(next - line) : (int)strlen(line),
			       line);
			n = 0;
		}
	}
	return 1;
}

int parse_args(int argc, char **argv, struct config *cfg, char *err,
	       size_t errlen)
{
	struct option longopts[NR_SPECS + 1] = {};
	char shortopts[2 + 2 * NR_SPECS + 1] = ":";
	size_t i, n = 1;
	int opt, index, ret;

	for (i = 0; i < NR_SPECS; i++) {
		/* A long option's val is its row, offset past every short option's letter. */
		longopts[i] = (struct option){ specs[i].name,
					       specs[i].value ?
						       required_argument :
						       no_argument,
					       NULL, 256 + i };
		if (specs[i].short_name) {
			shortopts[n++] = specs[i].short_name;
			if (specs[i].value)
				shortopts[n++] = ':';
		}
	}
	memset(cfg, 0, sizeof(*cfg));
	cfg->session.min_latency_ns = 3000000;
	cfg->stats_interval_ms = 1000;
	cfg->ringbuf_bytes = DEFAULT_RINGBUF_BYTES;
	cfg->session.max_drop_events_per_s = 1000;
	cfg->session.reader = true;
	cfg->session.direction = EVENT_RECEIVE;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, shortopts, longopts, NULL)) !=
	       -1) {
		if (opt == ':')
			return fail(err, errlen, "option '%s' needs a value",
				    argv[optind - 1]);
		for (index = 0; opt < 256 && index < (int)NR_SPECS &&
				specs[index].short_name != opt;
		     index++)
			;
		if (opt >= 256)
			index = opt - 256;
		if (opt == '?' || index >= (int)NR_SPECS)
			return fail(err, errlen,
				    "unknown option '%s' (see --help)",
				    argv[optind - 1]);
		ret = specs[index].apply(cfg, optarg, err, errlen);
		if (ret)
			return ret;
	}
	if (optind < argc)
		return fail(err, errlen,
			    "unexpected argument '%s' (see --help)",
			    argv[optind]);
	/* Wake the loader once a quarter of the ring is unread; it drains on a timer otherwise. */
	cfg->session.wakeup_bytes = cfg->ringbuf_bytes / 4;
	return 0;
}
