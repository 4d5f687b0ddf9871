/* A disk: azote-blk serving an image, or a running vhost-user-blk backend's socket. */
#include <linux/virtio_blk.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cards/blk/blk_image.h"
#include "vmm/vmm.h"

#define DISK_QUEUE_SIZE 256
/* The config up to write_zeroes_may_unmap: all the features azote offers use. Newer fields
 * (secure erase, zoned) make the struct longer in newer headers, and backends built with older
 * ones (QEMU 7.2's qemu-storage-daemon) refuse a GET_CONFIG longer than theirs. */
#define VIRTIO_BLK_CONFIG_LEN 60

int vmm_disk_create(struct vmm *vmm, struct vmm_card *card, const struct disk_config *cfg)
{
	char queues_arg[16], serial[21], fd_arg[16]; /* virtio-blk's serial is 20 bytes */
	char *args[] = {"--file-fd", fd_arg,	 "--file-name", (char *)cfg->path,
			"--queues",  queues_arg, "--serial",	serial,
			"--sandbox", "on",	 cfg->read_only ? "--ro" : NULL,
			NULL};
	int rc, fd = -1;
	struct vhost_frontend_params p = {
		.name = card->name,
		.mem = &vmm->mem,
		.config_len = VIRTIO_BLK_CONFIG_LEN,
		.max_queues = (uint16_t)vmm->cfg->cpus, /* one queue per vCPU */
		.queue_size = DISK_QUEUE_SIZE,
	};

	if (vmm->xen)
		return vmm_xen_disk_create(vmm, card, cfg);
	snprintf(card->name, sizeof(card->name), "disk %s", cfg->id);
	snprintf(queues_arg, sizeof(queues_arg), "%u", vmm->cfg->cpus);
	snprintf(serial, sizeof(serial), "%.20s", cfg->id);
	snprintf(fd_arg, sizeof(fd_arg), "%d", VMM_CARD_PASS_FD);
	/* azote opens the image, so that the card never needs a path: it gets the fd alone. */
	if (!cfg->socket) {
		fd = blk_image_open_file(cfg->path, cfg->read_only);
		if (fd < 0)
			return fd;
	}
	rc = vmm_card_open(card, "azote-blk", args, &fd, fd >= 0, cfg->socket, &p);
	if (rc)
		return rc;
	/* The guest must see the number of queues we offer, whatever the backend has. */
	if (card->fe.backend_features & (1ull << VIRTIO_BLK_F_MQ)) {
		uint16_t nq = card->fe.nqueues;

		memcpy(card->fe.config + offsetof(struct virtio_blk_config, num_queues), &nq,
		       sizeof(nq));
	}
	return vmm_card_add_pci(card, &vhost_frontend_blk_ops);
}
