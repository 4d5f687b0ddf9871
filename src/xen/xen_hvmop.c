/* hvm_op: HVM parameters (where xenstore and the console are, how events are delivered). */
#include <errno.h>
#include <string.h>

#include "xen/xen_hv.h"

/* HVM_PARAM_CALLBACK_IRQ: only the vector type is offered (XENFEAT_hvm_callback_vector). */
static int64_t xen_set_callback(struct xen_hv *hv, uint64_t value)
{
	struct kvm_xen_hvm_attr a = {.type = KVM_XEN_ATTR_TYPE_UPCALL_VECTOR};
	unsigned type = (unsigned)(value >> HVM_PARAM_CALLBACK_TYPE_SHIFT);
	int rc;

	if (value && type != HVM_PARAM_CALLBACK_TYPE_VECTOR)
		return -ENOSYS; /* GSI and PCI INTx callbacks: not emulated */
	if (value && (value & 0xff) < 0x10)
		return -EINVAL; /* exception vectors cannot carry events */
	a.u.vector = (uint8_t)(value & 0xff);
	rc = hv->ops->vm_attr(hv->ctx, &a);
	if (!rc)
		hv->params[HVM_PARAM_CALLBACK_IRQ] = value;
	return rc;
}

static int64_t xen_param(struct xen_hv *hv, unsigned self, uint64_t cmd, uint64_t arg)
{
	uint8_t b[XEN_HVM_PARAM_SIZE];
	uint16_t domid;
	uint32_t index;
	uint64_t value;

	if (xen_guest_read(hv, self, arg, b, sizeof(b)))
		return -EFAULT;
	memcpy(&domid, b, 2);
	memcpy(&index, b + 4, 4);
	memcpy(&value, b + 8, 8);
	if (domid != XEN_DOMID_SELF && domid != hv->p.domid)
		return -EPERM;
	if (index >= HVM_NR_PARAMS)
		return -EINVAL;
	if (cmd == HVMOP_get_param) {
		value = hv->params[index];
		return xen_guest_write(hv, self, arg + 8, &value, 8) ? -EFAULT : 0;
	}
	/* A guest may set its callback; the rest are the toolstack's (azote's). */
	if (index == HVM_PARAM_CALLBACK_IRQ)
		return xen_set_callback(hv, value);
	return -EPERM;
}

/* HVMOP_set_evtchn_upcall_vector: a per-vCPU vector instead of the global callback. */
static int64_t xen_upcall_vector(struct xen_hv *hv, unsigned self, uint64_t arg)
{
	struct kvm_xen_vcpu_attr a = {.type = KVM_XEN_VCPU_ATTR_TYPE_UPCALL_VECTOR};
	uint8_t b[XEN_UPCALL_VECTOR_SIZE];
	uint32_t vcpu;

	if (xen_guest_read(hv, self, arg, b, sizeof(b)))
		return -EFAULT;
	memcpy(&vcpu, b, 4);
	if (vcpu >= hv->p.ncpus)
		return -ENOENT;
	if (b[4] < 0x10)
		return -EINVAL;
	a.u.vector = b[4];
	return hv->ops->vcpu_attr(hv->ctx, self, vcpu, &a);
}

int64_t xen_hvm_op(struct xen_hv *hv, unsigned self, uint64_t cmd, uint64_t arg)
{
	switch (cmd) {
	case HVMOP_set_param:
	case HVMOP_get_param:
		return xen_param(hv, self, cmd, arg);
	case HVMOP_set_evtchn_upcall_vector:
		return xen_upcall_vector(hv, self, arg);
	default:
		/* pagetable_dying included: -ENOSYS tells Linux not to call it on every exit
		 * of a process (it only helps shadow paging, which KVM does not use). */
		return -ENOSYS;
	}
}
