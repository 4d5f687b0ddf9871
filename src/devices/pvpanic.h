/* pvpanic: one I/O port through which the guest kernel reports a panic (ACPI id QEMU0001,
 * described in the DSDT). Reads return the events the device supports.
 *
 * Stateless apart from an atomic log rate limit, so concurrent vCPUs need no locking. */
#ifndef AZOTE_DEVICES_PVPANIC_H
#define AZOTE_DEVICES_PVPANIC_H

#include "devices/platform.h"

#include <stdbool.h>
#include <stdint.h>

#define PVPANIC_PANICKED     (1u << 0) /* guest panicked and stops */
#define PVPANIC_CRASH_LOADED (1u << 1) /* guest panicked, a kdump kernel takes over */

struct pvpanic;

/* Create the device; event (required) gets PLATFORM_PANIC. Returns 0, -EINVAL or -ENOMEM. */
__attribute__((warn_unused_result)) int pvpanic_create(struct pvpanic **out,
						       platform_event_fn event, void *ctx);
/* Free the device (NULL is fine); vCPUs must no longer call pvpanic_io() on it. */
void pvpanic_destroy(struct pvpanic *dev);
/* I/O bus handler for the 1-port window at PORT_PVPANIC; any len is safe, bytes past the port
 * read 0xff. */
void pvpanic_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

#endif
