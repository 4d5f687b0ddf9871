/* Virtqueue lifecycle of the vhost-user backend: rings start and stop one by one; a worker
 * thread serves each group of queues (one queue by default) while any of them runs. */
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

static struct vhost_queue *vhost_queue_leader(struct vhost_queue *q)
{
	unsigned n = q->be->params.queues_per_thread;

	return n > 1 ? &q->be->queues[q->index - q->index % n] : q;
}

struct evloop *vhost_queue_loop(struct vhost_queue *q)
{
	return &vhost_queue_leader(q)->loop;
}

static void vhost_worker_on_stop(void *opaque, int fd, uint32_t events)
{
	struct vhost_queue *lead = opaque;
	eventfd_t v;

	if (eventfd_read(fd, &v) < 0 && errno != EAGAIN)
		log_debug("vhost-user: queue %u: stop read: %s", lead->index, strerror(errno));
	evloop_stop(&lead->loop);
}

/* The queues of lead's group, in index order. */
static unsigned vhost_group_size(const struct vhost_queue *lead)
{
	unsigned n = lead->be->params.queues_per_thread, left = lead->be->params.max_queues;

	n = n > 1 ? n : 1;
	left -= lead->index;
	return n < left ? n : left;
}

static void *vhost_worker(void *arg)
{
	struct vhost_queue *lead = arg;
	unsigned n = vhost_group_size(lead);

	/* A ring may hold buffers already: the frontend need not kick to start it, and a kick
	 * that came while the worker was stopped for another queue of the group is not lost. */
	for (unsigned i = 0; i < n; i++) {
		struct vhost_queue *q = lead + i;

		if (q->running)
			q->be->ops->queue_kick(q->be->dev, q);
	}
	if (evloop_run(&lead->loop))
		log_error("%s: queue %u: event loop failed", lead->be->ops->name, lead->index);
	return NULL;
}

/* Stop and join the group's thread, if it runs; its loop and rings stay as they are. */
static void vhost_worker_pause(struct vhost_queue *lead)
{
	if (!lead->thread_running)
		return;
	if (eventfd_write(lead->stop_fd, 1) < 0)
		log_error("vhost-user: queue %u: cannot stop its worker: %s", lead->index,
			  strerror(errno));
	pthread_join(lead->thread, NULL);
	lead->thread_running = false;
}

/* (Re)start the group's thread when some ring of the group runs. 0 or -errno. */
static int vhost_worker_resume(struct vhost_queue *lead)
{
	int rc;

	if (lead->thread_running || lead->group_running == 0)
		return 0;
	lead->loop.stop = false;
	rc = -pthread_create(&lead->thread, NULL, vhost_worker, lead);
	if (rc) {
		log_error("%s: queue %u: cannot start a worker thread: %s", lead->be->ops->name,
			  lead->index, strerror(-rc));
		return rc;
	}
	lead->thread_running = true;
	return 0;
}

/* The group's loop and stop fd, made when its first ring starts. */
static int vhost_worker_init(struct vhost_queue *lead)
{
	int rc;

	if (lead->group_running)
		return 0;
	rc = evloop_init(&lead->loop);
	if (rc)
		return rc;
	lead->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (lead->stop_fd < 0)
		rc = -errno;
	else
		rc = evloop_add(&lead->loop, lead->stop_fd, EPOLLIN, vhost_worker_on_stop, lead);
	if (rc) {
		vhost_close(&lead->stop_fd);
		evloop_fini(&lead->loop);
	}
	return rc;
}

/* Undo vhost_worker_init() once the group's last ring stopped (thread joined). */
static void vhost_worker_fini(struct vhost_queue *lead)
{
	if (lead->group_running)
		return;
	vhost_close(&lead->stop_fd);
	evloop_fini(&lead->loop);
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
	struct vhost_queue *lead = vhost_queue_leader(q);
	int rc;

	rc = vhost_queue_map(q);
	if (rc)
		return rc;
	q->fail_reported = false;
	vhost_worker_pause(lead);
	rc = vhost_worker_init(lead);
	if (rc)
		goto fail;
	rc = evloop_add(&lead->loop, q->kick_fd, EPOLLIN, vhost_queue_on_kick, q);
	if (rc)
		goto fail_worker;
	rc = ops->queue_start(q->be->dev, q);
	if (rc)
		goto fail_kick;
	q->running = true;
	lead->group_running++;
	rc = vhost_worker_resume(lead);
	if (rc) {
		vhost_queue_stop(q);
		return rc;
	}
	log_debug("%s: queue %u started (size %u, avail index %u)", ops->name, q->index, q->num,
		  q->base);
	return 0;

fail_kick:
	evloop_del(&lead->loop, q->kick_fd);
fail_worker:
	vhost_worker_fini(lead);
fail:
	log_error("%s: queue %u: cannot start: %s", ops->name, q->index, strerror(-rc));
	/* The group's other rings go on. */
	(void)vhost_worker_resume(lead);
	return rc;
}

void vhost_queue_stop(struct vhost_queue *q)
{
	struct vhost_queue *lead = vhost_queue_leader(q);

	if (!q->running)
		return;
	vhost_worker_pause(lead);
	q->be->ops->queue_stop(q->be->dev, q);
	evloop_del(&lead->loop, q->kick_fd);
	q->base = q->vq.last_avail;
	q->running = false;
	lead->group_running--;
	vhost_worker_fini(lead);
	(void)vhost_worker_resume(lead);
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
