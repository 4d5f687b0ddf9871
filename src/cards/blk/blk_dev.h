/* azote-blk's device: a virtio-blk disk (virtio 1.2 section 5.2) over a raw image, served as a
 * vhost-user backend (vhost/backend.h). */
#ifndef AZOTE_CARDS_BLK_BLK_DEV_H
#define AZOTE_CARDS_BLK_BLK_DEV_H

#include <linux/virtio_blk.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "cards/blk/blk_image.h"
#include "cards/blk/blk_req.h"
#include "vhost/backend.h"

/* The largest ring a frontend may configure (SET_VRING_NUM); requests in flight per queue
 * go up to the ring's size. */
#define BLK_QUEUE_SIZE_MAX 1024
/* A vhost-user queue index has 8 bits. Only started queues cost a thread. */
#define BLK_QUEUES_MAX 256

struct blk_options {
	const char *path;   /* the image, or its name in messages with from_fd */
	bool from_fd;       /* the image is already open (--file-fd): fd */
	int fd;
	bool ro;
	unsigned queues;    /* 1..BLK_QUEUES_MAX */
	const char *serial; /* NULL: the image file's name */
};

/* Requests completed, by kind, and the bytes moved; relaxed atomics, written by the queue
 * threads, read by the main thread for azote's metrics (--stats-fd). */
struct blk_counters {
	_Atomic uint64_t read_ops, read_bytes, write_ops, write_bytes;
	_Atomic uint64_t flush_ops, discard_ops, write_zeroes_ops, get_id_ops, errors;
};

struct blk_dev {
	char *path; /* for log lines */
	struct blk_image img;
	struct blk_limits lim;
	char id[BLK_ID_BYTES];
	struct virtio_blk_config config;
	struct vhost_backend_params params;
	/* Learned from the first EOPNOTSUPP, shared by the queues: the image's file system
	 * cannot zero or punch ranges, so write-zeroes writes zero bytes instead. */
	atomic_bool no_zero_range;
	atomic_bool no_punch_hole;
	struct blk_counters ctr;
};

/* The vhost-user callbacks of a blk_dev. */
extern const struct vhost_backend_ops blk_ops;

/* Open and check the image and describe the disk. 0 or -errno (logged). */
__attribute__((warn_unused_result)) int blk_dev_create(const struct blk_options *opt,
						       struct blk_dev **out);
/* Flush and close the image. Accepts NULL. Queues must be stopped (vhost_backend_destroy). */
void blk_dev_destroy(struct blk_dev *dev);

/* Queue callbacks (blk_queue.c). */
int blk_queue_start(void *dev, struct vhost_queue *q);
void blk_queue_kick(void *dev, struct vhost_queue *q);
void blk_queue_stop(void *dev, struct vhost_queue *q);

#endif
