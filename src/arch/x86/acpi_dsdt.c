#include "arch/x86/acpi_dsdt.h"

#include "devices/platform.h"

/* \_S5_: the only sleep state offered, so Linux's poweroff writes SLP_TYP = 5 | SLP_EN to
 * PM1a_CNT. The package is {SLP_TYPa, SLP_TYPb, reserved, reserved}; there is no PM1b block. */
static void dsdt_sleep_states(struct aml *a)
{
	size_t pkg;

	aml_name(a, "_S5");
	pkg = aml_package_begin(a, 4);
	aml_integer(a, ACPI_SLP_TYP_S5);
	aml_integer(a, ACPI_SLP_TYP_S5);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_end(a, pkg);
}

/* COM1 as a PNP0501 device: Linux's 8250_pnp binds it through PNPACPI with the port and IRQ
 * given here, instead of guessing them by legacy probing. */
static void dsdt_com1(struct aml *a)
{
	size_t dev, crs;

	dev = aml_device_begin(a, "COM1");
	aml_name_eisaid(a, "_HID", "PNP0501");
	aml_name_integer(a, "_UID", 1);
	aml_name(a, "_CRS");
	crs = aml_buffer_begin(a);
	aml_res_io(a, PORT_COM1, 8);
	aml_res_irq(a, IRQ_COM1);
	aml_res_end(a);
	aml_buffer_end(a, crs);
	aml_end(a, dev);
}

/* The i8042 as a PNP0303 keyboard: Linux's i8042 driver takes its data port, command port and
 * IRQ from here. No PNP0F13 (PS/2 mouse) device: the driver then knows there is no AUX port and
 * skips its probe. */
static void dsdt_ps2_keyboard(struct aml *a)
{
	size_t dev, crs;

	dev = aml_device_begin(a, "PS2K");
	aml_name_eisaid(a, "_HID", "PNP0303");
	aml_name(a, "_CRS");
	crs = aml_buffer_begin(a);
	aml_res_io(a, PORT_I8042_DATA, 1);
	aml_res_io(a, PORT_I8042_CMD, 1);
	aml_res_irq(a, IRQ_I8042_KBD);
	aml_res_end(a);
	aml_buffer_end(a, crs);
	aml_end(a, dev);
}

/* pvpanic: QEMU0001 is the ACPI id Linux's pvpanic driver (pvpanic-mmio, which also accepts an
 * I/O port resource) matches. _STA is a control method in the spec, so it is one here. */
static void dsdt_pvpanic(struct aml *a)
{
	size_t dev, crs, sta;

	dev = aml_device_begin(a, "PEVT");
	aml_name_string(a, "_HID", "QEMU0001");
	aml_name(a, "_CRS");
	crs = aml_buffer_begin(a);
	aml_res_io(a, PORT_PVPANIC, 1);
	aml_res_end(a);
	aml_buffer_end(a, crs);
	sta = aml_method_begin(a, "_STA", 0, false);
	aml_return(a);
	aml_integer(a, 0x0f); /* present, enabled, shown in UI, functioning */
	aml_end(a, sta);
	aml_end(a, dev);
}

/* The PCI host bridge. Linux finds the root bus here (acpi_pci_root) and takes the windows of
 * _CRS as the only places BARs may live. No _PRT: every device interrupts with MSI-X. */
static void dsdt_pci0(struct aml *a, const struct acpi_params *p)
{
	size_t dev, crs;

	dev = aml_device_begin(a, "PCI0");
	aml_name_eisaid(a, "_HID", "PNP0A08"); /* PCI Express root bridge: ECAM from the MCFG */
	aml_name_eisaid(a, "_CID", "PNP0A03"); /* PCI root bridge */
	aml_name_integer(a, "_SEG", 0);
	aml_name_integer(a, "_BBN", 0);
	aml_name_integer(a, "_UID", 0);
	aml_name(a, "_CRS");
	crs = aml_buffer_begin(a);
	aml_res_word_bus(a, 0, (uint16_t)(p->pci_ecam_size / (1u << 20) - 1));
	aml_res_io(a, PORT_PCI_CONFIG_ADDR, 8); /* consumed: configuration mechanism #1 */
	aml_res_dword_memory(a, (uint32_t)p->pci_mmio_base,
			     (uint32_t)(p->pci_mmio_base + p->pci_mmio_size - 1));
	aml_res_end(a);
	aml_buffer_end(a, crs);
	aml_end(a, dev);
}

/* The ECAM as a motherboard resource: no driver binds it, but Linux reserves the range and
 * accepts it as where the MCFG's ECAM is reserved. */
static void dsdt_ecam_reservation(struct aml *a, const struct acpi_params *p)
{
	size_t dev, crs;

	dev = aml_device_begin(a, "PRES");
	aml_name_eisaid(a, "_HID", "PNP0C02");
	aml_name_integer(a, "_UID", 1);
	aml_name(a, "_CRS");
	crs = aml_buffer_begin(a);
	aml_res_memory32_fixed(a, (uint32_t)p->pci_ecam_base, (uint32_t)p->pci_ecam_size, true);
	aml_res_end(a);
	aml_buffer_end(a, crs);
	aml_end(a, dev);
}

void acpi_dsdt_body(struct aml *a, const struct acpi_params *p)
{
	size_t sb;

	dsdt_sleep_states(a);
	sb = aml_scope_begin(a, "\\_SB");
	dsdt_com1(a);
	dsdt_ps2_keyboard(a);
	dsdt_pvpanic(a);
	if (p->pci_ecam_size) {
		dsdt_pci0(a, p);
		dsdt_ecam_reservation(a, p);
	}
	aml_end(a, sb);
}
