/* Queue lifecycle and the event handlers of a queue pair: rx_k and tx_k share a worker (the
 * backend groups queues two by two), and with them the pair's tap fd and wake eventfd. The
 * tap fd is in the loop while either ring runs; its epoll interest is EPOLLIN while the rx
 * ring runs, the queue is attached and the driver has room, and EPOLLOUT while a frame waits
 * for the tap. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "cards/net/net_dev.h"
#include "cards/net/net_tap.h"
#include "util/log.h"

/* The control queue follows the last pair the driver may use: 2N with VIRTIO_NET_F_MQ, else 2
 * (virtio 1.2 5.1.2), whatever number of pairs the device offers. */
static bool net_queue_is_ctrl(const struct net_dev *dev, const struct vhost_queue *q)
{
	bool mq = q->be->features & (1ull << VIRTIO_NET_F_MQ);

	return q->index == (mq ? 2 * dev->pairs : 2);
}

static void net_pair_set_events(struct net_pair *p)
{
	uint32_t ev = 0;
	int rc;

	if (!p->loop || p->tap_dead)
		return;
	if (p->attached && p->rxq && !p->rx_wait && !p->rxq->vq.broken)
		ev |= EPOLLIN;
	if (p->tx_held && p->txq)
		ev |= EPOLLOUT;
	if (ev == p->events)
		return;
	rc = evloop_mod(p->loop, p->tap_fd, ev);
	if (rc)
		log_error("tap %s: queue %u: epoll: %s", p->dev->name, p->index, strerror(-rc));
	else
		p->events = ev;
}

void net_pair_sync(struct net_pair *p)
{
	struct net_dev *dev = p->dev;
	bool want = p->rxq && p->index < atomic_load(&dev->active_pairs);

	if (dev->mq_tap && !p->tap_dead && want != p->attached) {
		int rc = net_tap_attach(p->tap_fd, want);

		if (rc) {
			if (ratelimit_allow(&p->rl))
				log_error("tap %s: cannot %s queue %u: %s", dev->name,
					  want ? "attach" : "detach", p->index, strerror(-rc));
		} else {
			p->attached = want;
			log_debug("tap %s: queue %u %s", dev->name, p->index,
				  want ? "attached" : "detached");
			/* The interface's offloads, set by whichever queue attaches. */
			if (want && net_tap_set_offload(p->tap_fd, dev->offload) &&
			    ratelimit_allow(&p->rl))
				log_warn("tap %s: cannot set offloads %#x: %s", dev->name,
					 dev->offload, strerror(errno));
		}
	}
	net_pair_set_events(p);
}

static void net_pair_on_tap(void *opaque, int fd, uint32_t events)
{
	struct net_pair *p = opaque;

	if (events & (EPOLLERR | EPOLLHUP)) {
		log_error("tap %s: queue %u failed (interface deleted?): no more packets on it",
			  p->dev->name, p->index);
		p->tap_dead = true;
		evloop_del(p->loop, fd);
		return;
	}
	if (events & EPOLLOUT)
		net_tx_run(p);
	if (events & EPOLLIN)
		net_rx_run(p);
	net_pair_set_events(p);
}

static void net_pair_on_wake(void *opaque, int fd, uint32_t events)
{
	struct net_pair *p = opaque;
	eventfd_t v;

	if (eventfd_read(fd, &v) < 0 && errno != EAGAIN)
		log_debug("tap %s: queue %u: wake read: %s", p->dev->name, p->index,
			  strerror(errno));
	net_pair_sync(p);
	net_tx_run(p);
	net_pair_set_events(p);
}

static int net_pair_start(struct net_pair *p, struct vhost_queue *q)
{
	bool rx = q->index % 2 == 0;
	int rc;

	if (!p->rxq && !p->txq) {
		p->loop = vhost_queue_loop(q);
		p->events = 0;
		rc = evloop_add(p->loop, p->wake_fd, EPOLLIN, net_pair_on_wake, p);
		if (rc)
			return rc;
		if (!p->tap_dead) {
			rc = evloop_add(p->loop, p->tap_fd, 0, net_pair_on_tap, p);
			if (rc) {
				evloop_del(p->loop, p->wake_fd);
				return rc;
			}
		}
	}
	q->priv = p;
	if (rx) {
		p->rxq = q;
		p->rx_wait = false;
		p->rx_len = 0;
		/* Rx kicks only matter when we wait for buffers (virtq_kick_on_more). */
		virtq_set_kick(&q->vq, false);
	} else {
		p->txq = q;
		p->tx_held = false;
	}
	net_pair_sync(p);
	return 0;
}

static void net_pair_stop(struct net_pair *p, struct vhost_queue *q)
{
	if (q == p->rxq) {
		/* A packet read but not delivered is lost, like one the tap dropped. */
		if (p->rx_len)
			atomic_fetch_add_explicit(&p->ctr.rx_drops, 1, memory_order_relaxed);
		p->rx_len = 0;
		p->rxq = NULL;
	} else {
		/* The frame the tap refused goes back to the ring: sent after a restart. */
		if (p->tx_held)
			virtq_unpop(&q->vq, 1);
		p->tx_held = false;
		p->txq = NULL;
	}
	vhost_queue_notify(q);
	net_pair_sync(p);
	q->priv = NULL;
	if (p->rxq || p->txq)
		return;
	evloop_del(p->loop, p->tap_fd);
	evloop_del(p->loop, p->wake_fd);
	p->loop = NULL;
}

int net_queue_start(void *opaque, struct vhost_queue *q)
{
	struct net_dev *dev = opaque;

	if (net_queue_is_ctrl(dev, q)) {
		dev->ctrl->q = q;
		q->priv = dev->ctrl;
		return 0;
	}
	return net_pair_start(&dev->pair[q->index / 2], q);
}

void net_queue_kick(void *opaque, struct vhost_queue *q)
{
	struct net_dev *dev = opaque;
	struct net_pair *p = q->priv;

	if (net_queue_is_ctrl(dev, q)) {
		net_ctrl_run(dev, dev->ctrl);
		return;
	}
	if (q == p->rxq) {
		if (p->rx_wait) {
			p->rx_wait = false;
			virtq_set_kick(&q->vq, false);
		}
		net_rx_run(p);
	} else {
		net_tx_run(p);
	}
	net_pair_set_events(p);
}

void net_queue_stop(void *opaque, struct vhost_queue *q)
{
	struct net_dev *dev = opaque;

	if (net_queue_is_ctrl(dev, q)) {
		vhost_queue_notify(q);
		dev->ctrl->q = NULL;
		q->priv = NULL;
		return;
	}
	net_pair_stop(q->priv, q);
}
