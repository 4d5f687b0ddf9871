#include "arch/x86/acpi.h"

#include "arch/x86/acpi_dsdt.h"
#include "arch/x86/aml.h"
#include "devices/platform.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

/* Every table is written field by field with explicit little-endian stores at the offsets
 * the spec (ACPI 6.5) gives, so there is no struct packing or alignment to get wrong. */

#define ACPI_HDR_LEN	  36
#define ACPI_OEM_ID	  "AZOTE "
#define ACPI_OEM_TABLE_ID "AZOTEVM "
#define ACPI_OEM_REVISION 1
#define ACPI_CREATOR_ID	  "AZOT"
#define ACPI_CREATOR_REV  1
#define ACPI_RSDP_LEN	  36
#define ACPI_FADT_LEN	  276 /* revision 6 */
#define ACPI_FACS_LEN	  64
#define ACPI_XSDT_ENTRIES 3  /* FADT, MADT, and MCFG with PCI */
#define ACPI_MCFG_LEN	  60 /* header, 8 reserved bytes, one 16-byte allocation */
#define ACPI_ECAM_BUS	  (1ull << 20)
#define GAS_SYSTEM_IO	  1
#define GAS_ACCESS_BYTE	  1
#define GAS_ACCESS_WORD	  2

/* FADT Fixed Feature Flags (table 5.10). */
#define FADT_WBINVD	   (1u << 0)
#define FADT_PROC_C1	   (1u << 2)
#define FADT_SLP_BUTTON	   (1u << 5) /* no sleep button; the power button stays a fixed feature */
#define FADT_FIX_RTC	   (1u << 6) /* no RTC wake status in PM1 */
#define FADT_RESET_REG_SUP (1u << 10)
#define FADT_HEADLESS	   (1u << 12)
/* IA-PC boot architecture flags (table 5.11). */
#define BOOT_ARCH_VGA_NOT_PRESENT (1u << 2)
#define BOOT_ARCH_PCIE_ASPM_CTRL  (1u << 4)
#define BOOT_ARCH_CMOS_RTC_ABSENT (1u << 5)
/* MADT. */
#define MADT_PCAT_COMPAT	   1u
#define MADT_LAPIC_ENABLED	   1u
#define MPS_INTI_ACTIVE_HIGH_LEVEL 0x000d /* polarity 01 (high), trigger 11 (level) */

/* The window being filled: tables are bump-allocated from the front. */
struct acpi_out {
	uint8_t *buf;
	size_t size;
	uint64_t gpa;
	size_t used;
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/* Generic Address Structure (section 5.2.3.2), 12 bytes. */
static void put_gas(uint8_t *p, uint8_t space, uint8_t bit_width, uint8_t access, uint64_t addr)
{
	p[0] = space;
	p[1] = bit_width;
	p[2] = 0; /* bit offset */
	p[3] = access;
	put64(p + 4, addr);
}

/* Set the byte at `at` so that buf[0..len) sums to zero modulo 256. */
static void acpi_checksum(uint8_t *t, size_t len, size_t at)
{
	uint8_t sum = 0;

	t[at] = 0;
	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + t[i]);
	t[at] = (uint8_t)-sum;
}

/* System description table header (section 5.2.6); the checksum is set by acpi_seal(). */
static void acpi_header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	put32(t + 4, len);
	t[8] = rev;
	memcpy(t + 10, ACPI_OEM_ID, 6);
	memcpy(t + 16, ACPI_OEM_TABLE_ID, 8);
	put32(t + 24, ACPI_OEM_REVISION);
	memcpy(t + 28, ACPI_CREATOR_ID, 4);
	put32(t + 32, ACPI_CREATOR_REV);
}

static void acpi_seal(uint8_t *t, size_t len)
{
	acpi_checksum(t, len, 9);
}

/* Reserve len zeroed bytes whose guest address is a multiple of align (a power of two). */
static int out_alloc(struct acpi_out *o, size_t len, size_t align, size_t *off)
{
	size_t pad = (size_t)(-(o->gpa + o->used) & (align - 1));

	if (pad > o->size - o->used || len > o->size - o->used - pad)
		return -ENOSPC;
	*off = o->used + pad;
	memset(o->buf + *off, 0, len);
	o->used = *off + len;
	return 0;
}

static uint64_t out_gpa(const struct acpi_out *o, size_t off)
{
	return o->gpa + off;
}

static int acpi_dsdt(struct acpi_out *o, const struct acpi_params *p, uint64_t *gpa)
{
	struct aml a;
	size_t off;
	int ret;

	ret = out_alloc(o, ACPI_HDR_LEN, 8, &off);
	if (ret)
		return ret;
	/* The AML grows in place after the header, up to the end of the window. */
	aml_init(&a, o->buf + off, o->size - off);
	a.len = ACPI_HDR_LEN;
	acpi_dsdt_body(&a, p);
	ret = aml_error(&a);
	if (ret)
		return ret;
	if (a.len > UINT32_MAX)
		return -ENOSPC;
	o->used = off + a.len;
	/* Revision 2: integers in this definition block are 64 bits wide. */
	acpi_header(o->buf + off, "DSDT", (uint32_t)a.len, 2);
	acpi_seal(o->buf + off, a.len);
	*gpa = out_gpa(o, off);
	return 0;
}

/* FACS (section 5.2.10), required when the FADT is not hardware-reduced: ACPICA maps it for
 * the global lock and waking vector, and older kernels fail to enable ACPI without it
 * ("Could not map the FACS table"). It has no checksum. */
static int acpi_facs(struct acpi_out *o, uint64_t *gpa)
{
	size_t off;
	int ret = out_alloc(o, ACPI_FACS_LEN, 64, &off);

	if (ret)
		return ret;
	memcpy(o->buf + off, "FACS", 4);
	put32(o->buf + off + 4, ACPI_FACS_LEN);
	o->buf[off + 32] = 2; /* version */
	*gpa = out_gpa(o, off);
	return 0;
}

static void fadt_fields(uint8_t *t, uint64_t dsdt, uint64_t facs, bool vga)
{
	/* The 32-bit DSDT copy only when it fits; X_FIRMWARE_CTRL alone, as the spec asks
	 * FIRMWARE_CTRL to be zero when the 64-bit field is used. */
	put32(t + 40, dsdt <= UINT32_MAX ? (uint32_t)dsdt : 0);
	put16(t + 46, IRQ_ACPI_SCI);
	/* SMI_CMD (48) = 0: no SMM mode switch, the OS finds ACPI already enabled (SCI_EN=1). */
	put32(t + 56, PORT_ACPI_PM1A_EVT);
	put32(t + 64, PORT_ACPI_PM1A_CNT);
	/* PM_TMR_BLK (76), GPE0/1 (80, 84) = 0: no PM timer (kvmclock serves) and no GPEs. */
	t[88] = 4;	     /* PM1_EVT_LEN: status + enable, 16 bits each */
	t[89] = 2;	     /* PM1_CNT_LEN */
	put16(t + 96, 101);  /* P_LVL2_LAT > 100: no C2 */
	put16(t + 98, 1001); /* P_LVL3_LAT > 1000: no C3 */
	/* No 8042 bit: Linux's i8042 driver finds the controller through the DSDT's PNP0303
	 * device instead, and would not probe blindly if that were missing. No
	 * legacy-devices bit: no PnP BIOS. CMOS RTC absent: Linux skips the rtc_cmos device
	 * (wall time comes from kvmclock). No ASPM: virtual PCIe links have no power states. */
	put16(t + 109, (vga ? 0 : BOOT_ARCH_VGA_NOT_PRESENT) | BOOT_ARCH_PCIE_ASPM_CTRL |
			       BOOT_ARCH_CMOS_RTC_ABSENT);
	put32(t + 112, FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON | FADT_FIX_RTC |
			   FADT_RESET_REG_SUP | FADT_HEADLESS);
	put_gas(t + 116, GAS_SYSTEM_IO, 8, GAS_ACCESS_BYTE, PORT_ACPI_RESET);
	t[128] = ACPI_RESET_VALUE;
	t[131] = 5; /* FADT minor version: ACPI 6.5 */
	put64(t + 132, facs);
	put64(t + 140, dsdt);
	/* The 64-bit PM blocks repeat the 32-bit ones; bit widths match the block lengths because
	 * ACPICA sizes its port accesses from them. */
	put_gas(t + 148, GAS_SYSTEM_IO, 32, GAS_ACCESS_WORD, PORT_ACPI_PM1A_EVT);
	put_gas(t + 172, GAS_SYSTEM_IO, 16, GAS_ACCESS_WORD, PORT_ACPI_PM1A_CNT);
	memcpy(t + 268, "AZOTE\0\0\0", 8); /* hypervisor vendor identity */
}

static int acpi_fadt(struct acpi_out *o, uint64_t dsdt, uint64_t facs, bool vga, uint64_t *gpa)
{
	size_t off;
	int ret = out_alloc(o, ACPI_FADT_LEN, 8, &off);

	if (ret)
		return ret;
	acpi_header(o->buf + off, "FACP", ACPI_FADT_LEN, 6);
	fadt_fields(o->buf + off, dsdt, facs, vga);
	acpi_seal(o->buf + off, ACPI_FADT_LEN);
	*gpa = out_gpa(o, off);
	return 0;
}

/* Interrupt Source Override (type 2, 10 bytes) for an ISA IRQ. */
static uint8_t *madt_iso(uint8_t *e, uint8_t irq, uint32_t gsi, uint16_t flags)
{
	e[0] = 2;
	e[1] = 10;
	e[2] = 0; /* bus: ISA */
	e[3] = irq;
	put32(e + 4, gsi);
	put16(e + 8, flags);
	return e + 10;
}

static int acpi_madt(struct acpi_out *o, const struct acpi_params *p, uint64_t *gpa)
{
	size_t len = 44 + 8 * (size_t)p->ncpus + 12 + 2 * 10 + 6, off;
	uint8_t *t, *e;
	int ret = out_alloc(o, len, 8, &off);

	if (ret)
		return ret;
	t = o->buf + off;
	acpi_header(t, "APIC", (uint32_t)len, 5);
	put32(t + 36, (uint32_t)p->lapic_addr);
	/* KVM_CREATE_IRQCHIP gives the guest a pair of 8259s too; Linux masks them. */
	put32(t + 40, MADT_PCAT_COMPAT);
	e = t + 44;
	for (unsigned i = 0; i < p->ncpus; i++, e += 8) {
		e[0] = 0; /* Processor Local APIC */
		e[1] = 8;
		e[2] = (uint8_t)i; /* ACPI processor UID */
		e[3] = (uint8_t)i; /* APIC ID, as the vCPU code sets it */
		put32(e + 4, MADT_LAPIC_ENABLED);
	}
	e[0] = 1; /* I/O APIC */
	e[1] = 12;
	e[2] = ACPI_IOAPIC_ID;
	put32(e + 4, (uint32_t)p->ioapic_addr);
	put32(e + 8, 0); /* GSI base */
	e += 12;
	e = madt_iso(e, 0, 2, 0); /* KVM wires the PIT to IOAPIC pin 2; bus-default edge/high */
	e = madt_iso(e, IRQ_ACPI_SCI, IRQ_ACPI_SCI, MPS_INTI_ACTIVE_HIGH_LEVEL);
	e[0] = 4; /* Local APIC NMI */
	e[1] = 6;
	e[2] = 0xff;	 /* all processors */
	put16(e + 3, 0); /* flags: bus default */
	e[5] = 1;	 /* LINT1 */
	acpi_seal(t, len);
	*gpa = out_gpa(o, off);
	return 0;
}

/* MCFG (PCI Firmware Specification 3.0, section 4.1.2): one ECAM allocation for segment 0. */
static int acpi_mcfg(struct acpi_out *o, const struct acpi_params *p, uint64_t *gpa)
{
	size_t off;
	uint8_t *t, *e;
	int ret = out_alloc(o, ACPI_MCFG_LEN, 8, &off);

	if (ret)
		return ret;
	t = o->buf + off;
	acpi_header(t, "MCFG", ACPI_MCFG_LEN, 1);
	e = t + ACPI_HDR_LEN + 8; /* after 8 reserved bytes */
	put64(e, p->pci_ecam_base);
	put16(e + 8, 0);					 /* segment group */
	e[10] = 0;						 /* first bus */
	e[11] = (uint8_t)(p->pci_ecam_size / ACPI_ECAM_BUS - 1); /* last bus */
	acpi_seal(t, ACPI_MCFG_LEN);
	*gpa = out_gpa(o, off);
	return 0;
}

static int acpi_xsdt(struct acpi_out *o, const uint64_t *entries, size_t n, uint64_t *gpa)
{
	size_t len = ACPI_HDR_LEN + 8 * n, off;
	int ret = out_alloc(o, len, 8, &off);

	if (ret)
		return ret;
	acpi_header(o->buf + off, "XSDT", (uint32_t)len, 1);
	for (size_t i = 0; i < n; i++)
		put64(o->buf + off + ACPI_HDR_LEN + 8 * i, entries[i]);
	acpi_seal(o->buf + off, len);
	*gpa = out_gpa(o, off);
	return 0;
}

/* RSDP (section 5.2.5.3), revision 2: no RSDT, only the XSDT. */
static void acpi_rsdp(uint8_t *r, uint64_t xsdt)
{
	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, ACPI_OEM_ID, 6);
	r[15] = 2;
	put32(r + 16, 0); /* RsdtAddress */
	put32(r + 20, ACPI_RSDP_LEN);
	put64(r + 24, xsdt);
	acpi_checksum(r, 20, 8);	     /* ACPI 1.0 part */
	acpi_checksum(r, ACPI_RSDP_LEN, 32); /* whole structure */
}

static bool acpi_pci_valid(const struct acpi_params *p)
{
	if (!p->pci_ecam_size)
		return true;
	return p->pci_ecam_size % ACPI_ECAM_BUS == 0 && p->pci_ecam_size <= 256 * ACPI_ECAM_BUS &&
	       p->pci_ecam_base % ACPI_ECAM_BUS == 0 &&
	       p->pci_ecam_base <= (1ull << 32) - p->pci_ecam_size && p->pci_mmio_size &&
	       p->pci_mmio_base <= UINT32_MAX &&
	       p->pci_mmio_size <= (1ull << 32) - p->pci_mmio_base;
}

static bool acpi_params_valid(const struct acpi_params *p)
{
	return p->ncpus >= 1 && p->ncpus <= ACPI_MAX_CPUS && p->lapic_addr <= UINT32_MAX &&
	       p->ioapic_addr <= UINT32_MAX && acpi_pci_valid(p);
}

int acpi_build(uint8_t *buf, size_t size, uint64_t gpa, const struct acpi_params *p,
	       uint64_t *rsdp_gpa)
{
	struct acpi_out o = {.buf = buf, .size = size, .gpa = gpa};
	uint64_t dsdt, facs, xsdt, tables[ACPI_XSDT_ENTRIES];
	size_t rsdp, ntables = 2;
	int ret;

	if (!buf || !p || !rsdp_gpa || !acpi_params_valid(p) || gpa + size < gpa)
		return -EINVAL;
	/* Each table is built after the ones it points to; the RSDP goes first so that it sits
	 * at the (16-byte aligned) start of the window, where a BIOS-area scan looks. */
	ret = out_alloc(&o, ACPI_RSDP_LEN, 16, &rsdp);
	if (!ret)
		ret = acpi_dsdt(&o, p, &dsdt);
	if (!ret)
		ret = acpi_facs(&o, &facs);
	if (!ret)
		ret = acpi_fadt(&o, dsdt, facs, p->legacy_vga, &tables[0]);
	if (!ret)
		ret = acpi_madt(&o, p, &tables[1]);
	if (!ret && p->pci_ecam_size)
		ret = acpi_mcfg(&o, p, &tables[ntables++]);
	if (!ret)
		ret = acpi_xsdt(&o, tables, ntables, &xsdt);
	if (ret)
		return ret;
	acpi_rsdp(buf + rsdp, xsdt);
	*rsdp_gpa = out_gpa(&o, rsdp);
	return 0;
}
