#include "xen/xen_platform.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "xen/xen_abi.h"

static void xen_platform_bar_access(struct pci_dev *dev, unsigned bar, uint64_t offset,
				    uint8_t *data, uint32_t len, bool is_write)
{
	/* BAR 0 has no registers; BAR 1 is empty space until grant frames are mapped in it. */
	if (!is_write)
		memset(data, 0, len);
}

static void xen_platform_bar_moved(struct pci_dev *dev, unsigned bar)
{
}

static const struct pci_dev_ops xen_platform_ops = {
	.bar_access = xen_platform_bar_access,
	.bar_moved = xen_platform_bar_moved,
};

int xen_platform_create(struct xen_platform **out)
{
	struct pci_id id = {.vendor = XEN_PLATFORM_VENDOR,
			    .device = XEN_PLATFORM_DEVICE,
			    .subsys_vendor = XEN_PLATFORM_VENDOR,
			    .subsys = XEN_PLATFORM_DEVICE,
			    .revision = 1,
			    .class_code = XEN_PLATFORM_CLASS};
	struct xen_platform *p = calloc(1, sizeof(*p));
	int rc;

	if (!p)
		return -ENOMEM;
	pci_dev_init(&p->pci, &xen_platform_ops, &id, "xen-platform");
	rc = pci_dev_add_bar(&p->pci, 0, 256, 0);
	if (!rc)
		rc = pci_dev_add_bar(&p->pci, 1, XEN_PLATFORM_MEM_SIZE, PCI_BAR_PREFETCH);
	if (rc) {
		free(p);
		return rc;
	}
	*out = p;
	return 0;
}

void xen_platform_destroy(struct xen_platform *p)
{
	free(p);
}

void xen_platform_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct xen_platform *p = opaque;
	uint16_t v = 0;

	if (is_write) {
		/* Offset 0, 16 bits: the devices to unplug; 32 bits: the driver's version;
		 * offset 2: its product number. azote emulates no IDE disk or NIC to unplug. */
		if (offset == 0 && len == 2) {
			memcpy(&v, data, 2);
			p->unplugged |= v;
			log_debug("xen platform: guest unplugged emulated devices %#x", v);
		}
		return;
	}
	memset(data, 0xff, len);
	if (offset == 0 && len == 2) {
		v = XEN_IOPORT_MAGIC_VAL;
		memcpy(data, &v, 2);
	} else if (offset == 2 && len == 1) {
		data[0] = XEN_IOPORT_PROTOVER;
	}
}
