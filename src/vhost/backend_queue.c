/* Virtqueue lifecycle of the vhost-user backend: one worker thread per running ring. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/log.h"
#include "vhost/backend_priv.h"

void vhost_queue_init(struct vhost_backend *be, struct vhost_queue *q, unsigned index)
{
	memset(q, 0, sizeof(*q));
	q->be = be;
	q->index = index;
	q->kick_fd = q->call_fd = q->err_fd = q->stop_fd = -1;
	q->loop.epfd = -1;
	pthread_mutex_init(&q->lock, NULL);
}

static void vhost_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void vhost_queue_reset(struct vhost_queue *q)
{
	vhost_queue_stop(q);
	vhost_close(&q->kick_fd);
	vhost_queue_set_call(q, -1);
	vhost_queue_set_err(q, -1);
	q->num = 0;
	q->base = 0;
	q->addr_set = false;
	q->enabled = false;
}

void vhost_queue_fini(struct vhost_queue *q)
{
	vhost_queue_reset(q);
	pthread_mutex_destroy(&q->lock);
}

static void vhost_queue_swap_fd(struct vhost_queue *q, int *slot, int fd)
{
	int old;

	pthread_mutex_lock(&q->lock);
	old = *slot;
	*slot = fd;
	pthread_mutex_unlock(&q->lock);
	if (old >= 0)
		close(old);
}

void vhost_queue_set_call(struct vhost_queue *q, int fd)
{
	vhost_queue_swap_fd(q, &q->call_fd, fd);
}

void vhost_queue_set_err(struct vhost_queue *q, int fd)
{
	vhost_queue_swap_fd(q, &q->err_fd, fd);
}

static void vhost_queue_signal(struct vhost_queue *q, const int *slot)
{
	pthread_mutex_lock(&q->lock);
	if (*slot >= 0 && eventfd_write(*slot, 1) < 0)
		log_debug("vhost-user: queue %u: eventfd write: %s", q->index, strerror(errno));
	pthread_mutex_unlock(&q->lock);
}

void vhost_queue_notify(struct vhost_queue *q)
{
	if (virtq_should_notify(&q->vq))
		vhost_queue_signal(q, &q->call_fd);
}

void vhost_queue_fail(struct vhost_queue *q)
{
	if (q->fail_reported)
		return;
	q->fail_reported = true;
	log_error("%s: queue %u: %s; the device needs a reset", q->be->ops->name, q->index,
		  q->vq.error ? q->vq.error : "the driver broke the ring");
	atomic_store(&q->be->needs_reset, true);
	vhost_queue_signal(q, &q->err_fd);
}

static void vhost_queue_on_kick(void *opaque, int fd, uint32_t events)
{
	struct vhost_queue *q = opaque;
	eventfd_t v;

	/* Nonblocking read of a frontend-made fd: only this thread reads it. */
	if (eventfd_read(fd, &v) < 0 && errno != EAGAIN)
		log_debug("vhost-user: queue %u: kick read: %s", q->index, strerror(errno));
	q->be->ops->queue_kick(q->be->dev, q);
}

static void vhost_queue_on_stop(void *opaque, int fd, uint32_t events)
{
	struct vhost_queue *q = opaque;

	evloop_stop(&q->loop);
}

static void *vhost_queue_worker(void *arg)
{
	struct vhost_queue *q = arg;

	/* A ring may hold buffers already: the frontend need not kick to start it. */
	q->be->ops->queue_kick(q->be->dev, q);
	if (evloop_run(&q->loop))
		log_error("%s: queue %u: event loop failed", q->be->ops->name, q->index);
	return NULL;
}

static bool vhost_queue_ready(const struct vhost_queue *q)
{
	return q->be->mem.count > 0 && q->kick_fd >= 0 && q->addr_set && q->num > 0 && q->enabled;
}

/* Map the ring the frontend described; a failure is the guest's or frontend's doing and is
 * reported like a broken ring. */
static int vhost_queue_map(struct vhost_queue *q)
{
	const struct gmem *mem = &q->be->mem;
	uint64_t desc, avail, used;
	int rc;

	if (gmem_uaddr_to_gpa(mem, q->desc_uaddr, &desc) ||
	    gmem_uaddr_to_gpa(mem, q->avail_uaddr, &avail) ||
	    gmem_uaddr_to_gpa(mem, q->used_uaddr, &used))
		rc = -EFAULT;
	else
		rc = virtq_init(&q->vq, mem, q->num, desc, avail, used, q->be->features, q->base);
	if (rc) {
		q->vq.broken = true;
		q->vq.error = rc == -EFAULT ? "ring outside guest memory" : "ring misaligned";
		q->fail_reported = false;
		vhost_queue_fail(q);
	}
	return rc;
}

static int vhost_queue_start(struct vhost_queue *q)
{
	const struct vhost_backend_ops *ops = q->be->ops;
	int rc;

	rc = vhost_queue_map(q);
	if (rc)
		return rc;
	q->fail_reported = false;
	rc = evloop_init(&q->loop);
	if (rc)
		return rc;
	q->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->stop_fd < 0) {
		rc = -errno;
		goto fail_loop;
	}
	rc = evloop_add(&q->loop, q->stop_fd, EPOLLIN, vhost_queue_on_stop, q);
	if (!rc)
		rc = evloop_add(&q->loop, q->kick_fd, EPOLLIN, vhost_queue_on_kick, q);
	if (rc)
		goto fail_stop_fd;
	rc = ops->queue_start(q->be->dev, q);
	if (rc)
		goto fail_stop_fd;
	rc = -pthread_create(&q->thread, NULL, vhost_queue_worker, q);
	if (rc)
		goto fail_device;
	q->running = true;
	log_debug("%s: queue %u started (size %u, avail index %u)", ops->name, q->index, q->num,
		  q->base);
	return 0;

fail_device:
	ops->queue_stop(q->be->dev, q);
fail_stop_fd:
	vhost_close(&q->stop_fd);
fail_loop:
	evloop_fini(&q->loop);
	log_error("%s: queue %u: cannot start: %s", ops->name, q->index, strerror(-rc));
	return rc;
}

void vhost_queue_stop(struct vhost_queue *q)
{
	if (!q->running)
		return;
	if (eventfd_write(q->stop_fd, 1) < 0)
		log_error("vhost-user: queue %u: cannot stop its worker: %s", q->index,
			  strerror(errno));
	pthread_join(q->thread, NULL);
	q->be->ops->queue_stop(q->be->dev, q);
	q->base = q->vq.last_avail;
	vhost_close(&q->stop_fd);
	evloop_fini(&q->loop);
	q->running = false;
	log_debug("%s: queue %u stopped at avail index %u", q->be->ops->name, q->index, q->base);
}

int vhost_queue_update(struct vhost_queue *q)
{
	bool ready = vhost_queue_ready(q);

	if (ready && !q->running)
		return vhost_queue_start(q);
	if (!ready && q->running)
		vhost_queue_stop(q);
	return 0;
}

void vhost_backend_stop_all(struct vhost_backend *be)
{
	for (unsigned i = 0; i < be->params.max_queues; i++)
		vhost_queue_stop(&be->queues[i]);
}

int vhost_backend_update_all(struct vhost_backend *be)
{
	int first = 0;

	for (unsigned i = 0; i < be->params.max_queues; i++) {
		int rc = vhost_queue_update(&be->queues[i]);

		if (rc && !first)
			first = rc;
	}
	return first;
}

void vhost_backend_reset_state(struct vhost_backend *be)
{
	for (unsigned i = 0; i < be->params.max_queues; i++)
		vhost_queue_reset(&be->queues[i]);
	vhost_mem_clear(&be->mem);
}
