/* ACPI fixed-hardware registers (legacy PM1a event/control blocks and the FADT reset register)
 * at PORT_ACPI_PM_BASE: the guest powers off by entering S5 and reboots through the reset
 * register. The fixed power button lets the VMM ask the guest to shut down cleanly.
 *
 * Layout (ACPI_PM_NPORTS ports): +0 PM1_STS (16 bits, write 1 to clear), +2 PM1_EN (16),
 * +4 PM1_CNT (16), +6 RESET (8, write-only), +7 unused.
 *
 * Threads: vCPU threads call acpi_pm_io(), any thread acpi_pm_power_button(); state is behind
 * a mutex, and platform events are reported after it is dropped. */
#ifndef AZOTE_DEVICES_ACPI_PM_H
#define AZOTE_DEVICES_ACPI_PM_H

#include "devices/platform.h"

#include <stdbool.h>
#include <stdint.h>

#define ACPI_PM_NPORTS 8 /* size of the port window to register on the I/O bus */

/* Drive the SCI (GSI IRQ_ACPI_SCI, level-triggered, active high): level true = asserted.
 * Called only on level changes, with the device mutex held (so calls arrive in order): it must
 * not call back into the device and must not block for long (KVM_IRQ_LINE is fine). */
typedef void (*acpi_pm_sci_fn)(void *ctx, bool level);

struct acpi_pm;

/* Create the block in its reset state. event (required) gets PLATFORM_POWEROFF when the guest
 * enters S5 and PLATFORM_REBOOT on a reset-register write. Returns 0, -EINVAL or -ENOMEM. */
__attribute__((warn_unused_result)) int acpi_pm_create(struct acpi_pm **out,
						       platform_event_fn event, void *ctx);
/* Free the block (NULL is fine); vCPUs must no longer call acpi_pm_io() on it. */
void acpi_pm_destroy(struct acpi_pm *pm);
/* Connect the SCI line (fn gets the ctx given to acpi_pm_create()); before vCPUs run. Without
 * it the power button latches its status but cannot interrupt the guest. */
void acpi_pm_set_sci(struct acpi_pm *pm, acpi_pm_sci_fn fn);
/* I/O bus handler for the ACPI_PM_NPORTS window; any offset and len are safe. Multi-byte
 * accesses are split into byte lanes as a chipset would; bytes past the window read 0xff. */
void acpi_pm_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);
/* Press the power button: latch PWRBTN_STS and raise the SCI if the guest enabled the event.
 * Returns true when it did (Linux's button driver then shuts down cleanly), false when nobody
 * listens and the caller should fall back to stopping the VM. */
bool acpi_pm_power_button(struct acpi_pm *pm);

#endif
