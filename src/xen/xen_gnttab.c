/* grant_table_op and the grant table itself (version 1 only). The guest maps the table's frames
 * where it wants them (XENMAPSPACE_grant_table): Linux puts them in the platform device's BAR
 * (HVM) or in unpopulated space above RAM (PVH); azote maps its own frame there. Backends resolve a grant reference through
 * xen_gnttab_lookup(), which checks the guest's entry before trusting it. */
#include <errno.h>
#include <string.h>

#include "xen/xen_hv.h"

int xen_gnttab_map_frame(struct xen_hv *hv, uint64_t idx, uint64_t gfn)
{
	bool ram;
	int rc;

	if (idx & XENMAPIDX_grant_table_status)
		return -EINVAL; /* status frames are version 2's */
	/* Below 2^52: the widest guest-physical address x86 has. */
	if (idx >= XEN_GNTTAB_MAX_FRAMES || gfn >= (1ull << (52 - XEN_PAGE_SHIFT)))
		return -EINVAL;
	ram = guest_mem_ptr(hv->mem, gfn << XEN_PAGE_SHIFT, XEN_PAGE_SIZE) != NULL;
	if (!ram && !hv->gnt_mem)
		return -EINVAL;
	for (unsigned i = 0; i < hv->gnt_nr_frames; i++)
		if (i != idx && hv->gnt_frame_mapped[i] && hv->gnt_frame_gfn[i] == gfn)
			return -EBUSY; /* two frames cannot share a page */
	if (hv->gnt_frame_slot[idx]) {
		hv->ops->map_page(hv->ctx, (unsigned)idx, 0, NULL);
		hv->gnt_frame_slot[idx] = false;
	}
	if (!ram) {
		rc = hv->ops->map_page(hv->ctx, (unsigned)idx, gfn << XEN_PAGE_SHIFT,
				       hv->gnt_mem + idx * XEN_PAGE_SIZE);
		if (rc) {
			hv->gnt_frame_mapped[idx] = false;
			return rc;
		}
		hv->gnt_frame_slot[idx] = true;
	}
	hv->gnt_frame_gfn[idx] = gfn;
	hv->gnt_frame_mapped[idx] = true;
	if (idx + 1 > hv->gnt_nr_frames)
		hv->gnt_nr_frames = (unsigned)idx + 1;
	return 0;
}

/* GNTTABOP_query_size: one 16-byte struct. */
static int64_t xen_gnt_query_size(struct xen_hv *hv, unsigned self, uint64_t arg)
{
	uint8_t b[16];
	uint16_t dom;
	int16_t status = GNTST_okay;
	uint32_t nr = hv->gnt_nr_frames, max = XEN_GNTTAB_MAX_FRAMES;

	if (xen_guest_read(hv, self, arg, b, sizeof(b)))
		return -EFAULT;
	memcpy(&dom, b, 2);
	if (dom != XEN_DOMID_SELF && dom != hv->p.domid)
		status = GNTST_bad_domain;
	memcpy(b + 4, &nr, 4);
	memcpy(b + 8, &max, 4);
	memcpy(b + 12, &status, 2);
	return xen_guest_write(hv, self, arg, b, sizeof(b)) ? -EFAULT : 0;
}

/* GNTTABOP_setup_table: the frames' gfns, for guests that ask rather than map. */
static int64_t xen_gnt_setup_table(struct xen_hv *hv, unsigned self, uint64_t arg)
{
	uint8_t b[24];
	uint16_t dom;
	uint32_t nr;
	uint64_t list;
	int16_t status = GNTST_okay;

	if (xen_guest_read(hv, self, arg, b, sizeof(b)))
		return -EFAULT;
	memcpy(&dom, b, 2);
	memcpy(&nr, b + 4, 4);
	memcpy(&list, b + 16, 8);
	if (dom != XEN_DOMID_SELF && dom != hv->p.domid)
		status = GNTST_bad_domain;
	else if (nr > XEN_GNTTAB_MAX_FRAMES)
		status = GNTST_general_error;
	for (uint32_t i = 0; status == GNTST_okay && i < nr; i++) {
		if (!hv->gnt_frame_mapped[i])
			status = GNTST_general_error; /* HVM guests must map frames first */
		else if (xen_guest_write(hv, self, list + 8ull * i, &hv->gnt_frame_gfn[i], 8))
			return -EFAULT;
	}
	memcpy(b + 8, &status, 2);
	return xen_guest_write(hv, self, arg + 8, b + 8, 2) ? -EFAULT : 0;
}

int64_t xen_gnttab_op(struct xen_hv *hv, unsigned self, uint64_t cmd, uint64_t arg,
		      uint64_t count)
{
	uint32_t v[2];
	int64_t rc = 0;

	/* The ops below take arrays of count structures; nobody needs more than a few. */
	if (count > 16)
		return -EINVAL;
	for (uint64_t i = 0; !rc && i < count; i++) {
		switch (cmd) {
		case GNTTABOP_query_size: rc = xen_gnt_query_size(hv, self, arg + 16 * i); break;
		case GNTTABOP_setup_table: rc = xen_gnt_setup_table(hv, self, arg + 24 * i); break;
		case GNTTABOP_set_version:
			if (xen_guest_read(hv, self, arg + 4 * i, v, 4))
				return -EFAULT;
			if (v[0] != 1)
				return -ENOSYS;
			break;
		case GNTTABOP_get_version:
			if (xen_guest_read(hv, self, arg + 8 * i, v, 8))
				return -EFAULT;
			v[1] = 1;
			rc = xen_guest_write(hv, self, arg + 8 * i + 4, &v[1], 4) ? -EFAULT : 0;
			break;
		default:
			/* map/unmap/copy/transfer are a backend's operations on others' grants. */
			return -ENOSYS;
		}
	}
	return rc;
}

int xen_gnttab_lookup(struct xen_hv *hv, uint32_t ref, bool writable, uint64_t *gfn)
{
	uint32_t frame = ref / XEN_GNT_PER_FRAME;
	uint8_t *e;
	uint16_t flags, domid;
	uint32_t target;
	int rc = 0;

	pthread_mutex_lock(&hv->lock);
	if (frame >= XEN_GNTTAB_MAX_FRAMES || !hv->gnt_frame_mapped[frame]) {
		pthread_mutex_unlock(&hv->lock);
		return -ENOENT;
	}
	e = xen_gpa_ptr(hv,
			(hv->gnt_frame_gfn[frame] << XEN_PAGE_SHIFT) +
				(uint64_t)(ref % XEN_GNT_PER_FRAME) * XEN_GNT_V1_SIZE,
			XEN_GNT_V1_SIZE);
	if (!e) {
		pthread_mutex_unlock(&hv->lock);
		return -ENOENT;
	}
	/* The guest may change the entry at any time: read each field once. */
	flags = __atomic_load_n((uint16_t *)e, __ATOMIC_ACQUIRE);
	memcpy(&domid, e + 2, 2);
	memcpy(&target, e + 4, 4);
	if ((flags & GTF_type_mask) != GTF_permit_access || domid != 0 ||
	    (writable && (flags & GTF_readonly)))
		rc = -EACCES;
	else if (!guest_mem_ptr(hv->mem, (uint64_t)target << XEN_PAGE_SHIFT, XEN_PAGE_SIZE))
		rc = -EACCES; /* a grant must name guest RAM */
	else
		*gfn = target;
	pthread_mutex_unlock(&hv->lock);
	return rc;
}
