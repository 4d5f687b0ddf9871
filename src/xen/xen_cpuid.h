/* CPUID with --xen: Xen's leaves at 0x40000000 instead of KVM's, so that a guest finds Xen (and
 * not KVM) as its hypervisor: Linux picks the hypervisor whose signature sits at the highest
 * base, and KVM's leaves are removed altogether. */
#ifndef AZOTE_XEN_XEN_CPUID_H
#define AZOTE_XEN_XEN_CPUID_H

#include <linux/kvm.h>

/* Replace the 0x4000xxxx leaves of *cpuid (malloc'ed; may be reallocated) with Xen's for vCPU
 * index of domain domid, version major.minor. 0 or -ENOMEM. */
__attribute__((warn_unused_result)) int xen_cpuid_apply(struct kvm_cpuid2 **cpuid, unsigned index,
							unsigned domid, unsigned major,
							unsigned minor);

#endif
