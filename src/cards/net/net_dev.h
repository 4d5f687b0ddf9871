/* azote-net's device: a virtio-net interface (virtio 1.2 section 5.1) bound to a TAP device and
 * served as a vhost-user backend (vhost/backend.h).
 *
 * Queues: rx0, tx0, rx1, tx1, ..., then the control queue (index 2 * pairs). Queue pair k
 * owns tap queue k (one fd per pair, IFF_MULTI_QUEUE) and runs on one worker thread: the
 * backend groups queues two by two, so rx_k, tx_k, the tap fd and the pair's wake eventfd
 * share one epoll loop; the control queue has a worker of its own. Nothing spins: rx reads
 * the tap only while the driver has buffers, tx waits for EPOLLOUT when the tap is full.
 *
 * Ownership: a pair's state belongs to its worker while it runs and to the main thread while
 * it is stopped. The control queue's worker reaches the pairs only through dev->active_pairs
 * (atomic) and their wake eventfds; the MAC it may change is under config_lock. */
#ifndef AZOTE_CARDS_NET_NET_DEV_H
#define AZOTE_CARDS_NET_NET_DEV_H

#include <linux/virtio_net.h>
#include <net/if.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/ratelimit.h"
#include "vhost/backend.h"

#define NET_PAIRS_MAX	   16
#define NET_QUEUE_SIZE_MAX 1024
#define NET_MTU_MIN	   68
#define NET_MTU_MAX	   65535
#define NET_MTU_DEFAULT	   1500
/* struct virtio_net_hdr_v1, in front of every frame both ways (VERSION_1 is required). */
#define NET_HDR_LEN 12
/* Largest frame either way: Ethernet header + 64 KiB, what the spec's big-packets mode
 * buffers hold (65562 bytes with the header). */
#define NET_FRAME_MAX 65550
/* Chains (tx) or packets (rx) handled per event before the loop serves its other fds. */
#define NET_BUDGET 256

/* Interface counters of one queue pair; each pair's worker is the only writer (relaxed
 * atomics so that a reader on another thread gets whole values). Errors are the guest's
 * doing (malformed frames); drops are good packets lost on the host side (tap full, gone or
 * detached, no room in the guest's buffers). */
struct net_counters {
	_Atomic uint64_t rx_packets, rx_bytes, rx_drops, rx_errors;
	_Atomic uint64_t tx_packets, tx_bytes, tx_drops, tx_errors;
};

/* A plain copy of counters, summed over pairs. */
struct net_stats {
	uint64_t rx_packets, rx_bytes, rx_drops, rx_errors;
	uint64_t tx_packets, tx_bytes, tx_drops, tx_errors;
};

struct net_options {
	const char *tap;	    /* interface name, or NULL with tap_fds */
	int tap_fds[NET_PAIRS_MAX]; /* --tap-fd: already-open tap queues, one per pair */
	unsigned ntap_fds;
	uint8_t mac[6];
	bool has_mac;
	unsigned pairs; /* 1..NET_PAIRS_MAX; with tap_fds, 0 means "one per fd" */
	unsigned mtu;
};

struct net_dev;

struct net_pair {
	struct net_dev *dev;
	unsigned index;
	int tap_fd;
	int wake_fd;		       /* "look again": budget left work, or active_pairs changed */
	struct evloop *loop;	       /* the pair's worker loop while one of its rings runs */
	struct vhost_queue *rxq, *txq; /* running rings, or NULL */
	bool attached;	 /* the tap queue takes packets (always, without multi_queue) */
	bool tap_dead;	 /* the tap queue failed (interface deleted): left alone */
	uint32_t events; /* epoll interest on tap_fd */
	struct net_counters ctr;
	struct ratelimit rl;

	/* Receive: one packet at a time through a bounce buffer. */
	bool rx_wait;  /* no room for rx_len bytes: tap not read until the next rx kick */
	size_t rx_len; /* bytes (header included) of the packet waiting in rx_buf, or 0 */
	uint8_t *rx_buf;
	uint16_t *rx_heads;
	uint32_t *rx_lens;
	struct virtq_req *rx_first, *rx_req;

	/* Transmit: a chain the tap refused with EAGAIN stays popped until EPOLLOUT. */
	bool tx_held;
	struct virtq_req *tx_req;
};

struct net_ctrl {
	struct vhost_queue *q;
	struct virtq_req req;
	uint8_t data[2 + 65536]; /* class, command, command data */
};

struct net_dev {
	char name[IF_NAMESIZE]; /* the tap interface, for log lines */
	unsigned pairs;
	bool mq_tap;		  /* tap queues can be detached (IFF_MULTI_QUEUE) */
	unsigned offload;	  /* TUN_F_* from the negotiated GUEST_* features */
	atomic_uint active_pairs; /* pairs the driver uses (VQ_PAIRS_SET) */
	pthread_mutex_t config_lock;
	struct virtio_net_config config;
	struct vhost_backend_params params;
	struct net_pair pair[NET_PAIRS_MAX];
	struct net_ctrl *ctrl;
};

/* The vhost-user callbacks of a net_dev. */
extern const struct vhost_backend_ops net_ops;

/* Parse "aa:bb:cc:dd:ee:ff" (hex digits, either case). 0, or -EINVAL (malformed), -EDOM
 * (multicast), -ERANGE (all zero). */
__attribute__((warn_unused_result)) int net_mac_parse(const char *text, uint8_t mac[6]);

/* Open the tap (opt->tap) or adopt opt->tap_fds, describe the device. 0 or -errno (logged in
 * one line). On success the tap fds belong to the device. */
__attribute__((warn_unused_result)) int net_dev_create(const struct net_options *opt,
						       struct net_dev **out);
/* Close the tap queues; log the counters (debug). Accepts NULL. Queues must be stopped. */
void net_dev_destroy(struct net_dev *dev);
/* Sum of every pair's counters. */
void net_dev_stats(struct net_dev *dev, struct net_stats *out);

/* Queue callbacks (net_queue.c). */
int net_queue_start(void *dev, struct vhost_queue *q);
void net_queue_kick(void *dev, struct vhost_queue *q);
void net_queue_stop(void *dev, struct vhost_queue *q);
/* Attach or detach the pair's tap queue as its rx ring and active_pairs want, and set the
 * epoll interest (pair's worker, or main thread with it stopped). */
void net_pair_sync(struct net_pair *p);

/* Data path (net_rx.c, net_tx.c), on the pair's worker. */
void net_rx_run(struct net_pair *p);
void net_tx_run(struct net_pair *p);

/* Control queue (net_ctrl.c), on its worker: answer every command available. */
void net_ctrl_run(struct net_dev *dev, struct net_ctrl *c);
/* Answer one command chain: returns the ack (VIRTIO_NET_OK / VIRTIO_NET_ERR), or -EIO when the
 * chain has no device-writable byte to carry it. */
int net_ctrl_handle(struct net_dev *dev, struct net_ctrl *c, const struct virtq_req *req);

/* Copy between a flat buffer and an iovec array, from byte `skip` of the iovecs; returns the
 * bytes copied (less when the iovecs end first). */
size_t net_iov_to(const struct iovec *iov, unsigned n, size_t skip, const void *src, size_t len);
size_t net_iov_from(const struct iovec *iov, unsigned n, size_t skip, void *dst, size_t len);

#endif
