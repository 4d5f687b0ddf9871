/* Putting a Linux guest in memory: kernel, initrd, command line and the zero page. */
#ifndef AZOTE_BOOT_LINUX_BOOT_H
#define AZOTE_BOOT_LINUX_BOOT_H

#include <stdint.h>

#include "kvm/guest_mem.h"

struct linux_boot_request {
	const char *kernel_path;
	const char *initrd_path; /* NULL: none */
	const char *cmdline;
	uint64_t rsdp_gpa;       /* ACPI root pointer handed over in the zero page */
};

/* Where the bootstrap vCPU starts. */
struct linux_boot_entry {
	uint64_t rip;       /* 64-bit entry point */
	uint64_t zero_page; /* RSI at entry */
};

/* Load everything for the 64-bit boot protocol into mem. Logs the reason (naming the file) and
 * returns -errno when an input is missing, unreadable, not bootable or does not fit. */
__attribute__((warn_unused_result)) int linux_boot_load(const struct guest_mem *mem,
							const struct linux_boot_request *req,
							struct linux_boot_entry *entry);

#endif
