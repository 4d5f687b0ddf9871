#include "vhost/frontend_msg.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int vhost_msg_send(int sock, const struct vhost_user_msg *msg, const int *fds, size_t nfds)
{
	char control[CMSG_SPACE(VHOST_USER_MAX_FDS * sizeof(int))];
	struct iovec iov = {.iov_base = (void *)msg,
			    .iov_len = sizeof(msg->hdr) + msg->hdr.size};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n;

	if (nfds > VHOST_USER_MAX_FDS || msg->hdr.size > sizeof(msg->payload))
		return -EINVAL;
	if (nfds) {
		struct cmsghdr *c;
		memset(control, 0, sizeof(control));
		mh.msg_control = control;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == iov.iov_len ? 0 : -EPIPE;
}

static void close_passed_fds(struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int fd;
		for (size_t i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			close(fd);
		}
	}
}

/* Read exactly len bytes (the socket is a stream) before the deadline. */
static int recv_exact(int sock, void *buf, size_t len, struct msghdr *first)
{
	size_t done = 0;

	while (done < len) {
		struct pollfd p = {.fd = sock, .events = POLLIN};
		struct iovec iov = {.iov_base = (char *)buf + done, .iov_len = len - done};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
		ssize_t n;
		int rc = poll(&p, 1, VHOST_REPLY_TIMEOUT_MS);

		if (rc == 0)
			return -ETIMEDOUT;
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return -errno;
		if (first && done == 0) {
			mh.msg_control = first->msg_control;
			mh.msg_controllen = first->msg_controllen;
		}
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		if (first && done == 0) {
			first->msg_controllen = mh.msg_controllen;
			close_passed_fds(&mh);
		}
		done += (size_t)n;
	}
	return 0;
}

int vhost_msg_recv_reply(int sock, uint32_t request, struct vhost_user_msg *msg, uint32_t size)
{
	char control[CMSG_SPACE(VHOST_USER_MAX_FDS * sizeof(int))];
	struct msghdr first = {.msg_control = control, .msg_controllen = sizeof(control)};
	int rc = recv_exact(sock, &msg->hdr, sizeof(msg->hdr), &first);

	if (rc)
		return rc;
	if (msg->hdr.size > sizeof(msg->payload))
		return -EPROTO;
	rc = recv_exact(sock, &msg->payload, msg->hdr.size, NULL);
	if (rc)
		return rc;
	if (msg->hdr.request != request || !(msg->hdr.flags & VHOST_USER_FLAG_REPLY) ||
	    (msg->hdr.flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION ||
	    msg->hdr.size != size)
		return -EPROTO;
	return 0;
}
