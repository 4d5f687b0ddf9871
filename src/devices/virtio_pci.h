/* The virtio-pci transport, modern interface only (virtio 1.2 section 4.1): a PCI function
 * (vendor 0x1af4, device 0x1040 + virtio device ID, revision 1) whose registers forward the
 * driver's choices to a struct virtio_backend_ops (a vhost-user frontend in azote).
 *
 * BAR 0, 64-bit, 32 KiB, one 4 KiB page per structure:
 *   0x0000 common configuration   0x3000 notifications: queue n at 0x3000 + 4 n
 *   0x1000 ISR status             0x4000 MSI-X table (one vector per queue, plus config)
 *   0x2000 device configuration   0x5000 MSI-X PBA
 * Capabilities: MSI-X, then the virtio COMMON, NOTIFY (multiplier 4), ISR, DEVICE and PCI_CFG
 * structures. No INTx: interrupts are MSI-X only (no _PRT in ACPI, interrupt pin 0).
 *
 * The transport owns two eventfds per queue. Kick: a KVM ioeventfd on the queue's notify
 * address whenever BAR 0 decodes, so a guest notification never exits to azote (a write the
 * ioeventfd does not match exits and is forwarded by hand). Call: bound to the queue's MSI-X
 * vector (irqfd, see msix.h) from DRIVER_OK until reset. Both go to ops->start.
 *
 * Every register access is guest-controlled: any offset, any length, any alignment. None can
 * crash the VMM or reach outside the transport's state. A mutex per device serialises vCPUs.
 */
#ifndef AZOTE_DEVICES_VIRTIO_PCI_H
#define AZOTE_DEVICES_VIRTIO_PCI_H

#include <stdint.h>

#include "devices/virtio_backend.h"
#include "kvm/irq.h"
#include "pci/pci_dev.h"

#define VIRTIO_PCI_VENDOR      0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040
#define VIRTIO_PCI_MAX_QUEUES  255 /* one MSI-X table page; notify ioeventfds per VM stay few */

struct virtio_pci;

struct virtio_pci_params {
	const struct virtio_backend_ops *ops;
	void *ctx;	     /* passed to every op */
	struct kvm_irq *irq; /* the VM's interrupt plumbing */
	const char *name;    /* for messages: "virtio-blk (disk vda)" */
};

/* Build the PCI function for the device behind p->ops (queried for its ID, features and queues
 * here). Add it to the bus with pci_host_add(host, virtio_pci_dev(vp), &slot). 0 or -errno. */
__attribute__((warn_unused_result)) int virtio_pci_create(struct virtio_pci **out,
							  const struct virtio_pci_params *p);
/* Reset the backend if it was started, detach irqfds and ioeventfds, close the eventfds. Call
 * once no vCPU runs and the event loop is stopped. Accepts NULL. */
void virtio_pci_destroy(struct virtio_pci *vp);

/* The PCI function, for pci_host_add(). */
struct pci_dev *virtio_pci_dev(struct virtio_pci *vp);

/* The device configuration changed (e.g. a disk was resized): bump config_generation and raise
 * the configuration interrupt. Any thread. */
void virtio_pci_config_changed(struct virtio_pci *vp);
/* The backend failed (its process died): set DEVICE_NEEDS_RESET and tell the driver. Any
 * thread. */
void virtio_pci_set_needs_reset(struct virtio_pci *vp);

#endif
