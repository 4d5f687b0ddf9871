/* The back-end side of vhost-user (QEMU's docs/interop/vhost-user.rst) for device processes
 * ("cards"): it serves one frontend at a time on a unix socket, maps the guest memory the
 * frontend sends, and runs the virtqueues; the device (blk, net) plugs in through
 * struct vhost_backend_ops and only sees requests.
 *
 * Threads. The control socket is served on the caller's event loop (the main thread). Queues
 * run on worker threads, each with its own epoll loop watching its queues' kick eventfds, a
 * stop eventfd, and whatever fds the device adds there (io_uring completions, a tap). By
 * default every queue has its own worker; a device may group queues (params.queues_per_thread:
 * net puts a queue pair's rx and tx on one worker, so both directions of a tap queue share one
 * loop). A group's worker runs while any of its queues runs, and its thread, loop and stop fd
 * live in the group's first queue (vhost_queue_loop()). This departs on purpose from
 * DESIGN.md's one loop per process: a card serves one queue (pair) per guest vCPU, and queues
 * only scale if they do not share a thread. The main thread changes a queue's configuration
 * only while its group's worker is stopped and joined, so the ring needs no lock; the call and
 * err eventfds, which a frontend may swap while the ring runs, are under q->lock.
 *
 * Trust. The guest is hostile (rings are checked by virtio/virtq.c) and the frontend is not
 * trusted either: every message's size, index and fds are checked, and a frontend that breaks
 * the framing is disconnected. The one thing a frontend can still do is shrink a memory fd it
 * sent, which makes our accesses fault (SIGBUS); memory is checked against the fd's size when
 * it is mapped. */
#ifndef AZOTE_VHOST_BACKEND_H
#define AZOTE_VHOST_BACKEND_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/evloop.h"
#include "vhost/vhost_user_proto.h"
#include "virtio/gmem.h"
#include "virtio/virtq.h"

struct vhost_backend;

/* One virtqueue. Devices read `index`, `vq`, `priv` and add fds to vhost_queue_loop(q) in
 * queue_start (the same as &q->loop when queues are not grouped). */
struct vhost_queue {
	struct vhost_backend *be;
	unsigned index;
	struct virtq vq;    /* valid from queue_start to queue_stop */
	void *priv;	    /* the device's per-queue state */
	struct evloop loop; /* the worker's event loop (used in a group's first queue only) */

	/* As the frontend configured it (main thread only). */
	uint16_t num;
	uint16_t base; /* avail index to resume from; updated when the ring stops */
	bool addr_set;
	uint64_t desc_uaddr, avail_uaddr, used_uaddr;
	bool enabled;
	int kick_fd; /* -1: stopped (none yet, or GET_VRING_BASE took the ring back) */

	pthread_mutex_t lock; /* guards call_fd and err_fd, written by the main thread */
	int call_fd;
	int err_fd;

	bool running; /* the ring runs: queue_start done, kick fd in the worker's loop */
	bool fail_reported;

	/* The group's worker (used in a group's first queue only; main thread). */
	unsigned group_running; /* running queues of the group: the loop exists when > 0 */
	bool thread_running;
	pthread_t thread;
	int stop_fd;
};

/* What a device is, decided when it is created. */
struct vhost_backend_params {
	uint64_t features;	 /* virtio features offered (VIRTIO_F_VERSION_1, ring and device
				  * bits); the backend adds VHOST_USER_F_PROTOCOL_FEATURES */
	uint16_t max_queues;	 /* GET_QUEUE_NUM; at most 256 (an index is 8 bits) */
	uint16_t max_queue_size; /* SET_VRING_NUM above this is refused */
	uint32_t config_size;	 /* bytes of device configuration space, at most 256 */
	uint16_t queues_per_thread; /* queues [k*n, k*n+n) share a worker; 0 or 1: one each */
};

/* What a device does: one const table per device type. Callbacks run on the main thread with
 * the queue's worker stopped (with every queue of its group), except queue_kick. */
struct vhost_backend_ops {
	const char *name; /* in log lines: "blk" */
	/* The driver's features (SET_FEATURES), every queue stopped; NULL when nothing depends
	 * on them. 0 or -errno: refused, logged by the device, and the device needs a reset. */
	int (*features_set)(void *dev, uint64_t features);
	/* Copy config bytes [offset, offset+len), already inside config_size. */
	void (*config_read)(void *dev, uint32_t offset, uint8_t *buf, uint32_t len);
	/* Guest write to config space; NULL when nothing is writable. 0 or -errno. */
	int (*config_write)(void *dev, uint32_t offset, const uint8_t *buf, uint32_t len);
	/* The ring q->vq is about to run: set q->priv, add fds to q->loop. 0 or -errno (the ring
	 * then stays stopped). */
	int (*queue_start)(void *dev, struct vhost_queue *q);
	/* Buffers may be available (worker thread): after a kick, and once whenever the worker
	 * (re)starts with the ring running. */
	void (*queue_kick)(void *dev, struct vhost_queue *q);
	/* The ring stops (worker joined): complete every request in flight (push and notify),
	 * then free q->priv. */
	void (*queue_stop)(void *dev, struct vhost_queue *q);
};

struct vhost_backend {
	const struct vhost_backend_ops *ops;
	struct vhost_backend_params params;
	void *dev;
	struct evloop *loop;
	int listen_fd;	   /* -1 when serving a single already-connected socket */
	char *socket_path; /* unlinked on destroy when we created it */
	int conn_fd;	   /* the frontend, or -1 */

	uint64_t features; /* negotiated virtio features (SET_FEATURES) */
	uint64_t protocol_features;
	uint8_t status;		 /* SET_STATUS */
	atomic_bool needs_reset; /* a ring broke: GET_STATUS reports DEVICE_NEEDS_RESET */
	struct gmem mem;
	struct vhost_queue *queues; /* params.max_queues of them */
};

/* Protocol features this backend offers. */
#define VHOST_BACKEND_PROTOCOL_FEATURES                                                            \
	((1ull << VHOST_USER_PROTOCOL_F_MQ) | (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK) |          \
	 (1ull << VHOST_USER_PROTOCOL_F_CONFIG) | (1ull << VHOST_USER_PROTOCOL_F_RESET_DEVICE) |   \
	 (1ull << VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS) |                                     \
	 (1ull << VHOST_USER_PROTOCOL_F_STATUS))

/* Make a backend for device `dev`. 0 or -errno (-EINVAL: params out of range). */
__attribute__((warn_unused_result)) int
vhost_backend_create(const struct vhost_backend_ops *ops, const struct vhost_backend_params *params,
		     void *dev, struct vhost_backend **out);
/* Stop every queue (completing requests in flight), drop the frontend, unmap guest memory,
 * close the listening socket. Accepts NULL. */
void vhost_backend_destroy(struct vhost_backend *be);

/* Listen on unix socket `path` (a stale socket there is replaced) and serve frontends one
 * after another on `loop`. 0 or -errno (logged). */
__attribute__((warn_unused_result)) int vhost_backend_listen(struct vhost_backend *be,
							     struct evloop *loop, const char *path);
/* Serve the already-connected socket `fd` (ownership passes) on `loop`; when that frontend
 * goes away the loop is stopped. 0 or -errno. */
__attribute__((warn_unused_result)) int vhost_backend_serve_fd(struct vhost_backend *be,
							       struct evloop *loop, int fd);

/* The event loop of q's worker (its group's first queue's loop): valid while q runs. */
struct evloop *vhost_queue_loop(struct vhost_queue *q);
/* Worker thread: signal the driver if the ring's suppression rules ask for it. */
void vhost_queue_notify(struct vhost_queue *q);
/* Worker thread: the guest broke the ring (q->vq.broken): log once, signal the err fd so the
 * frontend can set DEVICE_NEEDS_RESET, and stop taking requests from it. */
void vhost_queue_fail(struct vhost_queue *q);

#endif
