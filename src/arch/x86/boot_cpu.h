/* CPU state for the Linux 64-bit boot protocol entry, and per-vCPU MSR/FPU/LAPIC defaults. */
#ifndef AZOTE_ARCH_X86_BOOT_CPU_H
#define AZOTE_ARCH_X86_BOOT_CPU_H

#include <stdint.h>

#include "kvm/guest_mem.h"

/* Write the boot GDT and identity page tables (0..4 GiB, 2 MiB pages) into guest memory. */
__attribute__((warn_unused_result)) int boot_cpu_write_tables(const struct guest_mem *mem);

/* Put the bootstrap vCPU in 64-bit long mode at entry with RSI = zero page. 0 or -errno. */
__attribute__((warn_unused_result)) int boot_cpu_setup_bsp(int vcpu_fd, uint64_t entry,
							   uint64_t zero_page);

/* For every vCPU: MSRs, FPU and LAPIC LINT0/LINT1 as firmware would leave them. 0 or -errno. */
__attribute__((warn_unused_result)) int boot_cpu_setup_common(int vcpu_fd);

#endif
