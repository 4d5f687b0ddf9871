/* Transmit: driver -> tap. Each chain is a 12-byte virtio_net_hdr_v1 and a frame, all
 * device-readable; the tap takes the same header (IFF_VNET_HDR, size 12), so the chain's
 * buffers go to writev() as they are, straight from guest memory. When the tap's queue is
 * full (EAGAIN) the chain stays popped, kicks stay off, and EPOLLOUT resumes the ring. */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/uio.h>

#include "cards/net/net_dev.h"
#include "util/log.h"

/* A chain popped into tx_req: false (and the device needs a reset) when malformed. */
static bool net_tx_check(struct net_pair *p, struct virtq *vq)
{
	const struct virtq_req *r = p->tx_req;

	if (r->nin) {
		vq->broken = true;
		vq->error = "transmit buffer with a device-writable descriptor";
		return false;
	}
	return true;
}

/* Hand the chain in tx_req to the tap. false when the tap is full (chain kept). */
static bool net_tx_send(struct net_pair *p, struct virtq *vq)
{
	const struct virtq_req *r = p->tx_req;
	uint64_t frame = r->out_len > NET_HDR_LEN ? r->out_len - NET_HDR_LEN : 0;
	ssize_t n;

	if (frame == 0 || frame > NET_FRAME_MAX) {
		atomic_fetch_add_explicit(&p->ctr.tx_errors, 1, memory_order_relaxed);
		if (ratelimit_allow(&p->rl))
			log_warn("tap %s: queue %u: dropped a %llu-byte frame from the driver",
				 p->dev->name, p->index, (unsigned long long)frame);
		virtq_push(vq, r->head, 0);
		return true;
	}
	do
		n = writev(p->tap_fd, r->iov, (int)r->nout);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN) {
		p->tx_held = true;
		return false;
	}
	p->tx_held = false;
	if (n < 0) {
		/* EINVAL: a header the tap refuses. (A detached queue still sends.) */
		atomic_fetch_add_explicit(&p->ctr.tx_drops, 1, memory_order_relaxed);
		if (ratelimit_allow(&p->rl))
			log_warn("tap %s: queue %u: write: %s", p->dev->name, p->index,
				 strerror(errno));
	} else {
		atomic_fetch_add_explicit(&p->ctr.tx_packets, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&p->ctr.tx_bytes, frame, memory_order_relaxed);
	}
	virtq_push(vq, r->head, 0);
	return true;
}

void net_tx_run(struct net_pair *p)
{
	struct vhost_queue *q = p->txq;
	struct virtq *vq;
	unsigned budget = NET_BUDGET;
	bool kicks = false;

	if (!q || q->vq.broken)
		return;
	vq = &q->vq;
	/* No kicks while we are looking anyway. */
	virtq_set_kick(vq, false);
	while (budget) {
		if (!p->tx_held) {
			int rc = virtq_pop(vq, p->tx_req);

			if (rc < 0 || (rc > 0 && !net_tx_check(p, vq))) {
				vhost_queue_fail(q);
				break;
			}
			if (rc == 0) {
				if (kicks)
					break;
				/* Re-enable kicks, then look once more: a chain added in between
				 * was not kicked. */
				virtq_set_kick(vq, true);
				kicks = true;
				continue;
			}
			if (kicks) {
				virtq_set_kick(vq, false);
				kicks = false;
			}
			budget--;
		}
		if (!net_tx_send(p, vq))
			break; /* EPOLLOUT brings us back */
	}
	/* Out of budget with chains left: come back after the loop served its other fds. */
	if (budget == 0 && eventfd_write(p->wake_fd, 1) < 0)
		log_error("tap %s: queue %u: wake: %s", p->dev->name, p->index, strerror(errno));
	vhost_queue_notify(q);
}
