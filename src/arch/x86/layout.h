/* Guest-physical memory map of an azote x86 VM: where the boot structures live. */
#ifndef AZOTE_ARCH_X86_LAYOUT_H
#define AZOTE_ARCH_X86_LAYOUT_H

#define LAYOUT_GDT          0x500ull   /* boot GDT: null, null, code64 (0x10), data (0x18) */
#define LAYOUT_ZERO_PAGE    0x7000ull  /* struct boot_params */
#define LAYOUT_PML4         0x9000ull  /* identity page tables for the 64-bit entry */
#define LAYOUT_PDPT         0xa000ull
#define LAYOUT_PD           0xb000ull  /* four page directories: 0..4 GiB in 2 MiB pages */
#define LAYOUT_CMDLINE      0x20000ull
#define LAYOUT_CMDLINE_MAX  0x10000ull /* bytes, terminator included */
#define LAYOUT_EBDA         0x9fc00ull /* end of conventional RAM */
#define LAYOUT_ACPI         0xe0000ull /* RSDP and tables, up to the end of the BIOS area */
#define LAYOUT_ACPI_END     0x100000ull
#define LAYOUT_HIGH_RAM     0x100000ull  /* 1 MiB: where RAM resumes after the legacy hole */
#define LAYOUT_KERNEL_MIN   0x100000ull  /* lowest protected-mode kernel address */
#define LAYOUT_LOWMEM_TOP   0xc0000000ull /* RAM below 4 GiB stops here: 3..4 GiB is the PCI hole */
#define LAYOUT_PCI_MMIO     0xc0000000ull /* PCI BAR window (ACPI PCI0 _CRS), not in the e820 */
#define LAYOUT_PCI_MMIO_SIZE 0x20000000ull
#define LAYOUT_PCI_ECAM     0xe0000000ull /* ECAM for bus 0 (ACPI MCFG), e820-reserved */
#define LAYOUT_PCI_ECAM_SIZE 0x100000ull
#define LAYOUT_IOAPIC       0xfec00000ull
#define LAYOUT_LAPIC        0xfee00000ull
#define LAYOUT_TSS          0xfffbd000ull /* 3 pages KVM_SET_TSS_ADDR needs, in the hole */
#define LAYOUT_IDENTITY_MAP 0xfffbc000ull /* 1 page for KVM_SET_IDENTITY_MAP_ADDR */
#define LAYOUT_HIGHMEM_BASE 0x100000000ull

#define BOOT_GDT_CODE64 0x10
#define BOOT_GDT_DATA   0x18

#endif
