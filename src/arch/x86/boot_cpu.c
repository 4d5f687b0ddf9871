#include "arch/x86/boot_cpu.h"

#include <errno.h>
#include <stdbool.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86/layout.h"

#define CR0_PE (1ull << 0)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define PTE_PRESENT (1ull << 0)
#define PTE_RW      (1ull << 1)
#define PTE_PS      (1ull << 7)

#define MSR_IA32_SYSENTER_CS  0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE  0x1a0
#define MSR_MTRR_DEF_TYPE     0x2ff
#define MSR_STAR              0xc0000081
#define MSR_LSTAR             0xc0000082
#define MSR_CSTAR             0xc0000083
#define MSR_SYSCALL_MASK      0xc0000084
#define MSR_KERNEL_GS_BASE    0xc0000102
#define MISC_ENABLE_FAST_STRING 1ull
#define MTRR_ENABLE             (1ull << 11)
#define MTRR_TYPE_WB            6ull

#define APIC_LVT_LINT0 0x350
#define APIC_LVT_LINT1 0x360
#define APIC_MODE_NMI    0x4
#define APIC_MODE_EXTINT 0x7

/* Flat 64-bit code and data descriptors (base 0, limit 4 GiB, granularity 4 KiB). */
static const uint64_t boot_gdt[] = {
	0,
	0,
	0x00af9b000000ffffull, /* 0x10: code, L=1, present, DPL0, accessed */
	0x00cf93000000ffffull, /* 0x18: data, writable, present, accessed */
};

int boot_cpu_write_tables(const struct guest_mem *mem)
{
	uint64_t pml4 = LAYOUT_PDPT | PTE_PRESENT | PTE_RW;
	uint64_t pdpt[4], pd[4 * 512];
	int rc;

	for (unsigned i = 0; i < 4; i++)
		pdpt[i] = (LAYOUT_PD + i * 0x1000) | PTE_PRESENT | PTE_RW;
	for (unsigned i = 0; i < 4 * 512; i++)
		pd[i] = ((uint64_t)i << 21) | PTE_PRESENT | PTE_RW | PTE_PS;
	rc = guest_mem_write(mem, LAYOUT_GDT, boot_gdt, sizeof(boot_gdt));
	if (!rc)
		rc = guest_mem_write(mem, LAYOUT_PML4, &pml4, sizeof(pml4));
	if (!rc)
		rc = guest_mem_write(mem, LAYOUT_PDPT, pdpt, sizeof(pdpt));
	if (!rc)
		rc = guest_mem_write(mem, LAYOUT_PD, pd, sizeof(pd));
	return rc;
}

static struct kvm_segment boot_segment(uint16_t selector, uint8_t type, bool code)
{
	return (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = selector,
		.type = type,
		.present = 1,
		.dpl = 0,
		.db = code ? 0 : 1,
		.s = 1,
		.l = code ? 1 : 0,
		.g = 1,
	};
}

int boot_cpu_setup_bsp(int vcpu_fd, uint64_t entry, uint64_t zero_page)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs = {.rip = entry, .rsi = zero_page, .rflags = 2};
	struct kvm_segment data = boot_segment(BOOT_GDT_DATA, 0x3, false);

	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	sregs.gdt.base = LAYOUT_GDT;
	sregs.gdt.limit = sizeof(boot_gdt) - 1;
	sregs.cs = boot_segment(BOOT_GDT_CODE64, 0xb, true);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.cr3 = LAYOUT_PML4;
	sregs.cr4 = CR4_PAE;
	sregs.cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_PG;
	sregs.efer = EFER_LME | EFER_LMA;
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
		return -errno;
	if (ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return 0;
}

static int boot_cpu_msrs(int vcpu_fd)
{
	static const struct {
		uint32_t index;
		uint64_t value;
	} init[] = {
		{MSR_IA32_SYSENTER_CS, 0}, {MSR_IA32_SYSENTER_ESP, 0}, {MSR_IA32_SYSENTER_EIP, 0},
		{MSR_STAR, 0}, {MSR_CSTAR, 0}, {MSR_KERNEL_GS_BASE, 0}, {MSR_SYSCALL_MASK, 0},
		{MSR_LSTAR, 0}, {MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING},
		{MSR_MTRR_DEF_TYPE, MTRR_ENABLE | MTRR_TYPE_WB},
	};
	const unsigned n = sizeof(init) / sizeof(init[0]);
	struct kvm_msrs *msrs = calloc(1, sizeof(*msrs) + n * sizeof(struct kvm_msr_entry));
	int rc;

	if (!msrs)
		return -ENOMEM;
	msrs->nmsrs = n;
	for (unsigned i = 0; i < n; i++) {
		msrs->entries[i].index = init[i].index;
		msrs->entries[i].data = init[i].value;
	}
	rc = ioctl(vcpu_fd, KVM_SET_MSRS, msrs);
	free(msrs);
	/* KVM_SET_MSRS returns how many it set; a short count names an MSR it refused. */
	if (rc < 0)
		return -errno;
	return rc == (int)n ? 0 : -EINVAL;
}

static void lapic_set_lvt(struct kvm_lapic_state *lapic, unsigned reg, unsigned mode)
{
	uint32_t v;

	memcpy(&v, &lapic->regs[reg], sizeof(v));
	v = (v & ~0x700u) | (mode << 8);
	memcpy(&lapic->regs[reg], &v, sizeof(v));
}

int boot_cpu_setup_common(int vcpu_fd)
{
	struct kvm_fpu fpu = {.fcw = 0x37f, .mxcsr = 0x1f80};
	struct kvm_lapic_state lapic;
	int rc = boot_cpu_msrs(vcpu_fd);

	if (rc)
		return rc;
	if (ioctl(vcpu_fd, KVM_SET_FPU, &fpu) < 0)
		return -errno;
	/* Virtual-wire mode: the PIC's output reaches the CPU through LINT0, NMIs through LINT1. */
	if (ioctl(vcpu_fd, KVM_GET_LAPIC, &lapic) < 0)
		return -errno;
	lapic_set_lvt(&lapic, APIC_LVT_LINT0, APIC_MODE_EXTINT);
	lapic_set_lvt(&lapic, APIC_LVT_LINT1, APIC_MODE_NMI);
	if (ioctl(vcpu_fd, KVM_SET_LAPIC, &lapic) < 0)
		return -errno;
	return 0;
}
