// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include "dispatcher.h"
#include "hub.h"
#include "kernel_features.h"
#include "udplat.skel.h"

/* A hub that nobody joins within this long after it started exits. */
#define HUB_FIRST_JOIN_MS	2000
#define HUB_REQUEST_TIMEOUT_S	1
/* A hub that does not answer a join in this long is stuck (stopped, say). */
#define HUB_REPLY_TIMEOUT_S	5
#define JOIN_ATTEMPTS		3
/* The hub's status pipe, at a fixed number across exec. */
#define HUB_STATUS_FD		3

struct hub_request {
	__u32 version;		/* UDPLAT_PROTO_VERSION */
	__u32 ring_bytes;
	struct session_conf conf;
};

/* Comes with two fds (SCM_RIGHTS) when err is 0: the ring buffer, then the states map. */
struct hub_reply {
	__s32 err;
	__u32 slot;
	char message[ERROR_MSG_LEN];
};

/* FNV-1a of the BPF object: loaders of another build must not join this one's hub. */
static __u32 build_id(void)
{
	size_t size, i;
	const __u8 *elf = udplat_bpf__elf_bytes(&size);
	__u32 h = 2166136261u;

	for (i = 0; i < size; i++)
		h = (h ^ elf[i]) * 16777619u;
	return h;
}

/* An abstract socket name: nothing on disk to clean up, gone when the hub's socket closes. */
static socklen_t hub_address(enum plan plan, struct sockaddr_un *addr)
{
	int n;

	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	n = snprintf(addr->sun_path + 1, sizeof(addr->sun_path) - 1, "udplat-hub.%u.%s.%08x",
		     geteuid(), plan_name(plan), build_id());
	return offsetof(struct sockaddr_un, sun_path) + 1 + n;
}

static int send_reply(int fd, const struct hub_reply *reply, int ring_fd, int states_fd)
{
	char control[CMSG_SPACE(2 * sizeof(int))] = {};
	struct iovec iov = { .iov_base = (void *)reply, .iov_len = sizeof(*reply) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cmsg;
	int fds[2] = { ring_fd, states_fd };

	if (!reply->err) {
		msg.msg_control = control;
		msg.msg_controllen = sizeof(control);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(fds));
		memcpy(CMSG_DATA(cmsg), fds, sizeof(fds));
	}
	return sendmsg(fd, &msg, MSG_NOSIGNAL) == sizeof(*reply) ? 0 : -1;
}

/* Only loaders of the hub's own user may join: a session sees other processes' traffic. */
static bool same_user(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	return !getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) && cred.uid == geteuid();
}

/* Serves one joining loader; returns its slot, or -1 when it was turned away. */
static int admit(struct dispatcher *d, int fd)
{
	struct timeval timeout = { .tv_sec = HUB_REQUEST_TIMEOUT_S };
	struct hub_reply reply = {};
	struct hub_request req;
	int ring_fd = -1;
	__u32 slot = 0;

	if (!same_user(fd))
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	if (recv(fd, &req, sizeof(req), 0) != sizeof(req) || req.version != UDPLAT_PROTO_VERSION)
		return -1;
	reply.err = dispatcher_add(d, &req.conf, req.ring_bytes, &slot, &ring_fd, reply.message, sizeof(reply.message));
	reply.slot = slot;
	if (send_reply(fd, &reply, ring_fd, dispatcher_states_fd(d)) || reply.err) {
		if (!reply.err)
			dispatcher_remove(d, slot);
		if (ring_fd >= 0)
			close(ring_fd);
		return -1;
	}
	close(ring_fd);
	return slot;
}

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
	stop_requested = 1;
}

/*
 * The hub's life: bind the name (another hub holding it is not an error),
 * load the programs, report to the starting loader through status_fd (closed
 * empty on success, a message on failure), then admit loaders and free each
 * one's slot when its connection closes, until none is left.
 */
int hub_serve(const char *plan_arg)
{
	int plan = plan_from_name(plan_arg);
	int status_fd = HUB_STATUS_FD;
	struct pollfd fds[1 + MAX_SESSIONS];
	int slots[1 + MAX_SESSIONS];
	struct sockaddr_un addr;
	socklen_t len = hub_address(plan, &addr);
	char msg[ERROR_MSG_LEN];
	struct sigaction stop = { .sa_handler = on_stop_signal };
	struct dispatcher d;
	int listener, nfds = 1, fd, slot, i, n;

	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGINT, &stop, NULL);
	sigaction(SIGTERM, &stop, NULL);
	if (plan <= PLAN_AUTO) {
		dprintf(status_fd, "failed to start the hub: unknown plan %s", plan_arg);
		return 2;
	}
	listener = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (listener < 0 || bind(listener, (struct sockaddr *)&addr, len)) {
		if (errno != EADDRINUSE)
			dprintf(status_fd, "failed to start the hub: %s", strerror(errno));
		return errno == EADDRINUSE ? 0 : 1;
	}
	if (listen(listener, MAX_SESSIONS)) {
		dprintf(status_fd, "failed to start the hub: %s", strerror(errno));
		return 1;
	}
	if (dispatcher_open(&d, plan, msg, sizeof(msg))) {
		dprintf(status_fd, "%s", msg);
		dispatcher_close(&d);
		return 1;
	}
	close(status_fd);
	fds[0] = (struct pollfd){ .fd = listener, .events = POLLIN };
	for (;;) {
		if (stop_requested) {
			/* systemd stops the whole cgroup at once: take no one new, and end with the last loader, not before it. */
			fds[0].fd = -1;
			if (nfds == 1)
				break;
		}
		n = poll(fds, nfds, nfds == 1 ? HUB_FIRST_JOIN_MS : -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (i = nfds - 1; i >= 1; i--) {
			if (!fds[i].revents)
				continue;
			dispatcher_remove(&d, slots[i]);
			close(fds[i].fd);
			fds[i] = fds[--nfds];
			slots[i] = slots[nfds];
		}
		if (nfds == 1 && !fds[0].revents)
			break;
		while (fds[0].revents && (fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
			/* A full dispatcher turns the loader away (ENOSPC): fds has room for every slot. */
			slot = admit(&d, fd);
			if (slot < 0) {
				close(fd);
				continue;
			}
			fds[nfds] = (struct pollfd){ .fd = fd, .events = POLLIN };
			slots[nfds++] = slot;
		}
	}
	/* New loaders now start a new hub instead of queueing on this one. */
	close(listener);
	for (i = 1; i < nfds; i++)
		close(fds[i].fd);
	dispatcher_close(&d);
	return 0;
}

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
		if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 || dup2(devnull, 2) < 0 ||
		    dup2(status[1], HUB_STATUS_FD) < 0)
			_exit(1);
		execl("/proc/self/exe", "udplat-probe", "--hub", plan_name(plan), (char *)NULL);
		_exit(1);
	}
	close(status[1]);
	waitpid(pid, NULL, 0);
	while (got < (int)msglen - 1 && (n = read(status[0], msg + got, msglen - 1 - got)) > 0)
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

/* Sends the request and takes the reply's fds; -ECONNRESET when the hub went away before answering. */
static int hub_register(int fd, const struct hub_request *req, struct session_handles *session,
			char *msg, size_t msglen)
{
	char control[CMSG_SPACE(2 * sizeof(int))];
	struct timeval timeout = { .tv_sec = HUB_REPLY_TIMEOUT_S };
	struct hub_reply reply;
	struct iovec iov = { .iov_base = &reply, .iov_len = sizeof(reply) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof(control) };
	struct cmsghdr *cmsg;
	int fds[2];
	ssize_t n;

	if (send(fd, req, sizeof(*req), MSG_NOSIGNAL) != sizeof(*req))
		return -ECONNRESET;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	n = recvmsg(fd, &m, MSG_CMSG_CLOEXEC);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		snprintf(msg, msglen, "failed to join the hub: it did not answer within %d s", HUB_REPLY_TIMEOUT_S);
		return -ETIMEDOUT;
	}
	if (n != sizeof(reply))
		return -ECONNRESET;
	if (reply.err) {
		snprintf(msg, msglen, "%s", reply.message);
		return reply.err;
	}
	cmsg = CMSG_FIRSTHDR(&m);
	if (!cmsg || cmsg->cmsg_type != SCM_RIGHTS || cmsg->cmsg_len != CMSG_LEN(sizeof(fds))) {
		snprintf(msg, msglen, "failed to join the hub: its reply carried no ring buffer");
		return -EPROTO;
	}
	memcpy(fds, CMSG_DATA(cmsg), sizeof(fds));
	session->slot = reply.slot;
	session->ring_fd = fds[0];
	session->states_fd = fds[1];
	session->hub_fd = fd;
	return 0;
}

int hub_join(enum plan plan, const struct session_conf *conf, __u32 ring_bytes,
	     struct session_handles *session, char *msg, size_t msglen)
{
	struct hub_request req = { .version = UDPLAT_PROTO_VERSION, .ring_bytes = ring_bytes, .conf = *conf };
	int attempt, fd, err = -ECONNREFUSED;

	/* A hub may exit between our connect and its accept: start another and try again. */
	for (attempt = 0; attempt < JOIN_ATTEMPTS; attempt++) {
		fd = hub_connect(plan);
		if (fd == -ECONNREFUSED) {
			err = hub_spawn(plan, msg, msglen);
			if (err)
				return err;
			fd = hub_connect(plan);
		}
		if (fd < 0) {
			err = fd;
			continue;
		}
		err = hub_register(fd, &req, session, msg, msglen);
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
