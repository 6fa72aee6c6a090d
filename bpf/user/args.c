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
#include "plans.h"


static const char usage[] =
"Usage: udplat-probe [OPTIONS]\n"
"Reports UDP datagrams whose receive path took longer than a threshold,\n"
"with the time each stage took: stack, queue, copy.\n"
"\n"
"  -p, --port PORT          local port to trace (repeatable, up to 16; default: all)\n"
"  -t, --threshold TIME     report datagrams slower than TIME: 3ms, 500us, 0 (default 3ms)\n"
"      --threshold-us N     the same in microseconds\n"
"      --laddr CIDR         local address prefix (repeatable, up to 8)\n"
"      --raddr CIDR         remote address prefix (repeatable, up to 8)\n"
"      --rport PORT         remote port\n"
"      --pid PID            reading process (tgid)\n"
"      --comm NAME          reading thread's command name\n"
"      --cgroup PATH|ID     reader's cgroup v2 (and below): path or id\n"
"      --netns INODE        socket's network namespace inode\n"
"      --family 4|6         address family of the datagram\n"
"      --plan PLAN          auto, fentry, kprobe or tracepoint (default auto)\n"
"  -f, --format FORMAT      text, json (one object a line) or bin (records of udplat.h)\n"
"      --stats-interval-ms N  how often json and bin output carry counters (default 1000)\n"
"      --ringbuf-kb N       ring buffer size, a power of two >= 4 (default 1024)\n"
"      --drop-events N      drop events per CPU and second at most (default 1000; counts stay exact)\n"
"  -d, --duration SECONDS   stop after this long (default: at SIGINT or SIGTERM)\n"
"      --shared             join the host's hub, whose probes every --shared session shares\n"
"                           (started on demand, gone with its last session)\n"
"      --keep-hub           start the hub of the plan if none runs and keep it running, with no\n"
"                           session of our own, until SIGINT or SIGTERM (the service runs one)\n"
"      --list-plans         print the attach plans this kernel allows (JSON) and exit\n"
"  -v, --verbose            libbpf debug output on stderr\n"
"  -h, --help               this text\n";

enum {
	OPT_THRESHOLD_US = 256,
	OPT_LADDR,
	OPT_RADDR,
	OPT_RPORT,
	OPT_PID,
	OPT_COMM,
	OPT_CGROUP,
	OPT_NETNS,
	OPT_FAMILY,
	OPT_PLAN,
	OPT_STATS_INTERVAL,
	OPT_RINGBUF_KB,
	OPT_DROP_EVENTS,
	OPT_LIST_PLANS,
	OPT_SHARED,
	OPT_KEEP_HUB,
};

static const struct option options[] = {
	{ "port", required_argument, NULL, 'p' },
	{ "threshold", required_argument, NULL, 't' },
	{ "threshold-us", required_argument, NULL, OPT_THRESHOLD_US },
	{ "laddr", required_argument, NULL, OPT_LADDR },
	{ "raddr", required_argument, NULL, OPT_RADDR },
	{ "rport", required_argument, NULL, OPT_RPORT },
	{ "pid", required_argument, NULL, OPT_PID },
	{ "comm", required_argument, NULL, OPT_COMM },
	{ "cgroup", required_argument, NULL, OPT_CGROUP },
	{ "netns", required_argument, NULL, OPT_NETNS },
	{ "family", required_argument, NULL, OPT_FAMILY },
	{ "plan", required_argument, NULL, OPT_PLAN },
	{ "format", required_argument, NULL, 'f' },
	{ "stats-interval-ms", required_argument, NULL, OPT_STATS_INTERVAL },
	{ "ringbuf-kb", required_argument, NULL, OPT_RINGBUF_KB },
	{ "drop-events", required_argument, NULL, OPT_DROP_EVENTS },
	{ "duration", required_argument, NULL, 'd' },
	{ "list-plans", no_argument, NULL, OPT_LIST_PLANS },
	{ "shared", no_argument, NULL, OPT_SHARED },
	{ "keep-hub", no_argument, NULL, OPT_KEEP_HUB },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{},
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int parse_uint(const char *s, unsigned long long max, unsigned long long *out)
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
	static const struct { const char *suffix; __u64 ns; } units[] = {
		{ "ns", 1 }, { "us", 1000 }, { "ms", 1000000 }, { "s", 1000000000 },
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
	static const __u8 v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
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
		if (bits >= 96 && !memcmp(p->addr, v4mapped, sizeof(v4mapped))) {
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

static int match_cgroup(const char *path, const struct stat *st, int type, struct FTW *ftw)
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
static int parse_cgroup(const char *s, struct config *cfg, char *err, size_t errlen)
{
	char root[PATH_MAX], path[PATH_MAX];
	unsigned long long id;
	size_t root_len;

	if (cgroup2_root(root, sizeof(root)))
		return fail(err, errlen, "failed to find the cgroup v2 mount in /proc/self/mounts");
	root_len = strlen(root);
	if (!parse_uint(s, UINT64_MAX, &id)) {
		wanted_cgroup_id = id;
		if (nftw(root, match_cgroup, 16, FTW_PHYS) != 1)
			return fail(err, errlen, "no cgroup v2 with id %llu under %s", id, root);
		snprintf(path, sizeof(path), "%s", found_cgroup);
	} else if (!strncmp(s, root, root_len) && (s[root_len] == '/' || !s[root_len])) {
		snprintf(path, sizeof(path), "%s", s);
	} else if (s[0] == '/') {
		snprintf(path, sizeof(path), "%s%s", root, s);
	} else {
		return fail(err, errlen, "bad --cgroup '%s': want an absolute path or an id", s);
	}
	if (strstr(path, "/../") || strstr(path, "/./"))
		return fail(err, errlen, "bad --cgroup '%s': path must be normalized", s);
	cfg->session.cgroup_id = cgroup_id_of(path);
	if (!cfg->session.cgroup_id)
		return fail(err, errlen, "failed to resolve cgroup '%s': %s", path, strerror(errno));
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

int parse_args(int argc, char **argv, struct config *cfg, char *err, size_t errlen)
{
	unsigned long long v;
	int opt;

	memset(cfg, 0, sizeof(*cfg));
	cfg->session.min_latency_ns = 3000000;
	cfg->stats_interval_ms = 1000;
	cfg->ringbuf_bytes = DEFAULT_RINGBUF_BYTES;
	cfg->session.max_drop_events_per_s = 1000;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":p:t:f:d:vh", options, NULL)) != -1) {
		switch (opt) {
		case 'p':
			if (cfg->session.nr_ports == MAX_PORTS)
				return fail(err, errlen, "too many --port: at most %d", MAX_PORTS);
			if (parse_port(optarg, &cfg->session.ports[cfg->session.nr_ports++]))
				return fail(err, errlen, "bad --port '%s': want 1-65535", optarg);
			break;
		case 't':
			if (parse_duration_ns(optarg, &cfg->session.min_latency_ns))
				return fail(err, errlen, "bad --threshold '%s': want e.g. 3ms, 500us, 0", optarg);
			break;
		case OPT_THRESHOLD_US:
			if (parse_uint(optarg, UINT64_MAX / 1000, &v))
				return fail(err, errlen, "bad --threshold-us '%s'", optarg);
			cfg->session.min_latency_ns = v * 1000;
			break;
		case OPT_LADDR:
		case OPT_RADDR: {
			struct prefix *list = opt == OPT_LADDR ? cfg->session.laddrs : cfg->session.raddrs;
			__u32 *nr = opt == OPT_LADDR ? &cfg->session.nr_laddrs : &cfg->session.nr_raddrs;

			if (*nr == MAX_PREFIXES)
				return fail(err, errlen, "too many address prefixes: at most %d each", MAX_PREFIXES);
			if (parse_prefix(optarg, &list[(*nr)++]))
				return fail(err, errlen, "bad address prefix '%s': want e.g. 10.0.0.0/8 or 2001:db8::/32", optarg);
			break;
		}
		case OPT_RPORT:
			if (parse_port(optarg, &cfg->session.rport))
				return fail(err, errlen, "bad --rport '%s': want 1-65535", optarg);
			break;
		case OPT_PID:
			if (parse_uint(optarg, INT_MAX, &v) || !v)
				return fail(err, errlen, "bad --pid '%s'", optarg);
			cfg->session.pid = v;
			break;
		case OPT_COMM:
			if (!*optarg || strlen(optarg) >= TASK_COMM_LEN)
				return fail(err, errlen, "bad --comm '%s': want 1-%d bytes", optarg, TASK_COMM_LEN - 1);
			strcpy(cfg->session.comm, optarg);
			cfg->session.comm_on = true;
			break;
		case OPT_CGROUP:
			if (parse_cgroup(optarg, cfg, err, errlen))
				return -1;
			break;
		case OPT_NETNS:
			if (parse_uint(optarg, UINT32_MAX, &v) || !v)
				return fail(err, errlen, "bad --netns '%s': want a namespace inode", optarg);
			cfg->session.netns = v;
			break;
		case OPT_FAMILY:
			if (!strcmp(optarg, "4") || !strcmp(optarg, "ipv4"))
				cfg->session.family = AF_INET;
			else if (!strcmp(optarg, "6") || !strcmp(optarg, "ipv6"))
				cfg->session.family = AF_INET6;
			else
				return fail(err, errlen, "bad --family '%s': want 4 or 6", optarg);
			break;
		case OPT_PLAN:
			if (plan_from_name(optarg) < 0)
				return fail(err, errlen, "bad --plan '%s': want auto, fentry, kprobe or tracepoint", optarg);
			cfg->plan = plan_from_name(optarg);
			break;
		case 'f':
			if (!strcmp(optarg, "text"))
				cfg->format = FORMAT_TEXT;
			else if (!strcmp(optarg, "json"))
				cfg->format = FORMAT_JSON;
			else if (!strcmp(optarg, "bin"))
				cfg->format = FORMAT_BIN;
			else
				return fail(err, errlen, "bad --format '%s': want text, json or bin", optarg);
			break;
		case OPT_STATS_INTERVAL:
			if (parse_uint(optarg, 3600000, &v) || v < 10)
				return fail(err, errlen, "bad --stats-interval-ms '%s': want 10-3600000", optarg);
			cfg->stats_interval_ms = v;
			break;
		case OPT_RINGBUF_KB:
			if (parse_uint(optarg, 1 << 20, &v) || v < 4 || (v & (v - 1)))
				return fail(err, errlen, "bad --ringbuf-kb '%s': want a power of two from 4 to 1048576", optarg);
			cfg->ringbuf_bytes = v * 1024;
			break;
		case OPT_DROP_EVENTS:
			if (parse_uint(optarg, UINT32_MAX, &v))
				return fail(err, errlen, "bad --drop-events '%s': want events per CPU and second", optarg);
			cfg->session.max_drop_events_per_s = v;
			break;
		case 'd':
			if (parse_uint(optarg, 86400 * 365, &v) || !v)
				return fail(err, errlen, "bad --duration '%s': want seconds > 0", optarg);
			cfg->duration_s = v;
			break;
		case OPT_LIST_PLANS:
			cfg->list_plans = true;
			break;
		case OPT_SHARED:
			cfg->shared = true;
			break;
		case OPT_KEEP_HUB:
			cfg->keep_hub = true;
			break;
		case 'v':
			cfg->verbose = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 1;
		case ':':
			return fail(err, errlen, "option '%s' needs a value", argv[optind - 1]);
		default:
			return fail(err, errlen, "unknown option '%s' (see --help)", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return fail(err, errlen, "unexpected argument '%s' (see --help)", argv[optind]);
	/* Wake the loader once a quarter of the ring is unread; it drains on a timer otherwise. */
	cfg->session.wakeup_bytes = cfg->ringbuf_bytes / 4;
	return 0;
}
