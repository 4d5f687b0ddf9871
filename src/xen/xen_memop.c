/* memory_op: where the guest maps shared_info and grant frames, its memory map and sizes.
 * Ballooning is not offered (azote's guests keep the RAM they boot with). */
#include <errno.h>
#include <string.h>

#include "xen/xen_hv.h"

static bool xen_is_self(const struct xen_hv *hv, uint16_t domid)
{
	return domid == XEN_DOMID_SELF || domid == hv->p.domid;
}

static int64_t xen_add_to_physmap(struct xen_hv *hv, unsigned self, uint64_t arg)
{
	uint8_t b[XEN_ATP_SIZE];
	uint16_t domid;
	uint32_t space;
	uint64_t idx, gpfn;

	if (xen_guest_read(hv, self, arg, b, sizeof(b)))
		return -EFAULT;
	memcpy(&domid, b, 2);
	memcpy(&space, b + 4, 4);
	memcpy(&idx, b + 8, 8);
	memcpy(&gpfn, b + 16, 8);
	if (!xen_is_self(hv, domid))
		return -EPERM;
	switch (space) {
	case XENMAPSPACE_shared_info:
		return idx ? -EINVAL : xen_shinfo_map(hv, self, gpfn);
	case XENMAPSPACE_grant_table:
		return xen_gnttab_map_frame(hv, idx, gpfn);
	default:
		return -ENOSYS;
	}
}

/* XENMEM_memory_map: copy as many e820 entries as the guest has room for. */
static int64_t xen_memory_map(struct xen_hv *hv, unsigned self, uint64_t arg)
{
	uint8_t b[XEN_MEMMAP_SIZE];
	uint32_t room, n;
	uint64_t buf;

	if (xen_guest_read(hv, self, arg, b, sizeof(b)))
		return -EFAULT;
	memcpy(&room, b, 4);
	memcpy(&buf, b + 8, 8);
	n = room < hv->p.ne820 ? room : hv->p.ne820;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t e[XEN_E820_ENTRY_SIZE];

		memcpy(e, &hv->p.e820[i].addr, 8);
		memcpy(e + 8, &hv->p.e820[i].size, 8);
		memcpy(e + 16, &hv->p.e820[i].type, 4);
		if (xen_guest_write(hv, self, buf + (uint64_t)i * sizeof(e), e, sizeof(e)))
			return -EFAULT;
	}
	return xen_guest_write(hv, self, arg, &n, 4) ? -EFAULT : 0;
}

/* The guest's RAM in pages, and its highest RAM page frame. */
static uint64_t xen_ram_pages(const struct xen_hv *hv)
{
	return hv->mem->size >> XEN_PAGE_SHIFT;
}

static uint64_t xen_max_gpfn(const struct xen_hv *hv)
{
	uint64_t top = 0;

	for (unsigned i = 0; i < hv->mem->nregions; i++) {
		uint64_t end = hv->mem->regions[i].gpa + hv->mem->regions[i].size;

		if (end > top)
			top = end;
	}
	return top ? (top >> XEN_PAGE_SHIFT) - 1 : 0;
}

int64_t xen_memory_op(struct xen_hv *hv, unsigned self, uint64_t cmd, uint64_t arg)
{
	uint16_t domid;

	switch (cmd & XENMEM_CMD_MASK) {
	case XENMEM_add_to_physmap:
		return xen_add_to_physmap(hv, self, arg);
	case XENMEM_memory_map:
		return xen_memory_map(hv, self, arg);
	case XENMEM_current_reservation:
	case XENMEM_maximum_reservation:
	case XENMEM_maximum_gpfn:
		if (xen_guest_read(hv, self, arg, &domid, sizeof(domid)))
			return -EFAULT;
		if (!xen_is_self(hv, domid))
			return -EPERM;
		return (int64_t)((cmd & XENMEM_CMD_MASK) == XENMEM_maximum_gpfn ? xen_max_gpfn(hv)
									     : xen_ram_pages(hv));
	case XENMEM_maximum_ram_page:
		return (int64_t)xen_max_gpfn(hv);
	case XENMEM_remove_from_physmap:
		return 0; /* the page simply stops being special to us */
	default:
		/* increase/decrease_reservation, populate_physmap (ballooning), and the rest. */
		return -ENOSYS;
	}
}
