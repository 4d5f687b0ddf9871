/* Hypercall dispatch, and the small families: xen_version, sched_op, vcpu_op. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xen/xen_hv.h"

int xen_hv_init(struct xen_hv *hv, const struct xen_hv_params *p, const struct xen_hv_ops *ops,
		void *ctx, const struct guest_mem *mem)
{
	memset(hv, 0, sizeof(*hv));
	hv->p = *p;
	hv->ops = ops;
	hv->ctx = ctx;
	hv->mem = mem;
	hv->vcpu_info_placed = calloc(p->ncpus ? p->ncpus : 1, sizeof(bool));
	if (!hv->vcpu_info_placed)
		return -ENOMEM;
	pthread_mutex_init(&hv->lock, NULL);
	return 0;
}

void xen_hv_fini(struct xen_hv *hv)
{
	if (!hv->vcpu_info_placed)
		return;
	free(hv->vcpu_info_placed);
	hv->vcpu_info_placed = NULL;
	pthread_mutex_destroy(&hv->lock);
}

int64_t xen_hcall_dispatch(struct xen_hv *hv, unsigned self, uint64_t nr, const uint64_t a[6])
{
	int64_t rc;

	pthread_mutex_lock(&hv->lock);
	switch (nr) {
	case XEN_HC_xen_version: rc = xen_version_op(hv, self, a[0], a[1]); break;
	case XEN_HC_memory_op: rc = xen_memory_op(hv, self, a[0], a[1]); break;
	case XEN_HC_hvm_op: rc = xen_hvm_op(hv, self, a[0], a[1]); break;
	case XEN_HC_event_channel_op: rc = xen_evtchn_op(hv, self, a[0], a[1]); break;
	case XEN_HC_grant_table_op: rc = xen_gnttab_op(hv, self, a[0], a[1], a[2]); break;
	case XEN_HC_vcpu_op: rc = xen_vcpu_op(hv, self, a[0], a[1], a[2]); break;
	case XEN_HC_sched_op: rc = xen_sched_op(hv, self, a[0], a[1]); break;
	case XEN_HC_console_io:
		/* CONSOLEIO_write from a domU: Xen drops it unless debugging; so do we. */
		rc = a[0] == 0 ? (int64_t)(a[1] & 0xffff) : -ENOSYS;
		break;
	default:
		/* physdev_op, multicall, set_timer_op without a bound timer, platform and
		 * privileged operations: not for an HVM domU here. */
		rc = -ENOSYS;
		break;
	}
	pthread_mutex_unlock(&hv->lock);
	return rc;
}

/* Write a NUL-padded string into a fixed-size guest buffer. */
static int64_t xen_put_string(struct xen_hv *hv, unsigned self, uint64_t arg, const char *s,
			      size_t size)
{
	char buf[1024] = {0};

	strncpy(buf, s, size - 1);
	return xen_guest_write(hv, self, arg, buf, size) ? -EFAULT : 0;
}

int64_t xen_version_op(struct xen_hv *hv, unsigned self, uint64_t cmd, uint64_t arg)
{
	uint8_t buf[XEN_COMPILE_INFO_SIZE] = {0};
	uint32_t fi[2];
	uint64_t v;

	switch (cmd) {
	case XENVER_version:
		return (int64_t)((hv->p.major << 16) | (hv->p.minor & 0xffff));
	case XENVER_extraversion:
		return xen_put_string(hv, self, arg, ".0", 16);
	case XENVER_compile_info:
		memcpy(buf, "azote", 5);
		return xen_guest_write(hv, self, arg, buf, sizeof(buf)) ? -EFAULT : 0;
	case XENVER_capabilities:
		return xen_put_string(hv, self, arg, "hvm-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p",
				      1024);
	case XENVER_changeset:
		return xen_put_string(hv, self, arg, "azote", 64);
	case XENVER_platform_parameters:
		v = 0xffff800000000000ull; /* x86_64 HYPERVISOR_VIRT_START */
		return xen_guest_write(hv, self, arg, &v, sizeof(v)) ? -EFAULT : 0;
	case XENVER_get_features:
		if (xen_guest_read(hv, self, arg, fi, sizeof(fi)))
			return -EFAULT;
		fi[1] = fi[0] ? 0
			      : (1u << XENFEAT_writable_page_tables) |
					(1u << XENFEAT_auto_translated_physmap) |
					(1u << XENFEAT_supervisor_mode_kernel) |
					(1u << XENFEAT_hvm_callback_vector) |
					(1u << XENFEAT_hvm_safe_pvclock);
		return xen_guest_write(hv, self, arg, fi, sizeof(fi)) ? -EFAULT : 0;
	case XENVER_pagesize:
		return XEN_PAGE_SIZE;
	case XENVER_guest_handle:
		return xen_guest_write(hv, self, arg, buf, 16) ? -EFAULT : 0;
	case XENVER_commandline:
		return xen_put_string(hv, self, arg, "", 1024);
	default:
		return -ENOSYS;
	}
}

int64_t xen_sched_op(struct xen_hv *hv, unsigned self, uint64_t cmd, uint64_t arg)
{
	uint32_t reason;

	switch (cmd) {
	case SCHEDOP_yield:
	case SCHEDOP_block:
	case SCHEDOP_poll: /* KVM polls in the kernel; one that reaches us wakes at once */
		return 0;
	case SCHEDOP_shutdown:
	case SCHEDOP_shutdown_code:
		if (xen_guest_read(hv, self, arg, &reason, sizeof(reason)))
			return -EFAULT;
		if (cmd == SCHEDOP_shutdown_code)
			return 0; /* the code of a later shutdown: nothing to remember */
		if (reason != SHUTDOWN_poweroff && reason != SHUTDOWN_reboot &&
		    reason != SHUTDOWN_crash && reason != SHUTDOWN_watchdog)
			return -EINVAL; /* suspend and soft reset: not supported */
		hv->ops->shutdown(hv->ctx, reason);
		return 0;
	default:
		return -ENOSYS;
	}
}

/* VCPUOP_register_vcpu_info: the guest moves vCPU vcpu's vcpu_info into its own memory. */
static int64_t xen_vcpu_info(struct xen_hv *hv, unsigned self, unsigned vcpu, uint64_t arg)
{
	struct kvm_xen_vcpu_attr a = {.type = KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO};
	uint8_t info[16];
	uint64_t mfn;
	uint32_t offset;
	int rc;

	if (xen_guest_read(hv, self, arg, info, sizeof(info)))
		return -EFAULT;
	memcpy(&mfn, info, 8);
	memcpy(&offset, info + 8, 4);
	if (hv->vcpu_info_placed[vcpu])
		return -EINVAL; /* once per vCPU, as in Xen */
	if (offset > XEN_PAGE_SIZE - XEN_VCPU_INFO_SIZE || mfn > (UINT64_MAX >> XEN_PAGE_SHIFT))
		return -EINVAL;
	a.u.gpa = (mfn << XEN_PAGE_SHIFT) + offset;
	if (!guest_mem_ptr(hv->mem, a.u.gpa, XEN_VCPU_INFO_SIZE))
		return -EINVAL;
	rc = hv->ops->vcpu_attr(hv->ctx, self, vcpu, &a);
	if (rc)
		return rc;
	hv->vcpu_info_placed[vcpu] = true;
	return 0;
}

/* VCPUOP_register_runstate_memory_area and _vcpu_time_memory_area (a second pvclock copy, for
 * the vDSO): arg holds a guest virtual address (0: stop). */
static int64_t xen_vcpu_area(struct xen_hv *hv, unsigned self, unsigned vcpu, uint64_t arg,
			     uint16_t type)
{
	struct kvm_xen_vcpu_attr a = {.type = type};
	uint64_t gva, gpa;

	if (xen_guest_read(hv, self, arg, &gva, sizeof(gva)))
		return -EFAULT;
	if (!gva) {
		a.u.gpa = ~0ull; /* KVM_XEN_INVALID_GPA */
		return hv->ops->vcpu_attr(hv->ctx, self, vcpu, &a);
	}
	/* vcpu_runstate_info (48 bytes) or vcpu_time_info (32): guest RAM. */
	if (hv->ops->translate(hv->ctx, self, gva, &gpa) || !guest_mem_ptr(hv->mem, gpa, 1))
		return -EFAULT;
	a.u.gpa = gpa;
	return hv->ops->vcpu_attr(hv->ctx, self, vcpu, &a);
}

int64_t xen_vcpu_op(struct xen_hv *hv, unsigned self, uint64_t cmd, uint64_t vcpu, uint64_t arg)
{
	if (vcpu >= hv->p.ncpus)
		return -ENOENT;
	switch (cmd) {
	case VCPUOP_is_up:
		return 1; /* every vCPU exists from the start (INIT/SIPI bring them up) */
	case VCPUOP_register_vcpu_info:
		return xen_vcpu_info(hv, self, (unsigned)vcpu, arg);
	case VCPUOP_register_runstate_memory_area:
	case VCPUOP_register_vcpu_time_memory_area:
		return xen_vcpu_area(hv, self, (unsigned)vcpu, arg,
				     cmd == VCPUOP_register_runstate_memory_area
					     ? KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR
					     : KVM_XEN_VCPU_ATTR_TYPE_VCPU_TIME_INFO);
	case VCPUOP_stop_periodic_timer:
	case VCPUOP_stop_singleshot_timer:
		/* No periodic timer exists; a singleshot one that reaches us was never armed in
		 * KVM (no VIRQ_TIMER port yet). */
		return 0;
	default:
		/* set_singleshot_timer without a bound VIRQ_TIMER, periodic timers, up/down. */
		return -ENOSYS;
	}
}
