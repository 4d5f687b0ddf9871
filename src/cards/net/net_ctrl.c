/* The control queue (virtio 1.2 5.1.6.5): class, command and command data device-readable,
 * then one device-writable ack byte. The tap delivers every frame anyway, so receive-mode and
 * MAC-table filters are accepted and left to the guest's stack; VQ_PAIRS_SET moves the
 * tap queues the kernel steers packets to. */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>

#include "cards/net/net_dev.h"
#include "util/log.h"

/* VIRTIO_NET_CTRL_MAC_TABLE_SET: two tables {le32 entries; u8 macs[entries][6]} filling the
 * data exactly. */
static bool net_ctrl_mac_tables_ok(const uint8_t *d, size_t len)
{
	for (unsigned t = 0; t < 2; t++) {
		uint32_t n;

		if (len < 4)
			return false;
		memcpy(&n, d, 4);
		n = le32toh(n);
		if ((len - 4) / 6 < n)
			return false;
		d += 4 + 6ull * n;
		len -= 4 + 6ull * n;
	}
	return len == 0;
}

static int net_ctrl_mac(struct net_dev *dev, uint8_t cmd, const uint8_t *d, size_t len)
{
	if (cmd == VIRTIO_NET_CTRL_MAC_TABLE_SET)
		return net_ctrl_mac_tables_ok(d, len) ? VIRTIO_NET_OK : VIRTIO_NET_ERR;
	if (cmd != VIRTIO_NET_CTRL_MAC_ADDR_SET || len != 6)
		return VIRTIO_NET_ERR;
	pthread_mutex_lock(&dev->config_lock);
	memcpy(dev->config.mac, d, 6);
	pthread_mutex_unlock(&dev->config_lock);
	return VIRTIO_NET_OK;
}

/* VQ_PAIRS_SET: the pairs' workers attach or detach their tap queues when woken. */
static int net_ctrl_mq(struct net_dev *dev, uint64_t features, uint8_t cmd, const uint8_t *d,
		       size_t len)
{
	uint16_t n;

	if (!(features & (1ull << VIRTIO_NET_F_MQ)) || cmd != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET ||
	    len != 2)
		return VIRTIO_NET_ERR;
	memcpy(&n, d, 2);
	n = le16toh(n);
	if (n < 1 || n > dev->pairs)
		return VIRTIO_NET_ERR;
	atomic_store(&dev->active_pairs, n);
	log_debug("tap %s: the driver uses %u queue pairs", dev->name, n);
	for (unsigned i = 0; i < dev->pairs; i++)
		if (eventfd_write(dev->pair[i].wake_fd, 1) < 0)
			log_error("tap %s: queue %u: wake: %s", dev->name, i, strerror(errno));
	return VIRTIO_NET_OK;
}

static int net_ctrl_command(struct net_dev *dev, uint64_t features, const uint8_t *d, size_t len)
{
	uint8_t class = d[0], cmd = d[1];

	d += 2;
	len -= 2;
	switch (class) {
	case VIRTIO_NET_CTRL_RX:
		return cmd <= VIRTIO_NET_CTRL_RX_NOBCAST && len == 1 ? VIRTIO_NET_OK
								     : VIRTIO_NET_ERR;
	case VIRTIO_NET_CTRL_MAC:
		return net_ctrl_mac(dev, cmd, d, len);
	case VIRTIO_NET_CTRL_MQ:
		return net_ctrl_mq(dev, features, cmd, d, len);
	case VIRTIO_NET_CTRL_ANNOUNCE:
		/* We never set VIRTIO_NET_S_ANNOUNCE: nothing to clear. */
		return cmd == VIRTIO_NET_CTRL_ANNOUNCE_ACK && len == 0 ? VIRTIO_NET_OK
								       : VIRTIO_NET_ERR;
	default:
		return VIRTIO_NET_ERR;
	}
}

int net_ctrl_handle(struct net_dev *dev, struct net_ctrl *c, const struct virtq_req *req)
{
	uint64_t features = c->q ? c->q->be->features : 0;
	size_t len;
	int ack;
	uint8_t a;

	if (req->nin == 0)
		return -EIO;
	if (req->out_len < 2 || req->out_len > sizeof(c->data)) {
		ack = VIRTIO_NET_ERR;
	} else {
		len = net_iov_from(req->iov, req->nout, 0, c->data, req->out_len);
		ack = net_ctrl_command(dev, features, c->data, len);
	}
	a = (uint8_t)ack;
	net_iov_to(req->iov + req->nout, req->nin, 0, &a, 1);
	return ack;
}

void net_ctrl_run(struct net_dev *dev, struct net_ctrl *c)
{
	struct vhost_queue *q = c->q;
	bool kicks = false;

	while (!q->vq.broken) {
		int rc = virtq_pop(&q->vq, &c->req);

		if (rc == 0 && kicks)
			break;
		if (rc == 0) {
			/* Ask for the next kick (with EVENT_IDX the driver only kicks past
			 * avail_event), then look once more for a command queued meanwhile. */
			virtq_set_kick(&q->vq, true);
			kicks = true;
			continue;
		}
		kicks = false; /* re-armed at the new index once the queue is empty */
		if (rc > 0 && net_ctrl_handle(dev, c, &c->req) < 0) {
			q->vq.broken = true;
			q->vq.error = "control command without a device-writable ack byte";
		}
		if (q->vq.broken) {
			vhost_queue_fail(q);
			break;
		}
		virtq_push(&q->vq, c->req.head, 1);
	}
	vhost_queue_notify(q);
}
