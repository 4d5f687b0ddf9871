/* What the virtio-pci transport needs from the device behind it. azote's devices are served by
 * vhost-user backends in other processes; the transport only forwards the driver's choices. */
#ifndef AZOTE_DEVICES_VIRTIO_BACKEND_H
#define AZOTE_DEVICES_VIRTIO_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

/* A queue as the driver configured it (guest-physical addresses). */
struct virtio_queue_setup {
	uint16_t index;
	uint16_t size;
	uint64_t desc_gpa;
	uint64_t avail_gpa;
	uint64_t used_gpa;
	int kick_fd; /* eventfd signalled by KVM (ioeventfd) when the driver notifies the queue */
	int call_fd; /* eventfd the backend signals; KVM (irqfd) turns it into the MSI-X vector */
};

/* Called on vCPU threads (register accesses) with the transport's lock held; each returns 0 or
 * -errno. A failure puts the device in DEVICE_NEEDS_RESET, it never stops the VM. */
struct virtio_backend_ops {
	/* VIRTIO_ID_* (2 = block, 1 = net) */
	uint16_t device_id;
	/* Features the device offers (VIRTIO_F_VERSION_1 included). */
	uint64_t (*features)(void *ctx);
	/* Number of virtqueues the device has and their maximum size. */
	uint16_t (*num_queues)(void *ctx);
	uint16_t (*queue_max_size)(void *ctx);
	/* Device-specific configuration space (virtio_blk_config...), any offset/length the
	 * driver reads; bytes beyond the config read as 0. */
	int (*config_read)(void *ctx, uint32_t offset, uint8_t *data, uint32_t len);
	int (*config_write)(void *ctx, uint32_t offset, const uint8_t *data, uint32_t len);
	/* The driver set DRIVER_OK: features are final, these queues are enabled. */
	int (*start)(void *ctx, uint64_t features, const struct virtio_queue_setup *queues,
		     unsigned nqueues);
	/* The driver reset the device (status 0) or the VM is stopping: stop using the queues. */
	void (*reset)(void *ctx);
};

#endif
