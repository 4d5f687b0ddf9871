#include "arch/x86/e820.h"

#include <errno.h>

#include "arch/x86/layout.h"

static int e820_add(struct boot_e820_entry *out, unsigned max, unsigned *n, uint64_t addr,
		    uint64_t size, uint32_t type)
{
	if (*n == max)
		return -ENOSPC;
	out[*n] = (struct boot_e820_entry){.addr = addr, .size = size, .type = type};
	(*n)++;
	return 0;
}

int e820_build(struct boot_e820_entry *out, unsigned max, uint64_t ram_bytes)
{
	uint64_t low = ram_bytes < LAYOUT_LOWMEM_TOP ? ram_bytes : LAYOUT_LOWMEM_TOP;
	unsigned n = 0;
	int rc;

	/* Conventional memory, the EBDA, the BIOS area with our ACPI tables, then RAM above 1 MiB
	 * up to the PCI hole, and whatever does not fit below 4 GiB from 4 GiB up. */
	rc = e820_add(out, max, &n, 0, LAYOUT_EBDA, E820_RAM);
	if (!rc)
		rc = e820_add(out, max, &n, LAYOUT_EBDA, 0xa0000 - LAYOUT_EBDA, E820_RESERVED);
	if (!rc)
		rc = e820_add(out, max, &n, LAYOUT_ACPI, LAYOUT_ACPI_END - LAYOUT_ACPI,
			      E820_RESERVED);
	if (!rc && low > LAYOUT_HIGH_RAM)
		rc = e820_add(out, max, &n, LAYOUT_HIGH_RAM, low - LAYOUT_HIGH_RAM, E820_RAM);
	/* Linux trusts the MCFG's ECAM where the e820 (or ACPI) reserves it. The BAR window stays
	 * out of the map: it is the host bridge's to hand out. */
	if (!rc)
		rc = e820_add(out, max, &n, LAYOUT_PCI_ECAM, LAYOUT_PCI_ECAM_SIZE, E820_RESERVED);
	if (!rc && ram_bytes > low)
		rc = e820_add(out, max, &n, LAYOUT_HIGHMEM_BASE, ram_bytes - low, E820_RAM);
	return rc ? rc : (int)n;
}
