/* The Xen platform PCI device (vendor 0x5853, device 0x0001, class 0xff80) and the emulated-
 * device unplug protocol at I/O port 0x10 (docs/misc/hvm-emulated-unplug in Xen). Linux's
 * xen-platform-pci driver binds the device, maps its grant table's frames into the device's
 * memory BAR (XENMAPSPACE_grant_table: azote backs each frame where it is mapped, see
 * xen_gnttab.c) and lets the PV frontends probe; the unplug handshake is what makes Linux
 * consider PV devices usable at all.
 *
 * BAR 0 is a small register BAR that nothing accesses (Linux only needs it present: azote's PCI
 * host has no I/O window, so it is a memory BAR where Xen's is I/O). BAR 1 (16 MiB) is address
 * space for the guest to map grant frames into; unmapped parts read as zeros. */
#ifndef AZOTE_XEN_XEN_PLATFORM_H
#define AZOTE_XEN_XEN_PLATFORM_H

#include <stdbool.h>
#include <stdint.h>

#include "pci/pci_dev.h"

#define XEN_PLATFORM_NPORTS   4
#define XEN_PLATFORM_MEM_SIZE (16u << 20)

struct xen_platform {
	struct pci_dev pci;
	uint16_t unplugged; /* what the guest asked to unplug (bit 0 IDE disks, 1 NICs...) */
};

/* Create the device (not yet on a bus). 0 or -errno. */
__attribute__((warn_unused_result)) int xen_platform_create(struct xen_platform **out);
/* Free it. Accepts NULL. */
void xen_platform_destroy(struct xen_platform *p);
/* Port I/O handler for ports XEN_IOPORT_BASE..+XEN_PLATFORM_NPORTS. */
void xen_platform_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

#endif
