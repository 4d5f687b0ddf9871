#include "kvm/kvm_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"

/* Capabilities the boot path cannot do without, with the words a user sees when one is missing. */
static const struct {
	int cap;
	const char *name;
} kvm_required_caps[] = {
	{KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP (in-kernel interrupt controllers)"},
	{KVM_CAP_PIT2, "KVM_CAP_PIT2 (in-kernel PIT)"},
	{KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
	{KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
	{KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
	{KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING"},
};

bool kvm_sys_host_has_hw_virt(void)
{
	char line[4096];
	bool found = false;
	FILE *f = fopen("/proc/cpuinfo", "re");

	if (!f)
		return true; /* cannot tell: do not warn */
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5))
			continue;
		found = strstr(line, " vmx") || strstr(line, " svm");
		break;
	}
	fclose(f);
	return found;
}

static int kvm_sys_check(struct kvm_sys *kvm, const char *path)
{
	int v = ioctl(kvm->fd, KVM_GET_API_VERSION, 0);

	if (v != KVM_API_VERSION) {
		log_error("%s: not a usable KVM device (API version %d, need %d)", path, v,
			  KVM_API_VERSION);
		return -ENODEV;
	}
	for (size_t i = 0; i < sizeof(kvm_required_caps) / sizeof(kvm_required_caps[0]); i++) {
		if (ioctl(kvm->fd, KVM_CHECK_EXTENSION, kvm_required_caps[i].cap) <= 0) {
			log_error("%s: KVM lacks %s", path, kvm_required_caps[i].name);
			return -ENOTSUP;
		}
	}
	kvm->run_size = ioctl(kvm->fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (kvm->run_size <= 0) {
		log_error("%s: KVM_GET_VCPU_MMAP_SIZE failed", path);
		return -ENODEV;
	}
	v = ioctl(kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (v <= 0)
		v = ioctl(kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	kvm->max_vcpus = v > 0 ? (unsigned)v : 4; /* api.rst: assume 4 when neither is reported */
	kvm->cpuid.tsc_deadline = ioctl(kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0;
	return 0;
}

int kvm_sys_open(struct kvm_sys *kvm, const char *path)
{
	struct stat st;
	int rc;

	*kvm = (struct kvm_sys){.fd = -1};
	kvm->fd = open(path, O_RDWR | O_CLOEXEC);
	if (kvm->fd < 0) {
		rc = -errno;
		if (rc == -ENOENT)
			log_error("%s: no such device: KVM is not available on this host (is the kvm "
				  "module loaded?)", path);
		else if (rc == -EACCES || rc == -EPERM)
			log_error("%s: permission denied (add the user to the 'kvm' group or run as "
				  "root)", path);
		else
			log_error("%s: cannot open: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(kvm->fd, &st) < 0 || !S_ISCHR(st.st_mode)) {
		log_error("%s: not a KVM device (not a character device)", path);
		kvm_sys_close(kvm);
		return -ENODEV;
	}
	rc = kvm_sys_check(kvm, path);
	if (rc) {
		kvm_sys_close(kvm);
		return rc;
	}
	kvm->hw_virt = kvm_sys_host_has_hw_virt();
	return 0;
}

void kvm_sys_close(struct kvm_sys *kvm)
{
	if (kvm->fd >= 0)
		close(kvm->fd);
	kvm->fd = -1;
}
