/* The vhost-user backend's connection: sockets, message framing, dispatch. */
#include "vhost/backend.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/log.h"
#include "vhost/backend_priv.h"

/* A frontend that stops in the middle of a message is dropped after this long. */
#define VHOST_RECV_TIMEOUT_S 10

int vhost_backend_create(const struct vhost_backend_ops *ops,
			 const struct vhost_backend_params *params, void *dev,
			 struct vhost_backend **out)
{
	struct vhost_backend *be;

	*out = NULL;
	if (params->max_queues == 0 || params->max_queues > VHOST_USER_VRING_IDX_MASK + 1 ||
	    params->max_queue_size == 0 || params->config_size > VHOST_USER_CONFIG_MAX)
		return -EINVAL;
	be = calloc(1, sizeof(*be));
	if (!be)
		return -ENOMEM;
	be->queues = calloc(params->max_queues, sizeof(*be->queues));
	if (!be->queues) {
		free(be);
		return -ENOMEM;
	}
	be->ops = ops;
	be->params = *params;
	be->dev = dev;
	be->listen_fd = -1;
	be->conn_fd = -1;
	for (unsigned i = 0; i < params->max_queues; i++)
		vhost_queue_init(be, &be->queues[i], i);
	*out = be;
	return 0;
}

static void vhost_backend_disconnect(struct vhost_backend *be)
{
	if (be->conn_fd < 0)
		return;
	vhost_backend_reset_state(be);
	if (be->loop)
		evloop_del(be->loop, be->conn_fd);
	close(be->conn_fd);
	be->conn_fd = -1;
	be->features = 0;
	be->protocol_features = 0;
	be->status = 0;
	atomic_store(&be->needs_reset, false);
}

void vhost_backend_destroy(struct vhost_backend *be)
{
	if (!be)
		return;
	vhost_backend_disconnect(be);
	vhost_backend_reset_state(be);
	for (unsigned i = 0; i < be->params.max_queues; i++)
		vhost_queue_fini(&be->queues[i]);
	if (be->listen_fd >= 0) {
		if (be->loop)
			evloop_del(be->loop, be->listen_fd);
		close(be->listen_fd);
	}
	if (be->socket_path) {
		unlink(be->socket_path);
		free(be->socket_path);
	}
	free(be->queues);
	free(be);
}

int vhost_backend_reply(struct vhost_backend *be, uint32_t request, const void *payload,
			uint32_t size)
{
	struct vhost_user_header hdr = {
	    .request = request,
	    .flags = VHOST_USER_VERSION | VHOST_USER_FLAG_REPLY,
	    .size = size,
	};
	struct iovec iov[2] = {{&hdr, sizeof(hdr)}, {(void *)payload, size}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = size ? 2 : 1};
	ssize_t n;

	do
		n = sendmsg(be->conn_fd, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* A unix stream socket takes a small message whole or not at all (blocking socket). */
	return (size_t)n == sizeof(hdr) + size ? 0 : -EIO;
}

int vhost_msg_take_fd(struct vhost_msg *msg)
{
	int fd;

	if (msg->nfds != 1)
		return -1;
	fd = msg->fds[0];
	msg->fds[0] = -1;
	return fd;
}

static void vhost_msg_close_fds(struct vhost_msg *msg)
{
	for (unsigned i = 0; i < msg->nfds; i++)
		if (msg->fds[i] >= 0)
			close(msg->fds[i]);
	msg->nfds = 0;
}

/* Collect the SCM_RIGHTS fds of a received header. -EPROTO if there were too many (the
 * kernel then dropped the excess: the message cannot be trusted). */
static int vhost_msg_collect_fds(struct msghdr *mh, struct vhost_msg *msg)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t n;
		int *fds = (int *)CMSG_DATA(c);

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, fds + i, sizeof(fd));
			if (msg->nfds < VHOST_USER_MAX_FDS)
				msg->fds[msg->nfds++] = fd;
			else
				close(fd);
		}
	}
	return (mh->msg_flags & MSG_CTRUNC) ? -EPROTO : 0;
}

static int vhost_recv_exact(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = recv(fd, p, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read one whole message. 0, -ECONNRESET at end of stream, or -errno / -EPROTO when the
 * frontend broke the framing (the connection must then be dropped). */
static int vhost_msg_recv(int sock, struct vhost_msg *msg)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {&msg->m.hdr, sizeof(msg->m.hdr)};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = ctl.buf,
			    .msg_controllen = sizeof(ctl)};
	ssize_t n;
	int rc;

	memset(&msg->m, 0, sizeof(msg->m));
	msg->nfds = 0;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ECONNRESET;
	rc = vhost_msg_collect_fds(&mh, msg);
	if (!rc && (size_t)n < sizeof(msg->m.hdr))
		rc = vhost_recv_exact(sock, (uint8_t *)&msg->m.hdr + n,
				      sizeof(msg->m.hdr) - (size_t)n);
	if (!rc && (msg->m.hdr.flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION)
		rc = -EPROTO;
	if (!rc && msg->m.hdr.size > sizeof(msg->m.payload))
		rc = -EPROTO;
	if (!rc)
		rc = vhost_recv_exact(sock, &msg->m.payload, msg->m.hdr.size);
	if (rc)
		vhost_msg_close_fds(msg);
	return rc;
}

/* Run one request. Returns -EPIPE only when the reply could not be sent. */
static int vhost_backend_dispatch(struct vhost_backend *be, struct vhost_msg *msg)
{
	const struct vhost_user_header *h = &msg->m.hdr;
	const struct vhost_request_info *info = vhost_request_lookup(h->request);
	bool ack = (h->flags & VHOST_USER_FLAG_NEED_REPLY) &&
		   (be->protocol_features & (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK));
	int rc;

	log_debug("vhost-user: %s (%u) size %u fds %u%s", vhost_request_name(h->request),
		  h->request, h->size, msg->nfds, ack ? " need-reply" : "");
	if (!info) {
		log_warn("vhost-user: request %u (%s) not supported", h->request,
			 vhost_request_name(h->request));
		rc = -ENOTSUP;
	} else if (info->size != VHOST_SIZE_VARIABLE && h->size != info->size) {
		log_warn("vhost-user: %s with a %u-byte payload (expected %u): refused", info->name,
			 h->size, info->size);
		rc = -EINVAL;
		/* A request that has a reply must still get one, or the frontend waits forever:
		 * an empty payload says "failed". */
		if (info->has_reply && vhost_backend_reply(be, h->request, NULL, 0))
			return -EPIPE;
	} else {
		rc = info->fn(be, msg);
		if (rc == -EPIPE)
			return rc;
	}
	vhost_msg_close_fds(msg);
	if (ack && !(info && info->has_reply)) {
		uint64_t v = (uint64_t)-rc;

		if (vhost_backend_reply(be, h->request, &v, sizeof(v)))
			return -EPIPE;
	}
	return 0;
}

static void vhost_backend_on_conn(void *opaque, int fd, uint32_t events)
{
	struct vhost_backend *be = opaque;
	struct vhost_msg msg;
	int rc;

	rc = vhost_msg_recv(fd, &msg);
	if (!rc)
		rc = vhost_backend_dispatch(be, &msg);
	if (!rc)
		return;
	if (rc == -ECONNRESET)
		log_info("vhost-user: frontend disconnected");
	else
		log_error("vhost-user: dropping the frontend: %s",
			  rc == -EPROTO ? "malformed message" : strerror(-rc));
	vhost_backend_disconnect(be);
	if (be->listen_fd >= 0) {
		if (evloop_mod(be->loop, be->listen_fd, EPOLLIN))
			evloop_stop(be->loop);
	} else {
		evloop_stop(be->loop);
	}
}

static int vhost_backend_attach(struct vhost_backend *be, int fd)
{
	struct timeval tv = {.tv_sec = VHOST_RECV_TIMEOUT_S};
	int rc;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	rc = evloop_add(be->loop, fd, EPOLLIN, vhost_backend_on_conn, be);
	if (rc)
		return rc;
	be->conn_fd = fd;
	return 0;
}

int vhost_backend_serve_fd(struct vhost_backend *be, struct evloop *loop, int fd)
{
	int rc;

	if (be->conn_fd >= 0) {
		close(fd);
		return -EBUSY;
	}
	be->loop = loop;
	rc = vhost_backend_attach(be, fd);
	if (rc) {
		log_error("vhost-user: socket fd %d: %s", fd, strerror(-rc));
		close(fd);
	}
	return rc;
}

static void vhost_backend_on_listen(void *opaque, int fd, uint32_t events)
{
	struct vhost_backend *be = opaque;
	int conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

	if (conn < 0)
		return;
	if (vhost_backend_attach(be, conn)) {
		close(conn);
		return;
	}
	log_info("vhost-user: frontend connected");
	/* One frontend at a time: the next one waits in the backlog until this one leaves. */
	if (evloop_mod(be->loop, fd, 0))
		log_warn("vhost-user: cannot pause the listening socket");
}

/* Remove a socket left by a backend that is gone; refuse if one still answers there. */
static int vhost_socket_clear(const struct sockaddr_un *addr, const char *path)
{
	struct stat st;
	int probe, rc;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		rc = -errno;
		log_error("%s: %s", path, strerror(-rc));
		return rc;
	}
	if (!S_ISSOCK(st.st_mode)) {
		log_error("%s: exists and is not a socket", path);
		return -EEXIST;
	}
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe < 0)
		return -errno;
	rc = connect(probe, (const struct sockaddr *)addr, sizeof(*addr));
	close(probe);
	if (rc == 0) {
		log_error("%s: another backend is listening there", path);
		return -EADDRINUSE;
	}
	if (unlink(path) < 0) {
		rc = -errno;
		log_error("%s: cannot remove the stale socket: %s", path, strerror(-rc));
		return rc;
	}
	return 0;
}

int vhost_backend_listen(struct vhost_backend *be, struct evloop *loop, const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd, rc;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		log_error("%s: socket path too long (at most %zu bytes)", path,
			  sizeof(addr.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(addr.sun_path, path);
	rc = vhost_socket_clear(&addr, path);
	if (rc)
		return rc;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		rc = -errno;
		log_error("%s: %s", path, strerror(-rc));
		close(fd);
		return rc;
	}
	/* Ours from here: vhost_backend_destroy() removes it. */
	be->socket_path = strdup(path);
	if (!be->socket_path || listen(fd, 1) < 0) {
		rc = be->socket_path ? -errno : -ENOMEM;
		log_error("%s: %s", path, strerror(-rc));
		close(fd);
		unlink(path);
		free(be->socket_path);
		be->socket_path = NULL;
		return rc;
	}
	be->loop = loop;
	be->listen_fd = fd;
	rc = evloop_add(loop, fd, EPOLLIN, vhost_backend_on_listen, be);
	if (rc)
		log_error("%s: %s", path, strerror(-rc));
	return rc;
}
