// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The loader's half of the hub: start one when none runs, join it, notice when it has gone. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include "hub_proto.h"
#include "plans.h"

/*
 * A hub that does not answer a join in this long is stopped or stuck: one
 * that serves answers in milliseconds, one still loading its programs in a
 * fraction of a second.
 */
#define HUB_REPLY_TIMEOUT_S 2
#define JOIN_ATTEMPTS 3

/*
 * Starts a hub detached from this loader, and returns our end of the hub's
 * first connection: the hub answers the request sent on it once it serves,
 * or says why it cannot. A hub ends with its last connection, so one whose
 * starter died before joining ends as soon as it has loaded.
 */
static int hub_spawn(enum plan plan)
{
	char *const no_environment[] = { NULL };
	int pair[2], devnull, err;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair))
		return -errno;
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(pair[0]);
		close(pair[1]);
		return err;
	}
	if (!pid) {
		/*
		 * The grandchild becomes the hub: reparented at once, in a session
		 * of its own, holding nothing of ours but its connection, with an
		 * argv of its own so that nobody takes it for this session's
		 * loader, and an empty environment: it needs none.
		 */
		setsid();
		if (fork())
			_exit(0);
		devnull = open("/dev/null", O_RDWR);
		if (devnull < 0 || dup2(devnull, 0) < 0 ||
		    dup2(devnull, 1) < 0 || dup2(devnull, 2) < 0 ||
		    (pair[1] == HUB_STARTER_FD ?
			     fcntl(pair[1], F_SETFD, 0) :
			     dup2(pair[1], HUB_STARTER_FD)) < 0)
			_exit(1);
		execle("/proc/self/exe", "udplat-probe", "--hub",
		       plan_name(plan), (char *)NULL, no_environment);
		_exit(1);
	}
	close(pair[1]);
	waitpid(pid, NULL, 0);
	return pair[0];
}

static int hub_connect(enum plan plan)
{
	struct sockaddr_un addr;
	socklen_t len = hub_address(plan, &addr);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, len)) {
		close(fd);
		return -errno;
	}
	return fd;
}

/*
 * Sends the request and takes the reply (and a session's fds), waiting
 * timeout_s at most (0: until the hub answers or goes); -ECONNRESET when the
 * hub went away before answering.
 */
static int hub_register(int fd, const struct hub_request *req,
			struct session_handles *session, struct hub_info *info,
			int timeout_s, char *msg, size_t msglen)
{
	char control[CMSG_SPACE(2 * sizeof(int))];
	struct timeval timeout = { .tv_sec = timeout_s };
	struct hub_reply *reply = malloc(sizeof(*reply));
	struct iovec iov = { .iov_base = reply, .iov_len = sizeof(*reply) };
	struct msghdr m = { .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = control,
			    .msg_controllen = sizeof(control) };
	struct cmsghdr *cmsg;
	int fds[2], err = 0;
	ssize_t n;

	if (!reply)
		return -ENOMEM;
	if (send(fd, req, sizeof(*req), MSG_NOSIGNAL) != sizeof(*req)) {
		err = -ECONNRESET;
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	n = recvmsg(fd, &m, MSG_CMSG_CLOEXEC);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		snprintf(
			msg, msglen,
			"failed to join the hub: it did not answer within %d s",
			timeout_s);
		err = -ETIMEDOUT;
		goto out;
	}
	if (n != sizeof(*reply)) {
		err = -ECONNRESET;
		goto out;
	}
	if (reply->err) {
		snprintf(msg, msglen, "%s", reply->message);
		err = reply->err;
		goto out;
	}
	*info = reply->info;
	session->hub_fd = fd;
	if (req->kind == JOIN_KEEPER)
		goto out;
	cmsg = CMSG_FIRSTHDR(&m);
	if (!cmsg || cmsg->cmsg_type != SCM_RIGHTS ||
	    cmsg->cmsg_len != CMSG_LEN(sizeof(fds))) {
		snprintf(
			msg, msglen,
			"failed to join the hub: its reply carried no ring buffer");
		session->hub_fd = -1;
		err = -EPROTO;
		goto out;
	}
	memcpy(fds, CMSG_DATA(cmsg), sizeof(fds));
	session->slot = reply->slot;
	session->ring_fd = fds[0];
	session->states_fd = fds[1];
out:
	free(reply);
	return err;
}

int hub_join(enum plan plan, bool spawn, const struct session_conf *conf,
	     __u32 ring_bytes, struct session_handles *session,
	     struct hub_info *info, char *msg, size_t msglen)
{
	struct hub_request req = {
		.version = UDPLAT_PROTO_VERSION,
		.kind = conf ? JOIN_SESSION : JOIN_KEEPER,
		.ring_bytes = ring_bytes,
	};
	int attempt, fd, err = -ECONNREFUSED;
	bool starting;

	if (conf)
		req.conf = *conf;
	/*
	 * A hub may exit between our connect and its accept, and one we start
	 * exits at once when another took its name first: try again.
	 */
	for (attempt = 0; attempt < JOIN_ATTEMPTS; attempt++) {
		fd = hub_connect(plan);
		starting = fd == -ECONNREFUSED && spawn;
		if (starting)
			fd = hub_spawn(plan);
		if (fd < 0) {
			err = fd;
			if (!spawn)
				return err;
			continue;
		}
		/* The hub we start answers once it has loaded its programs. */
		err = hub_register(fd, &req, session, info,
				   starting ? 0 : HUB_REPLY_TIMEOUT_S, msg,
				   msglen);
		if (!err)
			return 0;
		close(fd);
		if (err != -ECONNRESET)
			return err;
	}
	snprintf(msg, msglen, "failed to join the hub: %s", strerror(-err));
	return err;
}

bool hub_gone(int hub_fd)
{
	struct pollfd p = { .fd = hub_fd, .events = POLLIN };

	return poll(&p, 1, 0) > 0;
}

int hub_ping(int hub_fd, __u32 seq)
{
	struct hub_ping ping = { .seq = seq };

	return send(hub_fd, &ping, sizeof(ping), MSG_NOSIGNAL) == sizeof(ping) ?
		       0 :
		       -EPIPE;
}

long hub_pong(int hub_fd)
{
	struct hub_ping pong;

	return recv(hub_fd, &pong, sizeof(pong), MSG_DONTWAIT) == sizeof(pong) ?
		       (long)pong.seq :
		       -EPIPE;
}
