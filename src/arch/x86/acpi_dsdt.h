/* The DSDT's definition block (the AML after the table header), kept apart from the fixed
 * tables because it grows with every device the guest must enumerate. */
#ifndef AZOTE_ARCH_X86_ACPI_DSDT_H
#define AZOTE_ARCH_X86_ACPI_DSDT_H

#include "arch/x86/acpi.h"
#include "arch/x86/aml.h"

/* Append the DSDT's term list to a; errors are left in a (see aml_error()). */
void acpi_dsdt_body(struct aml *a, const struct acpi_params *p);

#endif
