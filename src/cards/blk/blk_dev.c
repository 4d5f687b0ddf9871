#include "cards/blk/blk_dev.h"

#include <endian.h>
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <stdlib.h>
#include <string.h>

/* Discard granularity we suggest to the driver (sectors): a typical file-system block. */
#define BLK_DISCARD_ALIGN 8

static void blk_config_read(void *opaque, uint32_t offset, uint8_t *buf, uint32_t len)
{
	const struct blk_dev *dev = opaque;

	memcpy(buf, (const uint8_t *)&dev->config + offset, len);
}

const struct vhost_backend_ops blk_ops = {
    .name = "blk",
    .config_read = blk_config_read,
    .queue_start = blk_queue_start,
    .queue_kick = blk_queue_kick,
    .queue_stop = blk_queue_stop,
};

static uint64_t blk_features(bool ro)
{
	uint64_t f = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_RING_F_INDIRECT_DESC) |
		     (1ull << VIRTIO_RING_F_EVENT_IDX) | (1ull << VIRTIO_BLK_F_SEG_MAX) |
		     (1ull << VIRTIO_BLK_F_BLK_SIZE) | (1ull << VIRTIO_BLK_F_FLUSH) |
		     (1ull << VIRTIO_BLK_F_MQ);

	/* A read-only disk offers nothing that writes. */
	if (ro)
		return f | (1ull << VIRTIO_BLK_F_RO);
	return f | (1ull << VIRTIO_BLK_F_DISCARD) | (1ull << VIRTIO_BLK_F_WRITE_ZEROES);
}

static void blk_config_fill(struct blk_dev *dev, unsigned queues)
{
	struct virtio_blk_config *c = &dev->config;

	memset(c, 0, sizeof(*c));
	c->capacity = htole64(dev->lim.capacity);
	c->seg_max = htole32(BLK_SEG_MAX);
	c->blk_size = htole32(BLK_SECTOR);
	c->num_queues = htole16((uint16_t)queues);
	if (dev->lim.ro)
		return;
	c->max_discard_sectors = htole32(BLK_DWZ_SECTORS_MAX);
	c->max_discard_seg = htole32(BLK_DWZ_SEG_MAX);
	c->discard_sector_alignment = htole32(BLK_DISCARD_ALIGN);
	c->max_write_zeroes_sectors = htole32(BLK_DWZ_SECTORS_MAX);
	c->max_write_zeroes_seg = htole32(BLK_DWZ_SEG_MAX);
	/* Write-zeroes with the unmap flag punches a hole. */
	c->write_zeroes_may_unmap = 1;
}

/* Default device ID: the image's file name, cut to 20 bytes. */
static void blk_id_fill(struct blk_dev *dev, const struct blk_options *opt)
{
	const char *id = opt->serial;
	size_t len;

	if (!id) {
		const char *slash = strrchr(opt->path, '/');

		id = slash ? slash + 1 : opt->path;
	}
	len = strlen(id);
	memset(dev->id, 0, sizeof(dev->id));
	memcpy(dev->id, id, len < sizeof(dev->id) ? len : sizeof(dev->id));
}

int blk_dev_create(const struct blk_options *opt, struct blk_dev **out)
{
	struct blk_dev *dev;
	int rc;

	*out = NULL;
	if (opt->queues == 0 || opt->queues > BLK_QUEUES_MAX)
		return -EINVAL;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->path = strdup(opt->path);
	if (!dev->path) {
		free(dev);
		return -ENOMEM;
	}
	rc = opt->from_fd ? blk_image_adopt(opt->fd, opt->path, opt->ro, &dev->img)
			  : blk_image_open(opt->path, opt->ro, &dev->img);
	if (rc) {
		free(dev->path);
		free(dev);
		return rc;
	}
	dev->lim.capacity = dev->img.size / BLK_SECTOR;
	dev->lim.ro = opt->ro;
	blk_id_fill(dev, opt);
	blk_config_fill(dev, opt->queues);
	dev->params = (struct vhost_backend_params){
	    .features = blk_features(opt->ro),
	    .max_queues = (uint16_t)opt->queues,
	    .max_queue_size = BLK_QUEUE_SIZE_MAX,
	    .config_size = sizeof(dev->config),
	};
	*out = dev;
	return 0;
}

void blk_dev_destroy(struct blk_dev *dev)
{
	if (!dev)
		return;
	blk_image_close(&dev->img);
	free(dev->path);
	free(dev);
}
