/* Internals shared by virtio_pci.c (the PCI function, BAR regions, eventfds) and
 * virtio_pci_common.c (the common configuration registers and the status state machine). */
#ifndef AZOTE_DEVICES_VIRTIO_PCI_PRIV_H
#define AZOTE_DEVICES_VIRTIO_PCI_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/msix.h"
#include "devices/ratelimit.h"
#include "devices/virtio_pci.h"

/* BAR 0 layout (see virtio_pci.h). */
#define VPCI_BAR	 0
#define VPCI_BAR_SIZE	 0x8000u
#define VPCI_REGION	 0x1000u
#define VPCI_COMMON	 0x0000u
#define VPCI_ISR	 0x1000u
#define VPCI_DEVICE	 0x2000u
#define VPCI_NOTIFY	 0x3000u
#define VPCI_MSIX_TABLE	 0x4000u
#define VPCI_MSIX_PBA	 0x5000u
#define VPCI_NOTIFY_MULT 4u
#define VPCI_COMMON_LEN	 0x38u /* through queue_device; no queue_notify_data/queue_reset */
#define VPCI_DEVICE_LEN	 VPCI_REGION

/* Capability cfg_type values (virtio 1.2 section 4.1.4). */
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG	  3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define VIRTIO_PCI_CAP_PCI_CFG	  5
#define VIRTIO_PCI_CAP_LEN	  16
#define VIRTIO_PCI_NOTIFY_CAP_LEN 20
#define VIRTIO_PCI_CFG_CAP_LEN	  20

/* Device status bits (section 2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 0x01
#define VIRTIO_STATUS_DRIVER	  0x02
#define VIRTIO_STATUS_DRIVER_OK	  0x04
#define VIRTIO_STATUS_FEATURES_OK 0x08
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED	  0x80

/* Transport feature bits (section 6). */
#define VIRTIO_F_VERSION_1	   32
#define VIRTIO_F_RING_PACKED	   34
#define VIRTIO_F_SR_IOV		   37
#define VIRTIO_F_NOTIFICATION_DATA 38
#define VIRTIO_F_NOTIF_CONFIG_DATA 39
#define VIRTIO_F_RING_RESET	   40
#define VIRTIO_F_ADMIN_VQ	   41
/* What this transport cannot do, whatever the backend offers. */
#define VPCI_UNSUPPORTED_FEATURES                                                                  \
	((1ull << VIRTIO_F_SR_IOV) | (1ull << VIRTIO_F_NOTIFICATION_DATA) |                        \
	 (1ull << VIRTIO_F_NOTIF_CONFIG_DATA) | (1ull << VIRTIO_F_RING_RESET) |                    \
	 (1ull << VIRTIO_F_ADMIN_VQ))

/* ISR status bits. */
#define VIRTIO_ISR_QUEUE  0x1
#define VIRTIO_ISR_CONFIG 0x2

struct virtio_pci_queue {
	uint16_t size;
	uint16_t vector;
	bool enabled;
	uint64_t desc, driver, device;
	int kick_fd, call_fd;
	uint32_t ioeventfd_len; /* 0 (any length) or 2; valid while ioeventfd_on */
	bool ioeventfd_on;
	uint64_t ioeventfd_addr;
};

struct virtio_pci {
	struct pci_dev pci; /* first: the pci_dev ops get back here */
	pthread_mutex_t lock;
	const struct virtio_backend_ops *ops;
	void *ctx;
	struct kvm_irq *irq;
	struct msix msix; /* vectors 0..num_queues; sources: one per queue (its call fd) */
	char name[48];

	uint64_t device_features;
	uint64_t driver_features;
	uint32_t device_feature_select, driver_feature_select;
	uint16_t msix_config;
	uint16_t num_queues, queue_max;
	uint16_t queue_select;
	uint8_t status, config_generation, isr;
	bool started; /* ops->start was called since the last reset */
	struct virtio_pci_queue *queues;
	uint16_t cfg_cap; /* offset of the VIRTIO_PCI_CAP_PCI_CFG capability */
	struct ratelimit warn_limit;
};

/* Common configuration accesses at offset inside its region; any length. Lock held. */
void vpci_common_read(struct virtio_pci *vp, uint32_t offset, uint8_t *data, uint32_t len);
void vpci_common_write(struct virtio_pci *vp, uint32_t offset, const uint8_t *data, uint32_t len);
/* Device reset: backend reset (if started), queues and negotiation back to power-on state,
 * sources detached, eventfds drained. Lock held. */
void vpci_reset(struct virtio_pci *vp);
/* Mark the device broken and raise the configuration interrupt. Lock held. */
void vpci_needs_reset(struct virtio_pci *vp, const char *why, int rc);

#endif
