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

/* A hub that does not answer a join in this long is stuck (stopped, say). */
#define HUB_REPLY_TIMEOUT_S 5
#define JOIN_ATTEMPTS 3

/* Starts a hub detached from this loader (it outlives it) and waits until it serves or fails. */
static int hub_spawn(enum plan plan, char *msg, size_t msglen)
{
	int status[2], devnull, n, got = 0;
	pid_t pid;

	if (pipe2(status, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(status[0]);
		close(status[1]);
		return -errno;
	}
	if (!pid) {
		/*
		 * The grandchild becomes the hub: reparented at once, in a session
		 * of its own, holding none of our pipes, and with an argv of its own
		 * so that nobody takes it for this session's loader.
		 */
		setsid();
		if (fork())
			_exit(0);
		devnull = open("/dev/null", O_RDWR);
		if (devnull < 0 || dup2(devnull, 0) < 0 ||
		    dup2(devnull, 1) < 0 || dup2(devnull, 2) < 0 ||
		    dup2(status[1], HUB_STATUS_FD) < 0)
			_exit(1);
		execl("/proc/self/exe", "udplat-probe", "--hub",
		      plan_name(plan), (char *)NULL);
		_exit(1);
	}
	close(status[1]);
	waitpid(pid, NULL, 0);
	while (got < (int)msglen - 1 &&
	       (n = read(status[0], msg + got, msglen - 1 - got)) > 0)
		got += n;
	close(status[0]);
	msg[got] = '\0';
	if (got)
		return -EPERM;
	return 0;
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

/* Sends the request and takes the reply (and a session's fds); -ECONNRESET when the hub went away before answering. */
static int hub_register(int fd, const struct hub_request *req,
			struct session_handles *session, struct hub_info *info,
			char *msg, size_t msglen)
{
	char control[CMSG_SPACE(2 * sizeof(int))];
	struct timeval timeout = { .tv_sec = HUB_REPLY_TIMEOUT_S };
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
			HUB_REPLY_TIMEOUT_S);
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

	if (conf)
		req.conf = *conf;
	/* A hub may exit between our connect and its accept: start another and try again. */
	for (attempt = 0; attempt < JOIN_ATTEMPTS; attempt++) {
		fd = hub_connect(plan);
		if (fd == -ECONNREFUSED && spawn) {
			err = hub_spawn(plan, msg, msglen);
			if (err)
				return err;
			fd = hub_connect(plan);
		}
		if (fd < 0) {
			err = fd;
			if (!spawn)
				return err;
			continue;
		}
		err = hub_register(fd, &req, session, info, msg, msglen);
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
