/* KVM's Xen HVM support (KVM_CAP_XEN_HVM): the capability check, the VM-wide configuration,
 * and the per-vCPU attributes, which KVM takes only on a vCPU that is not in KVM_RUN: a request
 * for another vCPU is queued, that vCPU is kicked out of KVM_RUN, and its own thread applies it
 * before running the guest again (xen_kvm_pre_run). */
#ifndef AZOTE_XEN_XEN_KVM_H
#define AZOTE_XEN_XEN_KVM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "kvm/vcpu.h"

/* What --xen needs of KVM_CAP_XEN_HVM's flags. */
#define XEN_KVM_NEEDED                                                                            \
	(KVM_XEN_HVM_CONFIG_HYPERCALL_MSR | KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL |                 \
	 KVM_XEN_HVM_CONFIG_SHARED_INFO | KVM_XEN_HVM_CONFIG_RUNSTATE |                          \
	 KVM_XEN_HVM_CONFIG_EVTCHN_2LEVEL | KVM_XEN_HVM_CONFIG_EVTCHN_SEND)

#define XEN_KVM_PENDING_MAX 8

struct xen_kvm_vcpu {
	pthread_mutex_t lock;
	unsigned npending; /* also read without the lock by the vCPU's thread */
	struct kvm_xen_vcpu_attr pending[XEN_KVM_PENDING_MAX];
};

struct xen_kvm {
	int vm_fd;
	struct vcpu *vcpus; /* NULL until the vCPUs exist */
	unsigned nvcpus;
	bool running; /* the vCPU threads started: other vCPUs' attributes are queued */
	struct xen_kvm_vcpu *q;
};

/* Check that kvm_fd's KVM offers what --xen needs; logs one line naming what is missing.
 * 0 or -ENOTSUP. */
__attribute__((warn_unused_result)) int xen_kvm_check(int kvm_fd);

/* KVM_XEN_HVM_CONFIG (hypercall page MSR, hypercalls to userspace, in-kernel event sends), long
 * mode and the version KVM answers with. 0 or -errno (logged). */
__attribute__((warn_unused_result)) int xen_kvm_init(struct xen_kvm *k, int vm_fd, unsigned ncpus,
						     unsigned major, unsigned minor);
void xen_kvm_fini(struct xen_kvm *k);

/* The vCPUs exist (attributes for them can be set) / their threads run. */
void xen_kvm_set_vcpus(struct xen_kvm *k, struct vcpu *vcpus, unsigned n);
void xen_kvm_set_running(struct xen_kvm *k);

int xen_kvm_vm_attr(struct xen_kvm *k, const struct kvm_xen_hvm_attr *a);
int xen_kvm_vcpu_attr(struct xen_kvm *k, unsigned self, unsigned target,
		      const struct kvm_xen_vcpu_attr *a);
int xen_kvm_send(struct xen_kvm *k, uint32_t port, uint32_t vcpu);
int xen_kvm_translate(struct xen_kvm *k, unsigned self, uint64_t gva, uint64_t *gpa);
/* On vCPU index's thread before KVM_RUN: apply what other vCPUs queued for it. */
void xen_kvm_pre_run(struct xen_kvm *k, unsigned index);

#endif
