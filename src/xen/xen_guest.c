/* Guest memory as the hypercall handlers see it: guest virtual addresses (what HVM guests pass)
 * translated page by page, RAM and the platform BAR, every range checked. */
#include <errno.h>
#include <string.h>

#include "xen/xen_hv.h"

void *xen_gpa_ptr(struct xen_hv *hv, uint64_t gpa, uint64_t len)
{
	void *p = guest_mem_ptr(hv->mem, gpa, len);

	if (p)
		return p;
	/* A grant frame azote mapped outside RAM; ranges never span two frames. */
	for (unsigned i = 0; hv->gnt_mem && i < hv->gnt_nr_frames; i++) {
		uint64_t base = hv->gnt_frame_gfn[i] << XEN_PAGE_SHIFT;

		if (hv->gnt_frame_slot[i] && gpa >= base && gpa - base < XEN_PAGE_SIZE &&
		    len <= XEN_PAGE_SIZE - (gpa - base))
			return hv->gnt_mem + (uint64_t)i * XEN_PAGE_SIZE + (gpa - base);
	}
	return NULL;
}

/* Walk [gva, gva+len) one page at a time; fn copies each piece. */
static int xen_guest_copy(struct xen_hv *hv, unsigned self, uint64_t gva, uint8_t *buf,
			  uint64_t len, bool to_guest)
{
	while (len) {
		uint64_t in_page = XEN_PAGE_SIZE - (gva & (XEN_PAGE_SIZE - 1));
		uint64_t n = len < in_page ? len : in_page;
		uint64_t gpa;
		uint8_t *p;

		if (hv->ops->translate(hv->ctx, self, gva, &gpa))
			return -EFAULT;
		p = xen_gpa_ptr(hv, gpa, n);
		if (!p)
			return -EFAULT;
		if (to_guest)
			memcpy(p, buf, n);
		else
			memcpy(buf, p, n);
		gva += n;
		buf += n;
		len -= n;
	}
	return 0;
}

int xen_guest_read(struct xen_hv *hv, unsigned self, uint64_t gva, void *buf, uint64_t len)
{
	return xen_guest_copy(hv, self, gva, buf, len, false);
}

int xen_guest_write(struct xen_hv *hv, unsigned self, uint64_t gva, const void *buf, uint64_t len)
{
	return xen_guest_copy(hv, self, gva, (uint8_t *)buf, len, true);
}

int xen_shinfo_map(struct xen_hv *hv, unsigned self, uint64_t gfn)
{
	struct kvm_xen_hvm_attr a = {.type = KVM_XEN_ATTR_TYPE_SHARED_INFO};
	int rc;

	if (gfn > (UINT64_MAX >> XEN_PAGE_SHIFT) ||
	    !guest_mem_ptr(hv->mem, gfn << XEN_PAGE_SHIFT, XEN_PAGE_SIZE))
		return -EINVAL;
	a.u.shared_info.gfn = gfn;
	rc = hv->ops->vm_attr(hv->ctx, &a);
	if (rc)
		return rc;
	hv->shinfo_gfn = gfn;
	hv->shinfo_mapped = true;
	/* Until a vCPU registers its own vcpu_info, it uses slot i of shared_info; KVM needs to
	 * be told where that is to deliver events and keep the pvclock. */
	for (unsigned i = 0; i < hv->p.ncpus && i < XEN_LEGACY_MAX_VCPUS; i++) {
		struct kvm_xen_vcpu_attr v = {.type = KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO};

		if (hv->vcpu_info_placed[i])
			continue;
		v.u.gpa = (gfn << XEN_PAGE_SHIFT) + (uint64_t)i * XEN_VCPU_INFO_SIZE;
		rc = hv->ops->vcpu_attr(hv->ctx, self, i, &v);
		if (rc)
			return rc;
	}
	return 0;
}
