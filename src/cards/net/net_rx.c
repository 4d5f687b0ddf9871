/* Receive: tap -> driver. One packet at a time is read into the pair's bounce buffer, then
 * copied into the driver's device-writable chains: several of them with MRG_RXBUF
 * (num_buffers says how many, all published by one used-index update), one that holds the
 * whole packet otherwise. Reading first tells the packet's size before any chain is taken,
 * so chains are never taken for nothing. Measured on a 6.18 host (tap read alone vs read +
 * copy): the copy adds 1-8% for 64 B to 9 KiB packets, about 36% for 64 KiB GSO packets; a
 * readv straight into popped chains (unpopping the unused ones) would win that back for large
 * receives, at the price of taking a 64 KiB window of chains before every read.
 * With too little room, the chains taken go back to the ring (virtq_unpop), the packet
 * waits in the buffer, and the tap is not read until the driver adds buffers and kicks. */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "cards/net/net_dev.h"
#include "util/log.h"

enum net_rx_result { NET_RX_DONE, NET_RX_NO_ROOM, NET_RX_BROKEN };

size_t net_iov_to(const struct iovec *iov, unsigned n, size_t skip, const void *src, size_t len)
{
	const uint8_t *s = src;
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t take;

		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		take = iov[i].iov_len - skip;
		if (take > len - done)
			take = len - done;
		memcpy((uint8_t *)iov[i].iov_base + skip, s + done, take);
		done += take;
		skip = 0;
	}
	return done;
}

size_t net_iov_from(const struct iovec *iov, unsigned n, size_t skip, void *dst, size_t len)
{
	uint8_t *d = dst;
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t take;

		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		take = iov[i].iov_len - skip;
		if (take > len - done)
			take = len - done;
		memcpy(d + done, (const uint8_t *)iov[i].iov_base + skip, take);
		done += take;
		skip = 0;
	}
	return done;
}

static enum net_rx_result net_rx_bad_chain(struct virtq *vq, const char *why)
{
	vq->broken = true;
	vq->error = why;
	return NET_RX_BROKEN;
}

/* Pop the next receive chain into r: 1, 0 when none, or NET_RX_BROKEN's -1. */
static int net_rx_pop(struct virtq *vq, struct virtq_req *r, bool mrg)
{
	int rc = virtq_pop(vq, r);

	if (rc <= 0)
		return rc < 0 ? -1 : 0;
	if (r->nout) {
		net_rx_bad_chain(vq, "receive buffer with a device-readable descriptor");
		return -1;
	}
	/* 5.1.6.3.1: with MRG_RXBUF every buffer holds at least the header. */
	if (mrg && r->in_len < NET_HDR_LEN) {
		net_rx_bad_chain(vq, "merged receive buffer smaller than the 12-byte header");
		return -1;
	}
	return 1;
}

/* Out of chains after taking `n` for this packet: give them back and ask for a kick. Returns
 * true when buffers came meanwhile (try again), false to wait for the kick. */
static bool net_rx_out_of_room(struct net_pair *p, struct virtq *vq, uint16_t n)
{
	uint16_t seen = vq->last_avail;

	virtq_unpop(vq, n);
	return virtq_kick_on_more(vq) != seen;
}

/* Deliver rx_buf[0, len) into one or more chains. */
static enum net_rx_result net_rx_place(struct net_pair *p, struct virtq *vq, bool mrg)
{
	size_t len = p->rx_len, off = 0;
	uint16_t n = 0, nb;
	int rc;

	while (off < len) {
		struct virtq_req *r = n ? p->rx_req : p->rx_first;
		size_t take;

		rc = net_rx_pop(vq, r, mrg);
		if (rc < 0)
			return NET_RX_BROKEN;
		if (rc == 0) {
			if (net_rx_out_of_room(p, vq, n)) {
				off = 0;
				n = 0;
				continue;
			}
			return NET_RX_NO_ROOM;
		}
		if (!mrg && r->in_len < len) {
			/* The chain stays for a packet that fits. */
			virtq_unpop(vq, 1);
			atomic_fetch_add_explicit(&p->ctr.rx_drops, 1, memory_order_relaxed);
			return NET_RX_DONE;
		}
		take = len - off < r->in_len ? len - off : (size_t)r->in_len;
		net_iov_to(r->iov + r->nout, r->nin, 0, p->rx_buf + off, take);
		p->rx_heads[n] = r->head;
		p->rx_lens[n] = (uint32_t)take;
		off += take;
		n++;
	}
	if (n > 1) {
		nb = htole16(n);
		net_iov_to(p->rx_first->iov, p->rx_first->nin, 10, &nb, sizeof(nb));
	}
	virtq_push_n(vq, p->rx_heads, p->rx_lens, n);
	atomic_fetch_add_explicit(&p->ctr.rx_packets, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&p->ctr.rx_bytes, len - NET_HDR_LEN, memory_order_relaxed);
	return NET_RX_DONE;
}

/* The tap's header, made right for this driver: flags only with GUEST_CSUM, GSO only of
 * the kinds negotiated (the tap's offloads guarantee it; checked anyway), num_buffers 1. */
static bool net_rx_fix_header(struct net_pair *p, uint64_t features)
{
	struct virtio_net_hdr_v1 h;
	uint8_t gso;

	memcpy(&h, p->rx_buf, sizeof(h));
	if (!(features & (1ull << VIRTIO_NET_F_GUEST_CSUM)))
		h.flags = 0;
	gso = h.gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	if ((gso == VIRTIO_NET_HDR_GSO_TCPV4 && !(features & (1ull << VIRTIO_NET_F_GUEST_TSO4))) ||
	    (gso == VIRTIO_NET_HDR_GSO_TCPV6 && !(features & (1ull << VIRTIO_NET_F_GUEST_TSO6))) ||
	    (gso == VIRTIO_NET_HDR_GSO_UDP && !(features & (1ull << VIRTIO_NET_F_GUEST_UFO))))
		return false;
	h.num_buffers = htole16(1);
	memcpy(p->rx_buf, &h, sizeof(h));
	return true;
}

/* Read the next packet into rx_buf: true when one is there. */
static bool net_rx_read(struct net_pair *p, uint64_t features)
{
	ssize_t n;

	do
		n = read(p->tap_fd, p->rx_buf, NET_HDR_LEN + NET_FRAME_MAX + 1);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno != EAGAIN && ratelimit_allow(&p->rl))
			log_warn("tap %s: queue %u: read: %s", p->dev->name, p->index,
				 strerror(errno));
		return false;
	}
	if (n <= NET_HDR_LEN || n > NET_HDR_LEN + NET_FRAME_MAX ||
	    !net_rx_fix_header(p, features)) {
		atomic_fetch_add_explicit(&p->ctr.rx_drops, 1, memory_order_relaxed);
		return true; /* nothing to deliver, but the tap may hold more */
	}
	p->rx_len = (size_t)n;
	return true;
}

void net_rx_run(struct net_pair *p)
{
	struct vhost_queue *q = p->rxq;
	uint64_t features;
	bool mrg;

	if (!q || q->vq.broken || !p->attached || p->tap_dead || p->rx_wait)
		return;
	features = q->be->features;
	mrg = features & (1ull << VIRTIO_NET_F_MRG_RXBUF);
	for (unsigned budget = NET_BUDGET; budget; budget--) {
		enum net_rx_result r;

		if (!p->rx_len && !net_rx_read(p, features))
			break;
		if (!p->rx_len)
			continue;
		r = net_rx_place(p, &q->vq, mrg);
		if (r == NET_RX_BROKEN) {
			vhost_queue_fail(q);
			break;
		}
		if (r == NET_RX_NO_ROOM) {
			p->rx_wait = true;
			break;
		}
		p->rx_len = 0;
	}
	vhost_queue_notify(q);
}
