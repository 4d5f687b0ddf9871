#include "config/vm_config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Human form of a byte count for messages: "24 GiB", "512 MiB". */
static void size_text(uint64_t bytes, char *buf, size_t len)
{
	if (bytes >= (1ull << 30) && !(bytes & ((1ull << 30) - 1)))
		snprintf(buf, len, "%llu GiB", (unsigned long long)(bytes >> 30));
	else
		snprintf(buf, len, "%llu MiB", (unsigned long long)(bytes >> 20));
}

int vm_config_validate(const struct vm_config *cfg, struct config_error *err)
{
	char a[32];

	if (!cfg->kernel_path || !cfg->kernel_path[0]) {
		snprintf(err->msg, sizeof(err->msg), "--kernel PATH is required (see --help)");
		return -EINVAL;
	}
	if (cfg->cpus == 0) {
		snprintf(err->msg, sizeof(err->msg), "--cpus 0: a VM needs at least one vCPU");
		return -EINVAL;
	}
	if (cfg->cpus > VM_CONFIG_MAX_CPUS) {
		snprintf(err->msg, sizeof(err->msg), "--cpus %u: azote supports at most %d vCPUs",
			 cfg->cpus, VM_CONFIG_MAX_CPUS);
		return -EINVAL;
	}
	if (cfg->mem_bytes < VM_CONFIG_MIN_MEM) {
		size_text(VM_CONFIG_MIN_MEM, a, sizeof(a));
		snprintf(err->msg, sizeof(err->msg), "--mem: %llu bytes is too small (minimum %s)",
			 (unsigned long long)cfg->mem_bytes, a);
		return -EINVAL;
	}
	if (cfg->mem_bytes & 0xfff) {
		snprintf(err->msg, sizeof(err->msg), "--mem: must be a multiple of 4 KiB");
		return -EINVAL;
	}
	return 0;
}

int vm_config_check_host(const struct vm_config *cfg, unsigned kvm_max_vcpus,
			 uint64_t host_mem_bytes, struct config_error *err)
{
	char a[32], b[32];

	if (cfg->cpus > kvm_max_vcpus) {
		snprintf(err->msg, sizeof(err->msg), "--cpus %u: this host's KVM allows at most %u",
			 cfg->cpus, kvm_max_vcpus);
		return -EINVAL;
	}
	if (cfg->mem_bytes > host_mem_bytes) {
		size_text(cfg->mem_bytes, a, sizeof(a));
		size_text(host_mem_bytes, b, sizeof(b));
		snprintf(err->msg, sizeof(err->msg), "--mem %s: more than this host's %s of RAM", a, b);
		return -EINVAL;
	}
	return 0;
}
