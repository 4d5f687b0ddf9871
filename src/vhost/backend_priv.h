/* Pieces of the vhost-user backend shared between its files (backend*.c); not for devices. */
#ifndef AZOTE_VHOST_BACKEND_PRIV_H
#define AZOTE_VHOST_BACKEND_PRIV_H

#include "vhost/backend.h"

/* A received message with the fds that came with it. A handler that keeps an fd sets its
 * slot to -1; the dispatcher closes the others. */
struct vhost_msg {
	struct vhost_user_msg m;
	int fds[VHOST_USER_MAX_FDS];
	unsigned nfds;
};

/* Handler of one request: 0 or -errno (sent back as the REPLY_ACK value). Handlers whose
 * request has a reply payload send it with vhost_backend_reply(). */
typedef int (*vhost_handler_fn)(struct vhost_backend *be, struct vhost_msg *msg);

/* Send a reply to `request` carrying `size` bytes of payload. 0 or -errno. */
int vhost_backend_reply(struct vhost_backend *be, uint32_t request, const void *payload,
			uint32_t size);
/* Take the message's only fd (NULL/-1 rules per request): the fd, or -1 if none came. */
int vhost_msg_take_fd(struct vhost_msg *msg);

/* Queue lifecycle (backend_queue.c), main thread. */
void vhost_queue_init(struct vhost_backend *be, struct vhost_queue *q, unsigned index);
/* Close the queue's fds and forget the frontend's configuration (queue must be stopped). */
void vhost_queue_reset(struct vhost_queue *q);
void vhost_queue_fini(struct vhost_queue *q);
/* Start the queue if it is fully configured, enabled and has memory; stop it otherwise.
 * 0, or -errno when it should run but could not start. */
int vhost_queue_update(struct vhost_queue *q);
/* Stop the worker and complete requests in flight; q->base becomes the next avail index. */
void vhost_queue_stop(struct vhost_queue *q);
void vhost_backend_stop_all(struct vhost_backend *be);
/* vhost_queue_update() on every queue; returns the first error. */
int vhost_backend_update_all(struct vhost_backend *be);
/* Replace the call or err eventfd of a queue (fd -1 = none), ringing safely against the
 * worker. */
void vhost_queue_set_call(struct vhost_queue *q, int fd);
void vhost_queue_set_err(struct vhost_queue *q, int fd);

/* Guest memory (backend_mem.c), main thread. */
int vhost_mem_set_table(struct vhost_backend *be, struct vhost_msg *msg);
int vhost_mem_add_region(struct vhost_backend *be, struct vhost_msg *msg);
int vhost_mem_remove_region(struct vhost_backend *be, struct vhost_msg *msg);
/* Unmap every region (queues must be stopped). */
void vhost_mem_clear(struct gmem *mem);

/* The request table (backend_handlers.c): handler and exact payload size for `request`, or
 * NULL for requests this backend does not implement. VHOST_SIZE_VARIABLE: checked by the
 * handler. */
#define VHOST_SIZE_VARIABLE UINT32_MAX
struct vhost_request_info {
	const char *name;
	vhost_handler_fn fn;
	uint32_t size;
	bool has_reply; /* the request has its own reply payload (no REPLY_ACK) */
};
const struct vhost_request_info *vhost_request_lookup(uint32_t request);
/* Request name for log lines ("SET_VRING_NUM"), "unknown" otherwise. */
const char *vhost_request_name(uint32_t request);
/* Forget everything the frontend set up: stop and reset queues, unmap memory. */
void vhost_backend_reset_state(struct vhost_backend *be);

#endif
