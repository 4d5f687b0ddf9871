#include "xen/xen_kvm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "util/log.h"
#include "xen/xen_abi.h"

static const struct {
	unsigned flag;
	const char *name;
} xen_kvm_flags[] = {
	{KVM_XEN_HVM_CONFIG_HYPERCALL_MSR, "KVM_XEN_HVM_CONFIG_HYPERCALL_MSR"},
	{KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL, "KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL"},
	{KVM_XEN_HVM_CONFIG_SHARED_INFO, "KVM_XEN_HVM_CONFIG_SHARED_INFO"},
	{KVM_XEN_HVM_CONFIG_RUNSTATE, "KVM_XEN_HVM_CONFIG_RUNSTATE"},
	{KVM_XEN_HVM_CONFIG_EVTCHN_2LEVEL, "KVM_XEN_HVM_CONFIG_EVTCHN_2LEVEL"},
	{KVM_XEN_HVM_CONFIG_EVTCHN_SEND, "KVM_XEN_HVM_CONFIG_EVTCHN_SEND"},
};

int xen_kvm_check(int kvm_fd)
{
	int caps = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XEN_HVM);

	if (caps <= 0) {
		log_error("--xen: this host's KVM lacks KVM_CAP_XEN_HVM (Xen HVM guest support; "
			  "Linux 5.12+ built with CONFIG_KVM_XEN)");
		return -ENOTSUP;
	}
	for (size_t i = 0; i < sizeof(xen_kvm_flags) / sizeof(xen_kvm_flags[0]); i++) {
		if (!(caps & xen_kvm_flags[i].flag)) {
			log_error("--xen: this host's KVM_CAP_XEN_HVM (%#x) lacks %s", caps,
				  xen_kvm_flags[i].name);
			return -ENOTSUP;
		}
	}
	return 0;
}

int xen_kvm_init(struct xen_kvm *k, int vm_fd, unsigned ncpus, unsigned major, unsigned minor)
{
	struct kvm_xen_hvm_config cfg = {
		.flags = KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL | KVM_XEN_HVM_CONFIG_EVTCHN_SEND,
		.msr = XEN_HCALL_MSR,
	};
	struct kvm_xen_hvm_attr lm = {.type = KVM_XEN_ATTR_TYPE_LONG_MODE, .u.long_mode = 1};
	struct kvm_xen_hvm_attr ver = {.type = KVM_XEN_ATTR_TYPE_XEN_VERSION,
				       .u.xen_version = (major << 16) | (minor & 0xffff)};

	memset(k, 0, sizeof(*k));
	k->vm_fd = vm_fd;
	k->q = calloc(ncpus, sizeof(*k->q));
	if (!k->q)
		return -ENOMEM;
	for (unsigned i = 0; i < ncpus; i++)
		pthread_mutex_init(&k->q[i].lock, NULL);
	k->nvcpus = ncpus;
	if (ioctl(vm_fd, KVM_XEN_HVM_CONFIG, &cfg) < 0) {
		log_error("--xen: KVM_XEN_HVM_CONFIG: %s", strerror(errno));
		return -errno;
	}
	/* 64-bit guests only: the layouts of shared_info and vcpu_info depend on it. */
	if (ioctl(vm_fd, KVM_XEN_HVM_SET_ATTR, &lm) < 0 ||
	    ioctl(vm_fd, KVM_XEN_HVM_SET_ATTR, &ver) < 0) {
		log_error("--xen: KVM_XEN_HVM_SET_ATTR: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

void xen_kvm_fini(struct xen_kvm *k)
{
	if (!k->q)
		return;
	for (unsigned i = 0; i < k->nvcpus; i++)
		pthread_mutex_destroy(&k->q[i].lock);
	free(k->q);
	k->q = NULL;
}

void xen_kvm_set_vcpus(struct xen_kvm *k, struct vcpu *vcpus, unsigned n)
{
	k->vcpus = vcpus;
	if (n < k->nvcpus)
		k->nvcpus = n;
	/* The Xen vCPU id KVM checks in the vcpu_op hypercalls it runs itself (timers) must be
	 * the one CPUID leaf 0x40000004 gives the guest: the vCPU's index. */
	for (unsigned i = 0; i < k->nvcpus; i++) {
		struct kvm_xen_vcpu_attr a = {.type = KVM_XEN_VCPU_ATTR_TYPE_VCPU_ID,
					      .u.vcpu_id = i};

		if (ioctl(vcpus[i].fd, KVM_XEN_VCPU_SET_ATTR, &a) < 0)
			log_warn("vCPU %u: KVM_XEN_VCPU_ATTR_TYPE_VCPU_ID: %s", i, strerror(errno));
	}
}

void xen_kvm_set_running(struct xen_kvm *k)
{
	__atomic_store_n(&k->running, true, __ATOMIC_RELEASE);
}

int xen_kvm_vm_attr(struct xen_kvm *k, const struct kvm_xen_hvm_attr *a)
{
	return ioctl(k->vm_fd, KVM_XEN_HVM_SET_ATTR, a) < 0 ? -errno : 0;
}

int xen_kvm_vcpu_attr(struct xen_kvm *k, unsigned self, unsigned target,
		      const struct kvm_xen_vcpu_attr *a)
{
	struct xen_kvm_vcpu *q;
	int rc = 0;

	if (!k->vcpus || target >= k->nvcpus)
		return -ENOENT;
	if (self == target || !__atomic_load_n(&k->running, __ATOMIC_ACQUIRE))
		return ioctl(k->vcpus[target].fd, KVM_XEN_VCPU_SET_ATTR, a) < 0 ? -errno : 0;
	q = &k->q[target];
	pthread_mutex_lock(&q->lock);
	if (q->npending == XEN_KVM_PENDING_MAX)
		rc = -EBUSY;
	else
		q->pending[q->npending++] = *a;
	pthread_mutex_unlock(&q->lock);
	if (!rc)
		vcpu_poke(&k->vcpus[target]);
	return rc;
}

void xen_kvm_pre_run(struct xen_kvm *k, unsigned index)
{
	struct xen_kvm_vcpu *q = &k->q[index];

	if (!__atomic_load_n(&q->npending, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&q->lock);
	for (unsigned i = 0; i < q->npending; i++)
		if (ioctl(k->vcpus[index].fd, KVM_XEN_VCPU_SET_ATTR, &q->pending[i]) < 0)
			log_warn("vCPU %u: KVM_XEN_VCPU_SET_ATTR type %u: %s", index,
				 q->pending[i].type, strerror(errno));
	__atomic_store_n(&q->npending, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&q->lock);
}

int xen_kvm_send(struct xen_kvm *k, uint32_t port, uint32_t vcpu)
{
	struct kvm_irq_routing_xen_evtchn e = {
		.port = port, .vcpu = vcpu, .priority = KVM_IRQ_ROUTING_XEN_EVTCHN_PRIO_2LEVEL};

	return ioctl(k->vm_fd, KVM_XEN_HVM_EVTCHN_SEND, &e) < 0 ? -errno : 0;
}

int xen_kvm_translate(struct xen_kvm *k, unsigned self, uint64_t gva, uint64_t *gpa)
{
	struct kvm_translation t = {.linear_address = gva};

	if (!k->vcpus || self >= k->nvcpus ||
	    ioctl(k->vcpus[self].fd, KVM_TRANSLATE, &t) < 0 || !t.valid)
		return -EFAULT;
	*gpa = t.physical_address;
	return 0;
}
