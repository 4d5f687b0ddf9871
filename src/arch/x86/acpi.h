/* ACPI tables for a guest booted without firmware: RSDP, XSDT, FADT, FACS, MADT and DSDT.
 *
 * The guest finds its CPUs and IOAPIC in the MADT (Debian's cloud kernel has no MP-table
 * support), powers off through the FADT's PM1a control block (S5, see devices/acpi_pm.h),
 * reboots through the FADT reset register and enumerates COM1, the i8042 keyboard (PNP0303)
 * and pvpanic from the DSDT.
 *
 * Interrupt model the tables describe (the VMM must wire KVM to match):
 *   - IOAPIC id 0 at ioapic_addr, GSI base 0, 24 pins (KVM's in-kernel IOAPIC, whose ID
 *     register resets to 0; x86_64 Linux keeps IOAPIC ids apart from LAPIC ids).
 *   - ISA IRQ0 (PIT) -> GSI 2, as KVM's default routing puts the PIT on IOAPIC pin 2.
 *   - SCI = ISA IRQ 9 -> GSI 9, level-triggered, active high: assert with KVM_IRQ_LINE level 1
 *     while the PM1 status & enable bits are set, deassert with level 0 (KVM's IOAPIC does
 *     not invert for polarity, so "active high" matches what the VMM drives).
 *   - Every other ISA IRQ (the keyboard on 1, COM1 on 4) is identity-mapped, edge-triggered,
 *     active high.
 *   - Local APIC NMI on LINT1 of every processor; the 8259 exists (PCAT_COMPAT).
 *   - PCI devices interrupt with MSI-X only: no _PRT, no INTx. The FADT's "MSI not supported"
 *     boot flag stays clear, so Linux enables MSI-X.
 *
 * PCI (when pci_ecam_size is set): an MCFG table gives the ECAM for segment 0, buses 0..N-1;
 * \_SB.PCI0 (PNP0A08, compatible PNP0A03, _SEG/_BBN/_UID 0) is the host bridge, its _CRS the bus
 * range, the 0xCF8 config ports and the MMIO window; \_SB.PRES (PNP0C02) claims the ECAM as a
 * motherboard resource, which Linux also accepts as the ECAM's reservation.
 */
#ifndef AZOTE_ARCH_X86_ACPI_H
#define AZOTE_ARCH_X86_ACPI_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#define ACPI_MAX_CPUS	 255 /* xAPIC ids 0..254; 255 is the broadcast id */
#define ACPI_LAPIC_ADDR	 0xfee00000u
#define ACPI_IOAPIC_ADDR 0xfec00000u
#define ACPI_IOAPIC_ID	 0

struct acpi_params {
	unsigned ncpus;	      /* 1..ACPI_MAX_CPUS, APIC IDs 0..ncpus-1, all enabled */
	uint64_t lapic_addr;  /* ACPI_LAPIC_ADDR; must be below 4 GiB (MADT field is 32 bits) */
	uint64_t ioapic_addr; /* ACPI_IOAPIC_ADDR; below 4 GiB. IOAPIC id ACPI_IOAPIC_ID, GSI 0 */
	/* PCI host bridge; pci_ecam_size 0 means none (no MCFG, no PCI0). */
	uint64_t pci_ecam_base; /* 1 MiB aligned */
	uint64_t pci_ecam_size; /* 1 MiB per bus from bus 0, up to 256 buses */
	uint64_t pci_mmio_base; /* the BAR window, below 4 GiB */
	uint64_t pci_mmio_size;
	/* The FADT does not say "VGA not present": a Xen guest (--xen) reads that flag, with no
	 * RTC, as "booted in a PVH domain" and would ignore the platform PCI device. */
	bool legacy_vga;
};

/* Build the tables into buf, which the guest sees at guest-physical gpa (size bytes; put it in
 * an e820 ACPI or reserved range, ideally 0xe0000 so a BIOS-area scan also finds the RSDP).
 * Sets *rsdp_gpa (16-byte aligned) for boot_params.acpi_rsdp_addr. Returns 0, -EINVAL for bad
 * params, or -ENOSPC when the tables do not fit (nothing is written outside buf[0..size)). */
__attribute__((warn_unused_result)) int acpi_build(uint8_t *buf, size_t size, uint64_t gpa,
						   const struct acpi_params *p, uint64_t *rsdp_gpa);

#endif
