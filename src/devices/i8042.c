#include "devices/i8042.h"

#include <errno.h>
#include <stdlib.h>

/*
 * Why so little: the FADT leaves the 8042 flag of IAPC_BOOT_ARCH clear, so Linux's
 * acpi_parse_fadt() marks the controller "firmware absent"; the i8042 driver, finding no
 * PNP0303/PNP0F13 device in the DSDT either, prints "PNP: No PS/2 controller found" and gives
 * up without touching a port. What still reaches these ports is the reboot fallback: after
 * the ACPI reset register, Linux's native_machine_emergency_restart() waits for the input
 * buffer to drain (status bit 1 clear) and writes 0xFE to port 0x64, ten times ("reboot=k"
 * goes there first).
 */

#define I8042_STATUS_SYS     0x04 /* system flag: self-test passed, as firmware leaves it */
#define I8042_CMD_PULSE_BASE 0xf0 /* 0xF0-0xFF pulse output lines whose bit is 0 */
#define I8042_OUT_RESET	     0x01 /* output line 0 is the CPU reset */

struct i8042 {
	platform_event_fn event;
	void *ctx;
};

/* Only byte lane 0 of the port is the register; the rest of a wide read is an empty bus. */
static void i8042_read(uint64_t offset, uint8_t *data, uint32_t len, uint8_t value)
{
	for (uint32_t i = 0; i < len; i++)
		data[i] = offset == 0 && i == 0 ? value : 0xff;
}

void i8042_data_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	/* No keyboard: nothing ever arrives, and written bytes go nowhere. */
	if (!is_write)
		i8042_read(offset, data, len, 0x00);
}

void i8042_cmd_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct i8042 *dev = opaque;

	if (!is_write) {
		/* Output buffer empty (bit 0), input buffer empty (bit 1): ready for commands. */
		i8042_read(offset, data, len, I8042_STATUS_SYS);
		return;
	}
	if (offset != 0 || len == 0)
		return;
	if ((data[0] & I8042_CMD_PULSE_BASE) == I8042_CMD_PULSE_BASE &&
	    !(data[0] & I8042_OUT_RESET))
		dev->event(dev->ctx, PLATFORM_REBOOT);
	/* Every other command is accepted and ignored. */
}

int i8042_create(struct i8042 **out, platform_event_fn event, void *ctx)
{
	struct i8042 *dev;

	if (!event)
		return -EINVAL;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->event = event;
	dev->ctx = ctx;
	*out = dev;
	return 0;
}

void i8042_destroy(struct i8042 *dev)
{
	free(dev);
}
