/* The host's /dev/kvm: opening it, its version and the capabilities azote relies on. */
#ifndef AZOTE_KVM_KVM_SYS_H
#define AZOTE_KVM_KVM_SYS_H

#include <stdbool.h>

#include "arch/x86/cpuid.h"

struct kvm_sys {
	int fd;
	int run_size;        /* size of each vCPU's kvm_run mapping */
	unsigned max_vcpus;  /* KVM_CAP_MAX_VCPUS */
	bool hw_virt;        /* the host CPU has VT-x or AMD-V (not PVM or emulation only) */
	struct cpuid_host cpuid; /* what CPUID may offer beyond KVM's supported list */
};

/* Open path (normally /dev/kvm), check the API version and required capabilities. Logs a
 * user-facing reason and returns -errno on failure. */
__attribute__((warn_unused_result)) int kvm_sys_open(struct kvm_sys *kvm, const char *path);
/* Close the fd; accepts a kvm_sys whose open failed. */
void kvm_sys_close(struct kvm_sys *kvm);
/* True when /proc/cpuinfo shows vmx or svm: KVM then runs guests at native speed. */
bool kvm_sys_host_has_hw_virt(void);

#endif
