#include "cards/net/net_dev.h"

#include <endian.h>
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cards/net/net_tap.h"
#include "util/log.h"

#define BIT(n) (1ull << (n))

static void net_config_read(void *opaque, uint32_t offset, uint8_t *buf, uint32_t len)
{
	struct net_dev *dev = opaque;

	pthread_mutex_lock(&dev->config_lock);
	memcpy(buf, (const uint8_t *)&dev->config + offset, len);
	pthread_mutex_unlock(&dev->config_lock);
}

/* The driver's features: the tap's offloads follow the GUEST_* ones. */
static int net_features_set(void *opaque, uint64_t features)
{
	struct net_dev *dev = opaque;

	if (!(features & BIT(VIRTIO_F_VERSION_1))) {
		log_error("tap %s: the driver did not accept VIRTIO_F_VERSION_1 (a legacy driver): "
			  "refused",
			  dev->name);
		return -EINVAL;
	}
	dev->offload = net_tap_offload(features);
	/* Without a control queue of ours (QEMU keeps it) the frontend enables the pairs the
	 * driver uses; with one, the driver starts on one pair until VQ_PAIRS_SET. */
	atomic_store(&dev->active_pairs, features & BIT(VIRTIO_NET_F_CTRL_VQ) ? 1 : dev->pairs);
	for (unsigned i = 0; i < dev->pairs; i++) {
		struct net_pair *p = &dev->pair[i];
		int rc;

		if (!p->attached)
			continue; /* applied when it attaches */
		rc = net_tap_set_offload(p->tap_fd, dev->offload);
		if (rc)
			log_warn("tap %s: cannot set offloads %#x: %s", dev->name, dev->offload,
				 strerror(-rc));
	}
	return 0;
}

const struct vhost_backend_ops net_ops = {
    .name = "net",
    .features_set = net_features_set,
    .config_read = net_config_read,
    .queue_start = net_queue_start,
    .queue_kick = net_queue_kick,
    .queue_stop = net_queue_stop,
};

static uint64_t net_features(const struct net_options *opt)
{
	uint64_t f = BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_RING_F_EVENT_IDX) |
		     BIT(VIRTIO_RING_F_INDIRECT_DESC) | BIT(VIRTIO_NET_F_CSUM) |
		     BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_GUEST_TSO4) |
		     BIT(VIRTIO_NET_F_GUEST_TSO6) | BIT(VIRTIO_NET_F_GUEST_ECN) |
		     BIT(VIRTIO_NET_F_GUEST_UFO) | BIT(VIRTIO_NET_F_HOST_TSO4) |
		     BIT(VIRTIO_NET_F_HOST_TSO6) | BIT(VIRTIO_NET_F_HOST_ECN) |
		     BIT(VIRTIO_NET_F_HOST_UFO) | BIT(VIRTIO_NET_F_MRG_RXBUF) |
		     BIT(VIRTIO_NET_F_STATUS) | BIT(VIRTIO_NET_F_CTRL_VQ) |
		     BIT(VIRTIO_NET_F_CTRL_RX) | BIT(VIRTIO_NET_F_MQ) | BIT(VIRTIO_NET_F_MTU);

	/* Without a MAC the driver makes up a random one. */
	return opt->has_mac ? f | BIT(VIRTIO_NET_F_MAC) : f;
}

int net_mac_parse(const char *text, uint8_t mac[6])
{
	unsigned nz = 0;

	for (unsigned i = 0; i < 6; i++) {
		const char *p = text + 3 * i;
		char hex[3] = {0};

		for (unsigned j = 0; j < 2; j++) {
			char c = p[j];

			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			      (c >= 'A' && c <= 'F')))
				return -EINVAL;
			hex[j] = c;
		}
		if (p[2] != (i == 5 ? '\0' : ':'))
			return -EINVAL;
		mac[i] = (uint8_t)strtoul(hex, NULL, 16);
		nz |= mac[i];
	}
	if (mac[0] & 1)
		return -EDOM;
	return nz ? 0 : -ERANGE;
}

static void net_config_fill(struct net_dev *dev, const struct net_options *opt)
{
	struct virtio_net_config *c = &dev->config;

	memset(c, 0, sizeof(*c));
	if (opt->has_mac)
		memcpy(c->mac, opt->mac, sizeof(c->mac));
	c->status = htole16(VIRTIO_NET_S_LINK_UP);
	c->max_virtqueue_pairs = htole16((uint16_t)dev->pairs);
	c->mtu = htole16((uint16_t)opt->mtu);
	c->speed = htole32(UINT32_MAX); /* unknown */
	c->duplex = 0xff;		/* unknown */
}

static void net_pair_free(struct net_pair *p)
{
	if (p->tap_fd >= 0)
		close(p->tap_fd);
	if (p->wake_fd >= 0)
		close(p->wake_fd);
	free(p->rx_buf);
	free(p->rx_heads);
	free(p->rx_lens);
	free(p->rx_first);
	free(p->rx_req);
	free(p->tx_req);
}

static int net_pair_init(struct net_dev *dev, unsigned i, int tap_fd)
{
	struct net_pair *p = &dev->pair[i];

	p->dev = dev;
	p->index = i;
	p->tap_fd = tap_fd;
	/* A single-queue tap cannot detach its queue: it takes packets all along. */
	p->attached = !dev->mq_tap;
	p->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	/* One byte more than the largest packet: a longer one is seen as such, not cut. */
	p->rx_buf = malloc(NET_HDR_LEN + NET_FRAME_MAX + 1);
	p->rx_heads = calloc(NET_QUEUE_SIZE_MAX, sizeof(*p->rx_heads));
	p->rx_lens = calloc(NET_QUEUE_SIZE_MAX, sizeof(*p->rx_lens));
	p->rx_first = malloc(sizeof(*p->rx_first));
	p->rx_req = malloc(sizeof(*p->rx_req));
	p->tx_req = malloc(sizeof(*p->tx_req));
	if (p->wake_fd < 0 || !p->rx_buf || !p->rx_heads || !p->rx_lens || !p->rx_first ||
	    !p->rx_req || !p->tx_req)
		return -ENOMEM;
	/* Until its rx ring runs, the kernel must not steer packets to this queue. */
	if (dev->mq_tap && net_tap_attach(tap_fd, false))
		log_warn("tap %s: cannot detach queue %u: %s", dev->name, i, strerror(errno));
	return 0;
}

static int net_dev_open_tap(const struct net_options *opt, struct net_dev *dev, int *fds)
{
	if (opt->tap) {
		snprintf(dev->name, sizeof(dev->name), "%s", opt->tap);
		dev->pairs = opt->pairs;
		return net_tap_open(opt->tap, &dev->pairs, fds, &dev->mq_tap);
	}
	if (opt->ntap_fds == 0 || opt->ntap_fds > NET_PAIRS_MAX)
		return -EINVAL;
	if (opt->pairs && opt->pairs != opt->ntap_fds) {
		log_error("--queue-pairs %u but %u --tap-fd queues", opt->pairs, opt->ntap_fds);
		return -EINVAL;
	}
	dev->pairs = opt->ntap_fds;
	memcpy(fds, opt->tap_fds, sizeof(int) * opt->ntap_fds);
	return net_tap_adopt(fds, opt->ntap_fds, dev->name, &dev->mq_tap);
}

int net_dev_create(const struct net_options *opt, struct net_dev **out)
{
	int fds[NET_PAIRS_MAX];
	struct net_dev *dev;
	int rc;

	*out = NULL;
	if ((opt->tap && (opt->pairs == 0 || opt->pairs > NET_PAIRS_MAX)) ||
	    opt->mtu < NET_MTU_MIN || opt->mtu > NET_MTU_MAX)
		return -EINVAL;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	for (unsigned i = 0; i < NET_PAIRS_MAX; i++)
		dev->pair[i].tap_fd = dev->pair[i].wake_fd = -1;
	pthread_mutex_init(&dev->config_lock, NULL);
	rc = net_dev_open_tap(opt, dev, fds);
	if (rc) {
		net_dev_destroy(dev);
		return rc;
	}
	/* Ours from here: closed by net_dev_destroy(). */
	for (unsigned i = 0; i < dev->pairs; i++)
		dev->pair[i].tap_fd = fds[i];
	dev->ctrl = calloc(1, sizeof(*dev->ctrl));
	rc = dev->ctrl ? 0 : -ENOMEM;
	for (unsigned i = 0; i < dev->pairs && !rc; i++)
		rc = net_pair_init(dev, i, fds[i]);
	if (rc) {
		log_error("tap %s: %s", dev->name, strerror(-rc));
		net_dev_destroy(dev);
		return rc;
	}
	atomic_store(&dev->active_pairs, 1);
	net_config_fill(dev, opt);
	dev->params = (struct vhost_backend_params){
	    .features = net_features(opt),
	    .max_queues = (uint16_t)(2 * dev->pairs + 1),
	    .max_queue_size = NET_QUEUE_SIZE_MAX,
	    .config_size = sizeof(dev->config),
	    .queues_per_thread = 2,
	};
	*out = dev;
	return 0;
}

void net_dev_stats(struct net_dev *dev, struct net_stats *s)
{
	memset(s, 0, sizeof(*s));
	for (unsigned i = 0; i < dev->pairs; i++) {
		struct net_counters *c = &dev->pair[i].ctr;

		s->rx_packets += atomic_load_explicit(&c->rx_packets, memory_order_relaxed);
		s->rx_bytes += atomic_load_explicit(&c->rx_bytes, memory_order_relaxed);
		s->rx_drops += atomic_load_explicit(&c->rx_drops, memory_order_relaxed);
		s->rx_errors += atomic_load_explicit(&c->rx_errors, memory_order_relaxed);
		s->tx_packets += atomic_load_explicit(&c->tx_packets, memory_order_relaxed);
		s->tx_bytes += atomic_load_explicit(&c->tx_bytes, memory_order_relaxed);
		s->tx_drops += atomic_load_explicit(&c->tx_drops, memory_order_relaxed);
		s->tx_errors += atomic_load_explicit(&c->tx_errors, memory_order_relaxed);
	}
}

void net_dev_destroy(struct net_dev *dev)
{
	struct net_stats s;

	if (!dev)
		return;
	net_dev_stats(dev, &s);
	log_debug("tap %s: rx %llu packets %llu bytes %llu dropped %llu errors; tx %llu packets "
		  "%llu bytes %llu dropped %llu errors",
		  dev->name, (unsigned long long)s.rx_packets, (unsigned long long)s.rx_bytes,
		  (unsigned long long)s.rx_drops, (unsigned long long)s.rx_errors,
		  (unsigned long long)s.tx_packets, (unsigned long long)s.tx_bytes,
		  (unsigned long long)s.tx_drops, (unsigned long long)s.tx_errors);
	for (unsigned i = 0; i < NET_PAIRS_MAX; i++)
		net_pair_free(&dev->pair[i]);
	free(dev->ctrl);
	pthread_mutex_destroy(&dev->config_lock);
	free(dev);
}
