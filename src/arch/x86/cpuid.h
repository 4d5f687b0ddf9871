/* CPUID the guest sees: the host KVM's supported set, shaped for one vCPU of an N-CPU VM. */
#ifndef AZOTE_ARCH_X86_CPUID_H
#define AZOTE_ARCH_X86_CPUID_H

#include <linux/kvm.h>

#include <stdbool.h>

/* Host facts that change the guest's CPUID beyond what KVM_GET_SUPPORTED_CPUID says. */
struct cpuid_host {
	bool tsc_deadline; /* KVM_CAP_TSC_DEADLINE_TIMER: KVM emulates it but does not report it */
};

/* Rewrite entries[0..n) for vCPU `index` of `ncpus`: APIC ID and topology (one socket, ncpus
 * cores, one thread each), the hypervisor bit, TSC-deadline timer, no PMU. Pure: touches only
 * the array. */
void cpuid_shape(struct kvm_cpuid_entry2 *entries, unsigned n, unsigned index, unsigned ncpus,
		 const struct cpuid_host *host);

/* Fetch KVM_GET_SUPPORTED_CPUID into a newly allocated kvm_cpuid2 (free() it). 0 or -errno. */
__attribute__((warn_unused_result)) int cpuid_supported(int kvm_fd, struct kvm_cpuid2 **out);

#endif
