// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The hub's half: own the dispatcher, admit loaders and keepers, answer keepers, free a slot when its loader goes. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/btf.h>
#include "dispatcher.h"
#include "hub_proto.h"
#include "plans.h"

#define HUB_REQUEST_TIMEOUT_S 1
/* Keepers (one per service) beside the MAX_SESSIONS sessions. */
#define MAX_KEEPERS 8
#define MAX_CLIENTS (MAX_SESSIONS + MAX_KEEPERS)
#define KEEPER_SLOT -1
/* What the hub polls before its clients: its listeners, then the dispatcher's ring reports. */
#define NR_LISTENERS 2
#define REPORTS NR_LISTENERS
#define FIRST_CLIENT (NR_LISTENERS + 1)

struct hub {
	struct dispatcher d;
	struct hub_info info;
	/* The plan's own name, then the `auto` alias when auto picks this plan (else -1). */
	struct pollfd fds[FIRST_CLIENT + MAX_CLIENTS];
	int slots[FIRST_CLIENT +
		  MAX_CLIENTS]; /* a client's session slot, or KEEPER_SLOT */
	int nfds;
	int keepers;
};

static int send_reply(int fd, const struct hub_reply *reply, int ring_fd,
		      int states_fd)
{
	char control[CMSG_SPACE(2 * sizeof(int))] = {};
	struct iovec iov = { .iov_base = (void *)reply,
			     .iov_len = sizeof(*reply) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cmsg;
	int fds[2] = { ring_fd, states_fd };

	if (ring_fd >= 0) {
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

	return !getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) &&
	       cred.uid == geteuid();
}

/* Serves one joining client; returns its slot (KEEPER_SLOT for a keeper), or -2 when it was turned away. */
static int admit(struct hub *hub, int fd)
{
	struct timeval timeout = { .tv_sec = HUB_REQUEST_TIMEOUT_S };
	struct hub_reply *reply;
	struct hub_request req;
	int ring_fd = -1, slot = -2;
	__u32 s = 0;

	if (!same_user(fd))
		return -2;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	if (recv(fd, &req, sizeof(req), 0) != sizeof(req) ||
	    req.version != UDPLAT_PROTO_VERSION)
		return -2;
	reply = calloc(1, sizeof(*reply));
	if (!reply)
		return -2;
	reply->info = hub->info;
	if (req.kind == JOIN_KEEPER) {
		if (hub->keepers == MAX_KEEPERS) {
			reply->err = -ENOSPC;
			snprintf(
				reply->message, sizeof(reply->message),
				"failed to keep the hub: %d keepers already do",
				MAX_KEEPERS);
		}
		if (!send_reply(fd, reply, -1, -1) && !reply->err) {
			hub->keepers++;
			slot = KEEPER_SLOT;
		}
		free(reply);
		return slot;
	}
	reply->err = dispatcher_add(&hub->d, &req.conf, req.ring_bytes, &s,
				    &ring_fd, reply->message,
				    sizeof(reply->message));
	reply->slot = s;
	if (send_reply(fd, reply, ring_fd, dispatcher_states_fd(&hub->d)) ||
	    reply->err) {
		if (!reply->err)
			dispatcher_remove(&hub->d, s);
	} else {
		slot = s;
	}
	if (ring_fd >= 0)
		close(ring_fd);
	free(reply);
	return slot;
}

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
	stop_requested = 1;
}

/* A listening socket on the name of plan; -EADDRINUSE when another hub holds it. */
static int listen_on(enum plan plan)
{
	struct sockaddr_un addr;
	socklen_t len = hub_address(plan, &addr);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK,
			0),
	    err;

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&addr, len) ||
	    listen(fd, MAX_CLIENTS)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* What every joining loader gets instead of reading BTF itself: the plan, auto's notes, the drop reasons. */
static int learn_kernel(struct hub *hub, enum plan plan, bool *auto_plan,
			char *msg, size_t msglen)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();
	int err;

	if (!vmlinux) {
		err = errno ? -errno : -ENOENT;
		snprintf(
			msg, msglen,
			"failed to start the hub: failed to load kernel BTF: %s",
			strerror(-err));
		return err;
	}
	hub->info.plan = plan;
	*auto_plan = choose_plan(vmlinux, hub->info.notes,
				 sizeof(hub->info.notes)) == plan;
	drop_reasons_load(&hub->info.reasons, vmlinux);
	btf__free(vmlinux);
	return 0;
}

/* A keeper's ping is answered; a session sends nothing after its request: anything else is a connection closing. */
static bool answered(const struct hub *hub, int i)
{
	struct hub_ping ping;
	int fd = hub->fds[i].fd;

	return hub->slots[i] == KEEPER_SLOT &&
	       recv(fd, &ping, sizeof(ping), MSG_DONTWAIT) == sizeof(ping) &&
	       send(fd, &ping, sizeof(ping), MSG_DONTWAIT | MSG_NOSIGNAL) ==
		       sizeof(ping);
}

/* Answers the keepers that asked; drops the clients whose connection closed, freeing their slots. */
static void serve_clients(struct hub *hub)
{
	int i;

	for (i = hub->nfds - 1; i >= FIRST_CLIENT; i--) {
		if (!hub->fds[i].revents || answered(hub, i))
			continue;
		if (hub->slots[i] == KEEPER_SLOT)
			hub->keepers--;
		else
			dispatcher_remove(&hub->d, hub->slots[i]);
		close(hub->fds[i].fd);
		hub->nfds--;
		hub->fds[i] = hub->fds[hub->nfds];
		hub->slots[i] = hub->slots[hub->nfds];
	}
}

/* Admits the client connected on fd: a full dispatcher turns the loader away (ENOSPC); fds has room for every slot and keeper. */
static void add_client(struct hub *hub, int fd)
{
	int slot = admit(hub, fd);

	if (slot < KEEPER_SLOT) {
		close(fd);
		return;
	}
	hub->fds[hub->nfds] = (struct pollfd){ .fd = fd, .events = POLLIN };
	hub->slots[hub->nfds++] = slot;
}

/*
 * One client per listener and turn: a loop that accepted while clients kept coming never got back
 * to poll(), so slots of loaders that had gone were not freed (the dispatcher filled up with 8
 * sessions churning).
 */
static void accept_client(struct hub *hub, int listener)
{
	int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);

	if (fd >= 0)
		add_client(hub, fd);
}

/*
 * Serves until no client is left and none is waiting to join (at once: a hub
 * outlives no one), taking no one new once asked to stop.
 */
static void serve(struct hub *hub)
{
	int i, n, timeout;

	for (;;) {
		if (stop_requested) {
			/* systemd stops the whole cgroup at once: take no one new, and end with the last loader, not before it. */
			for (i = 0; i < NR_LISTENERS; i++) {
				if (hub->fds[i].fd >= 0)
					close(hub->fds[i].fd);
				hub->fds[i].fd = -1;
			}
		}
		timeout = dispatcher_tick(&hub->d);
		if (hub->nfds == FIRST_CLIENT)
			timeout = 0;
		n = poll(hub->fds, hub->nfds, timeout);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return;
		serve_clients(hub);
		if (hub->nfds == FIRST_CLIENT && !hub->fds[0].revents &&
		    !hub->fds[1].revents)
			return;
		for (i = 0; i < NR_LISTENERS; i++)
			if (hub->fds[i].revents && hub->fds[i].fd >= 0)
				accept_client(hub, hub->fds[i].fd);
		/* The next session's ring is made now, in the background, so that its join does not wait for the kernel. */
		dispatcher_prepare(&hub->d);
	}
}

/* Tells the loader that started the hub why it could not (it has sent its request already, or will). */
static void refuse_starter(const char *msg, int err)
{
	struct hub_reply *reply = calloc(1, sizeof(*reply));

	if (!reply)
		return;
	reply->err = err;
	snprintf(reply->message, sizeof(reply->message), "%s", msg);
	send_reply(HUB_STARTER_FD, reply, -1, -1);
	free(reply);
}

/*
 * The hub's life: bind the name (another hub holding it is not an error: the
 * loader that started this one joins that one instead), load the programs,
 * admit the loader that started it (connected on HUB_STARTER_FD), or tell it
 * why not, then serve.
 */
int hub_serve(const char *plan_arg)
{
	struct sigaction stop = { .sa_handler = on_stop_signal };
	int plan = plan_from_name(plan_arg), i, fd, err;
	char msg[ERROR_MSG_LEN];
	struct hub *hub;
	bool auto_plan = false;

	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGINT, &stop, NULL);
	sigaction(SIGTERM, &stop, NULL);
	if (plan <= PLAN_AUTO) {
		snprintf(msg, sizeof(msg),
			 "failed to start the hub: unknown plan %s", plan_arg);
		refuse_starter(msg, -EINVAL);
		return 2;
	}
	hub = calloc(1, sizeof(*hub));
	if (!hub) {
		refuse_starter("failed to start the hub: out of memory",
			       -ENOMEM);
		return 1;
	}
	for (i = 0; i < FIRST_CLIENT; i++)
		hub->fds[i] = (struct pollfd){ .fd = -1, .events = POLLIN };
	hub->nfds = FIRST_CLIENT;
	fd = listen_on(plan);
	if (fd < 0) {
		if (fd != -EADDRINUSE) {
			snprintf(msg, sizeof(msg),
				 "failed to start the hub: %s", strerror(-fd));
			refuse_starter(msg, fd);
		}
		free(hub);
		return fd == -EADDRINUSE ? 0 : 1;
	}
	hub->fds[0].fd = fd;
	err = learn_kernel(hub, plan, &auto_plan, msg, sizeof(msg));
	if (!err)
		err = dispatcher_open(&hub->d, plan, msg, sizeof(msg));
	if (err) {
		refuse_starter(msg, err);
		dispatcher_close(&hub->d);
		free(hub);
		return 1;
	}
	if (auto_plan)
		hub->fds[1].fd = listen_on(PLAN_AUTO);
	hub->fds[REPORTS].fd = dispatcher_reports_fd(&hub->d);
	dispatcher_prepare(&hub->d);
	add_client(hub, HUB_STARTER_FD);
	serve(hub);
	/* New loaders now start a new hub instead of queueing on this one. */
	for (i = 0; i < hub->nfds; i++)
		if (hub->fds[i].fd >= 0 && i != REPORTS)
			close(hub->fds[i].fd);
	dispatcher_close(&hub->d);
	free(hub);
	return 0;
}
