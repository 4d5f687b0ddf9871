/* The virtio-pci function: its header and capabilities, BAR 0's regions, the notify ioeventfds
 * that follow the BAR, and the VIRTIO_PCI_CAP_PCI_CFG window. The common configuration lives in
 * virtio_pci_common.c. */
#include "devices/virtio_pci.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/virtio_pci_priv.h"
#include "util/log.h"

#define VIRTIO_ID_NET	  1
#define VIRTIO_ID_BLOCK	  2
#define VIRTIO_ID_CONSOLE 3
#define VIRTQ_SIZE_MAX	  32768 /* section 2.7: split and packed rings alike */
#define NOTIFY_LEN	  2	/* Linux writes the queue index as a 16-bit value */

static struct virtio_pci *vp_of(struct pci_dev *dev)
{
	return (struct virtio_pci *)dev; /* pci is the first member */
}

static uint32_t vpci_class(uint16_t device_id)
{
	switch (device_id) {
	case VIRTIO_ID_NET:
		return 0x020000; /* network controller, Ethernet */
	case VIRTIO_ID_BLOCK:
		return 0x018000; /* mass storage, other */
	case VIRTIO_ID_CONSOLE:
		return 0x078000; /* communication, other */
	default:
		return 0xff0000; /* unassigned class */
	}
}

static void vpci_isr_read(struct virtio_pci *vp, uint32_t offset, uint8_t *data, uint32_t len)
{
	memset(data, 0, len);
	/* Reading the status byte acknowledges it (section 4.1.4.5). */
	if (offset == 0) {
		data[0] = vp->isr;
		vp->isr = 0;
	}
}

static void vpci_device_cfg(struct virtio_pci *vp, uint32_t offset, uint8_t *data, uint32_t len,
			    bool is_write)
{
	int rc;

	if (is_write) {
		rc = vp->ops->config_write(vp->ctx, offset, data, len);
	} else {
		rc = vp->ops->config_read(vp->ctx, offset, data, len);
		if (rc)
			memset(data, 0, len);
	}
	if (rc)
		vpci_needs_reset(
		    vp, is_write ? "writing its configuration" : "reading its configuration", rc);
}

/* A notification that did not match an ioeventfd (odd width, or no ioeventfd): signal the kick
 * eventfd by hand, so the backend sees it all the same. */
static void vpci_notify(struct virtio_pci *vp, uint32_t offset, bool is_write)
{
	uint64_t one = 1;
	uint32_t q = offset / VPCI_NOTIFY_MULT;

	if (is_write && q < vp->num_queues &&
	    write(vp->queues[q].kick_fd, &one, sizeof(one)) != sizeof(one) &&
	    ratelimit_allow(&vp->warn_limit))
		log_warn("%s: cannot signal queue %u", vp->name, q);
}

/* An access inside one 4 KiB region of BAR 0. */
static void vpci_region(struct virtio_pci *vp, uint64_t region, uint32_t offset, uint8_t *data,
			uint32_t len, bool is_write)
{
	switch (region * VPCI_REGION) {
	case VPCI_MSIX_TABLE:
		msix_table_access(&vp->msix, offset, data, len, is_write);
		return;
	case VPCI_MSIX_PBA:
		msix_pba_access(&vp->msix, offset, data, len, is_write);
		return;
	case VPCI_NOTIFY:
		vpci_notify(vp, offset, is_write);
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	pthread_mutex_lock(&vp->lock);
	switch (region * VPCI_REGION) {
	case VPCI_COMMON:
		if (is_write)
			vpci_common_write(vp, offset, data, len);
		else
			vpci_common_read(vp, offset, data, len);
		break;
	case VPCI_ISR:
		if (!is_write)
			vpci_isr_read(vp, offset, data, len);
		break;
	case VPCI_DEVICE:
		vpci_device_cfg(vp, offset, data, len, is_write);
		break;
	default:
		if (!is_write)
			memset(data, 0, len); /* the unused tail of the BAR */
	}
	pthread_mutex_unlock(&vp->lock);
}

static void vpci_bar_access(struct pci_dev *dev, unsigned bar, uint64_t offset, uint8_t *data,
			    uint32_t len, bool is_write)
{
	struct virtio_pci *vp = vp_of(dev);

	/* Split at region boundaries, so each handler sees only its own bytes. */
	while (len) {
		uint32_t chunk;

		if (bar != VPCI_BAR || offset >= VPCI_BAR_SIZE) {
			if (!is_write)
				memset(data, 0xff, len); /* past the BAR: nothing decodes there */
			return;
		}
		chunk = VPCI_REGION - (uint32_t)(offset % VPCI_REGION);
		if (chunk > len)
			chunk = len;
		vpci_region(vp, offset / VPCI_REGION, (uint32_t)(offset % VPCI_REGION), data, chunk,
			    is_write);
		offset += chunk;
		data += chunk;
		len -= chunk;
	}
}

static void vpci_ioeventfd_off(struct virtio_pci *vp, struct virtio_pci_queue *q)
{
	int rc;

	if (!q->ioeventfd_on)
		return;
	rc = kvm_irq_ioeventfd(vp->irq, q->ioeventfd_addr, q->ioeventfd_len, q->kick_fd, false);
	if (rc && ratelimit_allow(&vp->warn_limit))
		log_warn("%s: KVM_IOEVENTFD (deassign): %s", vp->name, strerror(-rc));
	q->ioeventfd_on = false;
}

static void vpci_ioeventfd_on(struct virtio_pci *vp, struct virtio_pci_queue *q, uint64_t addr)
{
	/* Any length first (KVM's fast MMIO path), else the 16-bit write drivers make. */
	int rc = kvm_irq_ioeventfd(vp->irq, addr, 0, q->kick_fd, true);
	uint32_t len = 0;

	if (rc == -EINVAL) {
		len = NOTIFY_LEN;
		rc = kvm_irq_ioeventfd(vp->irq, addr, len, q->kick_fd, true);
	}
	if (rc) {
		/* Kicks still work, one VM exit each (vpci_notify). */
		if (ratelimit_allow(&vp->warn_limit))
			log_warn("%s: KVM_IOEVENTFD at %#llx: %s", vp->name,
				 (unsigned long long)addr, strerror(-rc));
		return;
	}
	q->ioeventfd_on = true;
	q->ioeventfd_addr = addr;
	q->ioeventfd_len = len;
}

/* BAR 0 started or stopped decoding, or moved: the notify ioeventfds follow it. */
static void vpci_bar_moved(struct pci_dev *dev, unsigned bar)
{
	struct virtio_pci *vp = vp_of(dev);
	const struct pci_bar *b = &dev->bars[bar];

	if (bar != VPCI_BAR)
		return;
	pthread_mutex_lock(&vp->lock);
	for (uint16_t i = 0; i < vp->num_queues; i++) {
		vpci_ioeventfd_off(vp, &vp->queues[i]);
		if (b->active)
			vpci_ioeventfd_on(vp, &vp->queues[i],
					  b->addr + VPCI_NOTIFY + (uint64_t)i * VPCI_NOTIFY_MULT);
	}
	pthread_mutex_unlock(&vp->lock);
}

static bool overlaps_cfg_data(const struct virtio_pci *vp, uint32_t offset, uint32_t len)
{
	uint32_t data = vp->cfg_cap + VIRTIO_PCI_CAP_LEN;

	return offset < data + 4 && data < offset + len;
}

/* VIRTIO_PCI_CAP_PCI_CFG: pci_cfg_data is a window on BAR `bar` at `offset`, `length` bytes
 * (1, 2 or 4). Anything else leaves the window inert. Host bridge lock held, device lock not. */
static void vpci_cfg_window(struct virtio_pci *vp, bool is_write)
{
	uint16_t cap = vp->cfg_cap;
	uint8_t bar = vp->pci.cfg[cap + 4];
	uint32_t offset = pci_cfg_get(&vp->pci, (uint16_t)(cap + 8), 4);
	uint32_t length = pci_cfg_get(&vp->pci, (uint16_t)(cap + 12), 4);
	uint8_t *data = &vp->pci.cfg[cap + VIRTIO_PCI_CAP_LEN];

	if (bar != VPCI_BAR || (length != 1 && length != 2 && length != 4) ||
	    offset > VPCI_BAR_SIZE - length)
		return;
	vpci_bar_access(&vp->pci, bar, offset, data, length, is_write);
}

static void vpci_config_written(struct pci_dev *dev, uint32_t offset, uint32_t len)
{
	struct virtio_pci *vp = vp_of(dev);

	msix_config_written(&vp->msix, dev, offset, len);
	if (overlaps_cfg_data(vp, offset, len))
		vpci_cfg_window(vp, true);
}

static void vpci_config_reading(struct pci_dev *dev, uint32_t offset, uint32_t len)
{
	struct virtio_pci *vp = vp_of(dev);

	if (overlaps_cfg_data(vp, offset, len))
		vpci_cfg_window(vp, false);
}

static const struct pci_dev_ops vpci_pci_ops = {
    .bar_access = vpci_bar_access,
    .bar_moved = vpci_bar_moved,
    .config_written = vpci_config_written,
    .config_reading = vpci_config_reading,
};

/* struct virtio_pci_cap (section 4.1.4): cfg_type, bar, id, offset and length after the
 * two-byte header pci_dev_add_cap() writes. */
static int vpci_add_cap(struct virtio_pci *vp, uint8_t type, uint32_t offset, uint32_t length,
			uint8_t cap_len, uint16_t *at)
{
	int rc = pci_dev_add_cap(&vp->pci, PCI_CAP_ID_VNDR, cap_len, at);

	if (rc)
		return rc;
	pci_cfg_set(&vp->pci, (uint16_t)(*at + 2), 1, cap_len);
	pci_cfg_set(&vp->pci, (uint16_t)(*at + 3), 1, type);
	pci_cfg_set(&vp->pci, (uint16_t)(*at + 4), 1, VPCI_BAR);
	pci_cfg_set(&vp->pci, (uint16_t)(*at + 8), 4, offset);
	pci_cfg_set(&vp->pci, (uint16_t)(*at + 12), 4, length);
	return 0;
}

static int vpci_build_pci(struct virtio_pci *vp)
{
	struct pci_id id = {.vendor = VIRTIO_PCI_VENDOR,
			    .device = (uint16_t)(VIRTIO_PCI_DEVICE_BASE + vp->ops->device_id),
			    .subsys_vendor = VIRTIO_PCI_VENDOR,
			    .subsys = (uint16_t)(0x40 + vp->ops->device_id), /* >= 0x40: modern */
			    .revision = 1,
			    .class_code = vpci_class(vp->ops->device_id)};
	uint16_t at;
	int rc;

	pci_dev_init(&vp->pci, &vpci_pci_ops, &id, vp->name);
	rc = pci_dev_add_bar(&vp->pci, VPCI_BAR, VPCI_BAR_SIZE, PCI_BAR_MEM64);
	if (!rc)
		rc = msix_add_cap(&vp->msix, &vp->pci, VPCI_BAR, VPCI_MSIX_TABLE, VPCI_MSIX_PBA);
	if (!rc)
		rc = vpci_add_cap(vp, VIRTIO_PCI_CAP_COMMON_CFG, VPCI_COMMON, VPCI_COMMON_LEN,
				  VIRTIO_PCI_CAP_LEN, &at);
	if (!rc)
		rc = vpci_add_cap(vp, VIRTIO_PCI_CAP_NOTIFY_CFG, VPCI_NOTIFY,
				  (uint32_t)vp->num_queues * VPCI_NOTIFY_MULT,
				  VIRTIO_PCI_NOTIFY_CAP_LEN, &at);
	if (!rc)
		pci_cfg_set(&vp->pci, (uint16_t)(at + 16), 4, VPCI_NOTIFY_MULT);
	if (!rc)
		rc = vpci_add_cap(vp, VIRTIO_PCI_CAP_ISR_CFG, VPCI_ISR, 1, VIRTIO_PCI_CAP_LEN, &at);
	if (!rc)
		rc = vpci_add_cap(vp, VIRTIO_PCI_CAP_DEVICE_CFG, VPCI_DEVICE, VPCI_DEVICE_LEN,
				  VIRTIO_PCI_CAP_LEN, &at);
	if (!rc)
		rc = vpci_add_cap(vp, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, VIRTIO_PCI_CFG_CAP_LEN,
				  &vp->cfg_cap);
	if (rc)
		return rc;
	/* The driver picks bar, offset and length of the window, then moves data through it. */
	pci_dev_set_writable(&vp->pci, (uint16_t)(vp->cfg_cap + 4), 1, 0xff);
	pci_dev_set_writable(&vp->pci, (uint16_t)(vp->cfg_cap + 8), 4, 0xffffffffu);
	pci_dev_set_writable(&vp->pci, (uint16_t)(vp->cfg_cap + 12), 4, 0xffffffffu);
	pci_dev_set_writable(&vp->pci, (uint16_t)(vp->cfg_cap + 16), 4, 0xffffffffu);
	return 0;
}

static bool vpci_ops_valid(const struct virtio_backend_ops *ops)
{
	return ops && ops->features && ops->num_queues && ops->queue_max_size && ops->config_read &&
	       ops->config_write && ops->start && ops->reset;
}

static int vpci_create_queues(struct virtio_pci *vp)
{
	vp->queues = calloc(vp->num_queues, sizeof(*vp->queues));
	if (!vp->queues)
		return -ENOMEM;
	for (uint16_t i = 0; i < vp->num_queues; i++)
		vp->queues[i].kick_fd = vp->queues[i].call_fd = -1;
	for (uint16_t i = 0; i < vp->num_queues; i++) {
		vp->queues[i].kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		vp->queues[i].call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vp->queues[i].kick_fd < 0 || vp->queues[i].call_fd < 0)
			return -errno;
	}
	return 0;
}

static int vpci_init(struct virtio_pci *vp, const struct virtio_pci_params *p)
{
	uint16_t nq = p->ops->num_queues(p->ctx);
	int rc;

	vp->queue_max = p->ops->queue_max_size(p->ctx);
	if (nq == 0 || vp->queue_max == 0 || vp->queue_max > VIRTQ_SIZE_MAX) {
		log_error("%s: the backend offers %u queues of %u entries", vp->name, nq,
			  vp->queue_max);
		return -EINVAL;
	}
	if (nq > VIRTIO_PCI_MAX_QUEUES) {
		log_warn("%s: offering %u of the backend's %u queues", vp->name,
			 VIRTIO_PCI_MAX_QUEUES, nq);
		nq = VIRTIO_PCI_MAX_QUEUES;
	}
	vp->num_queues = nq;
	rc = vpci_create_queues(vp);
	if (!rc)
		rc = msix_init(&vp->msix, p->irq, nq + 1u, nq);
	if (!rc)
		rc = vpci_build_pci(vp);
	return rc;
}

int virtio_pci_create(struct virtio_pci **out, const struct virtio_pci_params *p)
{
	struct virtio_pci *vp;
	int rc;

	if (!p || !vpci_ops_valid(p->ops) || !p->irq)
		return -EINVAL;
	vp = calloc(1, sizeof(*vp));
	if (!vp)
		return -ENOMEM;
	pthread_mutex_init(&vp->lock, NULL);
	vp->ops = p->ops;
	vp->ctx = p->ctx;
	vp->irq = p->irq;
	snprintf(vp->name, sizeof(vp->name), "%s", p->name ? p->name : "virtio-pci");
	rc = vpci_init(vp, p);
	if (rc) {
		if (rc != -EINVAL)
			log_error("%s: %s", vp->name, strerror(-rc));
		virtio_pci_destroy(vp);
		return rc;
	}
	pthread_mutex_lock(&vp->lock);
	vpci_reset(vp); /* power-on state: the same as after a driver's reset */
	pthread_mutex_unlock(&vp->lock);
	*out = vp;
	return 0;
}

void virtio_pci_destroy(struct virtio_pci *vp)
{
	if (!vp)
		return;
	pthread_mutex_lock(&vp->lock);
	if (vp->started)
		vp->ops->reset(vp->ctx);
	vp->started = false;
	for (uint16_t i = 0; vp->queues && i < vp->num_queues; i++)
		vpci_ioeventfd_off(vp, &vp->queues[i]);
	pthread_mutex_unlock(&vp->lock);
	msix_fini(&vp->msix); /* detaches the irqfds before their eventfds close */
	for (uint16_t i = 0; vp->queues && i < vp->num_queues; i++) {
		if (vp->queues[i].kick_fd >= 0)
			close(vp->queues[i].kick_fd);
		if (vp->queues[i].call_fd >= 0)
			close(vp->queues[i].call_fd);
	}
	free(vp->queues);
	pthread_mutex_destroy(&vp->lock);
	free(vp);
}

struct pci_dev *virtio_pci_dev(struct virtio_pci *vp)
{
	return &vp->pci;
}

void virtio_pci_config_changed(struct virtio_pci *vp)
{
	pthread_mutex_lock(&vp->lock);
	vp->config_generation++;
	vp->isr |= VIRTIO_ISR_CONFIG;
	msix_notify(&vp->msix, vp->msix_config);
	pthread_mutex_unlock(&vp->lock);
}

void virtio_pci_set_needs_reset(struct virtio_pci *vp)
{
	pthread_mutex_lock(&vp->lock);
	if (!(vp->status & VIRTIO_STATUS_NEEDS_RESET))
		vpci_needs_reset(vp, "its backend", -EPIPE);
	pthread_mutex_unlock(&vp->lock);
}
